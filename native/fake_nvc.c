/*
 * fake_nvc.c - a test double for libnvidia-container.so.1 (same public ABI).
 *
 * Records every call as one JSON line (FAKE_NVC_LOG), simulates GPUs from a
 * key = value file (FAKE_NVC_CONFIG) or built-in defaults, injects failures
 * (FAKE_NVC_FAIL) and, unless FAKE_NVC_DRY_RUN=1, really does what the real
 * library does for the parts the tests observe: it enters the container's
 * mount namespace by pid, bind-mounts the selected device nodes, binaries and
 * driver libraries of its fake driver tree into the rootfs, allows the
 * devices in the container's (cgroup v1) device cgroup and runs the
 * container's ldconfig.  See native/README.md for the environment interface.
 *
 * Compile-time ABI variant: -DFAKE_NVC_ABI=115 (default) | 105 | 101.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FAKE_NVC_ABI
#define FAKE_NVC_ABI 115
#endif
#ifndef FAKE_NVC_DEFAULT_ROOT
#define FAKE_NVC_DEFAULT_ROOT "/"
#endif

#define EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------- public ABI */

struct nvc_imex_channel { int id; };
struct nvc_imex_info { struct nvc_imex_channel *chans; size_t nchans; };
struct nvc_version { unsigned int major; unsigned int minor; unsigned int patch; const char *string; };
struct nvc_config {
        char *root;
        char *ldcache;
        uid_t uid;
        gid_t gid;
#if FAKE_NVC_ABI >= 115
        struct nvc_imex_info imex;
#endif
};
struct nvc_device_node { char *path; dev_t id; };
struct nvc_driver_info {
        char *nvrm_version;
        char *cuda_version;
        char **bins; size_t nbins;
        char **libs; size_t nlibs;
        char **libs32; size_t nlibs32;
        char **ipcs; size_t nipcs;
        struct nvc_device_node *devs; size_t ndevs;
#if FAKE_NVC_ABI >= 105
        char **firmwares; size_t nfirmwares;
#endif
};
struct nvc_device;
struct nvc_mig_device {
        struct nvc_device *parent;
        char *uuid;
        unsigned int gi;
        unsigned int ci;
        char *gi_caps_path;
        char *ci_caps_path;
};
struct nvc_mig_device_info { struct nvc_mig_device *devices; size_t ndevices; };
struct nvc_device {
        char *model;
        char *uuid;
        char *busid;
        char *arch;
        char *brand;
        struct nvc_device_node node;
        bool mig_capable;
        char *mig_caps_path;
        struct nvc_mig_device_info mig_devices;
};
struct nvc_device_info { struct nvc_device *gpus; size_t ngpus; };
struct nvc_container_config {
        pid_t pid;
        char *rootfs;
        char *bins_dir;
        char *libs_dir;
        char *libs32_dir;
        char *cudart_dir;
        char *ldconfig;
};

/* ---------------------------------------------------------------- internal */

struct nvc_context {
        bool initialized;
        char *err;
        char *root;
        char *ldcache;
        uid_t uid;
        gid_t gid;
        int *imex;
        size_t nimex;
        int mnt_ns;
};

enum {
        C_SUPERVISED = 1 << 0, C_STANDALONE = 1 << 1, C_NO_CGROUPS = 1 << 2, C_NO_DEVBIND = 1 << 3,
        C_UTILITY = 1 << 4, C_COMPUTE = 1 << 5, C_VIDEO = 1 << 6, C_GRAPHICS = 1 << 7,
        C_DISPLAY = 1 << 8, C_NGX = 1 << 9, C_COMPAT32 = 1 << 10, C_NO_CNTLIBS = 1 << 11,
        C_COMPAT_DISABLED = 1 << 12, C_COMPAT_MOUNT = 1 << 13, C_COMPAT_LDCONFIG = 1 << 14,
};
enum {
        D_NO_GLVND = 1 << 0, D_NO_UVM = 1 << 1, D_NO_MODESET = 1 << 2, D_NO_MPS = 1 << 3,
        D_NO_PERSISTENCED = 1 << 4, D_NO_FABRICMANAGER = 1 << 5, D_NO_GSP_FIRMWARE = 1 << 6,
};
enum { I_LOAD_KMODS = 1 << 0, I_NO_CREATE_IMEX = 1 << 1 };

struct nvc_container {
        unsigned int flags;
        pid_t pid;
        char *rootfs, *bins_dir, *libs_dir, *libs32_dir, *cudart_dir, *ldconfig;
        char *devcg;    /* device cgroup directory (v1), NULL with no-cgroups or dry run */
};

struct optdef { const char *name; unsigned int bits; unsigned int since; unsigned int until; };
#define V(a, b, c) ((a) * 1000000u + (b) * 1000u + (c))
#define VMAX 0xffffffffu

static const struct optdef init_opts[] = {
        {"load-kmods", I_LOAD_KMODS, 0, VMAX},
        {"no-create-imex-channels", I_NO_CREATE_IMEX, V(1, 17, 0), VMAX},
        {NULL, 0, 0, 0},
};
static const struct optdef container_opts[] = {
        {"supervised", C_SUPERVISED, 0, VMAX},
        {"standalone", C_STANDALONE, 0, VMAX},
        {"no-cgroups", C_NO_CGROUPS, 0, VMAX},
        {"no-devbind", C_NO_DEVBIND, 0, VMAX},
        {"utility", C_UTILITY, 0, VMAX},
        {"compute", C_COMPUTE, 0, VMAX},
        {"video", C_VIDEO, 0, VMAX},
        {"graphics", C_GRAPHICS, 0, VMAX},
        {"display", C_DISPLAY, 0, VMAX},
        {"ngx", C_NGX, V(1, 2, 0), VMAX},
        {"compat32", C_COMPAT32, 0, VMAX},
        {"no-cntlibs", C_NO_CNTLIBS, 0, V(1, 17, 7)},
        {"cuda-compat-mode=disabled", C_COMPAT_DISABLED, V(1, 17, 7), VMAX},
        {"cuda-compat-mode=mount", C_COMPAT_MOUNT, V(1, 17, 7), VMAX},
        {"cuda-compat-mode=ldconfig", C_COMPAT_LDCONFIG, V(1, 17, 7), VMAX},
        {NULL, 0, 0, 0},
};
static const struct optdef driver_opts[] = {
        {"no-glvnd", D_NO_GLVND, 0, VMAX},
        {"no-uvm", D_NO_UVM, 0, VMAX},
        {"no-modeset", D_NO_MODESET, 0, VMAX},
        {"no-mps", D_NO_MPS, 0, VMAX},
        {"no-persistenced", D_NO_PERSISTENCED, 0, VMAX},
        {"no-fabricmanager", D_NO_FABRICMANAGER, V(1, 4, 0), VMAX},
        {"no-gsp-firmware", D_NO_GSP_FIRMWARE, V(1, 16, 2), VMAX},
        {NULL, 0, 0, 0},
};

/* ---------------------------------------------------------------- simulation */

#define MAX_GPUS 16
#define MAX_MIGS 8

