/*
 * Guichet nginx module: the parts of the security team's page that are
 * markup made here rather than template text -- the chart of sign-ins
 * (drawn by authcore's ac_chart_svg from the entries already read) and
 * the event filter's options. Everything they show is a log event name,
 * a count or a time: nothing typed by a client reaches them unescaped.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_CHART_DAY  (24 * 3600 * 1000LL)


static void ngx_http_guichet_admin_minute(int64_t ms, u_char *out);


/*
 * The range: since..until as the filters say, a day before "until" or
 * up to now when only one is given; the last 24 hours without either
 * (then "range" is the anomaly report's read, otherwise the page's).
 */

ngx_int_t
ngx_http_guichet_admin_chart(const redisReply *range, int64_t since_ms,
    int64_t until_ms, int64_t now_ms, ac_buf_t *out,
    char range_text[NGX_HTTP_GUICHET_CHART_RANGE],
    char read_text[NGX_INT_T_LEN + 1])
{
    int              kind;
    u_char          *p;
    size_t           i;
    int64_t          from_ms, to_ms;
    ac_chart_t      *c;
    ac_log_entry_t  *e;

    if (range == NULL || range->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    *ngx_sprintf((u_char *) read_text, "%uz", range->elements) = '\0';

    /* "now" counts in whole seconds: its entries are in */
    to_ms = until_ms >= 0 ? until_ms : now_ms + 1000;
    from_ms = since_ms >= 0 ? since_ms : to_ms - NGX_HTTP_GUICHET_CHART_DAY;

    if (since_ms < 0 && until_ms < 0) {
        ngx_cpystrn((u_char *) range_text, (u_char *) "last 24 hours",
                    NGX_HTTP_GUICHET_CHART_RANGE);

    } else {
        /* "2026-11-23 10:00 to 2026-11-24 10:00 UTC" */
        p = (u_char *) range_text;
        ngx_http_guichet_admin_minute(from_ms, p);
        p = ngx_cpymem(p + 16, " to ", 4);
        ngx_http_guichet_admin_minute(to_ms, p);
        ngx_cpystrn(p + 16, (u_char *) " UTC", 5);
    }

    /* large: not on the stack */
    c = ngx_alloc(sizeof(ac_chart_t) + sizeof(ac_log_entry_t),
                  ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    e = (ac_log_entry_t *) (c + 1);

    if (ac_chart_init(c, from_ms, to_ms) != AC_OK) {
        ngx_free(c);
        return NGX_DECLINED;
    }

    for (i = 0; i < range->elements; i++) {
        /* the event, its result and time are never sealed */
        if (ac_log_entry_parse(range->element[i], NULL, e) < 0) {
            continue;
        }

        kind = ac_chart_kind(e->event, e->failed);
        if (kind >= 0) {
            ac_chart_add(c, e->time_ms, kind);
        }
    }

    ngx_explicit_memzero(e, sizeof(ac_log_entry_t));

    if (ac_chart_svg(c, out) != AC_OK) {
        ngx_free(c);
        return NGX_ERROR;
    }

    ngx_free(c);

    return NGX_OK;
}


/* "2026-11-23 10:00", 16 bytes, UTC */
static void
ngx_http_guichet_admin_minute(int64_t ms, u_char *out)
{
    ngx_tm_t  tm;

    ngx_gmtime((time_t) (ms > 0 ? ms / 1000 : 0), &tm);
    ngx_sprintf(out, "%4d-%02d-%02d %02d:%02d", tm.ngx_tm_year,
                tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                tm.ngx_tm_min);
}


void
ngx_http_guichet_admin_event_options(const char *current, ac_buf_t *out)
{
    ngx_uint_t   k;
    const char  *name;

    ac_buf_printf(out, "<option value=\"\"%s>Any event</option>\n",
                  current[0] == '\0' ? " selected" : "");

    for (k = 0; k < AC_EV_COUNT; k++) {
        name = ac_event_name((ac_event_kind_t) k);
        if (name == NULL) {
            continue;
        }

        /* names are [a-z0-9.]: nothing to escape */
        ac_buf_printf(out, "<option value=\"%s\"%s>%s</option>\n", name,
                      ngx_strcmp(current, name) == 0 ? " selected" : "",
                      name);
    }
}
