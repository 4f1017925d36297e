/*
 * Privacy rights on accounts against a real redis-server: erasure leaves
 * nothing readable about the person while the log still verifies;
 * export holds the personal data and no secret; retention, restriction
 * and rename.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <authcore.h>
#include "internal.h"

#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "account-test-secret-0123456789ab";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;

#define run(cmd)      redis_fixture_run(rc, cmd)
#define run_int(cmd)  redis_fixture_int(rc, cmd)
static int               have_redis;
static int               scan_quiet;

#define EMAIL     "alice@example.com"
#define EMAIL2    "bob@example.com"
#define IP        "198.51.100.23"
#define UA        "Mozilla/5.0 \"evil\"\x01 agent"
#define PHC       "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$" \
                  "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


static redisReply *
cmdf(const char *fmt, const char *a, const char *b)
{
    return redisCommand(rc, fmt, a, b);
}


static void
account_make(const char *id, const char *email, int64_t created,
    int64_t last_login)
{
    ac_cmd_t      cmd;
    ac_account_t  a;

    memset(&a, 0, sizeof(a));
    memcpy(a.id, id, AC_ID_LEN + 1);
    strcpy(a.email, email);
    a.roles = AC_ROLE_USER;
    strcpy(a.pw, PHC);
    strcpy(a.totp, "v1.c2VhbGVkLXRvdHAtc2VjcmV0");
    a.created = created;
    a.last_login = last_login;

    CHECK_INT(ac_cmd_account_create(&cmd, &cfg, keys, &a), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
}


static void
session_make(const char *id, const char *email, const char *digest)
{
    ac_cmd_t      cmd;
    ac_session_t  s;
    int64_t       now;

    now = time(NULL);
    memset(&s, 0, sizeof(s));
    strcpy(s.account, id);
    strcpy(s.email, email);
    s.roles = AC_ROLE_USER;
    s.amr = AC_AMR_PWD | AC_AMR_OTP;
    s.created = now - 10;
    s.expires = now + 3600;
    s.last_seen = now;
    strcpy(s.ip, IP);
    strcpy(s.device, "Firefox on Linux");

    CHECK_INT(ac_cmd_session_create(&cmd, &cfg, digest, &s), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
}


static void
log_event(const char *id, ac_event_kind_t kind, const char *email)
{
    int             i, r;
    uint64_t        seq;
    ac_cmd_t        cmd;
    ac_event_t      ev;
    redisReply     *reply;
    struct timeval  tv;
    unsigned char   hash[AC_MAC_LEN], key[AC_LOG_KEY_LEN];
    char            sealed[AC_LOG_KEY_SEALED_MAX];

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.email = email;
    ev.email_len = strlen(email);
    ev.ip = IP;
    ev.ip_len = strlen(IP);
    ev.ua = UA;
    ev.ua_len = strlen(UA);

    if (id != NULL) {
        CHECK_INT(ac_log_key_new(keys, id, key, sealed), AC_OK);
        CHECK_INT(ac_cmd_log_key_init(&cmd, &cfg, id, sealed), AC_OK);
        reply = run(&cmd);
        CHECK(reply != NULL && reply->type == REDIS_REPLY_STRING);
        if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
            if (reply != NULL) {
                freeReplyObject(reply);
            }
            return;
        }
        CHECK_INT(ac_log_key_unseal(keys, id, reply->str, reply->len, key),
                  AC_OK);
        freeReplyObject(reply);
        ev.account = id;
        ev.account_len = strlen(id);
        ev.log_key = key;
    }

    CHECK_INT(ac_cmd_log_head(&cmd, &cfg), AC_OK);
    reply = run(&cmd);
    CHECK_INT(ac_log_head_parse(reply, &seq, hash), AC_OK);
    freeReplyObject(reply);

    for (i = 0; i < AC_LOG_RETRIES; i++) {
        gettimeofday(&tv, NULL);
        CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, seq, hash,
                  (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000, NULL),
                  AC_OK);
        reply = run(&cmd);
        r = ac_log_append_reply(reply, &seq, hash);
        freeReplyObject(reply);
        if (r != AC_LOG_CONFLICT) {
            CHECK_INT(r, AC_OK);
            break;
        }
    }
}


/* Walks the log from the checkpoint; 1 when every entry and the head
 * verify. */
