/*
 * Partner trust (link.c, and the SSO variant of session creation)
 * against a real redis-server: a partner's session is written only for
 * a linked account of an existing partner, never with security or
 * admin; unlinking and removing the partner end exactly its sessions;
 * pending links are read, counted and used up.
 */

#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static ac_config_t    cfg;
static ac_keys_t     *keys;
static redisContext  *rc_ctx;

#define run(cmd)      redis_fixture_run(rc_ctx, cmd)
#define run_int(cmd)  redis_fixture_int(rc_ctx, cmd)

static const char  acct_id[] = "aaaaaaaaaaaaaaaa";


static int
run_type(ac_cmd_t *cmd)
{
    int          t;
    redisReply  *r;

    r = run(cmd);
    if (r == NULL) {
        return -1;
    }

    t = r->type;
    freeReplyObject(r);

    return t;
}


static void
session_of(ac_session_t *s, const char *partner)
{
    memset(s, 0, sizeof(ac_session_t));
    strcpy(s->account, acct_id);
    strcpy(s->email, "op@example.org");
    s->roles = AC_ROLE_USER | AC_ROLE_SECURITY | AC_ROLE_ADMIN;
    s->amr = partner[0] ? AC_AMR_SSO : AC_AMR_PWD;
    strcpy(s->partner, partner);
    s->created = 1700000000;
    s->expires = 4000000000;
    s->last_seen = s->created;
}


static int
exists(const char *key)
{
    int          n;
    redisReply  *r;

    r = redisCommand(rc_ctx, "EXISTS %s", key);
    n = (r != NULL && r->type == REDIS_REPLY_INTEGER) ? (int) r->integer
                                                      : -1;
    if (r != NULL) {
        freeReplyObject(r);
    }

    return n;
}


/* 1 when the account has the session "d" (its field "s:d") */
static int
sess_exists(const char *d)
{
    int          n;
    redisReply  *r;

    r = redisCommand(rc_ctx, "HEXISTS test:acct:%s s:%s", acct_id, d);
    n = (r != NULL && r->type == REDIS_REPLY_INTEGER) ? (int) r->integer
                                                      : -1;
    if (r != NULL) {
        freeReplyObject(r);
    }

    return n;
}


TEST(test_sso_sessions)
{
    ac_cmd_t       cmd;
    ac_account_t   a;
    ac_partner_t   p;
    ac_session_t   s;
    redisReply    *r;
    int64_t        n;
    char           scratch[AC_SEALED_LEN(AC_PARTNER_KEY_MAX) + 1];
    static const char  secret[] = "Xk3v9Qw2Lr8Tz5Np1Jm7Hb4Gc6Fd0Sa-";

    memset(&a, 0, sizeof(a));
    strcpy(a.id, acct_id);
    strcpy(a.email, "op@example.org");
    a.roles = AC_ROLE_USER | AC_ROLE_ADMIN;
    a.created = 1700000000;
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    memset(&p, 0, sizeof(p));
    strcpy(p.id, "acme");
    p.alg = AC_ALG_HS256;
    memcpy(p.key, secret, 32);
    p.keylen = 32;
    p.created = 1700000000;
    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, scratch,
                                 sizeof(scratch)), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* not linked: nothing written */
    session_of(&s, "acme");
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddA",
                                    &s), AC_OK);
    CHECK_INT(run_type(&cmd), REDIS_REPLY_ERROR);
    CHECK_INT(sess_exists("dddddddddddddddddddddA"), 0);

    CHECK_INT(ac_cmd_partner_linked(&cmd, &cfg, acct_id, "acme"), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_partner_linked(&cmd, &cfg, acct_id, "gone"), AC_OK);
    CHECK_INT(run_int(&cmd), -1);
    CHECK_INT(ac_cmd_partner_linked(&cmd, &cfg, acct_id, "../x"),
              AC_ERR_INVALID);

    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, acct_id, "acme", 1700000001),
              AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_partner_linked(&cmd, &cfg, acct_id, "acme"), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* linked: written, indexed, without security and admin */
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddA",
                                    &s), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddB",
                                    &s), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    session_of(&s, "");
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddC",
                                    &s), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, acct_id,
                                 "dddddddddddddddddddddA"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_session_parse(r, &s), AC_OK);
    CHECK_INT(s.roles, AC_ROLE_USER);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, acct_id,
                                 "dddddddddddddddddddddC"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_session_parse(r, &s), AC_OK);
    CHECK_INT(s.roles, AC_ROLE_USER | AC_ROLE_SECURITY | AC_ROLE_ADMIN);
    if (r != NULL) {
        freeReplyObject(r);
    }

    r = redisCommand(rc_ctx, "ZCARD test:partner:acme:sess");
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 2);
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* the partner's index names the account of each session */
    r = redisCommand(rc_ctx, "ZSCORE test:partner:acme:sess %s:%s", acct_id,
                     "dddddddddddddddddddddA");
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING);
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* a session written before the rule loses them when read */
    r = redisCommand(rc_ctx, "HSET test:acct:%s s:dddddddddddddddddddddB %s",
                     acct_id, "2|aaaaaaaaaaaaaaaa|user,admin|sso|acme|1|"
                     "4102444800|1|||||");
    if (r != NULL) {
        freeReplyObject(r);
    }
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, acct_id,
                                 "dddddddddddddddddddddB"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_session_parse(r, &s), AC_OK);
    CHECK_INT(s.roles, AC_ROLE_USER);
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* unlink: the link and acme's sessions go, the password one stays */
    CHECK_INT(ac_cmd_partner_unlink(&cmd, &cfg, acct_id, "acme"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_partner_unlink_reply(r, &n), AC_OK);
    CHECK_INT(n, 2);
    if (r != NULL) {
        freeReplyObject(r);
    }
    CHECK_INT(sess_exists("dddddddddddddddddddddA"), 0);
    CHECK_INT(sess_exists("dddddddddddddddddddddB"), 0);
    CHECK_INT(sess_exists("dddddddddddddddddddddC"), 1);
    r = run(&cmd);
    CHECK_INT(ac_partner_unlink_reply(r, &n), AC_ERR_NOT_FOUND);
    CHECK_INT(n, 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* remove: acme's sessions end, the partner's index goes */
    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, acct_id, "acme", 1700000002),
              AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    session_of(&s, "acme");
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddD",
                                    &s), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_partner_remove(&cmd, &cfg, "acme"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_partner_remove_reply(r, &n), AC_OK);
    CHECK_INT(n, 1);
    if (r != NULL) {
        freeReplyObject(r);
    }
    CHECK_INT(sess_exists("dddddddddddddddddddddD"), 0);
    CHECK_INT(sess_exists("dddddddddddddddddddddC"), 1);
    CHECK_INT(exists("test:partner:acme:sess"), 0);

    /* a removed partner opens nothing, even for a linked account */
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "dddddddddddddddddddddE",
                                    &s), AC_OK);
    CHECK_INT(run_type(&cmd), REDIS_REPLY_ERROR);
    CHECK_INT(sess_exists("dddddddddddddddddddddE"), 0);
}


