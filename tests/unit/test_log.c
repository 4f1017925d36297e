/*
 * Connection log: event names, per-account log keys, the chained append
 * against a real redis-server (conflicts, four concurrent writers), the
 * bounds of what an entry keeps, and retention.
 */

#include <sys/wait.h>
#include <unistd.h>

#include "log_fixture.h"


/* ---------------------------------------------------------------- tests */

TEST(test_event_names)
{
    int              i;
    ac_event_kind_t  k;

    CHECK_STR(ac_event_name(AC_EV_LOGIN_SUCCESS), "login.success");
    CHECK_STR(ac_event_name(AC_EV_2FA_FAILURE), "2fa.failure");
    CHECK_STR(ac_event_name(AC_EV_PARTNER_INVITATION), "partner.invitation");
    CHECK_STR(ac_event_name(AC_EV_EXPORT), "export");
    CHECK_STR(ac_event_name(AC_EV_RECOVERY_GENERATED),
              "recovery.generated");
    CHECK(ac_event_name(AC_EV_COUNT) == NULL);
    CHECK(ac_event_name((ac_event_kind_t) -1) == NULL);

    for (i = 0; i < AC_EV_COUNT; i++) {
        const char  *name = ac_event_name((ac_event_kind_t) i);

        if (name == NULL) {
            CHECK(name != NULL);
            continue;
        }

        CHECK(strlen(name) <= AC_LOG_EVENT_MAX);
        CHECK_INT(ac_event_parse(name, strlen(name), &k), AC_OK);
        CHECK_INT(k, i);
    }

    CHECK_INT(ac_event_parse("login", 5, &k), AC_ERR_INVALID);
    CHECK_INT(ac_event_parse("login.successX", 14, &k), AC_ERR_INVALID);
    CHECK_INT(ac_event_parse("LOGIN.SUCCESS", 13, &k), AC_ERR_INVALID);
    CHECK_INT(ac_event_parse("", 0, &k), AC_ERR_INVALID);
}


TEST(test_log_key)
{
    char           sealed[AC_LOG_KEY_SEALED_MAX];
    unsigned char  key[AC_LOG_KEY_LEN], back[AC_LOG_KEY_LEN];
    unsigned char  zero[AC_LOG_KEY_LEN];
    ac_keys_t     *other;

    memset(zero, 0, sizeof(zero));

    CHECK_INT(ac_log_key_new(keys, ACCOUNT, key, sealed), AC_OK);
    CHECK(memcmp(key, zero, sizeof(zero)) != 0);
    CHECK(strncmp(sealed, "v1.", 3) == 0);

    CHECK_INT(ac_log_key_unseal(keys, ACCOUNT, sealed, strlen(sealed), back),
              AC_OK);
    CHECK(memcmp(key, back, sizeof(key)) == 0);

    /* bound to the account: another account cannot use it */
    CHECK_INT(ac_log_key_unseal(keys, "bbbbbbbbbbbbbbbb", sealed,
                                strlen(sealed), back),
              AC_ERR_MISMATCH);

    /* nor a gateway with another secret */
    CHECK_INT(ac_keys_from_secret(other_secret, sizeof(other_secret),
                                  &other), AC_OK);
    CHECK(ac_log_key_unseal(other, ACCOUNT, sealed, strlen(sealed), back)
          != AC_OK);
    ac_keys_free(other);

    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    CHECK(ac_log_key_unseal(keys, ACCOUNT, sealed, strlen(sealed), back)
          != AC_OK);

    CHECK(ac_log_key_unseal(keys, ACCOUNT, "v1.AAAA", 7, back) != AC_OK);
    CHECK(ac_log_key_unseal(keys, ACCOUNT, "", 0, back) != AC_OK);
    CHECK_INT(ac_log_key_new(keys, "Not-An-Id", key, sealed),
              AC_ERR_INVALID);
    CHECK_INT(ac_log_key_new(keys, "abcdefghijklmnopq", key, sealed),
              AC_ERR_INVALID);
}


