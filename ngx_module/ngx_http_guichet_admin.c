/*
 * Guichet nginx module: the security team's page, "admin/logs"
 * (docs/SECURITY-TEAM.md). Whatever the location's directives say, it
 * needs a session with the "security" role and a second factor.
 *
 * One page: the filters of "guichetctl logs" from the query string, up
 * to NGX_HTTP_GUICHET_ADMIN_ROWS matching entries out of at most
 * NGX_HTTP_GUICHET_ADMIN_SCAN read by stream id (older / newer links
 * carry the id), and the anomaly report over at most
 * NGX_HTTP_GUICHET_ADMIN_ANOM_SCAN entries of the last 24 hours. The
 * two ranges are read in one pipelined round trip, then the log keys of
 * the accounts they name in another; personal fields that no key opens
 * read "[erased]". The page is one template rendered part by part, so
 * that every value goes through its HTML escaping.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_admin.h"


static void ngx_http_guichet_admin_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_admin_set(ngx_http_guichet_admin_t *ad,
    const char *name, const char *value, int64_t now_ms);
static ngx_int_t ngx_http_guichet_admin_filters(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_admin_t *ad);
static ngx_int_t ngx_http_guichet_admin_id(const char *s);
static void ngx_http_guichet_admin_entries(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_admin_recent(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_admin_key(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_admin_collect(ngx_http_request_t *r,
    ngx_http_guichet_admin_t *ad, redisReply *range, ngx_array_t *ids);
static int ngx_http_guichet_admin_cmp(const void *a, const void *b);
static ngx_http_guichet_admin_key_t *ngx_http_guichet_admin_lookup(
    ngx_http_guichet_admin_t *ad, const char *account);
static void ngx_http_guichet_admin_cleanup(void *data);


void
ngx_http_guichet_admin_logs(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_admin_t  *ad;

    ad = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_admin_t),
                                  ngx_http_guichet_admin_cleanup);
    if (ad == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_buf_init(&ad->out);

    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_admin_session);
}


static void
ngx_http_guichet_admin_cleanup(void *data)
{
    ngx_http_guichet_admin_t  *ad = data;

    ac_buf_free(&ad->out);

    if (ad->keys != NULL) {
        ngx_explicit_memzero(ad->keys,
                       ad->nkeys * sizeof(ngx_http_guichet_admin_key_t));
    }

    ngx_explicit_memzero(&ad->e, sizeof(ac_log_entry_t));
}


static void
ngx_http_guichet_admin_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *login, *self, *loc, *p;
    size_t                         len;
    ac_cmd_t                       cmd;
    char                           key[AC_KEY_MAX], lo[32], hi[AC_LOG_ID_MAX];
    ngx_http_guichet_admin_t      *ad;
    ngx_http_guichet_main_conf_t  *gmcf;

    ad = ctx->route_data;

    if (!ctx->session_valid) {
        login = ngx_http_guichet_ep_url(r, ctx, "login");
        self = ngx_http_guichet_ep_url(r, ctx, "admin/logs");
        if (login == NULL || self == NULL) {
            goto failed;
        }

        len = ngx_strlen(self);
        loc = ngx_pnalloc(r->pool, ngx_strlen(login) + sizeof("?return_to=")
                                   + len
                                   + 2 * ngx_escape_uri(NULL, self, len,
                                                        NGX_ESCAPE_ARGS));
        if (loc == NULL) {
            goto failed;
        }

        p = ngx_sprintf(loc, "%s?return_to=", login);
        p = (u_char *) ngx_escape_uri(p, self, len, NGX_ESCAPE_ARGS);
        *p = '\0';

        ngx_http_guichet_ep_redirect(ctx, (char *) loc);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (!(ctx->session.roles & AC_ROLE_SECURITY)) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Forbidden",
                                  "This page is for the security team.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (!(ctx->session.amr & AC_AMR_SECOND)) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN,
                                  "Second factor required",
                                  "This page needs a session opened with "
                                  "a second factor. Sign out, then sign in "
                                  "again with your authenticator code.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_admin_filters(r, ctx, ad) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad filter",
                                  ad->error);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_key(gmcf->ac, AC_K_LOG, NULL, key) != AC_OK) {
        goto failed;
    }

    /* the page's range, newest first unless reading newer entries */

    ac_cmd_init(&cmd);

    if (ad->after[0] != '\0') {
        ac_cmd_str(&cmd, "XRANGE");
        ac_cmd_copy(&cmd, key, ngx_strlen(key));
        ngx_sprintf((u_char *) hi, "(%s%Z", ad->after);
        ac_cmd_copy(&cmd, hi, ngx_strlen(hi));

        if (ad->f.until_ms > 0) {
            ngx_sprintf((u_char *) lo, "%L%Z", ad->f.until_ms - 1);
            ac_cmd_copy(&cmd, lo, ngx_strlen(lo));

        } else {
            ac_cmd_str(&cmd, "+");
        }

    } else {
        ac_cmd_str(&cmd, "XREVRANGE");
        ac_cmd_copy(&cmd, key, ngx_strlen(key));

        if (ad->before[0] != '\0') {
            ngx_sprintf((u_char *) hi, "(%s%Z", ad->before);
            ac_cmd_copy(&cmd, hi, ngx_strlen(hi));

        } else if (ad->f.until_ms > 0) {
            ngx_sprintf((u_char *) hi, "%L%Z", ad->f.until_ms - 1);
            ac_cmd_copy(&cmd, hi, ngx_strlen(hi));

        } else {
            ac_cmd_str(&cmd, "+");
        }

        if (ad->f.since_ms >= 0) {
            ngx_sprintf((u_char *) lo, "%L%Z", ad->f.since_ms);
            ac_cmd_copy(&cmd, lo, ngx_strlen(lo));

        } else {
            ac_cmd_str(&cmd, "-");
        }
    }

    ac_cmd_str(&cmd, "COUNT");
    ac_cmd_int(&cmd, NGX_HTTP_GUICHET_ADMIN_SCAN);

    if (ac_cmd_status(&cmd) != AC_OK) {
        goto failed;
    }

    if (ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                  ngx_http_guichet_admin_entries)
        != NGX_OK)
    {
        return;
    }

    /* the anomaly report's range, in the same round trip */

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "XREVRANGE");
    ac_cmd_copy(&cmd, key, ngx_strlen(key));
    ac_cmd_str(&cmd, "+");
    ngx_sprintf((u_char *) lo, "%L%Z",
                (int64_t) (ctx->now - NGX_HTTP_GUICHET_ADMIN_ANOM_AGE)
                * 1000);
    ac_cmd_copy(&cmd, lo, ngx_strlen(lo));
    ac_cmd_str(&cmd, "COUNT");
    ac_cmd_int(&cmd, NGX_HTTP_GUICHET_ADMIN_ANOM_SCAN);

    if (ac_cmd_status(&cmd) != AC_OK) {
        goto failed;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_admin_recent);
    return;

