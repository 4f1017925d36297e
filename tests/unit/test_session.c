/*
 * Sessions: amr values, cookie digests, the Redis commands (checked
 * against a real redis-server started on a free loopback port) and the
 * parsing of hostile replies.
 */

#include <stdlib.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "0123456789abcdef0123456789abcdef";
static const char  cookie[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
static const char  cookie2[] = "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

static ac_config_t  cfg;
static ac_keys_t   *keys;


static void
setup_config(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "t:";
    cfg.session_idle = 1800;
    cfg.session_max = 43200;
}


static void
sample_session(ac_session_t *s, int64_t now)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->account, "abcdefghijklmnop");
    strcpy(s->email, "alice@example.com");
    s->roles = AC_ROLE_USER | AC_ROLE_SECURITY;
    s->amr = AC_AMR_PWD | AC_AMR_OTP;
    s->created = now;
    s->expires = now + cfg.session_max;
    s->last_seen = now;
    strcpy(s->ip, "2001:db8::1");
    strcpy(s->device, "Firefox on Linux");
}


/* --------------------------------------------------------- reply fakes */

static redisReply  fake_elems[32];
static redisReply *fake_ptrs[32];
static redisReply  fake_array;


static redisReply *
fake_reply(const char **kv, size_t n)
{
    size_t  i;

    memset(&fake_array, 0, sizeof(fake_array));
    fake_array.type = REDIS_REPLY_ARRAY;
    fake_array.elements = n;
    fake_array.element = fake_ptrs;

    for (i = 0; i < n; i++) {
        memset(&fake_elems[i], 0, sizeof(redisReply));
        fake_elems[i].type = REDIS_REPLY_STRING;
        fake_elems[i].str = (char *) kv[i];
        fake_elems[i].len = strlen(kv[i]);
        fake_ptrs[i] = &fake_elems[i];
    }

    return &fake_array;
}


TEST(test_amr)
{
    unsigned  amr;

    CHECK_INT(ac_amr_parse("pwd", 3, &amr), AC_OK);
    CHECK_INT(amr, AC_AMR_PWD);
    CHECK_INT(ac_amr_parse("sso otp", 7, &amr), AC_OK);
    CHECK_INT(amr, AC_AMR_SSO | AC_AMR_OTP);
    CHECK_STR(ac_amr_name(AC_AMR_PWD | AC_AMR_OTP), "pwd otp");
    CHECK_STR(ac_amr_name(AC_AMR_SSO), "sso");
    CHECK_INT(ac_amr_parse("pwd hwk", 7, &amr), AC_OK);
    CHECK_INT(amr, AC_AMR_PWD | AC_AMR_HWK);
    CHECK_INT(ac_amr_parse("hwk", 3, &amr), AC_OK);
    CHECK_INT(amr, AC_AMR_HWK);
    CHECK_STR(ac_amr_name(AC_AMR_HWK), "hwk");
    CHECK_STR(ac_amr_name(AC_AMR_SSO | AC_AMR_HWK), "sso hwk");
    CHECK_STR(ac_amr_name(AC_AMR_HWK | AC_AMR_OTP), "");

    /* hostile or impossible values */
    CHECK_INT(ac_amr_parse("otp", 3, &amr), AC_ERR_INVALID);
    CHECK_INT(ac_amr_parse("PWD", 3, &amr), AC_ERR_INVALID);
    CHECK_INT(ac_amr_parse("pwd  otp", 8, &amr), AC_ERR_INVALID);
    CHECK_INT(ac_amr_parse("pwd\0otp", 7, &amr), AC_ERR_INVALID);
    CHECK_INT(ac_amr_parse("pwd", 2, &amr), AC_ERR_INVALID);
    CHECK_STR(ac_amr_name(AC_AMR_PWD | AC_AMR_SSO), "");
    CHECK_STR(ac_amr_name(AC_AMR_OTP), "");
    CHECK_STR(ac_amr_name(0), "");
}