static int
log_verifies(void)
{
    int            ok;
    size_t         i;
    uint64_t       seq, hseq;
    ac_cmd_t       cmd;
    redisReply    *r;
    unsigned char  hash[AC_MAC_LEN], hhash[AC_MAC_LEN];

    ac_cmd_log_checkpoint(&cmd, &cfg);
    r = run(&cmd);
    ok = ac_log_head_parse(r, &seq, hash) == AC_OK;
    freeReplyObject(r);

    r = redisCommand(rc, "XRANGE t:log - +");
    for (i = 0; ok && i < r->elements; i++) {
        ok = ac_log_verify_entry(keys, seq, hash, r->element[i], &seq, hash)
             == AC_OK;
    }
    freeReplyObject(r);

    ac_cmd_log_head(&cmd, &cfg);
    r = run(&cmd);
    ok = ok && ac_log_head_parse(r, &hseq, hhash) == AC_OK && hseq == seq
         && memcmp(hhash, hash, AC_MAC_LEN) == 0;
    freeReplyObject(r);

    return ok;
}


#define report(...)  do { if (!scan_quiet) printf(__VA_ARGS__); } while (0)


static int
has(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}


/* Every key, field, member, value and stream entry of the database:
 * how many hold one of the needles. Stream field "a" (the pseudonymous
 * id, kept for the chain) is allowed when allow_log_id is set. */
static int
scan_for(const char *n1, const char *n2, const char *n3, int allow_log_id)
{
    int          found;
    size_t       i, j, k;
    redisReply  *keys_r, *t, *v, *e;
    const char  *needles[3];

    needles[0] = n1;
    needles[1] = n2;
    needles[2] = n3;
    found = 0;

    keys_r = redisCommand(rc, "KEYS *");

    for (i = 0; i < keys_r->elements; i++) {
        const char *key = keys_r->element[i]->str;

        for (k = 0; k < 3; k++) {
            if (needles[k] && strstr(key, needles[k])) {
                report("    key %s holds %s\n", key, needles[k]);
                found++;
            }
        }

        t = redisCommand(rc, "TYPE %s", key);

        if (strcmp(t->str, "hash") == 0) {
            v = redisCommand(rc, "HGETALL %s", key);
        } else if (strcmp(t->str, "set") == 0) {
            v = redisCommand(rc, "SMEMBERS %s", key);
        } else if (strcmp(t->str, "zset") == 0) {
            v = redisCommand(rc, "ZRANGE %s 0 -1", key);
        } else if (strcmp(t->str, "string") == 0) {
            v = redisCommand(rc, "GET %s", key);
        } else {
            v = redisCommand(rc, "XRANGE %s - +", key);
        }

        if (v->type == REDIS_REPLY_STRING) {
            for (k = 0; k < 3; k++) {
                if (needles[k] && has(v->str, v->len, needles[k])) {
                    report("    %s value holds %s\n", key, needles[k]);
                    found++;
                }
            }

        } else if (strcmp(t->str, "stream") == 0) {
            for (j = 0; j < v->elements; j++) {
                e = v->element[j]->element[1];
                for (size_t f = 0; f + 1 < e->elements; f += 2) {
                    if (allow_log_id && strcmp(e->element[f]->str, "a") == 0)
                    {
                        continue;
                    }
                    for (k = 0; k < 3; k++) {
                        if (needles[k]
                            && has(e->element[f + 1]->str,
                                   e->element[f + 1]->len, needles[k]))
                        {
                            report("    log entry field %s holds %s\n",
                                   e->element[f]->str, needles[k]);
                            found++;
                        }
                    }
                }
            }

        } else {
            for (j = 0; j < v->elements; j++) {
                for (k = 0; k < 3; k++) {
                    if (needles[k]
                        && has(v->element[j]->str, v->element[j]->len,
                               needles[k]))
                    {
                        report("    %s member holds %s\n", key, needles[k]);
                        found++;
                    }
                }
            }
        }

        freeReplyObject(v);
        freeReplyObject(t);
    }

    freeReplyObject(keys_r);

    return found;
}


