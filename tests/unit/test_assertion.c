/*
 * Partner assertions: real ES256, RS256 and HS256 tokens are signed here
 * with OpenSSL keys made for the test, then every way a partner, a
 * careless integrator or an attacker could bend one is tried. Keys and
 * the replay guard: test_partner_key.c.
 */

#include "assertion_fixture.h"


TEST(test_valid_es256_rs256_hs256)
{
    char            pl[512], *t;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW - 10, NOW + 110, "");
    t = jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "acme");
    CHECK_STR(a.email, "alice.martin@example.org");
    CHECK_STR(a.jti, "0b6f3c2e-9a41-4c55");
    CHECK_INT(a.exp, NOW + 110);
    CHECK_INT(a.iat, NOW - 10);
    CHECK_INT(a.kind, AC_ASSERTION_SSO);
    CHECK_STR(ac_assertion_reason_name(a.reason), "ok");
    free(t);

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 300, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_INT(verify(k_rsa, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "rsa-corp");
    CHECK_STR(a.email, "alice.martin@example.org");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60,
           ",\"nbf\":1699999990");
    t = jws("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"2024-1\"}", pl,
            SIG_HS256, hs_secret, strlen(hs_secret));
    CHECK_INT(verify(k_hs, t, AC_ASSERTION_SSO, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "hs.corp");
    free(t);
}


TEST(test_peek_issuer)
{
    char                   pl[512], iss[AC_PARTNER_ID_MAX + 1], *t;
    ac_assertion_reason_t  r;

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r), AC_OK);
    CHECK_STR(iss, "rsa-corp");
    CHECK_INT(r, AC_AR_OK);
    free(t);

    /* not an id any partner can have: no lookup with it */
    claims(pl, sizeof(pl), "../Acme Corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r),
              AC_ERR_MISMATCH);
    CHECK_STR(ac_assertion_reason_name(r), "unknown_partner");
    CHECK_STR(iss, "");
    free(t);

    t = jws("{\"alg\":\"ES256\"}", "{\"aud\":\"" AUD "\"}", SIG_ES256,
            ec_key, 0);
    CHECK(ac_assertion_peek_issuer(t, strlen(t), iss, &r) != AC_OK);
    CHECK_STR(ac_assertion_reason_name(r), "missing_claim");
    free(t);

    t = jws("{\"alg\":\"ES256\"}", "{\"iss\":42}", SIG_ES256, ec_key, 0);
    CHECK_INT(ac_assertion_peek_issuer(t, strlen(t), iss, &r),
              AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(r), "malformed");
    free(t);

    CHECK_INT(ac_assertion_peek_issuer("a.b", 3, iss, &r), AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(r), "malformed");

    /* no partner found by the caller: verify says so too */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(NULL, t, AC_ASSERTION_SSO, NOW), "unknown_partner");
    free(t);
}