TEST(test_digest)
{
    char  d1[AC_DIGEST_LEN + 1], d2[AC_DIGEST_LEN + 1];
    char  d3[AC_DIGEST_LEN + 1], other[AC_DIGEST_LEN + 1];
    char  bad[AC_TOKEN_LEN + 1];

    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN, d1), AC_OK);
    CHECK_INT(strlen(d1), AC_DIGEST_LEN);
    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN, d2), AC_OK);
    CHECK_STR(d2, d1);
    CHECK_INT(ac_session_digest(keys, cookie2, AC_TOKEN_LEN, d3), AC_OK);
    CHECK(strcmp(d3, d1) != 0);

    /* the digest is keyed by purpose: a CSRF digest of it differs */
    CHECK_INT(ac_digest(keys, AC_PURPOSE_CSRF, cookie, AC_TOKEN_LEN, other),
              AC_OK);
    CHECK(strcmp(other, d1) != 0);
    CHECK_INT(ac_digest(keys, AC_PURPOSE_SESSION, cookie, AC_TOKEN_LEN,
                        other), AC_OK);
    CHECK_STR(other, d1);

    /* only 43 base64url characters are a cookie */
    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN - 1, d1),
              AC_ERR_INVALID);
    CHECK_INT(ac_session_digest(keys, "", 0, d1), AC_ERR_INVALID);
    memcpy(bad, cookie, sizeof(bad));
    bad[10] = '=';
    CHECK_INT(ac_session_digest(keys, bad, AC_TOKEN_LEN, d1),
              AC_ERR_INVALID);
    bad[10] = '\0';
    CHECK_INT(ac_session_digest(keys, bad, AC_TOKEN_LEN, d1),
              AC_ERR_INVALID);
    bad[10] = '+';
    CHECK_INT(ac_session_digest(keys, bad, AC_TOKEN_LEN, d1),
              AC_ERR_INVALID);
}


