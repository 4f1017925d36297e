/*
 * authcore: Guichet's security primitives, shared by the nginx module and
 * guichetctl.
 *
 * Conventions:
 *   - every function returns AC_OK (0) on success, a negative AC_ERR_*
 *     code on failure, or a positive informational code (AC_REHASH);
 *   - functions that can explain a failure take a caller-owned
 *     ac_error_t, which may be NULL;
 *   - the library never prints, logs, exits or blocks on the network;
 *     the only files it reads are the configuration, the secret file and
 *     the files those name;
 *   - fixed-size buffers are declared with their *_MAX / *_LEN macros;
 *     secrets are wiped with ac_cleanse() before memory is released.
 *
 * Thread safety: after ac_init(), every function is safe to call from
 * several threads on distinct objects; ac_keys_t and ac_config_t are
 * read-only after loading and may be shared.
 */

#ifndef AUTHCORE_H
#define AUTHCORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

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
int ac_keys_from_secret(const unsigned char *secret, size_t len,
    ac_keys_t **keys);
void ac_keys_free(ac_keys_t *keys);

/* HMAC-SHA256 under the purpose's key. */
#define AC_MAC_LEN        32
int ac_mac(const ac_keys_t *keys, ac_purpose_t purpose, const void *data,
    size_t len, unsigned char out[AC_MAC_LEN]);

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

/* ------------------------------------------------------- small helpers */

int ac_random(void *buf, size_t len);
/* 1 when equal, 0 otherwise, in time independent of the contents. */
int ac_ct_equal(const void *a, const void *b, size_t len);
void ac_cleanse(void *p, size_t len);

#define AC_B64URL_LEN(n)  (((n) * 4 + 2) / 3)
/* Unpadded base64url; out must hold AC_B64URL_LEN(len) + 1 bytes. */
size_t ac_b64url_encode(const void *in, size_t len, char *out);
/* Accepts unpadded base64url only; AC_ERR_INVALID on any other byte. */
int ac_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen);

/* ------------------------------------------------------------- emails */

#define AC_EMAIL_MAX      254
/* Validates (<= 254 bytes, exactly one '@', non-empty local part and
 * domain, no control characters, spaces or angle brackets) and writes
 * the lower-cased address; AC_ERR_BAD_EMAIL otherwise. */
int ac_email_normalize(const char *in, size_t len,
    char out[AC_EMAIL_MAX + 1]);

/* -------------------------------------------------------------- roles */

#define AC_ROLE_USER      0x01
#define AC_ROLE_SECURITY  0x02
#define AC_ROLE_ADMIN     0x04
#define AC_ROLES_MAX      32          /* "user,security,admin" fits */

/* One role name to its bit; AC_ERR_INVALID for an unknown name. */
int ac_role_parse(const char *name, size_t len, unsigned *role);
/* Comma-separated list, as stored ("user,security"). */
int ac_roles_parse(const char *list, size_t len, unsigned *roles);
void ac_roles_format(unsigned roles, char out[AC_ROLES_MAX]);

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

/* --------------------------------------------------------- HOTP / TOTP */

#define AC_TOTP_SECRET_LEN 20         /* bytes, SHA-1 block friendly */
#define AC_TOTP_STEP       30
#define AC_TOTP_DIGITS     6
#define AC_TOTP_WINDOW     1          /* steps accepted either side */
#define AC_OTP_MAX         8          /* digits */
#define AC_BASE32_LEN(n)   ((((n) + 4) / 5) * 8)

typedef enum {
    AC_OTP_SHA1 = 0,
    AC_OTP_SHA256,
    AC_OTP_SHA512
} ac_otp_hash_t;

int ac_totp_secret_new(unsigned char secret[AC_TOTP_SECRET_LEN]);

/* RFC 4648 base32 with padding, as authenticator apps read it. */
int ac_base32_encode(const void *in, size_t len, char *out, size_t outsize);
int ac_base32_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen);

/* RFC 4226 HOTP value of "counter", "digits" (6..8) long. */
int ac_hotp(const void *secret, size_t len, uint64_t counter,
    unsigned digits, char out[AC_OTP_MAX + 1]);

/* RFC 6238 TOTP value at time "now" (T0 = 0). */
int ac_totp(const void *secret, size_t len, ac_otp_hash_t hash, time_t now,
    unsigned step, unsigned digits, char out[AC_OTP_MAX + 1]);

/* Checks a 6-digit SHA-1 TOTP code at now +/- window steps. On success
 * *step is the accepted time step (now / AC_TOTP_STEP + offset). Steps
 * at or below last_step are refused with AC_ERR_REPLAY, so a caller that
 * stores the accepted step refuses every replay. Wrong code:
 * AC_ERR_MISMATCH; malformed code: AC_ERR_INVALID. */
int ac_totp_verify(const void *secret, size_t len, const char *code,
    size_t codelen, time_t now, unsigned window, int64_t last_step,
    int64_t *step);

/* otpauth://totp/ISSUER:EMAIL?secret=...&issuer=...&algorithm=SHA1&
 * digits=6&period=30, percent-encoded; malloc'd, free() it. */
int ac_otpauth_uri(const char *issuer, const char *email,
    const char *secret_b32, char **uri);

/* ------------------------------------------------------ recovery codes */

#define AC_RECOVERY_COUNT    10
#define AC_RECOVERY_CODE_LEN 11       /* "abcde-fghij", base32 lower */

/* Ten fresh codes (50 random bits each) and their keyed digests. */
int ac_recovery_generate(const ac_keys_t *keys,
    char codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1],
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);

/* Digest of a code as a user types it: case, spaces and dashes ignored;
 * AC_ERR_INVALID when it cannot be a recovery code. */
int ac_recovery_digest(const ac_keys_t *keys, const char *code, size_t len,
    char digest[AC_DIGEST_LEN + 1]);

/* ---------------------------------------------------- partners and keys */

#define AC_PARTNER_ID_MAX  64         /* [a-z0-9][a-z0-9._-]* */
#define AC_PARTNER_KEY_MAX 4096

typedef enum {
    AC_ALG_NONE = 0,
    AC_ALG_HS256,
    AC_ALG_RS256,
    AC_ALG_ES256
} ac_alg_t;

int ac_alg_parse(const char *name, ac_alg_t *alg);
const char *ac_alg_name(ac_alg_t alg);

int ac_partner_id_check(const char *id);

/* The key must suit the algorithm: an EC P-256 public key PEM for
 * ES256, an RSA public key PEM of at least 2048 bits for RS256, and for
 * HS256 a secret of at least 32 bytes that is not a PEM key. */
int ac_partner_key_check(ac_alg_t alg, const void *key, size_t len,
    ac_error_t *err);

/* ------------------------------------------------ Redis schema: keys */

/*
 * Every Redis key Guichet uses is built here, and docs/ARCHITECTURE.md
 * lists them with their types and TTLs. P is the configured key_prefix.
 *
 *   P acct:ID          hash    account, and its sessions'      no TTL
 *                              index: "s:DIGEST" -> expiry
 *   P acct:ID:rc       set     recovery code digests           no TTL
 *   P email:DIGEST     string  account id                      no TTL
 *   P accounts         zset    account id -> created           no TTL
 *   P sess:DIGEST      hash    session                         session_idle
 *   P pending:DIGEST   hash    password ok, 2FA pending        pending_ttl
 *   P partner:ID       hash    partner                         no TTL
 *   P partners         set     partner ids                     no TTL
 *   P thr:KIND:DIGEST  hash    attempts (id, 2f, tk, ip)       throttle_window
 *   P jti:PARTNER:JTI  string  used assertion id               until exp
 *   P link:DIGEST      hash    account link pending a proof    pending_ttl
 *   P log              stream  connection log                  trimmed
 *   P log:pseudo       hash    log pseudonym -> account id     no TTL
 */

#define AC_KEY_MAX         192
#define AC_ID_LEN          16         /* account ids: base32 lower */

int ac_account_id_new(char out[AC_ID_LEN + 1]);

typedef enum {
    AC_K_ACCOUNT = 0,      /* arg: account id */
    AC_K_RECOVERY,         /* arg: account id */
    AC_K_EMAIL,            /* arg: email digest */
    AC_K_ACCOUNTS,         /* arg: none */
    AC_K_SESSION,          /* arg: session digest */
    AC_K_PENDING,          /* arg: pending digest */
    AC_K_PARTNER,          /* arg: partner id */
    AC_K_PARTNERS,         /* arg: none */
    AC_K_LOG,              /* arg: none */
    AC_K_LINK              /* arg: pending link digest */
} ac_key_kind_t;

/* Writes PREFIX + the kind's name + arg; AC_ERR_TOO_LONG if it does not
 * fit AC_KEY_MAX. */
int ac_key(const ac_config_t *cfg, ac_key_kind_t kind, const char *arg,
    char out[AC_KEY_MAX]);

/* The email index key of an already normalized email. */
int ac_key_email(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *email, char out[AC_KEY_MAX]);

/* ------------------------------------------- Redis schema: commands */

/*
 * A Redis command as argv, ready for redisCommandArgv() (blocking) or
 * redisAsyncCommandArgv() (nginx). Keys and numbers are formatted into
 * buf; other arguments point at caller memory, which must stay valid
 * until the command has been handed to hiredis (hiredis copies it then).
 */
#define AC_CMD_ARGS        48
#define AC_CMD_BUF         2048

typedef struct {
    int          argc;
    const char  *argv[AC_CMD_ARGS];
    size_t       argvlen[AC_CMD_ARGS];
    size_t       used;
    int          overflow;
    char         buf[AC_CMD_BUF];
} ac_cmd_t;

