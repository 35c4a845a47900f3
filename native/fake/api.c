/*
 * api.c - the exported functions of the fake libnvidia-container.so.1: what each call validates, does
 * and logs.  Every export starts with enter() (lock, version, call count, "ctx" argument) and ends with
 * one of the leave*() helpers (one log line, unlock); check() is the common validation of the calls
 * that take a context (injected failure, initialised context).
 */
#include "fake.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------------------------------------------------------------- prologue and epilogue */

/* One call of an export: its name, its context (NULL if none) and the "args" object of its log line. */
struct call {
        const char *fn;
        struct nvc_context *ctx;
        struct buf args;
};

static struct call enter(const char *fn, struct nvc_context *ctx, bool takes_ctx)
{
        pthread_mutex_lock(&fake_lock);
        version_load();
        count_call(fn);
        struct call c = {fn, ctx, {0}};
        if (takes_ctx) {
                buf_key(&c.args, "ctx");
                buf_handle(&c.args, ctx, "ctx");
        }
        return c;
}

/* One log line (ret as JSON, NULL = null; the context's error when failed), then unlock. */
static void leave(struct call *c, const char *ret_json, bool failed)
{
        log_line(c->fn, &c->args, ret_json, failed && c->ctx ? c->ctx->err : NULL);
        free(c->args.p);
        pthread_mutex_unlock(&fake_lock);
}

static int leave_int(struct call *c, int rv)
{
        char ret[16];
        snprintf(ret, sizeof(ret), "%d", rv);
        leave(c, ret, rv < 0);
        return rv;
}

/* For the constructors: ret is the new handle, named here (null when p is NULL). */
static void *leave_new(struct call *c, void *p, const char *kind, bool failed)
{
        struct buf r = {0};
        buf_json(&r, p ? handle_new(p, kind) : NULL);
        leave(c, r.p, failed);
        free(r.p);
        return p;
}

/* For the destructors: logs the handle (then no longer live); the caller frees it. */
static void leave_free(struct call *c, const void *p, const char *kind)
{
        buf_key(&c->args, "handle");
        buf_handle(&c->args, p, kind);
        handle_dead(p, kind);
        leave(c, NULL, false);
}

/* Calls taking a context: an injected failure (FAKE_NVC_FAIL), then the initialised check. */
static int check(struct call *c, bool need_init)
{
        if (c->ctx == NULL)
                return -1;
        char *fail = fail_check(c->fn);
        if (fail != NULL) {
                free(c->ctx->err);
                c->ctx->err = fail;
                return -1;
        }
        if (need_init && !c->ctx->initialized) {
                set_error(c->ctx, "context uninitialized");
                return -1;
        }
        return 0;
}

/* Calls taking a container: check() and a live container. */
static int check_cnt(struct call *c, const struct nvc_container *cnt)
{
        if (check(c, true) < 0)
                return -1;
        if (!handle_live(cnt, "cnt")) {
                set_error(c->ctx, "invalid argument");
                return -1;
        }
        return 0;
}

/* The constructors' allocation: zeroed, or NULL with ENOMEM when a failure is injected. */
static void *alloc(const char *fn, size_t size)
{
        char *fail = fail_check(fn);
        void *p = fail == NULL ? calloc(1, size) : NULL;
        free(fail);
        if (p == NULL)
                errno = ENOMEM;
        return p;
}

/* ---------------------------------------------------------------- version, context, config */

EXPORT const struct nvc_version *nvc_version(void)
{
        static bool logged;
        struct call c = enter("nvc_version", NULL, false);
        struct buf r = {0};
        if (!logged) {  /* once per load */
                logged = true;
                buf_json(&r, version.string);
                leave(&c, r.p, false);
        } else {
                pthread_mutex_unlock(&fake_lock);
        }
        free(r.p);
        return &version;
}

