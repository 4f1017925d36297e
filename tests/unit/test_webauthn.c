/*
 * Passkeys (SPEC 11): registrations and sign-ins recorded from
 * Chromium's virtual authenticator (webauthn_vectors.h, made by
 * tests/browser/record_webauthn.mjs) for ES256, EdDSA and RS256, and
 * each check refusing what it must: signature, RP ID, origin, type,
 * challenge, user presence and verification, counter, attestation
 * format, malformed input; the webauthn_* keys of guichet.conf.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"
#include "webauthn_vectors.h"


typedef struct {
    const char  *name;
    int          alg;
    const char  *id, *att, *reg_cdj, *transports;
    const char  *a1_ad, *a1_cdj, *a1_sig, *a1_uh;
    const char  *a2_ad, *a2_cdj, *a2_sig;
} vec_t;

#define VEC(N, alg)                                                          \
    { #N, alg, VEC_##N##_ID, VEC_##N##_ATT, VEC_##N##_REG_CDJ,               \
      VEC_##N##_TRANSPORTS, VEC_##N##_A1_AD, VEC_##N##_A1_CDJ,               \
      VEC_##N##_A1_SIG, VEC_##N##_A1_UH, VEC_##N##_A2_AD,                    \
      VEC_##N##_A2_CDJ, VEC_##N##_A2_SIG }

static const vec_t  vecs[] = {
    VEC(ES256, AC_WA_ES256), VEC(EDDSA, AC_WA_EDDSA), VEC(RS256, AC_WA_RS256)
};

static char          rp_localhost[] = "localhost";
static char          rp_other[] = "example.org";
static char          origin_ok[] = "http://localhost:18080";
static char          origin_other[] = "http://localhost:18081";
static char         *origins[1];
static ac_config_t   cfg;
static unsigned char ch_reg[AC_WA_CHALLENGE_LEN];
static unsigned char ch_a1[AC_WA_CHALLENGE_LEN];
static unsigned char ch_a2[AC_WA_CHALLENGE_LEN];


static void
setup(char *rp, char *origin)
{
    memset(&cfg, 0, sizeof(cfg));
    origins[0] = origin;
    cfg.webauthn_rp_id = rp;
    cfg.webauthn_origins = origins;
    cfg.nwebauthn_origins = 1;
}


static int
reg(const vec_t *v, ac_wa_cred_t *cred, ac_wa_why_t *why)
{
    return ac_wa_register(&cfg, ch_reg, v->att, strlen(v->att), v->reg_cdj,
                          strlen(v->reg_cdj), v->transports,
                          strlen(v->transports), cred, why);
}


static int
get(const ac_wa_cred_t *cred, const unsigned char *ch, int uv,
    const char *ad, const char *cdj, const char *sig, uint32_t *count,
    ac_wa_why_t *why)
{
    unsigned  flags;

    return ac_wa_verify(&cfg, cred, ch, uv, ad, strlen(ad), cdj, strlen(cdj),
                        sig, strlen(sig), count, &flags, why);
}


/* b64 decoded, byte i xor-ed with x, encoded again into out */

static void
tamper(const char *b64, size_t i, unsigned x, char *out)
{
    size_t         n;
    unsigned char  raw[2048];

    if (ac_b64url_decode(b64, strlen(b64), raw, sizeof(raw), &n) != AC_OK
        || i >= n)
    {
        strcpy(out, "!");
        return;
    }

    raw[i] ^= x;
    ac_b64url_encode(raw, n, out);
}


TEST(test_register_each_algorithm)
{
    size_t        i, n;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;
    unsigned char id[AC_WA_ID_MAX];

    setup(rp_localhost, origin_ok);

    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        CHECK_INT(reg(&vecs[i], &cred, &why), AC_OK);
        CHECK_INT(why, AC_WA_OK);
        CHECK_INT(cred.alg, vecs[i].alg);
        CHECK_STR(cred.transports, "internal");
        CHECK((cred.flags & AC_WA_FLAG_UP) != 0);
        CHECK((cred.flags & AC_WA_FLAG_UV) != 0);
        CHECK_INT(cred.sign_count, 1);
        CHECK(cred.pk_len > 0);

        CHECK_INT(ac_wa_id_decode(vecs[i].id, strlen(vecs[i].id), id, &n),
                  AC_OK);
        CHECK_INT(n, cred.id_len);
        CHECK(memcmp(id, cred.id, n) == 0);
    }

    CHECK_STR(ac_wa_alg_name(AC_WA_EDDSA), "EdDSA");
}


