/*
 * guichet.conf: "key = value" lines, '#' comment lines, blank lines.
 * This file reads the file and holds the key table; config_value.c reads
 * each kind of value.
 */

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

#include "config_read.h"


#define AC_CONF_LINE_MAX      4096
#define AC_CONF_NAME_MAX      64


static int ac_conf_parse_line(ac_conf_ctx_t *ctx, char *line);
static int ac_conf_check(ac_conf_ctx_t *ctx);


#define AC_OFF(field)  offsetof(ac_config_t, field)

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
    /* passkeys (webauthn_conf.c) */
    { "webauthn_rp_id", ac_conf_set_webauthn, 0, 0, 0 },
    { "webauthn_origins", ac_conf_set_webauthn, 0, 0, 0 },
};

#define AC_NCONF_KEYS  (sizeof(ac_conf_keys) / sizeof(ac_conf_keys[0]))


int
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
    char          reason[AC_ERRMSG_MAX];

    cfg = ctx->cfg;
    snprintf(reason, sizeof(reason), "out of memory");

    if (ac_wa_conf_check(cfg, reason, sizeof(reason)) != AC_OK) {
        ctx->line = ac_conf_seen(ctx, "webauthn_origins");
        if (ctx->line == 0) {
            ctx->line = ac_conf_seen(ctx, "webauthn_rp_id");
        }

        return ac_conf_fail(ctx, "%s", reason);
    }

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
    ac_wa_conf_free(cfg);
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
