/*
 * Partner assertions (SPEC 6): compact JWS tokens signed by a partner,
 * verified against the key registered for it, and the Redis replay
 * guard of their "jti".
 *
 * libjwt 1.10 is not used to verify: jwt_decode() takes the algorithm
 * from the token's header and uses whatever key it is given as an HMAC
 * secret for HS256, loads JSON with duplicate keys allowed (the last one
 * wins) and compares HMACs as strings. Here the header and payload are
 * parsed strictly with jansson (duplicates refused) before anything is
 * trusted, the algorithm is pinned to the partner's before any crypto,
 * and signatures are checked with OpenSSL: HMAC compared with
 * CRYPTO_memcmp, ES256 only in the 64-byte R || S form of RFC 7518.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "authcore.h"
#include "internal.h"


#define AC_ES256_SIG_LEN    64
#define AC_HS256_SIG_LEN    32
#define AC_SIG_MAX          1024          /* RSA 8192 bits */
#define AC_TIME_MAX         INT64_C(253402300799)  /* 9999-12-31 */
#define AC_KID_MAX          128


struct ac_partner_key_s {
    char            id[AC_PARTNER_ID_MAX + 1];
    ac_alg_t        alg;
    EVP_PKEY       *pkey;               /* ES256, RS256 */
    unsigned char  *secret;             /* HS256 */
    size_t          secretlen;
    unsigned char   fingerprint[SHA256_DIGEST_LENGTH];
};


/* A token split and decoded; header and payload are parsed objects. */
typedef struct {
    const char     *signing_input;      /* "HEADER.PAYLOAD" */
    size_t          signing_len;
    unsigned char  *sig;
    size_t          siglen;
    json_t         *header;
    json_t         *payload;
    const char     *alg;                /* in header */
} ac_jws_t;


static const char  *ac_reason_names[AC_AR_COUNT] = {
    "ok",
    "malformed",
    "too_large",
    "bad_header",
    "alg_none",
    "alg_mismatch",
    "unknown_partner",
    "bad_signature",
    "extra_claims",
    "missing_claim",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "not_yet_valid",
    "lifetime_too_long",
    "issued_in_future",
    "bad_email",
    "replay",
    "internal"
};


static void ac_jws_free(ac_jws_t *jws);
static int ac_jws_parse(const char *token, size_t len, ac_jws_t *jws,
    ac_assertion_reason_t *reason);
static json_t *ac_json_segment(const char *s, size_t len, int *nomem);
static int ac_header_check(json_t *header, const char **alg);
static int ac_issuer_get(json_t *payload, char iss[AC_PARTNER_ID_MAX + 1],
    ac_assertion_reason_t *reason);
static int ac_signature_check(const ac_partner_key_t *k,
    const ac_jws_t *jws, ac_assertion_reason_t *reason);
static int ac_claims_check(const ac_config_t *cfg, json_t *payload,
    time_t now, ac_assertion_kind_t kind, ac_assertion_t *out);
static int ac_fingerprint(const ac_partner_t *p,
    unsigned char out[SHA256_DIGEST_LENGTH]);


const char *
ac_assertion_reason_name(ac_assertion_reason_t reason)
{
    if ((unsigned) reason >= AC_AR_COUNT) {
        return NULL;
    }

    return ac_reason_names[reason];
}


/* -------------------------------------------------------- partner keys */

/* SHA-256 of id, algorithm and key: what identifies a registration. */

static int
ac_fingerprint(const ac_partner_t *p, unsigned char out[SHA256_DIGEST_LENGTH])
{
    int            ok;
    unsigned char  alg;
    EVP_MD_CTX    *md;

    alg = (unsigned char) p->alg;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return AC_ERR_NOMEM;
    }

    ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
         && EVP_DigestUpdate(md, p->id, strlen(p->id) + 1) == 1
         && EVP_DigestUpdate(md, &alg, 1) == 1
         && EVP_DigestUpdate(md, p->key, p->keylen) == 1
         && EVP_DigestFinal_ex(md, out, NULL) == 1;

    EVP_MD_CTX_free(md);

    return ok ? AC_OK : AC_ERR_CRYPTO;
}


