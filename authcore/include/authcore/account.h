/*
 * authcore: accounts: emails, roles, the account record.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_ACCOUNT_H
#define AUTHCORE_ACCOUNT_H

#include "password.h"
#include "second_factor.h"
#include "store.h"

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
    int64_t   passkeys;                     /* registered passkeys "pk" */
} ac_account_t;

/* The account has a second factor: TOTP, or a passkey (SPEC 11). */
#define AC_ACCOUNT_SECOND(a)  ((a)->totp[0] != '\0' || (a)->passkeys > 0)

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

/* EVAL that records an accepted TOTP step only if it is greater than the
 * stored one: replies 1, or 0 for a replay (another worker was first). */
int ac_cmd_totp_step(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t step);

/* EVAL that ends every session of an account (its "s:" fields) and
 * raises its generation "g", which ends its pending second-factor
 * states; replies the number of live ones ended. */
int ac_cmd_sessions_end_all(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);
/* The same step setting the account's password hash first ("pw", and
 * "pw_changed" = now) while the account exists: a password change ends
 * every session in the same step as it takes effect (the account page,
 * guichetctl user passwd). */
int ac_cmd_password_set(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *phc, int64_t now);

/* EVAL that drops, for "count" accounts from rank "offset" of the
 * account list, their "s:" fields that are no live session at "now"
 * (past their expiry, idle too long, or of the previous layout), the
 * sweep of guichetctl's retention run. ac_sessions_sweep_reply() reads
 * the next offset (0: done) and how many were dropped. */
int ac_cmd_sessions_sweep(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t offset, int64_t count, int64_t now);
int ac_sessions_sweep_reply(const struct redisReply *r, int64_t *next,
    int64_t *dropped);

/* EVAL that replies how many of the account's sessions live at "now"
 * (0 for no account). */
int ac_cmd_sessions_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t now);

/* ZRANGE of account ids, for listing. */
int ac_cmd_accounts_list(ac_cmd_t *cmd, const ac_config_t *cfg);

/* The account's TOTP code checked, as every door asks it (the second
 * factor, the identity check, the reset): its sealed secret opened (bound
 * to the account id), "code" checked at now +/- AC_TOTP_WINDOW against
 * the last accepted step. AC_OK with *step to record with
 * ac_cmd_totp_step(); AC_ERR_REPLAY for a step already used;
 * AC_ERR_MISMATCH or AC_ERR_INVALID for a wrong code; AC_ERR_NOT_FOUND
 * when the account has no TOTP; AC_ERR_KEY when its secret does not
 * open (the caller logs it: a broken record, not the person's mistake). */
int ac_account_totp_check(const ac_keys_t *keys, const ac_account_t *a,
    const char *code, size_t len, time_t now, int64_t *step);

/* Fills "a" from an HGETALL-shaped reply (field/value array, or a
 * RESP3-style map); AC_ERR_NOT_FOUND for an empty one, AC_ERR_REDIS for
 * an error or a malformed one. The id comes from the "id" field or, when
 * absent, from "id" argument (may be NULL). */
int ac_account_parse(const struct redisReply *r, const char *id,
    ac_account_t *a);

/* ------------------------------------------------------ self-service */
/* (selfservice.c: the account pages' and guichetctl's shared changes) */

/* EVAL that reads what the account page shows in one round trip: the
 * session's own fields f (last proof) and k (enrolment in progress), the
 * account hash, its recovery codes left, its live sessions. Replies
 * {f, k, account HGETALL, codes left, {digest, device, ip, created,
 * last seen, ...}}, the sessions by expiry. */
int ac_cmd_account_page(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *id);

/* EVAL that sets the field "f" or "k" ("" empties it) of the session
 * "digest" of "account", only while it exists. Replies 1, or 0 when it
 * is gone. AC_ERR_INVALID for another field, or a value with a '|' or a
 * control byte. */
int ac_cmd_session_field(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest, const char *field,
    const char *value);

/* EVALs that turn TOTP on (the sealed secret, its accepted step, new
 * recovery codes, or none when digests is NULL: guichetctl totp enroll)
 * or off (secret, step and recovery codes removed), in one atomic step
 * each, for the pages and guichetctl alike. Reply 1, or 0 when the
 * account is gone. */
int ac_cmd_totp_enable(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *sealed, int64_t step,
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);
int ac_cmd_totp_disable(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);

#endif /* AUTHCORE_ACCOUNT_H */
