/*
 * authcore: one-time recovery codes, "abcde-fghij" (50 random bits in
 * lower-case base32), stored only as keyed digests.
 */

#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

#define AC_RECOVERY_CHARS   10
#define AC_RECOVERY_TYPED   64      /* bytes a typed code may take */

static int ac_base32_lower_value(int c);


static int
ac_base32_lower_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        c |= 0x20;
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }

    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }

    return -1;
}


int
ac_recovery_generate(const ac_keys_t *keys,
    char codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1],
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1])
{
    int            rc;
    size_t         i, j, k;
    uint64_t       v;
    unsigned char  raw[AC_RECOVERY_COUNT][8];

    if (keys == NULL || codes == NULL || digests == NULL) {
        return AC_ERR_INVALID;
    }

    rc = ac_random(raw, sizeof(raw));
    if (rc != AC_OK) {
        return rc;
    }

    for (i = 0; i < AC_RECOVERY_COUNT; i++) {
        v = 0;
        for (j = 0; j < 8; j++) {
            v = v << 8 | raw[i][j];
        }

        /* Ten 5-bit groups: 50 of the 64 random bits. */
        for (j = 0, k = 0; j < AC_RECOVERY_CHARS; j++) {
            if (j == AC_RECOVERY_CHARS / 2) {
                codes[i][k++] = '-';
            }
            codes[i][k++] = ac_base32_lower[v & 31];
            v >>= 5;
        }

        codes[i][k] = '\0';

        rc = ac_digest(keys, AC_PURPOSE_RECOVERY, codes[i],
                       AC_RECOVERY_CODE_LEN, digests[i]);
        if (rc != AC_OK) {
            goto failed;
        }
    }

    OPENSSL_cleanse(raw, sizeof(raw));

    return AC_OK;

failed:

    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(codes, sizeof(codes[0]) * AC_RECOVERY_COUNT);

    return rc;
}


int
ac_recovery_digest(const ac_keys_t *keys, const char *code, size_t len,
    char digest[AC_DIGEST_LEN + 1])
{
    int     rc, v;
    size_t  i, k, n;
    char    norm[AC_RECOVERY_CODE_LEN + 1];

    if (keys == NULL || code == NULL || digest == NULL) {
        return AC_ERR_INVALID;
    }

    digest[0] = '\0';

    if (len > AC_RECOVERY_TYPED) {
        return AC_ERR_INVALID;
    }

    n = 0;
    k = 0;

    for (i = 0; i < len; i++) {
        if (code[i] == ' ' || code[i] == '-') {
            continue;
        }

        v = ac_base32_lower_value((unsigned char) code[i]);

        if (v < 0 || n == AC_RECOVERY_CHARS) {
            rc = AC_ERR_INVALID;
            goto done;
        }

        if (n == AC_RECOVERY_CHARS / 2) {
            norm[k++] = '-';
        }

        norm[k++] = ac_base32_lower[v];
        n++;
    }

    if (n != AC_RECOVERY_CHARS) {
        rc = AC_ERR_INVALID;
        goto done;
    }

    norm[AC_RECOVERY_CODE_LEN] = '\0';

    rc = ac_digest(keys, AC_PURPOSE_RECOVERY, norm, AC_RECOVERY_CODE_LEN,
                   digest);

done:

    OPENSSL_cleanse(norm, sizeof(norm));

    return rc;
}
