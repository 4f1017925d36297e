/*
 * Partner invitations and registration tokens (invitation.c): the partner
 * API body parser with hostile bodies, token derivation, and, against a
 * real redis-server, single use, renewal after expiry, partner isolation
 * and tampered records.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <authcore.h>
#include "internal.h"

#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "invitation-test-secret-012345678";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;

#define run(cmd)      redis_fixture_run(rc, cmd)
#define run_int(cmd)  redis_fixture_int(rc, cmd)
static int               have_redis;

static char              emails[AC_INVITE_EMAILS_MAX][AC_EMAIL_MAX + 1];

#define NOW      1767225600      /* 2026-01-01T00:00:00Z */
#define PHC      "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$" \
                 "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


static int
parse(const char *body, size_t *n, long *bad)
{
    return ac_invitation_body_parse(body, strlen(body), emails,
                                    AC_INVITE_EMAILS_MAX, n, bad);
}


static int64_t
invite(const char *partner, const char *email, int64_t now)
{
    ac_cmd_t  cmd;
    char      scratch[AC_INVITE_MAX];

    if (ac_cmd_invitation_create(&cmd, &cfg, keys, partner, email, now,
                                 scratch)
        != AC_OK)
    {
        return -100;
    }

    return run_int(&cmd);
}


/* get (consume = 0) or consume (1) the token: ac_regtok_parse's code */
static int
token_use(const char *token, int consume, ac_regtok_t *t)
{
    int          arc;
    ac_cmd_t     cmd;
    redisReply  *r;

    arc = consume
          ? ac_cmd_regtok_consume(&cmd, &cfg, keys, token, strlen(token))
          : ac_cmd_regtok_get(&cmd, &cfg, keys, token, strlen(token));
    if (arc != AC_OK) {
        return arc;
    }

    r = run(&cmd);
    arc = ac_regtok_parse(r, keys, t);
    if (r != NULL) {
        freeReplyObject(r);
    }
    return arc;
}


static size_t
count_keys(const char *pattern)
{
    size_t       n;
    redisReply  *r;

    r = redisCommand(rc, "KEYS %s", pattern);
    n = (r != NULL && r->type == REDIS_REPLY_ARRAY) ? r->elements : 9999;
    if (r != NULL) {
        freeReplyObject(r);
    }
    return n;
}


/* the buffer's text, NUL-terminated */
static const char *
buf_str(ac_buf_t *b)
{
    ac_buf_add(b, "", 1);
    return ac_buf_status(b) == AC_OK ? b->data : NULL;
}


static int
registrations(const char *partner, ac_buf_t *out)
{
    int          arc;
    ac_cmd_t     cmd;
    redisReply  *r;

    arc = ac_cmd_registrations(&cmd, &cfg, keys, partner);
    if (arc != AC_OK) {
        return arc;
    }

    r = run(&cmd);
    arc = ac_registrations_json(r, keys, partner, out);
    if (r != NULL) {
        freeReplyObject(r);
    }
    return arc;
}


