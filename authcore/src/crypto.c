/*
 * authcore: the secret file, keys derived from it with HKDF-SHA256, keyed
 * digests, sealing with AES-256-GCM, random tokens and base64url.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "internal.h"

#define AC_KEY_LEN        32
#define AC_NONCE_LEN      AC_GCM_NONCE_LEN
#define AC_TAG_LEN        AC_GCM_TAG_LEN
#define AC_SEAL_PREFIX    "v1."
#define AC_SEAL_MAX       (1024 * 1024)

struct ac_keys_s {
    unsigned char  mac[AC_PURPOSE_COUNT][AC_KEY_LEN];
    unsigned char  seal[AC_KEY_LEN];
};

static int ac_hkdf(const unsigned char *secret, size_t len, const char *info,
    unsigned char out[AC_KEY_LEN]);
static int ac_b64url_value(int c);

const char  ac_base32_lower[33] = "abcdefghijklmnopqrstuvwxyz234567";

/* HKDF "info" labels: changing one changes every key derived from it. */
static const char  *ac_purpose_info[AC_PURPOSE_COUNT] = {
    "guichet v1 session",
    "guichet v1 recovery",
    "guichet v1 email",
    "guichet v1 csrf",
    "guichet v1 token",
    "guichet v1 log",
    "guichet v1 throttle"
};

static const char  ac_seal_info[] = "guichet v1 seal aes-256-gcm";
static const char  ac_hkdf_salt[] = "guichet authcore";

static const char  ac_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


int
ac_secret_create(const char *path, ac_error_t *err)
{
    int            fd, rc;
    ssize_t        n;
    unsigned char  secret[AC_SECRET_NEW];

    if (path == NULL || path[0] == '\0') {
        ac_error_set(err, AC_ERR_INVALID, "no secret file given");
        return AC_ERR_INVALID;
    }

    if (ac_random(secret, sizeof(secret)) != AC_OK) {
        ac_error_set(err, AC_ERR_CRYPTO, "no random bytes available");
        return AC_ERR_CRYPTO;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd == -1) {
        rc = (errno == EEXIST) ? AC_ERR_EXISTS : AC_ERR_IO;
        ac_error_set(err, rc, "%s: %s", path, strerror(errno));
        goto failed;
    }

    /* The umask may have removed bits, never added any; make sure. */
    if (fchmod(fd, 0600) == -1) {
        goto io_failed;
    }

    n = write(fd, secret, sizeof(secret));
    if (n != (ssize_t) sizeof(secret)) {
        if (n >= 0) {
            errno = EIO;
        }
        goto io_failed;
    }

    if (fsync(fd) == -1) {
        goto io_failed;
    }

    if (close(fd) == -1) {
        fd = -1;
        goto io_failed;
    }

    OPENSSL_cleanse(secret, sizeof(secret));

    return AC_OK;

io_failed:

    rc = AC_ERR_IO;
    ac_error_set(err, rc, "%s: %s", path, strerror(errno));

    if (fd != -1) {
        (void) close(fd);
    }

    (void) unlink(path);

failed:

    OPENSSL_cleanse(secret, sizeof(secret));

    return rc;
}


