/*
 * guichetctl logs anomalies: the security team's anomaly rules
 * (ac_anomaly_*, docs/SECURITY-TEAM.md) over the recent log.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "logs.h"


#define CTL_ANOM_SINCE     (24 * 3600)


/* The rules are authcore's (ac_anomaly_*); this feeds and prints them. */
typedef struct {
    ctl_lk_cache_t   cache;
    ac_anomaly_t    *an;
    ac_log_entry_t   e;
} ctl_anom_t;


static int
ctl_anom_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    ctl_anom_t      *an;
    ac_log_entry_t  *e;

    an = data;
    e = &an->e;

    if (ctl_lk_parse(&an->cache, entry, e) != AC_OK) {
        return 0;
    }

    if (ac_anomaly_add(an->an, e) != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "out of memory");
        return -1;
    }

    return 0;
}


static int
ctl_anom_is_new(const ac_anomaly_finding_t *r)
{
    return strcmp(r->rule, "new_ip") == 0
           || strcmp(r->rule, "new_device") == 0;
}


static void
ctl_anom_print(ctl_t *ctl, ctl_anom_t *an, int64_t since, int64_t until,
    ac_buf_t *b)
{
    size_t                 i, k, n;
    char                   t1[CTL_LOGS_TIME_MAX], t2[CTL_LOGS_TIME_MAX];
    const char            *cells[6];
    ctl_table_t            table;
    ac_config_t           *cfg;
    ac_buf_t               d;
    ac_anomaly_finding_t   r;
    static const char     *head[6] = {
        "RULE", "SUBJECT", "COUNT", "FROM", "TO", "DETAILS"
    };

    cfg = ctl->cfg;
    n = ac_anomaly_count(an->an);

    if (ctl->json) {
        ctl_time_ms(since, t1, sizeof(t1));
        ctl_time_ms(until, t2, sizeof(t2));

        ac_buf_str(b, "{");
        ctl_json_key(b, "since", 1);
        ctl_json_str(b, t1);
        ctl_json_key(b, "until", 0);
        ctl_json_str(b, t2);
        ctl_json_key(b, "events_scanned", 0);
        ac_buf_printf(b, "%zu", ac_anomaly_events(an->an));
        ctl_json_key(b, "thresholds", 0);
        ac_buf_printf(b, "{\"window_seconds\":%lld,\"ip_failures\":%u,"
                      "\"account_failures\":%u,"
                      "\"second_factor_failures\":%u,\"ip_accounts\":%u,"
                      "\"partner_failures\":%u}",
                      (long long) cfg->anomaly_window,
                      cfg->anomaly_ip_failures,
                      cfg->anomaly_account_failures,
                      cfg->anomaly_second_factor_failures,
                      cfg->anomaly_ip_accounts,
                      cfg->anomaly_partner_failures);
        ctl_json_key(b, "anomalies", 0);
        ac_buf_str(b, "[");

        for (i = 0; ac_anomaly_get(an->an, i, &r) == AC_OK; i++) {
            ctl_time_ms(r.first_ms, t1, sizeof(t1));
            ctl_time_ms(r.last_ms, t2, sizeof(t2));

            ac_buf_str(b, i ? ",{" : "{");
            ctl_json_key(b, "rule", 1);
            ctl_json_str(b, r.rule);
            ctl_json_key(b, r.subject_kind, 0);
            ctl_json_str(b, r.subject);
            ctl_json_key(b, "count", 0);
            ac_buf_printf(b, "%llu", (unsigned long long) r.count);
            ctl_json_key(b, "first", 0);
            ctl_json_str(b, t1);
            ctl_json_key(b, "last", 0);
            ctl_json_str(b, t2);

            if (ctl_anom_is_new(&r)) {
                ctl_json_key(b, "ip", 0);
                ctl_json_str(b, r.ip);
                ctl_json_key(b, "user_agent", 0);
                ctl_json_str(b, r.ua);

            } else {
                ctl_json_key(b, strcmp(r.details_kind, "ip") == 0
                                ? "ips" : "accounts", 0);
                ac_buf_str(b, "[");
                for (k = 0; k < r.ndetails; k++) {
                    if (k) {
                        ac_buf_str(b, ",");
                    }
                    ctl_json_str(b, r.details[k]);
                }
                ac_buf_str(b, "]");
                ctl_json_key(b, "more", 0);
                ac_buf_printf(b, "%llu", (unsigned long long) r.more);
            }

            ac_buf_str(b, "}");
        }

        ac_buf_str(b, "]}");
        return;
    }

    ctl_table_init(&table, head, 6);
    ac_buf_init(&d);

    for (i = 0; ac_anomaly_get(an->an, i, &r) == AC_OK; i++) {
        ctl_time_ms(r.first_ms, t1, sizeof(t1));
        ctl_time_ms(r.last_ms, t2, sizeof(t2));

        ac_buf_reset(&d);

        if (ctl_anom_is_new(&r)) {
            ac_buf_printf(&d, "ip: %s", r.ip);
            if (r.ua[0] != '\0') {
                ac_buf_printf(&d, " ua: %s", r.ua);
            }

        } else {
            ac_buf_printf(&d, "%s:", strcmp(r.details_kind, "ip") == 0
                                     ? "ips" : "accounts");
            for (k = 0; k < r.ndetails; k++) {
                ac_buf_printf(&d, "%s%s", k ? "," : " ", r.details[k]);
            }
        }

        if (r.more > 0) {
            ac_buf_printf(&d, " (+%llu more)", (unsigned long long) r.more);
        }

        ac_buf_printf(b, "%llu", (unsigned long long) r.count);

        cells[0] = r.rule;
        cells[1] = r.subject;
        cells[2] = b->data;
        cells[3] = t1;
        cells[4] = t2;
        cells[5] = d.data != NULL ? d.data : "";

        if (ac_buf_status(&d) != AC_OK || ac_buf_status(b) != AC_OK
            || ctl_table_row(&table, cells) != AC_OK)
        {
            b->oom = 1;
            break;
        }

        ac_buf_reset(b);
    }

    if (n == 0) {
        printf("no anomalies in %zu authentication events\n",
               ac_anomaly_events(an->an));

    } else if (!b->oom) {
        ctl_table_print(&table, stdout);
    }

    ctl_table_free(&table);
    ac_buf_free(&d);
    ac_buf_reset(b);
}


