/*
 * Partner assertions: real ES256, RS256 and HS256 tokens are signed here
 * with OpenSSL keys made for the test, then every way a partner, a
 * careless integrator or an attacker could bend one is tried. The replay
 * guard runs against a real redis-server.
 */

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
#include "redis_fixture.h"


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


static char *
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


static void
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


static size_t
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

static char *
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

static void
claims(char *out, size_t size, const char *iss, long iat, long exp,
    const char *extra)
{
    snprintf(out, size, "{\"iss\":\"%s\",\"aud\":\"" AUD "\","
             "\"email\":\"" EMAIL "\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0b6f3c2e-9a41-4c55\"%s}", iss, iat, exp, extra);
}


static int
verify(const ac_partner_key_t *k, const char *tok, ac_assertion_kind_t kind,
    time_t now, ac_assertion_t *a)
{
    return ac_assertion_verify(&cfg, k, tok, strlen(tok), now, kind, a,
                               NULL);
}


/* Verifies and returns the reason's name ("ok" on success). */

static const char *
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

static const char *
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


static void
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


TEST(test_valid_es256_rs256_hs256)
{
    char            pl[512], *t;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW - 10, NOW + 110, "");
    t = jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "acme");
    CHECK_STR(a.email, "alice.martin@example.org");
    CHECK_STR(a.jti, "0b6f3c2e-9a41-4c55");
    CHECK_INT(a.exp, NOW + 110);
    CHECK_INT(a.iat, NOW - 10);
    CHECK_INT(a.kind, AC_ASSERTION_SSO);
    CHECK_STR(ac_assertion_reason_name(a.reason), "ok");
    free(t);

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 300, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_INT(verify(k_rsa, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "rsa-corp");
    CHECK_STR(a.email, "alice.martin@example.org");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60,
           ",\"nbf\":1699999990");
    t = jws("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"2024-1\"}", pl,
            SIG_HS256, hs_secret, strlen(hs_secret));
    CHECK_INT(verify(k_hs, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "hs.corp");
    free(t);
}


TEST(test_peek_issuer)
{
    char                   pl[512], iss[AC_PARTNER_ID_MAX + 1], *t;
    ac_assertion_reason_t  r;

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r), AC_OK);
    CHECK_STR(iss, "rsa-corp");
    CHECK_INT(r, AC_AR_OK);
    free(t);

    /* not an id any partner can have: no lookup with it */
    claims(pl, sizeof(pl), "../Acme Corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r),
              AC_ERR_MISMATCH);
    CHECK_STR(ac_assertion_reason_name(r), "unknown_partner");
    CHECK_STR(iss, "");
    free(t);

    t = jws("{\"alg\":\"ES256\"}", "{\"aud\":\"" AUD "\"}", SIG_ES256,
            ec_key, 0);
    CHECK(ac_assertion_peek_issuer(t, strlen(t), iss, &r) != AC_OK);
    CHECK_STR(ac_assertion_reason_name(r), "missing_claim");
    free(t);

    t = jws("{\"alg\":\"ES256\"}", "{\"iss\":42}", SIG_ES256, ec_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r),
              AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(r), "malformed");
    free(t);

    CHECK_INT(ac_assertion_peek_issuer("a.b", 3, iss, &r), AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(r), "malformed");

    /* no partner found by the caller: verify says so too */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(NULL, t, AC_ASSERTION_SSO, NOW), "unknown_partner");
    free(t);
}


