/*
 * authcore: private helpers shared by the library's source files.
 * Not installed, not part of the public API.
 */

#ifndef AUTHCORE_INTERNAL_H
#define AUTHCORE_INTERNAL_H

#include <stdarg.h>

#include <openssl/types.h>

#include "authcore.h"

/* Sets err->code and a printf-style err->msg (truncated to fit); does
 * nothing when err is NULL. */
void ac_error_set(ac_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A PEM public key of this type ("EC", "RSA"), or NULL. */
EVP_PKEY *ac_pem_pubkey_decode(const void *pem, size_t len,
    const char *type);

/* Lower-case RFC 4648 base32 alphabet, used for account ids and
 * recovery codes. */
extern const char ac_base32_lower[33];

/* Starts cmd as "EVAL script nkeys"; the script is referenced in place. */
void ac_cmd_eval(ac_cmd_t *cmd, const char *script, size_t len,
    const char *nkeys);

/* Writes PREFIX + name + arg + suffix (arg and suffix may be NULL: a
 * prefix such as "P sess:", for a script to append an id to);
 * AC_ERR_TOO_LONG if it does not fit AC_KEY_MAX. "arg" has been checked
 * by the caller (an id, a digest). */
int ac_key_build(const ac_config_t *cfg, const char *name, const char *arg,
    const char *suffix, char out[AC_KEY_MAX]);

/* Appends that key to cmd as a copied argument. */
int ac_cmd_key_arg(ac_cmd_t *cmd, const ac_config_t *cfg, const char *name,
    const char *arg, const char *suffix);

/* AC_OK for a key argument (an id, a digest): no ':', no blanks. */
int ac_key_arg_check(const char *arg);

/* Starts cmd as "VERB KEY", the key ac_key() builds. */
int ac_cmd_key(ac_cmd_t *cmd, const char *verb, const ac_config_t *cfg,
    ac_key_kind_t kind, const char *arg);
/* Starts cmd as an EVAL of "script" whose first key is the one ac_key()
 * builds; cmd is left as it was when that key cannot be built. */
int ac_cmd_eval_key(ac_cmd_t *cmd, const char *script, size_t len,
    const char *nkeys, const ac_config_t *cfg, ac_key_kind_t kind,
    const char *arg);
/* Appends the key ac_key() builds to cmd as a copied argument. */
int ac_cmd_key_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    ac_key_kind_t kind, const char *arg);
/* Appends the AC_RECOVERY_COUNT recovery code digests, each checked
 * (store_account.c; recovery replacement and TOTP enrolment). */
int ac_cmd_recovery_digests(ac_cmd_t *cmd,
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1]);

/* Reply parsing (store.c). A decimal integer of a reply string, a reply
 * string copied NUL-terminated (no NUL inside), and how many field/value
 * pairs an HGETALL-shaped reply holds (AC_ERR_NOT_FOUND: none); all give
 * AC_ERR_REDIS for anything malformed. */
int ac_reply_int64(const char *s, size_t len, int64_t *v);
int ac_reply_copy(char *dst, size_t size, const char *s, size_t len);
int ac_reply_pairs(const struct redisReply *r, size_t *n);

/* A field name of such a reply equal to "name". */
#define AC_FIELD_IS(f, name)                                                 \
    ((f)->len == sizeof(name) - 1 && memcmp((f)->str, name, (f)->len) == 0)

/*
 * Sessions (session.c, docs/ARCHITECTURE.md): a session is the field
 * "s:DIGEST" of its account hash "P acct:ID", valued "2|" then the
 * fields a r m p c x t f i u k e in that order, separated by '|'; e (the
 * email) is stored empty, the account's "email" stands for it. A
 * partner's session index "P partner:ID:sess" holds "ACCOUNT:DIGEST".
 * For the scripts that read or change sessions, AC_SESSION_LUA defines:
 *   AC_S            field letter -> position ("f" -> 8)
 *   ac_sdec(v)      a stored value as a table by position, or nil (no
 *                   value, a malformed one, or an index field of the
 *                   previous layout: a bare expiry)
 *   ac_sget(acct, d)  the session "d" of that account key with t[12]
 *                   the account's email, or nil
 *   ac_sset(acct, d, t)  writes it back (e left empty)
 *   ac_slive(t, now, idle)  true before its absolute expiry and within
 *                   "idle" seconds of its last use
 */
