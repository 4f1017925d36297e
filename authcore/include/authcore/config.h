/*
 * authcore: the configuration file.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_CONFIG_H
#define AUTHCORE_CONFIG_H

#include "base.h"

/* ---------------------------------------------------------- configuration */

#define AC_CONFIG_DEFAULT_PATH  "/etc/guichet/guichet.conf"

typedef struct {
    char      *host;             /* IP literal, or NULL for a unix socket */
    int        port;
    char      *unix_path;        /* NULL for TCP */
} ac_endpoint_t;

typedef struct {
    char           *file;                  /* path the config came from */

    ac_endpoint_t   redis;                 /* redis = 127.0.0.1:6379 */
    char           *redis_password_file;   /* NULL: no AUTH */
    char           *redis_password;        /* that file's first line */
    int             redis_db;              /* 0 */
    ac_endpoint_t  *redis_sentinels;       /* redis_sentinels = a:p, b:p */
    size_t          nredis_sentinels;
    char           *redis_master;          /* Sentinel master name */
    uint32_t        redis_timeout_ms;      /* redis_timeout, 500ms */

    char           *key_prefix;            /* "guichet:" */
    char           *secret_file;           /* required */
    char           *audience;              /* "guichet" */

    int64_t         session_idle;          /* seconds, 30m */
    int64_t         session_max;           /* seconds, 12h */
    int64_t         pending_ttl;           /* 2FA pending state, 5m */
    int64_t         reauth_window;         /* fresh proof for rights, 5m */

    uint32_t        argon2_t;              /* 2 */
    uint32_t        argon2_m;              /* KiB, 19456 */
    uint32_t        argon2_p;              /* 1 */

    char           *totp_issuer;           /* "Guichet" */

    /* origins as "scheme://host[:port]": lower-case, the default port
     * omitted, no trailing '/', so that they compare with strcmp */
    char          **allowed_redirect_hosts; /* "https://host[:port]" */
    size_t          nallowed_redirect_hosts;

    uint32_t        throttle_free;         /* failures before delays, 5 */
    int64_t         throttle_window;       /* seconds, 15m */
    int64_t         throttle_max_delay;    /* seconds, 15m */

    int64_t         log_retention;         /* seconds, 365d */
    int64_t         inactive_account_retention; /* seconds, 3y */

    /* guichetctl logs anomalies */
    int64_t         anomaly_window;        /* seconds, 10m */
    uint32_t        anomaly_ip_failures;   /* 20 */
    uint32_t        anomaly_account_failures; /* 5 */
    uint32_t        anomaly_second_factor_failures; /* 3 */
    uint32_t        anomaly_ip_accounts;   /* 5 */
    uint32_t        anomaly_partner_failures; /* 10 */

    /* mail (mailconf.c, SPEC 10) */
    char           *public_url;            /* NULL: no mail is sent */
    ac_endpoint_t   smtp;                  /* host NULL: not set */
    int             smtp_tls;              /* AC_SMTP_TLS_*, starttls */
    char           *smtp_user;             /* NULL: no AUTH */
    char           *smtp_password_file;    /* read by the mail worker */
    char           *mail_from;             /* an address */
    char           *mail_templates;        /* NULL: the packaged ones */
    int64_t         reset_token_ttl;       /* seconds, 30m */
    unsigned        notify;                /* AC_NOTIFY_* */
    int             invitation_mail;       /* 1 */

    /* passkeys (webauthn_conf.c, SPEC 11) */
    char           *webauthn_rp_id;        /* NULL: passkeys are off */
    char          **webauthn_origins;      /* canonical origins */
    size_t          nwebauthn_origins;
} ac_config_t;

/*
 * Reads a guichet.conf: "key = value" lines, '#' comments, blank lines.
 * Unknown keys, repeated keys, bad values and a missing secret_file are
 * errors whose message names the file and line ("FILE:LINE: reason").
 * Durations take a unit (ms, s, m, h, d, w, y); sizes in KiB take k, m, g.
 */
int ac_config_load(const char *path, ac_config_t **cfg, ac_error_t *err);
void ac_config_free(ac_config_t *cfg);

/* Parses "30m", "12h", "3y"... into seconds; AC_ERR_INVALID otherwise. */
int ac_parse_duration(const char *s, int64_t *seconds);

#endif /* AUTHCORE_CONFIG_H */