TEST(test_alg_none)
{
    char  pl[512], *t, *t2;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    t = jws("{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, SIG_EMPTY, NULL, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_none");
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    /* with a signature segment: still none */
    t = jws("{\"alg\":\"none\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    t = jws("{\"alg\":\"NoNe\"}", pl, SIG_EMPTY, NULL, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    /* a real token whose signature was cut off */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    t2 = strdup(t);
    CHECK(t2 != NULL);
    if (t2 != NULL) {
        *(strrchr(t2, '.') + 1) = '\0';
        CHECK_STR(why(k_ec, t2, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(t2);
    }
    free(t);

    /* no alg at all, or not a string */
    t = jws("{\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
    free(t);

    t = jws("{\"alg\":null}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
    free(t);
}


TEST(test_hmac_with_public_key_pem)
{
    char  pl[512], *t;

    /* the classic confusion: the partner's public key as HMAC secret */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, rsa_pem, strlen(rsa_pem));
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, ec_pem, strlen(ec_pem));
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* and such a partner cannot even be registered */
    {
        ac_partner_t       p;
        ac_partner_key_t  *k;

        p = p_hs;
        p.keylen = strlen(ec_pem);
        memcpy(p.key, ec_pem, p.keylen);
        k = NULL;
        CHECK_INT(ac_partner_key_new(&p, &k, NULL), AC_ERR_KEY);
        CHECK(k == NULL);
    }
}


TEST(test_alg_swapped)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* header says ES256, signed with RS256: the pinned alg runs, fails */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* algorithms we never take, and case matters */
    t = jws("{\"alg\":\"HS512\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    t = jws("{\"alg\":\"hs256\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);
}


TEST(test_wrong_key)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_other, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_other, 0);
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, "another secret of 32 "
            "bytes or more!!", 35);
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);
}


TEST(test_tampered_payload)
{
    char    pl[512], pl2[512], *t, *t2, *t3, *dot;
    size_t  n;

    /* same signature, payload of another email */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    snprintf(pl2, sizeof(pl2), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"admin@example.org\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0b6f3c2e-9a41-4c55\"}", (long) NOW, (long) NOW + 60);
    t2 = jws("{\"alg\":\"ES256\"}", pl2, SIG_EMPTY, NULL, 0);
    dot = strrchr(t, '.');
    n = strlen(t2);
    t3 = realloc(t2, n + strlen(dot) + 1);
    CHECK(t3 != NULL);
    if (t3 == NULL) {
        free(t2);
    }
    t2 = t3;
    if (t2 != NULL) {
        strcpy(t2 + n - 1, dot);
        CHECK_STR(why(k_ec, t2, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(t2);
    }
    free(t);
}


TEST(test_times)
{
    char  pl[512], extra[64];

    /* expired, and the 60 s skew */
    claims(pl, sizeof(pl), "acme", NOW - 300, NOW - 60, "");
    CHECK_STR(why_es(pl, NOW), "expired");
    claims(pl, sizeof(pl), "acme", NOW - 300, NOW - 59, "");
    CHECK_STR(why_es(pl, NOW), "ok");
    claims(pl, sizeof(pl), "acme", NOW - 100, NOW - 1, "");
    CHECK_STR(why_es(pl, NOW), "ok");

    /* nbf in the future, and within the skew */
    snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long) NOW + 61);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 200, extra);
    CHECK_STR(why_es(pl, NOW), "not_yet_valid");
    snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long) NOW + 60);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 200, extra);
    CHECK_STR(why_es(pl, NOW), "ok");

    /* lifetime */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 301, "");
    CHECK_STR(why_es(pl, NOW), "lifetime_too_long");
    claims(pl, sizeof(pl), "acme", NOW, NOW + 300, "");
    CHECK_STR(why_es(pl, NOW), "ok");
    claims(pl, sizeof(pl), "acme", NOW - 86400, NOW + 86400, "");
    CHECK_STR(why_es(pl, NOW), "lifetime_too_long");

    /* issued in the future */
    claims(pl, sizeof(pl), "acme", NOW + 3600, NOW + 3700, "");
    CHECK_STR(why_es(pl, NOW), "issued_in_future");
    claims(pl, sizeof(pl), "acme", NOW + 61, NOW + 100, "");
    CHECK_STR(why_es(pl, NOW), "issued_in_future");
    claims(pl, sizeof(pl), "acme", NOW + 60, NOW + 100, "");
    CHECK_STR(why_es(pl, NOW), "ok");

    /* exp before iat, times that are not integers, huge times */
    claims(pl, sizeof(pl), "acme", NOW + 10, NOW + 5, "");
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld.5,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":\"%ld\","
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":-9223372036854775807,"
             "\"exp\":9223372036854775807,\"jti\":\"0123456789\"}");
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,"
             "\"exp\":99999999999999999999999,\"jti\":\"0123456789\"}",
             (long) NOW);
    CHECK_STR(why_es(pl, NOW), "malformed");
}


TEST(test_audience)
{
    char  pl[512];

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"https://other"
             ".example\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* arrays are refused, even one element equal to the audience */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":[\"" AUD "\"],"
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* a prefix, a longer string, another case */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "x\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"https://gw\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"HTTPS://GW."
             "EXAMPLE.ORG\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* a partner API token is no SSO assertion */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":null,"
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");
}


TEST(test_issuer)
{
    char  pl[512], *t;

    /* signed by acme's key but naming another partner */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    CHECK_STR(why_es(pl, NOW), "wrong_issuer");

    /* a token of acme presented with rsa-corp's key */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "wrong_issuer");
    free(t);

    claims(pl, sizeof(pl), "ACME", NOW, NOW + 60, "");
    CHECK_STR(why_es(pl, NOW), "unknown_partner");
}


