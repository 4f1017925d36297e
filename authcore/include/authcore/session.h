/*
 * authcore: sessions.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_SESSION_H
#define AUTHCORE_SESSION_H

#include "partner.h"

/* ----------------------------------------------------------- sessions */

/*
 * A session is the field "s:DIGEST" (DIGEST = ac_session_digest() of the
 * cookie value) of its account hash "P acct:ID": no key of its own. The
 * cookie begins with the account id (ac_session_token_new()), so the
 * gate reads a session it does not hold with one plain command (HMGET of
 * that field and the account's "email", no script). The value holds all
 * the gate decides on:
 *   "2|a|r|m|p|c|x|t|f|i|u|k|"
 *   2 layout version   a account id   r roles ("user,admin")   m amr
 *   ("pwd", "pwd otp", "sso", "sso otp")   p partner id ("" for none)
 *   c created   x absolute expiry   t last seen   f last proof of
 *   identity ("" for none; times in unix seconds)   i IP   u short
 *   device label ('|' written as '/')   k a second factor being enrolled
 *   (the account page's, "" for none)   e stored empty: the account's
 *   "email" stands for it
 * A session exists only for an active account: locking it, removing a
 * role, a password change, erasure, a partner removed or unlinked end
 * the sessions they affect (and a new one is refused to a locked
 * account), so the account's status is never read at the gate. A
 * session lives until x and session_idle after t (ac_session_live());
 * t is renewed by ac_cmd_session_touch(). Fields past that are dropped
 * by the account's next sign-in and by guichetctl's retention run. A
 * cookie of the previous layout (no account id in front) or an "s:"
 * field of the previous layout (a bare expiry) reads as no session: its
 * holder signs in again.
 */

#define AC_AMR_PWD         0x01
#define AC_AMR_SSO         0x02
#define AC_AMR_OTP         0x04
#define AC_AMR_HWK         0x08       /* a passkey (WebAuthn) */
/* a second factor, or a passkey that stands for every factor */
#define AC_AMR_SECOND      (AC_AMR_OTP | AC_AMR_HWK)
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

/* The stored form of a valid amr; "" for an invalid combination. */
const char *ac_amr_name(unsigned amr);

/* The session digest of a cookie value (a 43-character token). */
int ac_session_digest(const ac_keys_t *keys, const char *cookie, size_t len,
    char out[AC_DIGEST_LEN + 1]);

/* A new session cookie value: the account id (AC_ID_LEN characters),
 * then 27 random base64url characters; AC_TOKEN_LEN in all. */
int ac_session_token_new(const char *account, char out[AC_TOKEN_LEN + 1]);

/* The account id a session cookie value begins with; AC_ERR_INVALID for
 * a value that does not begin with one (the previous layout's). */
int ac_session_account(const char *cookie, size_t len,
    char account[AC_ID_LEN + 1]);

/* EVAL that writes the session as the account's field "s:DIGEST". The
 * same script drops the account's "s:" fields past their expiry
 * (absolute, or idle at "created"), and, beyond AC_SESSIONS_MAX, ends
 * the sessions that expire first (revoked like ac_cmd_session_delete()).
 * "s" must hold account, roles, amr, created, expires, last_seen; ip,
 * device and partner may be empty, the email is not stored.
 * Replies 1, or an error reply without writing anything when the
 * account does not exist (erased meanwhile) or is locked. "s" is copied
 * into the command. A '|' in the IP, an account id or a partner id
 * that is not one: AC_ERR_INVALID.
 * A session with a partner (SSO) is written only if that partner still
 * exists and the account is linked to it (else an error reply), and is
 * indexed in "P partner:ID:sess" ("ACCOUNT:DIGEST") so that removing
 * the partner or unlinking the account ends it. A session whose amr
 * holds AC_AMR_SSO never carries AC_ROLE_SECURITY or AC_ROLE_ADMIN: they
 * are dropped here, and again by ac_session_parse(). */
int ac_cmd_session_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const ac_session_t *s);

/* "HMGET P acct:ID s:DIGEST email": one plain command, no script.
 * Replies the session's value (nil when there is none) and the
 * account's email. AC_ERR_INVALID for an account id that is not one. */
int ac_cmd_session_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest);

/* EVAL that sets the last-seen time, only if the session still lives
 * (replies 1, else 0). Callers touch a session at most once every
 * AC_SESSION_TOUCH seconds. */
int ac_cmd_session_touch(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest, int64_t now);

/* EVAL that deletes one session (and its partner index member), and the
 * account's fields that are no live session; replies 1 when the session
 * existed, else 0. */
int ac_cmd_session_delete(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account);

/* EVAL that moves a session to a new id "new_digest" (privilege change:
 * a fresh proof, a second factor enrolled), setting "field" ("f" or "k")
 * to "value" on the way ("" empties it); the old id is revoked in every
 * cache.
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
/* DEL of a pending state once its second factor was given: a pending
 * cookie opens one session at most. */
int ac_cmd_pending_end(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);

/* Fills "s" from an ac_cmd_session_get() reply (or a field's value
 * alone: no email). AC_ERR_NOT_FOUND for nil; AC_ERR_REDIS for an error
 * reply, a malformed value, another layout version, or one missing a, m
 * or x. A parsed session has account_status AC_STATUS_ACTIVE. The
 * caller still checks ac_session_live(), the amr and the roles.
 * An SSO session's roles never hold AC_ROLES_SSO_DENIED, even when a
 * session written before that rule holds them. */
int ac_session_parse(const struct redisReply *r, ac_session_t *s);

/* 1 when "s" is before its absolute expiry and within session_idle of
 * its last use, else 0. */
int ac_session_live(const ac_session_t *s, const ac_config_t *cfg,
    int64_t now);

/*
 * (device.c) The device a person sees in their sessions list, named
 * from a user agent: "Chrome on Linux", "Firefox on Windows", "Safari on
 * iPhone", "curl", or the first product name of an unknown agent
 * ("GuichetPhone"); "Unknown device" for nothing usable. A text that is
 * already a label (printable, no '/' or '(') is kept as it is, so that
 * labelling twice changes nothing. Writes at most size - 1 bytes and a
 * NUL into out; returns the length written.
 */
size_t ac_device_label(const char *ua, size_t len, char *out, size_t size);

/* (device.c) A wait said in words, rounded up: "1 second", "2 seconds",
 * "3 minutes", "1 hour", "2 days" (under 1 s counts as 1 second).
 * AC_ERR_TOO_LONG when it does not fit in size. */
#define AC_WAIT_WORDS_MAX  24
int ac_wait_words(int64_t seconds, char *out, size_t size);

#endif /* AUTHCORE_SESSION_H */