struct sim_mig { char uuid[128]; unsigned int gi, ci; };
struct sim_gpu {
        char uuid[128], busid[64], arch[32], brand[64], model[128];
        unsigned int minor;
        int mig_capable;
        size_t nmig;
        struct sim_mig migs[MAX_MIGS];
};
struct sim {
        char driver_version[64];
        char cuda_version[64];
        bool cuda_null;
        size_t ngpus;
        struct sim_gpu gpus[MAX_GPUS];
        char libs[4096], libs32[4096], bins[4096], ipcs[4096], firmwares[4096], devs[4096];
        char nvcaps_style[16];
        unsigned int nvcaps_major;
        char compat_libs[4096];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim sim;
static bool sim_loaded;

/* ---------------------------------------------------------------- small helpers */

struct buf { char *p; size_t len, cap; };

static void buf_add(struct buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (p == NULL)
                        return;
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}
static void buf_s(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_f(struct buf *b, const char *fmt, ...)
{
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}
static void buf_json(struct buf *b, const char *s)
{
        if (s == NULL) {
                buf_s(b, "null");
                return;
        }
        buf_s(b, "\"");
        for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
                if (*c == '"' || *c == '\\') {
                        char e[2] = {'\\', (char)*c};
                        buf_add(b, e, 2);
                } else if (*c < 0x20 || *c == 0x7f) {
                        buf_f(b, "\\u%04x", *c);
                } else {
                        buf_add(b, (const char *)c, 1);
                }
        }
        buf_s(b, "\"");
}
/* "key": (leading comma when not first) */
static void buf_key(struct buf *b, const char *k)
{
        if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
                buf_s(b, ", ");
        buf_json(b, k);
        buf_s(b, ": ");
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                ++s;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

static void copyn(char *dst, size_t n, const char *src)
{
        snprintf(dst, n, "%s", src);
}

/* ---------------------------------------------------------------- version */

static struct nvc_version version;
static char version_string[64];
static unsigned int vnum;

static void version_load(void)
{
        if (version.string != NULL)
                return;
        const char *v = getenv("FAKE_NVC_VERSION");
        if (v == NULL || *v == '\0')
                v = FAKE_NVC_ABI >= 115 ? "1.17.8" : FAKE_NVC_ABI >= 105 ? "1.14.0" : "1.4.0";
        copyn(version_string, sizeof(version_string), v);
        unsigned int a = 0, b = 0, c = 0;
        sscanf(v, "%u.%u.%u", &a, &b, &c);
        version.major = a;
        version.minor = b;
        version.patch = c;
        version.string = version_string;
        vnum = V(a, b, c);
}

/* ---------------------------------------------------------------- handles, counts, log */

struct handle { const void *p; char kind[12]; unsigned int n; bool live; };
static struct handle handles[4096];
static size_t nhandles;
static unsigned int kind_counter[8];
static const char *kinds[] = {"ctx", "cfg", "ccfg", "cnt", "drv", "devinfo", NULL};

static const char *fn_names[] = {
        "nvc_version", "nvc_context_new", "nvc_context_free", "nvc_config_new", "nvc_config_free",
        "nvc_init", "nvc_shutdown", "nvc_error", "nvc_ldcache_update", "nvc_container_config_new",
        "nvc_container_config_free", "nvc_container_new", "nvc_container_free", "nvc_driver_info_new",
        "nvc_driver_info_free", "nvc_device_info_new", "nvc_device_info_free", "nvc_driver_mount",
        "nvc_device_mount", "nvc_nvcaps_style", "nvc_nvcaps_device_from_proc_path",
        "nvc_mig_device_access_caps_mount", "nvc_mig_config_global_caps_mount",
        "nvc_mig_monitor_global_caps_mount", "nvc_device_mig_caps_mount", "nvc_imex_channel_mount", NULL,
};
static unsigned int fn_calls[32];
static unsigned long seq;

static int fn_index(const char *fn)
{
        for (int i = 0; fn_names[i]; ++i)
                if (strcmp(fn_names[i], fn) == 0)
                        return i;
        return -1;
}

static const char *handle_new(const void *p, const char *kind)
{
        static char id[32];
        int k = 0;
        while (kinds[k] && strcmp(kinds[k], kind))
                ++k;
        if (nhandles < sizeof(handles) / sizeof(handles[0])) {
                struct handle *h = &handles[nhandles++];
                h->p = p;
                copyn(h->kind, sizeof(h->kind), kind);
                h->n = ++kind_counter[k];
                h->live = true;
                snprintf(id, sizeof(id), "%s#%u", kind, h->n);
        } else {
                snprintf(id, sizeof(id), "%s#?", kind);
        }
        return id;
}

static struct handle *handle_find(const void *p, const char *kind)
{
        for (size_t i = nhandles; i-- > 0;)
                if (handles[i].live && handles[i].p == p && (kind == NULL || !strcmp(handles[i].kind, kind)))
                        return &handles[i];
        return NULL;
}

static void buf_handle(struct buf *b, const void *p, const char *kind)
{
        if (p == NULL) {
                buf_s(b, "null");
                return;
        }
        struct handle *h = handle_find(p, kind);
        if (h != NULL)
                buf_f(b, "\"%s#%u\"", h->kind, h->n);
        else
                buf_f(b, "{\"foreign\": \"%p\"}", p);
}

static void buf_ctx(struct buf *a, const struct nvc_context *ctx)
{
        buf_key(a, "ctx");
        buf_handle(a, ctx, "ctx");
}

static void log_line(const char *fn, struct buf *args, const char *ret_json, const char *error)
{
        const char *path = getenv("FAKE_NVC_LOG");
        if (path == NULL || *path == '\0')
                return;
        struct buf b = {0};
        buf_f(&b, "{\"seq\": %lu, \"pid\": %ld, \"tid\": %ld, \"fn\": ", ++seq, (long)getpid(), (long)gettid());
        buf_json(&b, fn);
        buf_s(&b, ", \"args\": {");
        if (args != NULL && args->p != NULL)
                buf_s(&b, args->p);
        buf_s(&b, "}, \"ret\": ");
        buf_s(&b, ret_json ? ret_json : "null");
        buf_s(&b, ", \"error\": ");
        buf_json(&b, error);
        buf_s(&b, "}\n");
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
                if (write(fd, b.p, b.len) < 0) { /* best effort */ }
                close(fd);
        }
        free(b.p);
}

/* ---------------------------------------------------------------- failure injection */

/* Returns a malloc'd message when call number fn_calls[fn] of fn must fail. */
static char *fail_check(const char *fn)
{
        int idx = fn_index(fn);
        unsigned int n = idx >= 0 ? fn_calls[idx] : 0;
        const char *spec = getenv("FAKE_NVC_FAIL");
        if (spec == NULL || *spec == '\0')
                return NULL;
        char *copy = strdup(spec), *save = NULL, *res = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *msg = strchr(tok, '=');
                if (msg)
                        *msg++ = '\0';
                char *at = strchr(tok, '@');
                unsigned long want = 0;
                if (at) {
                        *at++ = '\0';
                        want = strtoul(at, NULL, 10);
                }
                if (strcmp(trim(tok), fn) != 0 || (want != 0 && want != n))
                        continue;
                if (msg != NULL) {
                        res = strdup(msg);
                } else if (asprintf(&res, "%s: injected failure", fn) < 0) {
                        res = NULL;
                }
                break;
        }
        free(copy);
        return res;
}

static void count_call(const char *fn)
{
        int idx = fn_index(fn);
        if (idx >= 0)
                ++fn_calls[idx];
}

static void set_error(struct nvc_context *ctx, const char *fmt, ...)
{
        if (ctx == NULL)
                return;
        char *m = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(ctx->err);
        ctx->err = m;
}

static const char *lstrerror(int err)
{
        static __thread char tmp[128];
        copyn(tmp, sizeof(tmp), strerror(err));
        tmp[0] = (char)tolower((unsigned char)tmp[0]);
        return tmp;
}

static bool env_true(const char *name, bool dflt)
{
        const char *v = getenv(name);
        if (v == NULL || *v == '\0')
                return dflt;
        return strcmp(v, "0") != 0;
}

