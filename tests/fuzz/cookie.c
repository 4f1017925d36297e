/*
 * Cookie request headers (ac_cookie_get), as any client may send them:
 * the module reads its session, pending-2FA and CSRF cookies from them.
 */

#include "fuzz.h"


static const char  *fuzz_cookie_names[] = {
    "__Host-guichet", "guichet", "__Host-guichet_2fa", "guichet_csrf", "a",
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      rc;
    char     out[AC_COOKIE_VALUE_MAX + 1];
    size_t   i, outsize, outlen;

    if (size == 0) {
        return 0;
    }

    outsize = (data[0] & 0x80) ? sizeof(out) : 1u + data[0] % 48;

    for (i = 0;
         i < sizeof(fuzz_cookie_names) / sizeof(fuzz_cookie_names[0]);
         i++)
    {
        outlen = (size_t) -1;
        rc = ac_cookie_get((const char *) data + 1, size - 1,
                           fuzz_cookie_names[i], out, outsize, &outlen);

        if (rc == AC_OK) {
            if (outlen == 0 || outlen >= outsize || outlen
                > AC_COOKIE_VALUE_MAX || out[outlen] != '\0'
                || memchr(out, ';', outlen) != NULL)
            {
                abort();
            }
        }
    }

    return 0;
}