int
ac_keys_load(const char *path, ac_keys_t **keys, ac_error_t *err)
{
    int            fd, rc;
    size_t         len;
    ssize_t        n;
    struct stat    st;
    unsigned char  secret[AC_SECRET_MAX + 1];

    fd = -1;
    len = 0;
    rc = AC_ERR_IO;

    if (path == NULL || keys == NULL) {
        ac_error_set(err, AC_ERR_INVALID, "no secret file given");
        return AC_ERR_INVALID;
    }

    *keys = NULL;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd == -1) {
        rc = AC_ERR_IO;
        ac_error_set(err, rc, "%s: %s", path, strerror(errno));
        goto failed;
    }

    if (fstat(fd, &st) == -1) {
        rc = AC_ERR_IO;
        ac_error_set(err, rc, "%s: %s", path, strerror(errno));
        goto failed;
    }

    if (!S_ISREG(st.st_mode)) {
        rc = AC_ERR_KEY;
        ac_error_set(err, rc, "%s: not a regular file", path);
        goto failed;
    }

    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = AC_ERR_KEY;
        ac_error_set(err, rc, "%s: readable or writable by group or others "
                     "(mode %04o); chmod 600 it", path,
                     (unsigned) (st.st_mode & 07777));
        goto failed;
    }

    /* One byte more than allowed is read to detect an oversized file. */
    while (len < sizeof(secret)) {
        n = read(fd, secret + len, sizeof(secret) - len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            rc = AC_ERR_IO;
            ac_error_set(err, rc, "%s: %s", path, strerror(errno));
            goto failed;
        }

        if (n == 0) {
            break;
        }

        len += (size_t) n;
    }

    if (len < AC_SECRET_MIN || len > AC_SECRET_MAX) {
        rc = AC_ERR_KEY;
        ac_error_set(err, rc, "%s: the secret must be %d to %d bytes, not "
                     "%s%zu", path, AC_SECRET_MIN, AC_SECRET_MAX,
                     len > AC_SECRET_MAX ? "more than " : "",
                     len > AC_SECRET_MAX ? (size_t) AC_SECRET_MAX : len);
        goto failed;
    }

    rc = ac_keys_from_secret(secret, len, keys);
    if (rc != AC_OK) {
        ac_error_set(err, rc, "%s: %s", path, ac_strerror(rc));
    }

failed:

    if (fd != -1) {
        (void) close(fd);
    }

    OPENSSL_cleanse(secret, sizeof(secret));

    return rc;
}


int
ac_keys_from_secret(const unsigned char *secret, size_t len,
    ac_keys_t **keys)
{
    int         rc;
    size_t      i;
    ac_keys_t  *k;

    if (keys == NULL) {
        return AC_ERR_INVALID;
    }

    *keys = NULL;

    if (secret == NULL || len < AC_SECRET_MIN || len > AC_SECRET_MAX) {
        return AC_ERR_KEY;
    }

    k = malloc(sizeof(ac_keys_t));
    if (k == NULL) {
        return AC_ERR_NOMEM;
    }

    for (i = 0; i < AC_PURPOSE_COUNT; i++) {
        rc = ac_hkdf(secret, len, ac_purpose_info[i], k->mac[i]);
        if (rc != AC_OK) {
            goto failed;
        }
    }

    rc = ac_hkdf(secret, len, ac_seal_info, k->seal);
    if (rc != AC_OK) {
        goto failed;
    }

    *keys = k;

    return AC_OK;

failed:

    ac_keys_free(k);

    return rc;
}


void
ac_keys_free(ac_keys_t *keys)
{
    if (keys == NULL) {
        return;
    }

    OPENSSL_cleanse(keys, sizeof(ac_keys_t));
    free(keys);
}


static int
ac_hkdf(const unsigned char *secret, size_t len, const char *info,
    unsigned char out[AC_KEY_LEN])
{
    int           rc;
    EVP_KDF      *kdf;
    EVP_KDF_CTX  *ctx;
    OSSL_PARAM    params[5];

    ctx = NULL;
    rc = AC_ERR_CRYPTO;

    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf == NULL) {
        return AC_ERR_CRYPTO;
    }

    ctx = EVP_KDF_CTX_new(kdf);
    if (ctx == NULL) {
        goto failed;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  (void *) secret, len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                  (void *) ac_hkdf_salt,
                                                  sizeof(ac_hkdf_salt) - 1);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  (void *) info,
                                                  strlen(info));
    params[4] = OSSL_PARAM_construct_end();

    if (EVP_KDF_derive(ctx, out, AC_KEY_LEN, params) == 1) {
        rc = AC_OK;
    }

