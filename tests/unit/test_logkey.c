/*
 * Log pseudonyms (logkey.c) against a real redis-server: entries name an
 * account by a pseudonym only its log key links back, the pseudonym is
 * resolved while the account lives, and once it is erased no entry and
 * no key holds its id while the chain still verifies.
 */

#include <stdlib.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "logkey-test-secret-0123456789abc";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;
static int               have_redis;

#define ID      "zoezoezoezoezoe2"
#define ID2     "bobbobbobbobbob2"
#define EMAIL   "zoe@example.com"
#define IP      "192.0.2.201"
#define UA      "ZoeBrowser/1.0"


static redisReply *
run(ac_cmd_t *cmd)
{
    return redisCommandArgv(rc, cmd->argc, cmd->argv, cmd->argvlen);
}


static int64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* Appends after the current head (one writer: no conflict expected). */
static int
append(const ac_event_t *ev)
{
    int            r;
    uint64_t       seq;
    ac_cmd_t       cmd;
    redisReply    *reply;
    unsigned char  hash[AC_MAC_LEN];

    CHECK_INT(ac_cmd_log_head(&cmd, &cfg), AC_OK);
    reply = run(&cmd);
    r = ac_log_head_parse(reply, &seq, hash);
    freeReplyObject(reply);
    if (r != AC_OK) {
        return r;
    }

    r = ac_cmd_log_append(&cmd, &cfg, keys, ev, seq, hash, now_ms(), NULL);
    if (r != AC_OK) {
        return r;
    }

    reply = run(&cmd);
    r = ac_log_append_reply(reply, &seq, hash);
    freeReplyObject(reply);

    return r;
}


static void
event(ac_event_t *ev, ac_event_kind_t kind, const char *account,
    const unsigned char *key)
{
    memset(ev, 0, sizeof(ac_event_t));
    ev->kind = kind;
    ev->account = account;
    ev->account_len = account ? strlen(account) : 0;
    ev->email = EMAIL;
    ev->email_len = sizeof(EMAIL) - 1;
    ev->ip = IP;
    ev->ip_len = sizeof(IP) - 1;
    ev->ua = UA;
    ev->ua_len = sizeof(UA) - 1;
    ev->log_key = key;
}


/* The account's log key, created as a writer does. */
static int
log_key(const char *id, unsigned char key[AC_LOG_KEY_LEN])
{
    int          r;
    ac_cmd_t     cmd;
    redisReply  *reply;
    char         sealed[AC_LOG_KEY_SEALED_MAX];

    r = ac_log_key_new(keys, id, key, sealed);
    if (r == AC_OK) {
        r = ac_cmd_log_key_init(&cmd, &cfg, id, sealed);
    }
    if (r != AC_OK) {
        return r;
    }

    reply = run(&cmd);
    r = reply->type == REDIS_REPLY_STRING
        ? ac_log_key_unseal(keys, id, reply->str, reply->len, key)
        : AC_ERR_NOT_FOUND;
    freeReplyObject(reply);

    return r;
}


/* Fields of stream entries (every one) or keys/values holding s. */
static int
log_holds(const char *s)
{
    int          found;
    size_t       i, j;
    redisReply  *all, *f;

    found = 0;
    all = redisCommand(rc, "XRANGE t:log - +");

    for (i = 0; i < all->elements; i++) {
        f = all->element[i]->element[1];

        for (j = 0; j < f->elements; j++) {
            if (memmem(f->element[j]->str, f->element[j]->len, s,
                       strlen(s))
                != NULL)
            {
                printf("    entry %zu, %s \"%s\" holds %s\n", i + 1,
                       j % 2 ? "value of" : "field",
                       f->element[j - j % 2]->str, s);
                found++;
            }
        }
    }

    freeReplyObject(all);

    return found;
}