int
ac_partner_key_new(const ac_partner_t *p, ac_partner_key_t **k,
    ac_error_t *err)
{
    int                rc;
    ac_partner_key_t  *key;

    if (k == NULL) {
        return AC_ERR_INVALID;
    }

    *k = NULL;

    if (p == NULL || p->keylen > AC_PARTNER_KEY_MAX
        || ac_partner_id_check(p->id) != AC_OK)
    {
        ac_error_set(err, AC_ERR_INVALID, "invalid partner");
        return AC_ERR_INVALID;
    }

    rc = ac_partner_key_check(p->alg, p->key, p->keylen, err);
    if (rc != AC_OK) {
        return rc;
    }

    key = calloc(1, sizeof(ac_partner_key_t));
    if (key == NULL) {
        ac_error_set(err, AC_ERR_NOMEM, "out of memory");
        return AC_ERR_NOMEM;
    }

    memcpy(key->id, p->id, strlen(p->id) + 1);
    key->alg = p->alg;

    rc = ac_fingerprint(p, key->fingerprint);
    if (rc != AC_OK) {
        ac_error_set(err, rc, "%s", ac_strerror(rc));
        goto failed;
    }

    if (p->alg == AC_ALG_HS256) {
        key->secret = malloc(p->keylen);
        if (key->secret == NULL) {
            ac_error_set(err, AC_ERR_NOMEM, "out of memory");
            rc = AC_ERR_NOMEM;
            goto failed;
        }

        memcpy(key->secret, p->key, p->keylen);
        key->secretlen = p->keylen;

    } else {
        key->pkey = ac_pem_pubkey_decode(p->key, p->keylen,
                                         p->alg == AC_ALG_ES256 ? "EC" : "RSA");
        if (key->pkey == NULL) {
            ac_error_set(err, AC_ERR_KEY, "%s key could not be decoded",
                         ac_alg_name(p->alg));
            rc = AC_ERR_KEY;
            goto failed;
        }
    }

    *k = key;
    ERR_clear_error();

    return AC_OK;

failed:

    ac_partner_key_free(key);
    ERR_clear_error();

    return rc;
}


void
ac_partner_key_free(ac_partner_key_t *k)
{
    if (k == NULL) {
        return;
    }

    if (k->secret != NULL) {
        OPENSSL_cleanse(k->secret, k->secretlen);
        free(k->secret);
    }

    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(ac_partner_key_t));
    free(k);
}


const char *
ac_partner_key_id(const ac_partner_key_t *k)
{
    return k != NULL ? k->id : NULL;
}


ac_alg_t
ac_partner_key_alg(const ac_partner_key_t *k)
{
    return k != NULL ? k->alg : AC_ALG_NONE;
}


int
ac_partner_key_same(const ac_partner_key_t *k, const ac_partner_t *p)
{
    unsigned char  fp[SHA256_DIGEST_LENGTH];

    if (k == NULL || p == NULL || p->keylen > AC_PARTNER_KEY_MAX) {
        return 0;
    }

    if (p->id[AC_PARTNER_ID_MAX] != '\0'
        || ac_fingerprint(p, fp) != AC_OK)
    {
        return 0;
    }

    return CRYPTO_memcmp(fp, k->fingerprint, sizeof(fp)) == 0;
}


/* ------------------------------------------------------------- parsing */

static void
ac_jws_free(ac_jws_t *jws)
{
    if (jws->sig != NULL) {
        free(jws->sig);
    }

    if (jws->header != NULL) {
        json_decref(jws->header);
    }

    if (jws->payload != NULL) {
        json_decref(jws->payload);
    }

    memset(jws, 0, sizeof(ac_jws_t));
}


/* A base64url segment holding one JSON object with no duplicate key;
 * NULL otherwise (*nomem set when memory ran out). */

