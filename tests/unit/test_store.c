/*
 * The Redis key schema, command builders and reply parsers. The parsers
 * are first fed hand-made (and hostile) replies, then every builder is
 * run against a real redis-server started for this test.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static ac_config_t    cfg;
static ac_keys_t     *keys;
static redisContext  *rc_ctx;

#define run(cmd)      redis_fixture_run(rc_ctx, cmd)
#define run_int(cmd)  redis_fixture_int(rc_ctx, cmd)


static redisReply *
raw(const char *fmt, const char *arg)
{
    return redisCommand(rc_ctx, fmt, arg);
}


/* ------------------------------------------------ hand-made replies */

static redisReply  *pool[256];
static size_t       npool;

static redisReply *
mk(int type, const char *s, size_t len)
{
    redisReply  *r;

    r = calloc(1, sizeof(redisReply));
    if (r == NULL || npool == 256) {
        exit(2);
    }

    r->type = type;
    r->str = (char *) s;
    r->len = len;
    pool[npool++] = r;

    return r;
}

static redisReply *
mkarr(size_t n, const char **kv)
{
    size_t       i;
    redisReply  *a;

    a = mk(REDIS_REPLY_ARRAY, NULL, 0);
    a->elements = n;
    a->element = calloc(n ? n : 1, sizeof(redisReply *));
    if (a->element == NULL) {
        exit(2);
    }

    for (i = 0; i < n; i++) {
        a->element[i] = mk(REDIS_REPLY_STRING, kv[i], strlen(kv[i]));
    }

    return a;
}

static void
pool_free(void)
{
    size_t  i;

    for (i = 0; i < npool; i++) {
        if (pool[i]->type == REDIS_REPLY_ARRAY) {
            free(pool[i]->element);
        }
        free(pool[i]);
    }

    npool = 0;
}


TEST(test_cmd_helpers)
{
    int      i;
    ac_cmd_t cmd;
    char     big[AC_CMD_BUF + 10];

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "SET");
    ac_cmd_copy(&cmd, "key:1xyz", 5);
    ac_cmd_int(&cmd, -9223372036854775807LL - 1);
    ac_cmd_arg(&cmd, "a\0b", 3);
    CHECK_INT(ac_cmd_status(&cmd), AC_OK);
    CHECK_INT(cmd.argc, 4);
    CHECK_STR(cmd.argv[0], "SET");
    CHECK_INT(cmd.argvlen[1], 5);
    CHECK_STR(cmd.argv[1], "key:1");
    CHECK_STR(cmd.argv[2], "-9223372036854775808");
    CHECK_INT(cmd.argvlen[2], 20);
    CHECK_INT(cmd.argvlen[3], 3);

    ac_cmd_init(&cmd);
    for (i = 0; i < AC_CMD_ARGS; i++) {
        ac_cmd_str(&cmd, "x");
    }
    CHECK_INT(ac_cmd_status(&cmd), AC_OK);
    ac_cmd_str(&cmd, "one too many");
    CHECK_INT(ac_cmd_status(&cmd), AC_ERR_TOO_LONG);
    CHECK_INT(cmd.argc, AC_CMD_ARGS);

    memset(big, 'k', sizeof(big));
    ac_cmd_init(&cmd);
    ac_cmd_copy(&cmd, big, AC_CMD_BUF - 1);
    CHECK_INT(ac_cmd_status(&cmd), AC_OK);
    ac_cmd_copy(&cmd, big, 1);
    CHECK_INT(ac_cmd_status(&cmd), AC_ERR_TOO_LONG);

    ac_cmd_init(&cmd);
    ac_cmd_copy(&cmd, big, AC_CMD_BUF);
    CHECK_INT(ac_cmd_status(&cmd), AC_ERR_TOO_LONG);
    CHECK_INT(cmd.argc, 0);

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, NULL);
    CHECK_INT(ac_cmd_status(&cmd), AC_ERR_TOO_LONG);
}