void ac_cmd_init(ac_cmd_t *cmd);
/* Arguments referenced in place (not copied). */
void ac_cmd_arg(ac_cmd_t *cmd, const char *s, size_t len);
void ac_cmd_str(ac_cmd_t *cmd, const char *s);
/* Arguments copied into cmd->buf. */
void ac_cmd_copy(ac_cmd_t *cmd, const char *s, size_t len);
void ac_cmd_int(ac_cmd_t *cmd, int64_t v);
/* AC_OK, or AC_ERR_TOO_LONG if any argument did not fit. */
int ac_cmd_status(const ac_cmd_t *cmd);

/* Accounts */

#define AC_STATUS_ACTIVE      0
#define AC_STATUS_LOCKED      1

typedef struct {
    char      id[AC_ID_LEN + 1];
    char      email[AC_EMAIL_MAX + 1];
    unsigned  roles;
    int       status;
    int       restricted;
    char      pw[AC_PHC_MAX];               /* "" for SSO-only accounts */
    char      totp[AC_SEALED_LEN(AC_TOTP_SECRET_LEN) + 1]; /* "" if none */
    int64_t   totp_step;                    /* last accepted TOTP step */
    int64_t   created;                      /* unix seconds */
    int64_t   last_login;                   /* 0 never */
    int64_t   pw_changed;
} ac_account_t;

/* EVAL that creates the account atomically: replies 1, or 0 when the
 * email is taken. "a" must hold id, email, roles, pw, created. */
int ac_cmd_account_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_account_t *a);

/* EVAL that looks an email up and replies the account hash as HGETALL
 * would, with "id" added; an empty array when there is none. */
int ac_cmd_account_by_email(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *email);

/* HGETALL of one account by id. */
int ac_cmd_account_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);

/* HSET of one account field ("pw", "roles", "status", "totp", ...). */
int ac_cmd_account_set(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *field, const char *value);

/* EVAL that replaces the password hash "old_phc", just verified, by
 * "new_phc" made with the current argon2 parameters, only if the account
 * still holds old_phc (a password changed meanwhile is kept). Replies 1,
 * or 0 when nothing was replaced. */
int ac_cmd_account_rehash(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *old_phc, const char *new_phc);

/* HSET of the TOTP secret and reset of the accepted step. */
int ac_cmd_account_set_totp(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *sealed);

/* EVAL that records an accepted TOTP step only if it is greater than the
 * stored one: replies 1, or 0 for a replay (another worker was first). */
int ac_cmd_totp_step(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t step);

/* EVAL that ends every session of an account (session keys and the
 * account's "s:" fields) and raises its generation "g", which ends its
 * pending second-factor states; replies the number ended. */
int ac_cmd_sessions_end_all(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);

/* EVAL that replies how many of the account's "s:" fields have not
 * reached their absolute expiry at "now" (0 for no account). */
int ac_cmd_sessions_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t now);

/* ZRANGE of account ids, for listing. */
int ac_cmd_accounts_list(ac_cmd_t *cmd, const ac_config_t *cfg);

/* Fills "a" from an HGETALL-shaped reply (field/value array, or a
 * RESP3-style map); AC_ERR_NOT_FOUND for an empty one, AC_ERR_REDIS for
 * an error or a malformed one. The id comes from the "id" field or, when
 * absent, from "id" argument (may be NULL). */
int ac_account_parse(const struct redisReply *r, const char *id,
    ac_account_t *a);

/* Recovery codes */

/* EVAL that replaces the account's codes with the given digests. */
int ac_cmd_recovery_replace(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);

/* SREM of one digest: replies 1 exactly once per code. */
int ac_cmd_recovery_use(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *digest);

/* SCARD: how many codes remain. */
int ac_cmd_recovery_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);

/* Partners */

typedef struct {
    char      id[AC_PARTNER_ID_MAX + 1];
    ac_alg_t  alg;
    char      key[AC_PARTNER_KEY_MAX + 1];  /* PEM, or HS256 secret */
    size_t    keylen;
    int       provision;                    /* may create accounts */
    int       require_2fa;
    int64_t   created;
} ac_partner_t;

/* EVAL that adds a partner: replies 1, or 0 when the id exists. An HS256
 * secret is sealed before it is stored. */
int ac_cmd_partner_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_partner_t *p, char *scratch,
    size_t scratchsize);
int ac_cmd_partner_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);
/* EVAL that removes a partner and ends the sessions it opened (see
 * "Partner trust" below); parse with ac_partner_remove_reply(). */
int ac_cmd_partner_remove(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);
int ac_cmd_partners_list(ac_cmd_t *cmd, const ac_config_t *cfg);

/* Fills "p" from an HGETALL reply, unsealing an HS256 secret. */
int ac_partner_parse(const struct redisReply *r, const ac_keys_t *keys,
    const char *id, ac_partner_t *p);

/* Integer reply to *v; AC_ERR_REDIS for an error or another type. */
int ac_reply_integer(const struct redisReply *r, int64_t *v);
/* Status or bulk reply equal to "OK". */
int ac_reply_ok(const struct redisReply *r);

/* ----------------------------------------------------------- sessions */

/*
 * A session is the hash "P sess:DIGEST" (DIGEST = ac_session_digest() of
 * the cookie value) with short fields, so that it stays small in Redis:
 *   a account id   e email    r roles     m amr ("pwd", "pwd otp", "sso",
 *   "sso otp")     p partner id (absent for none)    c created (unix s)
 *   x absolute expiry (unix s)    t last seen (unix s)    i IP
 *   u short device label
 * Its TTL is session_idle, renewed by ac_cmd_session_touch(). The
 * account hash "P acct:ID" indexes its sessions: one field "s:DIGEST" per
 * session, valued with its absolute expiry, at most AC_SESSIONS_MAX.
 */

#define AC_AMR_PWD         0x01
#define AC_AMR_SSO         0x02
#define AC_AMR_OTP         0x04
#define AC_AMR_MAX         8          /* "sso otp" */
#define AC_IP_MAX          46         /* INET6_ADDRSTRLEN */
#define AC_DEVICE_MAX      48         /* bytes kept of the device label */
#define AC_SESSION_TOUCH   60         /* seconds between two touches */
#define AC_SESSIONS_MAX    50         /* per account; the oldest end */

typedef struct {
    char      account[AC_ID_LEN + 1];
    char      email[AC_EMAIL_MAX + 1];
    unsigned  roles;                          /* AC_ROLE_* */
    unsigned  amr;                            /* AC_AMR_* */
    char      partner[AC_PARTNER_ID_MAX + 1]; /* "" for none */
    int64_t   created;
    int64_t   expires;                        /* absolute expiry */
    int64_t   last_seen;
    int64_t   fresh;            /* last proof of identity (field f), 0 */
    char      ip[AC_IP_MAX];
    char      device[AC_DEVICE_MAX + 1];
    int       account_status;   /* AC_STATUS_*, -1 when not fetched */
} ac_session_t;

/* "pwd", "pwd otp", "sso" or "sso otp"; AC_ERR_INVALID otherwise. */
int ac_amr_parse(const char *s, size_t len, unsigned *amr);
/* The stored form of a valid amr; "" for an invalid combination. */
const char *ac_amr_name(unsigned amr);

/* The session digest of a cookie value (a 43-character token). */
int ac_session_digest(const ac_keys_t *keys, const char *cookie, size_t len,
    char out[AC_DIGEST_LEN + 1]);

/* EVAL that writes the session hash with TTL session_idle and indexes it
 * as the account's field "s:DIGEST" -> absolute expiry. The same script
 * drops the account's "s:" fields past their expiry (at "created") and,
 * beyond AC_SESSIONS_MAX, ends the sessions that expire first (revoked
 * like ac_cmd_session_delete()). "s" must hold account, email, roles,
 * amr, created, expires, last_seen; ip, device and partner may be empty.
 * Replies 1, or an error reply without writing anything when the
 * account does not exist (erased meanwhile). Strings are referenced
 * from "s", which must outlive the command's hand-over to hiredis.
 * A session with a partner (SSO) is written only if that partner still
 * exists and the account is linked to it (else an error reply), and is
 * indexed in "P partner:ID:sess" so that removing the partner or
 * unlinking the account ends it. A session whose amr holds AC_AMR_SSO
 * never carries AC_ROLE_SECURITY or AC_ROLE_ADMIN: they are dropped
 * here, and again by ac_session_parse(). */
int ac_cmd_session_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const ac_session_t *s);

/* EVAL that replies the session hash as HGETALL would, with the field
 * "s" added holding the account's status ("" when the account is gone),
 * in one round trip; an empty array when there is no such session. */
int ac_cmd_session_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);

/* EVAL that renews the idle TTL and sets the last-seen time, only if the
 * session still exists (replies 1, else 0). Callers touch a session at
 * most once every AC_SESSION_TOUCH seconds. */
int ac_cmd_session_touch(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, int64_t now);

/* EVAL that deletes one session and its account's "s:" field; replies 1
 * when the session existed, else 0. */
int ac_cmd_session_delete(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account);

/* EVAL that moves a session to a new id "new_digest" (privilege change:
 * a fresh proof, a second factor enrolled), setting "field" to "value"
 * on the way ("" deletes it); the old id is revoked in every cache.
 * Replies 1, or 0 when the session is gone. */
int ac_cmd_session_rotate(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *new_digest,
    const char *field, const char *value);

/* EVAL that makes the pending second-factor state of "digest" (the
 * pending cookie's): account, return_to, the partner of an SSO ("" or
 * NULL for a password), and the account's generation, for pending_ttl.
 * Replies 1. */
int ac_cmd_pending_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *return_to,
    const char *partner);

/* EVAL that takes one of "tries" tries of a pending state before its
 * code is checked (the last try deletes it). Replies an empty array when
 * the state is gone, or stale (the account's generation moved on: lock,
 * password change, logout everywhere; or the account was erased), else
 * [pending HGETALL, account HGETALL, tries taken]. */
int ac_cmd_pending_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, unsigned tries);

