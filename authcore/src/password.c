/*
 * authcore: passwords, hashed with argon2id (libargon2) into PHC strings.
 */

#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>

#include "internal.h"

#define AC_SALT_LEN   16
#define AC_HASH_LEN   32

static int ac_phc_number(const char **p, const char *name, uint32_t *v);
static int ac_phc_params(const char *phc, ac_argon2_params_t *params);
static int ac_dummy_verify(const ac_argon2_params_t *params, const char *pw,
    size_t len);

/* A zero salt and hash in PHC's unpadded base64: never a real hash. */
static const char  ac_dummy_salt[] = "AAAAAAAAAAAAAAAAAAAAAA";
static const char  ac_dummy_hash[] =
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";


int
ac_password_policy(const char *pw, size_t len)
{
    size_t  i, chars;

    if (pw == NULL || len > AC_PASSWORD_MAX) {
        return AC_ERR_INVALID;
    }

    if (memchr(pw, '\0', len) != NULL) {
        return AC_ERR_INVALID;
    }

    /* Characters, not bytes: UTF-8 continuation bytes do not count. */
    chars = 0;

    for (i = 0; i < len; i++) {
        if (((unsigned char) pw[i] & 0xc0) != 0x80) {
            chars++;
        }
    }

    return chars < AC_PASSWORD_MIN ? AC_ERR_INVALID : AC_OK;
}


int
ac_password_hash(const ac_argon2_params_t *params, const char *pw,
    size_t len, char out[AC_PHC_MAX])
{
    int            rc;
    unsigned char  salt[AC_SALT_LEN];

    if (params == NULL || pw == NULL || out == NULL
        || len > AC_PASSWORD_MAX)
    {
        return AC_ERR_INVALID;
    }

    if (argon2_encodedlen(params->t, params->m, params->p, AC_SALT_LEN,
                          AC_HASH_LEN, Argon2_id) > AC_PHC_MAX)
    {
        return AC_ERR_TOO_LONG;
    }

    if (ac_random(salt, sizeof(salt)) != AC_OK) {
        return AC_ERR_CRYPTO;
    }

    rc = argon2_hash(params->t, params->m, params->p, pw, len, salt,
                     sizeof(salt), NULL, AC_HASH_LEN, out, AC_PHC_MAX,
                     Argon2_id, ARGON2_VERSION_13);

    OPENSSL_cleanse(salt, sizeof(salt));

    switch (rc) {
    case ARGON2_OK:
        return AC_OK;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return AC_ERR_NOMEM;
    case ARGON2_ENCODING_FAIL:
        return AC_ERR_TOO_LONG;
    case ARGON2_THREAD_FAIL:
        return AC_ERR_CRYPTO;
    default:
        /* Out-of-range t, m or p. */
        return AC_ERR_INVALID;
    }
}


/* "NAME=DIGITS" with no sign, no leading zero, within 32 bits. */
static int
ac_phc_number(const char **p, const char *name, uint32_t *v)
{
    size_t       n;
    uint64_t     acc;
    const char  *s;

    s = *p;
    n = strlen(name);

    if (strncmp(s, name, n) != 0 || s[n] != '=') {
        return AC_ERR_INVALID;
    }

    s += n + 1;

    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
    {
        return AC_ERR_INVALID;
    }

    acc = 0;

    while (*s >= '0' && *s <= '9') {
        acc = acc * 10 + (uint64_t) (*s++ - '0');
        if (acc > UINT32_MAX) {
            return AC_ERR_INVALID;
        }
    }

    *v = (uint32_t) acc;
    *p = s;

    return AC_OK;
}


/* The cost parameters of "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH". */
static int
ac_phc_params(const char *phc, ac_argon2_params_t *params)
{
    uint32_t     version;
    const char  *p;

    if (strlen(phc) >= AC_PHC_MAX || strncmp(phc, "$argon2id$", 10) != 0) {
        return AC_ERR_INVALID;
    }

    p = phc + 10;

    if (ac_phc_number(&p, "v", &version) != AC_OK
        || version != ARGON2_VERSION_13 || *p++ != '$'
        || ac_phc_number(&p, "m", &params->m) != AC_OK || *p++ != ','
        || ac_phc_number(&p, "t", &params->t) != AC_OK || *p++ != ','
        || ac_phc_number(&p, "p", &params->p) != AC_OK || *p != '$')
    {
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


static int
ac_dummy_verify(const ac_argon2_params_t *params, const char *pw,
    size_t len)
{
    int   n, rc;
    char  phc[AC_PHC_MAX];

    n = snprintf(phc, sizeof(phc), "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s",
                 (unsigned) params->m, (unsigned) params->t,
                 (unsigned) params->p, ac_dummy_salt, ac_dummy_hash);
    if (n < 0 || (size_t) n >= sizeof(phc)) {
        return AC_ERR_INVALID;
    }

    rc = argon2id_verify(phc, pw, len);

    if (rc == ARGON2_OK || rc == ARGON2_VERIFY_MISMATCH) {
        return AC_ERR_MISMATCH;
    }

    return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? AC_ERR_NOMEM
                                                : AC_ERR_INVALID;
}


int
ac_password_verify(const ac_argon2_params_t *params, const char *phc,
    const char *pw, size_t len)
{
    int                 rc;
    ac_argon2_params_t  stored;

    if (params == NULL || (pw == NULL && len != 0)) {
        return AC_ERR_INVALID;
    }

    if (pw == NULL) {
        pw = "";
    }

    /* An overlong password costs one dummy hash of a bounded input. */
    if (phc == NULL || len > AC_PASSWORD_MAX) {
        rc = ac_dummy_verify(params, pw, len > AC_PASSWORD_MAX ? 0 : len);
        return rc;
    }

    /* A damaged stored hash costs what a wrong password costs. */
    if (ac_phc_params(phc, &stored) != AC_OK) {
        (void) ac_dummy_verify(params, pw, len);
        return AC_ERR_INVALID;
    }

    rc = argon2id_verify(phc, pw, len);

    switch (rc) {
    case ARGON2_OK:
        break;
    case ARGON2_VERIFY_MISMATCH:
        return AC_ERR_MISMATCH;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return AC_ERR_NOMEM;
    default:
        return AC_ERR_INVALID;
    }

    if (stored.t != params->t || stored.m != params->m
        || stored.p != params->p)
    {
        return AC_REHASH;
    }

    return AC_OK;
}
