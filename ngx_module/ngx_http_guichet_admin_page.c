/*
 * Guichet nginx module: the security team's page rendered part by part
 * from its one template (loaded and checked with the others by
 * ngx_http_guichet_page.c), every value through its HTML escaping, and
 * sent with the security headers.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_admin.h"


void
ngx_http_guichet_admin_ms(int64_t ms, char *out, size_t size)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL) {
        ngx_cpystrn((u_char *) out, (u_char *) "?", size);
        return;
    }

    ngx_snprintf((u_char *) out, size - 1,
                 "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ%Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int) (ms % 1000));
    out[size - 1] = '\0';
}


void
ngx_http_guichet_admin_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                      i, k, nent, shown, len;
    u_char                     *q, *p;
    char                        scanned[NGX_INT_T_LEN + 1];
    char                        scan_max[NGX_INT_T_LEN + 1];
    char                        events[NGX_INT_T_LEN + 1];
    char                        anom_scanned[NGX_INT_T_LEN + 1];
    char                        anom_max[NGX_INT_T_LEN + 1];
    char                        count[NGX_INT_T_LEN + 1];
    char                        rows[NGX_INT_T_LEN + 1];
    char                        t1[NGX_HTTP_GUICHET_ADMIN_TIME_MAX];
    char                        t2[NGX_HTTP_GUICHET_ADMIN_TIME_MAX];
    char                        newer[AC_LOG_ID_MAX], older[AC_LOG_ID_MAX];
    char                        crange[NGX_HTTP_GUICHET_CHART_RANGE];
    char                        cread[NGX_INT_T_LEN + 1];
    ngx_int_t                   rc;
    ngx_uint_t                  forward, full;
    ac_buf_t                    d;
    redisReply                 *range, **pick;
    ac_anomaly_t               *an;
    ac_anomaly_finding_t        f;
    ngx_http_guichet_admin_t   *ad;
    ngx_http_guichet_main_conf_t  *gmcf;

    static const char  *qnames[] = {
        "account", "email", "ip", "event", "result", "partner", "since",
        "until"
    };

    ad = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    an = NULL;
    ac_buf_init(&d);

    if (ngx_http_guichet_tpl_get(r, ctx, "admin_logs.html", &ad->tpl)
        != NGX_OK)
    {
        goto failed;
    }

    /* the anomaly report */

    if (ac_anomaly_new(gmcf->ac, &an) != AC_OK
        || ad->recent->type != REDIS_REPLY_ARRAY)
    {
        goto failed;
    }

    for (i = 0; i < ad->recent->elements; i++) {
        if (ngx_http_guichet_admin_parse(ad, ad->recent->element[i])
            == NGX_OK
            && ac_anomaly_add(an, &ad->e) != AC_OK)
        {
            goto failed;
        }
    }

    if (ac_anomaly_run(an) != AC_OK) {
        goto failed;
    }

    /* the page's entries, newest first */

    range = ad->entries;
    if (range->type != REDIS_REPLY_ARRAY) {
        goto failed;
    }

    nent = range->elements;
    forward = (ad->after[0] != '\0');
    full = (nent == NGX_HTTP_GUICHET_ADMIN_SCAN);

    pick = ngx_palloc(r->pool, (NGX_HTTP_GUICHET_ADMIN_ROWS + 1)
                               * sizeof(redisReply *));
    if (pick == NULL) {
        goto failed;
    }

    shown = 0;
    newer[0] = '\0';
    older[0] = '\0';

    for (i = 0; i < nent && shown < NGX_HTTP_GUICHET_ADMIN_ROWS; i++) {
        if (ngx_http_guichet_admin_parse(ad, range->element[i]) != NGX_OK) {
            continue;
        }

        if (ngx_http_guichet_admin_match(ad)) {
            pick[shown++] = range->element[i];
        }

        /* the last entry looked at: where the next page starts */
        ngx_cpystrn((u_char *) (forward ? newer : older),
                    (u_char *) ad->e.id, AC_LOG_ID_MAX);

        if (i == 0) {
            ngx_cpystrn((u_char *) (forward ? older : newer),
                        (u_char *) ad->e.id, AC_LOG_ID_MAX);
        }
    }

    if (i < nent) {
        full = 1;
    }

    /* reading from the top: no newer link; at the bottom: no older */
    if (!forward && ad->before[0] == '\0') {
        newer[0] = '\0';
    }

    if (!forward && !full) {
        older[0] = '\0';
    }

    if (forward && !full) {
        newer[0] = '\0';
    }

    if (nent == 0) {
        if (forward) {
            ngx_cpystrn((u_char *) older, (u_char *) ad->after,
                        AC_LOG_ID_MAX);

        } else if (ad->before[0] != '\0') {
            ngx_cpystrn((u_char *) newer, (u_char *) ad->before,
                        AC_LOG_ID_MAX);
        }
    }

    /* the filters again, URL-encoded, for the paging links */

    len = 0;
    for (k = 0; k < sizeof(qnames) / sizeof(char *); k++) {
        len += 64 + 3 * NGX_HTTP_GUICHET_ADMIN_FIELD_MAX + 3 * AC_EMAIL_MAX;
    }

    q = ngx_pnalloc(r->pool, len);
    if (q == NULL) {
        goto failed;
    }

    p = q;

    for (k = 0; k < sizeof(qnames) / sizeof(char *); k++) {
        const char  *val;

        val = k == 0 ? ad->account : k == 1 ? ad->email : k == 2 ? ad->ip
              : k == 3 ? ad->event : k == 4 ? ad->result
              : k == 5 ? ad->partner : k == 6 ? ad->since : ad->until;

        if (val[0] == '\0') {
            continue;
        }

        p = ngx_sprintf(p, "%s=", qnames[k]);
        p = (u_char *) ngx_escape_uri(p, (u_char *) val, ngx_strlen(val),
                                      NGX_ESCAPE_ARGS);
        *p++ = '&';
    }

    *p = '\0';

    ngx_sprintf((u_char *) scanned, "%uz%Z", nent);
    ngx_sprintf((u_char *) scan_max, "%d%Z", NGX_HTTP_GUICHET_ADMIN_SCAN);
    ngx_sprintf((u_char *) anom_scanned, "%uz%Z", ad->recent->elements);
    ngx_sprintf((u_char *) anom_max, "%d%Z",
                NGX_HTTP_GUICHET_ADMIN_ANOM_SCAN);
    ngx_sprintf((u_char *) events, "%uz%Z", ac_anomaly_events(an));
    ngx_sprintf((u_char *) rows, "%uz%Z", shown);

    /* head, the event filter's options, the other filters */

    ngx_http_guichet_tpl_clear(&ad->tpl);
    ngx_http_guichet_tpl_set(&ad->tpl, "base", (char *) ctx->base.data,
                               ctx->base.len);
    ngx_http_guichet_tpl_str(&ad->tpl, "head", "1");
    ngx_http_guichet_tpl_str(&ad->tpl, "user", ctx->session.email);

    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    ngx_http_guichet_admin_event_options(ad->event, &ad->out);

    /* the chart: the last 24 hours, or the range the filters name */

    ac_buf_reset(&d);

    rc = ngx_http_guichet_admin_chart(ad->f.since_ms < 0 && ad->f.until_ms < 0
                                      ? ad->recent : ad->entries,
                                      ad->f.since_ms, ad->f.until_ms,
                                      (int64_t) ctx->now * 1000, &d, crange,
                                      cread);
    if (rc == NGX_ERROR) {
        goto failed;
    }

    ngx_http_guichet_tpl_clear(&ad->tpl);
    ngx_http_guichet_tpl_set(&ad->tpl, "base", (char *) ctx->base.data,
                               ctx->base.len);
    ngx_http_guichet_tpl_str(&ad->tpl, "filters", "1");
    ngx_http_guichet_tpl_str(&ad->tpl, "account", ad->account);
    ngx_http_guichet_tpl_str(&ad->tpl, "email", ad->email);
    ngx_http_guichet_tpl_str(&ad->tpl, "ip", ad->ip);
    ngx_http_guichet_tpl_str(&ad->tpl, "result", ad->result);
    ngx_http_guichet_tpl_str(&ad->tpl, "result_ok",
                               ad->f.result == 0 ? "1" : NULL);
    ngx_http_guichet_tpl_str(&ad->tpl, "result_fail",
                               ad->f.result == 1 ? "1" : NULL);
    ngx_http_guichet_tpl_str(&ad->tpl, "partner", ad->partner);
    ngx_http_guichet_tpl_str(&ad->tpl, "since", ad->since);
    ngx_http_guichet_tpl_str(&ad->tpl, "until", ad->until);
    ngx_http_guichet_tpl_str(&ad->tpl, "chart_range", crange);

    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    if (rc == NGX_OK) {
        ac_buf_add(&ad->out, d.data, d.len);
    }

    ngx_http_guichet_tpl_clear(&ad->tpl);
    ngx_http_guichet_tpl_str(&ad->tpl, "chart_foot", "1");
    ngx_http_guichet_tpl_str(&ad->tpl, "chart_read", cread);
    ngx_http_guichet_tpl_str(&ad->tpl, "scanned", anom_scanned);
    ngx_http_guichet_tpl_str(&ad->tpl, "scan_max", anom_max);
    ngx_http_guichet_tpl_str(&ad->tpl, "events", events);

    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    /* anomalies */

    ngx_http_guichet_tpl_clear(&ad->tpl);
    ngx_http_guichet_tpl_str(&ad->tpl, ac_anomaly_count(an) ? "anomaly_head"
                                                       : "no_anomaly", "1");
    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    for (i = 0; ac_anomaly_get(an, i, &f) == AC_OK; i++) {
        ngx_http_guichet_admin_ms(f.first_ms, t1, sizeof(t1));
        ngx_http_guichet_admin_ms(f.last_ms, t2, sizeof(t2));
        ngx_sprintf((u_char *) count, "%uL%Z", f.count);

        ac_buf_reset(&d);

        if (f.ip[0] != '\0') {
            ac_buf_printf(&d, "ip: %s", f.ip);
            if (f.ua[0] != '\0') {
                ac_buf_printf(&d, "; user agent: %s", f.ua);
            }

        } else {
            ac_buf_printf(&d, "%s:", ngx_strcmp(f.details_kind, "ip") == 0
                                     ? "ips" : "accounts");
            for (k = 0; k < f.ndetails; k++) {
                ac_buf_printf(&d, "%s%s", k ? ", " : " ", f.details[k]);
            }

            if (f.more) {
                ac_buf_printf(&d, " (+%llu more)",
                              (unsigned long long) f.more);
            }
        }

        if (ac_buf_status(&d) != AC_OK) {
            goto failed;
        }

        ngx_http_guichet_tpl_clear(&ad->tpl);
        ngx_http_guichet_tpl_str(&ad->tpl, "anomaly", "1");
        ngx_http_guichet_tpl_str(&ad->tpl, "rule", f.rule);
        ngx_http_guichet_tpl_str(&ad->tpl, "subject", f.subject);
        ngx_http_guichet_tpl_str(&ad->tpl, "count", count);
        ngx_http_guichet_tpl_str(&ad->tpl, "first", t1);
        ngx_http_guichet_tpl_str(&ad->tpl, "last", t2);
        ngx_http_guichet_tpl_str(&ad->tpl, "details", d.data);

        if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
            goto failed;
        }
    }

    ngx_http_guichet_tpl_clear(&ad->tpl);
    if (ac_anomaly_count(an)) {
        ngx_http_guichet_tpl_str(&ad->tpl, "anomaly_foot", "1");
    }
    ngx_http_guichet_tpl_str(&ad->tpl, "entries_head", "1");

    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    /* rows, newest first whichever way the page was read */

    for (k = 0; k < shown; k++) {
        i = forward ? shown - 1 - k : k;

        if (ngx_http_guichet_admin_parse(ad, pick[i]) != NGX_OK) {
            continue;
        }

        ngx_http_guichet_admin_ms(ad->e.time_ms, t1, sizeof(t1));

        ngx_http_guichet_tpl_clear(&ad->tpl);
        ngx_http_guichet_tpl_str(&ad->tpl, "row", "1");
        ngx_http_guichet_tpl_str(&ad->tpl, "id", ad->e.id);
        ngx_http_guichet_tpl_str(&ad->tpl, "time", t1);
        ngx_http_guichet_tpl_str(&ad->tpl, "event", ad->e.event);
        ngx_http_guichet_tpl_str(&ad->tpl, "result",
                                   ad->e.failed ? "fail" : "ok");
        ngx_http_guichet_tpl_str(&ad->tpl, "reason", ad->e.reason);
        ngx_http_guichet_tpl_str(&ad->tpl, "account", ad->e.account);
        ngx_http_guichet_tpl_str(&ad->tpl, "email", ad->e.email);
        ngx_http_guichet_tpl_str(&ad->tpl, "ip", ad->e.ip);
        ngx_http_guichet_tpl_str(&ad->tpl, "partner", ad->e.partner);
        ngx_http_guichet_tpl_str(&ad->tpl, "session", ad->e.session);
        ngx_http_guichet_tpl_str(&ad->tpl, "ua", ad->e.ua);

        if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
            goto failed;
        }
    }

    ngx_http_guichet_tpl_clear(&ad->tpl);
    ngx_http_guichet_tpl_set(&ad->tpl, "base", (char *) ctx->base.data,
                               ctx->base.len);
    ngx_http_guichet_tpl_str(&ad->tpl, "foot", "1");
    ngx_http_guichet_tpl_str(&ad->tpl, "none", shown ? NULL : "1");
    ngx_http_guichet_tpl_str(&ad->tpl, "rows", rows);
    ngx_http_guichet_tpl_str(&ad->tpl, "scanned", scanned);
    ngx_http_guichet_tpl_str(&ad->tpl, "scan_max", scan_max);
    ngx_http_guichet_tpl_str(&ad->tpl, "query", (char *) q);
    ngx_http_guichet_tpl_str(&ad->tpl, "newer", newer);
    ngx_http_guichet_tpl_str(&ad->tpl, "older", older);

    if (ngx_http_guichet_tpl_render(&ad->tpl, &ad->out) != NGX_OK) {
        goto failed;
    }

    ac_anomaly_free(an);
    ac_buf_free(&d);

    ngx_http_guichet_admin_send(r, ad);
    return;

failed:

    rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "guichet: the log page could not be built");
    ac_anomaly_free(an);
    ac_buf_free(&d);
    ngx_http_finalize_request(r, rc);
}


void
ngx_http_guichet_admin_send(ngx_http_request_t *r,
    ngx_http_guichet_admin_t *ad)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (ac_buf_status(&ad->out) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_security_headers(r) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b = ngx_create_temp_buf(r->pool, ad->out.len ? ad->out.len : 1);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->last = ngx_cpymem(b->pos, ad->out.data, ad->out.len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    out.buf = b;
    out.next = NULL;

    ngx_http_finalize_request(r, ngx_http_output_filter(r, &out));
}