TEST(test_builders_refuse_bad_input)
{
    ac_cmd_t  cmd, cmds[AC_EXPORT_NCMDS];
    char      scratch[AC_INVITE_MAX];

    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, "short", EMAIL),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, "abcdefghijklmno:",
              EMAIL), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, NULL, EMAIL),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, "abcdefghijklmnop",
              "Alice@Example.com"), AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, "abcdefghijklmnop",
              "no-at-sign"), AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_cmd_account_erase_idle(&cmd, &cfg, keys,
              "abcdefghijklmnop", EMAIL, -1), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_rename(&cmd, &cfg, keys, "abcdefghijklmnop",
              EMAIL, EMAIL), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_account_rename(&cmd, &cfg, keys, "abcdefghijklmnop",
              EMAIL, "a b@example.com"), AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_cmd_account_restrict(&cmd, &cfg, "../../etc", 1),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_retention_scan(&cmd, &cfg, 0, 0, 10), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_retention_scan(&cmd, &cfg, 100, -1, 10),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, "abcdefghijklmnop",
              "Bad Partner", 1), AC_ERR_INVALID);
    CHECK_INT(ac_cmd_invitation_add(&cmd, &cfg, keys, "p1", "x@", 1,
              scratch), AC_ERR_BAD_EMAIL);
    CHECK_INT(ac_cmd_account_export(cmds, &cfg, keys, "abcdefghijklmnop",
              "ALICE@example.com"), AC_ERR_BAD_EMAIL);

    /* an email is never a key argument: only its digest is */
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, "abcdefghijklmnop",
              EMAIL), AC_OK);
    for (int i = 0; i < 8; i++) {
        CHECK(strstr(cmd.argv[3 + i], "alice") == NULL);
    }
}


TEST(test_erase_replies)
{
    redisReply  r, e0, e1, *el[2];
    int64_t     n;

    memset(&r, 0, sizeof(r));
    r.type = REDIS_REPLY_INTEGER;
    r.integer = 0;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_NOT_FOUND);
    r.integer = -1;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_EXISTS);
    r.integer = -2;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_MISMATCH);
    r.integer = 7;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_REDIS);
    CHECK_INT(ac_account_erase_reply(NULL, &n), AC_ERR_REDIS);

    memset(&e0, 0, sizeof(e0));
    memset(&e1, 0, sizeof(e1));
    e0.type = REDIS_REPLY_INTEGER;
    e0.integer = 1;
    e1.type = REDIS_REPLY_INTEGER;
    e1.integer = 3;
    el[0] = &e0;
    el[1] = &e1;
    r.type = REDIS_REPLY_ARRAY;
    r.elements = 2;
    r.element = el;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_OK);
    CHECK_INT(n, 3);
    e1.integer = -3;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_REDIS);

    r.type = REDIS_REPLY_ERROR;
    CHECK_INT(ac_account_erase_reply(&r, &n), AC_ERR_REDIS);
    CHECK_INT(ac_account_rename_reply(&r), AC_ERR_REDIS);
}


