/*
 * Connection log: detection of edited, inserted, deleted and reordered
 * entries, and of entries forged under another secret, on copies of a
 * stream of six events written against a real redis-server.
 */

#include "log_fixture.h"


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

    log_six_events(&hseq, hhash);

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

LOG_FIXTURE_MAIN(test_tamper)