/* Fills "s" from an ac_cmd_session_get() or HGETALL reply (array or
 * map). AC_ERR_NOT_FOUND for an empty reply; AC_ERR_REDIS for an error
 * reply, a malformed one, or a session missing a, x or m. The caller
 * still checks s->expires, s->account_status, the amr and the roles.
 * An SSO session's roles never hold AC_ROLES_SSO_DENIED, even when a
 * session written before that rule holds them. */
int ac_session_parse(const struct redisReply *r, ac_session_t *s);

/* --------------------------------------------------------- throttling */
/* (throttle.c: failure counters and growing delays) */

/*
 * Failure counters, hashes in Redis, one per thing an attempt names:
 *   P thr:id:DIGEST  the normalised email (the bytes as typed when they
 *                    are not an email): the same whether or not an
 *                    account exists (password, re-authentication);
 *   P thr:2f:DIGEST  the account id: second-factor codes, whatever the
 *                    sign-in or address they come with;
 *   P thr:tk:DIGEST  a registration token;
 *   P thr:ip:DIGEST  the client address, which is never stored.
 * DIGEST = ac_digest(AC_PURPOSE_THROTTLE). Fields: n attempts counted,
 * u unix second before which attempts are refused. A key lives
 * throttle_window after its last attempt (a day at least for thr:2f).
 *
 * An attempt is counted before it is checked: ac_cmd_throttle_reserve()
 * refuses it while a delay runs on any of its counters, else counts it
 * on all of them at once, in one script, so that parallel attempts get
 * no more checks than sequential ones. Past throttle_free attempts (per
 * IP: AC_THROTTLE_IP_FACTOR times as many, since one address may serve
 * many people) each one sets a delay of 1, 2, 4... seconds, at most
 * throttle_max_delay; times being whole seconds, u is now + delay + 1.
 * A success calls ac_cmd_throttle_release(): the counters of what was
 * proved are deleted, the address gets its attempt back. So a correct
 * password resets thr:id, never thr:2f: only a correct code does.
 */
#define AC_THROTTLE_IP_FACTOR      4
#define AC_THROTTLE_SECOND_WINDOW  86400
#define AC_THROTTLE_MAX            3

typedef enum {
    AC_THR_EMAIL = 0,
    AC_THR_SECOND,
    AC_THR_TOKEN,
    AC_THR_IP
} ac_throttle_kind_t;

typedef struct {
    char                key[AC_THROTTLE_MAX][AC_KEY_MAX];
    ac_throttle_kind_t  kind[AC_THROTTLE_MAX];
    size_t              n;
} ac_throttle_t;

/* Adds one counter to "t" (zeroed by the caller first): the key of
 * "ident" of that kind. AC_ERR_TOO_LONG past AC_THROTTLE_MAX. */
int ac_throttle_add(const ac_config_t *cfg, const ac_keys_t *keys,
    ac_throttle_t *t, ac_throttle_kind_t kind, const char *ident,
    size_t identlen);

/* A fresh "t" with the counters of a password attempt: the email as
 * typed ("ident") and the address "ip" as text. */
int ac_throttle_keys(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *ident, size_t identlen, const char *ip, ac_throttle_t *t);

/* Delay in seconds set by the "failures"-th failure when "free" are
 * allowed without delay: 0, then 1, 2, 4... capped at max_delay. */
int64_t ac_throttle_delay(int64_t failures, int64_t free,
    int64_t max_delay);

/* EVAL that replies the seconds left before an attempt is allowed (the
 * attempt is not counted), or 0: the attempt is counted on every
 * counter of "t" and may be checked. */
int ac_cmd_throttle_reserve(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t, int64_t now);

/* EVAL after a success: deletes every counter of "t" but the address's,
 * which gets the attempt back. Replies 0. */
int ac_cmd_throttle_release(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t);

/* The seconds replied by the scripts (>= 0). */
int ac_throttle_parse(const struct redisReply *r, int64_t *seconds);

/* -------------------------------------------------- accounts: privacy */
/* (account.c: erasure, export, retention, restriction, rectification;
 * docs/PRIVACY.md) */

/*
 * Keys of this section (P = key_prefix, EDIGEST = the email index digest
 * of the normalised email, as in "P email:EDIGEST"):
 *   P acct:ID:partners  hash    partner id -> first link (unix s)
 *   P inv:PARTNER       hash    EDIGEST -> "SINCE SEALED_EMAIL"
 *   P invby:EDIGEST     set     partners that invited the email
 *   P events            channel "revoke DIGEST" per ended session, then
 *                               "account ID"; per-worker session caches
 *                               drop those entries
 */

/*
 * EVAL that erases an account in one step: its hash (with the log key
 * "lk", which leaves its past log entries unreadable, and the "s:"
 * session index), email index, sessions, recovery codes, partner links, the
 * invitations of its email, and its "P accounts" entry; then publishes
 * the ended sessions on "P events". Its log pseudonym ("lp" and its
 * "P log:pseudo" entry) goes too; the reply carries the destroyed log
 * key for ac_account_erase_pseudonym(). "email" must be the account's
 * (normalised) email. Parse the reply with ac_account_erase_reply().
 */
int ac_cmd_account_erase(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *email);

/* The same, only if the account has been idle since before "cutoff"
 * (unix s): its last login, or its creation when it never logged in,
 * is older, and it is not restricted. cutoff 0 erases unconditionally. */
int ac_cmd_account_erase_idle(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *email,
    int64_t cutoff);

/* AC_OK: erased; AC_ERR_NOT_FOUND: no such account; AC_ERR_MISMATCH:
 * the account's email is not "email"; AC_ERR_EXISTS: kept, it is not
 * idle (ac_cmd_account_erase_idle); AC_ERR_REDIS otherwise. *sessions
 * (may be NULL) receives the number of sessions ended. */
int ac_account_erase_reply(const struct redisReply *r, int64_t *sessions);

/*
 * Retention. EVAL that reads up to "count" accounts of "P accounts"
 * from rank "offset" and replies [next, id, email, last, restricted,
 * id, ...] for those idle since before cutoff (last = last login, or
 * creation); next is the offset of the following batch, 0 at the end.
 * Read-only; restricted accounts are listed (with restricted = 1) but
 * retention must keep them.
 */
#define AC_RETENTION_BATCH    200

typedef struct {
    char      id[AC_ID_LEN + 1];
    char      email[AC_EMAIL_MAX + 1];
    int64_t   last;                     /* last login, else created */
    int       restricted;
} ac_idle_account_t;

int ac_cmd_retention_scan(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t cutoff, int64_t offset, int64_t count);

/* Calls fn for each account of one scan reply; *next gets the next
 * offset (0: done). Stops at and returns fn's first non-AC_OK code. */
int ac_retention_scan_parse(const struct redisReply *r, int64_t *next,
    int (*fn)(const ac_idle_account_t *a, void *data), void *data);

/*
 * Restriction: EVAL that sets (on) or clears the account's "restricted"
 * field; replies 1, or 0 when there is no such account. A restricted
 * account is kept by retention; the flag is in ac_account_t.restricted.
 */
int ac_cmd_account_restrict(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int on);

/*
 * Rectification: EVAL that changes the account's email from old_email
 * to new_email (both normalised) in one step: claims the new index,
 * drops the old one, updates the hash and the email of its live
 * sessions (which keep working). Parse with ac_account_rename_reply().
 */
int ac_cmd_account_rename(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *old_email,
    const char *new_email);

/* AC_OK: renamed; AC_ERR_EXISTS: new_email belongs to an account;
 * AC_ERR_NOT_FOUND: no such account; AC_ERR_MISMATCH: its email is not
 * old_email; AC_ERR_REDIS otherwise. */
int ac_account_rename_reply(const struct redisReply *r);

/*
 * Partner links and invitations (written by the SSO and partner API
 * code; exported and erased here).
 * ac_cmd_partner_link: HSETNX of "P acct:ID:partners" partner -> now.
 * ac_cmd_invitation_add: EVAL that records, if absent, that "partner"
 * invited "email" at "now" (the email sealed, bound to the partner),
 * in "P inv:PARTNER" and "P invby:EDIGEST"; replies 1, or 0 if it was
 * already invited. "scratch" holds the sealed email (AC_INVITE_MAX).
 */
#define AC_INVITE_MAX  (24 + AC_SEALED_LEN(AC_EMAIL_MAX) + 1)

int ac_cmd_partner_link(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner, int64_t now);
int ac_cmd_invitation_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *email,
    int64_t now, char scratch[AC_INVITE_MAX]);

/*
 * Export (SPEC 8, docs/PRIVACY.md): AC_EXPORT_NCMDS commands, which may
 * be pipelined or sent one by one (blocking or async), then one call
 * that turns their replies, in the same order, into the JSON document
 * {"format":"guichet-export","version":1,...}. Secrets, hashes, digests
 * and the log key are never written. The log part reads at most
 * AC_EXPORT_LOG_MAX of the account's entries, newest kept.
 */
#define AC_EXPORT_VERSION     1
#define AC_EXPORT_LOG_MAX     10000

typedef enum {
    AC_EXPORT_ACCOUNT = 0,     /* HGETALL P acct:ID */
    AC_EXPORT_RECOVERY,        /* SCARD P acct:ID:rc */
    AC_EXPORT_SESSIONS,        /* EVAL: the live sessions' hashes */
    AC_EXPORT_PARTNERS,        /* HGETALL P acct:ID:partners */
    AC_EXPORT_INVITATIONS,     /* EVAL: [partner, "SINCE SEALED"]... */
    AC_EXPORT_LOG,             /* EVAL: the account's log entries */
    AC_EXPORT_NCMDS
} ac_export_cmd_t;

int ac_cmd_account_export(ac_cmd_t cmds[AC_EXPORT_NCMDS],
    const ac_config_t *cfg, const ac_keys_t *keys, const char *id,
    const char *email);

/* Appends the document to "out". AC_ERR_NOT_FOUND when the account is
 * gone, AC_ERR_REDIS for a malformed reply, AC_ERR_NOMEM. */
