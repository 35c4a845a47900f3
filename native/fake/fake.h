/*
 * fake.h - what the parts of the fake libnvidia-container share (internal; nothing here is exported).
 *
 *   api.c      the exported nvc_* functions: validation and what each call does, one prologue/epilogue
 *   options.c  the version (FAKE_NVC_VERSION) and the option vocabularies of nvc_init/_container_new/...
 *   log.c      the JSON call log (FAKE_NVC_LOG): a string builder, handle names, call counts, summary
 *   sim.c      the simulated driver and GPUs (FAKE_NVC_CONFIG), the info structs built from them
 *   fail.c     fault injection (FAKE_NVC_FAIL) and the strict pointer checks (FAKE_NVC_STRICT)
 *   effects.c  the real system effects: setns, bind mounts, device cgroup, ldconfig (not FAKE_NVC_DRY_RUN)
 *   util.c     strings, paths, environment switches, the context error
 */
#ifndef FAKE_NVC_FAKE_H
#define FAKE_NVC_FAKE_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "nvc.h"

#ifndef FAKE_NVC_DEFAULT_ROOT
#define FAKE_NVC_DEFAULT_ROOT "/"
#endif

#define EXPORT __attribute__((visibility("default")))

/* ---------------------------------------------------------------- library objects */

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
        pid_t helpers[2];       /* FAKE_NVC_HELPERS: the forked stand-ins of the driver and nvcgo helpers */
        int helper_pipe;        /* their end of life: closed by nvc_shutdown */
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

/* Every export holds this lock for its whole duration. */
extern pthread_mutex_t fake_lock;

/* ---------------------------------------------------------------- util.c */

char *xstrdup(const char *s);
char *trim(char *s);
void copyn(char *dst, size_t n, const char *src);
const char *lstrerror(int err);
bool env_true(const char *name, bool dflt);
bool dry_run(void);
void join_path(char *out, size_t n, const char *a, const char *b);
const char *base_name(const char *p);
bool has_prefix(const char *s, const char *p);
void set_error(struct nvc_context *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- options.c */

#define V(a, b, c) ((a) * 1000000u + (b) * 1000u + (c))
#define VMAX 0xffffffffu

struct optdef { const char *name; unsigned int bits; unsigned int since; unsigned int until; };
extern const struct optdef init_opts[], container_opts[], driver_opts[];

extern struct nvc_version version;
extern unsigned int vnum;       /* V(major, minor, patch) of version */
void version_load(void);
struct buf;
int parse_opts(struct nvc_context *ctx, const char *opts, const struct optdef *defs, unsigned int *flags,
               struct buf *tokens);

/* ---------------------------------------------------------------- log.c */

struct buf { char *p; size_t len, cap; };
void buf_add(struct buf *b, const char *s, size_t n);
void buf_s(struct buf *b, const char *s);
void buf_f(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_json(struct buf *b, const char *s);
void buf_key(struct buf *b, const char *k);     /* "k": with a leading ", " unless first in its object */
void buf_item(struct buf *b);                   /* ", " unless first in its list */

const char *handle_new(const void *p, const char *kind);      /* names p "<kind>#<n>" */
bool handle_live(const void *p, const char *kind);
void handle_dead(const void *p, const char *kind);
void buf_handle(struct buf *b, const void *p, const char *kind);

void count_call(const char *fn);
unsigned int call_count(const char *fn);
void log_line(const char *fn, const struct buf *args, const char *ret_json, const char *error);

/* ---------------------------------------------------------------- fail.c */

char *fail_check(const char *fn);       /* malloc'd message when this call of fn must fail */
bool strict(void);
void strict_violation(void);

/* ---------------------------------------------------------------- sim.c */

void sim_load(void);
const char *sim_compat_libs(void);
struct nvc_driver_info *sim_driver_info(unsigned int flags);
void sim_driver_info_free(struct nvc_driver_info *drv);
struct nvc_device_info *sim_device_info(void);
void sim_device_info_free(struct nvc_device_info *info);
bool device_is_live(const struct nvc_device *d, long *index);
bool mig_is_live(const struct nvc_mig_device *m, long *gpu, long *index);

/* ---------------------------------------------------------------- effects.c */

int thread_count(void);
int check_threads(struct nvc_context *ctx, const struct nvc_container *cnt);
struct nsguard { int cwd; bool entered; };
int ns_enter(struct nvc_context *ctx, const struct nvc_container *cnt, struct nsguard *g);
void ns_leave(struct nvc_context *ctx, struct nsguard *g);
void helpers_start(struct nvc_context *ctx);
int helpers_stop(struct nvc_context *ctx);
char *find_device_cgroup(struct nvc_context *ctx, pid_t pid);
int cgroup_allow(struct nvc_context *ctx, const struct nvc_container *cnt, dev_t id);
int mount_driver(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_driver_info *drv,
                 struct buf *mounted);
int mount_device(struct nvc_context *ctx, const struct nvc_container *cnt, const struct nvc_device *dev,
                 struct buf *mounted);
int run_ldconfig(struct nvc_context *ctx, const struct nvc_container *cnt, bool host, const char *path,
                 char *const argv[]);

#endif