failed:

    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);

    return rc;
}


int
ac_mac(const ac_keys_t *keys, ac_purpose_t purpose, const void *data,
    size_t len, unsigned char out[AC_MAC_LEN])
{
    unsigned int  outlen;

    if (keys == NULL || out == NULL || (data == NULL && len != 0)
        || (unsigned) purpose >= AC_PURPOSE_COUNT)
    {
        return AC_ERR_INVALID;
    }

    outlen = AC_MAC_LEN;

    if (HMAC(EVP_sha256(), keys->mac[purpose], AC_KEY_LEN,
             data ? data : (const void *) "", len, out, &outlen) == NULL
        || outlen != AC_MAC_LEN)
    {
        return AC_ERR_CRYPTO;
    }

    return AC_OK;
}


int
ac_digest(const ac_keys_t *keys, ac_purpose_t purpose, const void *data,
    size_t len, char out[AC_DIGEST_LEN + 1])
{
    int            rc;
    unsigned char  mac[AC_MAC_LEN];

    rc = ac_mac(keys, purpose, data, len, mac);
    if (rc != AC_OK) {
        return rc;
    }

    (void) ac_b64url_encode(mac, 16, out);

    OPENSSL_cleanse(mac, sizeof(mac));

    return AC_OK;
}


int
ac_token_new(char out[AC_TOKEN_LEN + 1])
{
    unsigned char  raw[32];

    if (ac_random(raw, sizeof(raw)) != AC_OK) {
        return AC_ERR_CRYPTO;
    }

    (void) ac_b64url_encode(raw, sizeof(raw), out);

    OPENSSL_cleanse(raw, sizeof(raw));

    return AC_OK;
}


int
ac_account_id_new(char out[AC_ID_LEN + 1])
{
    size_t         i, bit;
    unsigned       v;
    unsigned char  raw[AC_ID_LEN * 5 / 8];

    if (ac_random(raw, sizeof(raw)) != AC_OK) {
        return AC_ERR_CRYPTO;
    }

    for (i = 0; i < AC_ID_LEN; i++) {
        bit = i * 5;
        v = ((unsigned) raw[bit / 8] << 8)
            | (bit / 8 + 1 < sizeof(raw) ? raw[bit / 8 + 1] : 0);
        out[i] = ac_base32_lower[(v >> (11 - bit % 8)) & 31];
    }

    out[AC_ID_LEN] = '\0';

    return AC_OK;
}


/*
 * The sealing key's AAD is the version prefix followed by the caller's
 * aad, so a value cannot be moved to another version or owner.
 */
int
ac_seal(const ac_keys_t *keys, const void *plain, size_t len,
    const char *aad, char *out, size_t outsize)
{
    int             rc;
    size_t          rawlen;
    unsigned char  *raw;

    if (keys == NULL || out == NULL || (plain == NULL && len != 0)) {
        return AC_ERR_INVALID;
    }

    if (len > AC_SEAL_MAX) {
        return AC_ERR_TOO_LONG;
    }

    if (outsize < (size_t) AC_SEALED_LEN(len) + 1) {
        return AC_ERR_TOO_LONG;
    }

    if (aad == NULL) {
        aad = "";
    }

    rawlen = AC_NONCE_LEN + len + AC_TAG_LEN;

    raw = malloc(rawlen);
    if (raw == NULL) {
        return AC_ERR_NOMEM;
    }

    rc = ac_gcm_seal(keys->seal, AC_SEAL_PREFIX, sizeof(AC_SEAL_PREFIX) - 1,
                     aad, strlen(aad), plain, len, raw);

    if (rc == AC_OK) {
        memcpy(out, AC_SEAL_PREFIX, sizeof(AC_SEAL_PREFIX) - 1);
        (void) ac_b64url_encode(raw, rawlen,
                                out + sizeof(AC_SEAL_PREFIX) - 1);
    }

    OPENSSL_cleanse(raw, rawlen);
    free(raw);

    return rc == AC_OK ? AC_OK : AC_ERR_CRYPTO;
}