TEST(test_body_parse)
{
    size_t  n;
    long    bad;
    char    big[AC_INVITE_BODY_MAX + 64];
    size_t  i, len;

    CHECK_INT(parse("{\"emails\":[\"Alice@Example.ORG\",\"bob@example.org\","
                    "\"alice@example.org\"]}", &n, &bad), AC_OK);
    CHECK_INT((int) n, 2);
    CHECK_STR(emails[0], "alice@example.org");
    CHECK_STR(emails[1], "bob@example.org");

    CHECK_INT(parse(" { \"emails\" : [ \"a@b.example\" ] } ", &n, &bad),
              AC_OK);
    CHECK_INT((int) n, 1);

    /* the index of the first bad email, nothing else returned */
    CHECK_INT(parse("{\"emails\":[\"ok@example.org\",\"bad@@example.org\","
                    "\"x\"]}", &n, &bad), AC_ERR_BAD_EMAIL);
    CHECK_INT((int) bad, 1);
    CHECK_INT(parse("{\"emails\":[\"a@example.org\\r\\nBcc: x@y.z\"]}", &n,
                    &bad), AC_ERR_BAD_EMAIL);
    CHECK_INT((int) bad, 0);
    CHECK_INT(parse("{\"emails\":[\"a@example.org\",\"\"]}", &n, &bad),
              AC_ERR_BAD_EMAIL);
    CHECK_INT((int) bad, 1);

    /* shapes */
    CHECK_INT(parse("", &n, &bad), AC_ERR_INVALID);
    CHECK_INT(parse("{", &n, &bad), AC_ERR_INVALID);
    CHECK_INT(parse("[]", &n, &bad), AC_ERR_INVALID);
    CHECK_INT(parse("{\"emails\":[]}", &n, &bad), AC_ERR_INVALID);
    CHECK_INT(parse("{\"emails\":\"a@b.example\"}", &n, &bad),
              AC_ERR_INVALID);
    CHECK_INT(parse("{\"emails\":[\"a@b.example\"],\"x\":1}", &n, &bad),
              AC_ERR_INVALID);
    CHECK_INT(parse("{\"emails\":[\"a@b.example\"],"
                    "\"emails\":[\"c@d.example\"]}", &n, &bad),
              AC_ERR_INVALID);
    CHECK_INT(parse("{\"emails\":[1]}", &n, &bad) != AC_OK, 1);
    CHECK_INT(parse("{\"emails\":[\"a@b.example\"]} x", &n, &bad),
              AC_ERR_INVALID);

    /* at most 100 emails, at most 32 KiB */
    len = (size_t) snprintf(big, sizeof(big), "{\"emails\":[");
    for (i = 0; i < AC_INVITE_EMAILS_MAX + 1; i++) {
        len += (size_t) snprintf(big + len, sizeof(big) - len,
                                 "%s\"u%zu@example.org\"", i ? "," : "", i);
    }
    snprintf(big + len, sizeof(big) - len, "]}");
    CHECK_INT(parse(big, &n, &bad), AC_ERR_TOO_LONG);

    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "{\"emails\":[\"a@b.example\"]}", 26);
    CHECK_INT(parse(big, &n, &bad) != AC_OK, 1);
}


TEST(test_regtok_derive)
{
    char    t1[AC_TOKEN_LEN + 1], t2[AC_TOKEN_LEN + 1];
    size_t  i;

    CHECK_INT(ac_regtok_derive(keys, "part-a", "a@example.org", NOW, t1),
              AC_OK);
    CHECK_INT((int) strlen(t1), AC_TOKEN_LEN);

    for (i = 0; i < AC_TOKEN_LEN; i++) {
        CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-_", t1[i]) != NULL);
    }

    CHECK_INT(ac_regtok_derive(keys, "part-a", "a@example.org", NOW, t2),
              AC_OK);
    CHECK_STR(t2, t1);

    CHECK_INT(ac_regtok_derive(keys, "part-b", "a@example.org", NOW, t2),
              AC_OK);
    CHECK(strcmp(t1, t2) != 0);
    CHECK_INT(ac_regtok_derive(keys, "part-a", "b@example.org", NOW, t2),
              AC_OK);
    CHECK(strcmp(t1, t2) != 0);
    CHECK_INT(ac_regtok_derive(keys, "part-a", "a@example.org", NOW + 1,
                               t2), AC_OK);
    CHECK(strcmp(t1, t2) != 0);
}


TEST(test_builders_refuse_bad_input)
{
    ac_cmd_t  cmd;
    char      scratch[AC_INVITE_MAX];

    CHECK_INT(ac_cmd_invitation_create(&cmd, &cfg, keys, "bad id!",
                                       "a@example.org", NOW, scratch),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_invitation_create(&cmd, &cfg, keys, "part-a",
                                       "A@example.org", NOW, scratch),
              AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_cmd_invitation_create(&cmd, &cfg, keys, "part-a",
                                       "a@example.org", 0, scratch),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_regtok_get(&cmd, &cfg, keys, "short", 5),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_regtok_get(&cmd, &cfg, keys,
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!",
                                AC_TOKEN_LEN), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_registrations(&cmd, &cfg, keys, "bad id!"),
              AC_ERR_INVALID);
}


