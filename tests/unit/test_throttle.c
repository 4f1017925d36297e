/*
 * Throttling: the delay schedule, the counter keys, and the reserve /
 * release scripts run against a real redis-server with an injected
 * clock.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"
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


/* Reserves an attempt at "now": 0 (counted) or the seconds to wait;
 * -1 on any error. */

static int64_t
reserve(const ac_throttle_t *t, int64_t now)
{
    int64_t      s;
    ac_cmd_t     cmd;
    redisReply  *r;

    if (ac_cmd_throttle_reserve(&cmd, &cfg, t, now) != AC_OK) {
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


static int64_t
release(const ac_throttle_t *t)
{
    int64_t      s;
    ac_cmd_t     cmd;
    redisReply  *r;

    if (ac_cmd_throttle_release(&cmd, &cfg, t) != AC_OK) {
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


static char *
field(const char *key, const char *name)
{
    static char  value[32];
    redisReply  *r;

    value[0] = '\0';
    r = redisCommand(rc, "HGET %s %s", key, name);
    if (r != NULL && r->type == REDIS_REPLY_STRING && r->len < 32) {
        memcpy(value, r->str, r->len + 1);
    }

    if (r) {
        freeReplyObject(r);
    }

    return value;
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


TEST(test_keys)
{
    ac_throttle_t  a, b, c, d;

    CHECK_INT(ac_throttle_keys(&cfg, keys, "Alice@Example.COM", 17,
                               "192.0.2.1", &a), AC_OK);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "alice@example.com", 17,
                               "192.0.2.2", &b), AC_OK);
    CHECK_INT(a.n, 2);
    CHECK_INT(a.kind[0], AC_THR_EMAIL);
    CHECK_INT(a.kind[1], AC_THR_IP);

    /* one identifier, however typed; one counter per address */
    CHECK_STR(a.key[0], b.key[0]);
    CHECK(strcmp(a.key[1], b.key[1]) != 0);
    CHECK(strncmp(a.key[0], "tt:thr:id:", 10) == 0);
    CHECK(strncmp(a.key[1], "tt:thr:ip:", 10) == 0);
    CHECK_INT(strlen(a.key[0]), 10 + AC_DIGEST_LEN);

    /* neither the email nor the address appears in a key */
    CHECK(strstr(a.key[0], "alice") == NULL);
    CHECK(strstr(a.key[1], "192") == NULL);

    /* an account's second factor: a key of its own kind */
    CHECK_INT(ac_throttle_add(&cfg, keys, &a, AC_THR_SECOND,
                              "aaaaaaaaaaaaaaaa", 16), AC_OK);
    CHECK(strncmp(a.key[2], "tt:thr:2f:", 10) == 0);
    CHECK_INT(ac_throttle_add(&cfg, keys, &a, AC_THR_TOKEN, "x", 1),
              AC_ERR_TOO_LONG);
    CHECK_INT(a.n, 3);

    /* not an email: counted under the bytes as typed */
    CHECK_INT(ac_throttle_keys(&cfg, keys, "not an email", 12, "192.0.2.1",
                               &c), AC_OK);
    CHECK(strcmp(c.key[0], a.key[0]) != 0);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "", 0, "192.0.2.1", &d), AC_OK);
    CHECK(strcmp(d.key[0], c.key[0]) != 0);

    /* the same bytes, another kind: another counter */
    memset(&d, 0, sizeof(d));
    CHECK_INT(ac_throttle_add(&cfg, keys, &d, AC_THR_TOKEN,
                              "not an email", 12), AC_OK);
    CHECK(strncmp(d.key[0], "tt:thr:tk:", 10) == 0);
    CHECK(strcmp(d.key[0] + 10, c.key[0] + 10) == 0);

    CHECK_INT(ac_throttle_keys(&cfg, keys, NULL, 0, "192.0.2.1", &d),
              AC_ERR_INVALID);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "a@b.c", 5, NULL, &d),
              AC_ERR_INVALID);
    CHECK_INT(ac_throttle_add(&cfg, keys, &d, (ac_throttle_kind_t) 9,
                              "a", 1), AC_ERR_INVALID);
}


TEST(test_bad_arguments)
{
    ac_cmd_t       cmd;
    ac_throttle_t  t;

    memset(&t, 0, sizeof(t));
    CHECK_INT(ac_cmd_throttle_reserve(&cmd, &cfg, &t, T0), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_release(&cmd, &cfg, &t), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_reserve(&cmd, &cfg, NULL, T0),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_throttle_release(&cmd, NULL, &t), AC_ERR_INVALID);
}


