/*
 * effects.c - what the fake really does to a container unless FAKE_NVC_DRY_RUN=1, like the real library:
 * setns into the container's mount namespace (refused to a multi-threaded caller), read-only bind mounts
 * from the fake driver tree into the rootfs, "c MAJ:MIN rw" in the container's cgroup v1 devices.allow,
 * and the container's ldconfig run in a chrooted child.
 */
#include "fake.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------------- threads, namespaces */

int thread_count(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        int n = 1;
        char line[256];
        if (f == NULL)
                return 1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "Threads: %d", &n) == 1)
                        break;
        fclose(f);
        return n;
}

/* setns(CLONE_NEWNS) fails with EINVAL in a multi-threaded process: refuse the mount calls there too. */
int check_threads(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        if (!env_true("FAKE_NVC_THREADCHECK", true) || thread_count() <= 1)
                return 0;
        set_error(ctx, "namespace association failed: /proc/%ld/ns/mnt: invalid argument", (long)cnt->pid);
        return -1;
}

int ns_enter(struct nvc_context *ctx, const struct nvc_container *cnt, struct nsguard *g)
{
        g->cwd = -1;
        g->entered = false;
        if (dry_run())
                return 0;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", (long)cnt->pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                set_error(ctx, "namespace association failed: %s: %s", path, lstrerror(errno));
                return -1;
        }
        g->cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (setns(fd, CLONE_NEWNS) < 0) {
                set_error(ctx, "namespace association failed: %s: %s", path, lstrerror(errno));
                close(fd);
                if (g->cwd >= 0)
                        close(g->cwd);
                return -1;
        }
        close(fd);
        g->entered = true;
        return 0;
}

/* Back to the namespace nvc_init was called in, and to the working directory of before. */
void ns_leave(struct nvc_context *ctx, struct nsguard *g)
{
        if (g->entered && ctx->mnt_ns >= 0) {
                if (setns(ctx->mnt_ns, CLONE_NEWNS) < 0) { /* the real library ignores this too */ }
        }
        if (g->cwd >= 0) {
                if (fchdir(g->cwd) < 0) { /* best effort */ }
                close(g->cwd);
        }
        g->entered = false;
}

/* ---------------------------------------------------------------- helper processes */

/* FAKE_NVC_HELPERS=1: like the real library's nvc_init, fork two helper processes (its driver and nvcgo
 * RPC helpers) that live until nvc_shutdown; they only wait for the end of a pipe.  For benchmarks: what
 * forking costs the caller (page tables, copy-on-write while they live) with no driver behind them. */
void helpers_start(struct nvc_context *ctx)
{
        int fds[2];
        ctx->helper_pipe = -1;
        if (!env_true("FAKE_NVC_HELPERS", false) || pipe2(fds, O_CLOEXEC) < 0)
                return;
        for (size_t i = 0; i < sizeof(ctx->helpers) / sizeof(ctx->helpers[0]); ++i) {
                ctx->helpers[i] = fork();
                if (ctx->helpers[i] == 0) {
                        char c;
                        close(fds[1]);
                        while (read(fds[0], &c, 1) < 0 && errno == EINTR)
                                ;
                        _exit(0);
                }
        }
        close(fds[0]);
        ctx->helper_pipe = fds[1];
}

int helpers_stop(struct nvc_context *ctx)
{
        if (ctx->helper_pipe < 0)
                return 0;
        close(ctx->helper_pipe);
        ctx->helper_pipe = -1;
        int rv = 0;
        for (size_t i = 0; i < sizeof(ctx->helpers) / sizeof(ctx->helpers[0]); ++i) {
                if (ctx->helpers[i] > 0 && waitpid(ctx->helpers[i], NULL, 0) < 0) {
                        set_error(ctx, "process reaping failed: %s", lstrerror(errno));
                        rv = -1;
                }
                ctx->helpers[i] = 0;
        }
        return rv;
}

/* ---------------------------------------------------------------- bind mounts */

static int mkdir_p(const char *path, mode_t mode)
{
        char tmp[PATH_MAX];
        copyn(tmp, sizeof(tmp), path);
        for (char *p = tmp + 1; *p; ++p) {
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                                return -1;
                        *p = '/';
                }
        }
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
                return -1;
        return 0;
}