static void
seed_alice(const char *id, const char *id2)
{
    ac_cmd_t        cmd;
    redisReply     *r;
    char            codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1];
    char            digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];
    char            scratch[AC_INVITE_MAX];
    ac_throttle_t   t;

    account_make(id, EMAIL, 1000, 2000);
    account_make(id2, EMAIL2, 1000, 2000);
    session_make(id, EMAIL, "sessAAAAAAAAAAAAAAAAAA");
    session_make(id, EMAIL, "sessBBBBBBBBBBBBBBBBBB");
    session_make(id2, EMAIL2, "sessCCCCCCCCCCCCCCCCCC");

    /* a session records its sign-in as last_login: back to a fixed date
     * for the export's expected text */
    r = redisCommand(rc, "HSET t:acct:%s last_login 2000", id);
    CHECK(r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0);
    freeReplyObject(r);

    CHECK_INT(ac_recovery_generate(keys, codes, digests), AC_OK);
    CHECK_INT(ac_cmd_recovery_replace(&cmd, &cfg, id, digests), AC_OK);
    CHECK_INT(run_int(&cmd), AC_RECOVERY_COUNT);

    CHECK_INT(ac_cmd_partner_link(&cmd, &cfg, id, "acme", 1500), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_invitation_add(&cmd, &cfg, keys, "acme", EMAIL, 1400,
              scratch), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_invitation_add(&cmd, &cfg, keys, "acme", EMAIL, 1401,
              scratch), AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    CHECK_INT(ac_cmd_invitation_add(&cmd, &cfg, keys, "globex", EMAIL, 1450,
              scratch), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_invitation_add(&cmd, &cfg, keys, "acme", EMAIL2, 1460,
              scratch), AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    /* throttle counters of the email and of the second factor */
    CHECK_INT(ac_throttle_keys(&cfg, keys, EMAIL, strlen(EMAIL), IP, &t),
              AC_OK);
    CHECK_INT(ac_throttle_add(&cfg, keys, &t, AC_THR_SECOND, id,
                              strlen(id)), AC_OK);
    CHECK_INT(ac_cmd_throttle_reserve(&cmd, &cfg, &t, time(NULL)), AC_OK);
    freeReplyObject(run(&cmd));

    log_event(id, AC_EV_LOGIN_SUCCESS, EMAIL);
    log_event(id2, AC_EV_LOGIN_SUCCESS, EMAIL2);
    log_event(NULL, AC_EV_LOGIN_FAILURE, "mallory@example.com");
    log_event(id, AC_EV_LOGOUT, EMAIL);
}


TEST(test_erase_leaves_nothing_readable)
{
    int64_t          n;
    size_t           i;
    ac_cmd_t         cmd;
    redisReply      *r;
    redisContext    *sub;
    ac_log_entry_t   e;
    const char      *id = "aaaaaaaaaaaaaaaa", *id2 = "bbbbbbbbbbbbbbbb";
    char             msgs[4][64];
    int              nmsg;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));
    seed_alice(id, id2);

    /* before: the email and the IP are in Redis (sessions, index) */
    scan_quiet = 1;
    CHECK(scan_for(id, EMAIL, IP, 1) > 0);
    scan_quiet = 0;

    sub = redis_fixture_connect(&rf);
    CHECK(sub != NULL);
    freeReplyObject(redisCommand(sub, "SUBSCRIBE t:events"));

    /* a wrong email changes nothing */
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, id, EMAIL2), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_ERR_MISMATCH);
    freeReplyObject(r);
    r = cmdf("EXISTS t:acct:%s", id, NULL);
    CHECK_INT(r->integer, 1);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, id, EMAIL), AC_OK);
    r = run(&cmd);
    n = -1;
    CHECK_INT(ac_account_erase_reply(r, &n), AC_OK);
    CHECK_INT(n, 2);
    freeReplyObject(r);

    /* nothing of alice can be read: not her id, email, or IP (the IP of
     * her sessions; bob's session shares it, so look for it in the
     * stream only through the entries' plain fields) */
    CHECK_INT(scan_for(id, EMAIL, NULL, 0), 0);

    /* her counters go with her: the address's stays */
    r = redisCommand(rc, "EVAL %s 0", "return #redis.call('KEYS', "
                     "'t:thr:id:*') + #redis.call('KEYS', 't:thr:2f:*')");
    CHECK_INT(r->integer, 0);
    freeReplyObject(r);
    r = redisCommand(rc, "KEYS t:thr:ip:*");
    CHECK_INT(r->elements, 1);
    freeReplyObject(r);

    /* her log entries keep only her pseudonym, which nothing links to
     * her id any more; sealed fields are unreadable; the chain
     * verifies */
    r = redisCommand(rc, "XRANGE t:log - +");
    CHECK_INT(r->elements, 4);
    for (i = 0; i < r->elements; i++) {
        CHECK_INT(ac_log_entry_parse(r->element[i], NULL, &e), AC_OK);
        CHECK(strcmp(e.account, id) != 0);
        if (e.sealed && strcmp(e.email, EMAIL2) != 0) {
            CHECK(e.erased);
            CHECK_STR(e.email, AC_LOG_ERASED);
            CHECK_STR(e.ip, AC_LOG_ERASED);
        }
    }
    freeReplyObject(r);
    CHECK(log_verifies());

    /* bob is untouched, and acme's invitation of bob stays */
    r = cmdf("HGET t:acct:%s email", id2, NULL);
    CHECK(r->type == REDIS_REPLY_STRING && strcmp(r->str, EMAIL2) == 0);
    freeReplyObject(r);
    r = cmdf("HEXISTS t:acct:%s s:sessCCCCCCCCCCCCCCCCCC", id2, NULL);
    CHECK_INT(r->integer, 1);
    freeReplyObject(r);
    r = redisCommand(rc, "HLEN t:inv:acme");
    CHECK_INT(r->integer, 1);
    freeReplyObject(r);
    r = redisCommand(rc, "EXISTS t:inv:globex");
    CHECK_INT(r->integer, 0);
    freeReplyObject(r);
    r = redisCommand(rc, "ZRANGE t:accounts 0 -1");
    CHECK(r->elements == 1 && strcmp(r->element[0]->str, id2) == 0);
    freeReplyObject(r);

    /* per-worker caches were told */
    nmsg = 0;
    while (nmsg < 3) {
        void *reply;
        if (redisGetReply(sub, &reply) != REDIS_OK) {
            break;
        }
        r = reply;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 3
            && r->element[2]->type == REDIS_REPLY_STRING)
        {
            snprintf(msgs[nmsg++], sizeof(msgs[0]), "%s",
                     r->element[2]->str);
        }
        freeReplyObject(r);
    }
    CHECK_INT(nmsg, 3);
    CHECK(strcmp(msgs[0], "revoke sessAAAAAAAAAAAAAAAAAA") == 0
          || strcmp(msgs[0], "revoke sessBBBBBBBBBBBBBBBBBB") == 0);
    CHECK_STR(msgs[2], "account aaaaaaaaaaaaaaaa");
    redisFree(sub);

    /* a second erasure finds nothing */
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_ERR_NOT_FOUND);
    freeReplyObject(r);
}


