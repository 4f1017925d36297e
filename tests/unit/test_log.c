/*
 * Connection log: event names, per-account log keys, the chained append
 * against a real redis-server (conflicts, four concurrent writers),
 * detection of edited, inserted, deleted and reordered entries, erasure
 * and retention.
 */

#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "log-test-secret-0123456789abcdef";
static const unsigned char  other_secret[32] =
    "another-secret-0123456789abcdefg";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;
static int               have_redis;

#define LOG_KEY   "t:log"
#define HEAD_KEY  "t:log:head"
#define ACCOUNT   "abcdefghijklmnop"


static int64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


static void
event_init(ac_event_t *ev, ac_event_kind_t kind)
{
    memset(ev, 0, sizeof(ac_event_t));
    ev->kind = kind;
}


static void
event_str(const char **p, size_t *len, const char *s)
{
    *p = s;
    *len = strlen(s);
}


/*
 * Appends like a real writer: from the head it last saw (0 / genesis
 * the first time), re-building from the head a conflict returns.
 * Returns AC_OK and the entry's seq, or the error; *conflicts counts
 * the retries.
 */

static int
append(redisContext *c, const ac_event_t *ev, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN], int *conflicts)
{
    int           i, r;
    uint64_t      s;
    ac_cmd_t      cmd;
    redisReply   *reply;
    unsigned char mine[AC_MAC_LEN];

    for (i = 0; i < 1000; i++) {
        r = ac_cmd_log_append(&cmd, &cfg, keys, ev, *seq, hash, now_ms(),
                              mine);
        if (r != AC_OK) {
            return r;
        }

        reply = run(c, &cmd);
        if (reply == NULL) {
            return AC_ERR_REDIS;
        }

        r = ac_log_append_reply(reply, &s, hash);
        freeReplyObject(reply);

        if (r == AC_OK) {
            if (s != *seq + 1 || memcmp(mine, hash, AC_MAC_LEN) != 0) {
                return AC_ERR_MISMATCH;
            }

            *seq = s;
            return AC_OK;
        }

        if (r != AC_LOG_CONFLICT) {
            return r;
        }

        *seq = s;

        if (conflicts != NULL) {
            (*conflicts)++;
        }
    }

    return AC_ERR_REDIS;
}


static int
read_head(uint64_t *seq, unsigned char hash[AC_MAC_LEN])
{
    int          r;
    ac_cmd_t     cmd;
    redisReply  *reply;

    if (ac_cmd_log_head(&cmd, &cfg) != AC_OK) {
        return AC_ERR_INVALID;
    }

    reply = run(rc, &cmd);
    if (reply == NULL) {
        return AC_ERR_REDIS;
    }

    r = ac_log_head_parse(reply, seq, hash);
    freeReplyObject(reply);

    return r;
}


/*
 * Verifies every entry of "key" from (seq, hash) on, like "guichetctl
 * logs verify": returns the number of broken entries, *first the 1-based
 * position of the first one (0 if none), *n the number of entries, and
 * leaves (seq, hash) at the last entry.
 */

static int
verify_stream(const char *key, uint64_t *seq, unsigned char hash[AC_MAC_LEN],
    size_t *first, size_t *n)
{
    int          bad, r;
    size_t       i;
    redisReply  *reply;

    *first = 0;
    *n = 0;

    reply = redisCommand(rc, "XRANGE %s - +", key);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (reply) {
            freeReplyObject(reply);
        }
        return -1;
    }

    bad = 0;

    for (i = 0; i < reply->elements; i++) {
        r = ac_log_verify_entry(keys, *seq, hash, reply->element[i], seq,
                                hash);
        if (r != AC_OK) {
            if (bad++ == 0) {
                *first = i + 1;
            }
        }
    }

    *n = reply->elements;
    freeReplyObject(reply);

    return bad;
}


/* ------------------------------------------------------ tampered copies */

typedef struct {
    int          src;           /* index in the original, -1: forged */
    const char  *field;         /* replace or add this field ... */
    const char  *value;         /* ... with this value */
    ac_cmd_t    *forged;        /* an XADD-shaped append command */
} copy_op_t;


/*
 * Writes "dst" as a stream with explicit ids 1-1, 2-1, ... holding the
 * entries of "src" in the order and with the edits of ops: XDEL + XADD
 * with explicit ids, which is what someone with write access to Redis
 * can do to a stream.
 */

