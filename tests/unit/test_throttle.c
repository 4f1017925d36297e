/*
 * Throttling: the delay schedule, the counter keys, and the check / fail
 * / reset scripts run against a real redis-server with an injected
 * clock.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "throttle-test-secret-0123456789a";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;
static int               have_redis;

#define T0  1700000000


static redisReply *
run(ac_cmd_t *cmd)
{
    return redisCommandArgv(rc, cmd->argc, cmd->argv, cmd->argvlen);
}


/* Runs a check or fail script at "now"; -1 on any error. */

static int64_t
seconds(int fail, const ac_throttle_t *t, int64_t now)
{
    int64_t      s;
    ac_cmd_t     cmd;
    redisReply  *r;

    if (fail) {
        if (ac_cmd_throttle_fail(&cmd, &cfg, t, now) != AC_OK) {
            return -1;
        }

    } else if (ac_cmd_throttle_check(&cmd, t, now) != AC_OK) {
        return -1;
    }

    r = run(&cmd);
    if (r == NULL) {
        return -1;
    }

    if (ac_throttle_parse(r, &s) != AC_OK) {
        s = -1;
    }

    freeReplyObject(r);

    return s;
}


static void
flush(void)
{
    redisReply  *r;

    r = redisCommand(rc, "FLUSHALL");
    if (r) {
        freeReplyObject(r);
    }
}


TEST(test_delay_schedule)
{
    CHECK_INT(ac_throttle_delay(0, 5, 900), 0);
    CHECK_INT(ac_throttle_delay(5, 5, 900), 0);
    CHECK_INT(ac_throttle_delay(6, 5, 900), 1);
    CHECK_INT(ac_throttle_delay(7, 5, 900), 2);
    CHECK_INT(ac_throttle_delay(8, 5, 900), 4);
    CHECK_INT(ac_throttle_delay(15, 5, 900), 512);
    CHECK_INT(ac_throttle_delay(16, 5, 900), 900);
    CHECK_INT(ac_throttle_delay(1000000, 5, 900), 900);
    CHECK_INT(ac_throttle_delay(INT64_MAX, 0, 900), 900);
    CHECK_INT(ac_throttle_delay(1, 0, 0), 0);
}


TEST(test_keys)
{
    ac_throttle_t  a, b, c, d;

    CHECK_INT(ac_throttle_keys(&cfg, keys, "Alice@Example.COM", 17,
                               "192.0.2.1", &a), AC_OK);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "alice@example.com", 17,
                               "192.0.2.2", &b), AC_OK);

    /* one identifier, however typed; one counter per address */
    CHECK_STR(a.id, b.id);
    CHECK(strcmp(a.ip, b.ip) != 0);
    CHECK(strncmp(a.id, "tt:thr:id:", 10) == 0);
    CHECK(strncmp(a.ip, "tt:thr:ip:", 10) == 0);
    CHECK_INT(strlen(a.id), 10 + AC_DIGEST_LEN);

    /* neither the email nor the address appears in a key */
    CHECK(strstr(a.id, "alice") == NULL);
    CHECK(strstr(a.ip, "192") == NULL);

    /* not an email: counted under the bytes as typed */
    CHECK_INT(ac_throttle_keys(&cfg, keys, "not an email", 12, "192.0.2.1",
                               &c), AC_OK);
    CHECK(strcmp(c.id, a.id) != 0);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "", 0, "192.0.2.1", &d), AC_OK);
    CHECK(strcmp(d.id, c.id) != 0);

    CHECK_INT(ac_throttle_keys(&cfg, keys, NULL, 0, "192.0.2.1", &d),
              AC_ERR_INVALID);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "a@b.c", 5, NULL, &d),
              AC_ERR_INVALID);
}


TEST(test_bad_arguments)
{
    ac_cmd_t       cmd;
    ac_throttle_t  t;

    memset(&t, 0, sizeof(t));
    CHECK_INT(ac_cmd_throttle_check(&cmd, &t, T0), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_fail(&cmd, &cfg, &t, T0), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_reset(&cmd, &t), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_check(&cmd, NULL, T0), AC_ERR_INVALID);
}


