/*
 * HOTP (RFC 4226 appendix D), TOTP (RFC 6238 appendix B), verification
 * window and replays, base32 (RFC 4648), otpauth URIs.
 */

#include <stdlib.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"

static const char  seed20[] = "12345678901234567890";
static const char  seed32[] = "12345678901234567890123456789012";
static const char  seed64[] =
    "1234567890123456789012345678901234567890123456789012345678901234";


TEST(test_hotp_rfc4226)
{
    unsigned  i;
    char      otp[AC_OTP_MAX + 1];
    static const char  *want[] = {
        "755224", "287082", "359152", "969429", "338314",
        "254676", "287922", "162583", "399871", "520489"
    };

    for (i = 0; i < 10; i++) {
        CHECK_INT(ac_hotp(seed20, 20, i, 6, otp), AC_OK);
        CHECK_STR(otp, want[i]);
    }

    CHECK_INT(ac_hotp(seed20, 20, 0, 5, otp), AC_ERR_INVALID);
    CHECK_INT(ac_hotp(seed20, 20, 0, 9, otp), AC_ERR_INVALID);
    CHECK_INT(ac_hotp(seed20, 0, 0, 6, otp), AC_ERR_INVALID);
    CHECK_INT(ac_hotp(NULL, 20, 0, 6, otp), AC_ERR_INVALID);
}


TEST(test_totp_rfc6238)
{
    size_t  i;
    char    otp[AC_OTP_MAX + 1];
    static const struct {
        time_t       t;
        const char  *sha1, *sha256, *sha512;
    } vec[] = {
        { 59, "94287082", "46119246", "90693936" },
        { 1111111109, "07081804", "68084774", "25091201" },
        { 1111111111, "14050471", "67062674", "99943326" },
        { 1234567890, "89005924", "91819424", "93441116" },
        { 2000000000, "69279037", "90698825", "38618901" },
        { (time_t) 20000000000LL, "65353130", "77737706", "47863826" }
    };

    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        CHECK_INT(ac_totp(seed20, 20, AC_OTP_SHA1, vec[i].t, 30, 8, otp),
                  AC_OK);
        CHECK_STR(otp, vec[i].sha1);
        CHECK_INT(ac_totp(seed32, 32, AC_OTP_SHA256, vec[i].t, 30, 8, otp),
                  AC_OK);
        CHECK_STR(otp, vec[i].sha256);
        CHECK_INT(ac_totp(seed64, 64, AC_OTP_SHA512, vec[i].t, 30, 8, otp),
                  AC_OK);
        CHECK_STR(otp, vec[i].sha512);
    }

    /* Six digits are the last six of eight. */
    CHECK_INT(ac_totp(seed20, 20, AC_OTP_SHA1, 59, 30, 6, otp), AC_OK);
    CHECK_STR(otp, "287082");

    CHECK_INT(ac_totp(seed20, 20, AC_OTP_SHA1, 59, 0, 6, otp),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp(seed20, 20, (ac_otp_hash_t) 7, 59, 30, 6, otp),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp(seed20, 20, AC_OTP_SHA1, -1, 30, 6, otp),
              AC_ERR_INVALID);
}


static void
code_at(int64_t step, char otp[AC_OTP_MAX + 1])
{
    CHECK_INT(ac_hotp(seed20, 20, (uint64_t) step, 6, otp), AC_OK);
}


TEST(test_totp_verify_window)
{
    int64_t  now_step, step;
    time_t   now;
    char     otp[AC_OTP_MAX + 1];

    now = 1700000015;
    now_step = now / AC_TOTP_STEP;

    code_at(now_step, otp);
    step = -1;
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step), AC_OK);
    CHECK_INT(step, now_step);

    code_at(now_step - 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step), AC_OK);
    CHECK_INT(step, now_step - 1);

    code_at(now_step + 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step), AC_OK);
    CHECK_INT(step, now_step + 1);

    step = 12345;
    code_at(now_step - 2, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step),
              AC_ERR_MISMATCH);
    code_at(now_step + 2, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step),
              AC_ERR_MISMATCH);
    CHECK_INT(step, 12345);

    /* A wider window takes them; a zero window only the current step. */
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 2, 0, &step), AC_OK);
    CHECK_INT(step, now_step + 2);
    code_at(now_step + 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 0, 0, &step),
              AC_ERR_MISMATCH);

    /* Step boundaries: 29 s into a step vs. the next second. */
    now = (time_t) (now_step * AC_TOTP_STEP + 29);
    code_at(now_step - 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, 0, &step), AC_OK);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 1, 1, 0, &step),
              AC_ERR_MISMATCH);

    /* The RFC 6238 test time, with the code an app would show. */
    CHECK_INT(ac_totp_verify(seed20, 20, "081804", 6, 1111111109, 1, 0,
                             &step), AC_OK);
    CHECK_INT(step, 1111111109 / 30);
    CHECK_INT(ac_totp_verify(seed20, 20, "081805", 6, 1111111109, 1, 0,
                             &step), AC_ERR_MISMATCH);
}