static bool dry_run(void) { return env_true("FAKE_NVC_DRY_RUN", false); }

/* ---------------------------------------------------------------- options */

/* Parses opts against defs; on failure sets the ctx error and returns -1. */
static int parse_opts(struct nvc_context *ctx, const char *opts, const struct optdef *defs, unsigned int *flags,
                      struct buf *tokens)
{
        *flags = 0;
        if (opts == NULL)
                opts = "";
        if (strlen(opts) >= 256) {
                set_error(ctx, "too many options");
                return -1;
        }
        char *copy = strdup(opts), *save = NULL;
        int rv = 0;
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                const struct optdef *d = defs;
                bool accept_cntlibs = env_true("FAKE_NVC_ACCEPT_NO_CNTLIBS", false);
                for (; d->name; ++d) {
                        if (strcmp(d->name, tok) != 0)
                                continue;
                        bool in_range = vnum >= d->since && vnum < d->until;
                        if (!in_range && d->bits == C_NO_CNTLIBS && defs == container_opts && accept_cntlibs)
                                in_range = true;
                        if (in_range)
                                break;
                }
                if (d->name == NULL) {
                        set_error(ctx, "invalid option: %s", tok);
                        rv = -1;
                        break;
                }
                *flags |= d->bits;
        }
        free(copy);
        if (rv == 0 && tokens != NULL) {
                for (const struct optdef *d = defs; d->name; ++d) {
                        if (*flags & d->bits) {
                                if (tokens->p && tokens->p[tokens->len - 1] != '[')
                                        buf_s(tokens, ", ");
                                buf_json(tokens, d->name);
                        }
                }
        }
        return rv;
}

/* ---------------------------------------------------------------- simulation file */

static void sim_defaults(void)
{
        memset(&sim, 0, sizeof(sim));
        copyn(sim.driver_version, sizeof(sim.driver_version), "550.54.14");
        copyn(sim.cuda_version, sizeof(sim.cuda_version), "12.4");
        sim.ngpus = 2;
        for (size_t i = 0; i < MAX_GPUS; ++i) {
                struct sim_gpu *g = &sim.gpus[i];
                snprintf(g->uuid, sizeof(g->uuid), "GPU-00000000-0000-0000-0000-%012zu", i);
                snprintf(g->busid, sizeof(g->busid), "00000000:%02zX:00.0", i + 1);
                copyn(g->arch, sizeof(g->arch), "9.0");
                copyn(g->brand, sizeof(g->brand), "Tesla");
                copyn(g->model, sizeof(g->model), "NVIDIA H100 80GB HBM3");
                g->minor = (unsigned int)i;
        }
        copyn(sim.libs, sizeof(sim.libs),
              "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14,/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.14");
        copyn(sim.bins, sizeof(sim.bins), "/usr/bin/nvidia-smi");
        copyn(sim.devs, sizeof(sim.devs),
              "/dev/nvidiactl:195:255,/dev/nvidia-uvm:510:0,/dev/nvidia-uvm-tools:510:1,/dev/nvidia-modeset:195:254");
        copyn(sim.nvcaps_style, sizeof(sim.nvcaps_style), "none");
        sim.nvcaps_major = 511;
}

static void sim_load(void)
{
        if (sim_loaded)
                return;
        sim_loaded = true;
        sim_defaults();
        const char *path = getenv("FAKE_NVC_CONFIG");
        if (path == NULL || *path == '\0')
                return;
        FILE *f = fopen(path, "re");
        if (f == NULL)
                return;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                char *hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                char *eq = strchr(line, '=');
                if (eq == NULL)
                        continue;
                *eq = '\0';
                char *k = trim(line), *v = trim(eq + 1);
                unsigned int gi, mi;
                char rest[64];
                if (!strcmp(k, "driver.version")) copyn(sim.driver_version, sizeof(sim.driver_version), v);
                else if (!strcmp(k, "driver.cuda_version")) {
                        copyn(sim.cuda_version, sizeof(sim.cuda_version), v);
                        sim.cuda_null = *v == '\0';
                }
                else if (!strcmp(k, "driver.libs")) copyn(sim.libs, sizeof(sim.libs), v);
                else if (!strcmp(k, "driver.libs32")) copyn(sim.libs32, sizeof(sim.libs32), v);
                else if (!strcmp(k, "driver.bins")) copyn(sim.bins, sizeof(sim.bins), v);
                else if (!strcmp(k, "driver.ipcs")) copyn(sim.ipcs, sizeof(sim.ipcs), v);
                else if (!strcmp(k, "driver.firmwares")) copyn(sim.firmwares, sizeof(sim.firmwares), v);
                else if (!strcmp(k, "driver.devs")) copyn(sim.devs, sizeof(sim.devs), v);
                else if (!strcmp(k, "nvcaps.style")) copyn(sim.nvcaps_style, sizeof(sim.nvcaps_style), v);
                else if (!strcmp(k, "nvcaps.major")) sim.nvcaps_major = (unsigned int)strtoul(v, NULL, 10);
                else if (!strcmp(k, "container.compat_libs")) copyn(sim.compat_libs, sizeof(sim.compat_libs), v);
                else if (!strcmp(k, "gpu.count")) {
                        unsigned long n = strtoul(v, NULL, 10);
                        sim.ngpus = n > MAX_GPUS ? MAX_GPUS : n;
                } else if (sscanf(k, "gpu.%u.mig.%u.%63s", &gi, &mi, rest) == 3 && gi < MAX_GPUS && mi < MAX_MIGS) {
                        struct sim_mig *m = &sim.gpus[gi].migs[mi];
                        if (!strcmp(rest, "uuid")) copyn(m->uuid, sizeof(m->uuid), v);
                        else if (!strcmp(rest, "gi")) m->gi = (unsigned int)strtoul(v, NULL, 10);
                        else if (!strcmp(rest, "ci")) m->ci = (unsigned int)strtoul(v, NULL, 10);
                } else if (sscanf(k, "gpu.%u.%63s", &gi, rest) == 2 && gi < MAX_GPUS) {
                        struct sim_gpu *g = &sim.gpus[gi];
                        if (!strcmp(rest, "uuid")) copyn(g->uuid, sizeof(g->uuid), v);
                        else if (!strcmp(rest, "busid")) copyn(g->busid, sizeof(g->busid), v);
                        else if (!strcmp(rest, "arch")) copyn(g->arch, sizeof(g->arch), v);
                        else if (!strcmp(rest, "brand")) copyn(g->brand, sizeof(g->brand), v);
                        else if (!strcmp(rest, "model")) copyn(g->model, sizeof(g->model), v);
                        else if (!strcmp(rest, "minor")) g->minor = (unsigned int)strtoul(v, NULL, 10);
                        else if (!strcmp(rest, "mig_capable")) g->mig_capable = atoi(v);
                        else if (!strcmp(rest, "mig.count")) {
                                unsigned long n = strtoul(v, NULL, 10);
                                g->nmig = n > MAX_MIGS ? MAX_MIGS : n;
                        }
                }
        }
        fclose(f);
}

/* Splits a comma list into a fresh NULL-free array; returns count. */
static size_t split_list(const char *list, char ***out)
{
        *out = NULL;
        if (list == NULL || *list == '\0')
                return 0;
        size_t n = 1;
        for (const char *c = list; *c; ++c)
                n += *c == ',';
        char **arr = calloc(n, sizeof(*arr));
        char *copy = strdup(list), *save = NULL;
        size_t i = 0;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                tok = trim(tok);
                if (*tok)
                        arr[i++] = strdup(tok);
        }
        free(copy);
        *out = arr;
        return i;
}