TEST(test_token_single_use)
{
    char         token[AC_TOKEN_LEN + 1];
    ac_regtok_t  t;
    redisReply  *r;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));

    CHECK_INT((int) invite("part-a", "new@example.org", NOW), 1);
    /* invited again while the link is alive: nothing changes */
    CHECK_INT((int) invite("part-a", "new@example.org", NOW + 60), 0);
    CHECK_INT((int) count_keys("t:regtok:*"), 1);

    CHECK_INT(ac_regtok_derive(keys, "part-a", "new@example.org", NOW,
                               token), AC_OK);

    /* Redis holds a digest of the token, never the token */
    r = redisCommand(rc, "KEYS *%s*", token);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0);
    freeReplyObject(r);

    r = redisCommand(rc, "EVAL %s 0", "local n = 0 "
                     "for _, k in ipairs(redis.call('KEYS', 't:regtok:*'))"
                     " do n = redis.call('TTL', k) end return n");
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER
          && r->integer > AC_REGTOK_TTL - 10
          && r->integer <= AC_REGTOK_TTL);
    freeReplyObject(r);

    CHECK_INT(token_use(token, 0, &t), AC_OK);
    CHECK_STR(t.partner, "part-a");
    CHECK_STR(t.email, "new@example.org");
    CHECK_INT((int) (t.since - NOW), 0);

    CHECK_INT(token_use(token, 1, &t), AC_OK);
    CHECK_STR(t.email, "new@example.org");
    CHECK_INT(token_use(token, 1, &t), AC_ERR_NOT_FOUND);
    CHECK_INT(token_use(token, 0, &t), AC_ERR_NOT_FOUND);

    /* a well-formed token nobody issued */
    CHECK_INT(token_use("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, &t),
              AC_ERR_NOT_FOUND);
}


TEST(test_tampered_token_record)
{
    char         token[AC_TOKEN_LEN + 1];
    ac_regtok_t  t;
    redisReply  *r;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));

    CHECK_INT((int) invite("part-a", "victim@example.org", NOW), 1);
    CHECK_INT(ac_regtok_derive(keys, "part-a", "victim@example.org", NOW,
                               token), AC_OK);

    /* moved to another partner: the sealed email no longer opens */
    r = redisCommand(rc, "EVAL %s 0", "for _, k in ipairs(redis.call("
                     "'KEYS', 't:regtok:*')) do redis.call('HSET', k, 'p',"
                     " 'part-b') end return 1");
    freeReplyObject(r);
    CHECK_INT(token_use(token, 0, &t), AC_ERR_MISMATCH);
    CHECK_STR(t.email, "");

    r = redisCommand(rc, "EVAL %s 0", "for _, k in ipairs(redis.call("
                     "'KEYS', 't:regtok:*')) do redis.call('HSET', k, 'p',"
                     " 'part-a', 'v', 'x y') end return 1");
    freeReplyObject(r);
    CHECK(token_use(token, 0, &t) != AC_OK);
}


TEST(test_renewal_after_expiry)
{
    char         old[AC_TOKEN_LEN + 1], fresh[AC_TOKEN_LEN + 1];
    ac_cmd_t     cmd;
    ac_regtok_t  t;
    ac_account_t a;
    int64_t      later;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));

    later = NOW + AC_REGTOK_TTL + 5;

    CHECK_INT((int) invite("part-a", "late@example.org", NOW), 1);
    CHECK_INT(ac_regtok_derive(keys, "part-a", "late@example.org", NOW,
                               old), AC_OK);

    /* one second before the link expires: still the same invitation */
    CHECK_INT((int) invite("part-a", "late@example.org",
                           NOW + AC_REGTOK_TTL - 1), 0);

    /* what Redis does after AC_REGTOK_TTL */
    freeReplyObject(redisCommand(rc, "EVAL %s 0", "for _, k in ipairs("
                                 "redis.call('KEYS', 't:regtok:*')) do "
                                 "redis.call('DEL', k) end return 1"));

    CHECK_INT((int) invite("part-a", "late@example.org", later), 1);
    CHECK_INT(ac_regtok_derive(keys, "part-a", "late@example.org", later,
                               fresh), AC_OK);
    CHECK(strcmp(old, fresh) != 0);
    CHECK_INT(token_use(old, 0, &t), AC_ERR_NOT_FOUND);
    CHECK_INT(token_use(fresh, 0, &t), AC_OK);
    CHECK_INT((int) (t.since - later), 0);

    /* linked to the partner (registered): never renewed again */
    memset(&a, 0, sizeof(a));
    CHECK_INT(ac_account_id_new(a.id), AC_OK);
    strcpy(a.email, "late@example.org");
    a.roles = AC_ROLE_USER;
    strcpy(a.pw, PHC);
    a.created = later;
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT((int) run_int(&cmd), 1);
    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, a.id, "part-a", later),
              AC_OK);
    CHECK_INT((int) run_int(&cmd), 1);

    CHECK_INT(token_use(fresh, 1, &t), AC_OK);
    CHECK_INT((int) invite("part-a", "late@example.org",
                           later + 2 * AC_REGTOK_TTL), 0);
    CHECK_INT((int) count_keys("t:regtok:*"), 0);

    /* another partner may still invite the same person */
    CHECK_INT((int) invite("part-b", "late@example.org", later), 1);
}


