/*
 * fake_cli.c - a stand-in for nvidia-container-cli for bench/injector.py: it takes the argv the hook
 * renders (Plan.cli_args) and makes the same libnvidia-container calls as the CLI's configure, through
 * the fake library it is linked with, so that the CLI path of the benchmark pays what the real one pays
 * on top of the library's own work: the exec, the dynamic loading of the library, the argv parsing.
 * A benchmark tool, not a CLI: devices are "all" or GPU indices, requirements are not evaluated, errors
 * are reported as "fake-cli: <call> failed" (exit 1).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvc.h"

static int fail(struct nvc_context *ctx, const char *call)
{
        const char *err = ctx ? nvc_error(ctx) : NULL;
        fprintf(stderr, "fake-cli: %s failed: %s\n", call, err ? err : "unknown error");
        return 1;
}

static const char *value(const char *arg, const char *name)
{
        size_t n = strlen(name);
        return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv)
{
        char init_opts[256] = "", cnt_opts[256] = "", *devices = NULL;
        const char *root = NULL, *ldcache = NULL, *ldconfig = NULL, *rootfs = NULL, *v;
        pid_t pid = 0;
        for (int i = 1; i < argc; ++i) {
                const char *a = argv[i];
                if (!strcmp(a, "configure"))
                        continue;
                if ((v = value(a, "--root")))
                        root = v;
                else if ((v = value(a, "--ldcache")))
                        ldcache = v;
                else if ((v = value(a, "--ldconfig")))
                        ldconfig = v;
                else if ((v = value(a, "--device")))
                        devices = strdup(v);
                else if ((v = value(a, "--pid")))
                        pid = (pid_t)atol(v);
                else if ((v = value(a, "--cuda-compat-mode")))
                        snprintf(cnt_opts + strlen(cnt_opts), sizeof(cnt_opts) - strlen(cnt_opts),
                                 "cuda-compat-mode=%s ", v);
                else if (!strcmp(a, "--load-kmods") || !strcmp(a, "--no-create-imex-channels"))
                        snprintf(init_opts + strlen(init_opts), sizeof(init_opts) - strlen(init_opts), "%s%s",
                                 *init_opts ? " " : "", a + 2);
                else if (!strncmp(a, "--require=", 10) || !strncmp(a, "--debug=", 8) || !strncmp(a, "--user", 6))
                        continue;
                else if (!strncmp(a, "--", 2))  /* --no-cgroups and the capabilities */
                        snprintf(cnt_opts + strlen(cnt_opts), sizeof(cnt_opts) - strlen(cnt_opts), "%s ", a + 2);
                else
                        rootfs = a;
        }
        strncat(cnt_opts, "supervised", sizeof(cnt_opts) - strlen(cnt_opts) - 1);

        int rv = 1;
        struct nvc_context *ctx = nvc_context_new();
        struct nvc_config *cfg = nvc_config_new();
        struct nvc_container_config *ccfg = nvc_container_config_new(pid, rootfs);
        struct nvc_container *cnt = NULL;
        struct nvc_driver_info *drv = NULL;
        struct nvc_device_info *dev = NULL;
        if (ctx == NULL || cfg == NULL || ccfg == NULL) {
                fail(NULL, "allocation");
                goto out;
        }
        cfg->root = (char *)root;
        cfg->ldcache = (char *)ldcache;
        if (nvc_init(ctx, cfg, init_opts) < 0) {
                fail(ctx, "nvc_init");
                goto out;
        }
        ccfg->ldconfig = (char *)ldconfig;
        if ((cnt = nvc_container_new(ctx, ccfg, cnt_opts)) == NULL) {
                fail(ctx, "nvc_container_new");
                goto out;
        }
        if ((drv = nvc_driver_info_new(ctx, NULL)) == NULL || (dev = nvc_device_info_new(ctx, NULL)) == NULL) {
                fail(ctx, "info");
                goto out;
        }
        if (nvc_driver_mount(ctx, cnt, drv) < 0) {
                fail(ctx, "nvc_driver_mount");
                goto out;
        }
        for (char *save = NULL, *tok = devices ? strtok_r(devices, ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
                size_t first = 0, last = dev->ngpus;
                if (strcmp(tok, "all") != 0) {
                        first = strtoul(tok, NULL, 10);
                        last = first + 1 <= dev->ngpus ? first + 1 : first;
                }
                for (size_t i = first; i < last; ++i)
                        if (nvc_device_mount(ctx, cnt, &dev->gpus[i]) < 0) {
                                fail(ctx, "nvc_device_mount");
                                goto out;
                        }
        }
        if (nvc_ldcache_update(ctx, cnt) < 0) {
                fail(ctx, "nvc_ldcache_update");
                goto out;
        }
        rv = 0;
out:
        if (ctx != NULL)
                nvc_shutdown(ctx);
        nvc_container_free(cnt);
        nvc_device_info_free(dev);
        nvc_driver_info_free(drv);
        nvc_container_config_free(ccfg);
        nvc_config_free(cfg);
        nvc_context_free(ctx);
        free(devices);
        return rv;
}