/* The replies of the export commands of account "id" (EMAIL). */

static void
export_replies(const char *id, redisReply *replies[AC_EXPORT_NCMDS])
{
    int       i;
    ac_cmd_t  cmds[AC_EXPORT_NCMDS];

    CHECK_INT(ac_cmd_account_export(cmds, &cfg, keys, id, EMAIL), AC_OK);
    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        replies[i] = run(&cmds[i]);
        CHECK(replies[i] != NULL && replies[i]->type != REDIS_REPLY_ERROR);
    }
}


TEST(test_export)
{
    int                i;
    char              *p;
    ac_buf_t           b;
    ac_cmd_t           cmds[AC_EXPORT_NCMDS];
    redisReply        *replies[AC_EXPORT_NCMDS];
    redisReply        *r;
    const char        *id = "aaaaaaaaaaaaaaaa", *id2 = "bbbbbbbbbbbbbbbb";

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));
    seed_alice(id, id2);

    /* an entry written before pseudonyms names the account by its id */
    r = redisCommand(rc, "XADD t:log * s 9 t 1000123 v password.changed"
                     " r ok a %s e %s i 192.0.2.9 u old-agent", id, EMAIL);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING);
    freeReplyObject(r);

    export_replies(id, replies);

    ac_buf_init(&b);
    CHECK_INT(ac_account_export(keys, id, (const redisReply *const *)
              replies, 1700000000, &b), AC_OK);

