/*
 * Partner ids, algorithm names and key checks. Keys are generated here
 * with OpenSSL so that every shape a careless or hostile operator could
 * register is tried against every algorithm.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "authcore.h"
#include "check.h"


typedef struct {
    char    *pem;
    size_t   len;
} pem_t;


static pem_t  ec256_pub, ec256_priv, ec384_pub, rsa2048_pub, rsa2048_pkcs1,
              rsa2048_priv, rsa1024_pub, ed25519_pub;
static unsigned char  *ec256_der;
static int             ec256_der_len;


static void
bio_to_pem(BIO *bio, pem_t *out)
{
    char  *data;
    long   n;

    n = BIO_get_mem_data(bio, &data);
    out->pem = malloc(n + 1);
    if (out->pem == NULL) {
        exit(2);
    }

    memcpy(out->pem, data, n);
    out->pem[n] = '\0';
    out->len = n;
    BIO_free(bio);
}


static void
pub_pem(EVP_PKEY *k, pem_t *out)
{
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_PUBKEY(bio, k)) {
        exit(2);
    }

    bio_to_pem(bio, out);
}


static void
priv_pem(EVP_PKEY *k, pem_t *out)
{
    BIO  *bio;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL
        || !PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL))
    {
        exit(2);
    }

    bio_to_pem(bio, out);
}


static void
make_keys(void)
{
    BIO                *bio;
    EVP_PKEY           *k;
    OSSL_ENCODER_CTX   *ectx;

    k = EVP_EC_gen("P-256");
    if (k == NULL) {
        exit(2);
    }
    pub_pem(k, &ec256_pub);
    priv_pem(k, &ec256_priv);
    ec256_der = NULL;
    ec256_der_len = i2d_PUBKEY(k, &ec256_der);
    EVP_PKEY_free(k);

    k = EVP_EC_gen("P-384");
    pub_pem(k, &ec384_pub);
    EVP_PKEY_free(k);

    k = EVP_RSA_gen(2048);
    pub_pem(k, &rsa2048_pub);
    priv_pem(k, &rsa2048_priv);
    /* the PKCS#1 "RSA PUBLIC KEY" form */
    bio = BIO_new(BIO_s_mem());
    ectx = OSSL_ENCODER_CTX_new_for_pkey(k, OSSL_KEYMGMT_SELECT_PUBLIC_KEY,
                                         "PEM", "type-specific", NULL);
    if (bio == NULL || ectx == NULL || !OSSL_ENCODER_to_bio(ectx, bio)) {
        exit(2);
    }
    OSSL_ENCODER_CTX_free(ectx);
    bio_to_pem(bio, &rsa2048_pkcs1);
    EVP_PKEY_free(k);

    k = EVP_RSA_gen(1024);
    pub_pem(k, &rsa1024_pub);
    EVP_PKEY_free(k);

    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (k == NULL) {
        exit(2);
    }
    pub_pem(k, &ed25519_pub);
    EVP_PKEY_free(k);
}


static int
check_key(ac_alg_t alg, const void *key, size_t len)
{
    ac_error_t  err;

    memset(&err, 0, sizeof(err));
    return ac_partner_key_check(alg, key, len, &err);
}


