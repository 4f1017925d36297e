/*
 * authcore: partner invitations and registration tokens.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_INVITATION_H
#define AUTHCORE_INVITATION_H

#include "partner.h"

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
/* Room for "SINCE SEALED_EMAIL", the value of "P inv:PARTNER". */
#define AC_INVITE_MAX         (24 + AC_SEALED_LEN(AC_EMAIL_MAX) + 1)

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

/* The entries of such a reply, by invitation time (oldest first) then
 * email, in an array that ac_registrations_free() wipes and frees (also
 * after an error). AC_ERR_REDIS for a malformed reply, AC_ERR_NOMEM. */
typedef struct {
    ac_registration_t  *regs;
    size_t              n;
    size_t              cap;
} ac_registration_list_t;

int ac_registrations_list(const struct redisReply *r,
    const ac_keys_t *keys, const char *partner, ac_registration_list_t *l);
void ac_registrations_free(ac_registration_list_t *l);

/* {"registrations":[{"email","status","since"}...]}, oldest first,
 * times in RFC 3339 UTC: what the partner API answers. */
int ac_registrations_json(const struct redisReply *r,
    const ac_keys_t *keys, const char *partner, ac_buf_t *out);

#endif /* AUTHCORE_INVITATION_H */