TEST(test_alg_none)
{
    char  pl[512], *t, *t2;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    t = jws("{\"alg\":\"none\",\"typ\":\"JWT\"}", pl, SIG_EMPTY, NULL, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_none");
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    /* with a signature segment: still none */
    t = jws("{\"alg\":\"none\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    t = jws("{\"alg\":\"NoNe\"}", pl, SIG_EMPTY, NULL, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_none");
    free(t);

    /* a real token whose signature was cut off */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    t2 = strdup(t);
    CHECK(t2 != NULL);
    if (t2 != NULL) {
        *(strrchr(t2, '.') + 1) = '\0';
        CHECK_STR(why(k_ec, t2, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(t2);
    }
    free(t);

    /* no alg at all, or not a string */
    t = jws("{\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
    free(t);

    t = jws("{\"alg\":null}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
    free(t);
}


TEST(test_hmac_with_public_key_pem)
{
    char  pl[512], *t;

    /* the classic confusion: the partner's public key as HMAC secret */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, rsa_pem, strlen(rsa_pem));
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, ec_pem, strlen(ec_pem));
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* and such a partner cannot even be registered */
    {
        ac_partner_t       p;
        ac_partner_key_t  *k;

        p = p_hs;
        p.keylen = strlen(ec_pem);
        memcpy(p.key, ec_pem, p.keylen);
        k = NULL;
        CHECK_INT(ac_partner_key_new(&p, &k, NULL), AC_ERR_KEY);
        CHECK(k == NULL);
    }
}


TEST(test_alg_swapped)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* header says ES256, signed with RS256: the pinned alg runs, fails */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    /* algorithms we never take, and case matters */
    t = jws("{\"alg\":\"HS512\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);

    t = jws("{\"alg\":\"hs256\"}", pl, SIG_HS256, hs_secret,
            strlen(hs_secret));
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "alg_mismatch");
    free(t);
}


TEST(test_wrong_key)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_other, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_other, 0);
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    claims(pl, sizeof(pl), "hs.corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"HS256\"}", pl, SIG_HS256, "another secret of 32 "
            "bytes or more!!", 35);
    CHECK_STR(why(k_hs, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);
}


TEST(test_tampered_payload)
{
    char    pl[512], pl2[512], *t, *t2, *t3, *dot;
    size_t  n;

    /* same signature, payload of another email */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    snprintf(pl2, sizeof(pl2), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"admin@example.org\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0b6f3c2e-9a41-4c55\"}", (long) NOW, (long) NOW + 60);
    t2 = jws("{\"alg\":\"ES256\"}", pl2, SIG_EMPTY, NULL, 0);
    dot = strrchr(t, '.');
    n = strlen(t2);
    t3 = realloc(t2, n + strlen(dot) + 1);
    CHECK(t3 != NULL);
    if (t3 == NULL) {
        free(t2);
    }
    t2 = t3;
    if (t2 != NULL) {
        strcpy(t2 + n - 1, dot);
        CHECK_STR(why(k_ec, t2, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(t2);
    }
    free(t);
}


TEST(test_times)
{
    char  pl[512], extra[64];

    /* expired, and the 60 s skew */
    claims(pl, sizeof(pl), "acme", NOW - 300, NOW - 60, "");
    CHECK_STR(why_es(pl, NOW), "expired");
    claims(pl, sizeof(pl), "acme", NOW - 300, NOW - 59, "");
    CHECK_STR(why_es(pl, NOW), "ok");
    claims(pl, sizeof(pl), "acme", NOW - 100, NOW - 1, "");
    CHECK_STR(why_es(pl, NOW), "ok");

    /* nbf in the future, and within the skew */
    snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long) NOW + 61);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 200, extra);
    CHECK_STR(why_es(pl, NOW), "not_yet_valid");
    snprintf(extra, sizeof(extra), ",\"nbf\":%ld", (long) NOW + 60);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 200, extra);
    CHECK_STR(why_es(pl, NOW), "ok");

    /* lifetime */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 301, "");
    CHECK_STR(why_es(pl, NOW), "lifetime_too_long");
    claims(pl, sizeof(pl), "acme", NOW, NOW + 300, "");
    CHECK_STR(why_es(pl, NOW), "ok");
    claims(pl, sizeof(pl), "acme", NOW - 86400, NOW + 86400, "");
    CHECK_STR(why_es(pl, NOW), "lifetime_too_long");

    /* issued in the future */
    claims(pl, sizeof(pl), "acme", NOW + 3600, NOW + 3700, "");
    CHECK_STR(why_es(pl, NOW), "issued_in_future");
    claims(pl, sizeof(pl), "acme", NOW + 61, NOW + 100, "");
    CHECK_STR(why_es(pl, NOW), "issued_in_future");
    claims(pl, sizeof(pl), "acme", NOW + 60, NOW + 100, "");
    CHECK_STR(why_es(pl, NOW), "ok");

    /* exp before iat, times that are not integers, huge times */
    claims(pl, sizeof(pl), "acme", NOW + 10, NOW + 5, "");
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld.5,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":\"%ld\","
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":-9223372036854775807,"
             "\"exp\":9223372036854775807,\"jti\":\"0123456789\"}");
    CHECK_STR(why_es(pl, NOW), "malformed");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,"
             "\"exp\":99999999999999999999999,\"jti\":\"0123456789\"}",
             (long) NOW);
    CHECK_STR(why_es(pl, NOW), "malformed");
}


TEST(test_audience)
{
    char  pl[512];

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"https://other"
             ".example\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* arrays are refused, even one element equal to the audience */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":[\"" AUD "\"],"
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* a prefix, a longer string, another case */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "x\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"https://gw\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"HTTPS://GW."
             "EXAMPLE.ORG\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    /* a partner API token is no SSO assertion */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":null,"
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "wrong_audience");
}


