/*
 * Passwords: argon2id PHC strings, verification, rehash on parameter
 * change, the dummy hash of unknown accounts, policy, known answers.
 */

#include <argon2.h>

#include "authcore.h"
#include "check.h"

/* Salt and hash of argon2's reference vector ("password", "somesalt"). */
#define SH  "$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"

/* Small costs keep the tests fast. */
static const ac_argon2_params_t  small = { 1, 64, 1 };


TEST(test_round_trip)
{
    char  phc[AC_PHC_MAX], phc2[AC_PHC_MAX];

    CHECK_INT(ac_password_hash(&small, "correct horse", 13, phc), AC_OK);
    CHECK(strncmp(phc, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
    CHECK(strstr(phc, "correct") == NULL);

    CHECK_INT(ac_password_verify(&small, phc, "correct horse", 13), AC_OK);

    /* A random salt: the same password hashes differently. */
    CHECK_INT(ac_password_hash(&small, "correct horse", 13, phc2), AC_OK);
    CHECK(strcmp(phc, phc2) != 0);
    CHECK_INT(ac_password_verify(&small, phc2, "correct horse", 13), AC_OK);

    /* Bytes after len are not part of the password. */
    CHECK_INT(ac_password_verify(&small, phc, "correct horse!", 13), AC_OK);
}


TEST(test_wrong_password)
{
    char  phc[AC_PHC_MAX];

    CHECK_INT(ac_password_hash(&small, "correct horse", 13, phc), AC_OK);

    CHECK_INT(ac_password_verify(&small, phc, "correct hors", 12),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, phc, "correct horse ", 14),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, phc, "Correct horse", 13),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, phc, "", 0), AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, phc, "correct horse\0x", 15),
              AC_ERR_MISMATCH);
}


TEST(test_rehash)
{
    char                phc[AC_PHC_MAX];
    ac_argon2_params_t  p;

    CHECK_INT(ac_password_hash(&small, "correct horse", 13, phc), AC_OK);

    p = small;
    p.t = 2;
    CHECK_INT(ac_password_verify(&p, phc, "correct horse", 13), AC_REHASH);
    p = small;
    p.m = 128;
    CHECK_INT(ac_password_verify(&p, phc, "correct horse", 13), AC_REHASH);
    p = small;
    p.p = 2;
    CHECK_INT(ac_password_verify(&p, phc, "correct horse", 13), AC_REHASH);

    /* Lower costs ask for a rehash too: the configuration decides. */
    CHECK_INT(ac_password_hash(&p, "correct horse", 13, phc), AC_OK);
    CHECK_INT(ac_password_verify(&small, phc, "correct horse", 13),
              AC_REHASH);

    /* A wrong password is never a rehash. */
    CHECK_INT(ac_password_verify(&small, phc, "wrong horse!", 12),
              AC_ERR_MISMATCH);
}


TEST(test_dummy)
{
    ac_argon2_params_t  bad;

    CHECK_INT(ac_password_verify(&small, NULL, "correct horse", 13),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, NULL, "", 0), AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, NULL, NULL, 0), AC_ERR_MISMATCH);

    /* The all-zero dummy hash is not the hash of any easy guess. */
    CHECK_INT(ac_password_verify(&small, NULL, "\0\0\0\0\0\0\0\0", 8),
              AC_ERR_MISMATCH);

    /* The dummy really runs argon2 with the current parameters: ones
     * that libargon2 refuses make it fail the same way a hash would. */
    bad = small;
    bad.m = 1;
    CHECK_INT(ac_password_verify(&bad, NULL, "correct horse", 13),
              AC_ERR_INVALID);
    {
        char  phc[AC_PHC_MAX];

        CHECK_INT(ac_password_hash(&bad, "correct horse", 13, phc),
                  AC_ERR_INVALID);
    }
    bad = small;
    bad.t = 0;
    CHECK_INT(ac_password_verify(&bad, NULL, "correct horse", 13),
              AC_ERR_INVALID);
}


TEST(test_malformed_phc)
{
    size_t  i;
    char    phc[AC_PHC_MAX];
    static const char  *bad[] = {
        "",
        "$argon2id$",
        "$argon2i$v=19$m=64,t=1,p=1" SH,
        "$argon2d$v=19$m=64,t=1,p=1" SH,
        "$argon2id$v=16$m=256,t=2,p=1" SH,
        "$argon2id$v=19$m=256,t=2" SH,
        "$argon2id$v=19$t=2,m=256,p=1" SH,
        "$argon2id$v=19$m=0256,t=2,p=1" SH,
        "$argon2id$v=19$m=-256,t=2,p=1" SH,
        "$argon2id$v=19$m=4294967296,t=2,p=1" SH,
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$",
        "$argon2id$v=19$m=256,t=2,p=1" SH "$",
        "$argon2id$v=19$m=256,t=2,p=1" SH "=",
        "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$"
            "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/!",
        "$argon2id$v=19$m=256,t=2,p=1$$"
            "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "$2y$10$abcdefghijklmnopqrstuuJm3vHSpSbkbk7UPX6UeyzjD2ZUjJ6H6",
        "plain text password"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (ac_password_verify(&small, bad[i], "password", 8)
            != AC_ERR_INVALID)
        {
            printf("    accepted: %s\n", bad[i]);
            check_current_failed = 1;
        }
    }

    /* Too long to be ours. */
    memset(phc, 'a', sizeof(phc) - 1);
    phc[sizeof(phc) - 1] = '\0';
    memcpy(phc, "$argon2id$v=19$m=256,t=2,p=1$", 29);
    CHECK_INT(ac_password_verify(&small, phc, "password", 8),
              AC_ERR_INVALID);
}


