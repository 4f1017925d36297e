/*
 * authcore: passwords.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_PASSWORD_H
#define AUTHCORE_PASSWORD_H

#include "config.h"

/* ----------------------------------------------------------- passwords */

#define AC_PASSWORD_MIN   8
#define AC_PASSWORD_MAX   1024
#define AC_PHC_MAX        160

typedef struct {
    uint32_t  t;        /* iterations */
    uint32_t  m;        /* memory, KiB */
    uint32_t  p;        /* lanes */
} ac_argon2_params_t;

void ac_argon2_params_from_config(const ac_config_t *cfg,
    ac_argon2_params_t *params);

/* AC_ERR_INVALID when shorter than AC_PASSWORD_MIN characters or longer
 * than AC_PASSWORD_MAX bytes, or when it holds a NUL byte. */
int ac_password_policy(const char *pw, size_t len);

/* argon2id with a random 16-byte salt, as a PHC string. */
int ac_password_hash(const ac_argon2_params_t *params, const char *pw,
    size_t len, char out[AC_PHC_MAX]);

/* AC_OK, AC_REHASH (matched; stored parameters differ from "params"),
 * or AC_ERR_MISMATCH. With phc == NULL (unknown account, no password)
 * a dummy hash of the same cost is verified and AC_ERR_MISMATCH
 * returned, so both cases cost the same. A phc that is not an argon2id
 * PHC string costs the same dummy hash and gives AC_ERR_INVALID. */
int ac_password_verify(const ac_argon2_params_t *params, const char *phc,
    const char *pw, size_t len);

#endif /* AUTHCORE_PASSWORD_H */