int ac_account_export(const ac_keys_t *keys, const char *id,
    const struct redisReply *const replies[AC_EXPORT_NCMDS], int64_t now,
    ac_buf_t *out);

/* --------------------------------------------------------- assertions */
/* (assertion.c: partner SSO and partner API assertions, SPEC 6) */

/*
 * A partner assertion is a compact JWS "HEADER.PAYLOAD.SIGNATURE",
 * docs/PARTNERS.md describes it for partners. Verification, for one
 * request:
 *
 *   1. ac_assertion_peek_issuer(): reads "iss" without trusting it, so
 *      that the caller can find the partner (a cached ac_partner_key_t,
 *      or ac_cmd_partner_get() + ac_partner_parse() +
 *      ac_partner_key_new()); no such partner: reason
 *      AC_AR_UNKNOWN_PARTNER;
 *   2. ac_assertion_verify() with that key: structure, header, pinned
 *      algorithm, signature (OpenSSL, never the header's choice), then
 *      claims; out->reason says why it failed;
 *   3. ac_cmd_jti_claim() in Redis: "OK" (ac_jti_claim_parse() AC_OK)
 *      means first use; nil (AC_ERR_REPLAY) is reason AC_AR_REPLAY.
 *
 * Return codes of peek and verify: AC_OK; AC_ERR_INVALID for a token
 * that is not a well-formed assertion (reasons malformed, too_large,
 * bad_header: answer 400); AC_ERR_MISMATCH for every other refusal
 * (answer 401); AC_ERR_NOMEM or AC_ERR_CRYPTO (reason internal: 500).
 * Nothing is ever copied from the token into out but the partner id,
 * normalised email, jti and times, once they passed their checks.
 */
#define AC_ASSERTION_MAX       8192   /* bytes of a compact token */
#define AC_ASSERTION_SKEW      60     /* seconds of clock skew */
#define AC_ASSERTION_LIFETIME  300    /* exp - iat at most */
#define AC_JTI_MIN             8
#define AC_JTI_MAX             128    /* printable ASCII, no space */
#define AC_PARTNER_API_AUD     "/partner-api" /* appended to audience */

typedef enum {
    AC_ASSERTION_SSO = 0,       /* aud = audience, email required */
    AC_ASSERTION_PARTNER_API    /* aud = audience "/partner-api", no email */
} ac_assertion_kind_t;

typedef enum {
    AC_AR_OK = 0,
    AC_AR_MALFORMED,            /* not three strict base64url JSON parts */
    AC_AR_TOO_LARGE,            /* over AC_ASSERTION_MAX bytes */
    AC_AR_BAD_HEADER,           /* a header key other than alg/typ/kid */
    AC_AR_ALG_NONE,
    AC_AR_ALG_MISMATCH,         /* alg is not the partner's */
    AC_AR_UNKNOWN_PARTNER,
    AC_AR_BAD_SIGNATURE,
    AC_AR_EXTRA_CLAIMS,         /* a claim that must not cross */
    AC_AR_MISSING_CLAIM,
    AC_AR_WRONG_AUDIENCE,
    AC_AR_WRONG_ISSUER,         /* iss is not the key's partner */
    AC_AR_EXPIRED,
    AC_AR_NOT_YET_VALID,
    AC_AR_LIFETIME_TOO_LONG,
    AC_AR_ISSUED_IN_FUTURE,
    AC_AR_BAD_EMAIL,
    AC_AR_REPLAY,               /* set by the caller after the jti claim */
    AC_AR_INTERNAL,             /* out of memory, crypto library failure */
    AC_AR_COUNT
} ac_assertion_reason_t;

/* "malformed", "too_large", ... as logged; NULL out of range. */
const char *ac_assertion_reason_name(ac_assertion_reason_t reason);

typedef struct {
    ac_assertion_reason_t  reason;
    ac_assertion_kind_t    kind;
    char                   partner[AC_PARTNER_ID_MAX + 1];
    char                   email[AC_EMAIL_MAX + 1]; /* "" for partner API */
    char                   jti[AC_JTI_MAX + 1];
    int64_t                iat;
    int64_t                exp;
} ac_assertion_t;

/*
 * A partner's verification key, parsed once (PEM decoded, HS256 secret
 * copied and wiped on free) so that a worker may cache it and use it
 * from several threads at once: it is read-only after creation.
 * ac_partner_key_new() applies ac_partner_key_check() first.
 */
typedef struct ac_partner_key_s  ac_partner_key_t;

int ac_partner_key_new(const ac_partner_t *p, ac_partner_key_t **k,
    ac_error_t *err);
void ac_partner_key_free(ac_partner_key_t *k);
const char *ac_partner_key_id(const ac_partner_key_t *k);
ac_alg_t ac_partner_key_alg(const ac_partner_key_t *k);
/* 1 when k was made from p's current id, algorithm and key (so that a
 * cached key can be dropped after a rotation), else 0. */
int ac_partner_key_same(const ac_partner_key_t *k, const ac_partner_t *p);

/* Writes the unverified "iss" of a token (a syntactically valid partner
 * id) to iss; *reason (may be NULL) says why not. */
int ac_assertion_peek_issuer(const char *token, size_t len,
    char iss[AC_PARTNER_ID_MAX + 1], ac_assertion_reason_t *reason);

/*
 * Verifies a token of "kind" with partner key k at time now: the
 * header holds only alg, typ ("JWT"), kid (ignored), alg equals the
 * partner's; the claims are exactly iss, aud, iat, exp, jti, optional
 * nbf, and email for AC_ASSERTION_SSO; aud is a string (an array is
 * refused); exp - iat <= AC_ASSERTION_LIFETIME; AC_ASSERTION_SKEW
 * seconds of skew on exp, nbf and iat. out is always written; on
 * failure only out->reason (and out->kind) are meaningful.
 */
int ac_assertion_verify(const ac_config_t *cfg, const ac_partner_key_t *k,
    const char *token, size_t len, time_t now, ac_assertion_kind_t kind,
    ac_assertion_t *out, ac_error_t *err);

/*
 * The replay guard: SET "P jti:PARTNER:DIGEST" 1 NX EX ttl, DIGEST the
 * keyed digest (AC_PURPOSE_TOKEN) of partner and jti, ttl = exp - now +
 * AC_ASSERTION_SKEW, at least 1. ac_jti_claim_parse(): AC_OK for "OK"
 * (first use), AC_ERR_REPLAY for nil, AC_ERR_REDIS otherwise.
 */
int ac_cmd_jti_claim(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *jti,
    int64_t exp, int64_t now);
int ac_jti_claim_parse(const struct redisReply *r);

/* ------------------------------------------------------------ QR codes */
/* (qr.c: libqrencode, for the TOTP enrolment page) */

/*
 * Appends to "out" a standalone SVG document of the QR code of "text"
 * (byte mode, error correction level M, smallest version that fits),
 * with a 4-module quiet zone: one <rect> for the light background and
 * one <path> of the dark modules, in module units (viewBox "0 0 N N").
 * No script, style element, link or copy of the text, so it is safe to
 * serve as image/svg+xml under "default-src 'self'". AC_ERR_INVALID for
 * an empty text, AC_ERR_TOO_LONG when it exceeds AC_QR_TEXT_MAX bytes
 * or a QR code's capacity, AC_ERR_NOMEM.
 */
#define AC_QR_TEXT_MAX     1024
#define AC_QR_QUIET        4

int ac_qr_svg(const char *text, ac_buf_t *out);

/* ---------------------------------------------------------- anomalies */
/* (anomaly.c: the security team's anomaly rules, docs/SECURITY-TEAM.md) */

/*
 * A streaming report over connection log entries: ac_anomaly_add() each
 * parsed entry (in any order: they are sorted by time and seq; entries
 * that are not login, 2FA, SSO or throttled events are skipped), then
 * ac_anomaly_run() once, then read the findings by index. Rules, with
 * thresholds from the configuration (anomaly_*), each reported once per
 * subject with its busiest window of anomaly_window:
 *   ip_failures           failed attempts from one IP (details: accounts)
 *   account_failures      failed attempts on one account or typed email
 *                         (details: IPs)
 *   second_factor_burst   wrong second-factor codes for one account, the
 *                         password being known (details: IPs)
 *   credential_stuffing   distinct accounts tried from one IP
 *   partner_sso_failures  SSO failures of one partner (details: IPs)
 *   throttled             one IP was throttled at least once
 *   new_ip, new_device    a success for an account from an IP, else a
 *                         user agent, that none of its earlier successes
 *                         in the entries fed came from (ip, ua set)
 * Erased personal fields (AC_LOG_ERASED) count as absent. Strings of a
 * finding live as long as the report.
 */
#define AC_ANOMALY_DETAILS    20

typedef struct ac_anomaly_s  ac_anomaly_t;
struct ac_log_entry_s;                /* ac_log_entry_t, below */

typedef struct {
    const char  *rule;
    const char  *subject_kind;   /* "ip", "account", "partner" */
    const char  *subject;
    uint64_t     count;          /* events, or distinct accounts */
    int64_t      first_ms;
    int64_t      last_ms;
    const char  *details_kind;   /* "ip" or "account" */
    const char  *details[AC_ANOMALY_DETAILS];
    size_t       ndetails;
    uint64_t     more;           /* distinct details beyond those */
    const char  *ip;             /* new_ip, new_device; else "" */
    const char  *ua;
} ac_anomaly_finding_t;

int ac_anomaly_new(const ac_config_t *cfg, ac_anomaly_t **an);
/* AC_OK (also for a skipped entry) or AC_ERR_NOMEM; AC_ERR_INVALID
 * after ac_anomaly_run(). */