/*
 * Anything that is not a value this key sealed for this aad, truncated,
 * re-encoded or otherwise modified, is AC_ERR_MISMATCH.
 */
int
ac_unseal(const ac_keys_t *keys, const char *sealed, const char *aad,
    unsigned char *out, size_t outsize, size_t *outlen)
{
    int             rc;
    size_t          len, rawlen, plainlen;
    unsigned char  *raw;

    if (keys == NULL || sealed == NULL || (out == NULL && outsize != 0)) {
        return AC_ERR_INVALID;
    }

    if (outlen) {
        *outlen = 0;
    }

    if (aad == NULL) {
        aad = "";
    }

    len = strlen(sealed);

    if (len < sizeof(AC_SEAL_PREFIX) - 1
        || memcmp(sealed, AC_SEAL_PREFIX, sizeof(AC_SEAL_PREFIX) - 1) != 0
        || len > (size_t) AC_SEALED_LEN(AC_SEAL_MAX))
    {
        return AC_ERR_MISMATCH;
    }

    sealed += sizeof(AC_SEAL_PREFIX) - 1;
    len -= sizeof(AC_SEAL_PREFIX) - 1;

    rc = AC_ERR_MISMATCH;
    rawlen = len * 3 / 4 + 1;

    raw = malloc(rawlen);
    if (raw == NULL) {
        return AC_ERR_NOMEM;
    }

    if (ac_b64url_decode(sealed, len, raw, rawlen, &rawlen) != AC_OK
        || rawlen < AC_NONCE_LEN + AC_TAG_LEN)
    {
        goto failed;
    }

    plainlen = rawlen - AC_NONCE_LEN - AC_TAG_LEN;

    if (plainlen > outsize) {
        rc = AC_ERR_TOO_LONG;
        goto failed;
    }

    rc = ac_gcm_open(keys->seal, AC_SEAL_PREFIX, sizeof(AC_SEAL_PREFIX) - 1,
                     aad, strlen(aad), raw, rawlen, out);

    if (rc == AC_ERR_NOMEM) {
        rc = AC_ERR_CRYPTO;
    }

    if (rc == AC_OK && outlen) {
        *outlen = plainlen;
    }

failed:

    OPENSSL_cleanse(raw, len * 3 / 4 + 1);
    free(raw);

    return rc;
}


int
ac_gcm_seal(const unsigned char *key, const void *a1, size_t a1len,
    const void *a2, size_t a2len, const unsigned char *plain, size_t len,
    unsigned char *raw)
{
    int              rc, n;
    EVP_CIPHER_CTX  *ctx;

    rc = ac_random(raw, AC_GCM_NONCE_LEN);
    if (rc != AC_OK) {
        return rc;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return AC_ERR_NOMEM;
    }

    rc = AC_ERR_CRYPTO;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, a1, (int) a1len) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, a2, (int) a2len) != 1)
    {
        goto failed;
    }

    if (len != 0
        && (EVP_EncryptUpdate(ctx, raw + AC_GCM_NONCE_LEN, &n, plain,
                              (int) len)
            != 1
            || (size_t) n != len))
    {
        goto failed;
    }

    if (EVP_EncryptFinal_ex(ctx, raw + AC_GCM_NONCE_LEN + len, &n) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AC_GCM_TAG_LEN,
                               raw + AC_GCM_NONCE_LEN + len)
           != 1)
    {
        goto failed;
    }

    rc = AC_OK;

failed:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