TEST(test_head_parse)
{
    uint64_t       seq;
    unsigned char  hash[AC_MAC_LEN], zero[AC_MAC_LEN];
    redisReply     r;
    char           good[] = "42 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    memset(zero, 0, sizeof(zero));
    memset(&r, 0, sizeof(r));

    r.type = REDIS_REPLY_NIL;
    seq = 7;
    memset(hash, 1, sizeof(hash));
    CHECK_INT(ac_log_head_parse(&r, &seq, hash), AC_OK);
    CHECK_INT(seq, 0);
    CHECK(memcmp(hash, zero, sizeof(zero)) == 0);

    r.type = REDIS_REPLY_STRING;
    r.str = good;
    r.len = strlen(good);
    CHECK_INT(ac_log_head_parse(&r, &seq, hash), AC_OK);
    CHECK_INT(seq, 42);
    CHECK_INT(hash[0], 0);
    CHECK_INT(hash[31], 31);

    {
        static const char *bad[] = {
            "", "42", "42 ", "x AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "042 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "18446744073709551616 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            "42 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
            "42 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",
            "42 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
            "42  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        };
        size_t  i;

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            r.str = (char *) bad[i];
            r.len = strlen(bad[i]);
            if (ac_log_head_parse(&r, &seq, hash) != AC_ERR_REDIS) {
                printf("    accepted head \"%s\"\n", bad[i]);
                CHECK(0);
            }
        }
    }

    r.type = REDIS_REPLY_INTEGER;
    CHECK_INT(ac_log_head_parse(&r, &seq, hash), AC_ERR_REDIS);
}


TEST(test_append_input)
{
    ac_cmd_t       cmd;
    ac_event_t     ev;
    unsigned char  h[AC_MAC_LEN], a[AC_MAC_LEN], b[AC_MAC_LEN];

    memset(h, 0, sizeof(h));
    event_init(&ev, AC_EV_LOGIN_FAILURE);

    /* the encoding is unambiguous: moving a byte between two adjacent
     * fields changes the hash; the same fields give the same hash */
    event_str(&ev.email, &ev.email_len, "ab");
    event_str(&ev.ip, &ev.ip_len, "c");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, a),
              AC_OK);
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, b),
              AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) == 0);

    event_str(&ev.email, &ev.email_len, "a");
    event_str(&ev.ip, &ev.ip_len, "bc");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, b),
              AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);

    /* seq, time and the previous hash are all chained */
    event_str(&ev.email, &ev.email_len, "ab");
    event_str(&ev.ip, &ev.ip_len, "c");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1001, b),
              AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 1, h, 1000, b),
              AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    h[31] = 1;
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, b),
              AC_OK);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    h[31] = 0;

    /* hostile or wrong arguments */
    ev.account = "ABCDEF";
    ev.account_len = 6;
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    event_str(&ev.account, &ev.account_len, "abcdefghijklmnopq");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    event_str(&ev.account, &ev.account_len, "abc:def");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    ev.account_len = 0;

    event_str(&ev.partner, &ev.partner_len, "Bad Partner");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    ev.partner_len = 0;

    event_str(&ev.session, &ev.session_len, "short");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    event_str(&ev.session, &ev.session_len, "abc/+def123");
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    ev.session_len = 0;

    ev.kind = AC_EV_COUNT;
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, 1000, NULL),
              AC_ERR_INVALID);
    ev.kind = AC_EV_LOGOUT;
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, h, -1, NULL),
              AC_ERR_INVALID);
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, UINT64_MAX, h, 1000,
                                NULL),
              AC_ERR_INVALID);
}