int ac_anomaly_add(ac_anomaly_t *an, const struct ac_log_entry_s *e);
int ac_anomaly_run(ac_anomaly_t *an);
/* Authentication events kept, and findings once run. */
size_t ac_anomaly_events(const ac_anomaly_t *an);
size_t ac_anomaly_count(const ac_anomaly_t *an);
/* AC_ERR_NOT_FOUND past the last finding. */
int ac_anomaly_get(const ac_anomaly_t *an, size_t i,
    ac_anomaly_finding_t *f);
void ac_anomaly_free(ac_anomaly_t *an);

/* -------------------------------------------------------- invitations */
/* (invitation.c: partner invitations, registration tokens, key rotation;
 * docs/PARTNERS.md) */

/*
 * Besides "P inv:PARTNER" and "P invby:EDIGEST" (ac_cmd_invitation_add),
 * each invitation gets a registration token, stored only as its digest:
 *   P regtok:TDIGEST  hash  p partner, v "SINCE SEALED_EMAIL" (as in
 *                           "P inv:PARTNER")                AC_REGTOK_TTL
 * TDIGEST = ac_digest(AC_PURPOSE_TOKEN) of the token. The token itself
 * is derived from the invitation (HMAC under the token key of partner,
 * email and SINCE), so that guichetctl can print the link again while
 * Redis holds no usable secret. It is good once: registering deletes
 * the key.
 *
 * An invitation is "registered" when the invited email's account is
 * linked to the inviting partner ("P acct:ID:partners": SSO through it,
 * or registration through its link), "since" the link; otherwise
 * "invited", since the invitation. An account made any other way stays
 * "invited" for the partner, which cannot learn that way who else has
 * an account.
 */
#define AC_REGTOK_TTL         (14 * 86400)
#define AC_INVITE_EMAILS_MAX  100
#define AC_INVITE_BODY_MAX    32768

/* The registration token of the invitation of "email" (normalised) by
 * "partner" at "since". */
int ac_regtok_derive(const ac_keys_t *keys, const char *partner,
    const char *email, int64_t since, char token[AC_TOKEN_LEN + 1]);

/* EVAL that records the invitation, as ac_cmd_invitation_add, and its
 * registration token; replies 1, or 0 when it was already invited
 * (nothing changes then). An invitation whose token expired unused
 * (AC_REGTOK_TTL after it) and whose email is not linked to the partner
 * is renewed: new time, fresh token; replies 1. "scratch" as for
 * ac_cmd_invitation_add. */
int ac_cmd_invitation_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *email,
    int64_t now, char scratch[AC_INVITE_MAX]);

/*
 * Parses a partner API body {"emails":["a@b", ...]} (strict JSON, no
 * other key, 1..AC_INVITE_EMAILS_MAX strings, at most
 * AC_INVITE_BODY_MAX bytes) into normalised emails, duplicates
 * dropped. AC_ERR_INVALID (bad shape, *bad = -1), AC_ERR_TOO_LONG,
 * AC_ERR_BAD_EMAIL (*bad = index of the first bad email).
 */
int ac_invitation_body_parse(const char *body, size_t len,
    char emails[][AC_EMAIL_MAX + 1], size_t max, size_t *n, long *bad);

typedef struct {
    char     partner[AC_PARTNER_ID_MAX + 1];
    char     email[AC_EMAIL_MAX + 1];
    int64_t  since;
} ac_regtok_t;

/* HMGET p v of the token's key (AC_ERR_INVALID when the token is not
 * AC_TOKEN_LEN base64url characters). */
int ac_cmd_regtok_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* EVAL that reads and deletes the token's key in one step: the token
 * is used up whatever follows. */
int ac_cmd_regtok_consume(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* TTL of the token's key: -2 when used up or expired. */
int ac_cmd_regtok_ttl(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* Get and consume replies: AC_ERR_NOT_FOUND (unknown, used or expired),
 * AC_ERR_REDIS, AC_ERR_MISMATCH (the email does not open). */
int ac_regtok_parse(const struct redisReply *r, const ac_keys_t *keys,
    ac_regtok_t *t);

/*
 * EVAL that replies, for each invitation of "partner":
 * [EDIGEST, "SINCE SEALED", link time or nil, ...].
 */
int ac_cmd_registrations(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner);

typedef struct {
    char     email[AC_EMAIL_MAX + 1];
    int      registered;
    int64_t  invited;                   /* invitation time */
    int64_t  since;                     /* of the current status */
} ac_registration_t;

/* Calls fn for each entry, in the reply's order; stops at fn's first
 * non-AC_OK code and returns it. AC_ERR_REDIS for a malformed reply. */
int ac_registrations_parse(const struct redisReply *r,
    const ac_keys_t *keys, const char *partner,
    int (*fn)(const ac_registration_t *reg, void *data), void *data);

/* {"registrations":[{"email","status","since"}...]}, oldest first,
 * times in RFC 3339 UTC: what the partner API answers. */
int ac_registrations_json(const struct redisReply *r,
    const ac_keys_t *keys, const char *partner, ac_buf_t *out);

/* EVAL that replaces an existing partner's algorithm and key (an HS256
 * secret sealed as by ac_cmd_partner_add): replies 1, or 0 when there
 * is no such partner. */
int ac_cmd_partner_rotate(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_partner_t *p, char *scratch,
    size_t scratchsize);

/* ------------------------------------------------------- web helpers */
/* (web.c: return_to, CSRF, templates) */

/*
 * return_to. A value is kept when it is either
 *   - a path: one '/' not followed by '/' or '\', printable ASCII only
 *     (no space, no backslash), well-formed %XX escapes, and once
 *     decoded neither a control character nor a leading "//" or "/\";
 *   - an absolute http(s) URL whose scheme, host and port equal an entry
 *     of cfg->allowed_redirect_hosts ("https://host" or
 *     "https://host:8443"). Scheme and host compare case-insensitively;
 *     a missing port is the scheme's default, so "https://h" and
 *     "https://h:443" are the same origin. No userinfo ('@'), no
 *     backslash; the rest of the URL follows the path rules.
 * Anything else, or more than AC_RETURN_TO_MAX bytes, becomes "/". The
 * function always writes a safe, NUL-terminated value to out (outsize
 * >= 2; AC_RETURN_TO_MAX + 1 always fits) and returns AC_OK when the
 * input was kept, AC_ERR_INVALID when it was replaced.
 */
#define AC_RETURN_TO_MAX   2048

int ac_return_to(const ac_config_t *cfg, const char *in, size_t len,
    char *out, size_t outsize);

/* Checks one allowed_redirect_hosts entry: "http(s)://host[:port]",
 * nothing after it but an optional '/'. */
int ac_redirect_origin_check(const char *entry);

/*
 * application/x-www-form-urlencoded bodies and query strings. Writes the
 * decoded value of field "name" ('+' is a space) with a NUL after it.
 * The whole input is checked on every call: a malformed %-escape, a
 * decoded NUL, or "name" present twice give AC_ERR_INVALID; a value
 * that does not fit outsize - 1 bytes AC_ERR_TOO_LONG; an absent field
 * AC_ERR_NOT_FOUND. On error out is wiped and left empty.
 */
int ac_form_get(const char *body, size_t len, const char *name, char *out,
    size_t outsize, size_t *outlen);

/*
 * CSRF, as signed double-submit tokens. The browser holds a random
 * value in a cookie (ac_csrf_cookie_new); each form carries
 * "MAC.EXPIRY", MAC = base64url(HMAC(AC_PURPOSE_CSRF,
 * binding "|" form "|" expiry)). Before login the binding is the CSRF
 * cookie's value; once logged in it is the session digest. "form" names
 * the form ("login", "2fa", "logout", ...: [a-z0-9_.-], 1..32 bytes) so
 * a token is good for one form only. Tokens live AC_CSRF_TTL seconds.
 * Verification: AC_OK, AC_ERR_MISMATCH (forged, for another binding or
 * form, or expired), AC_ERR_INVALID (malformed).
 */
#define AC_CSRF_TTL        7200
#define AC_CSRF_TOKEN_MAX  64          /* 43 + '.' + 20 digits */
#define AC_CSRF_BINDING_MAX 128

int ac_csrf_cookie_new(char out[AC_TOKEN_LEN + 1]);
int ac_csrf_token(const ac_keys_t *keys, const char *binding,
    const char *form, time_t now, char out[AC_CSRF_TOKEN_MAX + 1]);
int ac_csrf_verify(const ac_keys_t *keys, const char *binding,
    const char *form, const char *token, size_t len, time_t now);

/*
 * Templates: "{{name}}" is replaced by the variable's value, HTML-escaped
 * (ac_buf_html); "{{#name}}...{{/name}}" is kept only when the variable
 * is non-empty, "{{^name}}...{{/name}}" only when it is empty. Names are
 * [a-z0-9_], 1..32 bytes. There is no raw insertion: "{{{" and any other
 * "{{" that is not such a tag are errors, as are unknown names.
 */
#define AC_TVAR_NAME_MAX   32

typedef struct {
    const char  *name;
    const char  *value;     /* NULL counts as empty */
    size_t       len;
} ac_tvar_t;

/* For configuration time: every tag well formed, sections balanced,
 * every name among "names". err->msg says which line is wrong. */
int ac_template_check(const char *tpl, size_t len,
    const char *const *names, size_t n, ac_error_t *err);
/* Appends the rendered page to out; AC_ERR_INVALID on a template error
 * (out then holds a partial page to discard), AC_ERR_NOMEM. */
int ac_template_render(const char *tpl, size_t len, const ac_tvar_t *vars,
    size_t n, ac_buf_t *out);

/* The headers every page sends (SPEC 5), as static name/value pairs. */
typedef struct {
    const char  *name;
    const char  *value;
} ac_header_t;

const ac_header_t *ac_security_headers(size_t *n);

/*
 * Set-Cookie value: "NAME=VALUE; Path=/; HttpOnly; SameSite=Lax"
 * then "; Secure" when secure, then "; Max-Age=N" when max_age >= 0
 * (0 with an empty value clears the cookie). Never a Domain. The name
 * must be an RFC 6265 token, the value cookie-octets of at most
 * AC_COOKIE_VALUE_MAX bytes; a "__Host-" name requires secure.
 */
#define AC_COOKIE_VALUE_MAX 256
#define AC_SET_COOKIE_MAX   512

int ac_cookie_format(const char *name, const char *value, int64_t max_age,
    int secure, char *out, size_t outsize);

/*
 * Finds cookie "name" in a Cookie header ("a=1; b=2", spaces tolerated).
 * AC_ERR_NOT_FOUND when absent or empty, AC_ERR_INVALID when its value
 * holds a byte outside the cookie-octet set or the name appears twice
 * (a cookie planted by another site of the domain), AC_ERR_TOO_LONG
 * beyond AC_COOKIE_VALUE_MAX bytes or outsize - 1. Other cookies are
 * skipped without being judged.
 */
int ac_cookie_get(const char *header, size_t len, const char *name,
    char *out, size_t outsize, size_t *outlen);

/* ------------------------------------------------------- partner trust */
/* (link.c: SPEC 6, "a partner vouches only for its own people";
 * docs/PARTNERS.md "Which accounts a partner may open") */

/*
 * An assertion opens an account only when the account is linked to the
 * asserting partner ("P acct:ID:partners", above): provisioned by its
 * SSO, registered through its invitation, or linked after the person
 * proved ownership once (password, then the second factor when
 * enrolled) while a pending link waited:
 *   P link:DIGEST      hash  a account, p partner, r return_to,
 *                            n wrong passwords              pending_ttl
 * (DIGEST = ac_session_digest() of the pending cookie's token). The
 * sessions a partner opened are indexed by partner:
 *   P partner:ID:sess  zset  session digest -> absolute expiry
 * so that removing the partner or unlinking an account ends them, and
 * publishes "revoke DIGEST" on "P events" for the per-worker caches.
 */
#define AC_ROLES_SSO_DENIED  (AC_ROLE_SECURITY | AC_ROLE_ADMIN)

/* EVAL that replies 1 when the account is linked to the partner, 0
 * when not, -1 when the partner no longer exists (removed while a
 * gateway still had its key cached). */
int ac_cmd_partner_linked(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner);

/* Parses the reply of ac_cmd_partner_remove(): AC_OK (removed; *ended,
 * may be NULL, gets the sessions ended), AC_ERR_NOT_FOUND (no such
 * partner), AC_ERR_REDIS. */
int ac_partner_remove_reply(const struct redisReply *r, int64_t *ended);

/* EVAL that removes the link between account "id" and "partner" and
 * ends the account's sessions that partner opened, in one step; parse
 * with ac_partner_unlink_reply(). */
int ac_cmd_partner_unlink(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner);
/* AC_OK (unlinked; *ended may be NULL), AC_ERR_NOT_FOUND (it was not
 * linked; sessions of the partner were ended all the same),
 * AC_ERR_REDIS. */
int ac_partner_unlink_reply(const struct redisReply *r, int64_t *ended);

/* EVAL that stores a pending link (replacing one with the same digest)
 * with TTL pending_ttl; replies 1. */
int ac_cmd_link_pending_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *partner,
    const char *return_to);

/* EVAL that replies [pending link hash, account hash] in one round trip,
 * an empty array when the pending link is gone. */
int ac_cmd_link_pending_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);