static json_t *
ac_json_segment(const char *s, size_t len, int *nomem)
{
    size_t          n;
    json_t         *obj;
    unsigned char  *buf;
    json_error_t    jerr;

    *nomem = 0;

    if (len == 0) {
        return NULL;
    }

    buf = malloc(len);
    if (buf == NULL) {
        *nomem = 1;
        return NULL;
    }

    if (ac_b64url_decode(s, len, buf, len, &n) != AC_OK || n == 0) {
        free(buf);
        return NULL;
    }

    /* a NUL inside a string is refused by jansson unless JSON_ALLOW_NUL */
    obj = json_loadb((const char *) buf, n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);

    if (obj == NULL) {
        return NULL;
    }

    if (!json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }

    return obj;
}


/* Only alg, typ and kid; alg a string that is not "none"; typ "JWT". */

static int
ac_header_check(json_t *header, const char **alg)
{
    json_t      *v;
    const char  *name;

    *alg = NULL;

    json_object_foreach(header, name, v) {
        if (strcmp(name, "alg") == 0) {
            if (!json_is_string(v)) {
                return AC_AR_BAD_HEADER;
            }

            *alg = json_string_value(v);

        } else if (strcmp(name, "typ") == 0) {
            if (!json_is_string(v)
                || strcasecmp(json_string_value(v), "JWT") != 0)
            {
                return AC_AR_BAD_HEADER;
            }

        } else if (strcmp(name, "kid") == 0) {
            if (!json_is_string(v) || json_string_length(v) > AC_KID_MAX) {
                return AC_AR_BAD_HEADER;
            }

        } else {
            return AC_AR_BAD_HEADER;
        }
    }

    if (*alg == NULL) {
        return AC_AR_BAD_HEADER;
    }

    if (strcasecmp(*alg, "none") == 0) {
        return AC_AR_ALG_NONE;
    }

    return AC_AR_OK;
}


static int
ac_jws_parse(const char *token, size_t len, ac_jws_t *jws,
    ac_assertion_reason_t *reason)
{
    int          nomem, r;
    size_t       hlen, plen, slen;
    const char  *dot1, *dot2, *sig;

    memset(jws, 0, sizeof(ac_jws_t));

    if (token == NULL) {
        *reason = AC_AR_MALFORMED;
        return AC_ERR_INVALID;
    }

    if (len > AC_ASSERTION_MAX) {
        *reason = AC_AR_TOO_LARGE;
        return AC_ERR_INVALID;
    }

    *reason = AC_AR_MALFORMED;

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return AC_ERR_INVALID;
    }

    dot2 = memchr(dot1 + 1, '.', len - (dot1 + 1 - token));
    if (dot2 == NULL) {
        return AC_ERR_INVALID;
    }

    sig = dot2 + 1;
    hlen = dot1 - token;
    plen = dot2 - (dot1 + 1);
    slen = len - (sig - token);

    /* a fourth segment (JWE) or a stray '.' fails the strict decoding */
    jws->header = ac_json_segment(token, hlen, &nomem);
    if (jws->header == NULL) {
        if (nomem) {
            *reason = AC_AR_INTERNAL;
            return AC_ERR_NOMEM;
        }

        /* also a header with a repeated key: it cannot be read one way */
        *reason = AC_AR_MALFORMED;
        goto failed;
    }

    r = ac_header_check(jws->header, &jws->alg);
    if (r != AC_AR_OK) {
        *reason = r;
        goto failed;
    }

    jws->payload = ac_json_segment(dot1 + 1, plen, &nomem);
    if (jws->payload == NULL) {
        if (nomem) {
            ac_jws_free(jws);
            *reason = AC_AR_INTERNAL;
            return AC_ERR_NOMEM;
        }

        *reason = AC_AR_MALFORMED;
        goto failed;
    }

    if (slen != 0) {
        jws->sig = malloc(slen);
        if (jws->sig == NULL) {
            ac_jws_free(jws);
            *reason = AC_AR_INTERNAL;
            return AC_ERR_NOMEM;
        }

        if (ac_b64url_decode(sig, slen, jws->sig, slen, &jws->siglen)
            != AC_OK)
        {
            *reason = AC_AR_MALFORMED;
            goto failed;
        }
    }

    jws->signing_input = token;
    jws->signing_len = dot2 - token;
    *reason = AC_AR_OK;

    return AC_OK;