TEST(test_extra_claims)
{
    size_t       i;
    char         pl[512];
    const char  *extra[] = {
        ",\"name\":\"Alice Martin\"",
        ",\"sub\":\"12345\"",
        ",\"phone_number\":\"+33 6 12 34 56 78\"",
        ",\"groups\":[\"finance\"]",
        ",\"email_verified\":true",
        ",\"Email\":\"x@y.fr\"",
        ",\"\":1"
    };

    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        claims(pl, sizeof(pl), "acme", NOW, NOW + 60, extra[i]);
        CHECK_STR(why_es(pl, NOW), "extra_claims");
    }
}


TEST(test_missing_claims)
{
    char         pl[512], *p, *q;
    size_t       i;
    const char  *names[] = { "\"aud\"", "\"email\"", "\"iat\"", "\"exp\"",
                             "\"jti\"" };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

        /* rename the claim to an allowed one already absent: nbf */
        p = strstr(pl, names[i]);
        CHECK(p != NULL);
        if (p == NULL) {
            continue;
        }

        q = strchr(p, ':');
        memmove(p + 5, q, strlen(q) + 1);
        memcpy(p, "\"nbf\"", 5);

        /* presence is checked before the types of the values */
        CHECK_STR(why_es(pl, NOW), "missing_claim");
    }
}


TEST(test_extra_header_fields)
{
    size_t       i;
    char         pl[512], *t;
    const char  *headers[] = {
        "{\"alg\":\"ES256\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"ES256\",\"x5u\":\"https://evil.example/c.pem\"}",
        "{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}",
        "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"ES256\",\"x5c\":[\"MIIB\"]}",
        "{\"alg\":\"ES256\",\"typ\":\"JOSE+JSON\"}",
        "{\"alg\":\"ES256\",\"typ\":1}",
        "{\"alg\":\"ES256\",\"kid\":[\"a\"]}",
    };

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        t = jws(headers[i], pl, SIG_ES256, ec_key, 0);
        CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
        free(t);
    }
}


TEST(test_duplicate_keys)
{
    char            pl[600], *t;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    t = jws("{\"alg\":\"ES256\",\"alg\":\"none\"}", pl, SIG_ES256, ec_key,
            0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_SSO, NOW, &a), AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(a.reason), "malformed");
    free(t);

    t = jws("{\"alg\":\"none\",\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key,
            0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);

    /* two emails: which one would a reader see? refuse */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60,
           ",\"email\":\"admin@example.org\"");
    CHECK_STR(why_es(pl, NOW), "malformed");

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, ",\"exp\":4000000000");
    CHECK_STR(why_es(pl, NOW), "malformed");

    /* the same key written with an escape is still the same key */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60,
           ",\"\\u0065mail\":\"admin@example.org\"");
    CHECK_STR(why_es(pl, NOW), "malformed");
}