EXPORT struct nvc_context *nvc_context_new(void)
{
        struct call c = enter("nvc_context_new", NULL, false);
        struct nvc_context *ctx = alloc(c.fn, sizeof(*ctx));
        if (ctx != NULL)
                ctx->mnt_ns = ctx->helper_pipe = -1;
        return leave_new(&c, ctx, "ctx", false);
}

EXPORT void nvc_context_free(struct nvc_context *ctx)
{
        struct call c = enter("nvc_context_free", NULL, false);
        if (ctx != NULL) {
                free(ctx->err);
                free(ctx->root);
                free(ctx->ldcache);
                free(ctx->imex);
                if (ctx->mnt_ns >= 0)
                        close(ctx->mnt_ns);
                helpers_stop(ctx);
        }
        leave_free(&c, ctx, "ctx");
        free(ctx);
}

EXPORT struct nvc_config *nvc_config_new(void)
{
        struct call c = enter("nvc_config_new", NULL, false);
        struct nvc_config *cfg = alloc(c.fn, sizeof(*cfg));
        if (cfg != NULL) {
                cfg->uid = (uid_t)-1;
                cfg->gid = (gid_t)-1;
        }
        return leave_new(&c, cfg, "cfg", false);
}

EXPORT void nvc_config_free(struct nvc_config *cfg)
{
        struct call c = enter("nvc_config_free", NULL, false);
        leave_free(&c, cfg, "cfg");
        free(cfg);
}

static unsigned int overflow_id(const char *path)
{
        FILE *f = fopen(path, "re");
        unsigned int v = 65534;
        if (f) {
                if (fscanf(f, "%u", &v) != 1)
                        v = 65534;
                fclose(f);
        }
        return v;
}

/* The root, ldcache, uid and gid keys of nvc_init's cfg and effective arguments. */
static void buf_root_ids(struct buf *a, const char *root, const char *ldcache, uid_t uid, gid_t gid)
{
        buf_key(a, "root");
        buf_json(a, root);
        buf_key(a, "ldcache");
        buf_json(a, ldcache);
        buf_key(a, "uid");
        buf_f(a, "%u", (unsigned int)uid);
        buf_key(a, "gid");
        buf_f(a, "%u", (unsigned int)gid);
}

static void init_context(struct nvc_context *ctx, const struct nvc_config *cfg)
{
        free(ctx->root);
        free(ctx->ldcache);
        free(ctx->imex);
        ctx->root = xstrdup(cfg && cfg->root ? cfg->root : "/");
        ctx->ldcache = xstrdup(cfg && cfg->ldcache ? cfg->ldcache : "/etc/ld.so.cache");
        ctx->uid = cfg && cfg->uid != (uid_t)-1 ? cfg->uid : overflow_id("/proc/sys/kernel/overflowuid");
        ctx->gid = cfg && cfg->gid != (gid_t)-1 ? cfg->gid : overflow_id("/proc/sys/kernel/overflowgid");
        ctx->imex = NULL;
        ctx->nimex = 0;
#if FAKE_NVC_ABI >= 115
        if (cfg != NULL && cfg->imex.nchans > 0 && cfg->imex.chans != NULL) {
                ctx->imex = calloc(cfg->imex.nchans, sizeof(int));
                for (size_t i = 0; i < cfg->imex.nchans; ++i)
                        ctx->imex[i] = cfg->imex.chans[i].id;
                ctx->nimex = cfg->imex.nchans;
        }
#endif
        ctx->mnt_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
        helpers_start(ctx);
        ctx->initialized = true;
}