TEST(test_keys)
{
    char         k[AC_KEY_MAX], k2[AC_KEY_MAX], arg[AC_KEY_MAX + 8];
    ac_config_t  c;

    memset(&c, 0, sizeof(c));
    c.key_prefix = "t1:";

    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, "abcdefghijklmnop", k), AC_OK);
    CHECK_STR(k, "t1:acct:abcdefghijklmnop");
    CHECK_INT(ac_key(&c, AC_K_RECOVERY, "abc", k), AC_OK);
    CHECK_STR(k, "t1:acct:abc:rc");
    CHECK_INT(ac_key(&c, AC_K_EMAIL, "Zm9v-_x", k), AC_OK);
    CHECK_STR(k, "t1:email:Zm9v-_x");
    CHECK_INT(ac_key(&c, AC_K_ACCOUNTS, NULL, k), AC_OK);
    CHECK_STR(k, "t1:accounts");
    CHECK_INT(ac_key(&c, AC_K_SESSION, "d1", k), AC_OK);
    CHECK_STR(k, "t1:sess:d1");
    CHECK_INT(ac_key(&c, AC_K_PENDING, "d2", k), AC_OK);
    CHECK_STR(k, "t1:pending:d2");
    CHECK_INT(ac_key(&c, AC_K_PARTNER, "acme.fr", k), AC_OK);
    CHECK_STR(k, "t1:partner:acme.fr");
    CHECK_INT(ac_key(&c, AC_K_PARTNERS, NULL, k), AC_OK);
    CHECK_STR(k, "t1:partners");
    CHECK_INT(ac_key(&c, AC_K_LOG, NULL, k), AC_OK);
    CHECK_STR(k, "t1:log");

    /* no argument may reach into another part of the schema */
    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, "abc:rc", k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, "", k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, NULL, k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, AC_K_SESSION, "a b", k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, AC_K_SESSION, "a*", k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, AC_K_PARTNER, "x\r\nFLUSHALL", k), AC_ERR_INVALID);
    CHECK_INT(ac_key(&c, (ac_key_kind_t) 99, "a", k), AC_ERR_INVALID);

    memset(arg, 'a', sizeof(arg));
    /* "t1:acct:" is 8 bytes: 183 more fill AC_KEY_MAX with the NUL */
    arg[AC_KEY_MAX - 8] = '\0';
    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, arg, k), AC_ERR_TOO_LONG);
    arg[AC_KEY_MAX - 9] = '\0';
    CHECK_INT(ac_key(&c, AC_K_ACCOUNT, arg, k), AC_OK);
    CHECK_INT(strlen(k), AC_KEY_MAX - 1);

    /* the email index is keyed and case-insensitive */
    CHECK_INT(ac_key_email(&c, keys, "Alice@Example.COM", k), AC_OK);
    CHECK_INT(ac_key_email(&c, keys, "alice@example.com", k2), AC_OK);
    CHECK_STR(k, k2);
    CHECK_INT(strlen(k), strlen("t1:email:") + AC_DIGEST_LEN);
    CHECK(strstr(k, "alice") == NULL);
    CHECK_INT(ac_key_email(&c, keys, "bob@example.com", k2), AC_OK);
    CHECK(strcmp(k, k2) != 0);
    CHECK_INT(ac_key_email(&c, keys, "not an email", k2), AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_key_email(&c, keys, "a@b@c", k2), AC_ERR_BAD_EMAIL);
}


