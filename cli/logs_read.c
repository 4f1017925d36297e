/*
 * guichetctl logs: reading the connection log. The stream is read in
 * batches of CTL_LOGS_BATCH entries by stream id range (ids are Redis's
 * millisecond clock), and the log keys of the accounts a batch names are
 * fetched in one pipelined round trip and kept for the run.
 */

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "logs.h"


/* ------------------------------------------------------------ reading */

int
ctl_logs_walk(ctl_t *ctl, int reverse, const char *lo, const char *hi,
    ctl_lk_cache_t *cache, ctl_logs_each_pt each, void *data)
{
    int                rc;
    size_t             i, n;
    char               from[AC_LOG_ID_MAX + 2];
    ac_cmd_t           cmd;
    redisReply        *r;
    const redisReply  *last;

    snprintf(from, sizeof(from), "%s", reverse ? hi : lo);

    for ( ;; ) {
        if (ac_cmd_log_range(&cmd, ctl->cfg, reverse, from,
                             reverse ? lo : hi, CTL_LOGS_BATCH)
            != AC_OK)
        {
            return ctl_fail(CTL_EXIT_USAGE, "cannot build the log read");
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            return CTL_EXIT_FAIL;
        }

        if (r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected reply reading the"
                            " log");
        }

        if (cache != NULL && ctl_lk_prefetch(ctl, cache, r) != 0) {
            freeReplyObject(r);
            return CTL_EXIT_FAIL;
        }

        n = r->elements;

        for (i = 0; i < n; i++) {
            rc = each(ctl, data, r->element[i]);
            if (rc != 0) {
                freeReplyObject(r);
                return rc < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
            }
        }

        if (n < CTL_LOGS_BATCH) {
            freeReplyObject(r);
            return CTL_EXIT_OK;
        }

        last = r->element[n - 1];

        if (last->type != REDIS_REPLY_ARRAY || last->elements < 1
            || last->element[0]->type != REDIS_REPLY_STRING
            || last->element[0]->len >= AC_LOG_ID_MAX)
        {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected reply reading the"
                            " log");
        }

        /* "(" makes the bound exclusive: go on after the last one seen */
        from[0] = '(';
        memcpy(from + 1, last->element[0]->str, last->element[0]->len);
        from[last->element[0]->len + 1] = '\0';

        freeReplyObject(r);
    }
}

int64_t
ctl_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


void
ctl_time_ms(int64_t ms, char *out, size_t size)
{
    time_t     t;
    size_t     n;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (ms < 0 || gmtime_r(&t, &tm) == NULL
        || (n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
    {
        snprintf(out, size, "-");
        return;
    }

    snprintf(out + n, size - n, ".%03dZ", (int) (ms % 1000));
}
