/*
 * Partners: identifiers, algorithms and the keys registered for them.
 */

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/objects.h>

#include "authcore.h"
#include "internal.h"


#define AC_RSA_BITS_MIN    2048
#define AC_RSA_BITS_MAX    8192
#define AC_HS256_KEY_MIN   32


static int ac_pem_label(const char *key, size_t len, const char *label);
static int ac_key_decodes(const void *key, size_t len, const char *format);
static EVP_PKEY *ac_pubkey_decode(const void *key, size_t len,
    const char *type);


int
ac_alg_parse(const char *name, ac_alg_t *alg)
{
    /* case-sensitive like a JWS "alg"; "none" is never accepted */
    if (name == NULL || alg == NULL) {
        return AC_ERR_INVALID;
    }

    if (strcmp(name, "HS256") == 0) {
        *alg = AC_ALG_HS256;

    } else if (strcmp(name, "RS256") == 0) {
        *alg = AC_ALG_RS256;

    } else if (strcmp(name, "ES256") == 0) {
        *alg = AC_ALG_ES256;

    } else {
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


const char *
ac_alg_name(ac_alg_t alg)
{
    switch (alg) {
    case AC_ALG_HS256:
        return "HS256";
    case AC_ALG_RS256:
        return "RS256";
    case AC_ALG_ES256:
        return "ES256";
    default:
        return "none";
    }
}


int
ac_partner_id_check(const char *id)
{
    size_t  i;

    if (id == NULL || id[0] == '\0') {
        return AC_ERR_INVALID;
    }

    for (i = 0; id[i]; i++) {
        if (i >= AC_PARTNER_ID_MAX) {
            return AC_ERR_TOO_LONG;
        }

        if ((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9')) {
            continue;
        }

        if (i > 0 && (id[i] == '.' || id[i] == '_' || id[i] == '-')) {
            continue;
        }

        return AC_ERR_INVALID;
    }

    return AC_OK;
}


/* The text is exactly one PEM block with this label, blanks around. */

static int
ac_pem_label(const char *key, size_t len, const char *label)
{
    size_t       n;
    const char  *p, *end, *begin;

    p = key;
    end = key + len;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    begin = "-----BEGIN ";
    n = strlen(begin);

    if ((size_t) (end - p) < n || memcmp(p, begin, n) != 0) {
        return 0;
    }

    p += n;
    n = strlen(label);

    if ((size_t) (end - p) < n + 5 || memcmp(p, label, n) != 0
        || memcmp(p + n, "-----", 5) != 0)
    {
        return 0;
    }

    /* a second block (a private key pasted after the public one) */
    if (memmem(p, end - p, "-----BEGIN ", 11) != NULL) {
        return 0;
    }

    return 1;
}


EVP_PKEY *
ac_pem_pubkey_decode(const void *pem, size_t len, const char *type)
{
    BIO               *bio;
    EVP_PKEY          *pkey;
    OSSL_DECODER_CTX  *dctx;

    pkey = NULL;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return NULL;
    }

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, type,
                                         OSSL_KEYMGMT_SELECT_PUBLIC_KEY
                                         | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS,
                                         NULL, NULL);
    if (dctx != NULL) {
        if (!OSSL_DECODER_from_bio(dctx, bio)) {
            pkey = NULL;
        }

        OSSL_DECODER_CTX_free(dctx);
    }

    BIO_free(bio);

    return pkey;
}


static EVP_PKEY *
ac_pubkey_decode(const void *key, size_t len, const char *type)
{
    EVP_PKEY  *pkey;
    BIGNUM    *priv;

    pkey = ac_pem_pubkey_decode(key, len, type);
    if (pkey == NULL) {
        return NULL;
    }

    /* a private key is not what a partner should ever hand over */
    priv = NULL;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv)
        || EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_D, &priv))
    {
        BN_clear_free(priv);
        EVP_PKEY_free(pkey);
        return NULL;
    }

    return pkey;
}


/* 1 when the bytes are a key OpenSSL can read in this format. */

static int
ac_key_decodes(const void *key, size_t len, const char *format)
{
    int                ok;
    BIO               *bio;
    EVP_PKEY          *pkey;
    OSSL_DECODER_CTX  *dctx;

    pkey = NULL;
    ok = 0;

    bio = BIO_new_mem_buf(key, (int) len);
    if (bio == NULL) {
        return 0;
    }

    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, format, NULL, NULL, 0,
                                         NULL, NULL);
    if (dctx != NULL) {
        if (OSSL_DECODER_from_bio(dctx, bio) && pkey != NULL) {
            ok = 1;
        }

        OSSL_DECODER_CTX_free(dctx);
    }

    EVP_PKEY_free(pkey);
    BIO_free(bio);

    return ok;
}