TEST(test_cmd_create_shape)
{
    ac_cmd_t      cmd;
    ac_session_t  s;
    char          d[AC_DIGEST_LEN + 1], key[AC_KEY_MAX], v[256];
    char          tok[AC_TOKEN_LEN + 1], tok2[AC_TOKEN_LEN + 1];
    char          acct[AC_ID_LEN + 1];

    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN, d), AC_OK);
    sample_session(&s, 1700000000);
    s.fresh = 1700000000;

    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_OK);
    CHECK_INT(cmd.argc, 13);
    CHECK(cmd.argvlen[0] == 4 && memcmp(cmd.argv[0], "EVAL", 4) == 0);
    CHECK(cmd.argvlen[2] == 1 && cmd.argv[2][0] == '1');

    /* one key: the account; the session is its field */
    snprintf(key, sizeof(key), "t:acct:%s", s.account);
    CHECK(cmd.argvlen[3] == strlen(key)
          && memcmp(cmd.argv[3], key, strlen(key)) == 0);
    CHECK(cmd.argvlen[8] == 2 && memcmp(cmd.argv[8], "50", 2) == 0);
    CHECK(cmd.argvlen[9] == 10 && memcmp(cmd.argv[9], "t:partner:", 10)
          == 0);
    CHECK(cmd.argvlen[10] == 8 && memcmp(cmd.argv[10], "t:events", 8) == 0);

    /* the one compact value: no partner, no enrolment under way, no
     * email (the account's stands for it) */
    snprintf(v, sizeof(v), "2|abcdefghijklmnop|user,security|pwd otp||"
             "1700000000|1700043200|1700000000|1700000000|2001:db8::1|"
             "Firefox on Linux||");
    CHECK(cmd.argvlen[11] == strlen(v)
          && memcmp(cmd.argv[11], v, strlen(v)) == 0);
    CHECK(cmd.argvlen[12] == 16
          && memcmp(cmd.argv[12], "abcdefghijklmnop", 16) == 0);

    /* a '|' of the label cannot shift the fields */
    strcpy(s.device, "Odd|Agent");
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_OK);
    CHECK(memmem(cmd.argv[11], cmd.argvlen[11], "|Odd/Agent||", 12)
          != NULL);

    /* an SSO session never carries security or admin, even if asked */
    strcpy(s.partner, "acme");
    s.amr = AC_AMR_SSO;
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_OK);
    CHECK_INT(cmd.argc, 17);
    CHECK(cmd.argvlen[2] == 1 && cmd.argv[2][0] == '4');
    CHECK(memmem(cmd.argv[14], cmd.argvlen[14], "|user|sso|acme|", 15)
          != NULL);
    CHECK(cmd.argvlen[16] == 4 && memcmp(cmd.argv[16], "acme", 4) == 0);
    s.partner[0] = '\0';

    /* refused: bad digest, impossible amr, expiry before creation, a
     * '|' where the layout cannot take one */
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, "short", &s), AC_ERR_INVALID);
    s.amr = AC_AMR_OTP;
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_ERR_INVALID);
    s.amr = AC_AMR_PWD;
    strcpy(s.ip, "1|2");
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_ERR_INVALID);
    strcpy(s.ip, "192.0.2.1");
    s.expires = s.created;
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_ERR_INVALID);

    /* the gate's read: one plain command, no script */
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d), AC_OK);
    CHECK_INT(cmd.argc, 4);
    CHECK(cmd.argvlen[0] == 5 && memcmp(cmd.argv[0], "HMGET", 5) == 0);
    CHECK(cmd.argvlen[1] == 23
          && memcmp(cmd.argv[1], "t:acct:abcdefghijklmnop", 23) == 0);
    CHECK(cmd.argvlen[2] == 2 + AC_DIGEST_LEN
          && memcmp(cmd.argv[2], "s:", 2) == 0
          && memcmp(cmd.argv[2] + 2, d, AC_DIGEST_LEN) == 0);
    CHECK(cmd.argvlen[3] == 5 && memcmp(cmd.argv[3], "email", 5) == 0);

    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account,
                                 "a:b*c?d[e]fghijklmnopq"), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, "ABCDEFGHIJKLMNOP", d),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, "abc", d), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, s.account,
                                   "../../../../../../../..", 1),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, "x:y", d, 1),
              AC_ERR_INVALID);

    /* only "f" and "k" are set on a live session, never with a '|' */
    CHECK_INT(ac_cmd_session_rotate(&cmd, &cfg, d, s.account, d, "a",
                                    "zzzzzzzzzzzzzzzz"), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_rotate(&cmd, &cfg, d, s.account, d, "k",
                                    "1|2"), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, s.account, d, "e", "x@y.z"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, s.account, d, "f", "1\r\n"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, s.account, d, "f",
                                   "1700000000"), AC_OK);

    /* a session cookie: the account id, then 27 random characters */
    CHECK_INT(ac_session_token_new(s.account, tok), AC_OK);
    CHECK_INT(ac_session_token_new(s.account, tok2), AC_OK);
    CHECK_INT((int) strlen(tok), AC_TOKEN_LEN);
    CHECK(memcmp(tok, s.account, AC_ID_LEN) == 0);
    CHECK(strcmp(tok, tok2) != 0);
    CHECK_INT(ac_session_account(tok, AC_TOKEN_LEN, acct), AC_OK);
    CHECK_STR(acct, s.account);
    CHECK_INT(ac_session_digest(keys, tok, AC_TOKEN_LEN, d), AC_OK);
    CHECK_INT(ac_session_token_new("ABC", tok), AC_ERR_INVALID);
    CHECK_INT(ac_session_token_new("abcdefghijklmnopq", tok),
              AC_ERR_INVALID);

    /* a cookie of the previous layout names no account */
    CHECK_INT(ac_session_account(cookie, AC_TOKEN_LEN, acct),
              AC_ERR_INVALID);
    CHECK_STR(acct, "");
    CHECK_INT(ac_session_account(tok, AC_TOKEN_LEN - 1, acct),
              AC_ERR_INVALID);
}


static redisReply *
fake_pair(const char *v, const char *email)
{
    static const char  *two[2];

    two[0] = v;
    two[1] = email;

    return fake_reply(two, 2);
}


/* the 2fa step ends a pending state through authcore's key, not its own */
TEST(test_pending_end)
{
    ac_cmd_t  cmd;
    char      d[AC_DIGEST_LEN + 1], key[AC_KEY_MAX];

    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN, d), AC_OK);
    CHECK_INT(ac_cmd_pending_end(&cmd, &cfg, d), AC_OK);
    CHECK_INT(cmd.argc, 2);
    CHECK(cmd.argvlen[0] == 3 && memcmp(cmd.argv[0], "DEL", 3) == 0);
    CHECK_INT(ac_key(&cfg, AC_K_PENDING, d, key), AC_OK);
    CHECK(cmd.argvlen[1] == strlen(key)
          && memcmp(cmd.argv[1], key, strlen(key)) == 0);

    CHECK_INT(ac_cmd_pending_end(&cmd, &cfg, "short"), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_pending_end(&cmd, &cfg, NULL), AC_ERR_INVALID);
}


