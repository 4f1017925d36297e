/*
 * authcore: HOTP (RFC 4226) and TOTP (RFC 6238) with liboath, base32
 * secrets and otpauth:// enrolment URIs.
 */

#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>
#include <openssl/crypto.h>

#include "internal.h"

#define AC_TOTP_WINDOW_MAX  10

static int ac_oath_rc(int rc);
static void ac_uri_encode(ac_buf_t *b, const char *s);


static int
ac_oath_rc(int rc)
{
    switch (rc) {
    case OATH_OK:
        return AC_OK;
    case OATH_MALLOC_ERROR:
        return AC_ERR_NOMEM;
    case OATH_INVALID_DIGITS:
    case OATH_INVALID_BASE32:
    case OATH_INVALID_HEX:
    case OATH_TOO_SMALL_BUFFER:
        return AC_ERR_INVALID;
    default:
        return AC_ERR_CRYPTO;
    }
}


int
ac_totp_secret_new(unsigned char secret[AC_TOTP_SECRET_LEN])
{
    return ac_random(secret, AC_TOTP_SECRET_LEN);
}


int
ac_base32_encode(const void *in, size_t len, char *out, size_t outsize)
{
    int      rc;
    char    *enc;
    size_t   enclen;

    if ((in == NULL && len != 0) || out == NULL || outsize == 0) {
        return AC_ERR_INVALID;
    }

    out[0] = '\0';

    if (len == 0) {
        return AC_OK;
    }

    if (len > (size_t) -1 / 2 || outsize < AC_BASE32_LEN(len) + 1) {
        return AC_ERR_TOO_LONG;
    }

    rc = oath_base32_encode(in, len, &enc, &enclen);
    if (rc != OATH_OK) {
        return ac_oath_rc(rc);
    }

    if (enclen >= outsize) {
        OPENSSL_cleanse(enc, enclen);
        free(enc);
        return AC_ERR_TOO_LONG;
    }

    memcpy(out, enc, enclen);
    out[enclen] = '\0';

    OPENSSL_cleanse(enc, enclen);
    free(enc);

    return AC_OK;
}


/*
 * liboath ignores spaces and supplies missing padding, which is what a
 * secret typed or pasted by a person needs.
 */
int
ac_base32_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen)
{
    int      rc;
    char    *dec;
    size_t   declen;

    if (outlen) {
        *outlen = 0;
    }

    if ((in == NULL && len != 0) || (out == NULL && outsize != 0)) {
        return AC_ERR_INVALID;
    }

    if (len == 0) {
        return AC_OK;
    }

    dec = NULL;
    declen = 0;

    rc = oath_base32_decode(in, len, &dec, &declen);
    if (rc != OATH_OK) {
        return ac_oath_rc(rc);
    }

    if (declen > outsize) {
        rc = AC_ERR_TOO_LONG;

    } else {
        if (declen != 0) {
            memcpy(out, dec, declen);
        }

        if (outlen) {
            *outlen = declen;
        }

        rc = AC_OK;
    }

    if (dec != NULL) {
        OPENSSL_cleanse(dec, declen);
        free(dec);
    }

    return rc;
}


int
ac_hotp(const void *secret, size_t len, uint64_t counter, unsigned digits,
    char out[AC_OTP_MAX + 1])
{
    if (secret == NULL || len == 0 || out == NULL || digits < 6
        || digits > AC_OTP_MAX)
    {
        return AC_ERR_INVALID;
    }

    return ac_oath_rc(oath_hotp_generate(secret, len, counter, digits, 0,
                                         OATH_HOTP_DYNAMIC_TRUNCATION, out));
}


int
ac_totp(const void *secret, size_t len, ac_otp_hash_t hash, time_t now,
    unsigned step, unsigned digits, char out[AC_OTP_MAX + 1])
{
    int  flags;

    if (secret == NULL || len == 0 || out == NULL || step == 0 || now < 0
        || digits < 6 || digits > AC_OTP_MAX)
    {
        return AC_ERR_INVALID;
    }

    switch (hash) {
    case AC_OTP_SHA1:
        flags = 0;
        break;
    case AC_OTP_SHA256:
        flags = OATH_TOTP_HMAC_SHA256;
        break;
    case AC_OTP_SHA512:
        flags = OATH_TOTP_HMAC_SHA512;
        break;
    default:
        return AC_ERR_INVALID;
    }

    return ac_oath_rc(oath_totp_generate2(secret, len, now, step, 0, digits,
                                          flags, out));
}


/*
 * Every step of the window is computed and compared in constant time, so
 * the time taken does not tell which step matched. Of the matching steps
 * the first one after last_step is accepted; a code that matches only
 * steps at or before last_step is a replay.
 */
