/*
 * return_to values (ac_return_to) from query strings and forms, and
 * allowed_redirect_hosts entries (ac_origin_normalize). Whatever
 * comes in, what goes out must be a local path or a URL of an allowed
 * origin: anything else would be an open redirect.
 */

#include <strings.h>

#include "fuzz.h"


static void
fuzz_check_out(const char *out)
{
    size_t       i, n;
    const char  *o;

    for (i = 0; out[i] != '\0'; i++) {
        if ((unsigned char) out[i] <= 0x20 || (unsigned char) out[i] >= 0x7f
            || out[i] == '\\')
        {
            abort();
        }
    }

    if (out[0] == '/') {
        if (out[1] == '/') {
            abort();
        }

        return;
    }

    for (i = 0; i < sizeof(fuzz_allowed) / sizeof(fuzz_allowed[0]); i++) {
        o = fuzz_allowed[i];
        n = strlen(o);

        if (strncasecmp(out, o, n) == 0
            && (out[n] == '\0' || out[n] == '/' || out[n] == '?'
                || out[n] == '#' || out[n] == ':'))
        {
            return;
        }
    }

    abort();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int    rc;
    char   out[AC_RETURN_TO_MAX + 1], small[16], origin[AC_ORIGIN_MAX], *s;

    rc = ac_return_to(fuzz_config(), (const char *) data, size, out,
                      sizeof(out));
    if ((rc == AC_OK) != (size != 0 && strlen(out) == size
                          && memcmp(out, data, size) == 0))
    {
        abort();
    }

    fuzz_check_out(out);

    if (ac_return_to(fuzz_config(), (const char *) data, size, small,
                     sizeof(small))
        == AC_OK && strlen(small) >= sizeof(small))
    {
        abort();
    }

    fuzz_check_out(small);

    s = fuzz_strdup(data, size);
    if (s != NULL) {
        (void) ac_origin_normalize(s, strlen(s), origin);
        free(s);
    }

    return 0;
}