TEST(test_issuer)
{
    char  pl[512], *t;

    /* signed by acme's key but naming another partner */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    CHECK_STR(why_es(pl, NOW), "wrong_issuer");

    /* a token of acme presented with rsa-corp's key */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    CHECK_STR(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "wrong_issuer");
    free(t);

    claims(pl, sizeof(pl), "ACME", NOW, NOW + 60, "");
    CHECK_STR(why_es(pl, NOW), "unknown_partner");
}


TEST(test_extra_claims)
{
    size_t       i;
    char         pl[512];
    const char  *extra[] = {
        ",\"name\":\"Alice Martin\"",
        ",\"sub\":\"12345\"",
        ",\"phone_number\":\"+33 6 12 34 56 78\"",
        ",\"groups\":[\"finance\"]",
        ",\"email_verified\":true",
        ",\"Email\":\"x@y.fr\"",
        ",\"\":1"
    };

    for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        claims(pl, sizeof(pl), "acme", NOW, NOW + 60, extra[i]);
        CHECK_STR(why_es(pl, NOW), "extra_claims");
    }
}


TEST(test_missing_claims)
{
    char         pl[512], *p, *q;
    size_t       i;
    const char  *names[] = { "\"aud\"", "\"email\"", "\"iat\"", "\"exp\"",
                             "\"jti\"" };

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

        /* rename the claim to an allowed one already absent: nbf */
        p = strstr(pl, names[i]);
        CHECK(p != NULL);
        if (p == NULL) {
            continue;
        }

        q = strchr(p, ':');
        memmove(p + 5, q, strlen(q) + 1);
        memcpy(p, "\"nbf\"", 5);

        /* presence is checked before the types of the values */
        CHECK_STR(why_es(pl, NOW), "missing_claim");
    }
}


TEST(test_extra_header_fields)
{
    size_t       i;
    char         pl[512], *t;
    const char  *headers[] = {
        "{\"alg\":\"ES256\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"ES256\",\"x5u\":\"https://evil.example/c.pem\"}",
        "{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}",
        "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"ES256\",\"x5c\":[\"MIIB\"]}",
        "{\"alg\":\"ES256\",\"typ\":\"JOSE+JSON\"}",
        "{\"alg\":\"ES256\",\"typ\":1}",
        "{\"alg\":\"ES256\",\"kid\":[\"a\"]}",
    };

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        t = jws(headers[i], pl, SIG_ES256, ec_key, 0);
        CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_header");
        free(t);
    }
}


TEST(test_duplicate_keys)
{
    char            pl[600], *t;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");

    t = jws("{\"alg\":\"ES256\",\"alg\":\"none\"}", pl, SIG_ES256, ec_key,
            0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_SSO, NOW, &a), AC_ERR_INVALID);
    CHECK_STR(ac_assertion_reason_name(a.reason), "malformed");
    free(t);

    t = jws("{\"alg\":\"none\",\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key,
            0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);

    /* two emails: which one would a reader see? refuse */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60,
           ",\"email\":\"admin@example.org\"");
    CHECK_STR(why_es(pl, NOW), "malformed");

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, ",\"exp\":4000000000");
    CHECK_STR(why_es(pl, NOW), "malformed");

    /* the same key written with an escape is still the same key */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60,
           ",\"\\u0065mail\":\"admin@example.org\"");
    CHECK_STR(why_es(pl, NOW), "malformed");
}