TEST(test_parse)
{
    ac_session_t  s;
    ac_config_t   c;
    redisReply    err, nil;
    char          longmail[400];

    /* the gate's HMGET: the field's value, the account's email */
    CHECK_INT(ac_session_parse(fake_pair(
        "2|abcdefghijklmnop|user,admin|sso otp|acme|1700000000|1700043200|"
        "1700000100|1700000050|192.0.2.1|curl|123:sealed|",
        "a|b@example.com"), &s), AC_OK);
    CHECK_STR(s.account, "abcdefghijklmnop");
    CHECK_STR(s.email, "a|b@example.com");
    /* stored "user,admin", but an SSO session never carries admin */
    CHECK_INT(s.roles, AC_ROLE_USER);
    CHECK_INT(s.amr, AC_AMR_SSO | AC_AMR_OTP);
    CHECK_STR(s.partner, "acme");
    CHECK_INT(s.created, 1700000000);
    CHECK_INT(s.expires, 1700043200);
    CHECK_INT(s.last_seen, 1700000100);
    CHECK_INT(s.fresh, 1700000050);
    CHECK_STR(s.ip, "192.0.2.1");
    CHECK_STR(s.device, "curl");
    CHECK_INT(s.account_status, AC_STATUS_ACTIVE);

    /* live: before x, and within session_idle of t */
    memset(&c, 0, sizeof(c));
    c.session_idle = 1800;
    CHECK_INT(ac_session_live(&s, &c, 1700000100 + 1799), 1);
    CHECK_INT(ac_session_live(&s, &c, 1700000100 + 1800), 0);
    c.session_idle = 100000;
    CHECK_INT(ac_session_live(&s, &c, 1700043199), 1);
    CHECK_INT(ac_session_live(&s, &c, 1700043200), 0);

    /* the value alone too (no email); empty optional fields */
    memset(&nil, 0, sizeof(nil));
    nil.type = REDIS_REPLY_STRING;
    nil.str = "2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||";
    nil.len = strlen(nil.str);
    CHECK_INT(ac_session_parse(&nil, &s), AC_OK);
    CHECK_INT(s.fresh, 0);
    CHECK_STR(s.partner, "");
    CHECK_STR(s.email, "");

    /* HMGET's nil: no session */
    memset(&nil, 0, sizeof(nil));
    nil.type = REDIS_REPLY_NIL;
    fake_reply(NULL, 0);
    fake_array.elements = 2;
    fake_ptrs[0] = &nil;
    fake_ptrs[1] = &nil;
    CHECK_INT(ac_session_parse(&fake_array, &s), AC_ERR_NOT_FOUND);
    CHECK_INT(ac_session_parse(&nil, &s), AC_ERR_NOT_FOUND);
    CHECK_INT(s.account_status, -1);

    /* hostile or broken values, and those of the previous layouts (a
     * "1|" value, an index field's bare expiry) */
#define BAD(v)  CHECK_INT(ac_session_parse(fake_pair(v, "a@b.c"), &s),      \
                          AC_ERR_REDIS)
    BAD("");
    BAD("1700043200");
    BAD("1|abcdefghijklmnop|user|pwd||1|1700043200|1|||||a@b.c");
    BAD("abcdefghijklmnop|user|pwd||1|1700043200|1|||||");
    BAD("2|abcdefghijklmnop|user|pwd||1|1700043200|1|||");
    BAD("2||user|pwd||1|1700043200|1|||||");
    BAD("2|abcdefghijklmnop|user|pwd||1||1|||||");
    BAD("2|abcdefghijklmnop|user|pwd||1|17000432OO|1|||||");
    BAD("2|abcdefghijklmnop|user|pwd||1|-1|1|||||");
    BAD("2|abcdefghijklmnop|user|pwd||1|99999999999999999999999|1|||||");
    BAD("2|abcdefghijklmnop|user|pwd otp sso||1|1700043200|1|||||");
    BAD("2|abcdefghijklmnop|root|pwd||1|1700043200|1|||||");
    BAD("2|abcdefghijklmnop|user||||1|1700043200|1|||||");
    BAD("2|abcdefghijklmnopq|user|pwd||1|1700043200|1|||||");