failed:

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* One option of the filter, as typed; an empty field sets nothing. */

static ngx_int_t
ngx_http_guichet_admin_set(ngx_http_guichet_admin_t *ad, const char *name,
    const char *value, int64_t now_ms)
{
    size_t  len;

    len = ngx_strlen(value);

    if (len == 0) {
        return NGX_OK;
    }

    return ac_log_filter_set(&ad->f, name, value, len, now_ms) == AC_OK
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_guichet_admin_filters(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_admin_t *ad)
{
    int64_t    now_ms;
    ngx_int_t  rc;

    static const char  *too_long = "A filter is malformed or too long.";

    ac_log_filter_init(&ad->f);
    now_ms = ctx->now * 1000;

#define ngx_http_guichet_admin_get(name, field)                             \
    rc = ngx_http_guichet_ep_arg(r, name, ad->field, sizeof(ad->field),     \
                                 NULL);                                      \
    if (rc != NGX_OK && r->args.len                                          \
        && ngx_strlcasestrn(r->args.data, r->args.data + r->args.len,      \
                            (u_char *) name "=", sizeof(name) - 1)          \
           != NULL)                                                          \
    {                                                                        \
        ad->error = too_long;                                                \
    }

    ngx_http_guichet_admin_get("account", account);
    ngx_http_guichet_admin_get("email", email);
    ngx_http_guichet_admin_get("ip", ip);
    ngx_http_guichet_admin_get("event", event);
    ngx_http_guichet_admin_get("result", result);
    ngx_http_guichet_admin_get("partner", partner);
    ngx_http_guichet_admin_get("since", since);
    ngx_http_guichet_admin_get("until", until);
    ngx_http_guichet_admin_get("before", before);
    ngx_http_guichet_admin_get("after", after);

#undef ngx_http_guichet_admin_get

    if (ad->error) {
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "account", ad->account, now_ms)
        != NGX_OK)
    {
        ad->error = "An account id is 16 characters long.";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "email", ad->email, now_ms)
        != NGX_OK)
    {
        ad->error = "The email filter is not an email address.";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "event", ad->event, now_ms)
        != NGX_OK)
    {
        ad->error = "Unknown event name.";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "result", ad->result, now_ms)
        != NGX_OK)
    {
        ad->error = "The result is \"ok\" or \"fail\".";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "partner", ad->partner, now_ms)
        != NGX_OK)
    {
        ad->error = "Unknown partner id.";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "ip", ad->ip, now_ms) != NGX_OK) {
        ad->error = "The IP filter is an address or a CIDR block.";
        return NGX_ERROR;
    }

    if (ngx_http_guichet_admin_set(ad, "since", ad->since, now_ms)
        != NGX_OK
        || ngx_http_guichet_admin_set(ad, "until", ad->until, now_ms)
           != NGX_OK)
    {
        ad->error = "Times read 2026-11-23, 2026-11-23T10:00 (UTC) or a "
                    "duration such as 24h.";
        return NGX_ERROR;
    }

    if ((ad->before[0] != '\0'
         && ngx_http_guichet_admin_id(ad->before) != NGX_OK)
        || (ad->after[0] != '\0'
            && ngx_http_guichet_admin_id(ad->after) != NGX_OK))
    {
        ad->error = "Malformed page position.";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* A stream id: "MS-SEQ", digits only. */
static ngx_int_t
ngx_http_guichet_admin_id(const char *s)
{
    ngx_uint_t  dash, digits;

    dash = 0;
    digits = 0;

    for ( /* void */ ; *s; s++) {
        if (*s == '-' && digits > 0 && !dash) {
            dash = 1;
            digits = 0;
            continue;
        }

        if (*s < '0' || *s > '9' || ++digits > 20) {
            return NGX_ERROR;
        }
    }

    return dash && digits > 0 ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_guichet_admin_entries(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t  *ctx = data;
    ngx_http_guichet_admin_t   *ad;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ad = ctx->route_data;

    ad->entries = ngx_http_guichet_redis_copy(r->pool, reply);
    if (ad->entries == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_guichet_admin_recent(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t  *ctx = data;

    char                          **id;
    ac_cmd_t                        cmd;
    ngx_uint_t                      i, n;
    ngx_array_t                     ids;
    ngx_http_guichet_admin_t       *ad;
    ngx_http_guichet_main_conf_t   *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ad = ctx->route_data;

    if (ad->entries == NULL) {
        /* the first reply failed: the request is answered already */
        return;
    }

    ad->recent = ngx_http_guichet_redis_copy(r->pool, reply);

    if (ad->recent == NULL
        || ngx_array_init(&ids, r->pool, 64, sizeof(char *)) != NGX_OK
        || ngx_http_guichet_admin_collect(r, ad, ad->entries, &ids)
           != NGX_OK
        || ngx_http_guichet_admin_collect(r, ad, ad->recent, &ids) != NGX_OK)
    {
        goto failed;
    }

    /* each account once: resolved to its id and log key once for the
     * page */

    id = ids.elts;
    ngx_qsort(id, ids.nelts, sizeof(char *), ngx_http_guichet_admin_cmp);

    ad->keys = ngx_pcalloc(r->pool, (ids.nelts + 1)
                                    * sizeof(ngx_http_guichet_admin_key_t));
    if (ad->keys == NULL) {
        goto failed;
    }

    n = 0;

    for (i = 0; i < ids.nelts; i++) {
        if (n > 0 && ngx_strcmp(ad->keys[n - 1].id, id[i]) == 0) {
            continue;
        }

        ngx_cpystrn((u_char *) ad->keys[n].id, (u_char *) id[i],
                    AC_LOG_PSEUDO_LEN + 1);
        n++;
    }

    ad->nkeys = n;

    if (n == 0) {
        ngx_http_guichet_admin_render(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    for (i = 0; i < n; i++) {
        if (ac_cmd_log_resolve(&cmd, gmcf->ac, ad->keys[i].id) != AC_OK) {
            goto failed;
        }

        if (ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                      ngx_http_guichet_admin_key)
            != NGX_OK)
        {
            return;
        }

        ad->pending++;
    }

    return;

failed:

    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* The account references (pseudonyms, ids) of the entries of a range. */
static ngx_int_t
ngx_http_guichet_admin_collect(ngx_http_request_t *r,
    ngx_http_guichet_admin_t *ad, redisReply *range, ngx_array_t *ids)
{
    char        **id;
    size_t        i;

    if (range->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    for (i = 0; i < range->elements; i++) {
        if (ac_log_entry_parse(range->element[i], NULL, &ad->e) != AC_OK
            || ad->e.account[0] == '\0')
        {
            continue;
        }

        id = ngx_array_push(ids);
        if (id == NULL) {
            return NGX_ERROR;
        }

        *id = ngx_pnalloc(r->pool, AC_LOG_PSEUDO_LEN + 1);
        if (*id == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) *id, (u_char *) ad->e.account,
                    AC_LOG_PSEUDO_LEN + 1);
    }

    return NGX_OK;
}


static int
ngx_http_guichet_admin_cmp(const void *a, const void *b)
{
    return ngx_strcmp(*(char **) a, *(char **) b);
}


static void
ngx_http_guichet_admin_key(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t  *ctx = data;

    ngx_http_guichet_admin_t      *ad;
    ngx_http_guichet_admin_key_t  *k;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ad = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* one connection answers in order */
    k = &ad->keys[ad->next_key++];

    /* nil: erased (or never had a key), its entries stay anonymous */
    if (ac_log_resolve_reply(gmcf->keys, k->id, reply, k->account, k->key)
        == AC_OK)
    {
        k->has_key = 1;
    }

    if (--ad->pending == 0) {
        ngx_http_guichet_admin_render(r, ctx);
    }
}


static ngx_http_guichet_admin_key_t *
ngx_http_guichet_admin_lookup(ngx_http_guichet_admin_t *ad,
    const char *account)
{
    ngx_int_t   c;
    ngx_uint_t  lo, hi, mid;

    lo = 0;
    hi = ad->nkeys;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = ngx_strcmp(ad->keys[mid].id, account);

        if (c == 0) {
            return ad->keys[mid].has_key ? &ad->keys[mid] : NULL;
        }

        if (c < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


/* ad->e from an entry, opened with its account's key when there is one,
 * and a living account named by its id */
ngx_int_t
ngx_http_guichet_admin_parse(ngx_http_guichet_admin_t *ad,
    const redisReply *entry)
{
    ngx_http_guichet_admin_key_t  *k;

    if (ac_log_entry_parse(entry, NULL, &ad->e) != AC_OK) {
        return NGX_DECLINED;
    }

    k = ngx_http_guichet_admin_lookup(ad, ad->e.account);

    if (k != NULL) {
        if (ad->e.sealed) {
            (void) ac_log_entry_parse(entry, k->key, &ad->e);
        }

        ngx_cpystrn((u_char *) ad->e.account, (u_char *) k->account,
                    sizeof(ad->e.account));
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_guichet_admin_match(ngx_http_guichet_admin_t *ad)
{
    return ac_log_filter_match(&ad->f, &ad->e);
}
