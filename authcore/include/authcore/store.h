/*
 * authcore: the Redis key schema and commands.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_STORE_H
#define AUTHCORE_STORE_H

#include "config.h"
#include "crypto.h"

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

/* Integer reply to *v; AC_ERR_REDIS for an error or another type. */
int ac_reply_integer(const struct redisReply *r, int64_t *v);

#endif /* AUTHCORE_STORE_H */