TEST(test_sign_in_each_algorithm)
{
    size_t        i;
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;

    setup(rp_localhost, origin_ok);

    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        const vec_t  *v = &vecs[i];

        printf("    %s\n", v->name);
        CHECK_INT(reg(v, &cred, &why), AC_OK);

        CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig,
                      &count, &why), AC_OK);
        CHECK_INT(why, AC_WA_OK);
        CHECK_INT(count, 2);

        cred.sign_count = count;
        CHECK_INT(get(&cred, ch_a2, 1, v->a2_ad, v->a2_cdj, v->a2_sig,
                      &count, &why), AC_OK);
        CHECK_INT(count, 3);

        /* the first sign-in again: its counter no longer increases */
        cred.sign_count = 3;
        CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig,
                      &count, &why), AC_ERR_MISMATCH);
        CHECK_INT(why, AC_WA_COUNTER);
        CHECK_STR(ac_wa_reason(why), "counter");

        cred.sign_count = 2;
        CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig,
                      &count, &why), AC_ERR_MISMATCH);
        CHECK_INT(why, AC_WA_COUNTER);
    }
}


TEST(test_bad_signature)
{
    size_t        i;
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred, other;
    char          buf[2048];

    setup(rp_localhost, origin_ok);

    for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
        const vec_t  *v = &vecs[i];

        CHECK_INT(reg(v, &cred, &why), AC_OK);

        tamper(v->a1_sig, 20, 0x01, buf);
        CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, buf, &count,
                      &why), AC_ERR_MISMATCH);
        CHECK_INT(why, AC_WA_SIGNATURE);

        /* the counter is signed: 2 made 9 does not verify */
        tamper(v->a1_ad, 36, 0x0b, buf);
        CHECK_INT(get(&cred, ch_a1, 1, buf, v->a1_cdj, v->a1_sig, &count,
                      &why), AC_ERR_MISMATCH);
        CHECK_INT(why, AC_WA_SIGNATURE);

        /* clientDataJSON is signed: the second sign-in's with the first
         * one's signature */
        CHECK_INT(get(&cred, ch_a2, 1, v->a1_ad, v->a2_cdj, v->a1_sig,
                      &count, &why), AC_ERR_MISMATCH);
        CHECK_INT(why, AC_WA_SIGNATURE);

        /* another passkey's key */
        CHECK_INT(reg(&vecs[(i + 1) % 3], &other, &why), AC_OK);
        CHECK_INT(get(&other, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig,
                      &count, &why), AC_ERR_MISMATCH);
    }
}


