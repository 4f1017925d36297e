/*
 * authcore: return codes, errors, initialisation, buffers, small helpers.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_BASE_H
#define AUTHCORE_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct redisReply;

/* ---------------------------------------------------------------- errors */

#define AC_OK              0
#define AC_REHASH          1    /* password matched, parameters changed */

#define AC_ERR_NOMEM      -1
#define AC_ERR_INVALID    -2    /* malformed argument or input */
#define AC_ERR_CONFIG     -3    /* bad configuration file or value */
#define AC_ERR_IO         -4    /* a file could not be read or written */
#define AC_ERR_CRYPTO     -5    /* the crypto library failed */
#define AC_ERR_MISMATCH   -6    /* wrong password, code or tag */
#define AC_ERR_NOT_FOUND  -7
#define AC_ERR_EXISTS     -8
#define AC_ERR_TOO_LONG   -9
#define AC_ERR_BAD_EMAIL  -10
#define AC_ERR_REPLAY     -11   /* a one-time value was used again */
#define AC_ERR_REDIS      -12   /* unexpected or error reply */
#define AC_ERR_KEY        -13   /* unusable key material */
#define AC_ERR_LAST       -13

#define AC_ERRMSG_MAX     256

typedef struct {
    int   code;
    char  msg[AC_ERRMSG_MAX];
} ac_error_t;

/* Static English text for a return code; never NULL. */
const char *ac_strerror(int rc);

/* Process-wide initialisation (liboath); idempotent, call before threads. */
int ac_init(void);
void ac_done(void);

/* ------------------------------------------------------ growable buffer */

/* A malloc'd, NUL-terminated byte buffer. After an allocation failure
 * "oom" stays set and further appends do nothing, so callers may append
 * freely and check ac_buf_status() once. */
typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
    int      oom;
} ac_buf_t;

void ac_buf_init(ac_buf_t *b);
void ac_buf_free(ac_buf_t *b);       /* wipes the contents too */
void ac_buf_reset(ac_buf_t *b);
int ac_buf_status(const ac_buf_t *b); /* AC_OK or AC_ERR_NOMEM */
void ac_buf_add(ac_buf_t *b, const void *s, size_t len);
void ac_buf_str(ac_buf_t *b, const char *s);
void ac_buf_printf(ac_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string literal, quotes included; invalid UTF-8 bytes become
 * U+FFFD, control characters \u00XX. */
void ac_buf_json_str(ac_buf_t *b, const char *s, size_t len);
/* HTML text or attribute value: & < > " ' escaped. */
void ac_buf_html(ac_buf_t *b, const char *s, size_t len);

/* ------------------------------------------------------- small helpers */

int ac_random(void *buf, size_t len);
/* 1 when equal, 0 otherwise, in time independent of the contents. */
int ac_ct_equal(const void *a, const void *b, size_t len);
void ac_cleanse(void *p, size_t len);

#define AC_B64URL_LEN(n)  (((n) * 4 + 2) / 3)
/* Unpadded base64url; out must hold AC_B64URL_LEN(len) + 1 bytes. */
size_t ac_b64url_encode(const void *in, size_t len, char *out);

#endif /* AUTHCORE_BASE_H */
