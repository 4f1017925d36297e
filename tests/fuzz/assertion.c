/*
 * Partner assertions, compact JWS (ac_assertion_peek_issuer,
 * ac_assertion_verify), for partner SSO and the partner API. The first
 * byte says how to read the rest:
 *   bit 0  kind: SSO, or partner API;
 *   bit 1  the rest is "HEADER.PAYLOAD" and is signed here with the
 *          HS256 partner's secret, so that the header and claims checks
 *          that follow the signature are reached too;
 *   bit 2  otherwise, verify with the ES256 partner's key (else HS256).
 * Tokens are judged at FUZZ_NOW, the time the seeds were made for.
 */

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"


#define FUZZ_NOW        ((time_t) 1700000000)
#define FUZZ_HS_SECRET  "fuzzing partner secret of 32 bytes and more"

static const char  fuzz_ec_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEj0xJp00z1B45rEjN1xEuirSLnyQI\n"
    "snHPgcORwQoMR1QgPlxxY1S+L20nXkzSsKOoJGUztBxLOzriEBu2xLhkqg==\n"
    "-----END PUBLIC KEY-----\n";

static ac_partner_key_t  *fuzz_hs, *fuzz_ec;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ac_partner_t  p;

    (void) fuzz_keys();

    memset(&p, 0, sizeof(p));
    strcpy(p.id, "hs.corp");
    p.alg = AC_ALG_HS256;
    p.keylen = strlen(FUZZ_HS_SECRET);
    memcpy(p.key, FUZZ_HS_SECRET, p.keylen);

    if (ac_partner_key_new(&p, &fuzz_hs, NULL) != AC_OK) {
        abort();
    }

    memset(&p, 0, sizeof(p));
    strcpy(p.id, "acme");
    p.alg = AC_ALG_ES256;
    p.keylen = strlen(fuzz_ec_pem);
    memcpy(p.key, fuzz_ec_pem, p.keylen);

    if (ac_partner_key_new(&p, &fuzz_ec, NULL) != AC_OK) {
        abort();
    }

    return 0;
}


static void
fuzz_check(const ac_assertion_t *a, ac_assertion_kind_t kind,
    const ac_partner_key_t *k)
{
    char  email[AC_EMAIL_MAX + 1];

    if (a->reason != AC_AR_OK || a->kind != kind
        || strcmp(a->partner, ac_partner_key_id(k)) != 0
        || a->exp - a->iat > AC_ASSERTION_LIFETIME
        || a->exp < FUZZ_NOW - AC_ASSERTION_SKEW
        || a->iat > FUZZ_NOW + AC_ASSERTION_SKEW
        || strlen(a->jti) < AC_JTI_MIN || strlen(a->jti) > AC_JTI_MAX)
    {
        abort();
    }

    if (kind == AC_ASSERTION_SSO) {
        if (ac_email_normalize(a->email, strlen(a->email), email) != AC_OK
            || strcmp(email, a->email) != 0)
        {
            abort();
        }

    } else if (a->email[0] != '\0') {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    rc;
    char                   iss[AC_PARTNER_ID_MAX + 1], *tok;
    size_t                 len;
    unsigned int           maclen;
    unsigned char          mac[EVP_MAX_MD_SIZE];
    ac_assertion_t         a;
    ac_assertion_kind_t    kind;
    ac_assertion_reason_t  reason;
    const ac_partner_key_t *k;

    if (size == 0 || size > AC_ASSERTION_MAX + 64) {
        return 0;
    }

    kind = (data[0] & 1) ? AC_ASSERTION_PARTNER_API : AC_ASSERTION_SSO;
    k = (data[0] & 4) ? fuzz_ec : fuzz_hs;
    data++;
    size--;

    tok = malloc(size + 1 + AC_B64URL_LEN(EVP_MAX_MD_SIZE) + 1);
    if (tok == NULL) {
        return 0;
    }

    memcpy(tok, data, size);
    len = size;

    if (data[-1] & 2) {
        k = fuzz_hs;

        if (HMAC(EVP_sha256(), FUZZ_HS_SECRET, strlen(FUZZ_HS_SECRET),
                 data, size, mac, &maclen) == NULL)
        {
            abort();
        }

        tok[len++] = '.';
        len += ac_b64url_encode(mac, maclen, tok + len);
    }

    tok[len] = '\0';

    if (ac_assertion_peek_issuer(tok, len, iss, &reason) == AC_OK
        && ac_partner_id_check(iss) != AC_OK)
    {
        abort();
    }

    rc = ac_assertion_verify(fuzz_config(), k, tok, len, FUZZ_NOW, kind, &a,
                             NULL);
    if (rc == AC_OK) {
        fuzz_check(&a, kind, k);

    } else if (a.reason == AC_AR_OK) {
        abort();
    }

    free(tok);

    return 0;
}
