/*
 * Guichet nginx module: counters shared by every worker in a small
 * shared memory zone, and the Prometheus text (format 0.0.4) of the
 * "metrics" route.
 *
 * Plain counters are atomics; SSO outcomes are (partner, reason) pairs
 * in a fixed table under the zone's mutex. Partner ids come from
 * untrusted assertions, so the table is bounded: once it is nearly
 * full, new partners count as partner="other".
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_METRICS_SIZE    (64 * 1024)
#define NGX_HTTP_GUICHET_SSO_PAIRS       64
/* pairs kept for partner="other" once named partners fill the rest */
#define NGX_HTTP_GUICHET_SSO_OTHER       (AC_AR_COUNT + 1)
#define NGX_HTTP_GUICHET_SSO_REASON_MAX  32


typedef struct {
    u_char                  partner[AC_PARTNER_ID_MAX + 1];
    u_char                  reason[NGX_HTTP_GUICHET_SSO_REASON_MAX];
    ngx_atomic_t            count;
} ngx_http_guichet_sso_pair_t;


typedef struct {
    ngx_atomic_t            c[NGX_HTTP_GUICHET_M_COUNT];
    ngx_uint_t              npairs;
    ngx_atomic_t            overflow;       /* the table was full */
    ngx_http_guichet_sso_pair_t  pairs[NGX_HTTP_GUICHET_SSO_PAIRS];
} ngx_http_guichet_metrics_sh_t;


typedef struct {
    const char             *name;
    const char             *help;
    const char             *label;
    ngx_uint_t              first;
    ngx_uint_t              n;
    const char             *values[5];
} ngx_http_guichet_family_t;


static ngx_int_t ngx_http_guichet_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static u_char *ngx_http_guichet_metrics_label(u_char *p, u_char *last,
    const u_char *s);


static ngx_http_guichet_metrics_sh_t  *ngx_http_guichet_metrics_sh;
static ngx_slab_pool_t                *ngx_http_guichet_metrics_pool;

static ngx_str_t  ngx_http_guichet_metrics_zone_name =
    ngx_string("guichet_metrics");

static ngx_http_guichet_family_t  ngx_http_guichet_families[] = {

    { "guichet_logins_total", "Password login attempts by result.",
      "result", NGX_HTTP_GUICHET_M_LOGIN_SUCCESS, 2,
      { "success", "failure" } },

    { "guichet_2fa_total", "Second-factor attempts by result.",
      "result", NGX_HTTP_GUICHET_M_2FA_SUCCESS, 2,
      { "success", "failure" } },

    { "guichet_throttled_total",
      "Attempts refused by the failure throttle.",
      NULL, NGX_HTTP_GUICHET_M_THROTTLED, 1, { NULL } },

    { "guichet_gate_decisions_total",
      "Gated requests by decision.",
      "decision", NGX_HTTP_GUICHET_M_GATE_ALLOW, 5,
      { "allow", "redirect", "unauthorized", "forbidden", "unavailable" } },

    { "guichet_redis_errors_total",
      "Redis commands that failed, timed out or got an error reply.",
      NULL, NGX_HTTP_GUICHET_M_REDIS_ERROR, 1, { NULL } },

    { "guichet_redis_reconnects_total",
      "Redis connections opened again after a loss.",
      NULL, NGX_HTTP_GUICHET_M_REDIS_RECONNECT, 1, { NULL } },

    { "guichet_thread_queue_rejections_total",
      "Password hashes refused because the thread pool queue was full.",
      NULL, NGX_HTTP_GUICHET_M_THREAD_REJECTED, 1, { NULL } }
};


char *
ngx_http_guichet_metrics_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t  *shm_zone;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_guichet_metrics_zone_name,
                                     NGX_HTTP_GUICHET_METRICS_SIZE,
                                     &ngx_http_guichet_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_guichet_metrics_init_zone;
    shm_zone->data = &ngx_http_guichet_metrics_sh;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_guichet_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                *shpool;
    ngx_http_guichet_metrics_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (data != NULL && data != &ngx_http_guichet_metrics_sh) {
        /* a reload: the counters carry on */
        sh = data;
        goto done;
    }

    if (shm_zone->shm.exists) {
        sh = shpool->data;
        goto done;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_http_guichet_metrics_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    shpool->data = sh;
    shpool->log_nomem = 0;

done:

    shm_zone->data = sh;
    ngx_http_guichet_metrics_sh = sh;
    ngx_http_guichet_metrics_pool = shpool;

    return NGX_OK;
}


