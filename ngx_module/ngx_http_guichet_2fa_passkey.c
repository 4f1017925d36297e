/*
 * Guichet nginx module: a passkey as the second factor (SPEC 11). POST
 * 2fa/options gives a challenge bound to the pending state (JSON for
 * navigator.credentials.get, the account's passkeys allowed); POST 2fa
 * with the browser's answer takes a try of the pending state and counts
 * the account's second-factor counter (ngx_http_guichet_2fa.c), then the
 * answer is checked (ngx_http_guichet_passkey_check.c): user presence,
 * user verification as the authenticator gives it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"
#include "ngx_http_guichet_passkey.h"


static void ngx_http_guichet_2fa_opt_read(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_pk_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);


/* ------------------------------------------------------------ options */

void
ngx_http_guichet_2fa_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "disabled",
                                       "Passkeys are not offered by this "
                                       "site.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_PENDING)
        != NGX_OK)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED, "expired",
                                       "This sign-in has expired: sign in "
                                       "again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "2fa")
        != NGX_OK)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "csrf",
                                       "This page has expired: reload it.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_cmd_passkey_pending(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_opt_read);
}


static void
ngx_http_guichet_2fa_opt_read(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED, "expired",
                                       "This sign-in has expired: sign in "
                                       "again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ngx_http_guichet_pka_offer(r, ctx, reply->element[2], "2fa", ctx->digest,
                               0);
}


/* ----------------------------------------------------------- the check */

ngx_int_t
ngx_http_guichet_2fa_passkey_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    rc = ngx_http_guichet_pka_read(r, ctx);

    if (rc == NGX_OK) {
        lc->pk = ctx->passkey;
        lc->second = AC_AMR_HWK;
    }

    return rc;
}


void
ngx_http_guichet_2fa_passkey_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    /* bound to this pending state; among this account's passkeys */
    ngx_http_guichet_pka_check(r, ctx, "2fa", ctx->digest, lc->account.id,
                               0, ngx_http_guichet_2fa_pk_done);
}


static void
ngx_http_guichet_2fa_pk_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    if (reason != NULL) {
        ngx_http_guichet_2fa_failure(r, ctx, reason);
        return;
    }

    lc->method = "passkey";
    ngx_http_guichet_2fa_success(r, ctx);
}