TEST(test_size_and_encoding)
{
    char            pl[512], *t, *big, *bad, *p;
    size_t          n, i;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    n = strlen(t);

    /* oversized */
    big = malloc(AC_ASSERTION_MAX + 2);
    CHECK(big != NULL);
    if (big != NULL) {
        memset(big, 'A', AC_ASSERTION_MAX + 1);
        memcpy(big, t, n);
        big[AC_ASSERTION_MAX + 1] = '\0';
        CHECK_INT(verify(k_ec, big, AC_ASSERTION_SSO, NOW, &a),
                  AC_ERR_INVALID);
        CHECK_STR(ac_assertion_reason_name(a.reason), "too_large");

        /* at the limit it is read, and the longer signature fails */
        big[AC_ASSERTION_MAX] = '\0';
        CHECK_STR(why(k_ec, big, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(big);
    }

    bad = malloc(n + 8);
    CHECK(bad != NULL);
    if (bad == NULL) {
        free(t);
        return;
    }

    /* truncated anywhere: never accepted */
    for (i = 0; i < n; i += 7) {
        memcpy(bad, t, i);
        bad[i] = '\0';
        CHECK(strcmp(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "ok") != 0);
    }

    /* two segments, four segments, empty */
    memcpy(bad, t, n + 1);
    *strrchr(bad, '.') = '\0';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    strcat(bad, ".e30");
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    CHECK_STR(why(k_ec, "", AC_ASSERTION_SSO, NOW), "malformed");
    CHECK_STR(why(k_ec, "..", AC_ASSERTION_SSO, NOW), "malformed");

    /* padding, standard base64 characters, spaces */
    memcpy(bad, t, n + 1);
    strcat(bad, "=");
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    bad[3] = '+';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    bad[n - 2] = '/';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, " ", 2);
    strcat(bad, t);
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    /* header padded with '=': {"alg":"ES256"} is 15 bytes -> 1 pad */
    free(t);
    t = jws("{\"alg\":\"ES256\" }", pl, SIG_ES256, ec_key, 0);
    n = strlen(t);
    p = realloc(bad, n + 8);
    CHECK(p != NULL);
    if (p == NULL) {
        free(bad);
        free(t);
        return;
    }
    bad = p;
    memcpy(bad, t, strchr(t, '.') - t);
    strcpy(bad + (strchr(t, '.') - t), "=");
    strcat(bad, strchr(t, '.'));
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    /* the NUL byte ends nothing: the length says where the token ends */
    memcpy(bad, t, n + 1);
    bad[5] = '\0';
    CHECK_INT(ac_assertion_verify(&cfg, k_ec, bad, n, NOW, AC_ASSERTION_SSO,
                                  &a, NULL), AC_ERR_INVALID);

    /* not JSON, not an object, JSON with a NUL in a string */
    free(t);
    t = jws("[\"alg\",\"ES256\"]", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    t = jws("{\"alg\":\"ES256\"", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    t = jws("{\"alg\":\"ES256\"}", "\"acme\"", SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    memcpy(strstr(pl, "Alice"), "\\u0000", 6);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);

    free(bad);
}


TEST(test_emails)
{
    char         pl[1024], email[300];
    size_t       i;
    const char  *bad[] = {
        "alice@example.org\\r\\nBcc: eve@evil.example",
        "alice@example.org\\n",
        "alice@@example.org",
        "alice@example@org",
        "alice",
        "@example.org",
        "alice@",
        "alice martin@example.org",
        "<alice@example.org>",
        "",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
                 "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
                 "\"jti\":\"0123456789\"}", bad[i], (long) NOW,
                 (long) NOW + 60);
        CHECK_STR(why_es(pl, NOW), "bad_email");
    }

    /* 255 bytes refused, 254 accepted */
    memset(email, 'a', sizeof(email));
    memcpy(email + 255 - 12, "@example.org", 13);
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", email, (long) NOW, (long) NOW + 60);
    CHECK_INT(strlen(email), 255);
    CHECK_STR(why_es(pl, NOW), "bad_email");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", email + 1, (long) NOW,
             (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "ok");

    /* not a string */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":[\"a@b.fr\"],\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "bad_email");
}


TEST(test_jti_shape)
{
    char         pl[512];
    size_t       i;
    char         long_jti[140];
    const char  *bad[] = { "\"short\"", "\"has space 123\"", "12345678",
                           "\"tab\\there99\"", "\"\"", "null", long_jti };

    memset(long_jti, 'x', 131);
    long_jti[0] = '"';
    long_jti[130] = '"';
    long_jti[131] = '\0';           /* 129 characters */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
                 "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
                 "\"jti\":%s}", (long) NOW, (long) NOW + 60, bad[i]);
        CHECK_STR(why_es(pl, NOW), "malformed");
    }

    long_jti[129] = '"';
    long_jti[130] = '\0';           /* 128 characters */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":%s}", (long) NOW, (long) NOW + 60, long_jti);
    CHECK_STR(why_es(pl, NOW), "ok");
}


TEST(test_es256_der_signature)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256_DER, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    /* a good R || S with a byte more is not a 64-byte signature */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256_LONG, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    /* an RS256 signature one byte short */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    t[strlen(t) - 2] = '\0';
    CHECK(strcmp(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "ok") != 0);
    free(t);
}


TEST(test_partner_api)
{
    char            pl[512], *t;
    ac_assertion_t  a;

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"api-call-000001\"}", (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_PARTNER_API, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "acme");
    CHECK_STR(a.email, "");
    CHECK_STR(a.jti, "api-call-000001");
    CHECK_INT(a.kind, AC_ASSERTION_PARTNER_API);

    /* the same token is no SSO assertion */
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "missing_claim");
    free(t);

    /* an email never goes along a partner API call */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"api-call-000001\"}", (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW), "extra_claims");
    free(t);

    /* an SSO assertion is no partner API token */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW), "extra_claims");
    free(t);

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"iat\":%ld,\"exp\":%ld,\"jti\":\"api-call-000001\"}",
             (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW),
              "wrong_audience");
    free(t);

    CHECK_INT(ac_assertion_verify(&cfg, k_ec, "a.b.c", 5, NOW,
                                  (ac_assertion_kind_t) 7, &a, NULL),
              AC_ERR_INVALID);
}