TEST(test_alg_names)
{
    ac_alg_t  alg;

    CHECK_INT(ac_alg_parse("HS256", &alg), AC_OK);
    CHECK_INT(alg, AC_ALG_HS256);
    CHECK_INT(ac_alg_parse("RS256", &alg), AC_OK);
    CHECK_INT(alg, AC_ALG_RS256);
    CHECK_INT(ac_alg_parse("ES256", &alg), AC_OK);
    CHECK_INT(alg, AC_ALG_ES256);

    CHECK_INT(ac_alg_parse("none", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("None", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("es256", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("HS512", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("PS256", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse("ES256 ", &alg), AC_ERR_INVALID);
    CHECK_INT(ac_alg_parse(NULL, &alg), AC_ERR_INVALID);

    CHECK_STR(ac_alg_name(AC_ALG_HS256), "HS256");
    CHECK_STR(ac_alg_name(AC_ALG_RS256), "RS256");
    CHECK_STR(ac_alg_name(AC_ALG_ES256), "ES256");
    CHECK_STR(ac_alg_name(AC_ALG_NONE), "none");
    CHECK_STR(ac_alg_name((ac_alg_t) 42), "none");
}


TEST(test_partner_ids)
{
    char  id[AC_PARTNER_ID_MAX + 2];

    CHECK_INT(ac_partner_id_check("acme"), AC_OK);
    CHECK_INT(ac_partner_id_check("caf.region-nord_2"), AC_OK);
    CHECK_INT(ac_partner_id_check("0"), AC_OK);

    CHECK_INT(ac_partner_id_check(""), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check(NULL), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("Acme"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("-acme"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check(".acme"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("acme:x"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("ac me"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("acme/.."), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("acm\xc3\xa9"), AC_ERR_INVALID);
    CHECK_INT(ac_partner_id_check("acme\n"), AC_ERR_INVALID);

    memset(id, 'a', AC_PARTNER_ID_MAX);
    id[AC_PARTNER_ID_MAX] = '\0';
    CHECK_INT(ac_partner_id_check(id), AC_OK);
    id[AC_PARTNER_ID_MAX] = 'a';
    id[AC_PARTNER_ID_MAX + 1] = '\0';
    CHECK_INT(ac_partner_id_check(id), AC_ERR_TOO_LONG);
}


TEST(test_es256_keys)
{
    ac_error_t  err;
    char        buf[1024];

    CHECK_INT(check_key(AC_ALG_ES256, ec256_pub.pem, ec256_pub.len), AC_OK);

    /* blank lines around are harmless */
    snprintf(buf, sizeof(buf), "\n\n%s\n", ec256_pub.pem);
    CHECK_INT(check_key(AC_ALG_ES256, buf, strlen(buf)), AC_OK);

    CHECK_INT(check_key(AC_ALG_ES256, ec384_pub.pem, ec384_pub.len),
              AC_ERR_KEY);
    memset(&err, 0, sizeof(err));
    ac_partner_key_check(AC_ALG_ES256, ec384_pub.pem, ec384_pub.len, &err);
    CHECK_INT(err.code, AC_ERR_KEY);
    CHECK(strstr(err.msg, "P-256") != NULL);

    CHECK_INT(check_key(AC_ALG_ES256, rsa2048_pub.pem, rsa2048_pub.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_ES256, ed25519_pub.pem, ed25519_pub.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_ES256, ec256_priv.pem, ec256_priv.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_ES256, ec256_der, ec256_der_len), AC_ERR_KEY);

    /* the public key followed by the private one */
    snprintf(buf, sizeof(buf), "%s%s", ec256_pub.pem, ec256_priv.pem);
    CHECK_INT(check_key(AC_ALG_ES256, buf, strlen(buf)), AC_ERR_KEY);

    /* truncated and corrupted */
    CHECK_INT(check_key(AC_ALG_ES256, ec256_pub.pem, ec256_pub.len / 2),
              AC_ERR_KEY);
    snprintf(buf, sizeof(buf), "%s", ec256_pub.pem);
    buf[40] = buf[40] == 'A' ? 'B' : 'A';
    buf[41] = '!';
    CHECK_INT(check_key(AC_ALG_ES256, buf, strlen(buf)), AC_ERR_KEY);

    CHECK_INT(check_key(AC_ALG_ES256, "", 0), AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_ES256, NULL, 10), AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_NONE, ec256_pub.pem, ec256_pub.len),
              AC_ERR_INVALID);
}


TEST(test_rs256_keys)
{
    ac_error_t  err;

    CHECK_INT(check_key(AC_ALG_RS256, rsa2048_pub.pem, rsa2048_pub.len),
              AC_OK);
    CHECK_INT(check_key(AC_ALG_RS256, rsa2048_pkcs1.pem, rsa2048_pkcs1.len),
              AC_OK);
    CHECK(strstr(rsa2048_pkcs1.pem, "-----BEGIN RSA PUBLIC KEY-----")
          != NULL);

    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_partner_key_check(AC_ALG_RS256, rsa1024_pub.pem,
                                   rsa1024_pub.len, &err), AC_ERR_KEY);
    CHECK(strstr(err.msg, "1024") != NULL);

    CHECK_INT(check_key(AC_ALG_RS256, rsa2048_priv.pem, rsa2048_priv.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_RS256, ec256_pub.pem, ec256_pub.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_ES256, rsa2048_pkcs1.pem, rsa2048_pkcs1.len),
              AC_ERR_KEY);
}


TEST(test_hs256_secrets)
{
    char        big[AC_PARTNER_KEY_MAX + 2];
    ac_error_t  err;
    static const char  good[] = "q8Vw3kL0pZr7XyT2bN5mC1dF6gH9jK4s";

    CHECK_INT(check_key(AC_ALG_HS256, good, 32), AC_OK);
    CHECK_INT(check_key(AC_ALG_HS256, good, 31), AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_HS256,
                        "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x00\xff"
                        "\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0"
                        "\xd0\xe0\xf0\x11\x22\x33\x44\x55", 32), AC_OK);

    /* algorithm confusion: a public key must never become a secret */
    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_partner_key_check(AC_ALG_HS256, ec256_pub.pem,
                                   ec256_pub.len, &err), AC_ERR_KEY);
    CHECK(strstr(err.msg, "PEM") != NULL);
    CHECK_INT(check_key(AC_ALG_HS256, rsa2048_pub.pem, rsa2048_pub.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_HS256, rsa2048_pkcs1.pem, rsa2048_pkcs1.len),
              AC_ERR_KEY);
    CHECK_INT(check_key(AC_ALG_HS256, ec256_priv.pem, ec256_priv.len),
              AC_ERR_KEY);
    /* the PEM body without its armour lines is still a key */
    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_partner_key_check(AC_ALG_HS256, ec256_der, ec256_der_len,
                                   &err), AC_ERR_KEY);
    CHECK(strstr(err.msg, "looks like") != NULL);
    CHECK_INT(check_key(AC_ALG_HS256, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"
                        "IKcS2jWh", 44), AC_ERR_KEY);

    CHECK_INT(check_key(AC_ALG_HS256, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                        36), AC_ERR_KEY);

    memset(big, 'x', sizeof(big));
    memcpy(big, good, 32);
    CHECK_INT(check_key(AC_ALG_HS256, big, AC_PARTNER_KEY_MAX), AC_OK);
    CHECK_INT(check_key(AC_ALG_HS256, big, AC_PARTNER_KEY_MAX + 1),
              AC_ERR_TOO_LONG);
}


int
main(void)
{
    make_keys();

    RUN(test_alg_names);
    RUN(test_partner_ids);
    RUN(test_es256_keys);
    RUN(test_rs256_keys);
    RUN(test_hs256_secrets);

    return CHECK_DONE();
}