TEST(test_rp_id_and_origin)
{
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;
    const vec_t  *v = &vecs[0];

    setup(rp_localhost, origin_ok);
    CHECK_INT(reg(v, &cred, &why), AC_OK);

    setup(rp_other, origin_ok);
    CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig, &count,
                  &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_RP_ID);
    CHECK_STR(ac_wa_reason(why), "rp_id");
    CHECK_INT(reg(v, &cred, &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_RP_ID);

    setup(rp_localhost, origin_other);
    CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, v->a1_cdj, v->a1_sig, &count,
                  &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_ORIGIN);
    CHECK_INT(reg(v, &cred, &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_ORIGIN);

    setup(NULL, origin_ok);
    CHECK_INT(reg(v, &cred, &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_DISABLED);
}


TEST(test_challenge_and_type)
{
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;
    const vec_t  *v = &vecs[0];

    setup(rp_localhost, origin_ok);
    CHECK_INT(reg(v, &cred, &why), AC_OK);

    /* a sign-in answered for another challenge */
    CHECK_INT(get(&cred, ch_a2, 1, v->a1_ad, v->a1_cdj, v->a1_sig, &count,
                  &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_CHALLENGE);

    CHECK_INT(ac_wa_register(&cfg, ch_a1, v->att, strlen(v->att),
                             v->reg_cdj, strlen(v->reg_cdj), "", 0, &cred,
                             &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_CHALLENGE);

    /* a registration's clientDataJSON offered for a sign-in */
    CHECK_INT(get(&cred, ch_reg, 1, v->a1_ad, v->reg_cdj, v->a1_sig, &count,
                  &why), AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_TYPE);
    CHECK_INT(ac_wa_register(&cfg, ch_a1, v->att, strlen(v->att), v->a1_cdj,
                             strlen(v->a1_cdj), "", 0, &cred, &why),
              AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_TYPE);
}


TEST(test_presence_and_verification)
{
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;
    char          buf[2048];
    const vec_t  *v = &vecs[0];

    setup(rp_localhost, origin_ok);
    CHECK_INT(reg(v, &cred, &why), AC_OK);

    /* flags are byte 32 of the authenticator data */
    tamper(v->a1_ad, 32, AC_WA_FLAG_UP, buf);
    CHECK_INT(get(&cred, ch_a1, 0, buf, v->a1_cdj, v->a1_sig, &count, &why),
              AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_USER_PRESENCE);

    tamper(v->a1_ad, 32, AC_WA_FLAG_UV, buf);
    CHECK_INT(get(&cred, ch_a1, 1, buf, v->a1_cdj, v->a1_sig, &count, &why),
              AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_USER_VERIFICATION);

    /* not required: the flags are still signed */
    CHECK_INT(get(&cred, ch_a1, 0, buf, v->a1_cdj, v->a1_sig, &count, &why),
              AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_SIGNATURE);
}


TEST(test_malformed)
{
    uint32_t      count;
    ac_wa_why_t   why;
    ac_wa_cred_t  cred;
    char          buf[4096];
    const vec_t  *v = &vecs[0];

    setup(rp_localhost, origin_ok);
    CHECK_INT(reg(v, &cred, &why), AC_OK);

    CHECK_INT(ac_wa_register(&cfg, ch_reg, "a+b", 3, v->reg_cdj,
                             strlen(v->reg_cdj), "", 0, &cred, &why),
              AC_ERR_INVALID);
    CHECK_INT(why, AC_WA_MALFORMED);
    CHECK_INT(ac_wa_register(&cfg, ch_reg, v->reg_cdj, strlen(v->reg_cdj),
                             v->reg_cdj, strlen(v->reg_cdj), "", 0, &cred,
                             &why), AC_ERR_INVALID);
    CHECK_INT(get(&cred, ch_a1, 1, "", v->a1_cdj, v->a1_sig, &count, &why),
              AC_ERR_INVALID);
    CHECK_INT(get(&cred, ch_a1, 1, v->a1_ad, "e30", v->a1_sig, &count,
                  &why), AC_ERR_INVALID);

    /* another attestation format: "none" made "fone" */
    tamper(v->att, 6, 0x08, buf);
    CHECK_INT(ac_wa_register(&cfg, ch_reg, buf, strlen(buf), v->reg_cdj,
                             strlen(v->reg_cdj), "", 0, &cred, &why),
              AC_ERR_MISMATCH);
    CHECK_INT(why, AC_WA_ATTESTATION);

    /* the transports kept are the known ones */
    CHECK_INT(ac_wa_register(&cfg, ch_reg, v->att, strlen(v->att),
                             v->reg_cdj, strlen(v->reg_cdj),
                             "usb,<b>,hybrid,usb", 18, &cred, &why), AC_OK);
    CHECK_STR(cred.transports, "usb,hybrid");
}


TEST(test_config_keys)
{
    int            rc;
    char           dir[] = "/tmp/guichet-wa-XXXXXX", path[64];
    FILE          *f;
    ac_error_t     err;
    ac_config_t   *c;
    static const char  *bad[] = {
        "webauthn_rp_id = https://example.org\n",
        "webauthn_rp_id = Example.org\n",
        "webauthn_rp_id = example.org\n"
        "webauthn_origins = https://evil.example\n",
        "webauthn_rp_id = example.org\n"
        "webauthn_origins = https://notexample.org\n",
        "webauthn_origins = https://example.org\n",
        "webauthn_rp_id = example.org\nwebauthn_origins = example.org\n",
    };
    size_t         i;

    if (mkdtemp(dir) == NULL) {
        SKIP("mkdtemp");
    }

    snprintf(path, sizeof(path), "%s/g.conf", dir);

#define LOAD(text)                                                           \
    (f = fopen(path, "w"), fputs("secret_file = s\n", f), fputs(text, f),    \
     fclose(f), memset(&err, 0, sizeof(err)), c = NULL,                      \
     ac_config_load(path, &c, &err))

    rc = LOAD("");
    CHECK_INT(rc, AC_OK);
    if (c != NULL) {
        CHECK(c->webauthn_rp_id == NULL);
        CHECK_INT(c->nwebauthn_origins, 0);
        ac_config_free(c);
    }

    rc = LOAD("webauthn_rp_id = example.org\n");
    CHECK_INT(rc, AC_OK);
    if (c != NULL) {
        CHECK_STR(c->webauthn_rp_id, "example.org");
        CHECK_INT(c->nwebauthn_origins, 1);
        CHECK_STR(c->webauthn_origins[0], "https://example.org");
        ac_config_free(c);
    }

    rc = LOAD("webauthn_rp_id = localhost\n"
              "webauthn_origins = http://localhost:8080, "
              "HTTPS://Login.Localhost:443/\n");
    CHECK_INT(rc, AC_OK);
    if (c != NULL) {
        CHECK_INT(c->nwebauthn_origins, 2);
        CHECK_STR(c->webauthn_origins[0], "http://localhost:8080");
        CHECK_STR(c->webauthn_origins[1], "https://login.localhost");
        ac_config_free(c);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = LOAD(bad[i]);
        CHECK_INT(rc, AC_ERR_CONFIG);
        CHECK(c == NULL);
        CHECK(strstr(err.msg, "webauthn_") != NULL);
    }

#undef LOAD

    unlink(path);
    rmdir(dir);
}


/* ------------------------------------------------- against real Redis */

static const unsigned char  secret[32] = "0123456789abcdef0123456789abcdef";
static const char           account_id[] = "abcdefghijklmnop";


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


static int64_t
run_int(redisContext *c, ac_cmd_t *cmd)
{
    int64_t      v;
    redisReply  *r;

    r = run(c, cmd);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return -100;
    }

    v = r->integer;
    freeReplyObject(r);
    return v;
}


/* the account's "pk" field, -1 when it has none */
static long long
pk_count(redisContext *c)
{
    long long    n;
    redisReply  *r;

    r = redisCommand(c, "HGET t:acct:%s pk", account_id);
    n = (r && r->type == REDIS_REPLY_STRING) ? atoll(r->str) : -1;
    freeReplyObject(r);
    return n;
}


static void
test_store(redisContext *c, ac_keys_t *keys)
{
    size_t         n;
    uint32_t       count;
    ac_cmd_t       cmd;
    ac_buf_t       b;
    redisReply    *r;
    ac_wa_why_t    why;
    ac_wa_cred_t   creds[3];
    ac_passkey_t   pk[AC_WA_PASSKEYS_MAX], one;
    unsigned char  ch[AC_WA_CHALLENGE_LEN];
    char           account[AC_ID_LEN + 1], handle[AC_DIGEST_LEN + 1];
    char           sessd[] = "sessdigestsessdigest00";
    int            i;

    setup(rp_localhost, origin_ok);
    cfg.key_prefix = (char *) "t:";

    for (i = 0; i < 3; i++) {
        CHECK_INT(reg(&vecs[i], &creds[i], &why), AC_OK);
    }

    freeReplyObject(redisCommand(c, "HSET t:acct:%s email a@example.com "
                                 "created 1", account_id));

    /* challenges: single use, bound to what they were made for */
    CHECK_INT(ac_wa_client_challenge(vecs[0].a1_cdj, strlen(vecs[0].a1_cdj),
                                     ch), AC_OK);
    CHECK(memcmp(ch, ch_a1, sizeof(ch)) == 0);
    CHECK_INT(ac_cmd_passkey_challenge(&cmd, &cfg, keys, ch, "reg", sessd),
              AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    r = redisCommand(c, "KEYS t:wac:*");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_passkey_challenge_take(&cmd, &cfg, keys, ch), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_challenge_reply(r, "2fa", sessd), AC_ERR_MISMATCH);
    freeReplyObject(r);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_challenge_reply(r, "reg", sessd), AC_ERR_REPLAY);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_passkey_challenge(&cmd, &cfg, keys, ch, "reg", sessd),
              AC_OK);
    freeReplyObject(run(c, &cmd));
    CHECK_INT(ac_cmd_passkey_challenge_take(&cmd, &cfg, keys, ch), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_challenge_reply(r, "reg", sessd), AC_OK);
    freeReplyObject(r);

    /* passkeys */
    CHECK_INT(ac_cmd_passkey_add(&cmd, &cfg, keys, account_id, &creds[0],
                                 "Laptop", 100), AC_OK);
    CHECK_INT(run_int(c, &cmd), 1);
    CHECK_INT(run_int(c, &cmd), -1);
    CHECK_INT(ac_cmd_passkey_add(&cmd, &cfg, keys, "nobodynobodynobo",
                                 &creds[1], "x", 100), AC_OK);
    CHECK_INT(run_int(c, &cmd), 0);
    CHECK_INT(ac_cmd_passkey_add(&cmd, &cfg, keys, account_id, &creds[1],
                                 "Phone \"1\"", 200), AC_OK);
    CHECK_INT(run_int(c, &cmd), 1);

    /* the account counts them: a passkey is a second factor */
    CHECK_INT(pk_count(c), 2);

    CHECK_INT(ac_cmd_passkey_list(&cmd, &cfg, account_id), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_list_reply(r, pk, AC_WA_PASSKEYS_MAX, &n), AC_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(pk[0].name, "Laptop");
        CHECK_STR(pk[1].name, "Phone \"1\"");
        CHECK_INT(pk[1].cred.alg, AC_WA_EDDSA);
        CHECK_INT(pk[0].cred.pk_len, creds[0].pk_len);
        CHECK(memcmp(pk[0].cred.pk, creds[0].pk, creds[0].pk_len) == 0);
        CHECK_INT(pk[0].cred.sign_count, 1);
        CHECK_INT(pk[0].created, 100);
    }

    /* the export names them, never their key or id */
    ac_buf_init(&b);
    CHECK_INT(ac_passkey_export(&b, r), AC_OK);
    CHECK(b.data && strstr(b.data, "\"name\":\"Laptop\"") != NULL);
    CHECK(b.data && strstr(b.data, "\"algorithm\":\"EdDSA\"") != NULL);
    CHECK(b.data && strstr(b.data, "\"pk\"") == NULL);
    CHECK(b.data && strstr(b.data, VEC_ES256_ID) == NULL);
    ac_buf_free(&b);
    freeReplyObject(r);

    /* passwordless: a credential id finds its account */
    CHECK_INT(ac_passkey_handle(keys, creds[0].id, creds[0].id_len, handle),
              AC_OK);
    CHECK_INT(ac_cmd_passkey_lookup(&cmd, &cfg, handle), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_lookup_reply(r, account, &one), AC_OK);
    freeReplyObject(r);
    CHECK_STR(account, account_id);
    CHECK_STR(one.name, "Laptop");

    CHECK_INT(get(&one.cred, ch_a1, 1, vecs[0].a1_ad, vecs[0].a1_cdj,
                  vecs[0].a1_sig, &count, &why), AC_OK);

    /* counters only grow, atomically */
    CHECK_INT(ac_cmd_passkey_counter(&cmd, &cfg, account_id, handle, count,
                                     300), AC_OK);
    CHECK_INT(run_int(c, &cmd), 1);
    CHECK_INT(run_int(c, &cmd), -1);
    CHECK_INT(ac_cmd_passkey_counter(&cmd, &cfg, account_id, handle, 1, 300),
              AC_OK);
    CHECK_INT(run_int(c, &cmd), -1);
    CHECK_INT(ac_cmd_passkey_lookup(&cmd, &cfg, handle), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_lookup_reply(r, account, &one), AC_OK);
    freeReplyObject(r);
    CHECK_INT(one.cred.sign_count, 2);
    CHECK_INT(one.last_used, 300);

    /* the 2fa page's read of a pending state: no try taken */
    freeReplyObject(redisCommand(c, "HSET t:pending:%s a %s g 0 n 0",
                                 sessd, account_id));
    CHECK_INT(ac_cmd_passkey_pending(&cmd, &cfg, sessd), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        ac_account_t  a;

        CHECK_STR(r->element[0]->str, account_id);
        CHECK_INT(ac_account_parse(r->element[1], account_id, &a), AC_OK);
        CHECK_INT(a.passkeys, 2);
        CHECK(AC_ACCOUNT_SECOND(&a));
        CHECK_INT(ac_passkey_list_reply(r->element[2], pk,
                                        AC_WA_PASSKEYS_MAX, &n), AC_OK);
        CHECK_INT(n, 2);
    }
    freeReplyObject(r);
    r = redisCommand(c, "HGET t:pending:%s n", sessd);
    CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "0") == 0);
    freeReplyObject(r);

    /* a stale one (the account's generation moved on) is gone */
    freeReplyObject(redisCommand(c, "HSET t:acct:%s g 1", account_id));
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 0);
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS t:pending:%s", sessd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);

    /* removal */
    CHECK_INT(ac_cmd_passkey_remove(&cmd, &cfg, account_id, handle), AC_OK);
    CHECK_INT(run_int(c, &cmd), 1);
    CHECK_INT(pk_count(c), 1);
    CHECK_INT(run_int(c, &cmd), 0);
    CHECK_INT(pk_count(c), 1);
    CHECK_INT(ac_passkey_handle(keys, creds[1].id, creds[1].id_len, handle),
              AC_OK);
    CHECK_INT(ac_cmd_passkey_remove(&cmd, &cfg, account_id, handle), AC_OK);
    CHECK_INT(run_int(c, &cmd), 1);
    CHECK_INT(pk_count(c), -1);
    CHECK_INT(ac_cmd_passkey_lookup(&cmd, &cfg, handle), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_passkey_lookup_reply(r, account, &one), AC_ERR_NOT_FOUND);
    freeReplyObject(r);

    /* erasure removes the rest */
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, account_id,
                                   "a@example.com"), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_account_erase_reply(r, NULL), AC_OK);
    freeReplyObject(r);
    r = redisCommand(c, "KEYS t:*");
    CHECK(r && r->type == REDIS_REPLY_ARRAY);
    for (n = 0; r && n < r->elements; n++) {
        printf("    left: %s\n", r->element[n]->str);
        CHECK(strstr(r->element[n]->str, "cred:") == NULL);
        CHECK(strstr(r->element[n]->str, ":pk") == NULL);
    }
    freeReplyObject(r);
}


TEST(test_redis)
{
    redis_fixture_t  rf;
    redisContext    *c;
    ac_keys_t       *keys;

    if (redis_fixture_start(&rf) != 0) {
        SKIP("no redis-server");
    }

    c = redis_fixture_connect(&rf);
    if (c == NULL
        || ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK)
    {
        redis_fixture_stop(&rf);
        CHECK(0);
        return;
    }

    test_store(c, keys);

    ac_keys_free(keys);
    redisFree(c);
    redis_fixture_stop(&rf);
}


int
main(void)
{
    memset(ch_reg, 1, sizeof(ch_reg));
    memset(ch_a1, 2, sizeof(ch_a1));
    memset(ch_a2, 3, sizeof(ch_a2));

    RUN(test_register_each_algorithm);
    RUN(test_sign_in_each_algorithm);
    RUN(test_bad_signature);
    RUN(test_rp_id_and_origin);
    RUN(test_challenge_and_type);
    RUN(test_presence_and_verification);
    RUN(test_malformed);
    RUN(test_config_keys);
    RUN(test_redis);

    return CHECK_DONE();
}
