/*
 * authcore: the configuration reader's own declarations, shared by
 * config.c (the file and its key table) and config_value.c (the
 * readers of each kind of value). Not part of the public API.
 */

#ifndef AUTHCORE_CONFIG_READ_H
#define AUTHCORE_CONFIG_READ_H

#include "internal.h"


/* Seconds, for durations and their bounds. */
#define AC_MIN         60
#define AC_HOUR        3600
#define AC_DAY         86400
#define AC_YEAR        (365 * AC_DAY)

typedef struct ac_conf_key_s  ac_conf_key_t;

typedef struct {
    const char      *file;
    char            *dir;        /* absolute directory of the file */
    unsigned         line;
    ac_config_t     *cfg;
    ac_error_t      *err;
    unsigned        *seen;       /* line where each key was set, 0 unset */
} ac_conf_ctx_t;

typedef int (*ac_conf_set_pt)(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);

struct ac_conf_key_s {
    const char      *name;
    ac_conf_set_pt   set;
    size_t           offset;
    int64_t          min;
    int64_t          max;
};


/* Fails the line being read: "FILE:LINE: reason", AC_ERR_CONFIG. */
int ac_conf_fail(ac_conf_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Value readers of the key table (config_value.c). */
int ac_conf_set_duration(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_msec(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_int(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_u32(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_kib(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_name(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_text(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_webauthn(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_path(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_redis(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_sentinels(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_password_file(ac_conf_ctx_t *ctx,
    const ac_conf_key_t *k, const char *value);
int ac_conf_set_origins(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
int ac_conf_set_mail(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);

#endif /* AUTHCORE_CONFIG_READ_H */
