/*
 * The self-service commands against a real redis-server: the account
 * page's one read, a session's own fields, TOTP turned on and off in one
 * step each.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "check.h"
#include "redis_fixture.h"


static ac_config_t    cfg;
static redisContext  *rc;

#define run(cmd)      redis_fixture_run(rc, cmd)
#define run_int(cmd)  redis_fixture_int(rc, cmd)

#define ID      "ssssssssssssssss"
#define DIGEST  "0123456789abcdef012345"


static void
raw(const char *fmt, const char *arg)
{
    redisReply  *r;

    r = redisCommand(rc, fmt, arg);
    if (r) {
        freeReplyObject(r);
    }
}


TEST(test_account_page_reads_everything_at_once)
{
    ac_cmd_t     cmd;
    redisReply  *r;

    raw("FLUSHALL", NULL);
    raw("HSET u:acct:%s email a@b.c s:gone 5", ID);
    raw("HSET u:acct:" ID " s:%s 2|" ID "|user|pwd||10|4000000000|"
        "3999999000|1700000000|192.0.2.1|Firefox|pending|", DIGEST);
    raw("HSET u:acct:" ID " s:idle 2|" ID "|user|pwd||10|4000000000|20|"
        "|192.0.2.1|Firefox||", NULL);
    raw("SADD u:acct:%s:rc x y z", ID);

    CHECK_INT(ac_cmd_account_page(&cmd, &cfg, DIGEST, ID), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 5);
    if (r == NULL || r->elements != 5) {
        return;
    }

    CHECK_STR(r->element[0]->str, "1700000000");
    CHECK_STR(r->element[1]->str, "pending");
    CHECK_INT(r->element[2]->elements, 8);          /* 4 fields */
    CHECK_INT(r->element[3]->integer, 3);
    /* the live session only: digest, device, ip, created, last seen */
    CHECK_INT(r->element[4]->elements, 5);
    CHECK_STR(r->element[4]->element[0]->str, DIGEST);
    CHECK_STR(r->element[4]->element[1]->str, "Firefox");
    CHECK_STR(r->element[4]->element[2]->str, "192.0.2.1");
    CHECK_STR(r->element[4]->element[3]->str, "10");
    CHECK_STR(r->element[4]->element[4]->str, "3999999000");
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_page(&cmd, &cfg, DIGEST, NULL), AC_ERR_INVALID);
}


TEST(test_session_field_only_while_the_session_lives)
{
    ac_cmd_t     cmd;
    redisReply  *r;

    raw("FLUSHALL", NULL);
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, ID, DIGEST, "k", "x"),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    r = redisCommand(rc, "EXISTS u:acct:" ID);
    CHECK(r != NULL && r->integer == 0);
    freeReplyObject(r);

    raw("HSET u:acct:" ID " email a@b.c s:%s 2|" ID "|user|pwd||10|"
        "2000000000|20||||old|", DIGEST);
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, ID, DIGEST, "k", ""), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    r = redisCommand(rc, "HGET u:acct:" ID " s:" DIGEST);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, "2|" ID "|user|pwd||10|2000000000|20|||||")
             == 0);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, ID, DIGEST, "kk", "x"),
              AC_ERR_INVALID);
}


TEST(test_totp_on_and_off_in_one_step)
{
    int          i;
    ac_cmd_t     cmd;
    redisReply  *r;
    char         digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];

    raw("FLUSHALL", NULL);

    for (i = 0; i < AC_RECOVERY_COUNT; i++) {
        memset(digests[i], 'a' + i, AC_DIGEST_LEN);
        digests[i][AC_DIGEST_LEN] = '\0';
    }

    /* no account: nothing written */
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, ID, "v1.sealed", 42, digests),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    r = redisCommand(rc, "EXISTS u:acct:" ID " u:acct:" ID ":rc");
    CHECK(r != NULL && r->integer == 0);
    freeReplyObject(r);

    raw("HSET u:acct:%s email a@b.c", ID);
    raw("SADD u:acct:%s:rc old", ID);
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, ID, "v1.sealed", 42, digests),
              AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    r = redisCommand(rc, "HMGET u:acct:" ID " totp totp_step");
    CHECK_STR(r->element[0]->str, "v1.sealed");
    CHECK_STR(r->element[1]->str, "42");
    freeReplyObject(r);
    r = redisCommand(rc, "SISMEMBER u:acct:" ID ":rc old");
    CHECK(r != NULL && r->integer == 0);
    freeReplyObject(r);
    r = redisCommand(rc, "SCARD u:acct:" ID ":rc");
    CHECK(r != NULL && r->integer == AC_RECOVERY_COUNT);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_totp_disable(&cmd, &cfg, ID), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    r = redisCommand(rc, "HMGET u:acct:" ID " totp totp_step");
    CHECK_STR(r->element[0]->str, "");
    CHECK_STR(r->element[1]->str, "0");
    freeReplyObject(r);
    r = redisCommand(rc, "EXISTS u:acct:" ID ":rc");
    CHECK(r != NULL && r->integer == 0);
    freeReplyObject(r);

    digests[3][0] = '\0';
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, ID, "v1.sealed", 1, digests),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, ID, "", 1, digests),
              AC_ERR_INVALID);
}


int
main(void)
{
    redis_fixture_t  rf;

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "u:";

    if (redis_fixture_start(&rf) != 0) {
        printf("FAIL redis-server did not start\n");
        return 1;
    }

    rc = redis_fixture_connect(&rf);
    if (rc == NULL) {
        printf("FAIL cannot connect to redis-server\n");
        redis_fixture_stop(&rf);
        return 1;
    }

    RUN(test_account_page_reads_everything_at_once);
    RUN(test_session_field_only_while_the_session_lives);
    RUN(test_totp_on_and_off_in_one_step);

    redisFree(rc);
    redis_fixture_stop(&rf);

    return CHECK_DONE();
}
