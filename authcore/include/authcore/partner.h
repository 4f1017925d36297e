/*
 * authcore: partners: keys, assertions, partner trust.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_PARTNER_H
#define AUTHCORE_PARTNER_H

#include "account.h"
#include "web.h"

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

/* Partners in Redis */

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

/* EVAL that replaces an existing partner's algorithm and key (an HS256
 * secret sealed as by ac_cmd_partner_add): replies 1, or 0 when there
 * is no such partner. */
int ac_cmd_partner_rotate(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_partner_t *p, char *scratch,
    size_t scratchsize);

/* HSETNX of "P acct:ID:partners" partner -> now: the account is linked
 * to the partner (written by the SSO and registration code). */
int ac_cmd_partner_link(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner, int64_t now);

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

#endif /* AUTHCORE_PARTNER_H */
