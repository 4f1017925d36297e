/*
 * Partner keys: decoded once from PEM or a secret, shared by threads,
 * and the replay guard of assertion ids against a real redis-server.
 */

#include "assertion_fixture.h"
#include "redis_fixture.h"


TEST(test_partner_key)
{
    ac_partner_t       p;
    ac_partner_key_t  *k;
    ac_error_t         err;

    CHECK_STR(ac_partner_key_id(k_ec), "acme");
    CHECK_INT(ac_partner_key_alg(k_rsa), AC_ALG_RS256);
    CHECK_INT(ac_partner_key_same(k_ec, &p_ec), 1);
    CHECK_INT(ac_partner_key_same(k_hs, &p_hs), 1);
    CHECK_INT(ac_partner_key_same(k_ec, &p_rsa), 0);

    /* a rotated key: the cached object is stale */
    p = p_ec;
    p.keylen = strlen(ec_other_pem);
    memcpy(p.key, ec_other_pem, p.keylen);
    CHECK_INT(ac_partner_key_same(k_ec, &p), 0);

    /* an RSA key registered as ES256, a none partner, a bad id */
    p = p_ec;
    p.keylen = strlen(rsa_pem);
    memcpy(p.key, rsa_pem, p.keylen);
    k = NULL;
    CHECK_INT(ac_partner_key_new(&p, &k, &err), AC_ERR_KEY);
    CHECK(k == NULL);

    p = p_ec;
    p.alg = AC_ALG_NONE;
    CHECK(ac_partner_key_new(&p, &k, &err) != AC_OK);
    CHECK(k == NULL);

    p = p_ec;
    strcpy(p.id, "Acme");
    CHECK_INT(ac_partner_key_new(&p, &k, &err), AC_ERR_INVALID);

    CHECK_INT(ac_partner_key_new(NULL, &k, NULL), AC_ERR_INVALID);
    ac_partner_key_free(NULL);
}


typedef struct {
    const ac_partner_key_t  *key;
    const char              *token;
    int                      ok;
} thread_arg_t;


static void *
verify_thread(void *data)
{
    int             i;
    thread_arg_t   *arg;
    ac_assertion_t  a;

    arg = data;

    for (i = 0; i < 100; i++) {
        if (verify(arg->key, arg->token, AC_ASSERTION_SSO, NOW, &a)
            == AC_OK)
        {
            arg->ok++;
        }
    }

    return NULL;
}


TEST(test_shared_key_threads)
{
    int           i;
    char          pl[3][512];
    pthread_t     th[6];
    thread_arg_t  arg[6];

    claims(pl[0], sizeof(pl[0]), "acme", NOW, NOW + 60, "");
    claims(pl[1], sizeof(pl[1]), "rsa-corp", NOW, NOW + 60, "");
    claims(pl[2], sizeof(pl[2]), "hs.corp", NOW, NOW + 60, "");

    for (i = 0; i < 6; i++) {
        arg[i].ok = 0;

        switch (i % 3) {
        case 0:
            arg[i].key = k_ec;
            arg[i].token = jws("{\"alg\":\"ES256\"}", pl[0], SIG_ES256,
                               ec_key, 0);
            break;
        case 1:
            arg[i].key = k_rsa;
            arg[i].token = jws("{\"alg\":\"RS256\"}", pl[1], SIG_RS256,
                               rsa_key, 0);
            break;
        default:
            arg[i].key = k_hs;
            arg[i].token = jws("{\"alg\":\"HS256\"}", pl[2], SIG_HS256,
                               hs_secret, strlen(hs_secret));
        }
    }

    for (i = 0; i < 6; i++) {
        CHECK_INT(pthread_create(&th[i], NULL, verify_thread, &arg[i]), 0);
    }

    for (i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(arg[i].ok, 100);
        free((char *) arg[i].token);
    }
}


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


TEST(test_jti_claim_redis)
{
    char             key[AC_KEY_MAX];
    int64_t          ttl;
    ac_cmd_t         cmd;
    ac_keys_t       *keys;
    redisReply      *r;
    redisContext    *c;
    unsigned char    secret[AC_SECRET_MIN];
    redis_fixture_t  rf;

    memset(secret, 0x5a, sizeof(secret));
    secret[0] = 1;
    CHECK_INT(ac_keys_from_secret(secret, sizeof(secret), &keys), AC_OK);

    /* the command itself: key shape, no raw jti */
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti-0000000001",
                               NOW + 100, NOW), AC_OK);
    CHECK_INT(cmd.argc, 6);
    CHECK_STR(cmd.argv[0], "SET");
    CHECK(strncmp(cmd.argv[1], "guichet:jti:acme:", 17) == 0);
    CHECK_INT(cmd.argvlen[1], 17 + AC_DIGEST_LEN);
    CHECK(strstr(cmd.argv[1], "jti-0000000001") == NULL);
    CHECK_STR(cmd.argv[3], "NX");
    CHECK_STR(cmd.argv[4], "EX");
    CHECK_STR(cmd.argv[5], "160");
    memcpy(key, cmd.argv[1], cmd.argvlen[1]);
    key[cmd.argvlen[1]] = '\0';

    /* an expired exp still gets a positive TTL */
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti-0000000001",
                               NOW - 1000, NOW), AC_OK);
    CHECK_STR(cmd.argv[5], "1");

    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "short", NOW, NOW),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "a:b", "jti-0000000001",
                               NOW, NOW), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme", "jti 000000001",
                               NOW, NOW), AC_ERR_INVALID);

    CHECK_INT(ac_jti_claim_parse(NULL), AC_ERR_REDIS);

    if (redis_fixture_start(&rf) != 0) {
        CHECK(!"redis-server did not start");
        ac_keys_free(keys);
        return;
    }

    c = redis_fixture_connect(&rf);
    CHECK(c != NULL);

    if (c != NULL) {
        CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "acme",
                                   "jti-0000000001", NOW + 100, NOW), AC_OK);
        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_OK);
        freeReplyObject(r);

        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_ERR_REPLAY);
        freeReplyObject(r);

        r = redisCommand(c, "TTL %s", key);
        CHECK(r != NULL && ac_reply_integer(r, &ttl) == AC_OK);
        CHECK(ttl > 150 && ttl <= 160);
        freeReplyObject(r);

        /* the same jti from another partner is its own */
        CHECK_INT(ac_cmd_jti_claim(&cmd, &cfg, keys, "rsa-corp",
                                   "jti-0000000001", NOW + 100, NOW), AC_OK);
        r = run(c, &cmd);
        CHECK_INT(ac_jti_claim_parse(r), AC_OK);
        freeReplyObject(r);

        /* an error reply is not a fresh claim */
        r = redisCommand(c, "SET %s x EX -5", key);
        CHECK(r != NULL && r->type == REDIS_REPLY_ERROR);
        CHECK_INT(ac_jti_claim_parse(r), AC_ERR_REDIS);
        freeReplyObject(r);

        redisFree(c);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        return 2;
    }

    setup();

    RUN(test_partner_key);
    RUN(test_shared_key_threads);
    RUN(test_jti_claim_redis);

    teardown();

    return CHECK_DONE();
}
