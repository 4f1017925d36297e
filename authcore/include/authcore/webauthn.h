/*
 * authcore: passkeys (WebAuthn, SPEC 11). A registration's attestation
 * object is read with libcbor and its authenticator data, credential and
 * public key with libfido2 (fido_cred_*); a sign-in is verified with
 * fido_assert_verify. clientDataJSON (type, challenge, origin) is checked
 * here against webauthn_rp_id and webauthn_origins.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_WEBAUTHN_H
#define AUTHCORE_WEBAUTHN_H

#define AC_WA_CHALLENGE_LEN   32      /* random bytes of a challenge */
#define AC_WA_CHALLENGE_B64   43      /* their base64url */
#define AC_WA_ID_MAX          1023    /* credential id bytes (WebAuthn) */
#define AC_WA_ID_B64_MAX      1364
#define AC_WA_PK_MAX          300     /* libfido2's raw public key */
#define AC_WA_TRANSPORTS_MAX  64      /* "usb,nfc,ble,hybrid,internal" */
#define AC_WA_NAME_MAX        64      /* a passkey's name, bytes */
#define AC_WA_USER_HANDLE_MAX 64

/* COSE algorithms accepted (IANA COSE registry) */
#define AC_WA_ES256           -7
#define AC_WA_EDDSA           -8
#define AC_WA_RS256           -257

/* authenticator data flags (WebAuthn 6.1) */
#define AC_WA_FLAG_UP         0x01    /* user present */
#define AC_WA_FLAG_UV         0x04    /* user verified */
#define AC_WA_FLAG_BE         0x08    /* backup eligible */
#define AC_WA_FLAG_BS         0x10    /* backed up */

/* Why a ceremony was refused; ac_wa_reason() names it for the log. */
typedef enum {
    AC_WA_OK = 0,
    AC_WA_MALFORMED,          /* not base64url, CBOR or JSON as expected */
    AC_WA_TYPE,               /* clientDataJSON type */
    AC_WA_CHALLENGE,          /* not the challenge given, or used */
    AC_WA_ORIGIN,             /* not a webauthn_origins entry */
    AC_WA_RP_ID,              /* authenticator data for another RP ID */
    AC_WA_ATTESTATION,        /* a format other than "none" */
    AC_WA_ALGORITHM,          /* a key type not accepted */
    AC_WA_USER_PRESENCE,      /* UP flag not set */
    AC_WA_USER_VERIFICATION,  /* UV flag not set when required */
    AC_WA_SIGNATURE,          /* fido_assert_verify refused it */
    AC_WA_COUNTER,            /* counter did not increase: a clone */
    AC_WA_UNKNOWN_CREDENTIAL, /* no such passkey (for this account) */
    AC_WA_USER_HANDLE,        /* userHandle is not the account's */
    AC_WA_DISABLED            /* webauthn_rp_id not configured */
} ac_wa_why_t;

const char *ac_wa_reason(ac_wa_why_t why);

/* A registered credential: what is stored for a passkey. */
typedef struct {
    int             alg;                       /* AC_WA_ES256... */
    unsigned char   id[AC_WA_ID_MAX];
    size_t          id_len;
    unsigned char   pk[AC_WA_PK_MAX];          /* libfido2 raw form */
    size_t          pk_len;
    uint32_t        sign_count;
    unsigned        flags;                     /* AC_WA_FLAG_* at creation */
    char            transports[AC_WA_TRANSPORTS_MAX + 1];
} ac_wa_cred_t;

/* The name of an algorithm ("ES256", "EdDSA", "RS256"), "?" otherwise. */
const char *ac_wa_alg_name(int alg);

/*
 * A registration (navigator.credentials.create): attestation object and
 * clientDataJSON as the browser's base64url, transports as a comma list
 * (unknown entries dropped). Checks type "webauthn.create", the
 * challenge, the origin, format "none", the RP ID hash and user presence,
 * then fills cred. AC_ERR_MISMATCH with *why set for a refused
 * ceremony, AC_ERR_INVALID for malformed input.
 */
int ac_wa_register(const ac_config_t *cfg,
    const unsigned char challenge[AC_WA_CHALLENGE_LEN],
    const char *attestation_b64, size_t attestation_len,
    const char *client_data_b64, size_t client_data_len,
    const char *transports, size_t transports_len,
    ac_wa_cred_t *cred, ac_wa_why_t *why);

/*
 * A sign-in (navigator.credentials.get) with the stored credential:
 * checks type "webauthn.get", the challenge, the origin, the RP ID hash,
 * user presence always, user verification when require_uv, the signature
 * (fido_assert_verify) and that the counter increased when either it or
 * the stored one is not zero. On success *sign_count and *flags hold the
 * new counter and flags: the caller stores the counter with
 * ac_cmd_passkey_counter(), which repeats that last check atomically.
 */