static int
copy_stream(const char *src, const char *dst, const copy_op_t *ops,
    size_t nops)
{
    size_t       i, j, argc, e;
    char         id[32];
    const char  *argv[64];
    size_t       argvlen[64];
    redisReply  *all, *entry, *r;
    int          replaced;

    freeReplyObject(redisCommand(rc, "DEL %s", dst));

    all = redisCommand(rc, "XRANGE %s - +", src);
    if (all == NULL || all->type != REDIS_REPLY_ARRAY) {
        return -1;
    }

    for (i = 0; i < nops; i++) {
        snprintf(id, sizeof(id), "%zu-1", i + 1);
        argc = 0;
        argv[argc] = "XADD";
        argvlen[argc++] = 4;
        argv[argc] = dst;
        argvlen[argc++] = strlen(dst);
        argv[argc] = id;
        argvlen[argc++] = strlen(id);

        if (ops[i].src < 0) {
            /* the field/value pairs of an append command: after
             * EVAL script 2 log head expected new */
            for (j = 7; j < (size_t) ops[i].forged->argc; j++) {
                argv[argc] = ops[i].forged->argv[j];
                argvlen[argc++] = ops[i].forged->argvlen[j];
            }

        } else {
            entry = all->element[ops[i].src]->element[1];
            replaced = 0;

            for (e = 0; e < entry->elements; e += 2) {
                argv[argc] = entry->element[e]->str;
                argvlen[argc++] = entry->element[e]->len;

                if (ops[i].field != NULL
                    && strcmp(entry->element[e]->str, ops[i].field) == 0)
                {
                    argv[argc] = ops[i].value;
                    argvlen[argc++] = strlen(ops[i].value);
                    replaced = 1;
                    continue;
                }

                argv[argc] = entry->element[e + 1]->str;
                argvlen[argc++] = entry->element[e + 1]->len;
            }

            if (ops[i].field != NULL && !replaced) {
                argv[argc] = ops[i].field;
                argvlen[argc++] = strlen(ops[i].field);
                argv[argc] = ops[i].value;
                argvlen[argc++] = strlen(ops[i].value);
            }
        }

        r = redisCommandArgv(rc, (int) argc, argv, argvlen);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            if (r) {
                freeReplyObject(r);
            }
            freeReplyObject(all);
            return -1;
        }

        freeReplyObject(r);
    }

    freeReplyObject(all);

    return 0;
}


/* Verifies dst from genesis: number of breaks, first position. */

static int
verify_copy(const char *dst, size_t *first, size_t *n, uint64_t *last)
{
    unsigned char  hash[AC_MAC_LEN];

    *last = 0;
    memset(hash, 0, sizeof(hash));

    return verify_stream(dst, last, hash, first, n);
}


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


/*
 * Six events of different shapes; returns with the stream "t:log" in
 * place for the tests that follow.
 */

static unsigned char  acct_key[AC_LOG_KEY_LEN];

TEST(test_append_verify)
{
    int             conflicts;
    size_t          first, n;
    uint64_t        seq, hseq;
    ac_event_t      ev;
    unsigned char   hash[AC_MAC_LEN], hhash[AC_MAC_LEN];
    ac_log_entry_t  e;
    char            pseudo[AC_LOG_PSEUDO_LEN + 1];
    redisReply     *all;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    seq = 0;
    memset(hash, 0, sizeof(hash));
    conflicts = 0;

    CHECK_INT(ac_random(acct_key, sizeof(acct_key)), AC_OK);

    /* 1: a failure for an unknown account, fields as typed */
    event_init(&ev, AC_EV_LOGIN_FAILURE);
    event_str(&ev.reason, &ev.reason_len, "bad_credentials");
    event_str(&ev.email, &ev.email_len, "Mallory@Example.COM");
    event_str(&ev.ip, &ev.ip_len, "203.0.113.9");
    event_str(&ev.ua, &ev.ua_len, "curl/7.88.1");
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    /* 2: a login of a known account, personal fields sealed */
    event_init(&ev, AC_EV_LOGIN_SUCCESS);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    event_str(&ev.email, &ev.email_len, "alice@example.com");
    event_str(&ev.ip, &ev.ip_len, "2001:db8::1");
    event_str(&ev.ua, &ev.ua_len, "Mozilla/5.0 (X11; Linux x86_64)");
    event_str(&ev.session, &ev.session_len, "q1w2e3r4t5y6u7i8o9p0as");
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    /* 3: SSO through a partner */
    event_init(&ev, AC_EV_SSO_SUCCESS);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    event_str(&ev.partner, &ev.partner_len, "acme-intranet");
    event_str(&ev.ip, &ev.ip_len, "198.51.100.7");
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    /* 4: throttled is a failure by nature */
    event_init(&ev, AC_EV_THROTTLED);
    event_str(&ev.reason, &ev.reason_len, "ip");
    event_str(&ev.ip, &ev.ip_len, "203.0.113.9");
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    /* 5: a failed export, marked by the caller */
    event_init(&ev, AC_EV_EXPORT);
    ev.failed = 1;
    event_str(&ev.reason, &ev.reason_len, "reauth_required");
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    /* 6: a logout */
    event_init(&ev, AC_EV_LOGOUT);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, &seq, hash, &conflicts), AC_OK);

    CHECK_INT(seq, 6);
    CHECK_INT(conflicts, 0);

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