static void free_list(char **arr, size_t n)
{
        for (size_t i = 0; i < n; ++i)
                free(arr[i]);
        free(arr);
}

/* ---------------------------------------------------------------- live device infos (strict checks) */

static struct nvc_device_info *live_infos[256];
static size_t nlive_infos;

static bool device_is_live(const struct nvc_device *d, long *index)
{
        for (size_t i = 0; i < nlive_infos; ++i) {
                struct nvc_device_info *info = live_infos[i];
                if (info && d >= info->gpus && d < info->gpus + info->ngpus) {
                        *index = d - info->gpus;
                        return true;
                }
        }
        return false;
}

static bool mig_is_live(const struct nvc_mig_device *m, long *gpu, long *index)
{
        for (size_t i = 0; i < nlive_infos; ++i) {
                struct nvc_device_info *info = live_infos[i];
                for (size_t g = 0; info && g < info->ngpus; ++g) {
                        struct nvc_mig_device_info *mi = &info->gpus[g].mig_devices;
                        if (m >= mi->devices && m < mi->devices + mi->ndevices) {
                                *gpu = (long)g;
                                *index = m - mi->devices;
                                return true;
                        }
                }
        }
        return false;
}

static bool strict(void)
{
        const char *v = getenv("FAKE_NVC_STRICT");
        return v != NULL && (!strcmp(v, "1") || !strcmp(v, "abort"));
}
static void strict_violation(void)
{
        const char *v = getenv("FAKE_NVC_STRICT");
        if (v != NULL && !strcmp(v, "abort"))
                abort();
}

/* ---------------------------------------------------------------- system effects */

static int thread_count(void)
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

static int check_threads(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        if (!env_true("FAKE_NVC_THREADCHECK", true) || thread_count() <= 1)
                return 0;
        set_error(ctx, "namespace association failed: /proc/%ld/ns/mnt: invalid argument", (long)cnt->pid);
        return -1;
}

struct nsguard { int cwd; bool entered; };

static int ns_enter(struct nvc_context *ctx, const struct nvc_container *cnt, struct nsguard *g)
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

static void ns_leave(struct nvc_context *ctx, struct nsguard *g)
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