EXPORT int nvc_init(struct nvc_context *ctx, const struct nvc_config *cfg, const char *opts)
{
        struct call c = enter("nvc_init", ctx, true);
        sim_load();
        struct buf *a = &c.args, tokens = {0};
        buf_key(a, "cfg");
        if (cfg == NULL) {
                buf_s(a, "null");
        } else {
                buf_s(a, "{");
                buf_root_ids(a, cfg->root, cfg->ldcache, cfg->uid, cfg->gid);
#if FAKE_NVC_ABI >= 115
                buf_key(a, "imex");
                buf_s(a, "[");
                for (size_t i = 0; cfg->imex.chans && i < cfg->imex.nchans; ++i)
                        buf_f(a, "%s%d", i ? ", " : "", cfg->imex.chans[i].id);
                buf_s(a, "]");
#endif
                buf_s(a, "}");
        }
        buf_key(a, "opts");
        buf_json(a, opts);
        buf_key(a, "debug_file");
        buf_json(a, getenv("NVC_DEBUG_FILE"));
        int rv = check(&c, false);
        unsigned int flags = 0;
        buf_s(&tokens, "[");
        if (rv == 0 && !ctx->initialized) {
                if (cfg != NULL && ((cfg->root && !*cfg->root) || (cfg->ldcache && !*cfg->ldcache))) {
                        set_error(ctx, "invalid argument");
                        rv = -1;
                } else if (parse_opts(ctx, opts, init_opts, &flags, &tokens) < 0) {
                        rv = -1;
                } else {
                        init_context(ctx, cfg);
                }
        }
        buf_s(&tokens, "]");
        buf_key(a, "flags");
        buf_s(a, tokens.p);
        free(tokens.p);
        if (rv == 0) {
                buf_key(a, "effective");
                buf_s(a, "{");
                buf_root_ids(a, ctx->root, ctx->ldcache, ctx->uid, ctx->gid);
                buf_s(a, "}");
        }
        return leave_int(&c, rv);
}

EXPORT int nvc_shutdown(struct nvc_context *ctx)
{
        struct call c = enter("nvc_shutdown", ctx, true);
        int rv = check(&c, false);
        if (rv == 0) {
                ctx->initialized = false;
                if (ctx->mnt_ns >= 0)
                        close(ctx->mnt_ns);
                ctx->mnt_ns = -1;
                rv = helpers_stop(ctx);
        }
        return leave_int(&c, rv);
}

EXPORT const char *nvc_error(struct nvc_context *ctx)
{
        struct call c = enter("nvc_error", ctx, true);
        const char *msg = ctx ? ctx->err : NULL;
        struct buf r = {0};
        buf_json(&r, msg);
        leave(&c, r.p, false);
        free(r.p);
        return msg;
}

/* ---------------------------------------------------------------- container */

EXPORT struct nvc_container_config *nvc_container_config_new(pid_t pid, const char *rootfs)
{
        struct call c = enter("nvc_container_config_new", NULL, false);
        struct nvc_container_config *ccfg = alloc(c.fn, sizeof(*ccfg));
        if (ccfg != NULL) {
                ccfg->pid = pid;
                ccfg->rootfs = (char *)rootfs;
        }
        buf_key(&c.args, "pid");
        buf_f(&c.args, "%ld", (long)pid);
        buf_key(&c.args, "rootfs");
        buf_json(&c.args, rootfs);
        return leave_new(&c, ccfg, "ccfg", false);
}

EXPORT void nvc_container_config_free(struct nvc_container_config *ccfg)
{
        struct call c = enter("nvc_container_config_free", NULL, false);
        leave_free(&c, ccfg, "ccfg");
        free(ccfg);
}

static bool nonempty_or_null(const char *s) { return s == NULL || *s != '\0'; }

static bool valid_container_config(const struct nvc_container_config *cfg)
{
        return cfg != NULL && cfg->pid > 0 && cfg->rootfs != NULL && cfg->rootfs[0] == '/' &&
               nonempty_or_null(cfg->bins_dir) && nonempty_or_null(cfg->libs_dir) &&
               nonempty_or_null(cfg->libs32_dir) && nonempty_or_null(cfg->cudart_dir) &&
               nonempty_or_null(cfg->ldconfig);
}