static int
ac_hs256_check(const unsigned char *key, size_t len, ac_error_t *err)
{
    size_t         i, distinct;
    unsigned char  seen[256];

    if (len < AC_HS256_KEY_MIN) {
        ac_error_set(err, AC_ERR_KEY, "HS256 secret shorter than %d bytes",
                     AC_HS256_KEY_MIN);
        return AC_ERR_KEY;
    }

    /*
     * A public key used as an HMAC secret lets anyone who has it forge
     * assertions, so nothing that reads as a key is a secret.
     */
    if (memmem(key, len, "-----BEGIN", 10) != NULL
        || memmem(key, len, "ssh-", 4) == key
        || memmem(key, len, "ecdsa-sha2-", 11) == key
        || ac_key_decodes(key, len, "PEM")
        || ac_key_decodes(key, len, "DER"))
    {
        ac_error_set(err, AC_ERR_KEY, "HS256 secret looks like a PEM, DER "
                     "or SSH key; use ES256 or RS256 for a public key");
        return AC_ERR_KEY;
    }

    memset(seen, 0, sizeof(seen));
    distinct = 0;

    for (i = 0; i < len; i++) {
        if (!seen[key[i]]) {
            seen[key[i]] = 1;
            distinct++;
        }
    }

    if (distinct < 8) {
        ac_error_set(err, AC_ERR_KEY, "HS256 secret is not random enough");
        return AC_ERR_KEY;
    }

    return AC_OK;
}


int
ac_partner_key_check(ac_alg_t alg, const void *key, size_t len,
    ac_error_t *err)
{
    int         rc, nid, bits;
    char        group[64];
    size_t      glen;
    EVP_PKEY   *pkey;

    if (key == NULL || len == 0) {
        ac_error_set(err, AC_ERR_KEY, "empty key");
        return AC_ERR_KEY;
    }

    if (len > AC_PARTNER_KEY_MAX) {
        ac_error_set(err, AC_ERR_TOO_LONG, "key longer than %d bytes",
                     AC_PARTNER_KEY_MAX);
        return AC_ERR_TOO_LONG;
    }

    if (alg == AC_ALG_HS256) {
        rc = ac_hs256_check(key, len, err);
        ERR_clear_error();
        return rc;
    }

    if (alg != AC_ALG_ES256 && alg != AC_ALG_RS256) {
        ac_error_set(err, AC_ERR_INVALID, "unsupported algorithm");
        return AC_ERR_INVALID;
    }

    if (memchr(key, '\0', len) != NULL) {
        ac_error_set(err, AC_ERR_KEY, "%s key is not a PEM text",
                     ac_alg_name(alg));
        return AC_ERR_KEY;
    }

    if (!ac_pem_label(key, len, "PUBLIC KEY")
        && !(alg == AC_ALG_RS256 && ac_pem_label(key, len, "RSA PUBLIC KEY")))
    {
        ac_error_set(err, AC_ERR_KEY, "%s key must be a single PEM "
                     "\"PUBLIC KEY\" block", ac_alg_name(alg));
        return AC_ERR_KEY;
    }

    rc = AC_ERR_KEY;
    pkey = ac_pubkey_decode(key, len, alg == AC_ALG_ES256 ? "EC" : "RSA");

    if (pkey == NULL) {
        ac_error_set(err, AC_ERR_KEY, "%s key: not a readable %s public key",
                     ac_alg_name(alg), alg == AC_ALG_ES256 ? "EC" : "RSA");
        goto done;
    }

    if (alg == AC_ALG_ES256) {
        if (!EVP_PKEY_is_a(pkey, "EC")
            || !EVP_PKEY_get_utf8_string_param(pkey,
                                               OSSL_PKEY_PARAM_GROUP_NAME,
                                               group, sizeof(group), &glen))
        {
            ac_error_set(err, AC_ERR_KEY, "ES256 key is not an EC key on a "
                         "named curve");
            goto done;
        }

        nid = OBJ_sn2nid(group);
        if (nid == NID_undef) {
            nid = EC_curve_nist2nid(group);
        }

        if (nid != NID_X9_62_prime256v1) {
            ac_error_set(err, AC_ERR_KEY, "ES256 key is on curve %s, not "
                         "P-256", group);
            goto done;
        }

    } else {
        bits = EVP_PKEY_get_bits(pkey);

        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            ac_error_set(err, AC_ERR_KEY, "RS256 key is not an RSA key");
            goto done;
        }

        if (bits < AC_RSA_BITS_MIN || bits > AC_RSA_BITS_MAX) {
            ac_error_set(err, AC_ERR_KEY, "RS256 key has %d bits, not %d to "
                         "%d", bits, AC_RSA_BITS_MIN, AC_RSA_BITS_MAX);
            goto done;
        }
    }

    rc = AC_OK;

done:

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    return rc;
}