TEST(test_size_and_encoding)
{
    char            pl[512], *t, *big, *bad, *p;
    size_t          n, i;
    ac_assertion_t  a;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    n = strlen(t);

    /* oversized */
    big = malloc(AC_ASSERTION_MAX + 2);
    CHECK(big != NULL);
    if (big != NULL) {
        memset(big, 'A', AC_ASSERTION_MAX + 1);
        memcpy(big, t, n);
        big[AC_ASSERTION_MAX + 1] = '\0';
        CHECK_INT(verify(k_ec, big, AC_ASSERTION_SSO, NOW, &a),
                  AC_ERR_INVALID);
        CHECK_STR(ac_assertion_reason_name(a.reason), "too_large");

        /* at the limit it is read, and the longer signature fails */
        big[AC_ASSERTION_MAX] = '\0';
        CHECK_STR(why(k_ec, big, AC_ASSERTION_SSO, NOW), "bad_signature");
        free(big);
    }

    bad = malloc(n + 8);
    CHECK(bad != NULL);
    if (bad == NULL) {
        free(t);
        return;
    }

    /* truncated anywhere: never accepted */
    for (i = 0; i < n; i += 7) {
        memcpy(bad, t, i);
        bad[i] = '\0';
        CHECK(strcmp(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "ok") != 0);
    }

    /* two segments, four segments, empty */
    memcpy(bad, t, n + 1);
    *strrchr(bad, '.') = '\0';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    strcat(bad, ".e30");
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    CHECK_STR(why(k_ec, "", AC_ASSERTION_SSO, NOW), "malformed");
    CHECK_STR(why(k_ec, "..", AC_ASSERTION_SSO, NOW), "malformed");

    /* padding, standard base64 characters, spaces */
    memcpy(bad, t, n + 1);
    strcat(bad, "=");
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    bad[3] = '+';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, t, n + 1);
    bad[n - 2] = '/';
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    memcpy(bad, " ", 2);
    strcat(bad, t);
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    /* header padded with '=': {"alg":"ES256"} is 15 bytes -> 1 pad */
    free(t);
    t = jws("{\"alg\":\"ES256\" }", pl, SIG_ES256, ec_key, 0);
    n = strlen(t);
    p = realloc(bad, n + 8);
    CHECK(p != NULL);
    if (p == NULL) {
        free(bad);
        free(t);
        return;
    }
    bad = p;
    memcpy(bad, t, strchr(t, '.') - t);
    strcpy(bad + (strchr(t, '.') - t), "=");
    strcat(bad, strchr(t, '.'));
    CHECK_STR(why(k_ec, bad, AC_ASSERTION_SSO, NOW), "malformed");

    /* the NUL byte ends nothing: the length says where the token ends */
    memcpy(bad, t, n + 1);
    bad[5] = '\0';
    CHECK_INT(ac_assertion_verify(&cfg, k_ec, bad, n, NOW, AC_ASSERTION_SSO,
                                  &a, NULL), AC_ERR_INVALID);

    /* not JSON, not an object, JSON with a NUL in a string */
    free(t);
    t = jws("[\"alg\",\"ES256\"]", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    t = jws("{\"alg\":\"ES256\"", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    t = jws("{\"alg\":\"ES256\"}", "\"acme\"", SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    memcpy(strstr(pl, "Alice"), "\\u0000", 6);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "malformed");
    free(t);

    free(bad);
}


TEST(test_emails)
{
    char         pl[1024], email[300];
    size_t       i;
    const char  *bad[] = {
        "alice@example.org\\r\\nBcc: eve@evil.example",
        "alice@example.org\\n",
        "alice@@example.org",
        "alice@example@org",
        "alice",
        "@example.org",
        "alice@",
        "alice martin@example.org",
        "<alice@example.org>",
        "",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
                 "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
                 "\"jti\":\"0123456789\"}", bad[i], (long) NOW,
                 (long) NOW + 60);
        CHECK_STR(why_es(pl, NOW), "bad_email");
    }

    /* 255 bytes refused, 254 accepted */
    memset(email, 'a', sizeof(email));
    memcpy(email + 255 - 12, "@example.org", 13);
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", email, (long) NOW, (long) NOW + 60);
    CHECK_INT(strlen(email), 255);
    CHECK_STR(why_es(pl, NOW), "bad_email");

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"%s\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", email + 1, (long) NOW,
             (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "ok");

    /* not a string */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":[\"a@b.fr\"],\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"0123456789\"}", (long) NOW, (long) NOW + 60);
    CHECK_STR(why_es(pl, NOW), "bad_email");
}


TEST(test_jti_shape)
{
    char         pl[512];
    size_t       i;
    char         long_jti[140];
    const char  *bad[] = { "\"short\"", "\"has space 123\"", "12345678",
                           "\"tab\\there99\"", "\"\"", "null", long_jti };

    memset(long_jti, 'x', 131);
    long_jti[0] = '"';
    long_jti[130] = '"';
    long_jti[131] = '\0';           /* 129 characters */

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
                 "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
                 "\"jti\":%s}", (long) NOW, (long) NOW + 60, bad[i]);
        CHECK_STR(why_es(pl, NOW), "malformed");
    }

    long_jti[129] = '"';
    long_jti[130] = '\0';           /* 128 characters */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":%s}", (long) NOW, (long) NOW + 60, long_jti);
    CHECK_STR(why_es(pl, NOW), "ok");
}