failed:

    ac_jws_free(jws);

    return (*reason == AC_AR_ALG_NONE) ? AC_ERR_MISMATCH : AC_ERR_INVALID;
}


static int
ac_issuer_get(json_t *payload, char iss[AC_PARTNER_ID_MAX + 1],
    ac_assertion_reason_t *reason)
{
    json_t  *v;

    v = json_object_get(payload, "iss");
    if (v == NULL) {
        *reason = AC_AR_MISSING_CLAIM;
        return AC_ERR_MISMATCH;
    }

    if (!json_is_string(v)) {
        *reason = AC_AR_MALFORMED;
        return AC_ERR_INVALID;
    }

    if (json_string_length(v) > AC_PARTNER_ID_MAX
        || strlen(json_string_value(v)) != json_string_length(v)
        || ac_partner_id_check(json_string_value(v)) != AC_OK)
    {
        /* no registered partner can have such an id */
        *reason = AC_AR_UNKNOWN_PARTNER;
        return AC_ERR_MISMATCH;
    }

    memcpy(iss, json_string_value(v), json_string_length(v) + 1);
    *reason = AC_AR_OK;

    return AC_OK;
}


int
ac_assertion_peek_issuer(const char *token, size_t len,
    char iss[AC_PARTNER_ID_MAX + 1], ac_assertion_reason_t *reason)
{
    int                    rc;
    ac_jws_t               jws;
    ac_assertion_reason_t  r;

    if (iss == NULL) {
        return AC_ERR_INVALID;
    }

    iss[0] = '\0';

    rc = ac_jws_parse(token, len, &jws, &r);
    if (rc == AC_OK) {
        rc = ac_issuer_get(jws.payload, iss, &r);
        ac_jws_free(&jws);
    }

    if (reason != NULL) {
        *reason = r;
    }

    return rc;
}


/* ---------------------------------------------------------- signatures */

static int
ac_verify_pkey(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
    const ac_jws_t *jws)
{
    int          ok;
    EVP_MD_CTX  *md;

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return -1;
    }

    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1
         && EVP_DigestVerify(md, sig, siglen,
                             (const unsigned char *) jws->signing_input,
                             jws->signing_len) == 1;

    EVP_MD_CTX_free(md);

    return ok;
}


static int
ac_verify_es256(EVP_PKEY *pkey, const ac_jws_t *jws)
{
    int             ok, n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *es;
    unsigned char  *der;

    /* RFC 7518 3.4: R || S, 32 bytes each; a DER signature is refused */
    if (jws->siglen != AC_ES256_SIG_LEN) {
        return 0;
    }

    es = ECDSA_SIG_new();
    r = BN_bin2bn(jws->sig, AC_ES256_SIG_LEN / 2, NULL);
    s = BN_bin2bn(jws->sig + AC_ES256_SIG_LEN / 2, AC_ES256_SIG_LEN / 2,
                  NULL);

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return -1;
    }

    der = NULL;
    n = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);

    if (n <= 0) {
        return -1;
    }

    ok = ac_verify_pkey(pkey, der, (size_t) n, jws);
    OPENSSL_free(der);

    return ok;
}


static int
ac_verify_hs256(const ac_partner_key_t *k, const ac_jws_t *jws)
{
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];
    int            ok;

    if (jws->siglen != AC_HS256_SIG_LEN) {
        return 0;
    }

    maclen = 0;

    if (HMAC(EVP_sha256(), k->secret, (int) k->secretlen,
             (const unsigned char *) jws->signing_input, jws->signing_len,
             mac, &maclen) == NULL
        || maclen != AC_HS256_SIG_LEN)
    {
        OPENSSL_cleanse(mac, sizeof(mac));
        return -1;
    }

    ok = CRYPTO_memcmp(mac, jws->sig, AC_HS256_SIG_LEN) == 0;
    OPENSSL_cleanse(mac, sizeof(mac));

    return ok;
}