typedef struct {
    ac_account_t  account;
    char          partner[AC_PARTNER_ID_MAX + 1];
    char          return_to[AC_RETURN_TO_MAX + 1];  /* check it again */
    int64_t       failures;
} ac_link_pending_t;

/* AC_OK; AC_ERR_NOT_FOUND when the pending link or its account is gone;
 * AC_ERR_REDIS for a malformed reply. */
int ac_link_pending_parse(const struct redisReply *r,
    ac_link_pending_t *lp);

/* EVAL that counts a wrong password: replies the count, and deletes
 * the pending link once it reaches "tries" (-1 when already gone). */
int ac_cmd_link_pending_fail(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, int64_t tries);

/* DEL of the pending link: it is good for one proof. */
int ac_cmd_link_pending_delete(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);

/* EVAL that marks the pending 2FA state "P pending:DIGEST" (field
 * "l"): on success, its second factor also creates the link to its
 * partner ("p"). Replies 1, or 0 when that state is gone. */
int ac_cmd_pending_link_mark(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);

/* ----------------------------------------------------- connection log */
/* (log.c: events, hash chain, append, verify) */

/*
 * The connection log is the stream "P log"; docs/LOG.md describes it.
 * Each entry holds short fields:
 *   s seq (1, 2, ...)   t time (unix ms)   v event   r "ok" | "fail"
 *   c reason code   a account pseudonym (ac_log_pseudonym())
 *   p partner id   d session digest prefix
 *   e email   i IP   u user agent   (plain: entries without an account)
 *   x e, i, u sealed under the account's log key (entries with one)
 *   h chain hash: base64url(HMAC(AC_PURPOSE_LOG, h[n-1] | canonical
 *     encoding of the other fields)), h[0] being 32 zero bytes
 * "P log:head" holds "SEQ HASH" of the last entry, "P log:checkpoint"
 * that of the last entry removed by retention.
 */

#define AC_LOG_CONFLICT       2     /* append: the head moved, retry */
#define AC_LOG_RETRIES        32    /* appends a writer should attempt */
#define AC_LOG_KEY_LEN        32    /* per-account log key, bytes */
#define AC_LOG_KEY_SEALED_MAX (AC_SEALED_LEN(AC_LOG_KEY_LEN) + 1)
#define AC_LOG_HASH_LEN       43    /* base64url of AC_MAC_LEN bytes */
#define AC_LOG_REASON_MAX     64
#define AC_LOG_UA_MAX         256
#define AC_LOG_SESSION_LEN    8     /* session digest prefix kept */
#define AC_LOG_EVENT_MAX      24
#define AC_LOG_ID_MAX         48    /* stream entry id "MS-N" */
#define AC_LOG_ERASED         "[erased]"

typedef enum {
    AC_EV_LOGIN_SUCCESS = 0,
    AC_EV_LOGIN_FAILURE,
    AC_EV_2FA_SUCCESS,
    AC_EV_2FA_FAILURE,
    AC_EV_SSO_SUCCESS,
    AC_EV_SSO_FAILURE,
    AC_EV_LOGOUT,
    AC_EV_SESSION_REVOKED,
    AC_EV_THROTTLED,
    AC_EV_ACCOUNT_CREATED,
    AC_EV_ACCOUNT_ERASED,
    AC_EV_PASSWORD_CHANGED,
    AC_EV_TOTP_ENROLLED,
    AC_EV_PARTNER_INVITATION,
    AC_EV_EXPORT,
    AC_EV_ACCOUNT_LOCKED,
    AC_EV_ACCOUNT_UNLOCKED,
    AC_EV_ROLE_CHANGED,
    AC_EV_PARTNER_ADDED,
    AC_EV_PARTNER_REMOVED,
    AC_EV_TOTP_DISABLED,
    AC_EV_RECOVERY_GENERATED,
    AC_EV_EMAIL_CHANGED,
    AC_EV_ACCOUNT_RESTRICTED,
    AC_EV_ACCOUNT_UNRESTRICTED,
    AC_EV_PARTNER_ROTATED,
    AC_EV_PARTNER_LINKED,
    AC_EV_PARTNER_UNLINKED,
    AC_EV_PASSWORD_RESET_REQUESTED,
    AC_EV_PASSWORD_RESET,
    AC_EV_EMAIL_CHANGE_REQUESTED,
    AC_EV_MAIL_SENT,
    AC_EV_MAIL_FAILED,
    AC_EV_COUNT
} ac_event_kind_t;

/* "login.success", ...; NULL for a value out of range. */
const char *ac_event_name(ac_event_kind_t kind);
/* AC_ERR_INVALID for a name that is not an event. */
int ac_event_parse(const char *name, size_t len, ac_event_kind_t *kind);

/*
 * An event as the caller knows it. Strings are pointer + length and
 * need no NUL; NULL or 0 means absent. Control bytes become '?'; the
 * email is cut to AC_EMAIL_MAX bytes, the user agent to AC_LOG_UA_MAX,
 * the reason to AC_LOG_REASON_MAX, the IP to AC_IP_MAX - 1 (at a UTF-8
 * character boundary). The account must be an account id and the
 * partner a partner id; only the first AC_LOG_SESSION_LEN characters of
 * the session digest are kept.
 *
 * The result is "fail" for the *.failure events and "throttled", and
 * for any event whose "failed" is set; "ok" otherwise.
 *
 * With an account, the entry names it by its pseudonym under log_key
 * (AC_LOG_KEY_LEN bytes, see ac_log_key_unseal() and ac_log_pseudonym())
 * and seals the email, IP and user agent under that key. Without log_key
 * (the account is gone) the entry records neither the account nor them.
 * "account" may also be a pseudonym (an account already erased, see
 * ac_account_erase_pseudonym()): it is recorded as is, without personal
 * fields. Without an account they are stored in plain text.
 */
typedef struct {
    ac_event_kind_t       kind;
    int                   failed;
    const char           *reason;
    size_t                reason_len;
    const char           *account;
    size_t                account_len;
    const char           *email;
    size_t                email_len;
    const char           *ip;
    size_t                ip_len;
    const char           *ua;
    size_t                ua_len;
    const char           *partner;
    size_t                partner_len;
    const char           *session;
    size_t                session_len;
    const unsigned char  *log_key;
} ac_event_t;

/*
 * EVAL that appends the event as entry prev_seq + 1, chained to
 * prev_hash, at time now_ms, only if "P log:head" still is "prev_seq
 * prev_hash" (no head: 0 and 32 zero bytes). Parse the reply with
 * ac_log_append_reply(); on AC_LOG_CONFLICT build the command again
 * from the head it returns (at most AC_LOG_RETRIES times). new_hash
 * (may be NULL) receives the entry's hash. Copied arguments fit
 * cmd->buf; the script is static.
 */