/* Host path of a driver-root-relative path. */
static void host_path(const struct nvc_context *ctx, char *out, size_t n, const char *path)
{
        const char *root = ctx->root;
        if (root == NULL || !strcmp(root, "/"))
                root = getenv("FAKE_NVC_DRIVER_ROOT");
        if (root == NULL || *root == '\0')
                root = FAKE_NVC_DEFAULT_ROOT;
        join_path(out, n, root, path);
}

/* Bind-mounts src onto dst (created as an empty file), read-only; dev nodes keep dev access. */
static int bind_file(struct nvc_context *ctx, const char *src, const char *dst, bool device)
{
        struct stat st;
        if (stat(src, &st) < 0) {
                set_error(ctx, "stat failed: %s: %s", src, lstrerror(errno));
                return -1;
        }
        char dir[PATH_MAX];
        copyn(dir, sizeof(dir), dst);
        char *slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir) {
                *slash = '\0';
                if (mkdir_p(dir, 0755) < 0) {
                        set_error(ctx, "mkdir failed: %s: %s", dir, lstrerror(errno));
                        return -1;
                }
        }
        int fd = open(dst, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EISDIR) {
                set_error(ctx, "file creation failed: %s: %s", dst, lstrerror(errno));
                return -1;
        }
        if (fd >= 0)
                close(fd);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
                set_error(ctx, "mount operation failed: %s: %s", dst, lstrerror(errno));
                return -1;
        }
        unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (device ? 0 : MS_NODEV);
        if (mount(NULL, dst, NULL, fl, NULL) < 0) {
                set_error(ctx, "mount operation failed: %s: %s", dst, lstrerror(errno));
                umount2(dst, MNT_DETACH);
                return -1;
        }
        return 0;
}

/* ---------------------------------------------------------------- device cgroup (v1) */