static int
ac_signature_check(const ac_partner_key_t *k, const ac_jws_t *jws,
    ac_assertion_reason_t *reason)
{
    int  ok;

    ok = 0;

    if (jws->siglen == 0 || jws->siglen > AC_SIG_MAX) {
        *reason = AC_AR_BAD_SIGNATURE;
        return AC_ERR_MISMATCH;
    }

    switch (k->alg) {
    case AC_ALG_HS256:
        ok = ac_verify_hs256(k, jws);
        break;

    case AC_ALG_ES256:
        ok = ac_verify_es256(k->pkey, jws);
        break;

    case AC_ALG_RS256:
        if (jws->siglen != (size_t) EVP_PKEY_get_size(k->pkey)) {
            ok = 0;
            break;
        }

        ok = ac_verify_pkey(k->pkey, jws->sig, jws->siglen, jws);
        break;

    default:
        ok = 0;
    }

    ERR_clear_error();

    if (ok < 0) {
        *reason = AC_AR_INTERNAL;
        return AC_ERR_CRYPTO;
    }

    if (!ok) {
        *reason = AC_AR_BAD_SIGNATURE;
        return AC_ERR_MISMATCH;
    }

    return AC_OK;
}


/* -------------------------------------------------------------- claims */

/* A NumericDate as an integer in [0, AC_TIME_MAX]: 1 found, 0 absent,
 * -1 present but not such an integer. */

static int
ac_claim_time(json_t *payload, const char *name, int64_t *v)
{
    json_t      *j;
    json_int_t   n;

    j = json_object_get(payload, name);
    if (j == NULL) {
        return 0;
    }

    if (!json_is_integer(j)) {
        return -1;
    }

    n = json_integer_value(j);
    if (n < 0 || n > AC_TIME_MAX) {
        return -1;
    }

    *v = (int64_t) n;

    return 1;
}


