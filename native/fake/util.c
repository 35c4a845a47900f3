/* util.c - strings, paths, environment switches and the context error of the fake libnvidia-container. */
#include "fake.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                ++s;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

void copyn(char *dst, size_t n, const char *src)
{
        snprintf(dst, n, "%s", src);
}

/* strerror with a lower-case first letter, as the real library words its errors. */
const char *lstrerror(int err)
{
        static __thread char tmp[128];
        copyn(tmp, sizeof(tmp), strerror(err));
        tmp[0] = (char)tolower((unsigned char)tmp[0]);
        return tmp;
}

bool env_true(const char *name, bool dflt)
{
        const char *v = getenv(name);
        if (v == NULL || *v == '\0')
                return dflt;
        return strcmp(v, "0") != 0;
}

bool dry_run(void) { return env_true("FAKE_NVC_DRY_RUN", false); }

void join_path(char *out, size_t n, const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                --la;
        while (*b == '/')
                ++b;
        snprintf(out, n, "%.*s/%s", (int)la, a, b);
}

const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

void set_error(struct nvc_context *ctx, const char *fmt, ...)
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
