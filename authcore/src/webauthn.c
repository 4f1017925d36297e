/*
 * authcore: WebAuthn registration and sign-in checks (SPEC 11). libcbor
 * reads the attestation object, libfido2 the authenticator data, the
 * COSE public key and the assertion signature; jansson reads
 * clientDataJSON. Nothing here touches Redis: the stored credential is
 * given by the caller, and challenges and counters are kept single-use
 * and increasing by the commands of webauthn_store.c.
 */

#include <string.h>

#include <cbor.h>
#include <fido.h>
#include <fido/eddsa.h>
#include <fido/es256.h>
#include <fido/rs256.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "internal.h"


#define AC_WA_ATT_MAX         8192    /* attestation object bytes */
#define AC_WA_CDJ_MAX         2048    /* clientDataJSON bytes */
#define AC_WA_AD_MAX          1024    /* authenticator data bytes */
#define AC_WA_SIG_MAX         512     /* signature bytes (RS256: 256) */
#define AC_WA_RP_HASH_LEN     32


static int ac_wa_decode(const char *b64, size_t len, unsigned char *out,
    size_t outsize, size_t *outlen);
static ac_wa_why_t ac_wa_client_data(const ac_config_t *cfg,
    const char *type, const unsigned char *challenge,
    const unsigned char *cdj, size_t cdj_len);
static ac_wa_why_t ac_wa_att_authdata(const unsigned char *att,
    size_t att_len, unsigned char *ad, size_t adsize, size_t *ad_len);
static int ac_wa_fido_type(int alg);
static int ac_wa_rp_hash_ok(const ac_config_t *cfg, const unsigned char *ad,
    size_t ad_len);
static void ac_wa_transports(const char *s, size_t len, char *out);


static const char  *ac_wa_reasons[] = {
    "ok", "malformed", "client_data_type", "challenge", "origin",
    "rp_id", "attestation", "algorithm", "user_presence",
    "user_verification", "bad_signature", "counter",
    "unknown_credential", "user_handle", "disabled"
};

static const int  ac_wa_algs[] = { AC_WA_ES256, AC_WA_EDDSA, AC_WA_RS256 };


const char *
ac_wa_reason(ac_wa_why_t why)
{
    if ((size_t) why >= sizeof(ac_wa_reasons) / sizeof(ac_wa_reasons[0])) {
        return "malformed";
    }

    return ac_wa_reasons[why];
}


const char *
ac_wa_alg_name(int alg)
{
    switch (alg) {
    case AC_WA_ES256:
        return "ES256";
    case AC_WA_EDDSA:
        return "EdDSA";
    case AC_WA_RS256:
        return "RS256";
    default:
        return "?";
    }
}