static const char *rootfs_has(const char *rootfs, const char *rel)
{
        char p[PATH_MAX];
        struct stat st;
        join_path(p, sizeof(p), rootfs, rel);
        return stat(p, &st) == 0 ? rel : NULL;
}

static void buf_container_config(struct buf *a, const struct nvc_container_config *cfg)
{
        if (cfg == NULL) {
                buf_s(a, "null");
                return;
        }
        buf_s(a, "{");
        buf_key(a, "pid");
        buf_f(a, "%ld", (long)cfg->pid);
        const char *keys[] = {"rootfs", "bins_dir", "libs_dir", "libs32_dir", "cudart_dir", "ldconfig"};
        const char *values[] = {cfg->rootfs, cfg->bins_dir, cfg->libs_dir, cfg->libs32_dir, cfg->cudart_dir,
                                cfg->ldconfig};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
                buf_key(a, keys[i]);
                buf_json(a, values[i]);
        }
        buf_s(a, "}");
}

/* The cuda-compat mode of container flags (>= 1.17.7: one of the cuda-compat-mode= options, mount by
 * default, or the 1.17.7 flag wipe with FAKE_NVC_QUIRKS=compat-default-wipe; before: no-cntlibs). */
static int compat_mode(struct nvc_context *ctx, unsigned int *flags, const char **mode)
{
        if (vnum < V(1, 17, 7)) {
                *mode = *flags & C_NO_CNTLIBS ? "disabled" : "mount";
                return 0;
        }
        if (*flags & C_COMPAT_DISABLED) {
                *flags &= ~(unsigned int)(C_COMPAT_MOUNT | C_COMPAT_LDCONFIG);
        } else if ((*flags & C_COMPAT_MOUNT) && (*flags & C_COMPAT_LDCONFIG)) {
                set_error(ctx, "only one cuda-compat-mode can be specified at a time");
                return -1;
        } else if (!(*flags & (C_COMPAT_MOUNT | C_COMPAT_LDCONFIG))) {
                const char *q = getenv("FAKE_NVC_QUIRKS");
                if (q != NULL && strstr(q, "compat-default-wipe") && vnum == V(1, 17, 7))
                        *flags = 0;
                else
                        *flags |= C_COMPAT_MOUNT;
        }
        *mode = *flags & C_COMPAT_DISABLED ? "disabled" : *flags & C_COMPAT_LDCONFIG ? "ldconfig"
                : *flags & C_COMPAT_MOUNT ? "mount" : "none";
        return 0;
}

static struct nvc_container *container_of_config(const struct nvc_container_config *cfg, unsigned int flags,
                                                 char *devcg)
{
        bool debian = rootfs_has(cfg->rootfs, "/etc/debian_version") != NULL;
        struct nvc_container *cnt = calloc(1, sizeof(*cnt));
        cnt->flags = flags;
        cnt->pid = cfg->pid;
        cnt->rootfs = strdup(cfg->rootfs);
        cnt->bins_dir = xstrdup(cfg->bins_dir ? cfg->bins_dir : "/usr/bin");
        cnt->libs_dir = xstrdup(cfg->libs_dir ? cfg->libs_dir
                                : debian ? "/usr/lib/x86_64-linux-gnu" : "/usr/lib64");
        cnt->libs32_dir = xstrdup(cfg->libs32_dir ? cfg->libs32_dir
                                  : debian ? "/usr/lib/i386-linux-gnu" : "/usr/lib32");
        cnt->cudart_dir = xstrdup(cfg->cudart_dir ? cfg->cudart_dir : "/usr/local/cuda");
        cnt->ldconfig = xstrdup(cfg->ldconfig ? cfg->ldconfig
                                : rootfs_has(cfg->rootfs, "/sbin/ldconfig.real") ? "/sbin/ldconfig.real"
                                                                                 : "/sbin/ldconfig");
        cnt->devcg = devcg;
        return cnt;
}