int cgroup_allow(struct nvc_context *ctx, const struct nvc_container *cnt, dev_t id)
{
        if ((cnt->flags & C_NO_CGROUPS) || cnt->devcg == NULL)
                return 0;
        char path[PATH_MAX], rule[64];
        join_path(path, sizeof(path), cnt->devcg, "devices.allow");
        int n = snprintf(rule, sizeof(rule), "c %u:%u rw", major(id), minor(id));
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, rule, (size_t)n) != n) {
                set_error(ctx, "device cgroup update failed: %s: %s", path, lstrerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        close(fd);
        return 0;
}

/* Finds the container's v1 device cgroup directory (reads /proc/<pid>/cgroup and our mountinfo). */
char *find_device_cgroup(struct nvc_context *ctx, pid_t pid)
{
        char path[64], line[4096], rel[PATH_MAX] = "";
        bool v2only = true;
        snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
        FILE *f = fopen(path, "re");
        if (f == NULL) {
                set_error(ctx, "cgroup subsystem devices not found: %s: %s", path, lstrerror(errno));
                return NULL;
        }
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (c2 == NULL)
                        continue;
                *c2 = '\0';
                if (c1[1] != '\0')
                        v2only = false;
                char *save = NULL;
                for (char *t = strtok_r(c1 + 1, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        if (!strcmp(t, "devices"))
                                copyn(rel, sizeof(rel), c2 + 1);
        }
        fclose(f);
        if (rel[0] == '\0') {
                if (v2only)
                        set_error(ctx, "cgroup v2 device control is not emulated by the fake library "
                                       "(use no-cgroups or a cgroup v1 devices hierarchy)");
                else
                        set_error(ctx, "cgroup subsystem devices not found");
                return NULL;
        }
        f = fopen("/proc/self/mountinfo", "re");
        if (f == NULL) {
                set_error(ctx, "open failed: /proc/self/mountinfo: %s", lstrerror(errno));
                return NULL;
        }
        char *result = NULL;
        while (fgets(line, sizeof(line), f)) {
                char root[PATH_MAX], mnt[PATH_MAX];
                char *sep = strstr(line, " - ");
                if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
                        continue;
                char fstype[64], src[256], opts[1024];
                if (sscanf(sep + 3, "%63s %255s %1023s", fstype, src, opts) != 3 || strcmp(fstype, "cgroup"))
                        continue;
                bool has = false;
                char *save = NULL;
                for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
                        has |= !strcmp(t, "devices");
                if (!has)
                        continue;
                const char *sub = rel;
                size_t lr = strlen(root);
                if (strcmp(root, "/") != 0) {
                        if (strncmp(rel, root, lr) != 0)
                                continue;
                        sub = rel + lr;
                }
                char out[PATH_MAX];
                join_path(out, sizeof(out), mnt, sub);
                result = strdup(out);
                break;
        }
        fclose(f);
        if (result == NULL)
                set_error(ctx, "cgroup mount point for devices not found");
        return result;
}

/* ---------------------------------------------------------------- the mount calls */

/* Capability needed to mount a library (by basename), as in nvc_info.c. */
static unsigned int lib_caps(const char *lib)
{
        static const struct { const char *prefix; unsigned int caps; } table[] = {
                {"libnvidia-ml.", C_UTILITY}, {"libnvidia-cfg.", C_UTILITY}, {"libnvidia-nscq.", C_UTILITY},
                {"libcuda.", C_COMPUTE | C_VIDEO}, {"libcudadebugger.", C_COMPUTE | C_VIDEO},
                {"libnvidia-opencl.", C_COMPUTE | C_VIDEO}, {"libnvidia-ptxjitcompiler.", C_COMPUTE | C_VIDEO},
                {"libnvidia-nvvm.", C_COMPUTE | C_VIDEO}, {"libnvidia-gpucomp.", C_COMPUTE | C_VIDEO},
                {"libnvidia-allocator.", C_COMPUTE | C_VIDEO},
                {"libvdpau_nvidia.", C_VIDEO}, {"libnvidia-encode.", C_VIDEO}, {"libnvcuvid.", C_VIDEO},
                {"libnvidia-opticalflow.", C_VIDEO},
                {"libnvidia-eglcore.", C_GRAPHICS | C_DISPLAY}, {"libnvidia-glcore.", C_GRAPHICS | C_DISPLAY},
                {"libnvidia-tls.", C_GRAPHICS | C_DISPLAY}, {"libGLX_nvidia.", C_GRAPHICS | C_DISPLAY},
                {"libEGL_nvidia.", C_GRAPHICS | C_DISPLAY}, {"libnvidia-ngx.", C_NGX},
                {NULL, 0},
        };
        const char *b = base_name(lib);
        for (size_t i = 0; table[i].prefix; ++i)
                if (has_prefix(b, table[i].prefix))
                        return table[i].caps;
        return 0;
}

static unsigned int bin_caps(const char *bin)
{
        return has_prefix(base_name(bin), "nvidia-cuda-mps-") ? C_COMPUTE : C_UTILITY;
}

/* Records the container path in the JSON list mounted, then (no dry run) bind-mounts the driver tree's
 * hostrel there and, for a device node, allows it in the device cgroup. */
static int mount_one(struct nvc_context *ctx, const struct nvc_container *cnt, const char *hostrel,
                     const char *dstdir, const char *dstname, bool device, dev_t id, struct buf *mounted)
{
        char src[PATH_MAX], dst[PATH_MAX], tmp[PATH_MAX];
        host_path(ctx, src, sizeof(src), hostrel);
        if (dstdir != NULL) {
                join_path(tmp, sizeof(tmp), dstdir, dstname);
                join_path(dst, sizeof(dst), cnt->rootfs, tmp);
        } else {
                copyn(tmp, sizeof(tmp), dstname);
                join_path(dst, sizeof(dst), cnt->rootfs, dstname);
        }
        buf_item(mounted);
        buf_json(mounted, tmp);
        if (dry_run())
                return 0;
        if (bind_file(ctx, src, dst, device) < 0)
                return -1;
        if (device && cgroup_allow(ctx, cnt, id) < 0)
                return -1;
        return 0;
}

/* nvc_driver_mount's work, in the container's namespace: binaries and libraries by capability,
 * then the driver's device nodes (none with no-devbind). */
int mount_driver(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_driver_info *drv,
                 struct buf *mounted)
{
        unsigned int f = cnt->flags;
        int rv = 0;
        for (size_t i = 0; rv == 0 && i < drv->nbins; ++i)
                if (f & bin_caps(drv->bins[i]))
                        rv = mount_one(ctx, cnt, drv->bins[i], cnt->bins_dir, base_name(drv->bins[i]), false, 0,
                                       mounted);
        for (size_t i = 0; rv == 0 && i < drv->nlibs; ++i)
                if (f & lib_caps(drv->libs[i]))
                        rv = mount_one(ctx, cnt, drv->libs[i], cnt->libs_dir, base_name(drv->libs[i]), false, 0,
                                       mounted);
        for (size_t i = 0; rv == 0 && (f & C_COMPAT32) && i < drv->nlibs32; ++i)
                if (f & lib_caps(drv->libs32[i]))
                        rv = mount_one(ctx, cnt, drv->libs32[i], cnt->libs32_dir, base_name(drv->libs32[i]), false,
                                       0, mounted);
        for (size_t i = 0; rv == 0 && !(f & C_NO_DEVBIND) && i < drv->ndevs; ++i) {
                const struct nvc_device_node *d = &drv->devs[i];
                if (strstr(d->path, "nvidia-modeset") && !(f & C_DISPLAY))
                        continue;
                if (major(d->id) != 195 && !(f & (C_COMPUTE | C_VIDEO)))
                        continue;
                rv = mount_one(ctx, cnt, d->path, NULL, d->path, true, d->id, mounted);
        }
        return rv;
}

/* nvc_device_mount's work: the GPU's node (or, with no-devbind, only its cgroup rule). */
int mount_device(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_device *dev,
                 struct buf *mounted)
{
        if (!(cnt->flags & C_NO_DEVBIND))
                return mount_one(ctx, cnt, dev->node.path, NULL, dev->node.path, true, dev->node.id, mounted);
        if (!dry_run())
                return cgroup_allow(ctx, cnt, dev->node.id);
        return 0;
}

/* ---------------------------------------------------------------- ldconfig */

/* Runs argv in a child that joins the container's mount namespace and chroots into its rootfs (host:
 * path is a host binary, opened before and fexecve'd; else a missing container ldconfig is a success),
 * then reaps it. */
int run_ldconfig(struct nvc_context *ctx, const struct nvc_container *cnt, bool host, const char *path,
                 char *const argv[])
{
        int rv = 0, fd = -1;
        if (host && (fd = open(path, O_RDONLY)) < 0) {
                set_error(ctx, "open failed: %s: %s", path, lstrerror(errno));
                return -1;
        }
        pid_t child = fork();
        if (child < 0) {
                set_error(ctx, "process creation failed: %s", lstrerror(errno));
                rv = -1;
        } else if (child == 0) {
                char ns[64];
                snprintf(ns, sizeof(ns), "/proc/%ld/ns/mnt", (long)cnt->pid);
                int nfd = open(ns, O_RDONLY);
                if (nfd < 0 || setns(nfd, CLONE_NEWNS) < 0 || chroot(cnt->rootfs) < 0 || chdir("/") < 0)
                        _exit(126);
                if (setgid(0) < 0) { /* container owner is root in the tests */ }
                char *envp[] = {NULL};
                if (host) {
                        fexecve(fd, argv, envp);
                } else {
                        execve(path, argv, envp);
                        if (errno == ENOENT)
                                _exit(0); /* missing ldconfig is a success, like the real one */
                }
                _exit(127);
        } else {
                int status = 0;
                pid_t w;
                do {
                        w = waitpid(child, &status, 0);
                } while (w < 0 && errno == EINTR);
                if (w < 0) {
                        set_error(ctx, "process reaping failed: %s", lstrerror(errno));
                        rv = -1;
                } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                        set_error(ctx, "process %s failed with error code: %d", path, WEXITSTATUS(status));
                        rv = -1;
                } else if (WIFSIGNALED(status)) {
                        set_error(ctx, "process %s terminated with signal %d", path, WTERMSIG(status));
                        rv = -1;
                }
        }
        if (fd >= 0)
                close(fd);
        return rv;
}