static int
ac_claims_check(const ac_config_t *cfg, json_t *payload, time_t now,
    ac_assertion_kind_t kind, ac_assertion_t *out)
{
    int          rc, has_nbf;
    size_t       i, n, alen;
    json_t      *v, *aud, *jti, *email;
    int64_t      iat, exp, nbf, t;
    const char  *name, *audience, *s;

    static const char  *allowed[] = {
        "iss", "aud", "iat", "exp", "jti", "nbf", "email"
    };

    n = sizeof(allowed) / sizeof(allowed[0]);

    if (kind == AC_ASSERTION_PARTNER_API) {
        n--;    /* no email: a partner API call is about no one */
    }

    json_object_foreach(payload, name, v) {
        for (i = 0; i < n; i++) {
            if (strcmp(name, allowed[i]) == 0) {
                break;
            }
        }

        if (i == n) {
            out->reason = AC_AR_EXTRA_CLAIMS;
            return AC_ERR_MISMATCH;
        }
    }

    aud = json_object_get(payload, "aud");
    jti = json_object_get(payload, "jti");
    email = json_object_get(payload, "email");

    if (aud == NULL || jti == NULL
        || json_object_get(payload, "iat") == NULL
        || json_object_get(payload, "exp") == NULL
        || (kind == AC_ASSERTION_SSO && email == NULL))
    {
        out->reason = AC_AR_MISSING_CLAIM;
        return AC_ERR_MISMATCH;
    }

    /* one audience, as a string: a token for several relying parties
     * could be replayed at the others */
    audience = (cfg != NULL && cfg->audience != NULL) ? cfg->audience
                                                      : "guichet";
    alen = strlen(audience);

    if (!json_is_string(aud)) {
        out->reason = AC_AR_WRONG_AUDIENCE;
        return AC_ERR_MISMATCH;
    }

    s = json_string_value(aud);

    if (kind == AC_ASSERTION_SSO) {
        rc = json_string_length(aud) == alen && memcmp(s, audience, alen) == 0;

    } else {
        rc = json_string_length(aud) == alen + sizeof(AC_PARTNER_API_AUD) - 1
             && memcmp(s, audience, alen) == 0
             && memcmp(s + alen, AC_PARTNER_API_AUD,
                       sizeof(AC_PARTNER_API_AUD) - 1) == 0;
    }

    if (!rc) {
        out->reason = AC_AR_WRONG_AUDIENCE;
        return AC_ERR_MISMATCH;
    }

    nbf = 0;
    has_nbf = ac_claim_time(payload, "nbf", &nbf);

    if (ac_claim_time(payload, "iat", &iat) != 1
        || ac_claim_time(payload, "exp", &exp) != 1
        || has_nbf < 0)
    {
        out->reason = AC_AR_MALFORMED;
        return AC_ERR_INVALID;
    }

    t = (int64_t) now;

    if (t >= exp + AC_ASSERTION_SKEW) {
        out->reason = AC_AR_EXPIRED;
        return AC_ERR_MISMATCH;
    }

    if (has_nbf && nbf > t + AC_ASSERTION_SKEW) {
        out->reason = AC_AR_NOT_YET_VALID;
        return AC_ERR_MISMATCH;
    }

    if (iat > t + AC_ASSERTION_SKEW) {
        out->reason = AC_AR_ISSUED_IN_FUTURE;
        return AC_ERR_MISMATCH;
    }

    if (exp < iat) {
        out->reason = AC_AR_MALFORMED;
        return AC_ERR_INVALID;
    }

    if (exp - iat > AC_ASSERTION_LIFETIME) {
        out->reason = AC_AR_LIFETIME_TOO_LONG;
        return AC_ERR_MISMATCH;
    }

    if (!json_is_string(jti) || json_string_length(jti) < AC_JTI_MIN
        || json_string_length(jti) > AC_JTI_MAX)
    {
        out->reason = AC_AR_MALFORMED;
        return AC_ERR_INVALID;
    }

    s = json_string_value(jti);

    for (i = 0; i < json_string_length(jti); i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            out->reason = AC_AR_MALFORMED;
            return AC_ERR_INVALID;
        }
    }

    if (kind == AC_ASSERTION_SSO) {
        if (!json_is_string(email)
            || ac_email_normalize(json_string_value(email),
                                  json_string_length(email), out->email)
               != AC_OK)
        {
            out->email[0] = '\0';
            out->reason = AC_AR_BAD_EMAIL;
            return AC_ERR_MISMATCH;
        }
    }

    memcpy(out->jti, s, json_string_length(jti) + 1);
    out->iat = iat;
    out->exp = exp;

    return AC_OK;
}


