/*
 * Guichet nginx module: the account's data: export (SPEC 8 access and
 * portability) and erasure.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"


static void ngx_http_guichet_export_reply(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_delete_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_delete_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


/* ------------------------------------------------------------- export */

void
ngx_http_guichet_account_export(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_account_export(a->cmds, gmcf->ac, gmcf->keys, a->account.id,
                              a->account.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->nreplies = 0;
    (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[0],
                                     ngx_http_guichet_export_reply);
}


static void
ngx_http_guichet_export_reply(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_int_t                      i;
    ngx_table_elt_t               *h;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    /* the reply belongs to the adapter: keep a copy of what is needed */
    a->replies[a->nreplies] = ngx_http_guichet_redis_copy(r->pool, reply);
    if (a->replies[a->nreplies] == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->nreplies++;

    if (a->nreplies < AC_EXPORT_NCMDS) {
        (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[a->nreplies],
                                         ngx_http_guichet_export_reply);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    ac_buf_reset(&ctx->json);
    i = ac_account_export(gmcf->keys, a->account.id,
                          (const redisReply *const *) a->replies, ctx->now,
                          &ctx->json);
    if (i != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Disposition");
    ngx_str_set(&h->value, "attachment; filename=\"guichet-export.json\"");

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "application/json");
    ngx_http_guichet_ep_log(r, ctx, AC_EV_EXPORT, NULL, 1);
}


/* ------------------------------------------------------------- delete */

void
ngx_http_guichet_account_delete(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    char                           flag[4];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_field(ctx, "confirm", flag, sizeof(flag), &len)
        != NGX_OK || len != 1 || flag[0] != '1')
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Not deleted",
                                  "Tick the box to confirm that you want "
                                  "to delete your account.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_cmd_account_erase(&cmd, gmcf->ac, gmcf->keys, a->account.id,
                             a->account.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_delete_done);
}


static void
ngx_http_guichet_delete_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                           pseudo[AC_LOG_PSEUDO_LEN + 1];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_account_erase_reply(reply, NULL) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* the last message to the address; the queue forgets it once sent */
    a = ctx->route_data;
    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_ERASED, a->account.email,
                                 NULL, NULL);

    /* the account's log key is gone: only its pseudonym is recorded (an
     * id without key the log leaves out) */
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    if (ac_account_erase_pseudonym(gmcf->keys, ctx->account, reply, pseudo)
        != AC_OK)
    {
        ngx_cpystrn((u_char *) pseudo, (u_char *) ctx->account,
                    sizeof(pseudo));
    }
    ngx_http_guichet_ep_account(ctx, pseudo, "");
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_ACCOUNT_ERASED, NULL, 1,
                                 ngx_http_guichet_delete_logged);
}


static void
ngx_http_guichet_delete_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "goodbye.html");

    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_SESSION,
                                       "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}
