/*
 * application/x-www-form-urlencoded bodies (ac_form_get): the login,
 * 2FA, account and admin forms of the module, as a browser or an
 * attacker sends them. The first byte picks the output size, the rest
 * is the body, read for every field name the module asks for.
 */

#include "fuzz.h"


static const char  *fuzz_form_names[] = {
    "email", "password", "code", "csrf", "return_to", "new_password",
    "%", "a+b",
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char         out[AC_PASSWORD_MAX + 2];
    size_t       i, outsize, outlen;
    const char  *body;

    if (size == 0) {
        return 0;
    }

    outsize = 1 + data[0] % 64;
    if (data[0] & 0x80) {
        outsize = sizeof(out);
    }

    body = (const char *) data + 1;
    size--;

    for (i = 0; i < sizeof(fuzz_form_names) / sizeof(fuzz_form_names[0]);
         i++)
    {
        outlen = (size_t) -1;
        rc = ac_form_get(body, size, fuzz_form_names[i], out, outsize,
                         &outlen);

        if (rc == AC_OK) {
            if (outlen >= outsize || out[outlen] != '\0'
                || memchr(out, '\0', outlen) != NULL)
            {
                abort();
            }

        } else if (out[0] != '\0' || outlen != 0) {
            abort();
        }
    }

    return 0;
}
