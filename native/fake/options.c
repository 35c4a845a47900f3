/* options.c - the library version (FAKE_NVC_VERSION) and the option vocabularies it accepts. */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct optdef init_opts[] = {
        {"load-kmods", I_LOAD_KMODS, 0, VMAX},
        {"no-create-imex-channels", I_NO_CREATE_IMEX, V(1, 17, 0), VMAX},
        {NULL, 0, 0, 0},
};
const struct optdef container_opts[] = {
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
const struct optdef driver_opts[] = {
        {"no-glvnd", D_NO_GLVND, 0, VMAX},
        {"no-uvm", D_NO_UVM, 0, VMAX},
        {"no-modeset", D_NO_MODESET, 0, VMAX},
        {"no-mps", D_NO_MPS, 0, VMAX},
        {"no-persistenced", D_NO_PERSISTENCED, 0, VMAX},
        {"no-fabricmanager", D_NO_FABRICMANAGER, V(1, 4, 0), VMAX},
        {"no-gsp-firmware", D_NO_GSP_FIRMWARE, V(1, 16, 2), VMAX},
        {NULL, 0, 0, 0},
};

struct nvc_version version;
unsigned int vnum;
static char version_string[64];

/* Reads FAKE_NVC_VERSION once per load of the library (default by ABI variant). */
void version_load(void)
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

/* Parses opts against defs (tokens known to this version); on failure sets the ctx error and returns -1.
 * Appends the accepted tokens, in vocabulary order, to the JSON list tokens (may be NULL). */
int parse_opts(struct nvc_context *ctx, const char *opts, const struct optdef *defs, unsigned int *flags,
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
        bool accept_cntlibs = env_true("FAKE_NVC_ACCEPT_NO_CNTLIBS", false);
        for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                const struct optdef *d = defs;
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
                                buf_item(tokens);
                                buf_json(tokens, d->name);
                        }
                }
        }
        return rv;
}