TEST(test_parse_handmade)
{
    int64_t       v;
    redisReply   *r;
    ac_account_t  a;
    const char   *good[] = {
        "email", "alice@example.com", "roles", "user,admin", "created", "100",
        "pw", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        "totp_step", "123", "status", "1", "restricted", "1",
        "last_login", "200", "pw_changed", "150", "future_field", "x"
    };
    const char   *bad_status[] = { "email", "a@b.c", "status", "7" };
    const char   *bad_int[] = { "email", "a@b.c", "created", "12x" };
    const char   *neg[] = { "email", "a@b.c", "created", "-5" };
    const char   *no_email[] = { "roles", "user" };
    const char   *bad_email[] = { "email", "no-at-sign" };
    const char   *bad_roles[] = { "email", "a@b.c", "roles", "root" };
    const char   *with_id[] = { "email", "a@b.c", "id", "zzzz" };
    const char   *bad_id[] = { "email", "a@b.c", "id", "zz:rc" };
    const char   *odd[] = { "email", "a@b.c", "roles" };

    r = mkarr(20, good);
    CHECK_INT(ac_account_parse(r, "abcdefghijklmnop", &a), AC_OK);
    CHECK_STR(a.id, "abcdefghijklmnop");
    CHECK_STR(a.email, "alice@example.com");
    CHECK_INT(a.roles, AC_ROLE_USER | AC_ROLE_ADMIN);
    CHECK_INT(a.created, 100);
    CHECK_INT(a.totp_step, 123);
    CHECK_INT(a.status, AC_STATUS_LOCKED);
    CHECK_INT(a.restricted, 1);
    CHECK_INT(a.last_login, 200);
    CHECK_INT(a.pw_changed, 150);
    CHECK_STR(a.pw, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    CHECK_STR(a.totp, "");

    CHECK_INT(ac_account_parse(mkarr(4, with_id), "other", &a), AC_OK);
    CHECK_STR(a.id, "zzzz");

    CHECK_INT(ac_account_parse(mkarr(0, NULL), "x", &a), AC_ERR_NOT_FOUND);
    CHECK_INT(ac_account_parse(mk(REDIS_REPLY_NIL, NULL, 0), "x", &a),
              AC_ERR_NOT_FOUND);
    CHECK_INT(ac_account_parse(mk(REDIS_REPLY_ERROR, "ERR x", 5), "x", &a),
              AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mk(REDIS_REPLY_INTEGER, NULL, 0), "x", &a),
              AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(NULL, "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(3, odd), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(4, bad_status), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(4, bad_int), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(4, neg), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(2, no_email), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(2, bad_email), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(4, bad_roles), "x", &a), AC_ERR_REDIS);
    CHECK_INT(ac_account_parse(mkarr(4, bad_id), NULL, &a), AC_ERR_REDIS);
    /* no id anywhere */
    CHECK_INT(ac_account_parse(mkarr(2, bad_status), NULL, &a),
              AC_ERR_REDIS);

    /* an element that is not a string, and a value with a NUL byte */
    r = mkarr(4, with_id);
    r->element[3]->type = REDIS_REPLY_INTEGER;
    CHECK_INT(ac_account_parse(r, "x", &a), AC_ERR_REDIS);
    r = mkarr(2, bad_email);
    r->element[1] = mk(REDIS_REPLY_STRING, "a@b.c\0evil", 10);
    CHECK_INT(ac_account_parse(r, "x", &a), AC_ERR_REDIS);
    /* a value larger than its field */
    {
        static char  huge[400];
        memset(huge, 'p', sizeof(huge) - 1);
        r = mkarr(2, bad_email);
        r->element[1] = mk(REDIS_REPLY_STRING, huge, sizeof(huge) - 1);
        r->element[0] = mk(REDIS_REPLY_STRING, "pw", 2);
        CHECK_INT(ac_account_parse(r, "x", &a), AC_ERR_REDIS);
    }

    r = mk(REDIS_REPLY_INTEGER, NULL, 0);
    r->integer = 42;
    CHECK_INT(ac_reply_integer(r, &v), AC_OK);
    CHECK_INT(v, 42);
    CHECK_INT(ac_reply_integer(mk(REDIS_REPLY_STRING, "42", 2), &v),
              AC_ERR_REDIS);
    CHECK_INT(ac_reply_integer(mk(REDIS_REPLY_ERROR, "ERR", 3), &v),
              AC_ERR_REDIS);
    CHECK_INT(ac_reply_integer(NULL, &v), AC_ERR_REDIS);

    CHECK_INT(ac_reply_ok(mk(REDIS_REPLY_STATUS, "OK", 2)), AC_OK);
    CHECK_INT(ac_reply_ok(mk(REDIS_REPLY_STRING, "OK", 2)), AC_OK);
    CHECK_INT(ac_reply_ok(mk(REDIS_REPLY_STATUS, "OKAY", 4)), AC_ERR_REDIS);
    CHECK_INT(ac_reply_ok(mk(REDIS_REPLY_ERROR, "OK", 2)), AC_ERR_REDIS);
    CHECK_INT(ac_reply_ok(mk(REDIS_REPLY_NIL, NULL, 0)), AC_ERR_REDIS);
    CHECK_INT(ac_reply_ok(NULL), AC_ERR_REDIS);

    pool_free();
}


/* ------------------------------------------------------- real Redis */

static void
make_account(ac_account_t *a, const char *id, const char *email)
{
    memset(a, 0, sizeof(ac_account_t));
    strcpy(a->id, id);
    strcpy(a->email, email);
    a->roles = AC_ROLE_USER | AC_ROLE_SECURITY;
    strcpy(a->pw, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g");
    a->created = 1700000000;
}


TEST(test_redis_accounts)
{
    redisReply   *r;
    ac_cmd_t      cmd;
    ac_account_t  a, b;

    make_account(&a, "aaaaaaaaaaaaaaaa", "alice@example.com");
    a.last_login = 1700000500;

    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* the same email, whatever its case, and the same id are taken */
    make_account(&b, "bbbbbbbbbbbbbbbb", "alice@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &b), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    make_account(&b, "aaaaaaaaaaaaaaaa", "other@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &b), AC_OK);
    CHECK_INT(run_int(&cmd), 0);

    /* callers must normalise first */
    make_account(&b, "cccccccccccccccc", "Carol@Example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &b), AC_ERR_BAD_EMAIL);
    make_account(&b, "cc:rc", "carol@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &b), AC_ERR_INVALID);

    /* lookup by email, in another case */
    CHECK_INT(ac_cmd_account_by_email(&cmd, &cfg, keys, "ALICE@example.COM"),
              AC_OK);
    r = run(&cmd);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_INT(ac_account_parse(r, NULL, &b), AC_OK);
        CHECK_STR(b.id, a.id);
        CHECK_STR(b.email, a.email);
        CHECK_INT(b.roles, a.roles);
        CHECK_STR(b.pw, a.pw);
        CHECK_INT(b.created, a.created);
        CHECK_INT(b.last_login, a.last_login);
        CHECK_INT(b.pw_changed, a.created);
        CHECK_INT(b.status, AC_STATUS_ACTIVE);
        CHECK_INT(b.restricted, 0);
        CHECK_STR(b.totp, "");
        CHECK_INT(b.totp_step, 0);
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_account_by_email(&cmd, &cfg, keys, "nobody@example.com"),
              AC_OK);
    r = run(&cmd);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_INT(ac_account_parse(r, NULL, &b), AC_ERR_NOT_FOUND);
        freeReplyObject(r);
    }

    /* by id, after changing fields */
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "status", "1"), AC_OK);
    CHECK(run_int(&cmd) >= 0);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "roles", "admin"), AC_OK);
    CHECK(run_int(&cmd) >= 0);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "email", "x@y.z"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "id", "x"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "status", "locked"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "last_login", "-1"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_set(&cmd, &cfg, a.id, "last_login", ""),
              AC_ERR_INVALID);

    CHECK_INT(ac_cmd_account_get(&cmd, &cfg, a.id), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL);
    if (r != NULL) {
        CHECK_INT(ac_account_parse(r, a.id, &b), AC_OK);
        CHECK_STR(b.id, a.id);
        CHECK_INT(b.status, AC_STATUS_LOCKED);
        CHECK_INT(b.roles, AC_ROLE_ADMIN);
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_account_get(&cmd, &cfg, "zzzzzzzzzzzzzzzz"), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK_INT(ac_account_parse(r, "zzzzzzzzzzzzzzzz", &b),
                  AC_ERR_NOT_FOUND);
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_accounts_list(&cmd, &cfg), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        CHECK_STR(r->element[0]->str, a.id);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* the email is stored only inside the account, not in any key */
    r = raw("KEYS %s", "*alice*");
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }
}