#define IN(s)   CHECK(b.data != NULL && strstr(b.data, s) != NULL)
#define OUT(s)  CHECK(b.data == NULL || strstr(b.data, s) == NULL)

    IN("{\"format\":\"guichet-export\",\"version\":1,"
       "\"exported_at\":\"2023-11-14T22:13:20Z\"");
    IN("\"account\":{\"id\":\"aaaaaaaaaaaaaaaa\","
       "\"email\":\"alice@example.com\",\"roles\":[\"user\"],"
       "\"status\":\"active\",\"restricted\":false,"
       "\"created\":\"1970-01-01T00:16:40Z\","
       "\"last_login\":\"1970-01-01T00:33:20Z\"");
    IN("\"second_factor\":{\"totp\":true,\"recovery_codes_left\":10}");
    IN("\"partners\":[{\"partner\":\"acme\","
       "\"since\":\"1970-01-01T00:25:00Z\"}]");
    IN("{\"partner\":\"acme\",\"since\":\"1970-01-01T00:23:20Z\"}");
    IN("{\"partner\":\"globex\",\"since\":\"1970-01-01T00:24:10Z\"}");
    IN("\"ip\":\"198.51.100.23\",\"device\":\"Firefox on Linux\","
       "\"method\":\"pwd otp\",\"partner\":null}");
    IN("\"event\":\"login.success\",\"result\":\"ok\"");
    IN("\"event\":\"logout\"");
    /* the user agent is escaped: quote and control byte */
    IN("Mozilla/5.0 \\\"evil\\\"? agent");

    /* nothing of bob, of the unknown-account failure, or any secret */
    OUT(EMAIL2);
    OUT("mallory");
    OUT("$argon2id");
    OUT("v1.");
    OUT("sessAAAA");
    OUT("\"lk\"");
    OUT("\"pw\"");

    /* events are oldest first */
    CHECK(strstr(b.data, "login.success") < strstr(b.data, "logout"));

    /* the log part: entries under the pseudonym and, written before
     * pseudonyms, under the id, with the fields as written */
    p = b.data != NULL ? strstr(b.data, "\"log\":[") : NULL;
    CHECK(p != NULL);
    CHECK(p != NULL && strncmp(p, "\"log\":[{\"time\":", 15) == 0);
    CHECK(p != NULL && strstr(p, ",{\"time\":\"1970-01-01T00:16:40.123Z\","
          "\"event\":\"password.changed\",\"result\":\"ok\","
          "\"reason\":null,\"partner\":null,"
          "\"email\":\"alice@example.com\",\"ip\":\"192.0.2.9\","
          "\"user_agent\":\"old-agent\"}]}") != NULL);
    CHECK(p != NULL && strstr(p, "\"event\":\"login.success\","
          "\"result\":\"ok\",\"reason\":null,\"partner\":null,"
          "\"email\":\"alice@example.com\","
          "\"ip\":\"198.51.100.23\",\"user_agent\":"
          "\"Mozilla/5.0 \\\"evil\\\"? agent\"}") != NULL);
    CHECK(p != NULL && strstr(p, "\"event\":\"logout\"") != NULL);
    CHECK(p != NULL && strstr(p, EMAIL2) == NULL);
    CHECK(p != NULL && strcmp(p + strlen(p) - 3, "}]}") == 0);
    ac_buf_free(&b);

    /* the whole log as the reply: bob's and mallory's entries refused */
    freeReplyObject(replies[AC_EXPORT_LOG]);
    replies[AC_EXPORT_LOG] = redisCommand(rc, "XREVRANGE t:log + -");
    CHECK(replies[AC_EXPORT_LOG] != NULL
          && replies[AC_EXPORT_LOG]->elements >= 5);

    ac_buf_init(&b);
    CHECK_INT(ac_account_export(keys, id, (const redisReply *const *)
              replies, 1700000000, &b), AC_ERR_REDIS);
    CHECK_INT(b.len, 0);
    ac_buf_free(&b);

    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        freeReplyObject(replies[i]);
    }

    /* after erasure there is nothing to export */
    CHECK_INT(ac_cmd_account_erase(&cmds[0], &cfg, keys, id, EMAIL), AC_OK);
    freeReplyObject(run(&cmds[0]));
    CHECK_INT(ac_cmd_account_export(cmds, &cfg, keys, id, EMAIL), AC_OK);
    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        replies[i] = run(&cmds[i]);
    }
    ac_buf_init(&b);
    CHECK_INT(ac_account_export(keys, id, (const redisReply *const *)
              replies, 1700000000, &b), AC_ERR_NOT_FOUND);
    CHECK_INT(b.len, 0);
    ac_buf_free(&b);

    /* a malformed reply is refused, not half-written */
    r = replies[AC_EXPORT_RECOVERY];
    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        if (replies[i] != r) {
            freeReplyObject(replies[i]);
        }
    }
    freeReplyObject(r);