#define AC_SESSION_FIELDS  12
#define AC_SESSION_VALUE_MAX  640

/* A session's value (ac_cmd_session_create()), and the fields a page may
 * set on a live one (AC_ERR_INVALID for any other, or a bad value). */
int ac_session_format(const ac_session_t *s, char *out, size_t size,
    size_t *len);
int ac_session_field_check(const char *field, const char *value);

#define AC_SESSION_LUA                                                       \
    "local AC_S = {a = 1, r = 2, m = 3, p = 4, c = 5, x = 6, t = 7,"         \
    " f = 8, i = 9, u = 10, k = 11, e = 12}\n"                              \
    "local function ac_sdec(v)\n"                                           \
    "  if not v or string.sub(v, 1, 2) ~= '2|' then return nil end\n"       \
    "  local t, p = {}, 3\n"                                                \
    "  for i = 1, 11 do\n"                                                  \
    "    local q = string.find(v, '|', p, true)\n"                          \
    "    if not q then return nil end\n"                                    \
    "    t[i] = string.sub(v, p, q - 1)\n"                                  \
    "    p = q + 1\n"                                                       \
    "  end\n"                                                               \
    "  t[12] = string.sub(v, p)\n"                                          \
    "  return t\n"                                                          \
    "end\n"                                                                 \
    "local function ac_sget(acct, d)\n"                                     \
    "  local r = redis.call('HMGET', acct, 's:' .. d, 'email')\n"           \
    "  local t = ac_sdec(r[1])\n"                                           \
    "  if t then t[12] = r[2] or '' end\n"                                  \
    "  return t\n"                                                          \
    "end\n"                                                                 \
    "local function ac_sset(acct, d, t)\n"                                  \
    "  return redis.call('HSET', acct, 's:' .. d,"                          \
    " '2|' .. table.concat(t, '|', 1, 11) .. '|')\n"                        \
    "end\n"                                                                 \
    "local function ac_slive(t, now, idle)\n"                               \
    "  local seen = tonumber(t[7]) or tonumber(t[5]) or 0\n"                \
    "  return (tonumber(t[6]) or 0) > now and seen + idle > now\n"          \
    "end\n"

/* The value of "P inv:PARTNER" for an invited email: "SINCE SEALED", the
 * email sealed to this partner. */
int ac_inv_value_seal(const ac_keys_t *keys, const char *partner,
    const char *email, int64_t now, char out[AC_INVITE_MAX]);

/* AC_OK for an account id as the log takes it: base32 lower-case, 1 to
 * AC_ID_LEN characters (log.c). */
int ac_log_account_check(const char *s, size_t len);

/* ------------------------------------------------- encodings (crypto.c) */

/* Accepts unpadded base64url only; AC_ERR_INVALID on any other byte. */
int ac_b64url_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen);

/* RFC 4648 base32 with padding (totp.c). */
int ac_base32_decode(const char *in, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen);

/* ------------------------------------------------------ keys (crypto.c) */

/* The keys of ac_keys_load() from secret bytes already read. */
int ac_keys_from_secret(const unsigned char *secret, size_t len,
    ac_keys_t **keys);

/* HMAC-SHA256 under the purpose's key. */
int ac_mac(const ac_keys_t *keys, ac_purpose_t purpose, const void *data,
    size_t len, unsigned char out[AC_MAC_LEN]);