/* libargon2's own reference vectors (src/test.c), through our verify. */
TEST(test_known_answer_phc)
{
    ac_argon2_params_t  p = { 2, 256, 1 };
    static const char   v1[] = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$"
                               "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
    static const char   v2[] = "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$"
                               "bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";

    CHECK_INT(ac_password_verify(&p, v1, "password", 8), AC_OK);
    CHECK_INT(ac_password_verify(&p, v1, "passwore", 8), AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&p, v2, "password", 8), AC_REHASH);
    p.p = 2;
    CHECK_INT(ac_password_verify(&p, v2, "password", 8), AC_OK);

    /* One flipped character of the hash. */
    {
        char  t[sizeof(v1)];

        memcpy(t, v1, sizeof(v1));
        t[sizeof(v1) - 5] = (t[sizeof(v1) - 5] == 'A') ? 'B' : 'A';
        p.p = 1;
        CHECK_INT(ac_password_verify(&p, t, "password", 8),
                  AC_ERR_MISMATCH);
    }
}


/* RFC 9106 section 5.3: argon2id with secret and associated data. */
TEST(test_rfc9106_vector)
{
    uint8_t         out[32], pwd[32], salt[16], secret[8], ad[12];
    argon2_context  ctx;
    static const uint8_t  want[32] = {
        0x0d, 0x64, 0x0d, 0xf5, 0x8d, 0x78, 0x76, 0x6c,
        0x08, 0xc0, 0x37, 0xa3, 0x4a, 0x8b, 0x53, 0xc9,
        0xd0, 0x1e, 0xf0, 0x45, 0x2d, 0x75, 0xb6, 0x5e,
        0xb5, 0x25, 0x20, 0xe9, 0x6b, 0x01, 0xe6, 0x59
    };

    memset(pwd, 0x01, sizeof(pwd));
    memset(salt, 0x02, sizeof(salt));
    memset(secret, 0x03, sizeof(secret));
    memset(ad, 0x04, sizeof(ad));
    memset(&ctx, 0, sizeof(ctx));
    memset(out, 0, sizeof(out));

    ctx.out = out;
    ctx.outlen = sizeof(out);
    ctx.pwd = pwd;
    ctx.pwdlen = sizeof(pwd);
    ctx.salt = salt;
    ctx.saltlen = sizeof(salt);
    ctx.secret = secret;
    ctx.secretlen = sizeof(secret);
    ctx.ad = ad;
    ctx.adlen = sizeof(ad);
    ctx.t_cost = 3;
    ctx.m_cost = 32;
    ctx.lanes = 4;
    ctx.threads = 4;
    ctx.version = ARGON2_VERSION_13;
    ctx.flags = ARGON2_DEFAULT_FLAGS;

    CHECK_INT(argon2_ctx(&ctx, Argon2_id), ARGON2_OK);
    CHECK(memcmp(out, want, sizeof(want)) == 0);
}


TEST(test_policy)
{
    char  big[AC_PASSWORD_MAX + 2];

    CHECK_INT(ac_password_policy("12345678", 8), AC_OK);
    CHECK_INT(ac_password_policy("1234567", 7), AC_ERR_INVALID);
    CHECK_INT(ac_password_policy("", 0), AC_ERR_INVALID);
    CHECK_INT(ac_password_policy(NULL, 0), AC_ERR_INVALID);

    /* Characters, not bytes: seven two-byte letters are too few,
     * eight are enough. */
    CHECK_INT(ac_password_policy("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                 "\xc3\xa9\xc3\xa9", 14), AC_ERR_INVALID);
    CHECK_INT(ac_password_policy("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                 "\xc3\xa9\xc3\xa9\xc3\xa9", 16), AC_OK);

    CHECK_INT(ac_password_policy("1234\0" "5678", 9), AC_ERR_INVALID);

    memset(big, 'a', sizeof(big));
    CHECK_INT(ac_password_policy(big, AC_PASSWORD_MAX), AC_OK);
    CHECK_INT(ac_password_policy(big, AC_PASSWORD_MAX + 1), AC_ERR_INVALID);
}


TEST(test_long_passwords)
{
    char  phc[AC_PHC_MAX];
    char  big[AC_PASSWORD_MAX + 2];

    memset(big, 'a', sizeof(big));

    CHECK_INT(ac_password_hash(&small, big, AC_PASSWORD_MAX, phc), AC_OK);
    CHECK_INT(ac_password_verify(&small, phc, big, AC_PASSWORD_MAX), AC_OK);
    CHECK_INT(ac_password_hash(&small, big, AC_PASSWORD_MAX + 1, phc),
              AC_ERR_INVALID);

    /* An oversized attempt is refused at the cost of a normal one. */
    CHECK_INT(ac_password_verify(&small, phc, big, AC_PASSWORD_MAX + 1),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_password_verify(&small, NULL, big, AC_PASSWORD_MAX + 1),
              AC_ERR_MISMATCH);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        printf("ac_init failed\n");
        return 1;
    }

    RUN(test_round_trip);
    RUN(test_wrong_password);
    RUN(test_rehash);
    RUN(test_dummy);
    RUN(test_malformed_phc);
    RUN(test_known_answer_phc);
    RUN(test_rfc9106_vector);
    RUN(test_policy);
    RUN(test_long_passwords);

    ac_done();

    return CHECK_DONE();
}