#undef BAD

    /* a hostile email */
    CHECK_INT(ac_session_parse(fake_pair(
        "2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||", "a\r\nb@c.d"),
        &s), AC_ERR_REDIS);
    memset(longmail, 'a', sizeof(longmail) - 1);
    longmail[sizeof(longmail) - 1] = '\0';
    CHECK_INT(ac_session_parse(fake_pair(
        "2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||", longmail),
        &s), AC_ERR_REDIS);

    /* a NUL byte hidden in a value */
    fake_pair("2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||", "a@b.c");
    fake_elems[0].len = 51;
    fake_elems[0].str = "2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||"
                        "\0xx";
    CHECK_INT(ac_session_parse(&fake_array, &s), AC_ERR_REDIS);

    /* an integer where the value belongs or the email; three values */
    fake_pair("1", "a@b.c");
    fake_elems[0].type = REDIS_REPLY_INTEGER;
    CHECK_INT(ac_session_parse(&fake_array, &s), AC_ERR_REDIS);
    fake_pair("2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||", "1");
    fake_elems[1].type = REDIS_REPLY_INTEGER;
    CHECK_INT(ac_session_parse(&fake_array, &s), AC_ERR_REDIS);
    fake_pair("2|abcdefghijklmnop|user|pwd||1|1700043200|1|||||", "a@b.c");
    fake_array.elements = 3;
    fake_ptrs[2] = fake_ptrs[0];
    CHECK_INT(ac_session_parse(&fake_array, &s), AC_ERR_REDIS);

    memset(&err, 0, sizeof(err));
    err.type = REDIS_REPLY_ERROR;
    err.str = "WRONGTYPE";
    err.len = 9;
    CHECK_INT(ac_session_parse(&err, &s), AC_ERR_REDIS);
    CHECK_INT(ac_session_parse(NULL, &s), AC_ERR_INVALID);
}


/* ------------------------------------------------- against real Redis */

static redis_fixture_t  rf;


static redisContext *
start_redis(void)
{
    if (redis_fixture_start(&rf) != 0) {
        return NULL;
    }

    return redis_fixture_connect(&rf);
}


static void
stop_redis(void)
{
    redis_fixture_stop(&rf);
}


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


static redisReply *
runf(redisContext *c, const char *fmt, const char *arg)
{
    return redisCommand(c, fmt, arg);
}


/*
 * Beyond AC_SESSIONS_MAX sessions the one that expires first ends
 * (revoked on "P events"), so that an account hash stays small.
 */
