/*
 * guichet.conf: "key = value" lines, '#' comment lines, blank lines.
 */

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <strings.h>
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "authcore.h"
#include "internal.h"


#define AC_CONF_LINE_MAX      4096
#define AC_CONF_NAME_MAX      64
#define AC_PASSWORD_FILE_MAX  512
#define AC_ORIGIN_MAX         300


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


static int ac_conf_fail(ac_conf_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ac_conf_parse_line(ac_conf_ctx_t *ctx, char *line);
static int ac_conf_check(ac_conf_ctx_t *ctx);
static int ac_conf_set_duration(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_msec(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_int(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_u32(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_kib(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_name(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_text(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_path(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_redis(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_sentinels(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_password_file(ac_conf_ctx_t *ctx,
    const ac_conf_key_t *k, const char *value);
static int ac_conf_set_origins(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_conf_set_mail(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value);
static int ac_endpoint_parse(ac_conf_ctx_t *ctx, const char *s, size_t len,
    int default_port, int allow_unix, ac_endpoint_t *ep);
static int ac_origin_normalize(const char *s, size_t len, char *out,
    size_t outsize);
static int ac_parse_number(const char *s, size_t len, int64_t *v);
static int ac_parse_duration_ms(const char *s, int64_t *ms);
static char *ac_conf_resolve(ac_conf_ctx_t *ctx, const char *path);


#define AC_OFF(field)  offsetof(ac_config_t, field)
#define AC_MIN         60
#define AC_HOUR        3600
#define AC_DAY         86400
#define AC_YEAR        (365 * AC_DAY)

static const ac_conf_key_t  ac_conf_keys[] = {
    { "redis", ac_conf_set_redis, AC_OFF(redis), 0, 0 },
    { "redis_password_file", ac_conf_set_password_file,
      AC_OFF(redis_password_file), 0, 0 },
    { "redis_db", ac_conf_set_int, AC_OFF(redis_db), 0, 1023 },
    { "redis_sentinels", ac_conf_set_sentinels, AC_OFF(redis_sentinels),
      0, 0 },
    { "redis_master", ac_conf_set_name, AC_OFF(redis_master), 1, 64 },
    { "redis_timeout", ac_conf_set_msec, AC_OFF(redis_timeout_ms),
      10, 60000 },
    { "key_prefix", ac_conf_set_name, AC_OFF(key_prefix), 1, 64 },
    { "secret_file", ac_conf_set_path, AC_OFF(secret_file), 0, 0 },
    { "audience", ac_conf_set_name, AC_OFF(audience), 1, 255 },
    { "session_idle", ac_conf_set_duration, AC_OFF(session_idle),
      AC_MIN, 7 * AC_DAY },
    { "session_max", ac_conf_set_duration, AC_OFF(session_max),
      5 * AC_MIN, 90 * AC_DAY },
    { "pending_ttl", ac_conf_set_duration, AC_OFF(pending_ttl),
      30, 30 * AC_MIN },
    { "reauth_window", ac_conf_set_duration, AC_OFF(reauth_window),
      30, AC_HOUR },
    { "argon2_t", ac_conf_set_u32, AC_OFF(argon2_t), 1, 100 },
    { "argon2_m", ac_conf_set_kib, AC_OFF(argon2_m), 1024, 4194304 },
    { "argon2_p", ac_conf_set_u32, AC_OFF(argon2_p), 1, 16 },
    { "totp_issuer", ac_conf_set_text, AC_OFF(totp_issuer), 1, 64 },
    { "allowed_redirect_hosts", ac_conf_set_origins,
      AC_OFF(allowed_redirect_hosts), 0, 0 },
    { "throttle_free", ac_conf_set_u32, AC_OFF(throttle_free), 0, 1000 },
    { "throttle_window", ac_conf_set_duration, AC_OFF(throttle_window),
      AC_MIN, AC_DAY },
    { "throttle_max_delay", ac_conf_set_duration,
      AC_OFF(throttle_max_delay), 1, AC_DAY },
    { "log_retention", ac_conf_set_duration, AC_OFF(log_retention),
      AC_DAY, 10 * AC_YEAR },
    { "inactive_account_retention", ac_conf_set_duration,
      AC_OFF(inactive_account_retention), 30 * AC_DAY, 10 * AC_YEAR },
    { "anomaly_window", ac_conf_set_duration, AC_OFF(anomaly_window),
      AC_MIN, 7 * AC_DAY },
    { "anomaly_ip_failures", ac_conf_set_u32, AC_OFF(anomaly_ip_failures),
      2, 1000000 },
    { "anomaly_account_failures", ac_conf_set_u32,
      AC_OFF(anomaly_account_failures), 2, 1000000 },
    { "anomaly_second_factor_failures", ac_conf_set_u32,
      AC_OFF(anomaly_second_factor_failures), 2, 1000000 },
    { "anomaly_ip_accounts", ac_conf_set_u32, AC_OFF(anomaly_ip_accounts),
      2, 1000000 },
    { "anomaly_partner_failures", ac_conf_set_u32,
      AC_OFF(anomaly_partner_failures), 2, 1000000 },
    /* mail (mailconf.c) */
    { "public_url", ac_conf_set_mail, 0, 0, 0 },
    { "smtp", ac_conf_set_mail, 0, 0, 0 },
    { "smtp_tls", ac_conf_set_mail, 0, 0, 0 },
    { "smtp_user", ac_conf_set_mail, 0, 0, 0 },
    { "smtp_password_file", ac_conf_set_path, AC_OFF(smtp_password_file),
      0, 0 },
    { "mail_from", ac_conf_set_mail, 0, 0, 0 },
    { "mail_templates", ac_conf_set_path, AC_OFF(mail_templates), 0, 0 },
    { "reset_token_ttl", ac_conf_set_duration, AC_OFF(reset_token_ttl),
      5 * AC_MIN, AC_DAY },
    { "notify", ac_conf_set_mail, 0, 0, 0 },
    { "invitation_mail", ac_conf_set_mail, 0, 0, 0 },
};

#define AC_NCONF_KEYS  (sizeof(ac_conf_keys) / sizeof(ac_conf_keys[0]))


static int
ac_conf_fail(ac_conf_ctx_t *ctx, const char *fmt, ...)
{
    char     reason[AC_ERRMSG_MAX];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);

    if (ctx->line) {
        ac_error_set(ctx->err, AC_ERR_CONFIG, "%s:%u: %s", ctx->file,
                     ctx->line, reason);
    } else {
        ac_error_set(ctx->err, AC_ERR_CONFIG, "%s: %s", ctx->file, reason);
    }

    return AC_ERR_CONFIG;
}


static int
ac_config_defaults(ac_config_t *cfg, const char *path)
{
    cfg->file = strdup(path);
    cfg->redis.host = strdup("127.0.0.1");
    cfg->redis.port = 6379;
    cfg->key_prefix = strdup("guichet:");
    cfg->audience = strdup("guichet");
    cfg->totp_issuer = strdup("Guichet");

    if (cfg->file == NULL || cfg->redis.host == NULL
        || cfg->key_prefix == NULL || cfg->audience == NULL
        || cfg->totp_issuer == NULL)
    {
        return AC_ERR_NOMEM;
    }

    cfg->redis_db = 0;
    cfg->redis_timeout_ms = 500;
    cfg->session_idle = 30 * AC_MIN;
    cfg->session_max = 12 * AC_HOUR;
    cfg->pending_ttl = 5 * AC_MIN;
    cfg->reauth_window = 5 * AC_MIN;
    cfg->argon2_t = 2;
    cfg->argon2_m = 19456;
    cfg->argon2_p = 1;
    cfg->throttle_free = 5;
    cfg->throttle_window = 15 * AC_MIN;
    cfg->throttle_max_delay = 15 * AC_MIN;
    cfg->log_retention = 365 * AC_DAY;
    cfg->inactive_account_retention = 3 * AC_YEAR;
    cfg->anomaly_window = 10 * AC_MIN;
    cfg->anomaly_ip_failures = 20;
    cfg->anomaly_account_failures = 5;
    cfg->anomaly_second_factor_failures = 3;
    cfg->anomaly_ip_accounts = 5;
    cfg->anomaly_partner_failures = 10;
    cfg->reset_token_ttl = 30 * AC_MIN;
    cfg->notify = AC_NOTIFY_DEFAULT;
    cfg->invitation_mail = 1;
    cfg->smtp_tls = AC_SMTP_TLS_STARTTLS;

    return AC_OK;
}


int
ac_config_load(const char *path, ac_config_t **out, ac_error_t *err)
{
    int             rc;
    char           *line, *real, *slash;
    FILE           *f;
    size_t          cap;
    ssize_t         n;
    unsigned        seen[AC_NCONF_KEYS];
    ac_config_t    *cfg;
    ac_conf_ctx_t   ctx;

    if (out == NULL) {
        return AC_ERR_INVALID;
    }

    *out = NULL;

    if (path == NULL || *path == '\0') {
        ac_error_set(err, AC_ERR_INVALID, "no configuration file given");
        return AC_ERR_INVALID;
    }

    memset(seen, 0, sizeof(seen));
    memset(&ctx, 0, sizeof(ctx));
    ctx.file = path;
    ctx.err = err;
    ctx.seen = seen;

    line = NULL;
    cap = 0;
    f = NULL;

    cfg = calloc(1, sizeof(ac_config_t));
    if (cfg == NULL) {
        rc = AC_ERR_NOMEM;
        goto nomem;
    }

    ctx.cfg = cfg;

    rc = ac_config_defaults(cfg, path);
    if (rc != AC_OK) {
        goto nomem;
    }

    f = fopen(path, "re");
    if (f == NULL) {
        ac_error_set(err, AC_ERR_IO, "%s: %s", path, strerror(errno));
        rc = AC_ERR_IO;
        goto failed;
    }

    /* paths in the file are relative to its directory, made absolute
     * because nginx workers and guichetctl do not share a cwd */
    real = realpath(path, NULL);
    if (real == NULL) {
        ac_error_set(err, AC_ERR_IO, "%s: %s", path, strerror(errno));
        rc = AC_ERR_IO;
        goto failed;
    }

    slash = strrchr(real, '/');
    if (slash == real) {
        slash[1] = '\0';
    } else if (slash != NULL) {
        *slash = '\0';
    }

    ctx.dir = real;

    for ( ;; ) {
        errno = 0;
        n = getline(&line, &cap, f);
        if (n < 0) {
            if (errno == ENOMEM) {
                rc = AC_ERR_NOMEM;
                goto nomem;
            }

            if (ferror(f)) {
                ctx.line++;
                ac_error_set(err, AC_ERR_IO, "%s:%u: read error", path,
                             ctx.line);
                rc = AC_ERR_IO;
                goto failed;
            }

            break;
        }

        ctx.line++;

        if ((size_t) n != strlen(line)) {
            rc = ac_conf_fail(&ctx, "NUL byte in line");
            goto failed;
        }

        if (n > AC_CONF_LINE_MAX) {
            rc = ac_conf_fail(&ctx, "line longer than %d bytes",
                              AC_CONF_LINE_MAX);
            goto failed;
        }

        rc = ac_conf_parse_line(&ctx, line);
        if (rc != AC_OK) {
            goto failed;
        }
    }

    ctx.line = 0;

    rc = ac_conf_check(&ctx);
    if (rc != AC_OK) {
        goto failed;
    }

    fclose(f);
    free(line);
    free(ctx.dir);

    *out = cfg;
    return AC_OK;

nomem:

    ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);

failed:

    if (f != NULL) {
        fclose(f);
    }

    if (line != NULL) {
        OPENSSL_cleanse(line, cap);
        free(line);
    }

    free(ctx.dir);
    ac_config_free(cfg);

    return rc;
}


static int
ac_conf_parse_line(ac_conf_ctx_t *ctx, char *line)
{
    char      *p, *eq, *end, *value;
    size_t     i, len;

    p = line;
    while (*p == ' ' || *p == '\t') {
        p++;
    }

    end = p + strlen(p);
    while (end > p && (end[-1] == '\n' || end[-1] == '\r'
                       || end[-1] == ' ' || end[-1] == '\t'))
    {
        end--;
    }
    *end = '\0';

    if (*p == '\0' || *p == '#') {
        return AC_OK;
    }

    for (i = 0; p + i < end; i++) {
        if (iscntrl((unsigned char) p[i]) && p[i] != '\t') {
            return ac_conf_fail(ctx, "control character in line");
        }
    }

    eq = strchr(p, '=');

    /* the key name ends at the first blank or '=' */
    len = strcspn(p, " \t=");
    if (len == 0) {
        return ac_conf_fail(ctx, "expected \"key = value\"");
    }

    if (len > AC_CONF_NAME_MAX) {
        return ac_conf_fail(ctx, "unknown key \"%.*s...\"", AC_CONF_NAME_MAX,
                            p);
    }

    for (i = 0; i < AC_NCONF_KEYS; i++) {
        if (strlen(ac_conf_keys[i].name) == len
            && strncmp(ac_conf_keys[i].name, p, len) == 0)
        {
            break;
        }
    }

    if (i == AC_NCONF_KEYS) {
        return ac_conf_fail(ctx, "unknown key \"%.*s\"", (int) len, p);
    }

    if (eq == NULL || p[len + strspn(p + len, " \t")] != '=') {
        return ac_conf_fail(ctx, "%s: missing '='", ac_conf_keys[i].name);
    }

    if (ctx->seen[i]) {
        return ac_conf_fail(ctx, "%s: duplicate key (first set on line %u)",
                            ac_conf_keys[i].name, ctx->seen[i]);
    }

    ctx->seen[i] = ctx->line;

    value = eq + 1;
    while (*value == ' ' || *value == '\t') {
        value++;
    }

    if (*value == '\0') {
        return ac_conf_fail(ctx, "%s: missing value", ac_conf_keys[i].name);
    }

    return ac_conf_keys[i].set(ctx, &ac_conf_keys[i], value);
}


static unsigned
ac_conf_seen(ac_conf_ctx_t *ctx, const char *name)
{
    size_t  i;

    for (i = 0; i < AC_NCONF_KEYS; i++) {
        if (strcmp(ac_conf_keys[i].name, name) == 0) {
            return ctx->seen[i];
        }
    }

    return 0;
}


static int
ac_conf_check(ac_conf_ctx_t *ctx)
{
    ac_config_t  *cfg;

    cfg = ctx->cfg;

    if (cfg->secret_file == NULL) {
        return ac_conf_fail(ctx, "secret_file is required");
    }

    if (cfg->session_idle > cfg->session_max) {
        ctx->line = ac_conf_seen(ctx, "session_idle");
        if (ctx->line == 0) {
            ctx->line = ac_conf_seen(ctx, "session_max");
        }

        return ac_conf_fail(ctx, "session_idle must not exceed session_max");
    }

    if (cfg->nredis_sentinels > 0 && cfg->redis_master == NULL) {
        ctx->line = ac_conf_seen(ctx, "redis_sentinels");
        return ac_conf_fail(ctx, "redis_sentinels: redis_master is required "
                            "with redis_sentinels");
    }

    if (cfg->redis_master != NULL && cfg->nredis_sentinels == 0) {
        ctx->line = ac_conf_seen(ctx, "redis_master");
        return ac_conf_fail(ctx, "redis_master: redis_sentinels is required "
                            "with redis_master");
    }

    if ((uint64_t) cfg->argon2_m < 8 * (uint64_t) cfg->argon2_p) {
        ctx->line = ac_conf_seen(ctx, "argon2_m");
        return ac_conf_fail(ctx, "argon2_m: less than 8 KiB per lane");
    }

    return AC_OK;
}


void
ac_config_free(ac_config_t *cfg)
{
    size_t  i;

    if (cfg == NULL) {
        return;
    }

    free(cfg->file);
    free(cfg->redis.host);
    free(cfg->redis.unix_path);
    free(cfg->redis_password_file);

    if (cfg->redis_password != NULL) {
        OPENSSL_cleanse(cfg->redis_password, strlen(cfg->redis_password));
        free(cfg->redis_password);
    }

    for (i = 0; i < cfg->nredis_sentinels; i++) {
        free(cfg->redis_sentinels[i].host);
        free(cfg->redis_sentinels[i].unix_path);
    }

    free(cfg->redis_sentinels);
    free(cfg->redis_master);
    free(cfg->key_prefix);
    free(cfg->secret_file);
    free(cfg->audience);
    free(cfg->totp_issuer);

    for (i = 0; i < cfg->nallowed_redirect_hosts; i++) {
        free(cfg->allowed_redirect_hosts[i]);
    }

    free(cfg->allowed_redirect_hosts);
    ac_mail_conf_free(cfg);
    free(cfg);
}


void
ac_argon2_params_from_config(const ac_config_t *cfg,
    ac_argon2_params_t *params)
{
    if (cfg == NULL) {
        params->t = 2;
        params->m = 19456;
        params->p = 1;
        return;
    }

    params->t = cfg->argon2_t;
    params->m = cfg->argon2_m;
    params->p = cfg->argon2_p;
}


/* Decimal digits only, no sign, no overflow. */

static int
ac_parse_number(const char *s, size_t len, int64_t *v)
{
    size_t   i;
    int64_t  n;

    if (len == 0) {
        return AC_ERR_INVALID;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return AC_ERR_INVALID;
        }

        if (n > (INT64_MAX - (s[i] - '0')) / 10) {
            return AC_ERR_INVALID;
        }

        n = n * 10 + (s[i] - '0');
    }

    *v = n;
    return AC_OK;
}


/* "1h30m": one or more number + unit pairs, to milliseconds. */

static int
ac_parse_duration_ms(const char *s, int64_t *ms)
{
    size_t   n;
    int64_t  v, unit, total;

    if (s == NULL || *s == '\0') {
        return AC_ERR_INVALID;
    }

    total = 0;

    while (*s) {
        n = strspn(s, "0123456789");
        if (ac_parse_number(s, n, &v) != AC_OK) {
            return AC_ERR_INVALID;
        }

        s += n;

        if (s[0] == 'm' && s[1] == 's') {
            unit = 1;
            s += 2;

        } else {
            switch (*s) {
            case 's':
                unit = 1000;
                break;
            case 'm':
                unit = 1000LL * AC_MIN;
                break;
            case 'h':
                unit = 1000LL * AC_HOUR;
                break;
            case 'd':
                unit = 1000LL * AC_DAY;
                break;
            case 'w':
                unit = 1000LL * 7 * AC_DAY;
                break;
            case 'y':
                unit = 1000LL * AC_YEAR;
                break;
            default:
                return AC_ERR_INVALID;
            }

            s++;
        }

        if (v > INT64_MAX / unit || total > INT64_MAX - v * unit) {
            return AC_ERR_INVALID;
        }

        total += v * unit;
    }

    *ms = total;
    return AC_OK;
}


int
ac_parse_duration(const char *s, int64_t *seconds)
{
    int64_t  ms;

    if (seconds == NULL || ac_parse_duration_ms(s, &ms) != AC_OK) {
        return AC_ERR_INVALID;
    }

    /* "1500ms" is not a whole number of seconds: refuse, never round */
    if (ms % 1000 != 0) {
        return AC_ERR_INVALID;
    }

    *seconds = ms / 1000;
    return AC_OK;
}


static int
ac_conf_set_duration(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int64_t  v;

    if (ac_parse_duration(value, &v) != AC_OK) {
        return ac_conf_fail(ctx, "%s: invalid duration \"%s\" (a number and "
                            "a unit: ms, s, m, h, d, w, y)", k->name, value);
    }

    if (v < k->min || v > k->max) {
        return ac_conf_fail(ctx, "%s: \"%s\" is out of range "
                            "(%" PRId64 "s to %" PRId64 "s)",
                            k->name, value, k->min, k->max);
    }

    *(int64_t *) ((char *) ctx->cfg + k->offset) = v;
    return AC_OK;
}


static int
ac_conf_set_msec(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int64_t  v;

    if (ac_parse_duration_ms(value, &v) != AC_OK) {
        return ac_conf_fail(ctx, "%s: invalid duration \"%s\" (a number and "
                            "a unit: ms, s, m, h, d, w, y)", k->name, value);
    }

    if (v < k->min || v > k->max) {
        return ac_conf_fail(ctx, "%s: \"%s\" is out of range "
                            "(%" PRId64 "ms to %" PRId64 "ms)",
                            k->name, value, k->min, k->max);
    }

    *(uint32_t *) ((char *) ctx->cfg + k->offset) = (uint32_t) v;
    return AC_OK;
}


static int
ac_conf_number(ac_conf_ctx_t *ctx, const ac_conf_key_t *k, const char *value,
    int64_t *v)
{
    if (ac_parse_number(value, strlen(value), v) != AC_OK) {
        return ac_conf_fail(ctx, "%s: invalid number \"%s\"", k->name,
                            value);
    }

    if (*v < k->min || *v > k->max) {
        return ac_conf_fail(ctx, "%s: %s is out of range (%" PRId64 " to %"
                            PRId64 ")", k->name, value, k->min, k->max);
    }

    return AC_OK;
}


static int
ac_conf_set_int(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v;

    rc = ac_conf_number(ctx, k, value, &v);
    if (rc != AC_OK) {
        return rc;
    }

    *(int *) ((char *) ctx->cfg + k->offset) = (int) v;
    return AC_OK;
}


static int
ac_conf_set_u32(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v;

    rc = ac_conf_number(ctx, k, value, &v);
    if (rc != AC_OK) {
        return rc;
    }

    *(uint32_t *) ((char *) ctx->cfg + k->offset) = (uint32_t) v;
    return AC_OK;
}


/* KiB, or a number with k, m or g. */

static int
ac_conf_set_kib(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t   n;
    int64_t  v, mult;

    n = strspn(value, "0123456789");
    mult = 1;

    if (value[n] != '\0') {
        if (value[n + 1] != '\0') {
            goto invalid;
        }

        switch (value[n]) {
        case 'k':
        case 'K':
            mult = 1;
            break;
        case 'm':
        case 'M':
            mult = 1024;
            break;
        case 'g':
        case 'G':
            mult = 1024 * 1024;
            break;
        default:
            goto invalid;
        }
    }

    if (ac_parse_number(value, n, &v) != AC_OK || v > INT64_MAX / mult) {
        goto invalid;
    }

    v *= mult;

    if (v < k->min || v > k->max) {
        return ac_conf_fail(ctx, "%s: \"%s\" is out of range (%" PRId64
                            " KiB to %" PRId64 " KiB)", k->name, value,
                            k->min, k->max);
    }

    *(uint32_t *) ((char *) ctx->cfg + k->offset) = (uint32_t) v;
    return AC_OK;

invalid:

    return ac_conf_fail(ctx, "%s: invalid size \"%s\" (KiB, or a number "
                        "with k, m or g)", k->name, value);
}


static int
ac_conf_store(ac_conf_ctx_t *ctx, const ac_conf_key_t *k, char *s)
{
    char  **field;

    if (s == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    field = (char **) ((char *) ctx->cfg + k->offset);
    free(*field);
    *field = s;

    return AC_OK;
}


/* One printable word: key prefixes, audiences, master names. */

static int
ac_conf_set_name(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t  i, len;

    len = strlen(value);

    if ((int64_t) len < k->min || (int64_t) len > k->max) {
        return ac_conf_fail(ctx, "%s: length must be %" PRId64 " to %" PRId64
                            " bytes", k->name, k->min, k->max);
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) value[i] <= 0x20
            || (unsigned char) value[i] >= 0x7f)
        {
            return ac_conf_fail(ctx, "%s: \"%s\" must be one word of "
                                "printable ASCII", k->name, value);
        }
    }

    return ac_conf_store(ctx, k, strdup(value));
}


/* Free text shown to users (the TOTP issuer): no control characters, and
 * no ':' because it separates issuer and account in otpauth labels. */

static int
ac_conf_set_text(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t  i, len;

    len = strlen(value);

    if ((int64_t) len < k->min || (int64_t) len > k->max) {
        return ac_conf_fail(ctx, "%s: length must be %" PRId64 " to %" PRId64
                            " bytes", k->name, k->min, k->max);
    }

    for (i = 0; i < len; i++) {
        if (iscntrl((unsigned char) value[i]) || value[i] == ':') {
            return ac_conf_fail(ctx, "%s: control characters and ':' are "
                                "not allowed", k->name);
        }
    }

    return ac_conf_store(ctx, k, strdup(value));
}


static char *
ac_conf_resolve(ac_conf_ctx_t *ctx, const char *path)
{
    char    *s;
    size_t   dlen, plen;

    if (path[0] == '/') {
        return strdup(path);
    }

    dlen = strlen(ctx->dir);
    plen = strlen(path);

    s = malloc(dlen + 1 + plen + 1);
    if (s == NULL) {
        return NULL;
    }

    memcpy(s, ctx->dir, dlen);
    if (dlen == 0 || ctx->dir[dlen - 1] != '/') {
        s[dlen++] = '/';
    }
    memcpy(s + dlen, path, plen + 1);

    return s;
}


static int
ac_conf_set_path(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    if (strlen(value) >= PATH_MAX) {
        return ac_conf_fail(ctx, "%s: path too long", k->name);
    }

    return ac_conf_store(ctx, k, ac_conf_resolve(ctx, value));
}


static int
ac_conf_set_password_file(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int          rc;
    char        *path, *pw;
    FILE        *f;
    size_t       len;
    struct stat  st;
    char         buf[AC_PASSWORD_FILE_MAX + 2];

    rc = ac_conf_set_path(ctx, k, value);
    if (rc != AC_OK) {
        return rc;
    }

    path = ctx->cfg->redis_password_file;

    f = fopen(path, "re");
    if (f == NULL) {
        return ac_conf_fail(ctx, "%s: %s: %s", k->name, path,
                            strerror(errno));
    }

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ac_conf_fail(ctx, "%s: %s is not a regular file", k->name,
                            path);
    }

    if (st.st_mode & S_IROTH) {
        fclose(f);
        return ac_conf_fail(ctx, "%s: %s must not be world-readable "
                            "(chmod o-r)", k->name, path);
    }

    if (fgets(buf, sizeof(buf), f) == NULL) {
        buf[0] = '\0';
    }

    fclose(f);

    len = strcspn(buf, "\r\n");

    if (len > AC_PASSWORD_FILE_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return ac_conf_fail(ctx, "%s: password longer than %d bytes",
                            k->name, AC_PASSWORD_FILE_MAX);
    }

    if (len == 0) {
        return ac_conf_fail(ctx, "%s: %s has an empty first line", k->name,
                            path);
    }

    pw = strndup(buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));

    if (pw == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    ctx->cfg->redis_password = pw;
    return AC_OK;
}


/*
 * "a.b.c.d[:port]", "[v6][:port]", or with allow_unix "unix:/path".
 * Host names are refused: resolving them would mean DNS at request time.
 */

static int
ac_endpoint_parse(ac_conf_ctx_t *ctx, const char *s, size_t len,
    int default_port, int allow_unix, ac_endpoint_t *ep)
{
    size_t           hlen;
    int64_t          port;
    const char      *host, *colon;
    char             hbuf[INET6_ADDRSTRLEN + 1], pbuf[PATH_MAX];
    struct in_addr   a4;
    struct in6_addr  a6;

    memset(ep, 0, sizeof(ac_endpoint_t));

    if (allow_unix && len >= 5 && strncmp(s, "unix:", 5) == 0) {
        if (len == 5 || len - 5 >= sizeof(pbuf)) {
            return AC_ERR_INVALID;
        }

        memcpy(pbuf, s + 5, len - 5);
        pbuf[len - 5] = '\0';

        ep->unix_path = ac_conf_resolve(ctx, pbuf);
        return ep->unix_path ? AC_OK : AC_ERR_NOMEM;
    }

    if (len > 0 && s[0] == '[') {
        colon = memchr(s, ']', len);
        if (colon == NULL) {
            return AC_ERR_INVALID;
        }

        host = s + 1;
        hlen = colon - host;
        colon++;

        if (colon != s + len && *colon != ':') {
            return AC_ERR_INVALID;
        }

    } else {
        host = s;
        colon = memchr(s, ':', len);
        hlen = colon ? (size_t) (colon - s) : len;

        if (colon && memchr(colon + 1, ':', s + len - colon - 1)) {
            /* a bare IPv6 address: its port would be ambiguous */
            return AC_ERR_INVALID;
        }
    }

    if (hlen == 0 || hlen >= sizeof(hbuf)) {
        return AC_ERR_INVALID;
    }

    memcpy(hbuf, host, hlen);
    hbuf[hlen] = '\0';

    if (s[0] == '[') {
        if (inet_pton(AF_INET6, hbuf, &a6) != 1) {
            return AC_ERR_INVALID;
        }

    } else if (inet_pton(AF_INET, hbuf, &a4) != 1) {
        return AC_ERR_INVALID;
    }

    port = default_port;

    if (colon != NULL && colon != s + len) {
        if (ac_parse_number(colon + 1, s + len - colon - 1, &port) != AC_OK
            || port < 1 || port > 65535)
        {
            return AC_ERR_INVALID;
        }

    } else if (colon != NULL) {
        return AC_ERR_INVALID;
    }

    ep->host = strdup(hbuf);
    if (ep->host == NULL) {
        return AC_ERR_NOMEM;
    }

    ep->port = (int) port;
    return AC_OK;
}


static int
ac_conf_set_redis(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int            rc;
    ac_endpoint_t  ep;

    rc = ac_endpoint_parse(ctx, value, strlen(value), 6379, 1, &ep);

    if (rc == AC_ERR_NOMEM) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return rc;
    }

    if (rc != AC_OK) {
        return ac_conf_fail(ctx, "%s: \"%s\" is not IP:PORT, [IPv6]:PORT "
                            "or unix:/path (host names are not allowed)",
                            k->name, value);
    }

    free(ctx->cfg->redis.host);
    free(ctx->cfg->redis.unix_path);
    ctx->cfg->redis = ep;

    return AC_OK;
}


static int
ac_conf_set_sentinels(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int             rc;
    size_t          n, len;
    const char     *p;
    ac_endpoint_t  *eps;

    n = 1;
    for (p = value; *p; p++) {
        if (*p == ',') {
            n++;
        }
    }

    if (n > 64) {
        return ac_conf_fail(ctx, "%s: more than 64 sentinels", k->name);
    }

    eps = calloc(n, sizeof(ac_endpoint_t));
    if (eps == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    ctx->cfg->redis_sentinels = eps;
    ctx->cfg->nredis_sentinels = 0;

    p = value;

    while (ctx->cfg->nredis_sentinels < n) {
        p += strspn(p, " \t");
        len = strcspn(p, ",");

        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }

        rc = ac_endpoint_parse(ctx, p, len, 26379, 0,
                               &eps[ctx->cfg->nredis_sentinels]);

        if (rc == AC_ERR_NOMEM) {
            ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory",
                         ctx->file);
            return rc;
        }

        if (rc != AC_OK) {
            return ac_conf_fail(ctx, "%s: \"%.*s\" is not IP:PORT or "
                                "[IPv6]:PORT (host names are not allowed)",
                                k->name, (int) len, p);
        }

        ctx->cfg->nredis_sentinels++;

        p += strcspn(p, ",");
        if (*p == ',') {
            p++;
        }
    }

    return AC_OK;
}


/*
 * An origin "scheme://host[:port]" to its canonical form: lower-case
 * scheme and host, the scheme's default port omitted, no trailing '/'.
 * Anything else (a path, a query, user info, another scheme) is refused.
 */

static int
ac_origin_normalize(const char *s, size_t len, char *out, size_t outsize)
{
    int              https;
    size_t           i, hlen, slen;
    int64_t          port;
    const char      *host, *end, *colon;
    char             hbuf[256];
    struct in6_addr  a6;

    if (len > 8 && strncasecmp(s, "https://", 8) == 0) {
        https = 1;
        slen = 8;

    } else if (len > 7 && strncasecmp(s, "http://", 7) == 0) {
        https = 0;
        slen = 7;

    } else {
        return AC_ERR_INVALID;
    }

    host = s + slen;
    end = s + len;

    if (end[-1] == '/') {
        end--;
    }

    if (host[0] == '[') {
        colon = memchr(host, ']', end - host);
        if (colon == NULL) {
            return AC_ERR_INVALID;
        }

        colon++;
        hlen = colon - host;

        if (hlen - 2 >= INET6_ADDRSTRLEN) {
            return AC_ERR_INVALID;
        }

        memcpy(hbuf, host + 1, hlen - 2);
        hbuf[hlen - 2] = '\0';

        if (inet_pton(AF_INET6, hbuf, &a6) != 1) {
            return AC_ERR_INVALID;
        }

        memcpy(hbuf, host, hlen);

        if (colon != end && *colon != ':') {
            return AC_ERR_INVALID;
        }

    } else {
        colon = memchr(host, ':', end - host);
        hlen = (colon ? colon : end) - host;

        if (hlen >= sizeof(hbuf)) {
            return AC_ERR_INVALID;
        }

        for (i = 0; i < hlen; i++) {
            if (!isalnum((unsigned char) host[i]) && host[i] != '-'
                && host[i] != '.')
            {
                return AC_ERR_INVALID;
            }

            if (host[i] == '.' && (i == 0 || host[i - 1] == '.')) {
                return AC_ERR_INVALID;
            }
        }

        if (hlen == 0 || host[hlen - 1] == '.') {
            return AC_ERR_INVALID;
        }

        memcpy(hbuf, host, hlen);
    }

    hbuf[hlen] = '\0';

    for (i = 0; i < hlen; i++) {
        hbuf[i] = (char) tolower((unsigned char) hbuf[i]);
    }

    port = https ? 443 : 80;

    if (colon != NULL && colon != end) {
        if (ac_parse_number(colon + 1, end - colon - 1, &port) != AC_OK
            || port < 1 || port > 65535)
        {
            return AC_ERR_INVALID;
        }
    }

    if (port == (https ? 443 : 80)) {
        i = snprintf(out, outsize, "%s://%s", https ? "https" : "http", hbuf);

    } else {
        i = snprintf(out, outsize, "%s://%s:%d", https ? "https" : "http",
                     hbuf, (int) port);
    }

    return i < outsize ? AC_OK : AC_ERR_TOO_LONG;
}


static int
ac_conf_set_origins(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int           rc;
    char         *s, **list;
    size_t        n, i, len;
    const char   *p;
    ac_config_t  *cfg;
    char          origin[AC_ORIGIN_MAX];

    cfg = ctx->cfg;

    n = 0;
    for (p = value; *p; p += len) {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len > 0) {
            n++;
        }
    }

    if (n == 0) {
        return ac_conf_fail(ctx, "%s: missing value", k->name);
    }

    list = calloc(n, sizeof(char *));
    if (list == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    cfg->allowed_redirect_hosts = list;
    cfg->nallowed_redirect_hosts = 0;

    for (p = value; *p; p += len) {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 0) {
            continue;
        }

        rc = ac_origin_normalize(p, len, origin, sizeof(origin));
        if (rc != AC_OK) {
            return ac_conf_fail(ctx, "%s: \"%.*s\" is not an origin like "
                                "https://host[:port]", k->name,
                                (int) (len > 100 ? 100 : len), p);
        }

        for (i = 0; i < cfg->nallowed_redirect_hosts; i++) {
            if (strcmp(list[i], origin) == 0) {
                break;
            }
        }

        if (i < cfg->nallowed_redirect_hosts) {
            continue;
        }

        s = strdup(origin);
        if (s == NULL) {
            ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory",
                         ctx->file);
            return AC_ERR_NOMEM;
        }

        list[cfg->nallowed_redirect_hosts++] = s;
    }

    return AC_OK;
}


static int
ac_conf_set_mail(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int   rc;
    char  reason[AC_ERRMSG_MAX];

    reason[0] = '\0';

    rc = ac_mail_conf_set(ctx->cfg, k->name, value, reason, sizeof(reason));
    if (rc == AC_ERR_CONFIG) {
        return ac_conf_fail(ctx, "%s: %s", k->name, reason);
    }

    return rc;
}
