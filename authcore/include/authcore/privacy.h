/*
 * authcore: accounts' privacy: erasure, retention, restriction,
 * rectification, export.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_PRIVACY_H
#define AUTHCORE_PRIVACY_H

#include "account.h"

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
 * Export (SPEC 8, docs/PRIVACY.md): AC_EXPORT_NCMDS commands, which may
 * be pipelined or sent one by one (blocking or async), then one call
 * that turns their replies, in the same order, into the JSON document
 * {"format":"guichet-export","version":1,...}. Secrets, hashes, digests
 * and the log key are never written. The log part reads at most
 * AC_EXPORT_LOG_MAX of the account's entries, newest kept, each checked
 * with the log filter (ac_log_filter_t, option account) of
 * "guichetctl logs" and the admin page.
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
    AC_EXPORT_PASSKEYS,        /* HGETALL P acct:ID:pk */
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

#endif /* AUTHCORE_PRIVACY_H */