TEST(test_redis_totp_step)
{
    redisReply     *r;
    ac_cmd_t        cmd;
    ac_account_t    a, b;
    unsigned char   secret[AC_TOTP_SECRET_LEN];
    char            sealed[AC_SEALED_LEN(AC_TOTP_SECRET_LEN) + 1];
    const char     *id = "tttttttttttttttt";

    make_account(&a, id, "totp@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    memset(secret, 0x5a, sizeof(secret));
    CHECK_INT(ac_seal(keys, secret, sizeof(secret), id, sealed,
                      sizeof(sealed)), AC_OK);
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, id, sealed, 0, NULL), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, 56666666), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(run_int(&cmd), 0);           /* the same step: a replay */
    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, 56666665), AC_OK);
    CHECK_INT(run_int(&cmd), 0);           /* an older one */
    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, 56666667), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    CHECK_INT(ac_cmd_account_get(&cmd, &cfg, id), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK_INT(ac_account_parse(r, id, &b), AC_OK);
        CHECK_STR(b.totp, sealed);
        CHECK_INT(b.totp_step, 56666667);
        freeReplyObject(r);
    }

    /* enrolling again starts a new sequence */
    CHECK_INT(ac_cmd_totp_enable(&cmd, &cfg, id, sealed, 0, NULL), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, 100), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* no account: nothing created */
    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, "nnnnnnnnnnnnnnnn", 100), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    r = raw("EXISTS %s", "test:acct:nnnnnnnnnnnnnnnn");
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, 0), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_totp_step(&cmd, &cfg, id, -1), AC_ERR_INVALID);
}