TEST(test_reason_names)
{
    int          i, j;
    const char  *want[] = { "malformed", "too_large", "bad_header",
                            "alg_none", "alg_mismatch", "unknown_partner",
                            "bad_signature", "extra_claims", "missing_claim",
                            "wrong_audience", "wrong_issuer", "expired",
                            "not_yet_valid", "lifetime_too_long",
                            "issued_in_future", "bad_email", "replay" };

    for (i = 0; i < AC_AR_COUNT; i++) {
        CHECK(ac_assertion_reason_name(i) != NULL);
        for (j = 0; j < i; j++) {
            CHECK(strcmp(ac_assertion_reason_name(i),
                         ac_assertion_reason_name(j)) != 0);
        }
    }

    for (i = 0; i < (int) (sizeof(want) / sizeof(want[0])); i++) {
        CHECK_STR(ac_assertion_reason_name(AC_AR_MALFORMED + i), want[i]);
    }

    CHECK(ac_assertion_reason_name(AC_AR_COUNT) == NULL);
    CHECK(ac_assertion_reason_name((ac_assertion_reason_t) -1) == NULL);
}


TEST(test_partner_key)
{
    ac_partner_t       p;
    ac_partner_key_t  *k;
    ac_error_t         err;

    CHECK_STR(ac_partner_key_id(k_ec), "acme");
    CHECK_INT(ac_partner_key_alg(k_rsa), AC_ALG_RS256);
    CHECK_INT(ac_partner_key_same(k_ec, &p_ec), 1);
    CHECK_INT(ac_partner_key_same(k_hs, &p_hs), 1);
    CHECK_INT(ac_partner_key_same(k_ec, &p_rsa), 0);

    /* a rotated key: the cached object is stale */
    p = p_ec;
    p.keylen = strlen(ec_other_pem);
    memcpy(p.key, ec_other_pem, p.keylen);
    CHECK_INT(ac_partner_key_same(k_ec, &p), 0);

    /* an RSA key registered as ES256, a none partner, a bad id */
    p = p_ec;
    p.keylen = strlen(rsa_pem);
    memcpy(p.key, rsa_pem, p.keylen);
    k = NULL;
    CHECK_INT(ac_partner_key_new(&p, &k, &err), AC_ERR_KEY);
    CHECK(k == NULL);

    p = p_ec;
    p.alg = AC_ALG_NONE;
    CHECK(ac_partner_key_new(&p, &k, &err) != AC_OK);
    CHECK(k == NULL);

    p = p_ec;
    strcpy(p.id, "Acme");
    CHECK_INT(ac_partner_key_new(&p, &k, &err), AC_ERR_INVALID);

    CHECK_INT(ac_partner_key_new(NULL, &k, NULL), AC_ERR_INVALID);
    ac_partner_key_free(NULL);
}


typedef struct {
    const ac_partner_key_t  *key;
    const char              *token;
    int                      ok;
} thread_arg_t;


static void *
verify_thread(void *data)
{
    int             i;
    thread_arg_t   *arg;
    ac_assertion_t  a;

    arg = data;

    for (i = 0; i < 100; i++) {
        if (verify(arg->key, arg->token, AC_ASSERTION_SSO, NOW, &a)
            == AC_OK)
        {
            arg->ok++;
        }
    }

    return NULL;
}


TEST(test_shared_key_threads)
{
    int           i;
    char          pl[3][512];
    pthread_t     th[6];
    thread_arg_t  arg[6];

    claims(pl[0], sizeof(pl[0]), "acme", NOW, NOW + 60, "");
    claims(pl[1], sizeof(pl[1]), "rsa-corp", NOW, NOW + 60, "");
    claims(pl[2], sizeof(pl[2]), "hs.corp", NOW, NOW + 60, "");

    for (i = 0; i < 6; i++) {
        arg[i].ok = 0;

        switch (i % 3) {
        case 0:
            arg[i].key = k_ec;
            arg[i].token = jws("{\"alg\":\"ES256\"}", pl[0], SIG_ES256,
                               ec_key, 0);
            break;
        case 1:
            arg[i].key = k_rsa;
            arg[i].token = jws("{\"alg\":\"RS256\"}", pl[1], SIG_RS256,
                               rsa_key, 0);
            break;
        default:
            arg[i].key = k_hs;
            arg[i].token = jws("{\"alg\":\"HS256\"}", pl[2], SIG_HS256,
                               hs_secret, strlen(hs_secret));
        }
    }

    for (i = 0; i < 6; i++) {
        CHECK_INT(pthread_create(&th[i], NULL, verify_thread, &arg[i]), 0);
    }

    for (i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(arg[i].ok, 100);
        free((char *) arg[i].token);
    }
}


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