TEST(test_append_verify)
{
    size_t          first, n;
    uint64_t        seq, hseq;
    unsigned char   hash[AC_MAC_LEN], hhash[AC_MAC_LEN];
    ac_log_entry_t  e;
    char            pseudo[AC_LOG_PSEUDO_LEN + 1];
    redisReply     *all;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    log_six_events(&seq, hash);

    CHECK_INT(read_head(&hseq, hhash), AC_OK);
    CHECK_INT(hseq, 6);
    CHECK(memcmp(hhash, hash, sizeof(hash)) == 0);

    seq = 0;
    memset(hash, 0, sizeof(hash));
    CHECK_INT(verify_stream(LOG_KEY, &seq, hash, &first, &n), 0);
    CHECK_INT(n, 6);
    CHECK_INT(first, 0);
    CHECK_INT(seq, 6);
    CHECK(memcmp(hhash, hash, sizeof(hash)) == 0);

    all = redisCommand(rc, "XRANGE %s - +", LOG_KEY);
    CHECK(all != NULL && all->type == REDIS_REPLY_ARRAY
          && all->elements == 6);
    if (all == NULL || all->elements != 6) {
        return;
    }

    CHECK_INT(ac_log_entry_parse(all->element[0], NULL, &e), AC_OK);
    CHECK_INT(e.seq, 1);
    CHECK_STR(e.event, "login.failure");
    CHECK_INT(e.failed, 1);
    CHECK_STR(e.reason, "bad_credentials");
    CHECK_STR(e.email, "Mallory@Example.COM");
    CHECK_STR(e.ip, "203.0.113.9");
    CHECK_STR(e.ua, "curl/7.88.1");
    CHECK_STR(e.account, "");
    CHECK_INT(e.sealed, 0);
    CHECK(e.time_ms > 1600000000000LL);
    CHECK(strchr(e.id, '-') != NULL);

    CHECK_INT(ac_log_entry_parse(all->element[1], acct_key, &e), AC_OK);
    CHECK_INT(e.seq, 2);
    CHECK_STR(e.event, "login.success");
    CHECK_INT(e.failed, 0);
    CHECK_INT(ac_log_pseudonym(acct_key, ACCOUNT, pseudo), AC_OK);
    CHECK_STR(e.account, pseudo);
    CHECK_STR(e.email, "alice@example.com");
    CHECK_STR(e.ip, "2001:db8::1");
    CHECK_STR(e.ua, "Mozilla/5.0 (X11; Linux x86_64)");
    CHECK_STR(e.session, "q1w2e3r4");
    CHECK_INT(e.sealed, 1);
    CHECK_INT(e.erased, 0);

    CHECK_INT(ac_log_entry_parse(all->element[2], acct_key, &e), AC_OK);
    CHECK_STR(e.partner, "acme-intranet");
    CHECK_STR(e.ip, "198.51.100.7");
    CHECK_STR(e.email, "");

    CHECK_INT(ac_log_entry_parse(all->element[3], NULL, &e), AC_OK);
    CHECK_STR(e.event, "throttled");
    CHECK_INT(e.failed, 1);

    CHECK_INT(ac_log_entry_parse(all->element[4], acct_key, &e), AC_OK);
    CHECK_STR(e.event, "export");
    CHECK_INT(e.failed, 1);

    CHECK_INT(ac_log_entry_parse(all->element[5], acct_key, &e), AC_OK);
    CHECK_STR(e.event, "logout");
    CHECK_INT(e.failed, 0);

    freeReplyObject(all);
}

TEST(test_conflict)
{
    ac_cmd_t       cmd;
    ac_event_t     ev;
    uint64_t       seq, hseq;
    unsigned char  hash[AC_MAC_LEN], hhash[AC_MAC_LEN];
    redisReply    *r;
    int64_t        len;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    CHECK_INT(read_head(&hseq, hhash), AC_OK);

    /* a writer that last saw entry 3 */
    event_init(&ev, AC_EV_LOGOUT);
    memset(hash, 7, sizeof(hash));
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 3, hash, now_ms(),
                                NULL),
              AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL);
    CHECK_INT(ac_log_append_reply(r, &seq, hash), AC_LOG_CONFLICT);
    CHECK_INT(seq, hseq);
    CHECK(memcmp(hash, hhash, sizeof(hash)) == 0);
    freeReplyObject(r);

    /* nothing was written */
    r = redisCommand(rc, "XLEN %s", LOG_KEY);
    CHECK_INT(ac_reply_integer(r, &len), AC_OK);
    CHECK_INT(len, (int64_t) hseq);
    freeReplyObject(r);

    /* a lost head with entries present: refused, not a second chain */
    freeReplyObject(redisCommand(rc, "RENAME %s t:saved-head", HEAD_KEY));
    memset(hash, 0, sizeof(hash));
    CHECK_INT(ac_cmd_log_append(&cmd, &cfg, keys, &ev, 0, hash, now_ms(),
                                NULL),
              AC_OK);
    r = run(rc, &cmd);
    CHECK(r != NULL && r->type == REDIS_REPLY_ERROR);
    CHECK_INT(ac_log_append_reply(r, &seq, hash), AC_ERR_REDIS);
    freeReplyObject(r);
    freeReplyObject(redisCommand(rc, "RENAME t:saved-head %s", HEAD_KEY));

    r = redisCommand(rc, "XLEN %s", LOG_KEY);
    CHECK_INT(ac_reply_integer(r, &len), AC_OK);
    CHECK_INT(len, (int64_t) hseq);
    freeReplyObject(r);
}