TEST(test_es256_der_signature)
{
    char  pl[512], *t;

    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256_DER, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    /* a good R || S with a byte more is not a 64-byte signature */
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256_LONG, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "bad_signature");
    free(t);

    /* an RS256 signature one byte short */
    claims(pl, sizeof(pl), "rsa-corp", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"RS256\"}", pl, SIG_RS256, rsa_key, 0);
    t[strlen(t) - 2] = '\0';
    CHECK(strcmp(why(k_rsa, t, AC_ASSERTION_SSO, NOW), "ok") != 0);
    free(t);
}


TEST(test_partner_api)
{
    char            pl[512], *t;
    ac_assertion_t  a;

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"api-call-000001\"}", (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_INT(verify(k_ec, t, AC_ASSERTION_PARTNER_API, NOW, &a), AC_OK);
    CHECK_STR(a.partner, "acme");
    CHECK_STR(a.email, "");
    CHECK_STR(a.jti, "api-call-000001");
    CHECK_INT(a.kind, AC_ASSERTION_PARTNER_API);

    /* the same token is no SSO assertion */
    CHECK_STR(why(k_ec, t, AC_ASSERTION_SSO, NOW), "missing_claim");
    free(t);

    /* an email never goes along a partner API call */
    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD
             "/partner-api\",\"email\":\"a@b.fr\",\"iat\":%ld,\"exp\":%ld,"
             "\"jti\":\"api-call-000001\"}", (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW), "extra_claims");
    free(t);

    /* an SSO assertion is no partner API token */
    claims(pl, sizeof(pl), "acme", NOW, NOW + 60, "");
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW), "extra_claims");
    free(t);

    snprintf(pl, sizeof(pl), "{\"iss\":\"acme\",\"aud\":\"" AUD "\","
             "\"iat\":%ld,\"exp\":%ld,\"jti\":\"api-call-000001\"}",
             (long) NOW, (long) NOW + 120);
    t = jws("{\"alg\":\"ES256\"}", pl, SIG_ES256, ec_key, 0);
    CHECK_STR(why(k_ec, t, AC_ASSERTION_PARTNER_API, NOW),
              "wrong_audience");
    free(t);

    CHECK_INT(ac_assertion_verify(&cfg, k_ec, "a.b.c", 5, NOW,
                                  (ac_assertion_kind_t) 7, &a, NULL),
              AC_ERR_INVALID);
}


TEST(test_reason_names)
{
    int          i, j;
    const char  *want[] = { "malformed", "too_large", "bad_header",
                            "alg_none", "alg_mismatch", "unknown_partner",
                            "bad_signature", "extra_claims", "missing_claim",
                            "wrong_audience", "wrong_issuer", "expired",
                            "not_yet_valid", "lifetime_too_long",
                            "issued_in_future", "bad_email", "replay" };

    for (i = 0; i < AC_AR_COUNT; i++) {
        CHECK(ac_assertion_reason_name(i) != NULL);
        for (j = 0; j < i; j++) {
            CHECK(strcmp(ac_assertion_reason_name(i),
                         ac_assertion_reason_name(j)) != 0);
        }
    }

    for (i = 0; i < (int) (sizeof(want) / sizeof(want[0])); i++) {
        CHECK_STR(ac_assertion_reason_name(AC_AR_MALFORMED + i), want[i]);
    }

    CHECK(ac_assertion_reason_name(AC_AR_COUNT) == NULL);
    CHECK(ac_assertion_reason_name((ac_assertion_reason_t) -1) == NULL);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        return 2;
    }

    setup();

    RUN(test_valid_es256_rs256_hs256);
    RUN(test_peek_issuer);
    RUN(test_alg_none);
    RUN(test_hmac_with_public_key_pem);
    RUN(test_alg_swapped);
    RUN(test_wrong_key);
    RUN(test_tampered_payload);
    RUN(test_times);
    RUN(test_audience);
    RUN(test_issuer);
    RUN(test_extra_claims);
    RUN(test_missing_claims);
    RUN(test_extra_header_fields);
    RUN(test_duplicate_keys);
    RUN(test_size_and_encoding);
    RUN(test_emails);
    RUN(test_jti_shape);
    RUN(test_es256_der_signature);
    RUN(test_partner_api);
    RUN(test_reason_names);

    teardown();

    return CHECK_DONE();
}