void
ngx_http_guichet_metric_inc(ngx_uint_t metric)
{
    if (ngx_http_guichet_metrics_sh == NULL
        || metric >= NGX_HTTP_GUICHET_M_COUNT)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_guichet_metrics_sh->c[metric], 1);
}


void
ngx_http_guichet_metric_sso(const u_char *partner, size_t len,
    const char *reason)
{
    size_t                          rlen;
    ngx_uint_t                      i, named;
    ngx_http_guichet_metrics_sh_t  *sh;
    ngx_http_guichet_sso_pair_t    *pair;

    sh = ngx_http_guichet_metrics_sh;

    if (sh == NULL || reason == NULL) {
        return;
    }

    rlen = ngx_strlen(reason);

    if (rlen == 0 || rlen >= NGX_HTTP_GUICHET_SSO_REASON_MAX) {
        reason = "other";
        rlen = sizeof("other") - 1;
    }

    if (partner == NULL || len == 0 || len > AC_PARTNER_ID_MAX) {
        partner = (u_char *) "none";
        len = sizeof("none") - 1;
    }

    ngx_shmtx_lock(&ngx_http_guichet_metrics_pool->mutex);

    pair = NULL;
    named = 0;

    for (i = 0; i < sh->npairs; i++) {
        if (ngx_strcmp(sh->pairs[i].partner, "other") != 0) {
            named++;
        }

        if (ngx_strlen(sh->pairs[i].partner) == len
            && ngx_strncmp(sh->pairs[i].partner, partner, len) == 0
            && ngx_strcmp(sh->pairs[i].reason, reason) == 0)
        {
            pair = &sh->pairs[i];
            break;
        }
    }

    if (pair == NULL
        && named >= NGX_HTTP_GUICHET_SSO_PAIRS - NGX_HTTP_GUICHET_SSO_OTHER)
    {
        partner = (u_char *) "other";
        len = sizeof("other") - 1;

        for (i = 0; i < sh->npairs; i++) {
            if (ngx_strcmp(sh->pairs[i].partner, "other") == 0
                && ngx_strcmp(sh->pairs[i].reason, reason) == 0)
            {
                pair = &sh->pairs[i];
                break;
            }
        }
    }

    if (pair == NULL && sh->npairs < NGX_HTTP_GUICHET_SSO_PAIRS) {
        pair = &sh->pairs[sh->npairs];
        ngx_memcpy(pair->partner, partner, len);
        pair->partner[len] = '\0';
        ngx_memcpy(pair->reason, reason, rlen + 1);
        sh->npairs++;
    }

    if (pair != NULL) {
        pair->count++;

    } else {
        sh->overflow++;
    }

    ngx_shmtx_unlock(&ngx_http_guichet_metrics_pool->mutex);
}


/* A label value: backslash, double quote and line feed escaped. */
static u_char *
ngx_http_guichet_metrics_label(u_char *p, u_char *last, const u_char *s)
{
    while (*s != '\0' && p + 2 < last) {
        if (*s == '\\' || *s == '"') {
            *p++ = '\\';
            *p++ = *s;

        } else if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';

        } else {
            *p++ = *s;
        }

        s++;
    }

    return p;
}