static void
test_session_bound(redisContext *c, int64_t now)
{
    int            i, got;
    ac_cmd_t       cmd;
    redisReply    *r;
    ac_session_t   s;
    redisContext  *sub;
    char           d[AC_SESSIONS_MAX + 1][AC_DIGEST_LEN + 1];
    char           msg[64];

    sample_session(&s, now);
    freeReplyObject(runf(c, "DEL t:acct:%s", s.account));
    freeReplyObject(redisCommand(c, "HSET t:acct:%s email %s roles user "
                                 "status 0 created %lld last_login %lld",
                                 s.account, s.email, (long long) now,
                                 (long long) now));

    for (i = 0; i <= AC_SESSIONS_MAX; i++) {
        snprintf(d[i], sizeof(d[i]), "b%021d", AC_SESSIONS_MAX - i);
    }

    /* created in turn: d[0] first, so it expires first */
    for (i = 0; i < AC_SESSIONS_MAX; i++) {
        s.created = now - 200 + i;
        s.expires = s.created + cfg.session_max;
        CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d[i], &s), AC_OK);
        r = run(c, &cmd);
        CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
        freeReplyObject(r);
    }

    r = runf(c, "HLEN t:acct:%s", s.account);
    CHECK(r && r->type == REDIS_REPLY_INTEGER
          && r->integer == 5 + AC_SESSIONS_MAX);
    freeReplyObject(r);

    sub = redisConnect("127.0.0.1", c->tcp.port);
    CHECK(sub != NULL && !sub->err);
    if (sub == NULL || sub->err) {
        redisFree(sub);
        return;
    }

    freeReplyObject(redisCommand(sub, "SUBSCRIBE t:events"));

    s.created = now - 200 + AC_SESSIONS_MAX;
    s.expires = s.created + cfg.session_max;
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d[AC_SESSIONS_MAX], &s),
              AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);

    /* the oldest ended; the next one lives */
    r = redisCommand(c, "HEXISTS t:acct:%s s:%s", s.account, d[0]);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    r = redisCommand(c, "HEXISTS t:acct:%s s:%s", s.account, d[1]);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = redisCommand(c, "HEXISTS t:acct:%s s:%s", s.account,
                     d[AC_SESSIONS_MAX]);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = runf(c, "HLEN t:acct:%s", s.account);
    CHECK(r && r->type == REDIS_REPLY_INTEGER
          && r->integer == 5 + AC_SESSIONS_MAX);
    freeReplyObject(r);

    /* the revocation reached the subscribers */
    snprintf(msg, sizeof(msg), "revoke %s", d[0]);
    got = 0;
    r = NULL;
    if (redisGetReply(sub, (void **) &r) == REDIS_OK && r != NULL
        && r->type == REDIS_REPLY_ARRAY && r->elements == 3
        && r->element[2]->type == REDIS_REPLY_STRING
        && strcmp(r->element[2]->str, msg) == 0)
    {
        got = 1;
    }
    CHECK(got);
    freeReplyObject(r);
    redisFree(sub);

    /* ending them all empties the index, the account stays (with its
     * generation "g" added) */
    CHECK_INT(ac_cmd_sessions_end_all(&cmd, &cfg, s.account), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER
          && r->integer == AC_SESSIONS_MAX);
    freeReplyObject(r);
    r = runf(c, "HLEN t:acct:%s", s.account);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 6);
    freeReplyObject(r);
}


static redisReply *
hget(redisContext *c, const char *idx, const char *d)
{
    return redisCommand(c, "HGET %s s:%s", idx, d);
}


