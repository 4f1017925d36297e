/*
 * Guichet nginx module: the single-use tokens of mailed and partner links
 * (see ngx_http_guichet_ticket.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_ticket.h"


static ngx_uint_t ngx_http_guichet_ticket_shape(const char *token,
    size_t len);
static void ngx_http_guichet_ticket_counted(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_ticket_traded(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_ticket_moved(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *value);


/* AC_TOKEN_LEN base64url characters, as every link is made */
static ngx_uint_t
ngx_http_guichet_ticket_shape(const char *token, size_t len)
{
    size_t  i;
    u_char  c;

    if (len != AC_TOKEN_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (u_char) token[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return 0;
        }
    }

    return 1;
}


void
ngx_http_guichet_ticket_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ticket_t  *tk;

    tk = ctx->route_data;

    if (ngx_http_guichet_ep_arg(r, "token", tk->token, sizeof(tk->token),
                                &tk->token_len)
        != NGX_OK)
    {
        tk->token_len = 0;
    }

    if (tk->kind->exchange) {
        /* the mailed link: its token is traded, never kept */
        tk->trading = 1;
        ngx_http_guichet_ticket_lookup(r, ctx,
                                       ngx_http_guichet_ticket_traded);
        return;
    }

    if (!ngx_http_guichet_ticket_shape(tk->token, tk->token_len)) {
        /* not a link of ours: no cookie */
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    ngx_http_guichet_ticket_moved(r, ctx, tk->token);
}


void
ngx_http_guichet_ticket_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ticket_t  *tk;

    tk = ctx->route_data;

    if (ngx_http_guichet_ep_cookie(r, ctx, tk->kind->cookie, tk->token,
                                   sizeof(tk->token))
        == NGX_OK)
    {
        tk->from_cookie = 1;
        tk->token_len = ngx_strlen(tk->token);
        return;
    }

    tk->token[0] = '\0';
    tk->token_len = 0;
}


ngx_int_t
ngx_http_guichet_ticket_form(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ticket_t  *tk;

    tk = ctx->route_data;

    /* never a token of the body or the query: URLs end up in logs */
    ngx_http_guichet_ticket_cookie(r, ctx);

    (void) ngx_http_guichet_ep_csrf_cookie(r, ctx, 0);

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->csrf_cookie,
                                       tk->kind->form)
        == NGX_OK)
    {
        return NGX_OK;
    }

    if (ctx->route->flags & NGX_HTTP_GUICHET_EP_JSON) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "csrf",
                                       tk->kind->expired);

    } else {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  tk->kind->expired);
    }

    ngx_http_guichet_ep_finish(r, ctx);

    return NGX_DECLINED;
}


/*
 * The try is counted first, on the token and on the client's address,
 * whatever follows; a token that is not even of the right shape is
 * never looked up.
 */
void
ngx_http_guichet_ticket_lookup(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_redis_handler_pt next)
{
    ngx_http_guichet_ticket_t     *tk;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    tk = ctx->route_data;

    if (!ngx_http_guichet_ticket_shape(tk->token, tk->token_len)) {
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    tk->next = next;
    ngx_memzero(&tk->throttle, sizeof(ac_throttle_t));

    if (ac_throttle_add(gmcf->ac, gmcf->keys, &tk->throttle, AC_THR_TOKEN,
                        tk->token, tk->token_len)
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &tk->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&tk->cmd, gmcf->ac, &tk->throttle,
                                   ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &tk->cmd,
                                     ngx_http_guichet_ticket_counted);
}


static void
ngx_http_guichet_ticket_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    int64_t                        wait;
    ngx_http_guichet_ticket_t     *tk;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    tk = ctx->route_data;

    if (wait > 0) {
        /* the token is not even looked up */
        if (tk->secret) {
            ac_cleanse(tk->secret, tk->secret_size);
        }

        ngx_http_guichet_ep_error(ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                  "Too many attempts", tk->kind->too_many);
        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, tk->kind->reason,
                                0);
        return;
    }

    if (tk->trading) {
        arc = ac_token_new(tk->fresh);
        if (arc == AC_OK) {
            arc = tk->kind->exchange(&tk->cmd, gmcf->ac, gmcf->keys,
                                     tk->token, tk->token_len, tk->fresh);
        }

    } else {
        arc = tk->kind->lookup(&tk->cmd, gmcf->ac, gmcf->keys, tk->token,
                               tk->token_len);
    }

    if (arc != AC_OK) {
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &tk->cmd, tk->next);
}


/* the link's token traded: the fresh one goes to the cookie */
static void
ngx_http_guichet_ticket_traded(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                     v;
    ngx_http_guichet_ticket_t  *tk;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    tk = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK || v != 1) {
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);
    ngx_http_guichet_ticket_moved(r, ctx, tk->fresh);
}


/* the token in the cookie, the browser to the bare page */
static void
ngx_http_guichet_ticket_moved(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *value)
{
    u_char                        *p;
    time_t                         age;
    ngx_http_guichet_ticket_t     *tk;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    tk = ctx->route_data;

    age = tk->kind->cookie_age ? tk->kind->cookie_age
                               : (time_t) gmcf->ac->reset_token_ttl;

    p = ngx_http_guichet_ep_url(r, ctx, tk->kind->page);

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx, tk->kind->cookie, value, age)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_ticket_release(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_ticket_t     *tk;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    tk = ctx->route_data;

    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &tk->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }
}


void
ngx_http_guichet_ticket_gone(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ticket_t  *tk;

    tk = ctx->route_data;

    if (tk->secret) {
        ac_cleanse(tk->secret, tk->secret_size);
    }

    /* at worst the cookie lives out its time */
    if (tk->from_cookie) {
        (void) ngx_http_guichet_ep_set_cookie(ctx, tk->kind->cookie, "", 0);
    }

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_GUICHET_GONE,
                              "Link no longer valid", tk->kind->gone);
    ngx_http_guichet_ep_finish(r, ctx);
}