TEST(test_redis_rehash)
{
    redisReply    *r;
    ac_cmd_t       cmd;
    ac_account_t   a;
    const char    *id = "hhhhhhhhhhhhhhhh";
    const char    *newer = "$argon2id$v=19$m=8192,t=2,p=1$c2FsdA$aGFzaA";

    make_account(&a, id, "rehash@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* a hash that is no longer the account's: the newer one stays */
    CHECK_INT(ac_cmd_account_rehash(&cmd, &cfg, id, "$argon2id$other",
                                    newer), AC_OK);
    CHECK_INT(run_int(&cmd), 0);

    CHECK_INT(ac_cmd_account_rehash(&cmd, &cfg, id, a.pw, newer), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    r = raw("HGET %s pw", "test:acct:hhhhhhhhhhhhhhhh");
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, newer) == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_account_rehash(&cmd, &cfg, id, a.pw, "plain"),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_rehash(&cmd, &cfg, id, "", newer),
              AC_ERR_INVALID);
}


TEST(test_redis_sessions_end_all)
{
    redisReply  *r;
    ac_cmd_t     cmd;
    const char  *id = "ssssssssssssssss";

    freeReplyObject(redisCommand(rc_ctx, "HSET test:acct:%s email a@b.c "
                                 "s:d1 2|%s|user|pwd||1|1|1||||| "
                                 "s:d2 2|%s|user|pwd||1|9999999999|"
                                 "9999990000||||| s:gone 3 sx keep", id, id,
                                 id));
    freeReplyObject(redisCommand(rc_ctx, "HSET test:acct:other email x "
                                 "s:d3 2|other|user|pwd||1|9999999999|"
                                 "9999990000|||||"));

    /* live at 4: d2 only; d1 is past its expiry, gone is of the
     * previous layout */
    CHECK_INT(ac_cmd_sessions_count(&cmd, &cfg, id, 4), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_sessions_count(&cmd, &cfg, id, 0), AC_OK);
    CHECK_INT(run_int(&cmd), 2);

    CHECK_INT(ac_cmd_sessions_end_all(&cmd, &cfg, id), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(run_int(&cmd), 0);

    /* the index fields are gone, the account and its other fields stay;
     * its generation moved on, once per call (pending second-factor
     * states die) */
    r = redisCommand(rc_ctx, "HKEYS test:acct:%s", id);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    if (r != NULL) {
        freeReplyObject(r);
    }

    r = redisCommand(rc_ctx, "HGET test:acct:%s g", id);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, "2") == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    r = redisCommand(rc_ctx, "HMGET test:acct:%s email sx", id);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2
          && r->element[0]->type == REDIS_REPLY_STRING
          && r->element[1]->type == REDIS_REPLY_STRING);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_sessions_count(&cmd, &cfg, id, 0), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_sessions_count(&cmd, &cfg, "nnnnnnnnnnnnnnnn", 0),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_sessions_count(&cmd, &cfg, "a:b", 0), AC_ERR_INVALID);

    freeReplyObject(redisCommand(rc_ctx, "DEL test:acct:%s", id));

    r = redisCommand(rc_ctx, "HEXISTS test:acct:other s:d3");
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_sessions_end_all(&cmd, &cfg, "a:b"), AC_ERR_INVALID);
}


