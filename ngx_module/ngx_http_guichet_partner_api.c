/*
 * Guichet nginx module: the partner API (SPEC 5), JSON both ways, each
 * request carrying the partner's signed token as "Authorization: Bearer",
 * verified as an SSO assertion of kind partner_api:
 *
 *   POST /guichet/partner/invitations     invites its own people by mail
 *   GET  /guichet/partner/registrations   who of them has registered
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_sso.h"


static ngx_int_t ngx_http_guichet_api_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt verified);
static void ngx_http_guichet_invite_verified(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_invite_next(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_invite_stored(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_registrations_verified(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_registrations_got(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


/* the bearer token of the request, then its verification */
static ngx_int_t
ngx_http_guichet_api_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt verified)
{
    ngx_str_t                    v;
    ngx_table_elt_t             *h;
    ngx_http_guichet_sso_ctx_t  *sc;

    sc = ngx_http_guichet_sso_data(r, ctx);
    if (sc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    sc->kind = AC_ASSERTION_PARTNER_API;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1)
           != 0)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                       "missing_token",
                                       "Authorization: Bearer TOKEN is "
                                       "required.");
        ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_FAILURE, "missing_token",
                                0);
        return NGX_ERROR;
    }

    v.data = h->value.data + sizeof("Bearer ") - 1;
    v.len = h->value.len - (sizeof("Bearer ") - 1);

    if (v.len > AC_ASSERTION_MAX) {
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_TOO_LARGE, NULL);
        return NGX_ERROR;
    }

    sc->token = ngx_pnalloc(r->pool, v.len + 1);
    if (sc->token == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    ngx_memcpy(sc->token, v.data, v.len);
    sc->token[v.len] = '\0';
    sc->token_len = v.len;

    sc->verified = verified;
    ngx_http_guichet_sso_start(r, ctx);

    return NGX_OK;
}


void
ngx_http_guichet_invitations_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_api_begin(r, ctx,
                                      ngx_http_guichet_invite_verified);
}


static void
ngx_http_guichet_invite_verified(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                          rc;
    long                         bad;
    u_char                       msg[64];
    ngx_http_guichet_sso_ctx_t  *sc;

    sc = ctx->route_data;

    sc->emails = ngx_pcalloc(r->pool,
                             AC_INVITE_EMAILS_MAX * (AC_EMAIL_MAX + 1));
    if (sc->emails == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ac_invitation_body_parse(ctx->body ? ctx->body : "",
                                  ctx->body ? ctx->body_len : 0,
                                  sc->emails, AC_INVITE_EMAILS_MAX,
                                  &sc->nemails, &bad);

    if (rc == AC_ERR_BAD_EMAIL) {
        *ngx_snprintf(msg, sizeof(msg) - 1, "emails[%l] is not a valid "
                      "email address.", bad) = '\0';
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_BAD_REQUEST,
                                       "bad_email", (char *) msg);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (rc == AC_ERR_TOO_LONG) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_BAD_REQUEST,
                                       "too_many",
                                       "At most 100 emails per call.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (rc != AC_OK) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_BAD_REQUEST,
                                       "malformed",
                                       "The body must be "
                                       "{\"emails\":[...]}.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    sc->next_email = 0;
    ngx_http_guichet_invite_next(r, ctx);
}


static void
ngx_http_guichet_invite_next(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    if (sc->next_email == sc->nemails) {
        ac_buf_printf(&ctx->json, "{\"accepted\":%zu}", sc->nemails);
        ngx_http_guichet_ep_json(ctx, NGX_HTTP_ACCEPTED);
        ngx_http_guichet_ep_log(r, ctx, AC_EV_PARTNER_INVITATION, NULL, 0);
        return;
    }

    if (ac_cmd_invitation_create(&cmd, gmcf->ac, gmcf->keys,
                                 sc->assertion.partner,
                                 sc->emails[sc->next_email], ctx->now,
                                 sc->scratch)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_invite_stored);
}


static void
ngx_http_guichet_invite_stored(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                      n;
    ngx_http_guichet_sso_ctx_t  *sc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    sc = ctx->route_data;

    if (ac_reply_integer(reply, &n) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (n == 1) {
        ngx_http_guichet_mail_invitation(r, ctx, sc->assertion.partner,
                                         sc->emails[sc->next_email],
                                         ctx->now);
    }

    sc->next_email++;
    ngx_http_guichet_invite_next(r, ctx);
}


void
ngx_http_guichet_registrations_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_api_begin(r, ctx,
                                      ngx_http_guichet_registrations_verified);
}


static void
ngx_http_guichet_registrations_verified(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    if (ac_cmd_registrations(&cmd, gmcf->ac, gmcf->keys,
                             sc->assertion.partner)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_registrations_got);
}


static void
ngx_http_guichet_registrations_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    arc = ac_registrations_json(reply, gmcf->keys, sc->assertion.partner,
                                &ctx->json);
    if (arc != AC_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: invitations of \"%s\" unreadable: %s",
                      sc->assertion.partner, ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}
