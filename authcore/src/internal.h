/*
 * authcore: private helpers shared by the library's source files.
 * Not installed, not part of the public API.
 */

#ifndef AUTHCORE_INTERNAL_H
#define AUTHCORE_INTERNAL_H

#include <stdarg.h>

#include <openssl/types.h>

#include "authcore.h"

/* Sets err->code and a printf-style err->msg (truncated to fit); does
 * nothing when err is NULL. */
void ac_error_set(ac_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A PEM public key of this type ("EC", "RSA"), or NULL. */
EVP_PKEY *ac_pem_pubkey_decode(const void *pem, size_t len,
    const char *type);

/* Lower-case RFC 4648 base32 alphabet, used for account ids and
 * recovery codes. */
extern const char ac_base32_lower[33];

/* Starts cmd as "EVAL script nkeys"; the script is referenced in place. */
void ac_cmd_eval(ac_cmd_t *cmd, const char *script, size_t len,
    const char *nkeys);

/* Writes PREFIX + name + arg + suffix (arg and suffix may be NULL: a
 * prefix such as "P sess:", for a script to append an id to);
 * AC_ERR_TOO_LONG if it does not fit AC_KEY_MAX. "arg" has been checked
 * by the caller (an id, a digest). */
int ac_key_build(const ac_config_t *cfg, const char *name, const char *arg,
    const char *suffix, char out[AC_KEY_MAX]);

/* Appends that key to cmd as a copied argument. */
int ac_cmd_key_arg(ac_cmd_t *cmd, const ac_config_t *cfg, const char *name,
    const char *arg, const char *suffix);

/* The value of "P inv:PARTNER" for an invited email: "SINCE SEALED", the
 * email sealed to this partner. */
int ac_inv_value_seal(const ac_keys_t *keys, const char *partner,
    const char *email, int64_t now, char out[AC_INVITE_MAX]);

/* AC_OK for an account id as the log takes it: base32 lower-case, 1 to
 * AC_ID_LEN characters (log.c). */
int ac_log_account_check(const char *s, size_t len);

#endif /* AUTHCORE_INTERNAL_H */