/* the TOTP check every door uses: the account's sealed secret, its step */
TEST(test_account_totp_check)
{
    int64_t        step;
    ac_account_t   a;
    unsigned char  secret[AC_TOTP_SECRET_LEN];
    char           code[16], wrong[16];
    const time_t   now = 1700000000;

    memset(&a, 0, sizeof(a));
    memcpy(a.id, "kkkkkkkkkkkkkkkk", AC_ID_LEN);
    CHECK_INT(ac_account_totp_check(keys, &a, "123456", 6, now, &step),
              AC_ERR_NOT_FOUND);

    memset(secret, 0x33, sizeof(secret));
    CHECK_INT(ac_seal(keys, secret, sizeof(secret), a.id, a.totp,
                      sizeof(a.totp)), AC_OK);
    CHECK_INT(ac_totp(secret, sizeof(secret), AC_OTP_SHA1, now, 30, 6, code),
              AC_OK);
    memcpy(wrong, code, sizeof(wrong));
    wrong[0] = (char) (wrong[0] == '9' ? '0' : wrong[0] + 1);

    CHECK_INT(ac_account_totp_check(keys, &a, code, 6, now, &step), AC_OK);
    CHECK(step == now / 30);
    CHECK_INT(ac_account_totp_check(keys, &a, wrong, 6, now, &step),
              AC_ERR_MISMATCH);

    /* the step already accepted: a replay */
    a.totp_step = now / 30;
    CHECK_INT(ac_account_totp_check(keys, &a, code, 6, now, &step),
              AC_ERR_REPLAY);

    /* sealed for another account: it does not open */
    a.totp_step = 0;
    memcpy(a.id, "llllllllllllllll", AC_ID_LEN);
    CHECK_INT(ac_account_totp_check(keys, &a, code, 6, now, &step),
              AC_ERR_KEY);
}