EXPORT struct nvc_container *nvc_container_new(struct nvc_context *ctx, const struct nvc_container_config *cfg,
                                               const char *opts)
{
        struct call c = enter("nvc_container_new", ctx, true);
        struct buf *a = &c.args, tokens = {0};
        buf_key(a, "ccfg");
        buf_container_config(a, cfg);
        buf_key(a, "opts");
        buf_json(a, opts);
        unsigned int flags = 0;
        const char *compat = "none";
        int rv = check(&c, true);
        buf_s(&tokens, "[");
        if (rv == 0 && !valid_container_config(cfg)) {
                set_error(ctx, "invalid argument");
                rv = -1;
        }
        if (rv == 0 && parse_opts(ctx, opts ? opts : "standalone no-cgroups no-devbind utility", container_opts,
                                  &flags, &tokens) < 0)
                rv = -1;
        if (rv == 0 && !!(flags & C_SUPERVISED) == !!(flags & C_STANDALONE)) {
                set_error(ctx, "invalid mode of operation");
                rv = -1;
        }
        if (rv == 0)
                rv = compat_mode(ctx, &flags, &compat);
        char *devcg = NULL;
        if (rv == 0 && (flags & C_SUPERVISED) && !dry_run()) {
                char p[64];
                struct stat st;
                snprintf(p, sizeof(p), "/proc/%ld", (long)cfg->pid);
                if (stat(p, &st) < 0) {
                        set_error(ctx, "stat failed: %s: %s", p, lstrerror(errno));
                        rv = -1;
                } else if (!(flags & C_NO_CGROUPS) && (devcg = find_device_cgroup(ctx, cfg->pid)) == NULL) {
                        rv = -1;
                }
        }
        struct nvc_container *cnt = rv == 0 ? container_of_config(cfg, flags, devcg) : NULL;
        buf_s(&tokens, "]");
        buf_key(a, "flags");
        buf_s(a, rv == 0 ? tokens.p : "[]");
        free(tokens.p);
        buf_key(a, "compat_mode");
        buf_json(a, rv == 0 ? compat : NULL);
        if (cnt != NULL) {
                buf_key(a, "effective");
                buf_s(a, "{");
                buf_key(a, "libs_dir");
                buf_json(a, cnt->libs_dir);
                buf_key(a, "ldconfig");
                buf_json(a, cnt->ldconfig);
                buf_key(a, "device_cgroup");
                buf_json(a, cnt->devcg);
                buf_key(a, "compat_libs");
                buf_json(a, sim_compat_libs());
                buf_s(a, "}");
        }
        return leave_new(&c, cnt, "cnt", rv < 0);
}

EXPORT void nvc_container_free(struct nvc_container *cnt)
{
        struct call c = enter("nvc_container_free", NULL, false);
        leave_free(&c, cnt, "cnt");
        if (cnt != NULL) {
                free(cnt->rootfs);
                free(cnt->bins_dir);
                free(cnt->libs_dir);
                free(cnt->libs32_dir);
                free(cnt->cudart_dir);
                free(cnt->ldconfig);
                free(cnt->devcg);
                free(cnt);
        }
}

/* ---------------------------------------------------------------- driver and device info */

EXPORT struct nvc_driver_info *nvc_driver_info_new(struct nvc_context *ctx, const char *opts)
{
        struct call c = enter("nvc_driver_info_new", ctx, true);
        sim_load();
        buf_key(&c.args, "opts");
        buf_json(&c.args, opts);
        struct buf tokens = {0};
        unsigned int flags = 0;
        int rv = check(&c, true);
        buf_s(&tokens, "[");
        if (rv == 0 && parse_opts(ctx, opts, driver_opts, &flags, &tokens) < 0)
                rv = -1;
        buf_s(&tokens, "]");
        if (rv == 0 && getenv("PATH") == NULL) {
                set_error(ctx, "environment variable PATH not found");
                rv = -1;
        }
        struct nvc_driver_info *drv = rv == 0 ? sim_driver_info(flags) : NULL;
        buf_key(&c.args, "flags");
        buf_s(&c.args, rv == 0 ? tokens.p : "[]");
        free(tokens.p);
        return leave_new(&c, drv, "drv", rv < 0);
}