int ac_cmd_log_append(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_event_t *ev, uint64_t prev_seq,
    const unsigned char prev_hash[AC_MAC_LEN], int64_t now_ms,
    unsigned char new_hash[AC_MAC_LEN]);

/* AC_OK: appended, *seq and hash are the new head; AC_LOG_CONFLICT: the
 * head had moved, *seq and hash are the current one; AC_ERR_REDIS for
 * an error reply (a log without head) or a malformed one. */
int ac_log_append_reply(const struct redisReply *r, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN]);

/* GET of "P log:head" and of "P log:checkpoint". */
int ac_cmd_log_head(ac_cmd_t *cmd, const ac_config_t *cfg);
int ac_cmd_log_checkpoint(ac_cmd_t *cmd, const ac_config_t *cfg);

/* Parses a "SEQ HASH" reply of either; nil gives 0 and the genesis
 * hash (32 zero bytes). */
int ac_log_head_parse(const struct redisReply *r, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN]);

/* EVAL for retention: removes the entries whose stream id is below
 * before_ms and records the last one removed in "P log:checkpoint", in
 * one step. Replies the number of entries removed. */
int ac_cmd_log_trim(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t before_ms);

/*
 * Verifies one entry of an XRANGE / XREVRANGE reply ([id, [field,
 * value, ...]]) against the entry before it: its seq must be prev_seq
 * + 1 and its hash the chain's. AC_OK, AC_ERR_MISMATCH (edited,
 * inserted, deleted or reordered: an unknown or repeated field counts
 * as an edit), AC_ERR_REDIS (not an entry at all). Unless AC_ERR_REDIS,
 * *new_seq and new_hash receive the entry's own seq and hash when they
 * can be read (else prev_seq + 1 and prev_hash), so that a verifier may
 * report a break and go on from there. Start from the checkpoint; after
 * the last entry, compare with the head.
 */
int ac_log_verify_entry(const ac_keys_t *keys, uint64_t prev_seq,
    const unsigned char prev_hash[AC_MAC_LEN],
    const struct redisReply *entry, uint64_t *new_seq,
    unsigned char new_hash[AC_MAC_LEN]);

/* An entry made readable (strings NUL-terminated, "" when absent). */
typedef struct ac_log_entry_s {
    char      id[AC_LOG_ID_MAX];
    uint64_t  seq;
    int64_t   time_ms;
    char      event[AC_LOG_EVENT_MAX + 1];
    int       failed;
    char      reason[AC_LOG_REASON_MAX + 1];
    char      account[AC_ID_LEN + 1];
    char      partner[AC_PARTNER_ID_MAX + 1];
    char      session[AC_LOG_SESSION_LEN + 1];
    char      email[AC_EMAIL_MAX + 1];
    char      ip[AC_IP_MAX];
    char      ua[AC_LOG_UA_MAX + 1];
    int       sealed;       /* e, i, u were sealed under a log key */
    int       erased;       /* ... and could not be opened */
    char      hash[AC_LOG_HASH_LEN + 1];
} ac_log_entry_t;

/*
 * Fills "e" from one stream entry. Sealed personal fields are opened
 * with log_key (the account's, may be NULL); without it they read
 * AC_LOG_ERASED and e->erased is set. AC_ERR_MISMATCH when a log_key
 * was given but does not open them (e is still filled, as erased);
 * AC_ERR_REDIS for a malformed entry. Does not verify the chain.
 */
int ac_log_entry_parse(const struct redisReply *entry,
    const unsigned char *log_key, ac_log_entry_t *e);

/* -------------------------------------- log keys and pseudonyms */
/* (logkey.c) */

/*
 * Per-account log keys: 32 random bytes, stored sealed (bound to the
 * account id) as field "lk" of the account hash. Erasure destroys the
 * field, which leaves the account's past entries unreadable.
 */
int ac_log_key_new(const ac_keys_t *keys, const char *account,
    unsigned char key[AC_LOG_KEY_LEN], char sealed[AC_LOG_KEY_SEALED_MAX]);
int ac_log_key_unseal(const ac_keys_t *keys, const char *account,
    const char *sealed, size_t len, unsigned char key[AC_LOG_KEY_LEN]);

/* EVAL that stores "sealed" as the account's "lk" unless it has one,
 * and replies the stored value: nil when the account does not exist. */
int ac_cmd_log_key_init(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *sealed);
/* HGET of the account's "lk" (nil: none, e.g. erased). */
int ac_cmd_log_key_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account);

/*
 * Log entries name an account by its pseudonym (field "a"), never by its
 * id: AC_LOG_PSEUDO_LEN characters of upper-case base32 of the first 80
 * bits of HMAC-SHA256(log key, "guichet-log-pseudonym-1:" || id). Only
 * the account's log key links it back to the account, so erasure, which
 * destroys the key, leaves no way to recompute it. Entries written before
 * pseudonyms hold the (lower-case) account id itself.
 *
 * Index (built only here): "P acct:ID" field "lp" holds the pseudonym
 * and the hash "P log:pseudo" maps it back to ID, both written by the
 * append of an event of a living account and deleted by erasure.
 */
#define AC_LOG_PSEUDO_LEN     16

int ac_log_pseudonym(const unsigned char key[AC_LOG_KEY_LEN],
    const char *account, char out[AC_LOG_PSEUDO_LEN + 1]);
/* AC_OK when s is shaped like a pseudonym, else AC_ERR_INVALID. */
int ac_log_pseudonym_check(const char *s, size_t len);

/*
 * EVAL that resolves the account reference "a" of an entry (a pseudonym,
 * or the account id of an entry written before pseudonyms) to a living
 * account: replies [id, sealed log key], or nil.
 * ac_log_resolve_reply(): AC_OK, id and key set, once checked that the
 * key's pseudonym of id is "a" (or "a" is id); AC_ERR_NOT_FOUND when no
 * living account has it (erased, or an index that does not check out);
 * AC_ERR_REDIS for a malformed reply.
 */
int ac_cmd_log_resolve(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *a);
int ac_log_resolve_reply(const ac_keys_t *keys, const char *a,
    const struct redisReply *r, char id[AC_ID_LEN + 1],
    unsigned char key[AC_LOG_KEY_LEN]);

/*
 * The pseudonym of an account just erased, from the reply of its erasure
 * (which carries its last log key): for the "account.erased" entry.
 * AC_ERR_NOT_FOUND when the account had no log key.
 */
int ac_account_erase_pseudonym(const ac_keys_t *keys, const char *id,
    const struct redisReply *r, char out[AC_LOG_PSEUDO_LEN + 1]);

/* ------------------------------------------------ mail (SPEC 10) */
/* (mailconf.c: the mail keys of guichet.conf; mail.c: messages and
 * their templates; mailqueue.c: the queue, reset tokens, seen devices;
 * docs/OPERATIONS.md, docs/PRIVACY.md) */

#define AC_SMTP_TLS_STARTTLS      0     /* STARTTLS required */
#define AC_SMTP_TLS_TLS           1     /* implicit TLS (port 465) */
#define AC_SMTP_TLS_OFF           2     /* plain text: loopback only */

#define AC_NOTIFY_NEW_DEVICE      0x01
#define AC_NOTIFY_PASSWORD        0x02
#define AC_NOTIFY_SECOND_FACTOR   0x04
#define AC_NOTIFY_EMAIL           0x08
#define AC_NOTIFY_ERASURE         0x10
#define AC_NOTIFY_DEFAULT         (AC_NOTIFY_NEW_DEVICE | AC_NOTIFY_PASSWORD \
                                   | AC_NOTIFY_SECOND_FACTOR | AC_NOTIFY_EMAIL)

#define AC_PUBLIC_URL_MAX         256
#define AC_MAIL_TEMPLATES         "/usr/share/guichet/templates/mail"

/*
 * One mail key of guichet.conf ("public_url", "smtp", "smtp_tls",
 * "smtp_user", "mail_from", "notify", "invitation_mail") into cfg;
 * AC_ERR_CONFIG with the reason in "reason" for a bad value.
 * ac_mail_conf_free() releases what they hold (called by
 * ac_config_free()).
 */
int ac_mail_conf_set(ac_config_t *cfg, const char *key, const char *value,
    char *reason, size_t size);
void ac_mail_conf_free(ac_config_t *cfg);

/*
 * What the queue holds of a message: its kind (which names its
 * templates, "KIND.txt" and optional "KIND.html"), the recipient, and
 * the few values its text uses. No other personal data is queued.
 */
typedef enum {
    AC_MAIL_RESET = 0,            /* reset.*: the reset link */
    AC_MAIL_INVITATION,           /* invitation.*: registration link */
    AC_MAIL_EMAIL_CONFIRM,        /* email-confirm.*: to the new address */
    AC_MAIL_NEW_DEVICE,           /* new-device.*: notice */
    AC_MAIL_PASSWORD,             /* password.*: changed or reset */
    AC_MAIL_SECOND_FACTOR,        /* second-factor.*: notice */
    AC_MAIL_EMAIL_CHANGE,         /* email-change.*: to the old address */
    AC_MAIL_ERASED,               /* erased.*: the account is gone */
    AC_MAIL_COUNT
} ac_mail_kind_t;

#define AC_MAIL_LINK_MAX          512
#define AC_MAIL_DETAIL_MAX        128
#define AC_MAIL_ATTEMPTS          8     /* then the dead-letter stream */

/* "reset", "invitation", ...: the template name; NULL out of range. */
const char *ac_mail_kind_name(ac_mail_kind_t kind);
int ac_mail_kind_parse(const char *name, size_t len, ac_mail_kind_t *kind);