#undef IN
#undef OUT
}


static int
collect(const ac_idle_account_t *a, void *data)
{
    char  *out = data;

    strcat(out, a->id);
    strcat(out, a->restricted ? "R " : " ");

    return AC_OK;
}


TEST(test_retention)
{
    int64_t      next, n;
    ac_cmd_t     cmd;
    redisReply  *r;
    char         seen[256];
    int          batches;

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));

    /* created long ago: never logged in, logged in long ago, recently */
    account_make("aaaaaaaaaaaaaaaa", "a@example.com", 1000, 0);
    account_make("bbbbbbbbbbbbbbbb", "b@example.com", 1000, 5000);
    account_make("cccccccccccccccc", "c@example.com", 1000, 90000);
    account_make("dddddddddddddddd", "d@example.com", 95000, 0);
    account_make("eeeeeeeeeeeeeeee", "e@example.com", 1000, 0);

    CHECK_INT(ac_cmd_account_restrict(&cmd, &cfg, "eeeeeeeeeeeeeeee", 1),
              AC_OK);
    CHECK_INT(run_int(&cmd), 1);

    seen[0] = '\0';
    next = 0;
    batches = 0;

    do {
        CHECK_INT(ac_cmd_retention_scan(&cmd, &cfg, 50000, next, 2), AC_OK);
        r = run(&cmd);
        CHECK_INT(ac_retention_scan_parse(r, &next, collect, seen), AC_OK);
        freeReplyObject(r);
        batches++;
    } while (next > 0 && batches < 10);

    CHECK_INT(batches, 3);
    CHECK_STR(seen, "aaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbb eeeeeeeeeeeeeeeeR ");

    /* the idle guard: an active or restricted account is kept */
    CHECK_INT(ac_cmd_account_erase_idle(&cmd, &cfg, keys,
              "cccccccccccccccc", "c@example.com", 50000), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_ERR_EXISTS);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_account_erase_idle(&cmd, &cfg, keys,
              "eeeeeeeeeeeeeeee", "e@example.com", 50000), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_ERR_EXISTS);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_account_erase_idle(&cmd, &cfg, keys,
              "bbbbbbbbbbbbbbbb", "b@example.com", 50000), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_OK);
    freeReplyObject(r);

    r = redisCommand(rc, "ZCARD t:accounts");
    CHECK_INT(r->integer, 4);
    freeReplyObject(r);
}