TEST(test_attempts_are_counted_before_the_check)
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

    /* throttle_free = 3 attempts cost nothing, each one counted */
    for (i = 0; i < 3; i++) {
        CHECK_INT(reserve(&t, T0), 0);
    }

    CHECK_STR(field(t.key[0], "n"), "3");
    CHECK_STR(field(t.key[1], "n"), "3");

    /* the 4th goes on and sets a delay: d seconds ending at the start of
     * second now + d + 1, so that it lasts d seconds at least */
    CHECK_INT(reserve(&t, T0), 0);

    /* a refused attempt is not counted */
    CHECK_INT(reserve(&t, T0), 2);
    CHECK_INT(reserve(&t, T0 + 1), 1);
    CHECK_STR(field(t.key[0], "n"), "4");

    CHECK_INT(reserve(&t, T0 + 2), 0);
    CHECK_INT(reserve(&t, T0 + 3), 2);
    CHECK_INT(reserve(&t, T0 + 5), 0);
    CHECK_INT(reserve(&t, T0 + 6), 4);
    CHECK_INT(reserve(&t, T0 + 10), 0);
    CHECK_INT(reserve(&t, T0 + 10), 9);

    /* capped at throttle_max_delay = 10 */
    CHECK_INT(reserve(&t, T0 + 19), 0);
    CHECK_INT(reserve(&t, T0 + 19), 11);
    CHECK_INT(reserve(&t, T0 + 30), 0);
    CHECK_INT(reserve(&t, T0 + 36), 5);

    /* the counter lives throttle_window (60 s) after the last attempt */
    r = redisCommand(rc, "TTL %s", t.key[0]);
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER
          && r->integer > 50 && r->integer <= 60);
    if (r) {
        freeReplyObject(r);
    }
}


TEST(test_release_forgets_what_was_proved)
{
    int            i;
    ac_throttle_t  t, other;

    if (!have_redis) {
        CHECK(!"redis-server did not start");
        return;
    }

    flush();
    CHECK_INT(ac_throttle_keys(&cfg, keys, "carol@example.com", 17,
                               "203.0.113.9", &t), AC_OK);

    for (i = 0; i < 4; i++) {
        CHECK_INT(reserve(&t, T0), 0);
    }

    CHECK_INT(reserve(&t, T0), 2);

    /* a success: the identifier is forgotten, the address gets the
     * successful attempt back (3 failures left of its 12) */
    CHECK_INT(release(&t), 0);
    CHECK_STR(field(t.key[0], "n"), "");
    CHECK_STR(field(t.key[1], "n"), "3");
    CHECK_STR(field(t.key[1], "u"), "");
    CHECK_INT(reserve(&t, T0), 0);
    CHECK_INT(release(&t), 0);

    /* many identifiers from one address: the IP counter stops them */
    for (i = 0; i < 9; i++) {
        char  email[32];

        snprintf(email, sizeof(email), "user%d@example.com", i);
        CHECK_INT(ac_throttle_keys(&cfg, keys, email, strlen(email),
                                   "203.0.113.9", &other), AC_OK);
        CHECK_INT(reserve(&other, T0), 0);
    }

    /* the 13th attempt from the address goes on and sets its delay */
    CHECK_INT(ac_throttle_keys(&cfg, keys, "fresh@example.com", 17,
                               "203.0.113.9", &other), AC_OK);
    CHECK_INT(reserve(&other, T0), 0);
    CHECK_INT(ac_throttle_keys(&cfg, keys, "fresh2@example.com", 18,
                               "203.0.113.9", &other), AC_OK);
    CHECK_INT(reserve(&other, T0), 2);
    CHECK_STR(field(other.key[0], "n"), "");

    /* another address is not affected */
    CHECK_INT(ac_throttle_keys(&cfg, keys, "dave@example.com", 16,
                               "203.0.113.10", &t), AC_OK);
    CHECK_INT(reserve(&t, T0), 0);
}


TEST(test_second_factor_outlives_passwords)
{
    int            i;
    ac_throttle_t  pw, code;

    if (!have_redis) {
        CHECK(!"redis-server did not start");
        return;
    }

    flush();

    memset(&code, 0, sizeof(code));
    CHECK_INT(ac_throttle_add(&cfg, keys, &code, AC_THR_SECOND,
                              "aaaaaaaaaaaaaaaa", 16), AC_OK);
    CHECK_INT(ac_throttle_add(&cfg, keys, &code, AC_THR_IP, "192.0.2.9",
                              9), AC_OK);

    for (i = 0; i < 4; i++) {
        /* a correct password each time, then a wrong code */
        CHECK_INT(ac_throttle_keys(&cfg, keys, "gus@example.com", 15,
                                   "192.0.2.9", &pw), AC_OK);
        CHECK_INT(reserve(&pw, T0), 0);
        CHECK_INT(release(&pw), 0);
        CHECK_INT(reserve(&code, T0), 0);
    }

    CHECK_INT(reserve(&code, T0), 2);

    /* remembered a day at least, whatever throttle_window says */
    {
        redisReply  *r = redisCommand(rc, "TTL %s", code.key[0]);

        CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER
              && r->integer > AC_THROTTLE_SECOND_WINDOW - 10);
        if (r) {
            freeReplyObject(r);
        }
    }

    /* only a correct code forgets */
    CHECK_INT(release(&code), 0);
    CHECK_INT(reserve(&code, T0), 0);
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
    r = redisCommand(rc, "SET %s x", t.key[0]);
    if (r) {
        freeReplyObject(r);
    }

    CHECK_INT(reserve(&t, T0), -1);
    CHECK_STR(field(t.key[1], "n"), "");
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

    RUN(test_keys);
    RUN(test_bad_arguments);
    RUN(test_attempts_are_counted_before_the_check);
    RUN(test_release_forgets_what_was_proved);
    RUN(test_second_factor_outlives_passwords);
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