/* a password change: the hash and every session ended in one step */
TEST(test_redis_password_set)
{
    redisReply  *r;
    ac_cmd_t     cmd;
    const char  *id = "pppppppppppppppp";

    freeReplyObject(redisCommand(rc_ctx, "HSET test:acct:%s email a@b.c "
                                 "pw old pw_changed 5 s:d1 2|%s|user|pwd||"
                                 "1|9999999999|9999990000|||||", id, id));

    CHECK_INT(ac_cmd_password_set(&cmd, &cfg, id, "$argon2id$new", 1234),
              AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    r = redisCommand(rc_ctx, "HMGET test:acct:%s pw pw_changed g s:d1",
                     id);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 4);
    if (r != NULL && r->elements == 4) {
        CHECK(r->element[0]->type == REDIS_REPLY_STRING
              && strcmp(r->element[0]->str, "$argon2id$new") == 0);
        CHECK(r->element[1]->type == REDIS_REPLY_STRING
              && strcmp(r->element[1]->str, "1234") == 0);
        CHECK(r->element[2]->type == REDIS_REPLY_STRING
              && strcmp(r->element[2]->str, "1") == 0);
        CHECK(r->element[3]->type == REDIS_REPLY_NIL);
    }
    if (r != NULL) {
        freeReplyObject(r);
    }

    /* an account erased meanwhile is not brought back by its password */
    CHECK_INT(ac_cmd_password_set(&cmd, &cfg, "gggggggggggggggg", "$x", 1),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    r = redisCommand(rc_ctx, "EXISTS test:acct:gggggggggggggggg");
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    if (r != NULL) {
        freeReplyObject(r);
    }

    freeReplyObject(redisCommand(rc_ctx, "DEL test:acct:%s", id));
}


TEST(test_redis_recovery)
{
    int          i;
    char         d1[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];
    char         d2[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];
    char         code[32];
    ac_cmd_t     cmd;
    ac_account_t a;
    const char  *id = "rrrrrrrrrrrrrrrr";

    for (i = 0; i < AC_RECOVERY_COUNT; i++) {
        snprintf(code, sizeof(code), "first-%d", i);
        ac_digest(keys, AC_PURPOSE_RECOVERY, code, strlen(code), d1[i]);
        snprintf(code, sizeof(code), "second-%d", i);
        ac_digest(keys, AC_PURPOSE_RECOVERY, code, strlen(code), d2[i]);
    }

    /* no account, no codes */
    CHECK_INT(ac_cmd_recovery_replace(&cmd, &cfg, id, d1), AC_OK);
    CHECK_INT(run_int(&cmd), 0);

    make_account(&a, id, "codes@example.com");
    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    CHECK_INT(ac_cmd_recovery_replace(&cmd, &cfg, id, d1), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT);
    CHECK_INT(ac_cmd_recovery_count(&cmd, &cfg, id), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT);

    /* each code works exactly once */
    CHECK_INT(ac_cmd_recovery_use(&cmd, &cfg, id, d1[3]), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_recovery_count(&cmd, &cfg, id), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT - 1);

    /* new codes void the old ones */
    CHECK_INT(ac_cmd_recovery_replace(&cmd, &cfg, id, d2), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT);
    CHECK_INT(ac_cmd_recovery_use(&cmd, &cfg, id, d1[4]), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_recovery_use(&cmd, &cfg, id, d2[4]), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_recovery_count(&cmd, &cfg, id), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT - 1);

    CHECK_INT(ac_cmd_recovery_use(&cmd, &cfg, id, "short"), AC_ERR_INVALID);
    d2[2][5] = '\0';
    CHECK_INT(ac_cmd_recovery_replace(&cmd, &cfg, id, d2), AC_ERR_INVALID);
}


static char *
ec_pem(void)
{
    BIO       *bio;
    EVP_PKEY  *k;
    char      *data, *pem;
    long       n;

    k = EVP_EC_gen("P-256");
    bio = BIO_new(BIO_s_mem());
    if (k == NULL || bio == NULL || !PEM_write_bio_PUBKEY(bio, k)) {
        exit(2);
    }

    n = BIO_get_mem_data(bio, &data);
    pem = strndup(data, n);
    BIO_free(bio);
    EVP_PKEY_free(k);

    return pem;
}


static int
reply_contains(const redisReply *r, const char *needle, size_t len)
{
    size_t  i;

    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements; i++) {
            if (reply_contains(r->element[i], needle, len)) {
                return 1;
            }
        }
        return 0;
    }

    return r->str != NULL && memmem(r->str, r->len, needle, len) != NULL;
}


