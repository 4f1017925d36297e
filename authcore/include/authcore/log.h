/*
 * authcore: the connection log, log keys and pseudonyms, anomalies.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_LOG_H
#define AUTHCORE_LOG_H

#include "session.h"

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
    AC_EV_PASSKEY_REGISTERED,
    AC_EV_PASSKEY_REMOVED,
    AC_EV_PASSKEY_SUCCESS,
    AC_EV_PASSKEY_FAILURE,
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

/* Reading the log, in the command's own order: XRANGE P log FROM TO (or
 * with "reverse" XREVRANGE, FROM the newer end) COUNT count, each end a
 * stream id, "-", "+", or "(ID" (exclusive). */
int ac_cmd_log_range(ac_cmd_t *cmd, const ac_config_t *cfg, int reverse,
    const char *from, const char *to, int64_t count);
/* Following the log: XREAD COUNT count BLOCK block_ms STREAMS P log
 * after. */
int ac_cmd_log_follow(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *after, int64_t count, int64_t block_ms);

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

/* ------------------------------------------------------------ filters */
/* (logfilter.c: the one filter of "guichetctl logs", the admin page and
 * the export) */

/*
 * A filter over parsed entries. Fill it with ac_log_filter_init(), then
 * one ac_log_filter_set() per option as typed:
 *   account  an account id or a log pseudonym (16 characters), compared
 *            with ac_log_entry_t.account: a caller that resolves
 *            pseudonyms to ids (ac_cmd_log_resolve) stores the id it
 *            resolves to in f->account
 *   email    an email, normalised; compared case-insensitively
 *   ip       an IPv4 or IPv6 address, or a CIDR block "ADDR/BITS"
 *   event    an event name, or several joined by ','; each call adds
 *   result   "ok" or "fail"
 *   partner  a partner id
 *   since    inclusive, until exclusive: "2026-11-23",
 *            "2026-11-23T10:00[Z]", "2026-11-23T10:00:00[Z]", with ".123"
 *            milliseconds, all UTC (with or without the "Z"); or a
 *            duration ("24h") back from now
 * AC_ERR_INVALID for a bad value, AC_ERR_EXISTS for an option given
 * twice (but event), AC_ERR_NOT_FOUND for an unknown option name.
 * Erased personal fields match no email or IP filter.
 */
typedef struct {
    char           account[AC_ID_LEN + 1];     /* "": any */
    char           email[AC_EMAIL_MAX + 1];    /* "": any */
    int            family;                     /* 0: any IP */
    unsigned char  net[16];
    unsigned       prefix;
    uint32_t       events;                     /* 1 << kind; 0: any */
    int            result;                     /* -1 any, 0 ok, 1 fail */
    char           partner[AC_PARTNER_ID_MAX + 1]; /* "": any */
    int64_t        since_ms;                   /* -1: none */
    int64_t        until_ms;                   /* -1: none */
} ac_log_filter_t;

void ac_log_filter_init(ac_log_filter_t *f);
int ac_log_filter_set(ac_log_filter_t *f, const char *name,
    const char *value, size_t len, int64_t now_ms);
/* 1 when the entry passes every option set, else 0. */
int ac_log_filter_match(const ac_log_filter_t *f, const ac_log_entry_t *e);

/* A time as the since and until options read it, to unix ms. */
int ac_log_time_parse(const char *s, size_t len, int64_t now_ms,
    int64_t *ms);

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

/* ------------------------------------------------------------- chart */
/*
 * (chart.c) The security team's chart: sign-in attempts per hour over a
 * range (per several hours when it holds more than AC_CHART_BARS_MAX
 * hours), as successes (login.success, sso.success), failures
 * (login.failure, 2fa.failure, sso.failure) and throttled attempts,
 * drawn as stacked bars in an inline SVG with a text summary (<title>,
 * <desc>) and one <title> per bar. Times are UTC.
 */
#define AC_CHART_BARS_MAX  168
#define AC_CHART_SUCCESS   0
#define AC_CHART_FAILURE   1
#define AC_CHART_THROTTLED 2
#define AC_CHART_KINDS     3

typedef struct {
    int64_t   start_ms;          /* the first bar, on an hour */
    int64_t   end_ms;            /* the range's end, excluded */
    int64_t   step_ms;           /* one bar: a whole number of hours */
    size_t    n;                 /* bars */
    uint32_t  count[AC_CHART_KINDS][AC_CHART_BARS_MAX];
    uint64_t  total[AC_CHART_KINDS];
} ac_chart_t;

/* [from_ms, to_ms): AC_ERR_INVALID when empty or negative. */
int ac_chart_init(ac_chart_t *c, int64_t from_ms, int64_t to_ms);
/* AC_CHART_* of a log event, or -1 when the chart does not count it. */
int ac_chart_kind(const char *event, int failed);
/* Counts one attempt; times outside the range are ignored. */
void ac_chart_add(ac_chart_t *c, int64_t time_ms, int kind);
/* Appends the SVG to out: AC_OK, AC_ERR_INVALID, AC_ERR_NOMEM. */
int ac_chart_svg(const ac_chart_t *c, ac_buf_t *out);

#endif /* AUTHCORE_LOG_H */
