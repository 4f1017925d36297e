/*
 * guichetctl logs: the connection log listed, filtered (ac_log_filter_t)
 * and written as a table, JSON or CSV, or followed as it grows
 * (docs/SECURITY-TEAM.md, docs/LOG.md).
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "logs.h"


static volatile sig_atomic_t  ctl_logs_stop;


static int ctl_logs_options(ctl_t *ctl, ctl_logs_t *lg);
static int ctl_logs_each(ctl_t *ctl, void *data, const redisReply *entry);
static int ctl_logs_follow(ctl_t *ctl, ctl_logs_t *lg);
static void ctl_logs_sigint(int sig);


/* The options of ac_log_filter_set(), with the usage message of each. */
static const struct {
    const char  *name;
    const char  *usage;
} ctl_logs_filter_opts[] = {
    { "event", "unknown event (the events are listed in"
      " docs/SECURITY-TEAM.md)" },
    { "result", "--result is ok or fail" },
    { "partner", "invalid partner id" },
    { "ip", "--ip takes an IP address or a CIDR block" },
    { "email", "invalid email" },
    { "since", "--since takes 2026-11-23, 2026-11-23T10:00:00Z or a"
      " duration such as 24h" },
    { "until", "--until takes 2026-11-23, 2026-11-23T10:00:00Z or a"
      " duration such as 24h" },
};


static int
ctl_logs_options(ctl_t *ctl, ctl_logs_t *lg)
{
    int                 i;
    char               *end;
    size_t              k;
    int64_t             now;
    unsigned long long  n;
    char                email[AC_EMAIL_MAX + 1];
    char                id[AC_ID_LEN + 1];
    ac_account_t        a;
    const ctl_opt_t    *o;

    ac_log_filter_init(&lg->f);
    now = ctl_now_ms();

    lg->format = ctl_has_opt(ctl, "json") ? CTL_FMT_JSON
                 : ctl_has_opt(ctl, "csv") ? CTL_FMT_CSV : CTL_FMT_TABLE;
    lg->follow = ctl_has_opt(ctl, "follow");

    if (ctl_has_opt(ctl, "json") && ctl_has_opt(ctl, "csv")) {
        return ctl_fail(CTL_EXIT_USAGE, "--json and --csv exclude each"
                        " other");
    }

    if (lg->follow && (ctl_has_opt(ctl, "until") || ctl_has_opt(ctl, "limit")))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--follow does not go with --until"
                        " or --limit");
    }

    for (k = 0; k < sizeof(ctl_logs_filter_opts)
                    / sizeof(ctl_logs_filter_opts[0]); k++)
    {
        o = ctl_opt(ctl, ctl_logs_filter_opts[k].name);

        for (i = 0; o != NULL && i < o->count; i++) {
            if (ac_log_filter_set(&lg->f, o->name, o->values[i],
                                  strlen(o->values[i]), now)
                != AC_OK)
            {
                return ctl_fail(CTL_EXIT_USAGE, "%s",
                                ctl_logs_filter_opts[k].usage);
            }
        }
    }

    o = ctl_opt(ctl, "limit");
    if (o != NULL) {
        errno = 0;
        n = strtoull(o->values[0], &end, 10);

        if (o->count > 1 || o->values[0][0] < '0' || o->values[0][0] > '9'
            || *end != '\0' || errno != 0 || n == 0)
        {
            return ctl_fail(CTL_EXIT_USAGE, "--limit takes a positive"
                            " number");
        }
        lg->limit = n;
    }

    o = ctl_opt(ctl, "account");
    if (o != NULL) {
        if (o->count > 1) {
            return ctl_fail(CTL_EXIT_USAGE, "--account given twice");
        }

        if (strchr(o->values[0], '@') != NULL) {
            if (ctl_email_arg(o->values[0], email) != CTL_EXIT_OK) {
                return CTL_EXIT_USAGE;
            }

            /* the account's entries, whatever email they were typed as */
            if (ctl_account_find(ctl, email, &a) != CTL_EXIT_OK) {
                return CTL_EXIT_FAIL;
            }

            memcpy(id, a.id, sizeof(a.id));
            ac_cleanse(&a, sizeof(a));

        } else {
            if (ac_log_filter_set(&lg->f, "account", o->values[0],
                                  strlen(o->values[0]), now)
                != AC_OK)
            {
                return ctl_fail(CTL_EXIT_USAGE, "--account takes an account"
                                " id, a log pseudonym or an email");
            }
            memcpy(id, lg->f.account, AC_ID_LEN + 1);
        }

        /* its entries name its pseudonym: resolved to the id */
        if (ctl_lk_account(ctl, &lg->cache, id, lg->f.account)
            != CTL_EXIT_OK)
        {
            return CTL_EXIT_FAIL;
        }
    }

    return CTL_EXIT_OK;
}


static int
ctl_logs_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    int          rc;
    ctl_logs_t  *lg;

    lg = data;

    rc = ctl_lk_parse(&lg->cache, entry, &lg->e);
    if (rc == AC_ERR_REDIS) {
        lg->malformed++;
        return 0;
    }

    if (lg->follow) {
        memcpy(lg->last_id, lg->e.id, sizeof(lg->last_id));
    }

    if (!ac_log_filter_match(&lg->f, &lg->e)) {
        return 0;
    }

    switch (lg->format) {

    case CTL_FMT_JSON:
        ctl_logs_json(&lg->out, &lg->e);
        break;

    case CTL_FMT_CSV:
        ctl_logs_csv(&lg->out, &lg->e);
        break;

    default:
        ctl_logs_table_add(lg);
    }

    lg->count++;

    /* JSON and CSV stream out; a table is measured first */
    if (lg->format != CTL_FMT_TABLE && lg->out.len >= 65536
        && ctl_logs_flush(lg) != CTL_EXIT_OK)
    {
        return -1;
    }

    if (ac_buf_status(&lg->out) != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "out of memory");
        return -1;
    }

    return lg->limit != 0 && lg->count >= lg->limit;
}