int
ac_totp_verify(const void *secret, size_t len, const char *code,
    size_t codelen, time_t now, unsigned window, int64_t last_step,
    int64_t *step)
{
    int       rc, replay;
    size_t    i;
    int64_t   s, now_step, found;
    char      otp[AC_OTP_MAX + 1];

    if (secret == NULL || len == 0 || code == NULL || now < 0
        || window > AC_TOTP_WINDOW_MAX)
    {
        return AC_ERR_INVALID;
    }

    if (codelen != AC_TOTP_DIGITS) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < codelen; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return AC_ERR_INVALID;
        }
    }

    now_step = (int64_t) now / AC_TOTP_STEP;
    found = -1;
    replay = 0;

    for (s = now_step - (int64_t) window; s <= now_step + (int64_t) window;
         s++)
    {
        if (s < 0) {
            continue;
        }

        rc = ac_hotp(secret, len, (uint64_t) s, AC_TOTP_DIGITS, otp);
        if (rc != AC_OK) {
            OPENSSL_cleanse(otp, sizeof(otp));
            return rc;
        }

        if (CRYPTO_memcmp(otp, code, AC_TOTP_DIGITS) == 0) {
            if (s <= last_step) {
                replay = 1;

            } else if (found < 0) {
                found = s;
            }
        }
    }

    OPENSSL_cleanse(otp, sizeof(otp));

    if (found >= 0) {
        if (step) {
            *step = found;
        }
        return AC_OK;
    }

    return replay ? AC_ERR_REPLAY : AC_ERR_MISMATCH;
}


/* RFC 3986 percent-encoding of everything but the unreserved set. */
static void
ac_uri_encode(ac_buf_t *b, const char *s)
{
    unsigned char  c;

    for ( /* void */ ; *s; s++) {
        c = (unsigned char) *s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            ac_buf_add(b, s, 1);

        } else {
            ac_buf_printf(b, "%%%02X", c);
        }
    }
}


/*
 * The label is "ISSUER:EMAIL"; authenticator apps split it at the first
 * colon, even an encoded one, so an issuer holding a colon is refused.
 * The secret goes without base32 padding, as the Key URI format asks.
 */
int
ac_otpauth_uri(const char *issuer, const char *email,
    const char *secret_b32, char **uri)
{
    int       rc;
    size_t    i, n;
    ac_buf_t  b;

    if (uri == NULL) {
        return AC_ERR_INVALID;
    }

    *uri = NULL;

    if (issuer == NULL || email == NULL || secret_b32 == NULL
        || issuer[0] == '\0' || email[0] == '\0'
        || strchr(issuer, ':') != NULL || strchr(email, ':') != NULL
        || strlen(issuer) > 256 || strlen(email) > AC_EMAIL_MAX)
    {
        return AC_ERR_INVALID;
    }

    n = strlen(secret_b32);
    while (n > 0 && secret_b32[n - 1] == '=') {
        n--;
    }

    if (n == 0) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < n; i++) {
        if (!((secret_b32[i] >= 'A' && secret_b32[i] <= 'Z')
              || (secret_b32[i] >= '2' && secret_b32[i] <= '7')))
        {
            return AC_ERR_INVALID;
        }
    }

    ac_buf_init(&b);

    ac_buf_str(&b, "otpauth://totp/");
    ac_uri_encode(&b, issuer);
    ac_buf_add(&b, ":", 1);
    ac_uri_encode(&b, email);
    ac_buf_str(&b, "?secret=");
    ac_buf_add(&b, secret_b32, n);
    ac_buf_str(&b, "&issuer=");
    ac_uri_encode(&b, issuer);
    ac_buf_printf(&b, "&algorithm=SHA1&digits=%d&period=%d", AC_TOTP_DIGITS,
                  AC_TOTP_STEP);

    rc = ac_buf_status(&b);
    if (rc != AC_OK) {
        ac_buf_free(&b);
        return rc;
    }

    if (b.cap == 0) {
        ac_buf_free(&b);
        return AC_ERR_NOMEM;
    }

    /* The caller free()s the buffer's own allocation. */
    *uri = b.data;

    return AC_OK;
}


int
ac_account_totp_check(const ac_keys_t *keys, const ac_account_t *a,
    const char *code, size_t len, time_t now, int64_t *step)
{
    int            rc;
    size_t         slen;
    unsigned char  secret[AC_TOTP_SECRET_LEN + 16];

    if (keys == NULL || a == NULL || code == NULL || step == NULL) {
        return AC_ERR_INVALID;
    }

    if (a->totp[0] == '\0') {
        return AC_ERR_NOT_FOUND;
    }

    if (ac_unseal(keys, a->totp, a->id, secret, sizeof(secret), &slen)
        != AC_OK)
    {
        return AC_ERR_KEY;
    }

    rc = ac_totp_verify(secret, slen, code, len, now, AC_TOTP_WINDOW,
                        a->totp_step, step);

    ac_cleanse(secret, sizeof(secret));

    return rc;
}


int
ac_totp_code_shape(const char *code, size_t len)
{
    size_t  i;

    if (code == NULL || len != AC_TOTP_DIGITS) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return 0;
        }
    }

    return 1;
}