TEST(test_redis_partners)
{
    char          *pem;
    char           scratch[AC_SEALED_LEN(AC_PARTNER_KEY_MAX) + 1];
    int64_t        n;
    redisReply    *r;
    ac_cmd_t       cmd;
    ac_partner_t   p, q;
    static const char  secret[] = "Xk3v9Qw2Lr8Tz5Np1Jm7Hb4Gc6Fd0Sa-";

    memset(&p, 0, sizeof(p));
    strcpy(p.id, "acme");
    p.alg = AC_ALG_HS256;
    memcpy(p.key, secret, 32);
    p.keylen = 32;
    p.provision = 1;
    p.created = 1700000000;

    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, scratch, 10),
              AC_ERR_TOO_LONG);
    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, scratch,
                                 sizeof(scratch)), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(run_int(&cmd), 0);

    /* sealed at rest: the raw hash never shows the secret */
    r = raw("HGETALL %s", "test:partner:acme");
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 10);
    if (r != NULL) {
        CHECK(!reply_contains(r, secret, 32));
        CHECK(!reply_contains(r, secret, 12));
        CHECK(reply_contains(r, "HS256", 5));
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_partner_get(&cmd, &cfg, "acme"), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK_INT(ac_partner_parse(r, keys, "acme", &q), AC_OK);
        CHECK_STR(q.id, "acme");
        CHECK_INT(q.alg, AC_ALG_HS256);
        CHECK_INT(q.keylen, 32);
        CHECK(memcmp(q.key, secret, 32) == 0);
        CHECK_INT(q.provision, 1);
        CHECK_INT(q.require_2fa, 0);
        CHECK_INT(q.created, 1700000000);
        freeReplyObject(r);
    }

    /* a sealed secret copied to another partner does not open there */
    freeReplyObject(redisCommand(rc_ctx, "COPY test:partner:acme "
                                 "test:partner:evil"));
    CHECK_INT(ac_cmd_partner_get(&cmd, &cfg, "evil"), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK(ac_partner_parse(r, keys, "evil", &q) != AC_OK);
        CHECK_INT(q.keylen, 0);
        freeReplyObject(r);
    }

    /* public key partner */
    pem = ec_pem();
    memset(&p, 0, sizeof(p));
    strcpy(p.id, "caf-nord");
    p.alg = AC_ALG_ES256;
    p.keylen = strlen(pem);
    memcpy(p.key, pem, p.keylen);
    p.require_2fa = 1;
    p.created = 1700000001;

    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, NULL, 0), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_partner_get(&cmd, &cfg, "caf-nord"), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK_INT(ac_partner_parse(r, keys, "caf-nord", &q), AC_OK);
        CHECK_INT(q.alg, AC_ALG_ES256);
        CHECK_STR(q.key, pem);
        CHECK_INT(q.require_2fa, 1);
        CHECK_INT(q.provision, 0);
        freeReplyObject(r);
    }

    /* refused before anything is sent */
    memcpy(p.key, pem, p.keylen);
    p.alg = AC_ALG_HS256;
    strcpy(p.id, "confused");
    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, scratch,
                                 sizeof(scratch)), AC_ERR_KEY);
    strcpy(p.id, "Bad:Id");
    p.alg = AC_ALG_ES256;
    CHECK_INT(ac_cmd_partner_add(&cmd, &cfg, keys, &p, NULL, 0),
              AC_ERR_INVALID);
    free(pem);

    CHECK_INT(ac_cmd_partners_list(&cmd, &cfg), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_partner_remove(&cmd, &cfg, "acme"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_partner_remove_reply(r, &n), AC_OK);
    CHECK_INT(n, 0);
    if (r != NULL) {
        freeReplyObject(r);
    }
    r = run(&cmd);
    CHECK_INT(ac_partner_remove_reply(r, NULL), AC_ERR_NOT_FOUND);
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_partner_get(&cmd, &cfg, "acme"), AC_OK);
    r = run(&cmd);
    if (r != NULL) {
        CHECK_INT(ac_partner_parse(r, keys, "acme", &q), AC_ERR_NOT_FOUND);
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_partners_list(&cmd, &cfg), AC_OK);
    r = run(&cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        CHECK_STR(r->element[0]->str, "caf-nord");
    }
    if (r != NULL) {
        freeReplyObject(r);
    }

    CHECK_INT(ac_cmd_partner_remove(&cmd, &cfg, "../x"), AC_ERR_INVALID);
}


int
main(void)
{
    int               status;
    unsigned char     secret[AC_SECRET_MIN];
    redis_fixture_t   rf;

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "test:";

    memset(secret, 0x42, sizeof(secret));
    if (ac_init() != AC_OK
        || ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK)
    {
        printf("cannot derive keys\n");
        return 1;
    }

    RUN(test_cmd_helpers);
    RUN(test_keys);
    RUN(test_parse_handmade);

    if (redis_fixture_start(&rf) != 0) {
        printf("FAIL redis-server did not start\n");
        check_failed++;

    } else {
        rc_ctx = redis_fixture_connect(&rf);
        if (rc_ctx == NULL) {
            printf("FAIL cannot connect to redis-server\n");
            check_failed++;

        } else {
            RUN(test_redis_accounts);
            RUN(test_redis_totp_step);
            RUN(test_redis_rehash);
            RUN(test_redis_sessions_end_all);
    RUN(test_redis_password_set);
    RUN(test_account_totp_check);
            RUN(test_redis_recovery);
            RUN(test_redis_partners);
            redisFree(rc_ctx);
        }

        redis_fixture_stop(&rf);
    }

    ac_keys_free(keys);
    ac_done();

    status = CHECK_DONE();
    return status;
}
