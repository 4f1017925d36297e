/*
 * Email addresses as typed in forms, sent in partner assertions and
 * invitations (ac_email_normalize), and the other short strings the
 * module reads from users: recovery codes, role and amr lists.
 */

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char         out[AC_EMAIL_MAX + 1], again[AC_EMAIL_MAX + 1];
    char         digest[AC_DIGEST_LEN + 1];
    size_t       i, n;
    unsigned     bits;
    const char  *in;

    in = (const char *) data;

    memset(out, 'x', sizeof(out));
    rc = ac_email_normalize(in, size, out);

    if (rc == AC_OK) {
        n = strlen(out);

        if (n == 0 || n > AC_EMAIL_MAX || n != size
            || memchr(out, '@', n) == NULL)
        {
            abort();
        }

        for (i = 0; i < n; i++) {
            if (out[i] >= 'A' && out[i] <= 'Z') {
                abort();
            }
        }

        /* normalising is idempotent */
        if (ac_email_normalize(out, n, again) != AC_OK
            || strcmp(out, again) != 0)
        {
            abort();
        }
    }

    (void) ac_recovery_digest(fuzz_keys(), in, size, digest);
    (void) ac_roles_parse(in, size, &bits);
    (void) ac_amr_parse(in, size, &bits);

    return 0;
}