/*
 * guichetctl logs anomalies: scans --since (24h) to now, oldest first,
 * then applies the rules to the events kept.
 */
int
ctl_cmd_logs_anomalies(ctl_t *ctl)
{
    int                rc;
    int64_t            now, since;
    char               lo[32];
    ac_buf_t           b;
    ctl_anom_t        *an;
    const ctl_opt_t   *o;

    now = ctl_now_ms();
    since = now - (int64_t) CTL_ANOM_SINCE * 1000;

    o = ctl_opt(ctl, "since");
    if (o != NULL
        && (o->count > 1 || ac_log_time_parse(o->values[0],
                                              strlen(o->values[0]), now,
                                              &since)
                            != AC_OK))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--since takes 2026-11-23,"
                        " 2026-11-23T10:00:00Z or a duration such as 24h");
    }

    an = calloc(1, sizeof(ctl_anom_t));
    if (an == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    ac_buf_init(&b);

    if (ac_anomaly_new(ctl->cfg, &an->an) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    snprintf(lo, sizeof(lo), "%lld", (long long) since);

    rc = ctl_logs_walk(ctl, 0, lo, "+", &an->cache, ctl_anom_each, an);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

    if (ac_anomaly_run(an->an) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    ctl_anom_print(ctl, an, since, now, &b);

    if (ctl->json) {
        rc = ctl_print_buf(&b);

    } else if (ac_buf_status(&b) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

done:

    ctl_lk_free(&an->cache);
    ac_anomaly_free(an->an);
    ac_buf_free(&b);
    ac_cleanse(&an->e, sizeof(an->e));
    free(an);

    return rc;
}
