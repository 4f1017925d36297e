/*
 * Connection log: erasure against a real redis-server. An account's
 * personal fields are sealed under its log key; destroying the key
 * leaves its entries unreadable, under a pseudonym nothing links back,
 * while the chain still verifies.
 */

#include "log_fixture.h"


TEST(test_erasure)
{
    int             have_lk;
    size_t          first, n, i, j;
    uint64_t        seq;
    ac_cmd_t        cmd;
    ac_event_t      ev;
    char            sealed[AC_LOG_KEY_SEALED_MAX];
    char            sealed2[AC_LOG_KEY_SEALED_MAX];
    unsigned char   key[AC_LOG_KEY_LEN], key2[AC_LOG_KEY_LEN];
    unsigned char   hash[AC_MAC_LEN], wrong[AC_LOG_KEY_LEN];
    ac_log_entry_t  e;
    redisReply     *r, *all;
    char            pseudo[AC_LOG_PSEUDO_LEN + 1];
    static const char  acct[] = "erase0account000";

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    log_six_events(&seq, hash);

    /* no account hash: no key is created for it */
    CHECK_INT(ac_log_key_new(keys, acct, key, sealed), AC_OK);
    CHECK_INT(ac_cmd_log_key_init(&cmd, &cfg, acct, sealed), AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);

    freeReplyObject(redisCommand(rc, "HSET t:acct:%s email %s", acct,
                                 "zoe@example.com"));

    CHECK_INT(ac_cmd_log_key_init(&cmd, &cfg, acct, sealed), AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, sealed) == 0);
    freeReplyObject(r);

    /* a second writer racing to create one gets the first one's */
    CHECK_INT(ac_log_key_new(keys, acct, key2, sealed2), AC_OK);
    CHECK_INT(ac_cmd_log_key_init(&cmd, &cfg, acct, sealed2), AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_STRING
          && strcmp(r->str, sealed) == 0);
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        CHECK_INT(ac_log_key_unseal(keys, acct, r->str, r->len, key2),
                  AC_OK);
        CHECK(memcmp(key, key2, sizeof(key)) == 0);
    }
    freeReplyObject(r);

    CHECK_INT(read_head(&seq, hash), AC_OK);

    event_init(&ev, AC_EV_LOGIN_SUCCESS);
    event_str(&ev.account, &ev.account_len, acct);
    event_str(&ev.email, &ev.email_len, "zoe@example.com");
    event_str(&ev.ip, &ev.ip_len, "192.0.2.201");
    event_str(&ev.ua, &ev.ua_len, "ZoeBrowser/1.0");
    ev.log_key = key;
    CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);

    event_init(&ev, AC_EV_PASSWORD_CHANGED);
    event_str(&ev.account, &ev.account_len, acct);
    event_str(&ev.ip, &ev.ip_len, "192.0.2.201");
    ev.log_key = key;
    CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);

    /* an account event without its key records no personal field, nor
     * the account */
    event_init(&ev, AC_EV_LOGOUT);
    event_str(&ev.account, &ev.account_len, acct);
    event_str(&ev.email, &ev.email_len, "zoe@example.com");
    event_str(&ev.ip, &ev.ip_len, "192.0.2.201");
    CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);

    /* none of it is in Redis in clear */
    all = redisCommand(rc, "XRANGE %s - +", LOG_KEY);
    CHECK(all != NULL && all->type == REDIS_REPLY_ARRAY);
    if (all == NULL || all->elements < 3) {
        return;
    }

    n = all->elements;

    for (i = n - 3; i < n; i++) {
        redisReply  *f = all->element[i]->element[1];

        for (j = 0; j < f->elements; j++) {
            CHECK(memmem(f->element[j]->str, f->element[j]->len, "zoe", 3)
                  == NULL);
            CHECK(memmem(f->element[j]->str, f->element[j]->len,
                         "192.0.2.201", 11) == NULL);
            CHECK(memmem(f->element[j]->str, f->element[j]->len,
                         "ZoeBrowser", 10) == NULL);
        }
    }

    CHECK_INT(ac_log_entry_parse(all->element[n - 3], key, &e), AC_OK);
    CHECK_STR(e.email, "zoe@example.com");
    CHECK_STR(e.ip, "192.0.2.201");
    CHECK_STR(e.ua, "ZoeBrowser/1.0");
    CHECK_INT(e.erased, 0);

    CHECK_INT(ac_log_entry_parse(all->element[n - 2], key, &e), AC_OK);
    CHECK_STR(e.email, "");
    CHECK_STR(e.ip, "192.0.2.201");

    CHECK_INT(ac_log_entry_parse(all->element[n - 1], key, &e), AC_OK);
    CHECK_STR(e.email, "");
    CHECK_STR(e.ip, "");
    CHECK_INT(e.sealed, 0);

    /* another account's key opens nothing */
    CHECK_INT(ac_log_entry_parse(all->element[n - 3], acct_key, &e),
              AC_ERR_MISMATCH);
    CHECK_INT(e.erased, 1);
    CHECK_STR(e.email, AC_LOG_ERASED);
    memset(wrong, 0, sizeof(wrong));
    CHECK_INT(ac_log_entry_parse(all->element[n - 3], wrong, &e),
              AC_ERR_MISMATCH);

    freeReplyObject(all);

    /* erasure: the account hash, and its "lk" with it, is destroyed */
    freeReplyObject(redisCommand(rc, "DEL t:acct:%s", acct));
    CHECK_INT(ac_cmd_log_key_get(&cmd, &cfg, acct), AC_OK);
    r = run(rc, &cmd);
    have_lk = r != NULL && r->type == REDIS_REPLY_STRING;
    CHECK(r != NULL && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    CHECK(!have_lk);

    /* and an erasure cannot be undone by re-initialising the key */
    CHECK_INT(ac_cmd_log_key_init(&cmd, &cfg, acct, sealed), AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);

    all = redisCommand(rc, "XRANGE %s - +", LOG_KEY);
    n = all->elements;
    CHECK_INT(ac_log_entry_parse(all->element[n - 3], NULL, &e), AC_OK);
    CHECK_INT(e.erased, 1);
    CHECK_STR(e.email, AC_LOG_ERASED);
    CHECK_STR(e.ip, AC_LOG_ERASED);
    CHECK_STR(e.ua, AC_LOG_ERASED);
    CHECK_INT(ac_log_pseudonym(key, acct, pseudo), AC_OK);
    CHECK_STR(e.account, pseudo);
    CHECK_STR(e.event, "login.success");
    freeReplyObject(all);

    /* the whole log still verifies */
    seq = 0;
    memset(hash, 0, sizeof(hash));
    CHECK_INT(verify_stream(LOG_KEY, &seq, hash, &first, &n), 0);
    CHECK_INT(first, 0);
    CHECK_INT(n, 9);
    ac_cleanse(key, sizeof(key));
}

LOG_FIXTURE_MAIN(test_erasure)