TEST(test_bounds)
{
    size_t          i;
    uint64_t        seq;
    ac_event_t      ev;
    unsigned char   hash[AC_MAC_LEN];
    char            ua[10000], email[400];
    ac_log_entry_t  e;
    redisReply     *r;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    /* "a" then two-byte characters: byte 256 is inside a character */
    ua[0] = 'a';
    for (i = 1; i + 1 < sizeof(ua); i += 2) {
        ua[i] = (char) 0xc3;
        ua[i + 1] = (char) 0xa9;
    }

    memset(email, 'x', sizeof(email));
    email[3] = '\n';
    email[4] = '\0';
    email[5] = '\x1b';

    CHECK_INT(read_head(&seq, hash), AC_OK);

    event_init(&ev, AC_EV_LOGIN_FAILURE);
    ev.email = email;
    ev.email_len = sizeof(email);
    ev.ua = ua;
    ev.ua_len = sizeof(ua) - 1;
    event_str(&ev.ip, &ev.ip_len,
              "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255-and-more");
    memset(ua + 5000, 'R', 100);
    ev.reason = ua + 5000;
    ev.reason_len = 100;
    CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);

    r = redisCommand(rc, "XREVRANGE %s + - COUNT 1", LOG_KEY);
    CHECK(r != NULL && r->elements == 1);
    if (r == NULL || r->elements != 1) {
        return;
    }

    CHECK_INT(ac_log_entry_parse(r->element[0], NULL, &e), AC_OK);
    CHECK_INT(strlen(e.ua), AC_LOG_UA_MAX - 1);
    CHECK(memcmp(e.ua, ua, AC_LOG_UA_MAX - 1) == 0);
    CHECK_INT(strlen(e.email), AC_EMAIL_MAX);
    CHECK(memcmp(e.email, "xxx???xx", 8) == 0);
    CHECK_INT(strlen(e.ip), AC_IP_MAX - 1);
    CHECK_INT(strlen(e.reason), AC_LOG_REASON_MAX);
    freeReplyObject(r);
}


/* ---------------------------------------------------- concurrent writers */

#define WRITERS   4
#define PER       200

static int
writer(int w)
{
    int             i;
    uint64_t        seq;
    char            reason[16];
    ac_event_t      ev;
    unsigned char   hash[AC_MAC_LEN];
    redisContext   *c;

    c = redis_fixture_connect(&rf);
    if (c == NULL) {
        return 1;
    }

    /* stale on purpose: every writer starts from the genesis */
    seq = 0;
    memset(hash, 0, sizeof(hash));
    snprintf(reason, sizeof(reason), "w%d", w);

    for (i = 0; i < PER; i++) {
        event_init(&ev, (i & 1) ? AC_EV_LOGIN_FAILURE : AC_EV_LOGIN_SUCCESS);
        event_str(&ev.reason, &ev.reason_len, reason);
        event_str(&ev.ip, &ev.ip_len, "127.0.0.1");

        if (append(c, &ev, &seq, hash, NULL) != AC_OK) {
            redisFree(c);
            return 1;
        }
    }

    redisFree(c);
    return 0;
}


TEST(test_concurrent)
{
    int             w, status, bad, unordered, count[WRITERS];
    pid_t           pids[WRITERS];
    size_t          first, n, i;
    uint64_t        seq, hseq;
    unsigned char   hash[AC_MAC_LEN], hhash[AC_MAC_LEN];
    ac_log_entry_t  e;
    redisReply     *all;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    freeReplyObject(redisCommand(rc, "DEL %s %s", LOG_KEY, HEAD_KEY));

    for (w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            _exit(writer(w));
        }
        CHECK(pids[w] > 0);
    }

    for (w = 0; w < WRITERS; w++) {
        if (pids[w] > 0) {
            CHECK(waitpid(pids[w], &status, 0) == pids[w]);
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }

    seq = 0;
    memset(hash, 0, sizeof(hash));
    bad = verify_stream(LOG_KEY, &seq, hash, &first, &n);
    CHECK_INT(bad, 0);
    CHECK_INT(first, 0);
    CHECK_INT(n, WRITERS * PER);
    CHECK_INT(seq, WRITERS * PER);

    CHECK_INT(read_head(&hseq, hhash), AC_OK);
    CHECK_INT(hseq, WRITERS * PER);
    CHECK(memcmp(hash, hhash, sizeof(hash)) == 0);

    /* every writer's 200 events are there, each once */
    memset(count, 0, sizeof(count));
    unordered = 0;
    all = redisCommand(rc, "XRANGE %s - +", LOG_KEY);

    for (i = 0; all != NULL && i < all->elements; i++) {
        if (ac_log_entry_parse(all->element[i], NULL, &e) != AC_OK
            || e.seq != i + 1)
        {
            unordered++;
        }

        if (e.reason[0] == 'w' && e.reason[1] >= '0'
            && e.reason[1] < '0' + WRITERS)
        {
            count[e.reason[1] - '0']++;
        }
    }

    if (all != NULL) {
        freeReplyObject(all);
    }

    CHECK_INT(unordered, 0);

    for (w = 0; w < WRITERS; w++) {
        CHECK_INT(count[w], PER);
    }
}


