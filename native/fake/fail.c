/*
 * fail.c - fault injection (FAKE_NVC_FAIL) and the strict checks of caller-supplied pointers
 * (FAKE_NVC_STRICT).
 */
#include "fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FAKE_NVC_FAIL is a comma list of fn[@N][=message]: returns the malloc'd message when the current call
 * (the call_count(fn)-th) of fn must fail, else NULL. */
char *fail_check(const char *fn)
{
        unsigned int n = call_count(fn);
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

/* FAKE_NVC_STRICT=1|abort: a device/MIG pointer from no live nvc_device_info is refused. */
bool strict(void)
{
        const char *v = getenv("FAKE_NVC_STRICT");
        return v != NULL && (!strcmp(v, "1") || !strcmp(v, "abort"));
}

void strict_violation(void)
{
        const char *v = getenv("FAKE_NVC_STRICT");
        if (v != NULL && !strcmp(v, "abort"))
                abort();
}