static void join_path(char *out, size_t n, const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                --la;
        while (*b == '/')
                ++b;
        snprintf(out, n, "%.*s/%s", (int)la, a, b);
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

static int cgroup_allow(struct nvc_context *ctx, const struct nvc_container *cnt, dev_t id)
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
static char *find_device_cgroup(struct nvc_context *ctx, pid_t pid)
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

/* ---------------------------------------------------------------- exported: version, context, config */

EXPORT const struct nvc_version *nvc_version(void)
{
        static bool logged;
        pthread_mutex_lock(&lock);
        version_load();
        count_call("nvc_version");
        if (!logged) {
                logged = true;
                struct buf ret = {0};
                buf_json(&ret, version.string);
                log_line("nvc_version", NULL, ret.p, NULL);
                free(ret.p);
        }
        pthread_mutex_unlock(&lock);
        return &version;
}

/* Common start of the constructors (lock held): counts fn, then allocates size zeroed bytes unless a
 * failure is injected; NULL with errno ENOMEM on failure. */
static void *new_object(const char *fn, size_t size)
{
        version_load();
        count_call(fn);
        char *fail = fail_check(fn);
        void *p = fail == NULL ? calloc(1, size) : NULL;
        free(fail);
        if (p == NULL)
                errno = ENOMEM;
        return p;
}

/* Logs a constructor's call: its arguments a (may be NULL; freed) and the new handle p of kind (null if NULL). */
static void log_new(const char *fn, struct buf *a, const void *p, const char *kind)
{
        struct buf r = {0};
        if (p != NULL)
                buf_json(&r, handle_new(p, kind));
        log_line(fn, a, r.p, NULL);
        free(r.p);
        if (a != NULL)
                free(a->p);
}

EXPORT struct nvc_context *nvc_context_new(void)
{
        pthread_mutex_lock(&lock);
        struct nvc_context *ctx = new_object("nvc_context_new", sizeof(*ctx));
        if (ctx != NULL)
                ctx->mnt_ns = -1;
        log_new("nvc_context_new", NULL, ctx, "ctx");
        pthread_mutex_unlock(&lock);
        return ctx;
}

static void free_handle_log(const char *fn, const void *p, const char *kind)
{
        struct buf a = {0};
        buf_key(&a, "handle");
        buf_handle(&a, p, kind);
        count_call(fn);
        struct handle *h = p ? handle_find(p, kind) : NULL;
        if (h)
                h->live = false;
        log_line(fn, &a, NULL, NULL);
        free(a.p);
}

/* Destructor of a handle that owns nothing: logs it and frees it. */
static void free_plain(const char *fn, void *p, const char *kind)
{
        pthread_mutex_lock(&lock);
        free_handle_log(fn, p, kind);
        free(p);
        pthread_mutex_unlock(&lock);
}

EXPORT void nvc_context_free(struct nvc_context *ctx)
{
        pthread_mutex_lock(&lock);
        free_handle_log("nvc_context_free", ctx, "ctx");
        if (ctx != NULL) {
                free(ctx->err);
                free(ctx->root);
                free(ctx->ldcache);
                free(ctx->imex);
                if (ctx->mnt_ns >= 0)
                        close(ctx->mnt_ns);
                free(ctx);
        }
        pthread_mutex_unlock(&lock);
}

EXPORT struct nvc_config *nvc_config_new(void)
{
        pthread_mutex_lock(&lock);
        struct nvc_config *cfg = new_object("nvc_config_new", sizeof(*cfg));
        if (cfg != NULL) {
                cfg->uid = (uid_t)-1;
                cfg->gid = (gid_t)-1;
        }
        log_new("nvc_config_new", NULL, cfg, "cfg");
        pthread_mutex_unlock(&lock);
        return cfg;
}

EXPORT void nvc_config_free(struct nvc_config *cfg)
{
        free_plain("nvc_config_free", cfg, "cfg");
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

/* Common prologue of ctx-taking calls: counts, injected failures, initialised check. */
static int call_check(struct nvc_context *ctx, const char *fn, bool need_init)
{
        count_call(fn);
        if (ctx == NULL)
                return -1;
        char *fail = fail_check(fn);
        if (fail != NULL) {
                free(ctx->err);
                ctx->err = fail;
                return -1;
        }
        if (need_init && !ctx->initialized) {
                set_error(ctx, "context uninitialized");
                return -1;
        }
        return 0;
}

static void ret_int(struct buf *b, int rv) { buf_f(b, "%d", rv); }

/* Logs a ctx-taking call fn (arguments a, return JSON ret) with the ctx error when rv < 0; frees a. */
static void log_call(const char *fn, struct buf *a, const char *ret, int rv, const struct nvc_context *ctx)
{
        log_line(fn, a, ret, rv < 0 && ctx ? ctx->err : NULL);
        free(a->p);
}

static void log_call_int(const char *fn, struct buf *a, int rv, const struct nvc_context *ctx)
{
        struct buf r = {0};
        ret_int(&r, rv);
        log_call(fn, a, r.p, rv, ctx);
        free(r.p);
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

EXPORT int nvc_init(struct nvc_context *ctx, const struct nvc_config *cfg, const char *opts)
{
        pthread_mutex_lock(&lock);
        version_load();
        sim_load();
        struct buf a = {0}, tokens = {0};
        buf_ctx(&a, ctx);
        buf_key(&a, "cfg");
        if (cfg == NULL) {
                buf_s(&a, "null");
        } else {
                buf_s(&a, "{");
                buf_root_ids(&a, cfg->root, cfg->ldcache, cfg->uid, cfg->gid);
#if FAKE_NVC_ABI >= 115
                buf_key(&a, "imex");
                buf_s(&a, "[");
                for (size_t i = 0; cfg->imex.chans && i < cfg->imex.nchans; ++i)
                        buf_f(&a, "%s%d", i ? ", " : "", cfg->imex.chans[i].id);
                buf_s(&a, "]");
#endif
                buf_s(&a, "}");
        }
        buf_key(&a, "opts");
        buf_json(&a, opts);
        buf_key(&a, "debug_file");
        buf_json(&a, getenv("NVC_DEBUG_FILE"));
        int rv = call_check(ctx, "nvc_init", false);
        unsigned int flags = 0;
        buf_s(&tokens, "[");
        if (rv == 0 && !ctx->initialized) {
                if (cfg != NULL && ((cfg->root && !*cfg->root) || (cfg->ldcache && !*cfg->ldcache))) {
                        set_error(ctx, "invalid argument");
                        rv = -1;
                } else if (parse_opts(ctx, opts, init_opts, &flags, &tokens) < 0) {
                        rv = -1;
                } else {
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
                        ctx->initialized = true;
                }
        }
        buf_s(&tokens, "]");
        buf_key(&a, "flags");
        buf_s(&a, tokens.p);
        if (rv == 0) {
                buf_key(&a, "effective");
                buf_s(&a, "{");
                buf_root_ids(&a, ctx->root, ctx->ldcache, ctx->uid, ctx->gid);
                buf_s(&a, "}");
        }
        log_call_int("nvc_init", &a, rv, ctx);
        free(tokens.p);
        pthread_mutex_unlock(&lock);
        return rv;
}

EXPORT int nvc_shutdown(struct nvc_context *ctx)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0};
        buf_ctx(&a, ctx);
        int rv = call_check(ctx, "nvc_shutdown", false);
        if (rv == 0) {
                ctx->initialized = false;
                if (ctx->mnt_ns >= 0)
                        close(ctx->mnt_ns);
                ctx->mnt_ns = -1;
        }
        log_call_int("nvc_shutdown", &a, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

EXPORT const char *nvc_error(struct nvc_context *ctx)
{
        pthread_mutex_lock(&lock);
        count_call("nvc_error");
        struct buf a = {0}, r = {0};
        buf_ctx(&a, ctx);
        const char *msg = ctx ? ctx->err : NULL;
        buf_json(&r, msg);
        log_line("nvc_error", &a, r.p, NULL);
        free(a.p);
        free(r.p);
        pthread_mutex_unlock(&lock);
        return msg;
}

/* ---------------------------------------------------------------- container */

EXPORT struct nvc_container_config *nvc_container_config_new(pid_t pid, const char *rootfs)
{
        pthread_mutex_lock(&lock);
        struct nvc_container_config *c = new_object("nvc_container_config_new", sizeof(*c));
        if (c != NULL) {
                c->pid = pid;
                c->rootfs = (char *)rootfs;
        }
        struct buf a = {0};
        buf_key(&a, "pid");
        buf_f(&a, "%ld", (long)pid);
        buf_key(&a, "rootfs");
        buf_json(&a, rootfs);
        log_new("nvc_container_config_new", &a, c, "ccfg");
        pthread_mutex_unlock(&lock);
        return c;
}

EXPORT void nvc_container_config_free(struct nvc_container_config *c)
{
        free_plain("nvc_container_config_free", c, "ccfg");
}

static bool nonempty_or_null(const char *s) { return s == NULL || *s != '\0'; }

static char *rootfs_has(const char *rootfs, const char *rel)
{
        char p[PATH_MAX];
        struct stat st;
        join_path(p, sizeof(p), rootfs, rel);
        return stat(p, &st) == 0 ? (char *)rel : NULL;
}

EXPORT struct nvc_container *nvc_container_new(struct nvc_context *ctx, const struct nvc_container_config *cfg,
                                               const char *opts)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0}, r = {0}, tokens = {0};
        buf_ctx(&a, ctx);
        buf_key(&a, "ccfg");
        if (cfg == NULL) {
                buf_s(&a, "null");
        } else {
                buf_s(&a, "{");
                buf_key(&a, "pid");
                buf_f(&a, "%ld", (long)cfg->pid);
                buf_key(&a, "rootfs");
                buf_json(&a, cfg->rootfs);
                buf_key(&a, "bins_dir");
                buf_json(&a, cfg->bins_dir);
                buf_key(&a, "libs_dir");
                buf_json(&a, cfg->libs_dir);
                buf_key(&a, "libs32_dir");
                buf_json(&a, cfg->libs32_dir);
                buf_key(&a, "cudart_dir");
                buf_json(&a, cfg->cudart_dir);
                buf_key(&a, "ldconfig");
                buf_json(&a, cfg->ldconfig);
                buf_s(&a, "}");
        }
        buf_key(&a, "opts");
        buf_json(&a, opts);
        struct nvc_container *cnt = NULL;
        unsigned int flags = 0;
        const char *compat = "none";
        int rv = call_check(ctx, "nvc_container_new", true);
        buf_s(&tokens, "[");
        if (rv == 0 && (cfg == NULL || cfg->pid <= 0 || cfg->rootfs == NULL || cfg->rootfs[0] != '/' ||
                        !nonempty_or_null(cfg->bins_dir) || !nonempty_or_null(cfg->libs_dir) ||
                        !nonempty_or_null(cfg->libs32_dir) || !nonempty_or_null(cfg->cudart_dir) ||
                        !nonempty_or_null(cfg->ldconfig))) {
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
        if (rv == 0 && vnum >= V(1, 17, 7)) {
                if (flags & C_COMPAT_DISABLED)
                        flags &= ~(unsigned int)(C_COMPAT_MOUNT | C_COMPAT_LDCONFIG);
                else if ((flags & C_COMPAT_MOUNT) && (flags & C_COMPAT_LDCONFIG)) {
                        set_error(ctx, "only one cuda-compat-mode can be specified at a time");
                        rv = -1;
                } else if (!(flags & (C_COMPAT_MOUNT | C_COMPAT_LDCONFIG))) {
                        const char *q = getenv("FAKE_NVC_QUIRKS");
                        if (q != NULL && strstr(q, "compat-default-wipe") && vnum == V(1, 17, 7))
                                flags = 0;
                        else
                                flags |= C_COMPAT_MOUNT;
                }
                compat = flags & C_COMPAT_DISABLED ? "disabled" : flags & C_COMPAT_LDCONFIG ? "ldconfig"
                         : flags & C_COMPAT_MOUNT ? "mount" : "none";
        } else if (rv == 0) {
                compat = flags & C_NO_CNTLIBS ? "disabled" : "mount";
        }
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
        if (rv == 0) {
                cnt = calloc(1, sizeof(*cnt));
                cnt->flags = flags;
                cnt->pid = cfg->pid;
                cnt->rootfs = strdup(cfg->rootfs);
                cnt->bins_dir = xstrdup(cfg->bins_dir ? cfg->bins_dir : "/usr/bin");
                cnt->libs_dir = xstrdup(cfg->libs_dir ? cfg->libs_dir
                                        : rootfs_has(cfg->rootfs, "/etc/debian_version") ? "/usr/lib/x86_64-linux-gnu"
                                                                                          : "/usr/lib64");
                cnt->libs32_dir = xstrdup(cfg->libs32_dir ? cfg->libs32_dir
                                          : rootfs_has(cfg->rootfs, "/etc/debian_version") ? "/usr/lib/i386-linux-gnu"
                                                                                            : "/usr/lib32");
                cnt->cudart_dir = xstrdup(cfg->cudart_dir ? cfg->cudart_dir : "/usr/local/cuda");
                cnt->ldconfig = xstrdup(cfg->ldconfig ? cfg->ldconfig
                                        : rootfs_has(cfg->rootfs, "/sbin/ldconfig.real") ? "/sbin/ldconfig.real"
                                                                                          : "/sbin/ldconfig");
                cnt->devcg = devcg;
                buf_json(&r, handle_new(cnt, "cnt"));
        } else {
                free(devcg);
        }
        buf_s(&tokens, "]");
        buf_key(&a, "flags");
        buf_s(&a, rv == 0 ? tokens.p : "[]");
        buf_key(&a, "compat_mode");
        buf_json(&a, rv == 0 ? compat : NULL);
        if (cnt != NULL) {
                buf_key(&a, "effective");
                buf_s(&a, "{");
                buf_key(&a, "libs_dir");
                buf_json(&a, cnt->libs_dir);
                buf_key(&a, "ldconfig");
                buf_json(&a, cnt->ldconfig);
                buf_key(&a, "device_cgroup");
                buf_json(&a, cnt->devcg);
                buf_key(&a, "compat_libs");
                buf_json(&a, sim.compat_libs);
                buf_s(&a, "}");
        }
        if (cnt == NULL)
                buf_s(&r, "null");
        log_call("nvc_container_new", &a, r.p, rv, ctx);
        free(r.p);
        free(tokens.p);
        pthread_mutex_unlock(&lock);
        return cnt;
}

EXPORT void nvc_container_free(struct nvc_container *cnt)
{
        pthread_mutex_lock(&lock);
        free_handle_log("nvc_container_free", cnt, "cnt");
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
        pthread_mutex_unlock(&lock);
}

/* ---------------------------------------------------------------- info */

static unsigned int driver_flags_of[1024];
static const void *driver_ptrs[1024];
static size_t ndriver_ptrs;

EXPORT struct nvc_driver_info *nvc_driver_info_new(struct nvc_context *ctx, const char *opts)
{
        pthread_mutex_lock(&lock);
        sim_load();
        struct buf a = {0}, r = {0}, tokens = {0};
        buf_ctx(&a, ctx);
        buf_key(&a, "opts");
        buf_json(&a, opts);
        unsigned int flags = 0;
        struct nvc_driver_info *drv = NULL;
        int rv = call_check(ctx, "nvc_driver_info_new", true);
        buf_s(&tokens, "[");
        if (rv == 0 && parse_opts(ctx, opts, driver_opts, &flags, &tokens) < 0)
                rv = -1;
        buf_s(&tokens, "]");
        if (rv == 0 && getenv("PATH") == NULL) {
                set_error(ctx, "environment variable PATH not found");
                rv = -1;
        }
        if (rv == 0) {
                drv = calloc(1, sizeof(*drv));
                drv->nvrm_version = strdup(sim.driver_version);
                drv->cuda_version = sim.cuda_null ? NULL : strdup(sim.cuda_version);
                drv->nbins = split_list(sim.bins, &drv->bins);
                drv->nlibs = split_list(sim.libs, &drv->libs);
                drv->nlibs32 = split_list(sim.libs32, &drv->libs32);
                drv->nipcs = split_list(sim.ipcs, &drv->ipcs);
#if FAKE_NVC_ABI >= 105
                if (!(flags & D_NO_GSP_FIRMWARE))
                        drv->nfirmwares = split_list(sim.firmwares, &drv->firmwares);
#endif
                char **devs;
                size_t n = split_list(sim.devs, &devs);
                drv->devs = calloc(n ? n : 1, sizeof(*drv->devs));
                for (size_t i = 0; i < n; ++i) {
                        char *c2 = strrchr(devs[i], ':');
                        if (c2 == NULL)
                                continue;
                        *c2 = '\0';
                        char *c1 = strrchr(devs[i], ':');
                        if (c1 == NULL)
                                continue;
                        *c1 = '\0';
                        if ((flags & D_NO_UVM) && strstr(devs[i], "nvidia-uvm"))
                                continue;
                        if ((flags & D_NO_MODESET) && strstr(devs[i], "nvidia-modeset"))
                                continue;
                        drv->devs[drv->ndevs].path = strdup(devs[i]);
                        drv->devs[drv->ndevs].id = makedev(strtoul(c1 + 1, NULL, 10), strtoul(c2 + 1, NULL, 10));
                        ++drv->ndevs;
                }
                free_list(devs, n);
                buf_json(&r, handle_new(drv, "drv"));
                if (ndriver_ptrs < 1024) {
                        driver_ptrs[ndriver_ptrs] = drv;
                        driver_flags_of[ndriver_ptrs++] = flags;
                }
        } else {
                buf_s(&r, "null");
        }
        buf_key(&a, "flags");
        buf_s(&a, rv == 0 ? tokens.p : "[]");
        log_call("nvc_driver_info_new", &a, r.p, rv, ctx);
        free(r.p);
        free(tokens.p);
        pthread_mutex_unlock(&lock);
        return drv;
}

EXPORT void nvc_driver_info_free(struct nvc_driver_info *drv)
{
        pthread_mutex_lock(&lock);
        free_handle_log("nvc_driver_info_free", drv, "drv");
        if (drv != NULL) {
                free(drv->nvrm_version);
                free(drv->cuda_version);
                free_list(drv->bins, drv->nbins);
                free_list(drv->libs, drv->nlibs);
                free_list(drv->libs32, drv->nlibs32);
                free_list(drv->ipcs, drv->nipcs);
#if FAKE_NVC_ABI >= 105
                free_list(drv->firmwares, drv->nfirmwares);
#endif
                for (size_t i = 0; i < drv->ndevs; ++i)
                        free(drv->devs[i].path);
                free(drv->devs);
                for (size_t i = 0; i < ndriver_ptrs; ++i)
                        if (driver_ptrs[i] == drv)
                                driver_ptrs[i] = NULL;
                free(drv);
        }
        pthread_mutex_unlock(&lock);
}

EXPORT struct nvc_device_info *nvc_device_info_new(struct nvc_context *ctx, const char *opts)
{
        pthread_mutex_lock(&lock);
        sim_load();
        struct buf a = {0}, r = {0};
        buf_ctx(&a, ctx);
        buf_key(&a, "opts");
        buf_json(&a, opts);
        struct nvc_device_info *info = NULL;
        int rv = call_check(ctx, "nvc_device_info_new", true);
        if (rv == 0) {
                info = calloc(1, sizeof(*info));
                info->ngpus = sim.ngpus;
                info->gpus = calloc(sim.ngpus ? sim.ngpus : 1, sizeof(*info->gpus));
                for (size_t i = 0; i < sim.ngpus; ++i) {
                        struct sim_gpu *s = &sim.gpus[i];
                        struct nvc_device *d = &info->gpus[i];
                        d->model = strdup(s->model);
                        d->uuid = strdup(s->uuid);
                        d->busid = strdup(s->busid);
                        d->arch = strdup(s->arch);
                        d->brand = strdup(s->brand);
                        if (asprintf(&d->node.path, "/dev/nvidia%u", s->minor) < 0)
                                d->node.path = NULL;
                        d->node.id = makedev(195, s->minor);
                        d->mig_capable = s->mig_capable != 0;
                        if (d->mig_capable && asprintf(&d->mig_caps_path, "/proc/driver/nvidia/capabilities/gpu%u",
                                                       s->minor) < 0)
                                d->mig_caps_path = NULL;
                        if (s->nmig > 0) {
                                d->mig_devices.ndevices = s->nmig;
                                d->mig_devices.devices = calloc(s->nmig, sizeof(struct nvc_mig_device));
                                for (size_t j = 0; j < s->nmig; ++j) {
                                        struct nvc_mig_device *m = &d->mig_devices.devices[j];
                                        m->parent = d;
                                        m->uuid = strdup(s->migs[j].uuid);
                                        m->gi = s->migs[j].gi;
                                        m->ci = s->migs[j].ci;
                                        if (asprintf(&m->gi_caps_path, "/proc/driver/nvidia/capabilities/gpu%u/mig/gi%u",
                                                     s->minor, m->gi) < 0)
                                                m->gi_caps_path = NULL;
                                        if (asprintf(&m->ci_caps_path, "%s/ci%u", m->gi_caps_path, m->ci) < 0)
                                                m->ci_caps_path = NULL;
                                }
                        }
                }
                if (nlive_infos < 256)
                        live_infos[nlive_infos++] = info;
                buf_json(&r, handle_new(info, "devinfo"));
        } else {
                buf_s(&r, "null");
        }
        log_call("nvc_device_info_new", &a, r.p, rv, ctx);
        free(r.p);
        pthread_mutex_unlock(&lock);
        return info;
}

EXPORT void nvc_device_info_free(struct nvc_device_info *info)
{
        pthread_mutex_lock(&lock);
        free_handle_log("nvc_device_info_free", info, "devinfo");
        if (info != NULL) {
                for (size_t i = 0; i < nlive_infos; ++i)
                        if (live_infos[i] == info)
                                live_infos[i] = NULL;
                for (size_t i = 0; i < info->ngpus; ++i) {
                        struct nvc_device *d = &info->gpus[i];
                        free(d->model);
                        free(d->uuid);
                        free(d->busid);
                        free(d->arch);
                        free(d->brand);
                        free(d->node.path);
                        free(d->mig_caps_path);
                        for (size_t j = 0; j < d->mig_devices.ndevices; ++j) {
                                free(d->mig_devices.devices[j].uuid);
                                free(d->mig_devices.devices[j].gi_caps_path);
                                free(d->mig_devices.devices[j].ci_caps_path);
                        }
                        free(d->mig_devices.devices);
                }
                free(info->gpus);
                free(info);
        }
        pthread_mutex_unlock(&lock);
}

/* ---------------------------------------------------------------- mounts */

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

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
        const char *b = base_name(bin);
        if (has_prefix(b, "nvidia-cuda-mps-"))
                return C_COMPUTE;
        return C_UTILITY;
}

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
        if (mounted->p && mounted->p[mounted->len - 1] != '[')
                buf_s(mounted, ", ");
        buf_json(mounted, tmp);
        if (dry_run())
                return 0;
        if (bind_file(ctx, src, dst, device) < 0)
                return -1;
        if (device && cgroup_allow(ctx, cnt, id) < 0)
                return -1;
        return 0;
}