TEST(test_registrations_isolation)
{
    ac_cmd_t      cmd;
    ac_buf_t      out;
    ac_account_t  a;
    const char   *s;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));

    CHECK_INT((int) invite("part-a", "a1@example.org", NOW), 1);
    CHECK_INT((int) invite("part-a", "both@example.org", NOW + 1), 1);
    CHECK_INT((int) invite("part-b", "both@example.org", NOW + 2), 1);
    CHECK_INT((int) invite("part-b", "b1@example.org", NOW + 3), 1);

    /* both@ registers through part-b only */
    memset(&a, 0, sizeof(a));
    CHECK_INT(ac_account_id_new(a.id), AC_OK);
    strcpy(a.email, "both@example.org");
    a.roles = AC_ROLE_USER;
    a.created = NOW + 10;
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT((int) run_int(&cmd), 1);
    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, a.id, "part-b", NOW + 20),
              AC_OK);
    CHECK_INT((int) run_int(&cmd), 1);

    ac_buf_init(&out);
    CHECK_INT(registrations("part-a", &out), AC_OK);
    s = buf_str(&out);
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK(strstr(s, "\"a1@example.org\"") != NULL);
        CHECK(strstr(s, "b1@example.org") == NULL);
        /* part-a cannot learn that both@ registered through part-b */
        CHECK(strstr(s, "\"registered\"") == NULL);
        CHECK(strncmp(s, "{\"registrations\":[", 18) == 0);
    }
    ac_buf_free(&out);

    ac_buf_init(&out);
    CHECK_INT(registrations("part-b", &out), AC_OK);
    s = buf_str(&out);
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK(strstr(s, "a1@example.org") == NULL);
        CHECK(strstr(s, "{\"email\":\"both@example.org\","
                     "\"status\":\"registered\"") != NULL);
        CHECK(strstr(s, "{\"email\":\"b1@example.org\","
                     "\"status\":\"invited\"") != NULL);
    }
    ac_buf_free(&out);

    /* a partner with no invitation gets an empty list */
    ac_buf_init(&out);
    CHECK_INT(registrations("part-c", &out), AC_OK);
    CHECK_STR(buf_str(&out), "{\"registrations\":[]}");
    ac_buf_free(&out);
}


int
main(void)
{
    CHECK(ac_init() == AC_OK);

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "t:";

    if (ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK) {
        printf("cannot derive keys\n");
        return 1;
    }

    RUN(test_body_parse);
    RUN(test_regtok_derive);
    RUN(test_builders_refuse_bad_input);

    have_redis = redis_fixture_start(&rf) == 0;
    rc = have_redis ? redis_fixture_connect(&rf) : NULL;
    have_redis = rc != NULL;

    RUN(test_token_single_use);
    RUN(test_tampered_token_record);
    RUN(test_renewal_after_expiry);
    RUN(test_registrations_isolation);

    if (rc != NULL) {
        redisFree(rc);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
    ac_done();

    return CHECK_DONE();
}
