/*
 * log.c - the JSON call log (FAKE_NVC_LOG): one line per call, handles named "<kind>#<n>", call
 * counts, and a "__summary__" line (live handles, calls) when the library is unloaded.
 */
#include "fake.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- string builder */

void buf_add(struct buf *b, const char *s, size_t n)
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

void buf_s(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_f(struct buf *b, const char *fmt, ...)
{
        char tmp[512];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void buf_json(struct buf *b, const char *s)
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

void buf_key(struct buf *b, const char *k)
{
        if (b->len > 0 && b->p[b->len - 1] != '{' && b->p[b->len - 1] != '[')
                buf_s(b, ", ");
        buf_json(b, k);
        buf_s(b, ": ");
}

void buf_item(struct buf *b)
{
        if (b->len > 0 && b->p[b->len - 1] != '[')
                buf_s(b, ", ");
}

/* ---------------------------------------------------------------- handles */

struct handle { const void *p; char kind[12]; unsigned int n; bool live; };
static struct handle handles[4096];
static size_t nhandles;
static unsigned int kind_counter[8];
static const char *kinds[] = {"ctx", "cfg", "ccfg", "cnt", "drv", "devinfo", NULL};

const char *handle_new(const void *p, const char *kind)
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

bool handle_live(const void *p, const char *kind) { return p != NULL && handle_find(p, kind) != NULL; }

void handle_dead(const void *p, const char *kind)
{
        struct handle *h = p ? handle_find(p, kind) : NULL;
        if (h)
                h->live = false;
}

void buf_handle(struct buf *b, const void *p, const char *kind)
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

/* ---------------------------------------------------------------- call counts */

static const char *fn_names[] = {
        "nvc_version", "nvc_context_new", "nvc_context_free", "nvc_config_new", "nvc_config_free",
        "nvc_init", "nvc_shutdown", "nvc_error", "nvc_ldcache_update", "nvc_container_config_new",
        "nvc_container_config_free", "nvc_container_new", "nvc_container_free", "nvc_driver_info_new",
        "nvc_driver_info_free", "nvc_device_info_new", "nvc_device_info_free", "nvc_driver_mount",
        "nvc_device_mount", "nvc_mig_device_access_caps_mount", "nvc_mig_config_global_caps_mount",
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

void count_call(const char *fn)
{
        int idx = fn_index(fn);
        if (idx >= 0)
                ++fn_calls[idx];
}

unsigned int call_count(const char *fn)
{
        int idx = fn_index(fn);
        return idx >= 0 ? fn_calls[idx] : 0;
}

/* ---------------------------------------------------------------- log lines */

void log_line(const char *fn, const struct buf *args, const char *ret_json, const char *error)
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

__attribute__((destructor)) static void log_summary(void)
{
        if (getenv("FAKE_NVC_LOG") == NULL || seq == 0)
                return;
        struct buf b = {0};
        buf_s(&b, "\"live\": {");
        bool first = true;
        for (int k = 0; kinds[k]; ++k) {
                unsigned int n = 0;
                for (size_t i = 0; i < nhandles; ++i)
                        n += handles[i].live && !strcmp(handles[i].kind, kinds[k]);
                buf_f(&b, "%s\"%s\": %u", first ? "" : ", ", kinds[k], n);
                first = false;
        }
        buf_s(&b, "}, \"calls\": {");
        first = true;
        for (int i = 0; fn_names[i]; ++i) {
                if (fn_calls[i] == 0)
                        continue;
                buf_f(&b, "%s\"%s\": %u", first ? "" : ", ", fn_names[i], fn_calls[i]);
                first = false;
        }
        buf_s(&b, "}");
        log_line("__summary__", &b, NULL, NULL);
        free(b.p);
}