TEST(test_redis_round_trip)
{
    int64_t        now;
    ac_cmd_t       cmd;
    redisReply    *r;
    ac_session_t   s, got;
    redisContext  *c;
    char           d[AC_DIGEST_LEN + 1], d2[AC_DIGEST_LEN + 1];
    char           idx[AC_KEY_MAX];

    c = start_redis();
    CHECK(c != NULL);
    if (c == NULL) {
        stop_redis();
        return;
    }

    now = (int64_t) time(NULL);
    CHECK_INT(ac_session_digest(keys, cookie, AC_TOKEN_LEN, d), AC_OK);
    CHECK_INT(ac_session_digest(keys, cookie2, AC_TOKEN_LEN, d2), AC_OK);
    sample_session(&s, now - 120);
    snprintf(idx, sizeof(idx), "t:acct:%s", s.account);

    /* no account (erased meanwhile): refused, nothing written */
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = runf(c, "EXISTS %s", idx);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);

    r = runf(c, "HSET t:acct:%s status 0", s.account);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "HSET %s email %s", idx, s.email));

    /* stale fields are pruned at the next creation: past expiry, idle
     * too long, junk, and the previous layout's index (a bare expiry) */
    r = redisCommand(c, "HSET %s s:stale 5 s:junk x s:old %lld "
                     "s:gone 2|%s|user|pwd||1|%lld|1|||||"
                     "s:idle 2|%s|user|pwd||1|%lld|%lld|||||", idx,
                     (long long) now + 600, s.account, (long long) now - 1,
                     s.account, (long long) now + 600,
                     (long long) now - 1800);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d, &s), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);

    r = runf(c, "HLEN %s", idx);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 4);
    freeReplyObject(r);
    r = hget(c, idx, d);
    CHECK(r && r->type == REDIS_REPLY_STRING
          && strncmp(r->str, "2|abcdefghijklmnop|", 19) == 0
          && r->len < 128);
    freeReplyObject(r);
    r = runf(c, "TTL %s", idx);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == -1);
    freeReplyObject(r);
    r = redisCommand(c, "KEYS t:sess:*");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 0);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_OK);
    freeReplyObject(r);
    CHECK_STR(got.account, s.account);
    CHECK_STR(got.email, s.email);
    CHECK_INT(got.roles, s.roles);
    CHECK_INT(got.amr, s.amr);
    CHECK_STR(got.partner, "");
    CHECK_INT(got.created, s.created);
    CHECK_INT(got.expires, s.expires);
    CHECK_INT(got.last_seen, s.last_seen);
    CHECK_STR(got.ip, s.ip);
    CHECK_STR(got.device, s.device);
    CHECK_INT(got.account_status, AC_STATUS_ACTIVE);

    /* another account's id with this digest: no session */
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, "bbcdefghijklmnop", d), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_ERR_NOT_FOUND);
    freeReplyObject(r);

    /* a field of the previous layout (a bare expiry) is no session */
    freeReplyObject(redisCommand(c, "HSET %s s:%s %lld", idx, d2,
                                 (long long) now + 600));
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d2), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_ERR_REDIS);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, s.account, d2, now), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "HDEL %s s:%s", idx, d2));

    /* a locked account gets no new session: a sign-in that read the
     * account before the lock ended its sessions opens nothing after */
    freeReplyObject(runf(c, "HSET t:acct:%s status 1", s.account));
    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, d2, &s), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = redisCommand(c, "HEXISTS %s s:%s", idx, d2);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    freeReplyObject(runf(c, "HSET t:acct:%s status 0", s.account));

    /* a field set on a live session keeps the others */
    CHECK_INT(ac_cmd_session_field(&cmd, &cfg, s.account, d, "k",
                                   "12:sealed"), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = hget(c, idx, d);
    CHECK(r && r->type == REDIS_REPLY_STRING
          && strstr(r->str, "|Firefox on Linux|12:sealed|") != NULL);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_OK);
    CHECK_STR(got.email, s.email);
    freeReplyObject(r);

    /* touch: last seen renewed */
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, s.account, d, now), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_OK);
    CHECK_INT(got.last_seen, now);
    CHECK_INT(got.created, s.created);
    freeReplyObject(r);

    /* past the absolute expiry, or idle too long, a touch brings
     * nothing back */
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, s.account, d,
                                   now + cfg.session_idle), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_touch(&cmd, &cfg, s.account, d,
                                   s.expires + 1), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_OK);
    CHECK_INT(got.last_seen, now);
    freeReplyObject(r);

    /* rotate: the same session under a new id */
    CHECK_INT(ac_cmd_session_rotate(&cmd, &cfg, d, s.account, d2, "f",
                                    "1700000001"), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = redisCommand(c, "HEXISTS %s s:%s", idx, d);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d2), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_OK);
    CHECK_INT(got.fresh, 1700000001);
    CHECK_INT(got.created, s.created);
    freeReplyObject(r);

    /* delete: the field, and the account's fields that are no live
     * session (a logout sweeps its account); the account stays */
    freeReplyObject(redisCommand(c, "HSET %s s:old 5", idx));
    CHECK_INT(ac_cmd_session_delete(&cmd, &cfg, d2, s.account), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    r = runf(c, "HEXISTS %s s:old", idx);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    r = redisCommand(c, "HEXISTS %s s:%s", idx, d2);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);
    r = runf(c, "HGET %s status", idx);
    CHECK(r && r->type == REDIS_REPLY_STRING);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, s.account, d2), AC_OK);
    r = run(c, &cmd);
    CHECK_INT(ac_session_parse(r, &got), AC_ERR_NOT_FOUND);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_session_delete(&cmd, &cfg, d2, s.account), AC_OK);
    r = run(c, &cmd);
    CHECK(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);

    test_session_bound(c, now);

    redisFree(c);
    stop_redis();
}


int
main(void)
{
    setup_config();

    if (ac_init() != AC_OK
        || ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK)
    {
        printf("setup failed\n");
        return 1;
    }

    RUN(test_amr);
    RUN(test_digest);
    RUN(test_cmd_create_shape);
    RUN(test_pending_end);
    RUN(test_parse);
    RUN(test_redis_round_trip);

    ac_keys_free(keys);
    ac_done();

    return CHECK_DONE();
}
