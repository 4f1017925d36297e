/*
 * What the assertion unit tests share: partner keys made for the test
 * (ES256, RS256, HS256) and the signing of real tokens with them.
 */

#ifndef GUICHET_ASSERTION_FIXTURE_H
#define GUICHET_ASSERTION_FIXTURE_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"


#define NOW       ((time_t) 1700000000)
#define AUD       "https://gw.example.org"
#define EMAIL     "Alice.Martin@Example.ORG"

typedef enum {
    SIG_EMPTY = 0,      /* "h.p." */
    SIG_HS256,
    SIG_ES256,          /* R || S, as RFC 7518 wants */
    SIG_ES256_DER,      /* what "openssl dgst -sign" prints */
    SIG_ES256_LONG,     /* R || S and one byte more */
    SIG_RS256
} sig_t_;


static EVP_PKEY          *ec_key, *ec_other, *rsa_key, *rsa_other;
static char              *ec_pem, *rsa_pem, *ec_other_pem;
static char               hs_secret[AC_TOKEN_LEN + 1];
static ac_config_t        cfg;
static ac_partner_t       p_ec, p_rsa, p_hs;
static ac_partner_key_t  *k_ec, *k_rsa, *k_hs;


static __attribute__((unused)) char *
pub_pem(EVP_PKEY *k)
{
    BIO   *bio;
    char  *data, *out;
    long   n;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_PUBKEY(bio, k)) {
        exit(2);
    }

    n = BIO_get_mem_data(bio, &data);
    out = malloc(n + 1);
    if (out == NULL) {
        exit(2);
    }

    memcpy(out, data, n);
    out[n] = '\0';
    BIO_free(bio);

    return out;
}


static __attribute__((unused)) void
b64(ac_buf_t *b, const void *data, size_t len)
{
    char  *tmp;

    tmp = malloc(AC_B64URL_LEN(len) + 1);
    if (tmp == NULL) {
        exit(2);
    }

    ac_b64url_encode(data, len, tmp);
    ac_buf_str(b, tmp);
    free(tmp);
}


static __attribute__((unused)) size_t
sign_pkey(EVP_PKEY *k, const char *in, size_t len, unsigned char *sig,
    size_t size)
{
    size_t       n;
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    n = size;

    if (md == NULL
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1
        || EVP_DigestSign(md, sig, &n, (const unsigned char *) in, len)
           != 1)
    {
        exit(2);
    }

    EVP_MD_CTX_free(md);
    return n;
}


/* A compact JWS of the two JSON texts, signed as "how" says with key
 * (an EVP_PKEY for ES/RS, bytes for HS). malloc'd. */

static __attribute__((unused)) char *
jws(const char *header, const char *payload, sig_t_ how, const void *key,
    size_t keylen)
{
    char                *out;
    size_t               n;
    ac_buf_t             b;
    ECDSA_SIG           *es;
    unsigned int         maclen;
    unsigned char        sig[1024], raw[64];
    const BIGNUM        *r, *s;
    const unsigned char *p;

    ac_buf_init(&b);
    b64(&b, header, strlen(header));
    ac_buf_str(&b, ".");
    b64(&b, payload, strlen(payload));

    n = 0;

    switch (how) {
    case SIG_EMPTY:
        break;

    case SIG_HS256:
        if (HMAC(EVP_sha256(), key, (int) keylen,
                 (const unsigned char *) b.data, b.len, sig, &maclen)
            == NULL)
        {
            exit(2);
        }
        n = maclen;
        break;

    case SIG_RS256:
    case SIG_ES256_DER:
        n = sign_pkey((EVP_PKEY *) key, b.data, b.len, sig, sizeof(sig));
        break;

    case SIG_ES256:
    case SIG_ES256_LONG:
        n = sign_pkey((EVP_PKEY *) key, b.data, b.len, sig, sizeof(sig));
        p = sig;
        es = d2i_ECDSA_SIG(NULL, &p, (long) n);
        if (es == NULL) {
            exit(2);
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, raw, 32) != 32
            || BN_bn2binpad(s, raw + 32, 32) != 32)
        {
            exit(2);
        }
        ECDSA_SIG_free(es);
        memcpy(sig, raw, 64);
        n = 64;
        if (how == SIG_ES256_LONG) {
            sig[n++] = 0;
        }
        break;
    }

    ac_buf_str(&b, ".");
    if (n) {
        b64(&b, sig, n);
    }

    if (ac_buf_status(&b) != AC_OK) {
        exit(2);
    }

    out = strdup(b.data);
    ac_buf_free(&b);
    if (out == NULL) {
        exit(2);
    }

    return out;
}