typedef struct {
    ac_mail_kind_t  kind;
    char            to[AC_EMAIL_MAX + 1];
    char            account[AC_ID_LEN + 1];    /* "" when none */
    int64_t         when;                      /* what happened, unix s */
    int64_t         expires;                   /* 0: never useless */
    char            ip[AC_IP_MAX];
    char            device[AC_LOG_UA_MAX + 1];
    char            link[AC_MAIL_LINK_MAX + 1];  /* the action */
    char            help[AC_MAIL_LINK_MAX + 1];  /* "not you?" page */
    char            partner[AC_PARTNER_ID_MAX + 1];
    char            detail[AC_MAIL_DETAIL_MAX + 1];
    int64_t         attempts;                  /* deliveries tried */
    char            id[AC_LOG_ID_MAX];         /* its stream id */
    char            error[AC_MAIL_DETAIL_MAX + 1]; /* dead letters' */
} ac_mail_t;

/*
 * XADD of the message to "P mail". Every string is checked: no control
 * character at all (a CR or LF could reach a header), the address a
 * valid one: AC_ERR_INVALID otherwise, and nothing is queued. Strings
 * are copied into cmd.
 */
int ac_cmd_mail_enqueue(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_mail_t *m);

/* A queue or dead-letter entry ([id, [field, value...]]) into m;
 * AC_ERR_REDIS when malformed. */
int ac_mail_parse(const struct redisReply *entry, ac_mail_t *m);

/* The variables templates may use, for ac_template_check(). */
extern const char *const  ac_mail_tvars[];
#define AC_MAIL_NTVARS            11

/*
 * The whole RFC 5322 message of m, ready for SMTP: From (mail_from,
 * named after totp_issuer), To, Subject (the first line "Subject: ..."
 * of the text template, RFC 2047 encoded when not ASCII), Date, a fresh
 * Message-ID, MIME-Version, Auto-Submitted: auto-generated, then the
 * text part (quoted-printable UTF-8), and with an HTML template a
 * multipart/alternative of both. Values are inserted as text in the
 * text part (control characters refused) and HTML-escaped in the HTML
 * part. AC_ERR_INVALID (err says why) for a bad template or a header
 * value holding CR, LF or another control character.
 */
int ac_mail_format(const ac_config_t *cfg, const ac_mail_t *m,
    const char *txt, size_t txtlen, const char *html, size_t htmllen,
    time_t now, ac_buf_t *out, ac_error_t *err);

/*
 * The text variant of ac_template_render(): values inserted as they
 * are, AC_ERR_INVALID when one holds a control character other than
 * none at all (a CR, LF, TAB, ESC... in a value is refused).
 */
int ac_template_render_text(const char *tpl, size_t len,
    const ac_tvar_t *vars, size_t n, ac_buf_t *out);

/*
 * The queue. Keys (P = key_prefix):
 *   P mail          stream  messages to send; consumer group "workers"
 *   P mail:retry    zset    stream id of a message waiting -> due time
 *   P mail:held     hash    that id -> the message's fields (JSON)
 *   P mail:dead     stream  messages given up, with "e" error, "f" time
 * A worker reads new messages with XREADGROUP, claims with XAUTOCLAIM
 * those a dead worker left pending longer than claim_idle, sends, and
 * only then acknowledges and deletes (ac_cmd_mail_done). A failure
 * moves the message out of the stream into mail:retry with a growing
 * delay (ac_cmd_mail_retry), ac_cmd_mail_due brings it back when due;
 * after AC_MAIL_ATTEMPTS, or a permanent refusal, or past its expiry,
 * it goes to mail:dead, kept AC_MAIL_DEAD_KEEP seconds.
 */
#define AC_MAIL_GROUP             "workers"
#define AC_MAIL_DEAD_KEEP         (7 * 86400)

/* XGROUP CREATE P mail workers 0 MKSTREAM (BUSYGROUP: already made) */
int ac_cmd_mail_group(ac_cmd_t *cmd, const ac_config_t *cfg);
/* XREADGROUP GROUP workers CONSUMER COUNT n BLOCK ms STREAMS P mail > */
int ac_cmd_mail_read(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *consumer, int64_t count, int64_t block_ms);
/* XAUTOCLAIM P mail workers CONSUMER idle_ms 0-0 COUNT n */
int ac_cmd_mail_claim(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *consumer, int64_t idle_ms, int64_t count);
/* EVAL: due retries back into P mail; replies how many. */
int ac_cmd_mail_due(ac_cmd_t *cmd, const ac_config_t *cfg, int64_t now);
/* EVAL: XACK + XDEL; replies 1, or 0 when another worker had it. */
int ac_cmd_mail_done(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);
/* EVAL: the message m (attempts counted) leaves the stream for
 * mail:retry, due at "due", or with dead set for mail:dead with the
 * error; replies 1, or 0 when another worker had it. */
int ac_cmd_mail_retry(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_mail_t *m, int64_t due, int dead, const char *error,
    int64_t now);
/* XRANGE P mail:dead - + COUNT n */
int ac_cmd_mail_dead_list(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t count);
/* EVAL: a dead letter ("all" for every one) back into P mail, attempts
 * reset; replies how many. */
int ac_cmd_mail_requeue(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);
/* XTRIM P mail:dead MINID before_ms */
int ac_cmd_mail_dead_trim(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t before_ms);
/* The delay before attempt n + 1 after n failures: 30 s, doubling, at
 * most an hour. */
int64_t ac_mail_backoff(int64_t attempts);

/*
 * Password reset tokens (SPEC 10): a bearer token mailed in a link,
 * stored only as its digest, single use:
 *   P reset:TDIGEST  hash  a account id, e its email then   reset_token_ttl
 * TDIGEST = ac_digest(AC_PURPOSE_TOKEN, "reset:" || token).
 */
int ac_reset_digest(const ac_keys_t *keys, const char *token, size_t len,
    char out[AC_DIGEST_LEN + 1]);

/*
 * EVAL for a reset request, the same work for any address: looks the
 * (normalised) email up; when it names an active, unrestricted account
 * with that email, stores the token's digest and queues m (its "to" the
 * account's email, "account" its id) in the same step. Replies
 * {1, account id} or {0, reason} ("unknown", "locked", "restricted").
 */
int ac_cmd_reset_request(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *email, const char *token,
    const ac_mail_t *m);

/* Parses that reply: AC_OK and the account id in "id", or
 * AC_ERR_NOT_FOUND with *reason ("unknown", "locked", "restricted";
 * "id" set but for "unknown"), AC_ERR_REDIS. */
int ac_reset_request_reply(const struct redisReply *r,
    char id[AC_ID_LEN + 1], const char **reason);

/* EVAL that replies the account of a token as HGETALL, "id" added;
 * empty when the token is unknown, used or expired, its account gone,
 * or the account's email or password changed since the request (a
 * reset, or any password change, ends every link sent before).
 * AC_ERR_INVALID for a token not shaped as ours (AC_TOKEN_LEN
 * base64url characters). */
int ac_cmd_reset_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* AC_OK with a filled; AC_ERR_NOT_FOUND; AC_ERR_REDIS. */
int ac_reset_parse(const struct redisReply *r, ac_account_t *a);

/* EVAL that trades the token of a link for a fresh one (the record
 * moves, its TTL kept): the link's token, which access logs and
 * histories keep, is dead once opened. Replies 1, or 0 when unknown. */
int ac_cmd_reset_exchange(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len,
    const char *fresh);

/* EVAL that uses the token up and sets the account's password to phc
 * (pw_changed = now) in one step, only while the token is unused and
 * still the account's: replies 1, or 0 (used meanwhile). */
int ac_cmd_reset_finish(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len,
    const char *account, const char *phc, int64_t now);

/*
 * Address changes: the confirmation link's token, as for resets:
 *   P emailchg:TDIGEST  hash  a account id, o old email, n new email
 *                             TTL reset_token_ttl
 * TDIGEST = ac_digest(AC_PURPOSE_TOKEN, "email:" || token).
 * ac_cmd_email_change_request stores it and queues both mails (m_new
 * to the new address with the link, m_old to the old one) in one step;
 * replies 1, or 0 when the new address already has an account.
 */
int ac_cmd_email_change_request(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const char *old_email,
    const char *new_email, const char *token, const ac_mail_t *m_new,
    const ac_mail_t *m_old);
/* EVAL that uses the token up: replies {account, old, new}, or an
 * empty array (unknown, used, expired, or the account's address is no
 * longer the old one). The caller then renames the account with
 * ac_cmd_account_rename(). */
int ac_cmd_email_change_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* AC_OK with the three, AC_ERR_NOT_FOUND, AC_ERR_REDIS. */
int ac_email_change_parse(const struct redisReply *r,
    char account[AC_ID_LEN + 1], char old_email[AC_EMAIL_MAX + 1],
    char new_email[AC_EMAIL_MAX + 1]);

/*
 * Devices seen by an account, for the new-device notice: fields
 * "n:IPDIGEST.DEVDIGEST" -> last seen (unix s) of the account hash
 * (so that erasure takes them), DIGEST = ac_digest(AC_PURPOSE_EMAIL)
 * of the address and of the device label. At most AC_SEEN_MAX, those
 * older than AC_SEEN_WINDOW dropped. EVAL after a sign-in: records the
 * pair and, when the account had signed in before but never from this
 * pair in the window, queues m (its "to" the account's email) when
 * notify is set. Replies 1 when the pair was new, else 0.
 */
#define AC_SEEN_MAX               20
#define AC_SEEN_WINDOW            (90 * 86400)

int ac_cmd_seen_device(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const char *ip,
    const char *device, int64_t now, int notify, const ac_mail_t *m);

/* The words a notice says for a user agent: "Firefox on Linux", ...,
 * at most AC_DEVICE_MAX bytes; "an unknown device" when nothing is
 * recognised. */
void ac_mail_device_words(const char *ua, size_t len,
    char out[AC_DEVICE_MAX + 1]);

#ifdef __cplusplus
}
#endif

#endif /* AUTHCORE_H */
