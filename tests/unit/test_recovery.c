/*
 * Recovery codes: generation, format, digests of typed codes.
 */

#include "authcore.h"
#include "internal.h"
#include "check.h"

static const char  alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";


static ac_keys_t *
keys_for(unsigned char first)
{
    unsigned char  s[AC_SECRET_MIN];
    ac_keys_t     *k;

    memset(s, first, sizeof(s));
    k = NULL;
    if (ac_keys_from_secret(s, sizeof(s), &k) != AC_OK) {
        return NULL;
    }

    return k;
}


TEST(test_generate)
{
    int         i, j;
    char        codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1];
    char        digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];
    char        d[AC_DIGEST_LEN + 1];
    ac_keys_t  *k;

    k = keys_for(1);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    CHECK_INT(ac_recovery_generate(k, codes, digests), AC_OK);

    for (i = 0; i < AC_RECOVERY_COUNT; i++) {
        CHECK_INT(strlen(codes[i]), AC_RECOVERY_CODE_LEN);
        CHECK_INT(strspn(codes[i], alphabet), 5);
        CHECK(codes[i][5] == '-');
        CHECK_INT(strspn(codes[i] + 6, alphabet), 5);
        CHECK_INT(strlen(digests[i]), AC_DIGEST_LEN);

        /* The stored digest is the digest of the code as typed. */
        CHECK_INT(ac_recovery_digest(k, codes[i], strlen(codes[i]), d),
                  AC_OK);
        CHECK_STR(d, digests[i]);

        for (j = i + 1; j < AC_RECOVERY_COUNT; j++) {
            CHECK(strcmp(codes[i], codes[j]) != 0);
            CHECK(strcmp(digests[i], digests[j]) != 0);
        }
    }

    ac_keys_free(k);
}


/* 50 random bits: over many codes every letter shows at every place. */
TEST(test_generate_uses_all_bits)
{
    int         i, j, n, all;
    char        codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1];
    char        digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];
    int         seen[AC_RECOVERY_CODE_LEN][32];
    const char *q;
    ac_keys_t  *k;

    k = keys_for(2);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    memset(seen, 0, sizeof(seen));

    for (n = 0; n < 300; n++) {
        CHECK_INT(ac_recovery_generate(k, codes, digests), AC_OK);
        for (j = 0; j < AC_RECOVERY_COUNT; j++) {
            for (i = 0; i < AC_RECOVERY_CODE_LEN; i++) {
                q = strchr(alphabet, codes[j][i]);
                if (i != 5 && q != NULL) {
                    seen[i][q - alphabet] = 1;
                }
            }
        }
    }

    all = 1;
    for (i = 0; i < AC_RECOVERY_CODE_LEN; i++) {
        for (n = 0; n < 32; n++) {
            if (i != 5) {
                all &= seen[i][n];
            }
        }
    }
    CHECK(all);

    ac_keys_free(k);
}


TEST(test_normalise)
{
    char        d1[AC_DIGEST_LEN + 1], d2[AC_DIGEST_LEN + 1];
    ac_keys_t  *k;
    size_t      i;
    static const char  *same[] = {
        "ABCDE FGHIJ", "abcdefghij", "AbCdE-fGhIj", " abcde - fghij ",
        "abcde--fghij", "a b c d e f g h i j"
    };

    k = keys_for(3);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    CHECK_INT(ac_recovery_digest(k, "abcde-fghij", 11, d1), AC_OK);

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        CHECK_INT(ac_recovery_digest(k, same[i], strlen(same[i]), d2),
                  AC_OK);
        CHECK_STR(d2, d1);
    }

    /* One letter off is another code; so is another key. */
    CHECK_INT(ac_recovery_digest(k, "abcde-fghik", 11, d2), AC_OK);
    CHECK(strcmp(d1, d2) != 0);

    ac_keys_free(k);
    k = keys_for(4);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }
    CHECK_INT(ac_recovery_digest(k, "abcde-fghij", 11, d2), AC_OK);
    CHECK(strcmp(d1, d2) != 0);

    ac_keys_free(k);
}


TEST(test_malformed)
{
    char        d[AC_DIGEST_LEN + 1];
    char        big[200];
    ac_keys_t  *k;
    size_t      i;
    static const char  *bad[] = {
        "", "abcde", "abcde-fghi", "abcde-fghijk", "abcde-fgh1j",
        "abcde-fgh0j", "abcde-fgh8j", "abcde_fghij", "abcde.fghij",
        "abcde\tfghij", "abcde-fghi\xc3\xa9", "123456", "abcde-fghij\n"
    };

    k = keys_for(5);
    CHECK(k != NULL);
    if (k == NULL) {
        return;
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ac_recovery_digest(k, bad[i], strlen(bad[i]), d)
            != AC_ERR_INVALID)
        {
            printf("    accepted: \"%s\"\n", bad[i]);
            check_current_failed = 1;
        }
    }

    CHECK_INT(ac_recovery_digest(k, "abcde\0fghij", 11, d), AC_ERR_INVALID);
    CHECK_STR(d, "");

    /* A flood of separators around a valid code. */
    memset(big, ' ', sizeof(big));
    memcpy(big + 100, "abcdefghij", 10);
    CHECK_INT(ac_recovery_digest(k, big, sizeof(big), d), AC_ERR_INVALID);

    CHECK_INT(ac_recovery_digest(NULL, "abcde-fghij", 11, d),
              AC_ERR_INVALID);

    ac_keys_free(k);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        printf("ac_init failed\n");
        return 1;
    }

    RUN(test_generate);
    RUN(test_generate_uses_all_bits);
    RUN(test_normalise);
    RUN(test_malformed);

    ac_done();

    return CHECK_DONE();
}