static void
ctl_logs_sigint(int sig)
{
    ctl_logs_stop = 1;
}


/*
 * XREAD BLOCK from the last entry seen, a second at a time so that
 * SIGINT is noticed; ends with status 0 on SIGINT or SIGTERM.
 */
static int
ctl_logs_follow(ctl_t *ctl, ctl_logs_t *lg)
{
    int                 rc;
    size_t              i;
    ac_cmd_t            cmd;
    redisReply         *r;
    const redisReply   *entries;
    struct sigaction    sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ctl_logs_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    while (!ctl_logs_stop) {
        if (ctl_logs_flush(lg) != CTL_EXIT_OK) {
            return CTL_EXIT_FAIL;
        }

        if (fflush(stdout) != 0) {
            return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                            strerror(errno));
        }

        if (ac_cmd_log_follow(&cmd, ctl->cfg, lg->last_id, CTL_LOGS_BATCH,
                              CTL_LOGS_BLOCK_MS)
            != AC_OK)
        {
            return ctl_fail(CTL_EXIT_FAIL, "cannot build the log read");
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            return ctl_logs_stop ? CTL_EXIT_OK : CTL_EXIT_FAIL;
        }

        if (r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            continue;
        }

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
            || r->element[0]->type != REDIS_REPLY_ARRAY
            || r->element[0]->elements != 2
            || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected XREAD reply");
        }

        entries = r->element[0]->element[1];

        if (ctl_lk_prefetch(ctl, &lg->cache, entries) != 0) {
            freeReplyObject(r);
            return CTL_EXIT_FAIL;
        }

        for (i = 0; i < entries->elements; i++) {
            rc = ctl_logs_each(ctl, lg, entries->element[i]);
            if (rc < 0) {
                freeReplyObject(r);
                return CTL_EXIT_FAIL;
            }
        }

        freeReplyObject(r);
    }

    return ctl_logs_flush(lg);
}


/*
 * guichetctl logs: newest first, or oldest first with --follow (the
 * entries since --since, then new ones as they come).
 */
int
ctl_cmd_logs(ctl_t *ctl)
{
    int          rc;
    char         lo[32], hi[32];
    ac_cmd_t     cmd;
    redisReply  *r;
    ctl_logs_t  *lg;
    static char  outbuf[1 << 16];

    lg = calloc(1, sizeof(ctl_logs_t));
    if (lg == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    ac_buf_init(&lg->out);
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    rc = ctl_logs_options(ctl, lg);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

    snprintf(lo, sizeof(lo), "%s", "-");
    snprintf(hi, sizeof(hi), "%s", "+");

    if (lg->f.since_ms >= 0) {
        snprintf(lo, sizeof(lo), "%lld", (long long) lg->f.since_ms);
    }

    /* --until is exclusive: the last millisecond before it */
    if (lg->f.until_ms >= 0) {
        if (lg->f.until_ms <= lg->f.since_ms || lg->f.until_ms == 0) {
            goto print;
        }
        snprintf(hi, sizeof(hi), "%lld", (long long) lg->f.until_ms - 1);
    }

    if (lg->format == CTL_FMT_CSV) {
        ctl_logs_csv_head(&lg->out);
    }

    if (lg->follow) {
        if (lg->format == CTL_FMT_TABLE) {
            ctl_logs_table_line(&lg->out, ctl_logs_head,
                                ctl_logs_follow_width);
        }

        /* start after the last entry now, so that none slips by */
        snprintf(lg->last_id, sizeof(lg->last_id), "0-0");

        if (lg->f.since_ms < 0) {
            rc = ac_cmd_log_range(&cmd, ctl->cfg, 1, "+", "-", 1);

            r = rc == AC_OK ? ctl_redis_run(ctl, &cmd) : NULL;
            if (r == NULL) {
                rc = CTL_EXIT_FAIL;
                goto done;
            }

            if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
                && r->element[0]->type == REDIS_REPLY_ARRAY
                && r->element[0]->elements == 2
                && r->element[0]->element[0]->type == REDIS_REPLY_STRING
                && r->element[0]->element[0]->len < AC_LOG_ID_MAX)
            {
                memcpy(lg->last_id, r->element[0]->element[0]->str,
                       r->element[0]->element[0]->len + 1);
            }

            freeReplyObject(r);

        } else {
            rc = ctl_logs_walk(ctl, 0, lo, "+", &lg->cache, ctl_logs_each,
                               lg);
            if (rc != CTL_EXIT_OK) {
                goto done;
            }
        }

        rc = ctl_logs_follow(ctl, lg);
        goto done;
    }

    rc = ctl_logs_walk(ctl, 1, lo, hi, &lg->cache, ctl_logs_each, lg);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

print:

    if (lg->format == CTL_FMT_TABLE) {
        rc = ctl_logs_table_print(lg);

    } else {
        rc = ctl_logs_flush(lg);
    }

    if (rc == CTL_EXIT_OK && lg->malformed > 0) {
        fflush(stdout);
        fprintf(stderr, "guichetctl: %llu malformed entries skipped;"
                " \"guichetctl logs verify\" tells where\n",
                (unsigned long long) lg->malformed);
    }

done:

    ctl_lk_free(&lg->cache);
    ac_buf_free(&lg->out);
    ac_cleanse(&lg->e, sizeof(lg->e));
    free(lg);

    return rc;
}