static void mount_args(struct buf *a, struct nvc_context *ctx, const struct nvc_container *cnt)
{
        buf_ctx(a, ctx);
        buf_key(a, "cnt");
        buf_handle(a, cnt, "cnt");
}

static void finish_mount_log(const char *fn, struct buf *a, struct buf *mounted, int rv, struct nvc_context *ctx)
{
        buf_s(mounted, "]");
        buf_key(a, "mounted");
        buf_s(a, mounted->p);
        log_call_int(fn, a, rv, ctx);
        free(mounted->p);
}

/* Common check of the calls taking a container: counted, initialised context, live container. */
static int cnt_check(struct nvc_context *ctx, const struct nvc_container *cnt, const char *fn)
{
        if (call_check(ctx, fn, true) < 0)
                return -1;
        if (cnt == NULL || handle_find(cnt, "cnt") == NULL) {
                set_error(ctx, "invalid argument");
                return -1;
        }
        return 0;
}

static int mount_prologue(struct nvc_context *ctx, const struct nvc_container *cnt, const char *fn)
{
        if (cnt_check(ctx, cnt, fn) < 0)
                return -1;
        return check_threads(ctx, cnt);
}

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
                return p != NULL && handle_find(p, "drv") != NULL ? 1 : -1;
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

/* Common start of the mount calls: logs ctx, cnt and the argument into a, opens the mounted list m,
 * checks the call (mount_prologue) and then the argument. */