static int
verifies(void)
{
    int            bad;
    size_t         i;
    uint64_t       seq, hseq;
    ac_cmd_t       cmd;
    redisReply    *all, *r;
    unsigned char  hash[AC_MAC_LEN], head[AC_MAC_LEN];

    seq = 0;
    memset(hash, 0, sizeof(hash));
    bad = 0;

    all = redisCommand(rc, "XRANGE t:log - +");
    for (i = 0; i < all->elements; i++) {
        bad += ac_log_verify_entry(keys, seq, hash, all->element[i], &seq,
                                   hash)
               != AC_OK;
    }
    freeReplyObject(all);

    CHECK_INT(ac_cmd_log_head(&cmd, &cfg), AC_OK);
    r = run(&cmd);
    bad += ac_log_head_parse(r, &hseq, head) != AC_OK || hseq != seq
           || memcmp(head, hash, sizeof(hash)) != 0;
    freeReplyObject(r);

    return bad == 0;
}


/* ---------------------------------------------------------------- tests */

TEST(test_pseudonym_shape)
{
    unsigned char  k1[AC_LOG_KEY_LEN], k2[AC_LOG_KEY_LEN];
    char           p1[AC_LOG_PSEUDO_LEN + 1], p2[AC_LOG_PSEUDO_LEN + 1];

    memset(k1, 1, sizeof(k1));
    memset(k2, 2, sizeof(k2));

    CHECK_INT(ac_log_pseudonym(k1, ID, p1), AC_OK);
    CHECK_INT(strlen(p1), AC_LOG_PSEUDO_LEN);
    CHECK_INT(ac_log_pseudonym_check(p1, strlen(p1)), AC_OK);
    CHECK(strcmp(p1, ID) != 0);

    /* the same key and id give the same one; another key, another id,
     * another one */
    CHECK_INT(ac_log_pseudonym(k1, ID, p2), AC_OK);
    CHECK_STR(p2, p1);
    CHECK_INT(ac_log_pseudonym(k2, ID, p2), AC_OK);
    CHECK(strcmp(p1, p2) != 0);
    CHECK_INT(ac_log_pseudonym(k1, ID2, p2), AC_OK);
    CHECK(strcmp(p1, p2) != 0);

    /* ids (lower case) and pseudonyms (upper case) never look alike */
    CHECK_INT(ac_log_pseudonym_check(ID, strlen(ID)), AC_ERR_INVALID);
    CHECK_INT(ac_log_pseudonym_check(p1, 15), AC_ERR_INVALID);
    CHECK_INT(ac_log_pseudonym_check("ABCDEFGHIJKLMNO1", 16),
              AC_ERR_INVALID);
    CHECK_INT(ac_log_pseudonym(k1, "NOT-AN-ID", p2), AC_ERR_INVALID);
    CHECK_INT(ac_log_pseudonym(NULL, ID, p2), AC_ERR_INVALID);
}