TEST(test_restrict_and_rename)
{
    ac_cmd_t      cmd;
    redisReply   *r;
    ac_account_t  a;
    ac_session_t  s;
    const char   *id = "aaaaaaaaaaaaaaaa";

    if (!have_redis) {
        SKIP("redis-server did not start");
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));
    account_make(id, EMAIL, 1000, 0);
    account_make("bbbbbbbbbbbbbbbb", EMAIL2, 1000, 0);
    session_make(id, EMAIL, "sessAAAAAAAAAAAAAAAAAA");

    CHECK_INT(ac_cmd_account_restrict(&cmd, &cfg, id, 1), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    CHECK_INT(ac_cmd_account_by_email(&cmd, &cfg, keys, EMAIL), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_parse(r, NULL, &a), AC_OK);
    CHECK_INT(a.restricted, 1);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_restrict(&cmd, &cfg, id, 0), AC_OK);
    CHECK_INT(run_int(&cmd), 1);
    r = cmdf("HEXISTS t:acct:%s restricted", id, NULL);
    CHECK_INT(r->integer, 0);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_account_restrict(&cmd, &cfg, "zzzzzzzzzzzzzzzz", 1),
              AC_OK);
    CHECK_INT(run_int(&cmd), 0);
    r = redisCommand(rc, "EXISTS t:acct:zzzzzzzzzzzzzzzz");
    CHECK_INT(r->integer, 0);
    freeReplyObject(r);

    /* taken, wrong old email */
    CHECK_INT(ac_cmd_account_rename(&cmd, &cfg, keys, id, EMAIL, EMAIL2),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_rename_reply(r), AC_ERR_EXISTS);
    freeReplyObject(r);
    CHECK_INT(ac_cmd_account_rename(&cmd, &cfg, keys, id, "x@example.com",
              "new@example.com"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_rename_reply(r), AC_ERR_MISMATCH);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_rename(&cmd, &cfg, keys, id, EMAIL,
              "alice.new@example.com"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_rename_reply(r), AC_OK);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_by_email(&cmd, &cfg, keys, EMAIL), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_parse(r, NULL, &a), AC_ERR_NOT_FOUND);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_account_by_email(&cmd, &cfg, keys,
              "ALICE.NEW@example.com"), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_parse(r, NULL, &a), AC_OK);
    CHECK_STR(a.id, id);
    CHECK_STR(a.email, "alice.new@example.com");
    freeReplyObject(r);

    /* the session keeps working, with the new email */
    CHECK_INT(ac_cmd_session_get(&cmd, &cfg, id, "sessAAAAAAAAAAAAAAAAAA"),
              AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_session_parse(r, &s), AC_OK);
    CHECK_STR(s.email, "alice.new@example.com");
    CHECK_STR(s.account, id);
    freeReplyObject(r);

    CHECK_INT(scan_for(EMAIL, NULL, NULL, 0), 0);
}


int
main(void)
{
    CHECK(ac_init() == AC_OK);

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "t:";
    cfg.session_idle = 1800;
    cfg.session_max = 43200;
    cfg.throttle_free = 5;
    cfg.throttle_window = 900;
    cfg.throttle_max_delay = 900;

    if (ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK) {
        printf("cannot derive keys\n");
        return 1;
    }

    have_redis = redis_fixture_start(&rf) == 0;
    rc = have_redis ? redis_fixture_connect(&rf) : NULL;
    have_redis = rc != NULL;

    RUN(test_builders_refuse_bad_input);
    RUN(test_erase_replies);
    RUN(test_erase_leaves_nothing_readable);
    RUN(test_export);
    RUN(test_retention);
    RUN(test_restrict_and_rename);

    if (rc != NULL) {
        redisFree(rc);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
    ac_done();

    return CHECK_DONE();
}