EXPORT void nvc_driver_info_free(struct nvc_driver_info *drv)
{
        struct call c = enter("nvc_driver_info_free", NULL, false);
        leave_free(&c, drv, "drv");
        if (drv != NULL)
                sim_driver_info_free(drv);
}

EXPORT struct nvc_device_info *nvc_device_info_new(struct nvc_context *ctx, const char *opts)
{
        struct call c = enter("nvc_device_info_new", ctx, true);
        sim_load();
        buf_key(&c.args, "opts");
        buf_json(&c.args, opts);
        int rv = check(&c, true);
        return leave_new(&c, rv == 0 ? sim_device_info() : NULL, "devinfo", rv < 0);
}

EXPORT void nvc_device_info_free(struct nvc_device_info *info)
{
        struct call c = enter("nvc_device_info_free", NULL, false);
        leave_free(&c, info, "devinfo");
        if (info != NULL)
                sim_device_info_free(info);
}

/* ---------------------------------------------------------------- mounts */

/* The argument a mount call takes after ctx and cnt (logged under the key of the same index). */
enum mount_arg { ARG_NONE, ARG_DRV, ARG_GPU, ARG_MIG, ARG_CHAN };
static const char *const mount_arg_keys[] = {NULL, "drv", "gpu", "mig", "chan"};

/* Logs p as a mount argument of that kind. Returns 1 when usable, -1 when refused (NULL, a dead driver
 * info), 0 for a device from no live device info (refused, with a strict violation, in strict mode). */
static int buf_mount_arg(struct buf *a, enum mount_arg kind, const void *p)
{
        if (kind == ARG_NONE)
                return 1;
        buf_key(a, mount_arg_keys[kind]);
        if (kind == ARG_DRV) {
                buf_handle(a, p, "drv");
                return handle_live(p, "drv") ? 1 : -1;
        }
        if (p == NULL) {
                buf_s(a, "null");
                return -1;
        }
        if (kind == ARG_CHAN) {
                buf_f(a, "{\"id\": %d}", ((const struct nvc_imex_channel *)p)->id);
                return 1;
        }
        long gpu = -1, index = -1;
        const char *uuid = NULL;
        if (kind == ARG_GPU && device_is_live(p, &index))
                uuid = ((const struct nvc_device *)p)->uuid;
        else if (kind == ARG_MIG && mig_is_live(p, &gpu, &index))
                uuid = ((const struct nvc_mig_device *)p)->uuid;
        else {
                buf_f(a, "{\"foreign\": \"%p\"}", p);
                return 0;
        }
        if (kind == ARG_MIG)
                buf_f(a, "{\"gpu\": %ld, \"index\": %ld, \"uuid\": ", gpu, index);
        else
                buf_f(a, "{\"index\": %ld, \"uuid\": ", index);
        buf_json(a, uuid);
        buf_s(a, "}");
        return 1;
}

static void buf_cnt(struct buf *a, const struct nvc_container *cnt)
{
        buf_key(a, "cnt");
        buf_handle(a, cnt, "cnt");
}

typedef int mount_work(struct nvc_context *ctx, const struct nvc_container *cnt, const void *p, struct buf *m);

static int work_driver(struct nvc_context *ctx, const struct nvc_container *cnt, const void *p, struct buf *m)
{
        return mount_driver(ctx, cnt, p, m);
}

static int work_device(struct nvc_context *ctx, const struct nvc_container *cnt, const void *p, struct buf *m)
{
        return mount_device(ctx, cnt, p, m);
}

/* Every mount call: validated (container, threads, argument), then work (NULL: recorded only) in the
 * container's mount namespace; logs the container paths mounted. */
