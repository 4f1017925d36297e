/*
 * authcore: mail (SPEC 10): the mail keys of guichet.conf, messages and
 * their templates, the mail queue, reset tokens, seen devices.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_MAIL_H
#define AUTHCORE_MAIL_H

#include "log.h"

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
/* The dead letters older than before_ms (their ids are the time they
 * failed): XTRIM P mail:dead MINID before_ms, replying how many went, or
 * with "count" an XRANGE of them, to count for a dry run. The retention
 * run passes now - AC_MAIL_DEAD_KEEP. */
int ac_cmd_mail_dead_trim(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t before_ms, int count);
/* The delay before attempt n + 1 after n failures: 30 s, doubling, at
 * most an hour. */
int64_t ac_mail_backoff(int64_t attempts);

/*
 * Password reset tokens (SPEC 10): a bearer token mailed in a link,
 * stored only as its digest, single use:
 *   P reset:TDIGEST  hash  a account id, e its email then   reset_token_ttl
 * TDIGEST = ac_digest(AC_PURPOSE_TOKEN, "reset:" || token).
 *
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
/* The same reply without using the token up: what the confirmation page
 * shows before the person confirms. */
int ac_cmd_email_change_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
/* EVAL that trades the token of a confirmation link for a fresh one,
 * as ac_cmd_reset_exchange(): replies 1, or 0 when unknown. */
int ac_cmd_email_change_exchange(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len,
    const char *fresh);
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

#endif /* AUTHCORE_MAIL_H */