TEST(test_jti_claim_redis)
{
    char             key[AC_KEY_MAX];
    int64_t          ttl;
    ac_cmd_t         cmd;
    ac_keys_t       *keys;
    redisReply      *r;
    redisContext    *c;
    unsigned char    secret[AC_SECRET_MIN];
    redis_fixture_t  rf;

    memset(secret, 0x5a, sizeof(secret));
    secret[0] = 1;
    CHECK_INT(ac_keys_from_secret(secret, sizeof(secret), &keys), AC_OK);

    /* the command itself: key shape, no raw jti */
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti-0000000001",
                               NOW + 100, NOW), AC_OK);
    CHECK_INT(cmd.argc, 6);
    CHECK_STR(cmd.argv[0], "SET");
    CHECK(strncmp(cmd.argv[1], "guichet:jti:acme:", 17) == 0);
    CHECK_INT(cmd.argvlen[1], 17 + AC_DIGEST_LEN);
    CHECK(strstr(cmd.argv[1], "jti-0000000001") == NULL);
    CHECK_STR(cmd.argv[3], "NX");
    CHECK_STR(cmd.argv[4], "EX");
    CHECK_STR(cmd.argv[5], "160");
    memcpy(key, cmd.argv[1], cmd.argvlen[1]);
    key[cmd.argvlen[1]] = '\0';

    /* an expired exp still gets a positive TTL */
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti-0000000001",
                               NOW - 1000, NOW), AC_OK);
    CHECK_STR(cmd.argv[5], "1");

    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "short", NOW, NOW),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "a:b", "jti-0000000001",
                               NOW, NOW), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti 000000001",
                               NOW, NOW), AC_ERR_INVALID);

    CHECK_INT(ac_jti_claim_parse(NULL), AC_ERR_REDIS);

    if (redis_fixture_start(&rf) != 0) {
        CHECK(!"redis-server did not start");
        ac_keys_free(keys);
        return;
    }

    c = redis_fixture_connect(&rf);
    CHECK(c != NULL);

    if (c != NULL) {
        CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme",
                                   "jti-0000000001", NOW + 100, NOW), AC_OK);
        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_OK);
        freeReplyObject(r);

        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_ERR_REPLAY);
        freeReplyObject(r);

        r = redisCommand(c, "TTL %s", key);
        CHECK(r != NULL && ac_reply_integer(r, &ttl) == AC_OK);
        CHECK(ttl > 150 && ttl <= 160);
        freeReplyObject(r);

        /* the same jti from another partner is its own */
        CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "rsa-corp",
                                   "jti-0000000001", NOW + 100, NOW), AC_OK);
        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_OK);
        freeReplyObject(r);

        /* an error reply is not a fresh claim */
        r = redisCommand(c, "SET %s x EX -5", key);
        CHECK(r != NULL && r->type == REDIS_REPLY_ERROR);
        CHECK_INT(ac_jti_claim_parse(r), AC_ERR_REDIS);
        freeReplyObject(r);

        redisFree(c);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        return 2;
    }

    setup();

    RUN(test_valid_es256_rs256_hs256);
    RUN(test_peek_issuer);
    RUN(test_alg_none);
    RUN(test_hmac_with_public_key_pem);
    RUN(test_alg_swapped);
    RUN(test_wrong_key);
    RUN(test_tampered_payload);
    RUN(test_times);
    RUN(test_audience);
    RUN(test_issuer);
    RUN(test_extra_claims);
    RUN(test_missing_claims);
    RUN(test_extra_header_fields);
    RUN(test_duplicate_keys);
    RUN(test_size_and_encoding);
    RUN(test_emails);
    RUN(test_jti_shape);
    RUN(test_es256_der_signature);
    RUN(test_partner_api);
    RUN(test_reason_names);
    RUN(test_partner_key);
    RUN(test_shared_key_threads);
    RUN(test_jti_claim_redis);

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

    return CHECK_DONE();
}