int
ac_assertion_verify(const ac_config_t *cfg, const ac_partner_key_t *k,
    const char *token, size_t len, time_t now, ac_assertion_kind_t kind,
    ac_assertion_t *out, ac_error_t *err)
{
    int                    rc;
    char                   iss[AC_PARTNER_ID_MAX + 1];
    ac_alg_t               alg;
    ac_jws_t               jws;
    ac_assertion_reason_t  reason;

    if (out == NULL) {
        return AC_ERR_INVALID;
    }

    memset(out, 0, sizeof(ac_assertion_t));
    out->kind = kind;

    if (kind != AC_ASSERTION_SSO && kind != AC_ASSERTION_PARTNER_API) {
        out->reason = AC_AR_INTERNAL;
        ac_error_set(err, AC_ERR_INVALID, "unknown assertion kind");
        return AC_ERR_INVALID;
    }

    rc = ac_jws_parse(token, len, &jws, &reason);
    if (rc != AC_OK) {
        out->reason = reason;
        goto done;
    }

    if (k == NULL) {
        out->reason = AC_AR_UNKNOWN_PARTNER;
        rc = AC_ERR_MISMATCH;
        goto failed;
    }

    /* pinned: the header only has to agree with the registration */
    if (ac_alg_parse(jws.alg, &alg) != AC_OK || alg != k->alg) {
        out->reason = AC_AR_ALG_MISMATCH;
        rc = AC_ERR_MISMATCH;
        goto failed;
    }

    rc = ac_issuer_get(jws.payload, iss, &reason);
    if (rc != AC_OK) {
        out->reason = reason;
        goto failed;
    }

    if (strcmp(iss, k->id) != 0) {
        out->reason = AC_AR_WRONG_ISSUER;
        rc = AC_ERR_MISMATCH;
        goto failed;
    }

    rc = ac_signature_check(k, &jws, &reason);
    if (rc != AC_OK) {
        out->reason = reason;
        goto failed;
    }

    rc = ac_claims_check(cfg, jws.payload, now, kind, out);
    if (rc != AC_OK) {
        goto failed;
    }

    memcpy(out->partner, k->id, sizeof(out->partner));
    out->reason = AC_AR_OK;

failed:

    ac_jws_free(&jws);

done:

    if (rc != AC_OK) {
        out->partner[0] = '\0';
        out->email[0] = '\0';
        out->jti[0] = '\0';
        out->iat = 0;
        out->exp = 0;

        ac_error_set(err, rc, "assertion refused: %s",
                     ac_assertion_reason_name(out->reason));
    }

    return rc;
}


/* -------------------------------------------------------- replay guard */

int
ac_cmd_jti_claim(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *jti,
    int64_t exp, int64_t now)
{
    int          rc, n;
    char         key[AC_KEY_MAX], digest[AC_DIGEST_LEN + 1];
    size_t       plen, jlen, i;
    int64_t      ttl;
    const char  *prefix;
    char         input[AC_PARTNER_ID_MAX + 1 + AC_JTI_MAX];

    if (cmd == NULL || keys == NULL || partner == NULL || jti == NULL
        || ac_partner_id_check(partner) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    jlen = strlen(jti);
    if (jlen < AC_JTI_MIN || jlen > AC_JTI_MAX) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < jlen; i++) {
        if (jti[i] < 0x21 || jti[i] > 0x7e) {
            return AC_ERR_INVALID;
        }
    }

    /* partner ids hold no NUL, so "PARTNER\0JTI" is unambiguous */
    plen = strlen(partner);
    memcpy(input, partner, plen);
    input[plen] = '\0';
    memcpy(input + plen + 1, jti, jlen);

    rc = ac_digest(keys, AC_PURPOSE_TOKEN, input, plen + 1 + jlen, digest);
    if (rc != AC_OK) {
        return rc;
    }

    prefix = (cfg != NULL && cfg->key_prefix != NULL) ? cfg->key_prefix
                                                      : "guichet:";

    n = snprintf(key, sizeof(key), "%sjti:%s:%s", prefix, partner, digest);
    if (n < 0 || n >= (int) sizeof(key)) {
        return AC_ERR_TOO_LONG;
    }

    if (exp > AC_TIME_MAX || now > AC_TIME_MAX || exp < 0 || now < 0) {
        return AC_ERR_INVALID;
    }

    ttl = exp - now + AC_ASSERTION_SKEW;
    if (ttl < 1) {
        ttl = 1;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "SET");
    ac_cmd_copy(cmd, key, (size_t) n);
    ac_cmd_str(cmd, "1");
    ac_cmd_str(cmd, "NX");
    ac_cmd_str(cmd, "EX");
    ac_cmd_int(cmd, ttl);

    return ac_cmd_status(cmd);
}


int
ac_jti_claim_parse(const struct redisReply *r)
{
    if (r == NULL) {
        return AC_ERR_REDIS;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_REPLAY;
    }

    return ac_reply_ok(r) == AC_OK ? AC_OK : AC_ERR_REDIS;
}