int ac_wa_verify(const ac_config_t *cfg, const ac_wa_cred_t *cred,
    const unsigned char challenge[AC_WA_CHALLENGE_LEN], int require_uv,
    const char *auth_data_b64, size_t auth_data_len,
    const char *client_data_b64, size_t client_data_len,
    const char *signature_b64, size_t signature_len,
    uint32_t *sign_count, unsigned *flags, ac_wa_why_t *why);

/* Decodes a base64url credential id (rawId) into id; AC_ERR_INVALID. */
int ac_wa_id_decode(const char *b64, size_t len,
    unsigned char id[AC_WA_ID_MAX], size_t *id_len);

/* The challenge named in a clientDataJSON (base64url), to take it from
 * Redis before the ceremony is verified against it; AC_ERR_INVALID. */
int ac_wa_client_challenge(const char *client_data_b64, size_t len,
    unsigned char challenge[AC_WA_CHALLENGE_LEN]);

/* ------------------------------------ Redis schema (webauthn_store.c) */

/*
 *   P acct:ID:pk       hash    the account's passkeys, by HANDLE   no TTL
 *                              (keyed digest of the credential id):
 *                              "r:HANDLE" record (JSON: id, alg, pk,
 *                              flags, tr, created), "m:HANDLE" name,
 *                              "n:HANDLE" counter, "u:HANDLE" last use
 *   P cred:HANDLE      string  account id (passwordless, uniqueness) no TTL
 *   P wac:DIGEST       string  "KIND:BINDING" of a challenge       ttl
 *
 * A challenge is single use: made with SET NX EX, taken with GETDEL,
 * and bound to what the ceremony belongs to (KIND "reg" + the session
 * digest, "2fa" + the pending state's, "login" + the login form's CSRF
 * cookie digest).
 */

#define AC_WA_PASSKEYS_MAX    10      /* per account */
#define AC_WA_CHALLENGE_TTL   300     /* seconds */

typedef struct {
    ac_wa_cred_t    cred;
    char            handle[AC_DIGEST_LEN + 1];
    char            name[AC_WA_NAME_MAX + 1];
    int64_t         created;
    int64_t         last_used;               /* 0: never */
} ac_passkey_t;

int ac_cmd_passkey_challenge(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const unsigned char ch[AC_WA_CHALLENGE_LEN],
    const char *kind, const char *binding);
int ac_cmd_passkey_challenge_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const unsigned char ch[AC_WA_CHALLENGE_LEN]);
/* AC_OK when the taken challenge was made for this kind and binding,
 * AC_ERR_REPLAY when it is unknown, used or expired, AC_ERR_MISMATCH
 * when it belongs to something else. */
int ac_passkey_challenge_reply(const struct redisReply *r, const char *kind,
    const char *binding);

/* The handle of a credential id (its keyed digest). */
int ac_passkey_handle(const ac_keys_t *keys, const unsigned char *id,
    size_t id_len, char handle[AC_DIGEST_LEN + 1]);

/* Adds a passkey; reply 1 added, 0 no such account, -1 the credential is
 * registered already, -2 the account has AC_WA_PASSKEYS_MAX. */
int ac_cmd_passkey_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const ac_wa_cred_t *cred,
    const char *name, int64_t now);
/* HGETALL of the account's passkeys, read by ac_passkey_list_reply(),
 * in creation order. */
int ac_cmd_passkey_list(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account);
int ac_passkey_list_reply(const struct redisReply *r, ac_passkey_t *out,
    size_t max, size_t *n);
/* The passkey of a credential id, whoever holds it: reply read by
 * ac_passkey_lookup_reply() (AC_ERR_NOT_FOUND when none). */
int ac_cmd_passkey_lookup(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *handle);
int ac_passkey_lookup_reply(const struct redisReply *r,
    char account[AC_ID_LEN + 1], ac_passkey_t *pk);
/* Stores a verified sign-in's counter and time; reply 1, 0 when the
 * passkey is gone, -1 when the counter did not increase (a clone). */
int ac_cmd_passkey_counter(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *handle, uint32_t count, int64_t now);
/* Removes one passkey; reply 1 removed, 0 none such. */
int ac_cmd_passkey_remove(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *handle);
/* A pending second-factor state read without taking a try (the 2fa
 * page, its passkey options): reply an empty array when the state is
 * gone or stale, else [account id, account HGETALL, passkeys HGETALL] for
 * ac_account_parse() and ac_passkey_list_reply(). */
int ac_cmd_passkey_pending(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest);
/* The export's "passkeys" array (names, algorithms, transports, flags,
 * dates; never the key or the credential id) from a list reply. */
int ac_passkey_export(ac_buf_t *b, const struct redisReply *r);

/* guichet.conf's webauthn_rp_id and webauthn_origins (webauthn_conf.c):
 * set by the configuration reader, released by ac_config_free(). */
int ac_wa_conf_set(ac_config_t *cfg, const char *key, const char *value,
    char *reason, size_t reason_size);
int ac_wa_conf_check(ac_config_t *cfg, char *reason, size_t reason_size);
void ac_wa_conf_free(ac_config_t *cfg);

#endif /* AUTHCORE_WEBAUTHN_H */