TEST(test_tamper)
{
    int            bad;
    size_t         first, n;
    uint64_t       last, hseq;
    ac_cmd_t       forged;
    ac_event_t     ev;
    ac_keys_t     *other;
    unsigned char  hhash[AC_MAC_LEN], prev[AC_MAC_LEN];
    redisReply    *all, *r;

    if (!have_redis) {
        CHECK(have_redis);
        return;
    }

    CHECK_INT(read_head(&hseq, hhash), AC_OK);
    CHECK_INT(hseq, 6);

    /* a faithful copy verifies: the copying itself changes nothing */
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0},
                             {3, 0, 0, 0}, {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        CHECK_INT(verify_copy("t:copy", &first, &n, &last), 0);
        CHECK_INT(n, 6);
        CHECK_INT(last, 6);
    }

    /* edited: entry 1's IP, entry 4's reason, entry 2's sealed blob */
    {
        copy_op_t  ops[] = { {0, "i", "198.51.100.1", 0}, {1, 0, 0, 0},
                             {2, 0, 0, 0}, {3, 0, 0, 0}, {4, 0, 0, 0},
                             {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 1);
    }
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0},
                             {3, "c", "none", 0}, {4, 0, 0, 0},
                             {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 4);
    }
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, "r", "fail", 0},
                             {2, 0, 0, 0}, {3, 0, 0, 0}, {4, 0, 0, 0},
                             {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 2);
    }

    /* a field added to an entry, even one the chain does not know */
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0},
                             {2, "e", "eve@example.com", 0}, {3, 0, 0, 0},
                             {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 3);
    }
    /* an empty field where the entry had none: appends never write one,
     * and an absent field and an empty one must not chain alike */
    {
        copy_op_t  ops[] = { {0, "d", "", 0}, {1, 0, 0, 0}, {2, 0, 0, 0},
                             {3, 0, 0, 0}, {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 1);
    }
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0},
                             {3, 0, 0, 0}, {4, "note", "x", 0},
                             {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 5);
    }

    /* deleted: entry 3 */
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {3, 0, 0, 0},
                             {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 5), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 3);
    }

    /* deleted: the last entry; the chain holds but misses the head */
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {2, 0, 0, 0},
                             {3, 0, 0, 0}, {4, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 5), 0);
        CHECK_INT(verify_copy("t:copy", &first, &n, &last), 0);
        CHECK(last != hseq);
    }

    /* reordered: entries 3 and 4 swapped */
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {3, 0, 0, 0},
                             {2, 0, 0, 0}, {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK(bad >= 1);
        CHECK_INT(first, 3);
    }

    /* inserted after entry 2: an entry chained to entry 2 under another
     * gateway's key, with the right seq */
    all = redisCommand(rc, "XRANGE %s - +", LOG_KEY);
    CHECK(all != NULL && all->type == REDIS_REPLY_ARRAY
          && all->elements == 6);
    if (all == NULL || all->elements != 6) {
        return;
    }

    {
        uint64_t  s = 1;

        memset(prev, 0, sizeof(prev));
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, all->element[0], &s,
                                      prev),
                  AC_OK);
        CHECK_INT(ac_log_verify_entry(keys, 1, prev, all->element[1], &s,
                                      prev),
                  AC_OK);
        CHECK_INT(s, 2);
    }

    freeReplyObject(all);

    CHECK_INT(ac_keys_from_secret(other_secret, sizeof(other_secret),
                                  &other), AC_OK);
    event_init(&ev, AC_EV_LOGIN_SUCCESS);
    event_str(&ev.ip, &ev.ip_len, "192.0.2.66");
    CHECK_INT(ac_cmd_log_append(&forged, &cfg, other, &ev, 2, prev,
                                now_ms(), NULL),
              AC_OK);
    ac_keys_free(other);

    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {-1, 0, 0, &forged},
                             {2, 0, 0, 0}, {3, 0, 0, 0}, {4, 0, 0, 0},
                             {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 7), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK(bad >= 1);
        CHECK_INT(first, 3);
        CHECK_INT(n, 7);
    }

    /* a seq jump, even when the hash is chained with the right key */
    CHECK_INT(ac_cmd_log_append(&forged, &cfg, keys, &ev, 4, prev,
                                now_ms(), NULL),
              AC_OK);
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0},
                             {-1, 0, 0, &forged} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 3), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 3);
    }

    /* the same insertion under the right key but replacing entry 3 is
     * still caught: entry 4 was chained to the original */
    CHECK_INT(ac_cmd_log_append(&forged, &cfg, keys, &ev, 2, prev,
                                now_ms(), NULL),
              AC_OK);
    {
        copy_op_t  ops[] = { {0, 0, 0, 0}, {1, 0, 0, 0}, {-1, 0, 0, &forged},
                             {3, 0, 0, 0}, {4, 0, 0, 0}, {5, 0, 0, 0} };

        CHECK_INT(copy_stream(LOG_KEY, "t:copy", ops, 6), 0);
        bad = verify_copy("t:copy", &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 4);
    }

    /* XDEL in the live stream */
    r = redisCommand(rc, "XRANGE %s - +", LOG_KEY);
    CHECK(r != NULL && r->elements == 6);
    if (r != NULL && r->elements == 6) {
        CHECK_INT(copy_stream(LOG_KEY, "t:backup",
                              (copy_op_t[]) { {0, 0, 0, 0}, {1, 0, 0, 0},
                                              {2, 0, 0, 0}, {3, 0, 0, 0},
                                              {4, 0, 0, 0}, {5, 0, 0, 0} },
                              6), 0);
        freeReplyObject(redisCommand(rc, "XDEL %s %s", LOG_KEY,
                                     r->element[1]->element[0]->str));
        bad = verify_copy(LOG_KEY, &first, &n, &last);
        CHECK_INT(bad, 1);
        CHECK_INT(first, 2);
        CHECK_INT(n, 5);
    }

    if (r != NULL) {
        freeReplyObject(r);
    }

    /* hostile entry shapes */
    {
        redisReply      ent, id, list, f[4], *fp[4], *ep[2];
        uint64_t        s;
        ac_log_entry_t  e;
        char         idstr[] = "1-1";
        const char  *kv[] = { "s", "1", "h",
                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
        int          i;

        memset(&ent, 0, sizeof(ent));
        memset(&id, 0, sizeof(id));
        memset(&list, 0, sizeof(list));
        memset(prev, 0, sizeof(prev));

        ent.type = REDIS_REPLY_ARRAY;
        ent.elements = 2;
        ent.element = ep;
        ep[0] = &id;
        ep[1] = &list;
        id.type = REDIS_REPLY_STRING;
        id.str = idstr;
        id.len = 3;
        list.type = REDIS_REPLY_ARRAY;
        list.elements = 4;
        list.element = fp;

        for (i = 0; i < 4; i++) {
            memset(&f[i], 0, sizeof(f[i]));
            f[i].type = REDIS_REPLY_STRING;
            f[i].str = (char *) kv[i];
            f[i].len = strlen(kv[i]);
            fp[i] = &f[i];
        }

        /* well formed, but not a chained hash */
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_MISMATCH);
        CHECK_INT(s, 1);

        list.elements = 3;
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_REDIS);
        list.elements = 4;

        f[1].type = REDIS_REPLY_INTEGER;
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_REDIS);
        f[1].type = REDIS_REPLY_STRING;

        f[1].str = (char *) "01";
        f[1].len = 2;
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_MISMATCH);
        f[1].str = (char *) "99999999999999999999999";
        f[1].len = strlen(f[1].str);
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_MISMATCH);

        ent.elements = 1;
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_REDIS);
        CHECK_INT(ac_log_entry_parse(&ent, NULL, &e), AC_ERR_REDIS);
        ent.type = REDIS_REPLY_NIL;
        CHECK_INT(ac_log_verify_entry(keys, 0, prev, &ent, &s, hhash),
                  AC_ERR_REDIS);
    }

    /* restore the live stream for the tests that follow */
    freeReplyObject(redisCommand(rc, "DEL %s", LOG_KEY));
    freeReplyObject(redisCommand(rc, "RENAME t:backup %s", LOG_KEY));
    freeReplyObject(redisCommand(rc, "DEL t:copy"));
}


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

    RUN(test_event_names);
    RUN(test_log_key);
    RUN(test_head_parse);
    RUN(test_append_input);
    RUN(test_append_verify);
    RUN(test_conflict);
    RUN(test_tamper);
    RUN(test_erasure);
    RUN(test_bounds);
    RUN(test_concurrent);
    RUN(test_trim);

    if (rc != NULL) {
        redisFree(rc);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
    ac_done();

    return CHECK_DONE();
}