int
ac_wa_id_decode(const char *b64, size_t len, unsigned char id[AC_WA_ID_MAX],
    size_t *id_len)
{
    if (ac_wa_decode(b64, len, id, AC_WA_ID_MAX, id_len) != AC_OK
        || *id_len == 0)
    {
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


int
ac_wa_register(const ac_config_t *cfg,
    const unsigned char challenge[AC_WA_CHALLENGE_LEN],
    const char *attestation_b64, size_t attestation_len,
    const char *client_data_b64, size_t client_data_len,
    const char *transports, size_t transports_len,
    ac_wa_cred_t *cred, ac_wa_why_t *why)
{
    int             rc;
    size_t          i, att_len, cdj_len, ad_len, len;
    fido_cred_t    *fc;
    ac_wa_why_t     w;
    unsigned char   cdh[SHA256_DIGEST_LENGTH];
    unsigned char   att[AC_WA_ATT_MAX], cdj[AC_WA_CDJ_MAX], ad[AC_WA_ATT_MAX];

    memset(cred, 0, sizeof(*cred));
    *why = AC_WA_MALFORMED;

    if (cfg->webauthn_rp_id == NULL) {
        *why = AC_WA_DISABLED;
        return AC_ERR_MISMATCH;
    }

    if (ac_wa_decode(attestation_b64, attestation_len, att, sizeof(att),
                     &att_len) != AC_OK
        || ac_wa_decode(client_data_b64, client_data_len, cdj, sizeof(cdj),
                        &cdj_len) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    w = ac_wa_client_data(cfg, "webauthn.create", challenge, cdj, cdj_len);
    if (w != AC_WA_OK) {
        *why = w;
        return w == AC_WA_MALFORMED ? AC_ERR_INVALID : AC_ERR_MISMATCH;
    }

    w = ac_wa_att_authdata(att, att_len, ad, sizeof(ad), &ad_len);
    if (w != AC_WA_OK) {
        *why = w;
        return w == AC_WA_MALFORMED ? AC_ERR_INVALID : AC_ERR_MISMATCH;
    }

    if (!ac_wa_rp_hash_ok(cfg, ad, ad_len)) {
        *why = AC_WA_RP_ID;
        return AC_ERR_MISMATCH;
    }

    SHA256(cdj, cdj_len, cdh);

    /* libfido2 reads the credential for a given key type: the one whose
     * COSE key matches is the credential's algorithm. With attestation
     * "none" there is no statement for fido_cred_verify() to check: what
     * binds the key is the RP ID hash (above), the challenge and origin
     * of clientDataJSON, and the session the ceremony belongs to. */
    for (i = 0; i < sizeof(ac_wa_algs) / sizeof(ac_wa_algs[0]); i++) {
        fc = fido_cred_new();
        if (fc == NULL) {
            return AC_ERR_NOMEM;
        }

        if (fido_cred_set_type(fc, ac_wa_fido_type(ac_wa_algs[i]))
                != FIDO_OK
            || fido_cred_set_authdata_raw(fc, ad, ad_len) != FIDO_OK)
        {
            fido_cred_free(&fc);
            continue;
        }

        rc = AC_OK;
        if (fido_cred_set_rp(fc, cfg->webauthn_rp_id, NULL) != FIDO_OK
            || fido_cred_set_clientdata_hash(fc, cdh, sizeof(cdh))
                   != FIDO_OK)
        {
            rc = AC_ERR_CRYPTO;
        }

        if (rc == AC_OK && (fido_cred_flags(fc) & AC_WA_FLAG_UP) == 0) {
            *why = AC_WA_USER_PRESENCE;
            rc = AC_ERR_MISMATCH;
        }

        len = fido_cred_id_len(fc);
        if (rc == AC_OK
            && (len == 0 || len > sizeof(cred->id)
                || fido_cred_pubkey_len(fc) == 0
                || fido_cred_pubkey_len(fc) > sizeof(cred->pk)))
        {
            rc = AC_ERR_INVALID;
        }

        if (rc == AC_OK) {
            cred->alg = ac_wa_algs[i];
            memcpy(cred->id, fido_cred_id_ptr(fc), len);
            cred->id_len = len;
            cred->pk_len = fido_cred_pubkey_len(fc);
            memcpy(cred->pk, fido_cred_pubkey_ptr(fc), cred->pk_len);
            cred->sign_count = fido_cred_sigcount(fc);
            cred->flags = fido_cred_flags(fc);
            ac_wa_transports(transports, transports_len, cred->transports);
            *why = AC_WA_OK;
        }

        fido_cred_free(&fc);
        return rc;
    }

    *why = AC_WA_ALGORITHM;
    return AC_ERR_MISMATCH;
}


int
ac_wa_verify(const ac_config_t *cfg, const ac_wa_cred_t *cred,
    const unsigned char challenge[AC_WA_CHALLENGE_LEN], int require_uv,
    const char *auth_data_b64, size_t auth_data_len,
    const char *client_data_b64, size_t client_data_len,
    const char *signature_b64, size_t signature_len,
    uint32_t *sign_count, unsigned *flags, ac_wa_why_t *why)
{
    int             rc, frc, type;
    void           *pk;
    size_t          ad_len, cdj_len, sig_len;
    uint32_t        count;
    unsigned        fl;
    ac_wa_why_t     w;
    es256_pk_t     *es;
    eddsa_pk_t     *ed;
    rs256_pk_t     *rs;
    fido_assert_t  *fa;
    unsigned char   cdh[SHA256_DIGEST_LENGTH];
    unsigned char   ad[AC_WA_AD_MAX], cdj[AC_WA_CDJ_MAX], sig[AC_WA_SIG_MAX];

    *why = AC_WA_MALFORMED;
    *sign_count = 0;
    *flags = 0;

    if (cfg->webauthn_rp_id == NULL) {
        *why = AC_WA_DISABLED;
        return AC_ERR_MISMATCH;
    }

    if (ac_wa_decode(auth_data_b64, auth_data_len, ad, sizeof(ad), &ad_len)
            != AC_OK
        || ac_wa_decode(client_data_b64, client_data_len, cdj, sizeof(cdj),
                        &cdj_len) != AC_OK
        || ac_wa_decode(signature_b64, signature_len, sig, sizeof(sig),
                        &sig_len) != AC_OK
        || ad_len < AC_WA_RP_HASH_LEN + 5 || sig_len == 0)
    {
        return AC_ERR_INVALID;
    }

    w = ac_wa_client_data(cfg, "webauthn.get", challenge, cdj, cdj_len);
    if (w != AC_WA_OK) {
        *why = w;
        return w == AC_WA_MALFORMED ? AC_ERR_INVALID : AC_ERR_MISMATCH;
    }

    if (!ac_wa_rp_hash_ok(cfg, ad, ad_len)) {
        *why = AC_WA_RP_ID;
        return AC_ERR_MISMATCH;
    }

    fl = ad[AC_WA_RP_HASH_LEN];
    if ((fl & AC_WA_FLAG_UP) == 0) {
        *why = AC_WA_USER_PRESENCE;
        return AC_ERR_MISMATCH;
    }

    if (require_uv && (fl & AC_WA_FLAG_UV) == 0) {
        *why = AC_WA_USER_VERIFICATION;
        return AC_ERR_MISMATCH;
    }

    type = ac_wa_fido_type(cred->alg);
    if (type == 0) {
        *why = AC_WA_ALGORITHM;
        return AC_ERR_MISMATCH;
    }

    pk = NULL;
    es = NULL;
    ed = NULL;
    rs = NULL;
    frc = FIDO_ERR_INVALID_ARGUMENT;

    switch (cred->alg) {
    case AC_WA_ES256:
        es = es256_pk_new();
        if (es != NULL) {
            frc = es256_pk_from_ptr(es, cred->pk, cred->pk_len);
        }
        pk = es;
        break;
    case AC_WA_EDDSA:
        ed = eddsa_pk_new();
        if (ed != NULL) {
            frc = eddsa_pk_from_ptr(ed, cred->pk, cred->pk_len);
        }
        pk = ed;
        break;
    default:
        rs = rs256_pk_new();
        if (rs != NULL) {
            frc = rs256_pk_from_ptr(rs, cred->pk, cred->pk_len);
        }
        pk = rs;
        break;
    }

    fa = fido_assert_new();

    if (pk == NULL || fa == NULL) {
        rc = AC_ERR_NOMEM;
        goto done;
    }

    if (frc != FIDO_OK) {
        rc = AC_ERR_KEY;
        goto done;
    }

    SHA256(cdj, cdj_len, cdh);

    if (fido_assert_set_rp(fa, cfg->webauthn_rp_id) != FIDO_OK
        || fido_assert_set_clientdata_hash(fa, cdh, sizeof(cdh)) != FIDO_OK
        || fido_assert_set_count(fa, 1) != FIDO_OK
        || fido_assert_set_up(fa, FIDO_OPT_TRUE) != FIDO_OK
        || fido_assert_set_uv(fa, require_uv ? FIDO_OPT_TRUE
                                             : FIDO_OPT_OMIT) != FIDO_OK)
    {
        rc = AC_ERR_CRYPTO;
        goto done;
    }

    if (fido_assert_set_authdata_raw(fa, 0, ad, ad_len) != FIDO_OK
        || fido_assert_set_sig(fa, 0, sig, sig_len) != FIDO_OK)
    {
        rc = AC_ERR_INVALID;
        goto done;
    }

    if (fido_assert_verify(fa, 0, type, pk) != FIDO_OK) {
        *why = AC_WA_SIGNATURE;
        rc = AC_ERR_MISMATCH;
        goto done;
    }

    count = fido_assert_sigcount(fa, 0);

    /* WebAuthn 6.1.1: a counter that does not grow means two copies of
     * the key exist; authenticators that keep none send 0 every time. */
    if ((count != 0 || cred->sign_count != 0) && count <= cred->sign_count) {
        *why = AC_WA_COUNTER;
        rc = AC_ERR_MISMATCH;
        goto done;
    }

    *sign_count = count;
    *flags = fido_assert_flags(fa, 0);
    *why = AC_WA_OK;
    rc = AC_OK;

done:

    fido_assert_free(&fa);
    es256_pk_free(&es);
    eddsa_pk_free(&ed);
    rs256_pk_free(&rs);

    return rc;
}


static int
ac_wa_decode(const char *b64, size_t len, unsigned char *out, size_t outsize,
    size_t *outlen)
{
    if (b64 == NULL || len == 0 || len > (outsize * 4 + 2) / 3) {
        return AC_ERR_INVALID;
    }

    return ac_b64url_decode(b64, len, out, outsize, outlen);
}


/* WebAuthn 7.1 steps 7-10 and 7.2 steps 11-14: clientDataJSON is an
 * object naming the ceremony, this challenge and an allowed origin, and
 * not made inside another site's frame. */

static ac_wa_why_t
ac_wa_client_data(const ac_config_t *cfg, const char *type,
    const unsigned char *challenge, const unsigned char *cdj, size_t cdj_len)
{
    size_t        i;
    json_t       *root, *v;
    const char   *s;
    ac_wa_why_t   why;
    char          want[AC_WA_CHALLENGE_B64 + 1];

    root = json_loadb((const char *) cdj, cdj_len, JSON_REJECT_DUPLICATES,
                      NULL);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return AC_WA_MALFORMED;
    }

    why = AC_WA_MALFORMED;

    v = json_object_get(root, "type");
    if (!json_is_string(v)) {
        goto done;
    }

    if (strcmp(json_string_value(v), type) != 0) {
        why = AC_WA_TYPE;
        goto done;
    }

    v = json_object_get(root, "challenge");
    if (!json_is_string(v)) {
        goto done;
    }

    ac_b64url_encode(challenge, AC_WA_CHALLENGE_LEN, want);

    if (json_string_length(v) != AC_WA_CHALLENGE_B64
        || !ac_ct_equal(json_string_value(v), want, AC_WA_CHALLENGE_B64))
    {
        why = AC_WA_CHALLENGE;
        goto done;
    }

    v = json_object_get(root, "origin");
    if (!json_is_string(v)) {
        goto done;
    }

    s = json_string_value(v);
    for (i = 0; i < cfg->nwebauthn_origins; i++) {
        if (strcmp(s, cfg->webauthn_origins[i]) == 0) {
            break;
        }
    }

    v = json_object_get(root, "crossOrigin");

    if (i == cfg->nwebauthn_origins || json_is_true(v)
        || json_object_get(root, "topOrigin") != NULL)
    {
        why = AC_WA_ORIGIN;
        goto done;
    }

    why = AC_WA_OK;

done:

    json_decref(root);
    return why;
}


/* The attestation object (WebAuthn 6.5): a CBOR map of "fmt", "attStmt"
 * and "authData". Only "none" is accepted, as the pages ask for. */

static ac_wa_why_t
ac_wa_att_authdata(const unsigned char *att, size_t att_len,
    unsigned char *ad, size_t adsize, size_t *ad_len)
{
    size_t               i, n, seen;
    cbor_item_t         *root, *k, *v, *fmt, *stmt, *data;
    ac_wa_why_t          why;
    struct cbor_pair    *pairs;
    struct cbor_load_result  res;

    root = cbor_load(att, att_len, &res);
    if (root == NULL) {
        return AC_WA_MALFORMED;
    }

    why = AC_WA_MALFORMED;
    fmt = NULL;
    stmt = NULL;
    data = NULL;
    seen = 0;

    if (res.error.code != CBOR_ERR_NONE || res.read != att_len
        || !cbor_isa_map(root) || !cbor_map_is_definite(root))
    {
        goto done;
    }

    n = cbor_map_size(root);
    pairs = cbor_map_handle(root);

    for (i = 0; i < n; i++) {
        k = pairs[i].key;
        v = pairs[i].value;

        if (!cbor_isa_string(k) || !cbor_string_is_definite(k)) {
            goto done;
        }

        if (cbor_string_length(k) == 3
            && memcmp(cbor_string_handle(k), "fmt", 3) == 0)
        {
            fmt = v;
            seen |= 1;
        } else if (cbor_string_length(k) == 7
                   && memcmp(cbor_string_handle(k), "attStmt", 7) == 0)
        {
            stmt = v;
            seen |= 2;
        } else if (cbor_string_length(k) == 8
                   && memcmp(cbor_string_handle(k), "authData", 8) == 0)
        {
            data = v;
            seen |= 4;
        }
    }

    if (seen != 7 || n != 3
        || !cbor_isa_string(fmt) || !cbor_string_is_definite(fmt)
        || !cbor_isa_map(stmt)
        || !cbor_isa_bytestring(data) || !cbor_bytestring_is_definite(data))
    {
        goto done;
    }

    if (cbor_string_length(fmt) != 4
        || memcmp(cbor_string_handle(fmt), "none", 4) != 0
        || cbor_map_size(stmt) != 0)
    {
        why = AC_WA_ATTESTATION;
        goto done;
    }

    if (cbor_bytestring_length(data) > adsize
        || cbor_bytestring_length(data) < AC_WA_RP_HASH_LEN + 5)
    {
        goto done;
    }

    *ad_len = cbor_bytestring_length(data);
    memcpy(ad, cbor_bytestring_handle(data), *ad_len);
    why = AC_WA_OK;

done:

    cbor_decref(&root);
    return why;
}


static int
ac_wa_fido_type(int alg)
{
    switch (alg) {
    case AC_WA_ES256:
        return COSE_ES256;
    case AC_WA_EDDSA:
        return COSE_EDDSA;
    case AC_WA_RS256:
        return COSE_RS256;
    default:
        return 0;
    }
}


static int
ac_wa_rp_hash_ok(const ac_config_t *cfg, const unsigned char *ad,
    size_t ad_len)
{
    unsigned char  h[SHA256_DIGEST_LENGTH];

    if (ad_len < AC_WA_RP_HASH_LEN) {
        return 0;
    }

    SHA256((const unsigned char *) cfg->webauthn_rp_id,
           strlen(cfg->webauthn_rp_id), h);

    return ac_ct_equal(h, ad, AC_WA_RP_HASH_LEN);
}


/* Keeps the known transports of the browser's list, comma-separated. */

static void
ac_wa_transports(const char *s, size_t len, char *out)
{
    size_t       i, n, w, olen;
    const char  *p, *end;
    static const char  *known[] = {
        "usb", "nfc", "ble", "hybrid", "internal", "smart-card"
    };

    out[0] = '\0';
    olen = 0;

    if (s == NULL) {
        return;
    }

    end = s + len;

    for (p = s; p < end; p += n + 1) {
        n = 0;
        while (p + n < end && p[n] != ',') {
            n++;
        }

        for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            w = strlen(known[i]);
            if (n == w && memcmp(p, known[i], w) == 0
                && strstr(out, known[i]) == NULL
                && olen + w + 1 <= AC_WA_TRANSPORTS_MAX)
            {
                if (olen > 0) {
                    out[olen++] = ',';
                }
                memcpy(out + olen, known[i], w);
                olen += w;
                out[olen] = '\0';
            }
        }
    }
}


int
ac_wa_client_challenge(const char *client_data_b64, size_t len,
    unsigned char challenge[AC_WA_CHALLENGE_LEN])
{
    int             rc;
    size_t          cdj_len, n;
    json_t         *root, *v;
    unsigned char   cdj[AC_WA_CDJ_MAX];

    if (ac_wa_decode(client_data_b64, len, cdj, sizeof(cdj), &cdj_len)
        != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    root = json_loadb((const char *) cdj, cdj_len, JSON_REJECT_DUPLICATES,
                      NULL);
    v = json_object_get(root, "challenge");

    rc = AC_ERR_INVALID;

    if (json_is_string(v) && json_string_length(v) == AC_WA_CHALLENGE_B64
        && ac_b64url_decode(json_string_value(v), AC_WA_CHALLENGE_B64,
                            challenge, AC_WA_CHALLENGE_LEN, &n) == AC_OK
        && n == AC_WA_CHALLENGE_LEN)
    {
        rc = AC_OK;
    }

    json_decref(root);
    return rc;
}