TEST(test_totp_verify_replay)
{
    int64_t  now_step, step, last;
    time_t   now;
    char     otp[AC_OTP_MAX + 1];

    now = 1700000000;
    now_step = now / AC_TOTP_STEP;

    code_at(now_step, otp);
    last = 0;
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, last, &step),
              AC_OK);
    last = step;

    /* The same code again, a second later or in the next step. */
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 1, 1, last, &step),
              AC_ERR_REPLAY);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 30, 1, last, &step),
              AC_ERR_REPLAY);

    /* An older code, still inside the window, after a newer one. */
    code_at(now_step - 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now, 1, last, &step),
              AC_ERR_REPLAY);

    /* The next step's code is fine, once. */
    code_at(now_step + 1, otp);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 30, 1, last, &step),
              AC_OK);
    CHECK_INT(step, now_step + 1);
    last = step;
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 30, 1, last, &step),
              AC_ERR_REPLAY);

    /* A wrong code is a mismatch, not a replay. */
    code_at(now_step + 1, otp);
    otp[0] = (char) (otp[0] == '9' ? '0' : otp[0] + 1);
    CHECK_INT(ac_totp_verify(seed20, 20, otp, 6, now + 30, 1, last, &step),
              AC_ERR_MISMATCH);
}


TEST(test_totp_verify_malformed)
{
    int64_t  step;
    time_t   now;

    now = 1700000000;

    CHECK_INT(ac_totp_verify(seed20, 20, "12345", 5, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "1234567", 7, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "12a456", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, " 12345", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "-12345", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "12\0" "456", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "", 0, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "\xd9\xa1\xd9\xa2\xd9\xa3", 6, now,
                             1, 0, &step), AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 20, "123456", 6, now, 1000, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(seed20, 0, "123456", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
    CHECK_INT(ac_totp_verify(NULL, 20, "123456", 6, now, 1, 0, &step),
              AC_ERR_INVALID);
}


TEST(test_base32_rfc4648)
{
    size_t         i, n;
    char           enc[32];
    unsigned char  dec[32];
    static const char  *vec[][2] = {
        { "f", "MY======" }, { "fo", "MZXQ====" }, { "foo", "MZXW6===" },
        { "foob", "MZXW6YQ=" }, { "fooba", "MZXW6YTB" },
        { "foobar", "MZXW6YTBOI======" }
    };

    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        CHECK_INT(ac_base32_encode(vec[i][0], strlen(vec[i][0]), enc,
                                   sizeof(enc)), AC_OK);
        CHECK_STR(enc, vec[i][1]);
        CHECK_INT(strlen(enc), AC_BASE32_LEN(strlen(vec[i][0])));

        CHECK_INT(ac_base32_decode(vec[i][1], strlen(vec[i][1]), dec,
                                   sizeof(dec), &n), AC_OK);
        CHECK_INT(n, strlen(vec[i][0]));
        CHECK(memcmp(dec, vec[i][0], n) == 0);
    }

    CHECK_INT(ac_base32_encode("", 0, enc, sizeof(enc)), AC_OK);
    CHECK_STR(enc, "");
    CHECK_INT(ac_base32_decode("", 0, dec, sizeof(dec), &n), AC_OK);
    CHECK_INT(n, 0);
}


TEST(test_base32_round_trip)
{
    size_t         n, len;
    char           enc[AC_BASE32_LEN(AC_TOTP_SECRET_LEN) + 1];
    unsigned char  secret[AC_TOTP_SECRET_LEN], other[AC_TOTP_SECRET_LEN];
    unsigned char  dec[AC_TOTP_SECRET_LEN];

    CHECK_INT(ac_totp_secret_new(secret), AC_OK);
    CHECK_INT(ac_totp_secret_new(other), AC_OK);
    CHECK(memcmp(secret, other, sizeof(secret)) != 0);

    CHECK_INT(ac_base32_encode(secret, sizeof(secret), enc, sizeof(enc)),
              AC_OK);
    CHECK_INT(strlen(enc), 32);
    CHECK_INT(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    CHECK_INT(ac_base32_decode(enc, strlen(enc), dec, sizeof(dec), &n),
              AC_OK);
    CHECK_INT(n, sizeof(secret));
    CHECK(memcmp(dec, secret, n) == 0);

    /* Every length from 1 to 20 bytes. */
    for (len = 1; len <= sizeof(secret); len++) {
        CHECK_INT(ac_base32_encode(secret, len, enc, sizeof(enc)), AC_OK);
        CHECK_INT(ac_base32_decode(enc, strlen(enc), dec, sizeof(dec), &n),
                  AC_OK);
        CHECK_INT(n, len);
        CHECK(memcmp(dec, secret, len) == 0);
    }

    /* Room for the output and its NUL. */
    CHECK_INT(ac_base32_encode("foobar", 6, enc, 16), AC_ERR_TOO_LONG);
    CHECK_INT(ac_base32_encode("foobar", 6, enc, 17), AC_OK);
    CHECK_INT(ac_base32_decode("MZXW6YTBOI======", 16, dec, 5, &n),
              AC_ERR_TOO_LONG);
}


TEST(test_base32_invalid)
{
    size_t         n;
    unsigned char  dec[32];

    CHECK_INT(ac_base32_decode("MZXW1===", 8, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_base32_decode("MZXW8===", 8, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_base32_decode("MZ!W6===", 8, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_base32_decode("MZ\0W6===", 8, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
    CHECK_INT(ac_base32_decode("=MZXW6==", 8, dec, sizeof(dec), &n),
              AC_ERR_INVALID);
}


TEST(test_otpauth_uri)
{
    char  *uri;

    uri = NULL;
    CHECK_INT(ac_otpauth_uri("Guichet Corp", "jo+test@example.org",
                             "JBSWY3DPEHPK3PXP", &uri), AC_OK);
    CHECK_STR(uri, "otpauth://totp/Guichet%20Corp:jo%2Btest%40example.org"
              "?secret=JBSWY3DPEHPK3PXP&issuer=Guichet%20Corp"
              "&algorithm=SHA1&digits=6&period=30");
    free(uri);

    /* Padding dropped; &, #, ?, / and UTF-8 encoded. */
    uri = NULL;
    CHECK_INT(ac_otpauth_uri("A&B/C#?", "\xc3\xa9@x.fr", "MZXW6===", &uri),
              AC_OK);
    CHECK_STR(uri, "otpauth://totp/A%26B%2FC%23%3F:%C3%A9%40x.fr"
              "?secret=MZXW6&issuer=A%26B%2FC%23%3F"
              "&algorithm=SHA1&digits=6&period=30");
    free(uri);

    uri = (char *) 1;
    CHECK_INT(ac_otpauth_uri("Acme: Corp", "a@b.c", "MZXW6===", &uri),
              AC_ERR_INVALID);
    CHECK(uri == NULL);
    CHECK_INT(ac_otpauth_uri("Acme", "a@b.c", "mzxw6===", &uri),
              AC_ERR_INVALID);
    CHECK_INT(ac_otpauth_uri("Acme", "a@b.c", "MZXW6&x=1", &uri),
              AC_ERR_INVALID);
    CHECK_INT(ac_otpauth_uri("Acme", "a@b.c", "", &uri), AC_ERR_INVALID);
    CHECK_INT(ac_otpauth_uri("", "a@b.c", "MZXW6", &uri), AC_ERR_INVALID);
    CHECK_INT(ac_otpauth_uri("Acme", "", "MZXW6", &uri), AC_ERR_INVALID);
    CHECK_INT(ac_otpauth_uri(NULL, "a@b.c", "MZXW6", &uri), AC_ERR_INVALID);
    CHECK(uri == NULL);
}


/* what a second-factor field is read as: a TOTP code, else a recovery code */
TEST(test_code_shape)
{
    CHECK_INT(ac_totp_code_shape("123456", 6), 1);
    CHECK_INT(ac_totp_code_shape("12345", 5), 0);
    CHECK_INT(ac_totp_code_shape("1234567", 7), 0);
    CHECK_INT(ac_totp_code_shape("12a456", 6), 0);
    CHECK_INT(ac_totp_code_shape("abcd-efgh", 9), 0);
    CHECK_INT(ac_totp_code_shape(NULL, 6), 0);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        printf("ac_init failed\n");
        return 1;
    }

    RUN(test_hotp_rfc4226);
    RUN(test_totp_rfc6238);
    RUN(test_totp_verify_window);
    RUN(test_totp_verify_replay);
    RUN(test_totp_verify_malformed);
    RUN(test_base32_rfc4648);
    RUN(test_base32_round_trip);
    RUN(test_base32_invalid);
    RUN(test_otpauth_uri);
    RUN(test_code_shape);

    ac_done();

    return CHECK_DONE();
}