int
ac_gcm_open(const unsigned char *key, const void *a1, size_t a1len,
    const void *a2, size_t a2len, const unsigned char *raw, size_t rawlen,
    unsigned char *plain)
{
    int              rc, n;
    size_t           len;
    EVP_CIPHER_CTX  *ctx;

    if (rawlen < AC_GCM_NONCE_LEN + AC_GCM_TAG_LEN) {
        return AC_ERR_MISMATCH;
    }

    len = rawlen - AC_GCM_NONCE_LEN - AC_GCM_TAG_LEN;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return AC_ERR_NOMEM;
    }

    rc = AC_ERR_CRYPTO;

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, a1, (int) a1len) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, a2, (int) a2len) != 1
        || (len != 0
            && EVP_DecryptUpdate(ctx, plain, &n, raw + AC_GCM_NONCE_LEN,
                                 (int) len)
               != 1)
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AC_GCM_TAG_LEN,
                               (void *) (raw + AC_GCM_NONCE_LEN + len))
           != 1)
    {
        goto failed;
    }

    /* GCM releases the plaintext before it checks the tag */
    rc = EVP_DecryptFinal_ex(ctx, plain + len, &n) == 1 ? AC_OK
                                                        : AC_ERR_MISMATCH;

failed:

    if (rc != AC_OK && len != 0) {
        OPENSSL_cleanse(plain, len);
    }

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


int
ac_random(void *buf, size_t len)
{
    if (len == 0) {
        return AC_OK;
    }

    if (buf == NULL || len > INT_MAX) {
        return AC_ERR_INVALID;
    }

    if (RAND_bytes(buf, (int) len) != 1) {
        return AC_ERR_CRYPTO;
    }

    return AC_OK;
}


int
ac_ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}


void
ac_cleanse(void *p, size_t len)
{
    if (p != NULL && len != 0) {
        OPENSSL_cleanse(p, len);
    }
}


/*
 * OpenSSL has only padded standard base64, whose decoder skips
 * whitespace; tokens and cookies need the strict unpadded URL alphabet.
 */
size_t
ac_b64url_encode(const void *in, size_t len, char *out)
{
    size_t                i, o;
    uint32_t              v;
    const unsigned char  *p;

    p = in;
    o = 0;

    for (i = 0; i + 3 <= len; i += 3) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8 | p[i + 2];
        out[o++] = ac_b64url_alphabet[v >> 18];
        out[o++] = ac_b64url_alphabet[(v >> 12) & 63];
        out[o++] = ac_b64url_alphabet[(v >> 6) & 63];
        out[o++] = ac_b64url_alphabet[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) p[i] << 16;
        out[o++] = ac_b64url_alphabet[v >> 18];
        out[o++] = ac_b64url_alphabet[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) p[i] << 16 | (uint32_t) p[i + 1] << 8;
        out[o++] = ac_b64url_alphabet[v >> 18];
        out[o++] = ac_b64url_alphabet[(v >> 12) & 63];
        out[o++] = ac_b64url_alphabet[(v >> 6) & 63];
    }

    out[o] = '\0';

    return o;
}


static int
ac_b64url_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/*
 * Only the canonical encoding is accepted: a dangling sixth character or
 * non-zero unused bits would let two strings decode to the same bytes.
 */
int
ac_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen)
{
    int       c;
    size_t    i, o, need;
    uint32_t  acc;
    unsigned  bits;

    if (outlen) {
        *outlen = 0;
    }

    if ((in == NULL && len != 0) || len % 4 == 1) {
        return AC_ERR_INVALID;
    }

    need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);

    if (need > outsize) {
        return AC_ERR_TOO_LONG;
    }

    acc = 0;
    bits = 0;
    o = 0;

    for (i = 0; i < len; i++) {
        c = ac_b64url_value((unsigned char) in[i]);
        if (c < 0) {
            goto failed;
        }

        acc = (acc << 6 | (uint32_t) c) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char) (acc >> bits);
        }
    }

    if (acc & ((1u << bits) - 1)) {
        goto failed;
    }

    if (outlen) {
        *outlen = o;
    }

    return AC_OK;

failed:

    if (o != 0) {
        OPENSSL_cleanse(out, o);
    }

    return AC_ERR_INVALID;
}