TEST(test_trim)
{
    int             i;
    size_t          first, n;
    int64_t         cut = 0, removed;
    uint64_t        seq, cseq, hseq;
    ac_cmd_t        cmd;
    ac_event_t      ev;
    unsigned char   hash[AC_MAC_LEN], chash[AC_MAC_LEN];
    unsigned char   hhash[AC_MAC_LEN], h5[AC_MAC_LEN];
    redisReply     *r;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    freeReplyObject(redisCommand(rc, "DEL %s %s t:log:checkpoint", LOG_KEY,
                                 HEAD_KEY));

    seq = 0;
    memset(hash, 0, sizeof(hash));
    event_init(&ev, AC_EV_ACCOUNT_CREATED);

    for (i = 0; i < 10; i++) {
        if (i == 5) {
            memcpy(h5, hash, sizeof(h5));
            usleep(20000);
            cut = now_ms();
            usleep(20000);
        }
        CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);
    }

    /* nothing trimmed yet: the checkpoint is the genesis */
    CHECK_INT(ac_cmd_log_checkpoint(&cmd, &cfg), AC_OK);
    r = run(rc, &cmd);
    CHECK_INT(ac_log_head_parse(r, &cseq, chash), AC_OK);
    CHECK_INT(cseq, 0);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_log_trim(&cmd, &cfg, cut), AC_OK);
    r = run(rc, &cmd);
    CHECK_INT(ac_reply_integer(r, &removed), AC_OK);
    CHECK_INT(removed, 5);
    freeReplyObject(r);

    CHECK_INT(ac_cmd_log_checkpoint(&cmd, &cfg), AC_OK);
    r = run(rc, &cmd);
    CHECK_INT(ac_log_head_parse(r, &cseq, chash), AC_OK);
    CHECK_INT(cseq, 5);
    CHECK(memcmp(chash, h5, sizeof(h5)) == 0);
    freeReplyObject(r);

    /* from the checkpoint, what remains verifies up to the head */
    CHECK_INT(verify_stream(LOG_KEY, &cseq, chash, &first, &n), 0);
    CHECK_INT(n, 5);
    CHECK_INT(cseq, 10);
    CHECK_INT(read_head(&hseq, hhash), AC_OK);
    CHECK_INT(hseq, 10);
    CHECK(memcmp(chash, hhash, sizeof(hhash)) == 0);

    /* from the genesis it does not: the first entry left is 6 */
    seq = 0;
    memset(hash, 0, sizeof(hash));
    CHECK_INT(verify_stream(LOG_KEY, &seq, hash, &first, &n), 1);
    CHECK_INT(first, 1);

    /* trimming again before the same time removes nothing, keeps the
     * checkpoint */
    CHECK_INT(ac_cmd_log_trim(&cmd, &cfg, cut), AC_OK);
    r = run(rc, &cmd);
    CHECK_INT(ac_reply_integer(r, &removed), AC_OK);
    CHECK_INT(removed, 0);
    freeReplyObject(r);

    /* appending goes on after trimming */
    CHECK_INT(append(rc, &ev, &seq, hash, NULL), AC_OK);
    CHECK_INT(seq, 11);

    CHECK_INT(ac_cmd_log_trim(&cmd, &cfg, 0), AC_ERR_INVALID);
}

int
main(void)
{
    if (log_fixture_start() != 0) {
        return 1;
    }

    RUN(test_event_names);
    RUN(test_log_key);
    RUN(test_head_parse);
    RUN(test_append_input);
    RUN(test_append_verify);
    RUN(test_conflict);
    RUN(test_bounds);
    RUN(test_concurrent);
    RUN(test_trim);

    log_fixture_stop();

    return CHECK_DONE();
}