static int mount_begin(struct buf *a, struct buf *m, struct nvc_context *ctx, const struct nvc_container *cnt,
                       const char *fn, enum mount_arg kind, const void *p)
{
        mount_args(a, ctx, cnt);
        int usable = buf_mount_arg(a, kind, p);
        buf_s(m, "[");
        int rv = mount_prologue(ctx, cnt, fn);
        if (rv == 0 && (usable < 0 || (usable == 0 && strict()))) {
                if (usable == 0)
                        strict_violation();
                set_error(ctx, "invalid argument");
                rv = -1;
        }
        return rv;
}

EXPORT int nvc_driver_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                            const struct nvc_driver_info *drv)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0}, m = {0};
        int rv = mount_begin(&a, &m, ctx, cnt, "nvc_driver_mount", ARG_DRV, drv);
        struct nsguard g;
        if (rv == 0 && (rv = ns_enter(ctx, cnt, &g)) == 0) {
                unsigned int f = cnt->flags;
                for (size_t i = 0; rv == 0 && i < drv->nbins; ++i)
                        if (f & bin_caps(drv->bins[i]))
                                rv = mount_one(ctx, cnt, drv->bins[i], cnt->bins_dir, base_name(drv->bins[i]), false, 0, &m);
                for (size_t i = 0; rv == 0 && i < drv->nlibs; ++i)
                        if (f & lib_caps(drv->libs[i]))
                                rv = mount_one(ctx, cnt, drv->libs[i], cnt->libs_dir, base_name(drv->libs[i]), false, 0, &m);
                for (size_t i = 0; rv == 0 && (f & C_COMPAT32) && i < drv->nlibs32; ++i)
                        if (f & lib_caps(drv->libs32[i]))
                                rv = mount_one(ctx, cnt, drv->libs32[i], cnt->libs32_dir, base_name(drv->libs32[i]), false, 0, &m);
                for (size_t i = 0; rv == 0 && !(f & C_NO_DEVBIND) && i < drv->ndevs; ++i) {
                        const struct nvc_device_node *d = &drv->devs[i];
                        bool is195 = major(d->id) == 195;
                        if (strstr(d->path, "nvidia-modeset") && !(f & C_DISPLAY))
                                continue;
                        if (!is195 && !(f & (C_COMPUTE | C_VIDEO)))
                                continue;
                        rv = mount_one(ctx, cnt, d->path, NULL, d->path, true, d->id, &m);
                }
                ns_leave(ctx, &g);
        }
        finish_mount_log("nvc_driver_mount", &a, &m, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

EXPORT int nvc_device_mount(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_device *dev)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0}, m = {0};
        int rv = mount_begin(&a, &m, ctx, cnt, "nvc_device_mount", ARG_GPU, dev);
        struct nsguard g;
        if (rv == 0 && (rv = ns_enter(ctx, cnt, &g)) == 0) {
                if (!(cnt->flags & C_NO_DEVBIND))
                        rv = mount_one(ctx, cnt, dev->node.path, NULL, dev->node.path, true, dev->node.id, &m);
                else if (!dry_run())
                        rv = cgroup_allow(ctx, cnt, dev->node.id);
                ns_leave(ctx, &g);
        }
        finish_mount_log("nvc_device_mount", &a, &m, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

/* MIG, IMEX and global caps mounts are recorded only (the fake driver tree has no capability files). */
static int record_mount(struct nvc_context *ctx, const struct nvc_container *cnt, const char *fn,
                        enum mount_arg kind, const void *p)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0}, m = {0};
        int rv = mount_begin(&a, &m, ctx, cnt, fn, kind, p);
        finish_mount_log(fn, &a, &m, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

EXPORT int nvc_mig_device_access_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                            const struct nvc_mig_device *mig)
{
        return record_mount(ctx, cnt, "nvc_mig_device_access_caps_mount", ARG_MIG, mig);
}

