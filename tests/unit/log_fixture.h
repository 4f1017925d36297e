/*
 * What the connection log test programs share (test_log.c appends and
 * reads, test_log_tamper.c detects tampering, test_log_erasure.c erases):
 * a redis-server with the test configuration, a writer that appends like
 * the real ones, the chain verifier of "guichetctl logs verify", and the
 * stream of six events the tamper and erasure tests start from.
 */

#ifndef GUICHET_LOG_FIXTURE_H
#define GUICHET_LOG_FIXTURE_H

#include <stdlib.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"
#include "redis_fixture.h"


static const unsigned char  secret[32] = "log-test-secret-0123456789abcdef";
static const unsigned char  other_secret[32] __attribute__((unused)) =
    "another-secret-0123456789abcdefg";

static ac_config_t       cfg;
static ac_keys_t        *keys;
static redis_fixture_t   rf;
static redisContext     *rc;
static int               have_redis;

#define LOG_KEY   "t:log"
#define HEAD_KEY  "t:log:head"
#define ACCOUNT   "abcdefghijklmnop"


static __attribute__((unused)) int64_t
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static __attribute__((unused)) redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


static __attribute__((unused)) void
event_init(ac_event_t *ev, ac_event_kind_t kind)
{
    memset(ev, 0, sizeof(ac_event_t));
    ev->kind = kind;
}


static __attribute__((unused)) void
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

static __attribute__((unused)) int
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


static __attribute__((unused)) int
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

static __attribute__((unused)) int
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


/* The configuration, keys and a redis-server of every log test program;
 * have_redis tells whether it started. */

static __attribute__((unused)) int
log_fixture_start(void)
{
    CHECK(ac_init() == AC_OK);

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_prefix = "t:";

    if (ac_keys_from_secret(secret, sizeof(secret), &keys) != AC_OK) {
        printf("cannot derive keys\n");
        return -1;
    }

    have_redis = redis_fixture_start(&rf) == 0;
    rc = have_redis ? redis_fixture_connect(&rf) : NULL;
    have_redis = rc != NULL;

    return 0;
}


static __attribute__((unused)) void
log_fixture_stop(void)
{
    if (rc != NULL) {
        redisFree(rc);
    }

    redis_fixture_stop(&rf);
    ac_keys_free(keys);
    ac_done();
}


/*
 * The stream the log tests read, tamper with and erase from: six events
 * of different shapes appended from the genesis, those of ACCOUNT sealed
 * under acct_key (made here). Leaves (seq, hash) at the head.
 */

static unsigned char  acct_key[AC_LOG_KEY_LEN];

static __attribute__((unused)) void
log_six_events(uint64_t *seq, unsigned char hash[AC_MAC_LEN])
{
    int         conflicts;
    ac_event_t  ev;

    freeReplyObject(redisCommand(rc, "DEL %s %s", LOG_KEY, HEAD_KEY));

    *seq = 0;
    memset(hash, 0, AC_MAC_LEN);
    conflicts = 0;

    CHECK_INT(ac_random(acct_key, sizeof(acct_key)), AC_OK);

    /* 1: a failure for an unknown account, fields as typed */
    event_init(&ev, AC_EV_LOGIN_FAILURE);
    event_str(&ev.reason, &ev.reason_len, "bad_credentials");
    event_str(&ev.email, &ev.email_len, "Mallory@Example.COM");
    event_str(&ev.ip, &ev.ip_len, "203.0.113.9");
    event_str(&ev.ua, &ev.ua_len, "curl/7.88.1");
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    /* 2: a login of a known account, personal fields sealed */
    event_init(&ev, AC_EV_LOGIN_SUCCESS);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    event_str(&ev.email, &ev.email_len, "alice@example.com");
    event_str(&ev.ip, &ev.ip_len, "2001:db8::1");
    event_str(&ev.ua, &ev.ua_len, "Mozilla/5.0 (X11; Linux x86_64)");
    event_str(&ev.session, &ev.session_len, "q1w2e3r4t5y6u7i8o9p0as");
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    /* 3: SSO through a partner */
    event_init(&ev, AC_EV_SSO_SUCCESS);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    event_str(&ev.partner, &ev.partner_len, "acme-intranet");
    event_str(&ev.ip, &ev.ip_len, "198.51.100.7");
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    /* 4: throttled is a failure by nature */
    event_init(&ev, AC_EV_THROTTLED);
    event_str(&ev.reason, &ev.reason_len, "ip");
    event_str(&ev.ip, &ev.ip_len, "203.0.113.9");
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    /* 5: a failed export, marked by the caller */
    event_init(&ev, AC_EV_EXPORT);
    ev.failed = 1;
    event_str(&ev.reason, &ev.reason_len, "reauth_required");
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    /* 6: a logout */
    event_init(&ev, AC_EV_LOGOUT);
    event_str(&ev.account, &ev.account_len, ACCOUNT);
    ev.log_key = acct_key;
    CHECK_INT(append(rc, &ev, seq, hash, &conflicts), AC_OK);

    CHECK_INT(*seq, 6);
    CHECK_INT(conflicts, 0);
}

/* The main() of a program of one log test. */

#define LOG_FIXTURE_MAIN(test)                                               \
int                                                                          \
main(void)                                                                   \
{                                                                            \
    if (log_fixture_start() != 0) {                                          \
        return 1;                                                            \
    }                                                                        \
    RUN(test);                                                               \
    log_fixture_stop();                                                      \
    return CHECK_DONE();                                                     \
}


#endif /* GUICHET_LOG_FIXTURE_H */