TEST(test_identifier_delays_grow_and_lift)
{
    int            i;
    ac_throttle_t  t;
    redisReply    *r;

    if (!have_redis) {
        CHECK(!"redis-server did not start");
        return;
    }

    flush();
    CHECK_INT(ac_throttle_keys(&cfg, keys, "bob@example.com", 15,
                               "198.51.100.7", &t), AC_OK);

    CHECK_INT(seconds(0, &t, T0), 0);

    /* throttle_free = 3 failures cost nothing */
    for (i = 0; i < 3; i++) {
        CHECK_INT(seconds(1, &t, T0), 0);
        CHECK_INT(seconds(0, &t, T0), 0);
    }

    /* a delay of d seconds ends at the start of second now + d + 1, so
     * that it lasts d seconds at least, wherever in "now" it began */
    CHECK_INT(seconds(1, &t, T0), 2);
    CHECK_INT(seconds(0, &t, T0), 2);
    CHECK_INT(seconds(0, &t, T0 + 1), 1);
    CHECK_INT(seconds(0, &t, T0 + 2), 0);

    CHECK_INT(seconds(1, &t, T0 + 2), 3);
    CHECK_INT(seconds(0, &t, T0 + 3), 2);
    CHECK_INT(seconds(1, &t, T0 + 5), 5);
    CHECK_INT(seconds(1, &t, T0 + 10), 9);

    /* capped at throttle_max_delay = 10 */
    CHECK_INT(seconds(1, &t, T0 + 19), 11);
    CHECK_INT(seconds(1, &t, T0 + 30), 11);
    CHECK_INT(seconds(0, &t, T0 + 36), 5);

    /* the counter lives throttle_window (60 s) after the last failure */
    r = redisCommand(rc, "TTL %s", t.id);
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER
          && r->integer > 50 && r->integer <= 60);
    if (r) {
        freeReplyObject(r);
    }
}


TEST(test_success_resets_identifier_only)
{
    int            i;
    ac_cmd_t       cmd;
    ac_throttle_t  t, other;
    redisReply    *r;

    if (!have_redis) {
        CHECK(!"redis-server did not start");
        return;
    }

    flush();
    CHECK_INT(ac_throttle_keys(&cfg, keys, "carol@example.com", 17,
                               "203.0.113.9", &t), AC_OK);

    for (i = 0; i < 4; i++) {
        (void) seconds(1, &t, T0);
    }

    CHECK_INT(seconds(0, &t, T0), 2);

    CHECK_INT(ac_cmd_throttle_reset(&cmd, &t), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    if (r) {
        freeReplyObject(r);
    }

    CHECK_INT(seconds(0, &t, T0), 0);

    /* the address keeps its 4 failures: 8 more reach its limit (12) */
    r = redisCommand(rc, "HGET %s n", t.ip);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, "4") == 0);
    if (r) {
        freeReplyObject(r);
    }

    /* many identifiers from one address: the IP counter stops them */
    for (i = 0; i < 8; i++) {
        char  email[32];

        snprintf(email, sizeof(email), "user%d@example.com", i);
        CHECK_INT(ac_throttle_keys(&cfg, keys, email, strlen(email),
                                   "203.0.113.9", &other), AC_OK);
        CHECK_INT(seconds(1, &other, T0), 0);
    }

    CHECK_INT(ac_throttle_keys(&cfg, keys, "fresh@example.com", 17,
                               "203.0.113.9", &other), AC_OK);
    CHECK_INT(seconds(0, &other, T0), 0);
    CHECK_INT(seconds(1, &other, T0), 2);
    CHECK_INT(seconds(0, &other, T0), 2);

    /* another address is not affected */
    CHECK_INT(ac_throttle_keys(&cfg, keys, "fresh@example.com", 17,
                               "203.0.113.10", &t), AC_OK);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "dave@example.com", 16,
                               "203.0.113.10", &t), AC_OK);
    CHECK_INT(seconds(0, &t, T0), 0);
}


TEST(test_tampered_counter)
{
    ac_throttle_t  t;
    redisReply    *r;

    if (!have_redis) {
        CHECK(!"redis-server did not start");
        return;
    }

    flush();
    CHECK_INT(ac_throttle_keys(&cfg, keys, "eve@example.com", 15,
                               "192.0.2.50", &t), AC_OK);

    /* a key of another type makes the script fail: no silent pass */
    r = redisCommand(rc, "SET %s x", t.id);
    if (r) {
        freeReplyObject(r);
    }

    CHECK_INT(seconds(0, &t, T0), -1);
    CHECK_INT(seconds(1, &t, T0), -1);
}


int
main(void)
{
    cfg.key_prefix = "tt:";
    cfg.throttle_free = 3;
    cfg.throttle_window = 60;
    cfg.throttle_max_delay = 10;

    if (ac_init() != AC_OK
        || ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK)
    {
        printf("cannot initialise authcore\n");
        return 1;
    }

    have_redis = redis_fixture_start(&rf) == 0;
    if (have_redis) {
        rc = redis_fixture_connect(&rf);
        have_redis = rc != NULL;
    }

    RUN(test_delay_schedule);
    RUN(test_keys);
    RUN(test_bad_arguments);
    RUN(test_identifier_delays_grow_and_lift);
    RUN(test_success_resets_identifier_only);
    RUN(test_tampered_counter);

    if (rc) {
        redisFree(rc);
    }

    if (have_redis) {
        redis_fixture_stop(&rf);
    }

    ac_keys_free(keys);

    return CHECK_DONE();
}