EXPORT int nvc_mig_config_global_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        return record_mount(ctx, cnt, "nvc_mig_config_global_caps_mount", ARG_NONE, NULL);
}

EXPORT int nvc_mig_monitor_global_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        return record_mount(ctx, cnt, "nvc_mig_monitor_global_caps_mount", ARG_NONE, NULL);
}

EXPORT int nvc_device_mig_caps_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                     const struct nvc_device *dev)
{
        return record_mount(ctx, cnt, "nvc_device_mig_caps_mount", ARG_GPU, dev);
}

#if FAKE_NVC_ABI >= 115
EXPORT int nvc_imex_channel_mount(struct nvc_context *ctx, const struct nvc_container *cnt,
                                  const struct nvc_imex_channel *chan)
{
        return record_mount(ctx, cnt, "nvc_imex_channel_mount", ARG_CHAN, chan);
}
#endif

EXPORT int nvc_nvcaps_style(void)
{
        pthread_mutex_lock(&lock);
        sim_load();
        count_call("nvc_nvcaps_style");
        int style = !strcmp(sim.nvcaps_style, "dev") ? 2 : !strcmp(sim.nvcaps_style, "proc") ? 1 : 0;
        struct buf r = {0};
        ret_int(&r, style);
        log_line("nvc_nvcaps_style", NULL, r.p, NULL);
        free(r.p);
        pthread_mutex_unlock(&lock);
        return style;
}

EXPORT int nvc_nvcaps_device_from_proc_path(struct nvc_context *ctx, const char *cap_proc_path,
                                            struct nvc_device_node *out)
{
        pthread_mutex_lock(&lock);
        sim_load();
        struct buf a = {0};
        buf_ctx(&a, ctx);
        buf_key(&a, "path");
        buf_json(&a, cap_proc_path);
        int rv = call_check(ctx, "nvc_nvcaps_device_from_proc_path", false);
        if (rv == 0 && (cap_proc_path == NULL || out == NULL)) {
                set_error(ctx, "invalid argument");
                rv = -1;
        }
        if (rv == 0) {
                unsigned int h = 5381;
                for (const char *c = cap_proc_path; *c; ++c)
                        h = h * 33 + (unsigned char)*c;
                h %= 1000;
                if (asprintf(&out->path, "/dev/nvidia-caps/nvidia-cap%u", h) < 0)
                        out->path = NULL;
                out->id = makedev(sim.nvcaps_major, h);
        }
        log_call_int("nvc_nvcaps_device_from_proc_path", &a, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

/* ---------------------------------------------------------------- ldcache */

EXPORT int nvc_ldcache_update(struct nvc_context *ctx, const struct nvc_container *cnt)
{
        pthread_mutex_lock(&lock);
        struct buf a = {0};
        mount_args(&a, ctx, cnt);
        struct sigaction sa;
        sigaction(SIGCHLD, NULL, &sa);
        buf_key(&a, "sigchld");
        buf_json(&a, sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignore" : "handler");
        buf_key(&a, "threads");
        buf_f(&a, "%d", thread_count());
        int rv = cnt_check(ctx, cnt, "nvc_ldcache_update");
        if (rv == 0) {
                const char *ldconfig = cnt->ldconfig;
                bool host = ldconfig[0] == '@';
                const char *path = host ? ldconfig + 1 : ldconfig;
                char *argv[] = {(char *)path, "-f", "/etc/ld.so.conf", "-C", "/etc/ld.so.cache",
                                cnt->libs_dir, cnt->libs32_dir, NULL};
                buf_key(&a, "argv");
                buf_s(&a, "[");
                for (int i = 0; argv[i]; ++i) {
                        if (i)
                                buf_s(&a, ", ");
                        buf_json(&a, argv[i]);
                }
                buf_s(&a, "]");
                buf_key(&a, "host_binary");
                buf_s(&a, host ? "true" : "false");
                if (!dry_run()) {
                        int fd = -1;
                        if (host && (fd = open(path, O_RDONLY)) < 0) {
                                set_error(ctx, "open failed: %s: %s", path, lstrerror(errno));
                                rv = -1;
                        }
                        pid_t child = rv == 0 ? fork() : -1;
                        if (rv == 0 && child < 0) {
                                set_error(ctx, "process creation failed: %s", lstrerror(errno));
                                rv = -1;
                        } else if (child == 0) {
                                char ns[64];
                                snprintf(ns, sizeof(ns), "/proc/%ld/ns/mnt", (long)cnt->pid);
                                int nfd = open(ns, O_RDONLY);
                                if (nfd < 0 || setns(nfd, CLONE_NEWNS) < 0 || chroot(cnt->rootfs) < 0 || chdir("/") < 0)
                                        _exit(126);
                                if (setgid(0) < 0) { /* container owner is root in the tests */ }
                                if (host) {
                                        char *envp[] = {NULL};
                                        fexecve(fd, argv, envp);
                                } else {
                                        char *envp[] = {NULL};
                                        execve(path, argv, envp);
                                        if (errno == ENOENT)
                                                _exit(0); /* missing ldconfig is a success, like the real one */
                                }
                                _exit(127);
                        } else if (rv == 0) {
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
                }
        }
        log_call_int("nvc_ldcache_update", &a, rv, ctx);
        pthread_mutex_unlock(&lock);
        return rv;
}

/* ---------------------------------------------------------------- test helpers (node FAKE_NVC) */

EXPORT void fake_nvc_reset(void)
{
        pthread_mutex_lock(&lock);
        sim_loaded = false;
        memset(fn_calls, 0, sizeof(fn_calls));
        pthread_mutex_unlock(&lock);
}

static void summary_json(struct buf *b)
{
        buf_s(b, "\"live\": {");
        bool first = true;
        for (int k = 0; kinds[k]; ++k) {
                unsigned int n = 0;
                for (size_t i = 0; i < nhandles; ++i)
                        n += handles[i].live && !strcmp(handles[i].kind, kinds[k]);
                buf_f(b, "%s\"%s\": %u", first ? "" : ", ", kinds[k], n);
                first = false;
        }
        buf_s(b, "}, \"calls\": {");
        first = true;
        for (int i = 0; fn_names[i]; ++i) {
                if (fn_calls[i] == 0)
                        continue;
                buf_f(b, "%s\"%s\": %u", first ? "" : ", ", fn_names[i], fn_calls[i]);
                first = false;
        }
        buf_s(b, "}");
}

/* Returns a malloc'd JSON object {"live": {...}, "calls": {...}}; free with libc free. */
EXPORT char *fake_nvc_stats(void)
{
        pthread_mutex_lock(&lock);
        struct buf b = {0};
        buf_s(&b, "{");
        summary_json(&b);
        buf_s(&b, "}");
        pthread_mutex_unlock(&lock);
        return b.p;
}

__attribute__((destructor)) static void fake_nvc_summary(void)
{
        if (getenv("FAKE_NVC_LOG") == NULL || seq == 0)
                return;
        struct buf b = {0};
        summary_json(&b);
        log_line("__summary__", &b, NULL, NULL);
        free(b.p);
}
