/*
 * guichetctl logs verify: the connection log's hash chain checked from
 * the retention checkpoint to the head (docs/LOG.md).
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "logs.h"


typedef struct {
    uint64_t        n;
    uint64_t        bad;
    uint64_t        seq;
    unsigned char   hash[AC_MAC_LEN];
    uint64_t        head_seq;
    unsigned char   head[AC_MAC_LEN];
    int             head_seen;
    int             head_ok;
    uint64_t        bad_seq;
    char            bad_id[AC_LOG_ID_MAX];
    const char     *problem;
    char            last_id[AC_LOG_ID_MAX];
} ctl_verify_t;


static int ctl_verify_each(ctl_t *ctl, void *data, const redisReply *entry);
static int ctl_verify_get(ctl_t *ctl, int checkpoint, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN]);


static int
ctl_verify_get(ctl_t *ctl, int checkpoint, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN])
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;

    rc = checkpoint ? ac_cmd_log_checkpoint(&cmd, ctl->cfg)
                    : ac_cmd_log_head(&cmd, ctl->cfg);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_log_head_parse(r, seq, hash);
    freeReplyObject(r);

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "the log %s is malformed (it should"
                        " read \"SEQ HASH\")",
                        checkpoint ? "checkpoint" : "head");
    }

    return CTL_EXIT_OK;
}


static int
ctl_verify_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    int            rc;
    uint64_t       seq;
    ctl_verify_t  *v;
    unsigned char  hash[AC_MAC_LEN];

    v = data;
    v->n++;

    if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2
        && entry->element[0]->type == REDIS_REPLY_STRING
        && entry->element[0]->len < AC_LOG_ID_MAX)
    {
        memcpy(v->last_id, entry->element[0]->str,
               entry->element[0]->len + 1);
    }

    rc = ac_log_verify_entry(ctl->keys, v->seq, v->hash, entry, &seq, hash);

    if (rc == AC_ERR_REDIS) {
        seq = v->seq + 1;
        memcpy(hash, v->hash, AC_MAC_LEN);
    }

    if (rc != AC_OK) {
        if (v->bad++ == 0) {
            v->bad_seq = seq;
            memcpy(v->bad_id, v->last_id, sizeof(v->bad_id));
            v->problem = rc == AC_ERR_REDIS
                         ? "not a log entry"
                         : seq != v->seq + 1
                         ? "out of sequence: an entry before it was"
                           " deleted, or it was inserted or moved"
                         : "hash mismatch: the entry was edited, inserted"
                           " or moved";
        }
    }

    v->seq = seq;
    memcpy(v->hash, hash, AC_MAC_LEN);

    if (seq == v->head_seq && !v->head_seen) {
        v->head_seen = 1;
        v->head_ok = CRYPTO_memcmp(hash, v->head, AC_MAC_LEN) == 0;
    }

    return 0;
}


/*
 * guichetctl logs verify: the chain from the checkpoint, then the head.
 * The head is read first, so entries appended meanwhile only extend the
 * walk.
 */
int
ctl_cmd_logs_verify(ctl_t *ctl)
{
    int           rc, intact;
    uint64_t      cp_seq;
    ac_buf_t      b;
    ctl_verify_t  v;
    char          head[AC_LOG_HASH_LEN + 1], bad[256];
    unsigned char cp[AC_MAC_LEN];

    memset(&v, 0, sizeof(v));

    rc = ctl_verify_get(ctl, 1, &cp_seq, cp);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    rc = ctl_verify_get(ctl, 0, &v.head_seq, v.head);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    v.seq = cp_seq;
    memcpy(v.hash, cp, AC_MAC_LEN);

    if (v.head_seq == cp_seq) {
        v.head_seen = 1;
        v.head_ok = CRYPTO_memcmp(cp, v.head, AC_MAC_LEN) == 0;
    }

    rc = ctl_logs_walk(ctl, 0, "-", "+", NULL, ctl_verify_each, &v);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    bad[0] = '\0';

    if (v.bad == 0 && !v.head_ok) {
        v.bad = 1;

        if (v.head_seq == 0 && v.n > 0) {
            snprintf(bad, sizeof(bad), "the head (%slog:head) is missing",
                     ctl->cfg->key_prefix);

        } else if (v.head_seq > v.seq || !v.head_seen) {
            snprintf(bad, sizeof(bad), "the log ends at seq %llu (id %s)"
                     " but the head is seq %llu: entries were removed from"
                     " the end", (unsigned long long) v.seq,
                     v.last_id[0] ? v.last_id : "-",
                     (unsigned long long) v.head_seq);
            v.bad_seq = v.seq + 1;

        } else {
            snprintf(bad, sizeof(bad), "the entry at seq %llu does not"
                     " match the head", (unsigned long long) v.head_seq);
            v.bad_seq = v.head_seq;
        }

        v.problem = bad;
    }

    intact = v.bad == 0;

    ac_b64url_encode(v.head, AC_MAC_LEN, head);
    head[AC_LOG_HASH_LEN] = '\0';

    if (ctl->json) {
        ac_buf_init(&b);
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "entries", 1);
        ac_buf_printf(&b, "%llu", (unsigned long long) v.n);
        ctl_json_key(&b, "intact", 0);
        ac_buf_str(&b, intact ? "true" : "false");
        ctl_json_key(&b, "checkpoint_seq", 0);
        ac_buf_printf(&b, "%llu", (unsigned long long) cp_seq);
        ctl_json_key(&b, "head", 0);
        ac_buf_printf(&b, "\"%llu %s\"", (unsigned long long) v.head_seq,
                      head);

        if (!intact) {
            ctl_json_key(&b, "bad_entries", 0);
            ac_buf_printf(&b, "%llu", (unsigned long long) v.bad);
            ctl_json_key(&b, "first_bad", 0);
            ac_buf_str(&b, "{");
            ctl_json_key(&b, "seq", 1);
            ac_buf_printf(&b, "%llu", (unsigned long long) v.bad_seq);
            ctl_json_key(&b, "id", 0);
            if (v.bad_id[0] != '\0') {
                ctl_json_str(&b, v.bad_id);
            } else {
                ac_buf_str(&b, "null");
            }
            ctl_json_key(&b, "problem", 0);
            ctl_json_str(&b, v.problem);
            ac_buf_str(&b, "}");
        }

        ac_buf_str(&b, "}");
        rc = ctl_print_buf(&b);
        ac_buf_free(&b);

        if (rc != CTL_EXIT_OK) {
            return rc;
        }

        return intact ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }

    if (intact) {
        printf("%llu entries, chain intact\nhead: %llu %s\n",
               (unsigned long long) v.n, (unsigned long long) v.head_seq,
               head);
        return CTL_EXIT_OK;
    }

    printf("%llu entries, chain BROKEN (%llu bad)\n"
           "first bad position: seq %llu, stream id %s\n%s\n",
           (unsigned long long) v.n, (unsigned long long) v.bad,
           (unsigned long long) v.bad_seq,
           v.bad_id[0] != '\0' ? v.bad_id : "-", v.problem);

    return CTL_EXIT_FAIL;
}
