/*
 * authcore: the secret file, derived keys, MACs, digests, tokens, sealing.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_CRYPTO_H
#define AUTHCORE_CRYPTO_H

#include "base.h"

/* ----------------------------------------------------------------- keys */

#define AC_SECRET_MIN     32          /* bytes in the secret file */
#define AC_SECRET_MAX     4096
#define AC_SECRET_NEW     64          /* bytes written by ac_secret_create */

typedef struct ac_keys_s  ac_keys_t;  /* opaque: keys derived by HKDF */

typedef enum {
    AC_PURPOSE_SESSION = 0,   /* session and pending-2FA cookie digests */
    AC_PURPOSE_RECOVERY,      /* recovery code digests */
    AC_PURPOSE_EMAIL,         /* email index keys */
    AC_PURPOSE_CSRF,          /* CSRF tokens */
    AC_PURPOSE_TOKEN,         /* invitation / registration tokens */
    AC_PURPOSE_LOG,           /* connection log hash chain */
    AC_PURPOSE_THROTTLE,      /* throttle counter keys */
    AC_PURPOSE_COUNT
} ac_purpose_t;

/* Writes AC_SECRET_NEW random bytes to a new file, mode 0600 (O_EXCL). */
int ac_secret_create(const char *path, ac_error_t *err);

/* Reads the secret file (AC_SECRET_MIN..AC_SECRET_MAX bytes, not readable
 * by group or others) and derives one key per purpose plus the sealing
 * key with HKDF-SHA256. */
int ac_keys_load(const char *path, ac_keys_t **keys, ac_error_t *err);
void ac_keys_free(ac_keys_t *keys);

/* HMAC-SHA256 output length (ac_mac(), internal.h). */
#define AC_MAC_LEN        32

/* The keyed digest used as a Redis key or stored value in place of a
 * secret: HMAC-SHA256 truncated to 128 bits, base64url, 22 characters. */
#define AC_DIGEST_LEN     22
int ac_digest(const ac_keys_t *keys, ac_purpose_t purpose, const void *data,
    size_t len, char out[AC_DIGEST_LEN + 1]);

/* A fresh bearer token: 32 random bytes, base64url, 43 characters. */
#define AC_TOKEN_LEN      43
int ac_token_new(char out[AC_TOKEN_LEN + 1]);

/* AES-256-GCM under the sealing key, bound to "aad" (e.g. an account id).
 * The result is "v1." + base64url(nonce | ciphertext | tag), NUL-ended,
 * and fits AC_SEALED_LEN(len) + 1 bytes. Unsealing a modified value, or
 * with another aad or key, fails with AC_ERR_MISMATCH. */
#define AC_SEALED_LEN(n)  (3 + (((12 + (n) + 16) * 4 + 2) / 3))
int ac_seal(const ac_keys_t *keys, const void *plain, size_t len,
    const char *aad, char *out, size_t outsize);
int ac_unseal(const ac_keys_t *keys, const char *sealed, const char *aad,
    unsigned char *out, size_t outsize, size_t *outlen);

#endif /* AUTHCORE_CRYPTO_H */