TEST(test_pending_links)
{
    ac_cmd_t            cmd;
    redisReply         *r;
    ac_link_pending_t  *lp;

    lp = calloc(1, sizeof(ac_link_pending_t));
    CHECK(lp != NULL);
    if (lp == NULL) {
        return;
    }

    cfg.pending_ttl = 300;

    CHECK_INT(ac_cmd_link_pending_get(&cmd, &cfg, "pppppppppppppppppppppA"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_link_pending_parse(r, lp), AC_ERR_NOT_FOUND);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_link_pending_create(&cmd, &cfg,
                                         "pppppppppppppppppppppA", acct_id,
                                         "../x", "/"), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_link_pending_create(&cmd, &cfg,
                                         "pppppppppppppppppppppA", acct_id,
                                         "beta", "/app/"), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    CHECK_INT(ac_cmd_link_pending_get(&cmd, &cfg, "pppppppppppppppppppppA"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_link_pending_parse(r, lp), AC_OK);
    CHECK_STR(lp->partner, "beta");
    CHECK_STR(lp->return_to, "/app/");
    CHECK_STR(lp->account.id, acct_id);
    CHECK_STR(lp->account.email, "op@example.org");
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_link_pending_fail(&cmd, &cfg, "pppppppppppppppppppppA",
                                       2), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(run_int(&cmd), 2);
    CHECK_INT(run_int(&cmd), -1);
    CHECK_INT(exists("test:link:pppppppppppppppppppppA"), 0);

    CHECK_INT(ac_cmd_pending_link_mark(&cmd, &cfg, "pppppppppppppppppppppA"),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);

    free(lp);
}


int
main(void)
{
    int               status;
    unsigned char     secret[AC_SECRET_MIN];
    redis_fixture_t   rf;

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "test:";
    cfg.session_idle = 1800;

    memset(secret, 0x42, sizeof(secret));
    if (ac_init() != AC_OK
        || ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK)
    {
        printf("cannot derive keys\n");
        return 1;
    }

    if (redis_fixture_start(&rf) != 0) {
        printf("FAIL redis-server did not start\n");
        check_failed++;

    } else {
        rc_ctx = redis_fixture_connect(&rf);
        if (rc_ctx == NULL) {
            printf("FAIL cannot connect to redis-server\n");
            check_failed++;

        } else {
            RUN(test_sso_sessions);
            RUN(test_pending_links);
            redisFree(rc_ctx);
        }

        redis_fixture_stop(&rf);
    }

    ac_keys_free(keys);
    ac_done();

    status = CHECK_DONE();
    return status;
}