/*
 * AES-256-GCM, the one cipher of ac_seal() and of the log's sealed
 * fields, over raw = nonce | ciphertext | tag with the AAD given in two
 * parts (a1 then a2). ac_gcm_seal() draws the nonce; raw holds
 * AC_GCM_NONCE_LEN + len + AC_GCM_TAG_LEN bytes: the error of
 * ac_random(), AC_ERR_NOMEM or AC_ERR_CRYPTO. ac_gcm_open() writes the
 * rawlen - AC_GCM_NONCE_LEN - AC_GCM_TAG_LEN bytes of plaintext:
 * AC_ERR_MISMATCH when the tag does not check, AC_ERR_NOMEM,
 * AC_ERR_CRYPTO when the cipher fails; plain is wiped on any error.
 */
#define AC_GCM_NONCE_LEN  12
#define AC_GCM_TAG_LEN    16

int ac_gcm_seal(const unsigned char *key, const void *a1, size_t a1len,
    const void *a2, size_t a2len, const unsigned char *plain, size_t len,
    unsigned char *raw);
int ac_gcm_open(const unsigned char *key, const void *a1, size_t a1len,
    const void *a2, size_t a2len, const unsigned char *raw, size_t rawlen,
    unsigned char *plain);

/* ------------------------------------------------------- OTP (totp.c) */

typedef enum {
    AC_OTP_SHA1 = 0,
    AC_OTP_SHA256,
    AC_OTP_SHA512
} ac_otp_hash_t;

/* RFC 4226 HOTP value of "counter", "digits" (6..8) long. */
int ac_hotp(const void *secret, size_t len, uint64_t counter,
    unsigned digits, char out[AC_OTP_MAX + 1]);

/* RFC 6238 TOTP value at time "now" (T0 = 0). */
int ac_totp(const void *secret, size_t len, ac_otp_hash_t hash, time_t now,
    unsigned step, unsigned digits, char out[AC_OTP_MAX + 1]);

/* ---------------------------------------------------- sessions (session.c) */

/* "pwd", "pwd otp", "sso" or "sso otp"; AC_ERR_INVALID otherwise. */
int ac_amr_parse(const char *s, size_t len, unsigned *amr);

/* ---------------------------------------------- Redis schema (store.c) */

/* The email index key of an already normalized email. */
int ac_key_email(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *email, char out[AC_KEY_MAX]);

/* Status or bulk reply equal to "OK". */
int ac_reply_ok(const struct redisReply *r);

/* ------------------------------------------------ partners (assertion.c) */

const char *ac_partner_key_id(const ac_partner_key_t *k);
ac_alg_t ac_partner_key_alg(const ac_partner_key_t *k);

/* --------------------------------------------- invitations (account.c) */

/* EVAL that records, if absent, that "partner" invited "email" at "now"
 * (the email sealed, bound to the partner), in "P inv:PARTNER" and
 * "P invby:EDIGEST"; replies 1, or 0 if it was already invited.
 * "scratch" holds the sealed email. */
int ac_cmd_invitation_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *email,
    int64_t now, char scratch[AC_INVITE_MAX]);

/* ------------------------------------------- origins (origin.c, form.c) */

#define AC_ORIGIN_HOST_MAX  255
#define AC_ORIGIN_MAX       300     /* "https://" host ":65535" */

typedef struct {
    int          https;
    char         host[AC_ORIGIN_HOST_MAX + 1];  /* lower-case, "[v6]" */
    unsigned     port;                          /* default filled in */
    const char  *rest;        /* path, query, fragment: in the input */
    size_t       restlen;
} ac_origin_t;

/* The one parser of "http(s)://host[:port]" followed by nothing, '/', '?'
 * or '#' (origin.c); AC_ERR_INVALID for anything else. */
int ac_origin_parse(const char *s, size_t len, ac_origin_t *o);
/* "scheme://host[:port]", the port only when not the default. */
int ac_origin_format(const ac_origin_t *o, char *out, size_t outsize);
/* An allowed_redirect_hosts entry (an origin, then nothing but an
 * optional '/') in that canonical form; AC_ERR_INVALID otherwise. */
int ac_origin_normalize(const char *s, size_t len, char out[AC_ORIGIN_MAX]);

/* The value of a hexadecimal digit, -1 for another byte (form.c). */
int ac_hex_value(int c);

#endif /* AUTHCORE_INTERNAL_H */