static int mount_call(const char *fn, struct nvc_context *ctx, const struct nvc_container *cnt,
                      enum mount_arg kind, const void *p, mount_work *work)
{
        struct call c = enter(fn, ctx, true);
        buf_cnt(&c.args, cnt);
        int usable = buf_mount_arg(&c.args, kind, p);
        struct buf m = {0};
        buf_s(&m, "[");
        int rv = check_cnt(&c, cnt);
        if (rv == 0)
                rv = check_threads(ctx, cnt);
        if (rv == 0 && (usable < 0 || (usable == 0 && strict()))) {
                if (usable == 0)
                        strict_violation();
                set_error(ctx, "invalid argument");
                rv = -1;
        }
        struct nsguard g;
        if (rv == 0 && work != NULL && (rv = ns_enter(ctx, cnt, &g)) == 0) {
                rv = work(ctx, cnt, p, &m);
                ns_leave(ctx, &g);
        }
        buf_s(&m, "]");
        buf_key(&c.args, "mounted");
        buf_s(&c.args, m.p);
        free(m.p);
        return leave_int(&c, rv);
}

EXPORT int nvc_driver_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                            const struct nvc_driver_info *drv)
{
        return mount_call("nvc_driver_mount", ctx, cnt, ARG_DRV, drv, work_driver);
}

EXPORT int nvc_device_mount(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_device *dev)
{
        return mount_call("nvc_device_mount", ctx, cnt, ARG_GPU, dev, work_device);
}

/* MIG, IMEX and global caps mounts are recorded only (the fake driver tree has no capability files). */
EXPORT int nvc_mig_device_access_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                            const struct nvc_mig_device *mig)
{
        return mount_call("nvc_mig_device_access_caps_mount", ctx, cnt, ARG_MIG, mig, NULL);
}

EXPORT int nvc_mig_config_global_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        return mount_call("nvc_mig_config_global_caps_mount", ctx, cnt, ARG_NONE, NULL, NULL);
}

EXPORT int nvc_mig_monitor_global_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        return mount_call("nvc_mig_monitor_global_caps_mount", ctx, cnt, ARG_NONE, NULL, NULL);
}

EXPORT int nvc_device_mig_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                     const struct nvc_device *dev)
{
        return mount_call("nvc_device_mig_caps_mount", ctx, cnt, ARG_GPU, dev, NULL);
}

#if FAKE_NVC_ABI >= 115
EXPORT int nvc_imex_channel_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                  const struct nvc_imex_channel *chan)
{
        return mount_call("nvc_imex_channel_mount", ctx, cnt, ARG_CHAN, chan, NULL);
}
#endif

/* ---------------------------------------------------------------- ldcache */

EXPORT int nvc_ldcache_update(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        struct call c = enter("nvc_ldcache_update", ctx, true);
        struct buf *a = &c.args;
        buf_cnt(a, cnt);
        struct sigaction sa;
        sigaction(SIGCHLD, NULL, &sa);
        buf_key(a, "sigchld");
        buf_json(a, sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignore" : "handler");
        buf_key(a, "threads");
        buf_f(a, "%d", thread_count());
        int rv = check_cnt(&c, cnt);
        if (rv == 0) {
                bool host = cnt->ldconfig[0] == '@';
                const char *path = host ? cnt->ldconfig + 1 : cnt->ldconfig;
                char *argv[] = {(char *)path, "-f", "/etc/ld.so.conf", "-C", "/etc/ld.so.cache",
                                cnt->libs_dir, cnt->libs32_dir, NULL};
                buf_key(a, "argv");
                buf_s(a, "[");
                for (int i = 0; argv[i]; ++i) {
                        buf_item(a);
                        buf_json(a, argv[i]);
                }
                buf_s(a, "]");
                buf_key(a, "host_binary");
                buf_s(a, host ? "true" : "false");
                if (!dry_run())
                        rv = run_ldconfig(ctx, cnt, host, path, argv);
        }
        return leave_int(&c, rv);
}