/* The Prometheus text of every counter, in r's pool. */
ngx_int_t
ngx_http_guichet_metrics_text(ngx_pool_t *pool, ngx_str_t *out)
{
    size_t                          size;
    u_char                         *p, *last;
    ngx_uint_t                      i, k, n;
    ngx_atomic_uint_t               v;
    ngx_http_guichet_family_t      *f;
    ngx_http_guichet_metrics_sh_t  *sh;
    ngx_http_guichet_sso_pair_t     pairs[NGX_HTTP_GUICHET_SSO_PAIRS];
    ngx_atomic_uint_t               overflow;

    sh = ngx_http_guichet_metrics_sh;
    if (sh == NULL) {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&ngx_http_guichet_metrics_pool->mutex);
    n = sh->npairs;
    ngx_memcpy(pairs, sh->pairs, n * sizeof(ngx_http_guichet_sso_pair_t));
    overflow = sh->overflow;
    ngx_shmtx_unlock(&ngx_http_guichet_metrics_pool->mutex);

    size = 4096 + (n + 1) * (64 + 2 * (AC_PARTNER_ID_MAX * 2)
                             + NGX_HTTP_GUICHET_SSO_REASON_MAX * 2
                             + NGX_ATOMIC_T_LEN);

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    last = p + size;

    for (i = 0; i < sizeof(ngx_http_guichet_families)
                    / sizeof(ngx_http_guichet_family_t); i++)
    {
        f = &ngx_http_guichet_families[i];

        p = ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s counter\n",
                         f->name, f->help, f->name);

        for (k = 0; k < f->n; k++) {
            v = sh->c[f->first + k];

            if (f->label == NULL) {
                p = ngx_slprintf(p, last, "%s %uA\n", f->name, v);

            } else {
                p = ngx_slprintf(p, last, "%s{%s=\"%s\"} %uA\n", f->name,
                                 f->label, f->values[k], v);
            }
        }
    }

    p = ngx_slprintf(p, last,
                     "# HELP guichet_sso_total Partner SSO assertions by "
                     "partner and outcome (\"ok\" or the refusal reason)."
                     "\n# TYPE guichet_sso_total counter\n");

    for (i = 0; i < n; i++) {
        p = ngx_slprintf(p, last, "guichet_sso_total{partner=\"");
        p = ngx_http_guichet_metrics_label(p, last, pairs[i].partner);
        p = ngx_slprintf(p, last, "\",reason=\"");
        p = ngx_http_guichet_metrics_label(p, last, pairs[i].reason);
        p = ngx_slprintf(p, last, "\"} %uA\n", pairs[i].count);
    }

    if (overflow) {
        p = ngx_slprintf(p, last, "guichet_sso_total{partner=\"other\","
                         "reason=\"other\"} %uA\n", overflow);
    }

    out->len = p - out->data;

    return NGX_OK;
}


void
ngx_http_guichet_metric_gate(ngx_uint_t status)
{
    ngx_uint_t  m;

    switch (status) {

    case NGX_HTTP_OK:
        m = NGX_HTTP_GUICHET_M_GATE_ALLOW;
        break;

    case NGX_HTTP_MOVED_TEMPORARILY:
        m = NGX_HTTP_GUICHET_M_GATE_REDIRECT;
        break;

    case NGX_HTTP_UNAUTHORIZED:
        m = NGX_HTTP_GUICHET_M_GATE_UNAUTHORIZED;
        break;

    case NGX_HTTP_FORBIDDEN:
        m = NGX_HTTP_GUICHET_M_GATE_FORBIDDEN;
        break;

    default:
        m = NGX_HTTP_GUICHET_M_GATE_UNAVAILABLE;
        break;
    }

    ngx_http_guichet_metric_inc(m);
}


void
ngx_http_guichet_metric_redis(const struct redisReply *reply)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_REDIS_ERROR);
    }
}


/* The "metrics" route: restrict it with allow / deny. */
void
ngx_http_guichet_metrics_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_str_t     text;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_guichet_metrics_text(r->pool, &text);

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r, NGX_HTTP_NOT_FOUND);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    b->pos = text.data;
    b->last = text.data + text.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = text.len;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
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


void
ngx_http_guichet_metric_event(ac_event_kind_t kind)
{
    switch (kind) {

    case AC_EV_LOGIN_SUCCESS:
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_LOGIN_SUCCESS);
        break;

    case AC_EV_LOGIN_FAILURE:
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_LOGIN_FAILURE);
        break;

    case AC_EV_2FA_SUCCESS:
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_2FA_SUCCESS);
        break;

    case AC_EV_2FA_FAILURE:
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_2FA_FAILURE);
        break;

    case AC_EV_THROTTLED:
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_THROTTLED);
        break;

    default:
        break;
    }
}
