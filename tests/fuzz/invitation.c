/*
 * Partner API invitation bodies, {"emails":[...]}, as a partner (or
 * whoever holds its key) posts them (ac_invitation_body_parse). The
 * first byte picks how many emails the caller has room for.
 */

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      rc;
    long     bad;
    char   (*emails)[AC_EMAIL_MAX + 1];
    size_t   i, max, n;

    if (size == 0) {
        return 0;
    }

    max = (data[0] & 0x80) ? AC_INVITE_EMAILS_MAX
                           : 1u + data[0] % AC_INVITE_EMAILS_MAX;

    emails = malloc(max * sizeof(*emails));
    if (emails == NULL) {
        return 0;
    }

    rc = ac_invitation_body_parse((const char *) data + 1, size - 1, emails,
                                  max, &n, &bad);

    if (rc == AC_OK) {
        if (n == 0 || n > max || bad != -1) {
            abort();
        }

        for (i = 0; i < n; i++) {
            if (strlen(emails[i]) == 0 || strlen(emails[i]) > AC_EMAIL_MAX) {
                abort();
            }
        }

    } else if (n != 0 || (rc != AC_ERR_BAD_EMAIL && bad != -1)) {
        abort();
    }

    free(emails);

    return 0;
}