TEST(test_erasure_unlinkable)
{
    int64_t         n;
    ac_cmd_t        cmd;
    ac_event_t      ev;
    redisReply     *r;
    ac_log_entry_t  e;
    unsigned char   key[AC_LOG_KEY_LEN], got[AC_LOG_KEY_LEN];
    char            pseudo[AC_LOG_PSEUDO_LEN + 1];
    char            gone[AC_LOG_PSEUDO_LEN + 1], id[AC_ID_LEN + 1];

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    freeReplyObject(redisCommand(rc, "FLUSHALL"));
    freeReplyObject(redisCommand(rc, "HSET t:acct:" ID " email " EMAIL));
    freeReplyObject(redisCommand(rc, "ZADD t:accounts 1 " ID));

    CHECK_INT(log_key(ID, key), AC_OK);
    CHECK_INT(ac_log_pseudonym(key, ID, pseudo), AC_OK);

    event(&ev, AC_EV_LOGIN_SUCCESS, ID, key);
    CHECK_INT(append(&ev), AC_OK);
    event(&ev, AC_EV_LOGOUT, ID, key);
    CHECK_INT(append(&ev), AC_OK);

    /* the entries name the pseudonym; its key opens them */
    r = redisCommand(rc, "XRANGE t:log - +");
    CHECK_INT(r->elements, 2);
    CHECK_INT(ac_log_entry_parse(r->element[0], key, &e), AC_OK);
    CHECK_STR(e.account, pseudo);
    CHECK_STR(e.email, EMAIL);
    CHECK_STR(e.ip, IP);
    freeReplyObject(r);
    CHECK_INT(log_holds(ID), 0);

    /* while the account lives, the pseudonym resolves to it and its key */
    CHECK_INT(ac_cmd_log_resolve(&cmd, &cfg, pseudo), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_log_resolve_reply(keys, pseudo, r, id, got), AC_OK);
    CHECK_STR(id, ID);
    CHECK(memcmp(got, key, sizeof(key)) == 0);
    freeReplyObject(r);

    /* an index that lies is not believed */
    freeReplyObject(redisCommand(rc, "HSET t:acct:" ID2 " email b@x.org"));
    CHECK_INT(log_key(ID2, got), AC_OK);
    freeReplyObject(redisCommand(rc, "HSET t:log:pseudo %s " ID2, pseudo));
    CHECK_INT(ac_cmd_log_resolve(&cmd, &cfg, pseudo), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_log_resolve_reply(keys, pseudo, r, id, got),
              AC_ERR_NOT_FOUND);
    freeReplyObject(r);
    freeReplyObject(redisCommand(rc, "HSET t:log:pseudo %s " ID, pseudo));

    /* an entry written before pseudonyms names the id: still resolved */
    CHECK_INT(ac_cmd_log_resolve(&cmd, &cfg, ID2), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_log_resolve_reply(keys, ID2, r, id, got), AC_OK);
    CHECK_STR(id, ID2);
    freeReplyObject(r);

    /* erasure: its reply gives the pseudonym for the erased entry */
    CHECK_INT(ac_cmd_account_erase(&cmd, &cfg, keys, ID, EMAIL), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_account_erase_reply(r, &n), AC_OK);
    CHECK_INT(ac_account_erase_pseudonym(keys, ID, r, gone), AC_OK);
    CHECK_STR(gone, pseudo);
    freeReplyObject(r);

    event(&ev, AC_EV_ACCOUNT_ERASED, gone, NULL);
    CHECK_INT(append(&ev), AC_OK);

    /* a late event for the erased id (its key is gone) names nobody */
    event(&ev, AC_EV_LOGOUT, ID, NULL);
    CHECK_INT(append(&ev), AC_OK);

    /* no field of any entry holds the id, nor any key or value */
    CHECK_INT(log_holds(ID), 0);
    CHECK_INT(log_holds(EMAIL), 0);
    CHECK_INT(log_holds(IP), 0);
    r = redisCommand(rc, "HGETALL t:log:pseudo");
    CHECK_INT(r->elements, 0);
    freeReplyObject(r);
    r = redisCommand(rc, "KEYS *" ID "*");
    CHECK_INT(r->elements, 0);
    freeReplyObject(r);

    /* the pseudonym resolves no more, the entries read [erased] */
    CHECK_INT(ac_cmd_log_resolve(&cmd, &cfg, pseudo), AC_OK);
    r = run(&cmd);
    CHECK_INT(ac_log_resolve_reply(keys, pseudo, r, id, got),
              AC_ERR_NOT_FOUND);
    freeReplyObject(r);

    r = redisCommand(rc, "XRANGE t:log - +");
    CHECK_INT(r->elements, 4);
    CHECK_INT(ac_log_entry_parse(r->element[0], NULL, &e), AC_OK);
    CHECK_STR(e.account, pseudo);
    CHECK_INT(e.erased, 1);
    CHECK_INT(ac_log_entry_parse(r->element[2], NULL, &e), AC_OK);
    CHECK_STR(e.event, "account.erased");
    CHECK_STR(e.account, pseudo);
    CHECK_STR(e.email, "");
    CHECK_INT(ac_log_entry_parse(r->element[3], NULL, &e), AC_OK);
    CHECK_STR(e.account, "");
    CHECK_STR(e.ip, "");
    freeReplyObject(r);

    /* and the chain, which covers the stored pseudonym, verifies */
    CHECK(verifies());

    ac_cleanse(key, sizeof(key));
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

    have_redis = redis_fixture_start(&rf) == 0;
    rc = have_redis ? redis_fixture_connect(&rf) : NULL;
    have_redis = rc != NULL;

    RUN(test_pseudonym_shape);
    RUN(test_erasure_unlinkable);

    if (rc != NULL) {
        redisFree(rc);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
    ac_done();

    return CHECK_DONE();
}