/* SSO claims for partner "iss", with "extra" (",\"k\":v" or "")
 * appended inside the object. */

static __attribute__((unused)) void
claims(char *out, size_t size, const char *iss, long iat, long exp,
    const char *extra)
{
    snprintf(out, size, "{\"iss\":\"%s\",\"aud\":\"" AUD "\","
             "\"email\":\"" EMAIL "\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0b6f3c2e-9a41-4c55\"%s}", iss, iat, exp, extra);
}


static __attribute__((unused)) int
verify(const ac_partner_key_t *k, const char *tok, ac_assertion_kind_t kind,
    time_t now, ac_assertion_t *a)
{
    return ac_assertion_verify(&cfg, k, tok, strlen(tok), now, kind, a,
                               NULL);
}


/* Verifies and returns the reason's name ("ok" on success). */

static __attribute__((unused)) const char *
why(const ac_partner_key_t *k, const char *tok, ac_assertion_kind_t kind,
    time_t now)
{
    int             rc;
    ac_assertion_t  a;

    rc = verify(k, tok, kind, now, &a);

    if ((rc == AC_OK) != (a.reason == AC_AR_OK)) {
        return "rc and reason disagree";
    }

    if (rc != AC_OK && (a.partner[0] || a.email[0] || a.jti[0])) {
        return "failure left claims in out";
    }

    return ac_assertion_reason_name(a.reason);
}


/* An ES256 SSO token from partner "acme" with the given claims JSON. */

static __attribute__((unused)) const char *
why_es(const char *payload, time_t now)
{
    char        *t;
    const char  *r;

    t = jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload, SIG_ES256,
            ec_key, 0);
    r = why(k_ec, t, AC_ASSERTION_SSO, now);
    free(t);

    return r;
}


static __attribute__((unused)) void
setup(void)
{
    ac_error_t  err;

    ec_key = EVP_EC_gen("P-256");
    ec_other = EVP_EC_gen("P-256");
    rsa_key = EVP_RSA_gen(2048);
    rsa_other = EVP_RSA_gen(2048);

    if (ec_key == NULL || ec_other == NULL || rsa_key == NULL
        || rsa_other == NULL || ac_token_new(hs_secret) != AC_OK)
    {
        exit(2);
    }

    ec_pem = pub_pem(ec_key);
    ec_other_pem = pub_pem(ec_other);
    rsa_pem = pub_pem(rsa_key);

    memset(&cfg, 0, sizeof(cfg));
    cfg.audience = AUD;
    cfg.key_prefix = "guichet:";

    strcpy(p_ec.id, "acme");
    p_ec.alg = AC_ALG_ES256;
    p_ec.keylen = strlen(ec_pem);
    memcpy(p_ec.key, ec_pem, p_ec.keylen);

    strcpy(p_rsa.id, "rsa-corp");
    p_rsa.alg = AC_ALG_RS256;
    p_rsa.keylen = strlen(rsa_pem);
    memcpy(p_rsa.key, rsa_pem, p_rsa.keylen);

    strcpy(p_hs.id, "hs.corp");
    p_hs.alg = AC_ALG_HS256;
    p_hs.keylen = strlen(hs_secret);
    memcpy(p_hs.key, hs_secret, p_hs.keylen);

    if (ac_partner_key_new(&p_ec, &k_ec, &err) != AC_OK
        || ac_partner_key_new(&p_rsa, &k_rsa, &err) != AC_OK
        || ac_partner_key_new(&p_hs, &k_hs, &err) != AC_OK)
    {
        printf("setup: %s\n", err.msg);
        exit(2);
    }
}


static __attribute__((unused)) void
teardown(void)
{
    ac_partner_key_free(k_ec);
    ac_partner_key_free(k_rsa);
    ac_partner_key_free(k_hs);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(ec_other);
    EVP_PKEY_free(rsa_key);
    EVP_PKEY_free(rsa_other);
    free(ec_pem);
    free(ec_other_pem);
    free(rsa_pem);
    ac_done();
}

#endif /* GUICHET_ASSERTION_FIXTURE_H */
