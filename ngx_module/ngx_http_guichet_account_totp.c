/*
 * Guichet nginx module: two-step verification on the account pages:
 * TOTP enrolment with its QR code, turning it off, recovery codes.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"


static ngx_int_t ngx_http_guichet_totp_pending(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a);
static void ngx_http_guichet_totp_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static void ngx_http_guichet_codes_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_shown(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_enabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_disabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_recovery_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


/* --------------------------------------------------------------- TOTP */

/*
 * A new secret, kept sealed (and bound to this session) in the session's
 * field "k" as "TIME:SEALED" until a first code confirms it.
 */

void
ngx_http_guichet_account_totp_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *p;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (a->account.totp[0]) {
        ngx_http_guichet_acct_back(r, ctx, NULL);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_totp_secret_new(a->secret) != AC_OK
        || ac_seal(gmcf->keys, a->secret, AC_TOTP_SECRET_LEN, ctx->digest,
                   a->sealed, sizeof(a->sealed))
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_snprintf((u_char *) a->pending, sizeof(a->pending) - 1, "%L:%s",
                     ctx->now, a->sealed);
    *p = '\0';

    a->next = ngx_http_guichet_totp_shown;

    (void) ngx_http_guichet_sess_set(r, ctx, "k", a->pending,
                                     ngx_http_guichet_acct_reply_done);
}


static void
ngx_http_guichet_totp_shown(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_totp_page(r, ctx, ctx->route_data, NGX_HTTP_OK, NULL);
}


static void
ngx_http_guichet_totp_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    size_t  i, n;
    char   *p;

    if (ac_base32_encode(a->secret, AC_TOTP_SECRET_LEN, a->secret_b32,
                         sizeof(a->secret_b32))
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* groups of four, as authenticator apps show keys */
    p = a->shown;
    n = ngx_strlen(a->secret_b32);

    for (i = 0; i < n; i++) {
        if (i && i % 4 == 0) {
            *p++ = ' ';
        }

        *p++ = a->secret_b32[i];
    }

    *p = '\0';

    ngx_http_guichet_ep_page(ctx, status, "totp.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "account")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "email", a->account.email);
    ngx_http_guichet_ep_var(ctx, "secret", a->shown);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* The pending enrolment's secret into a->secret: NGX_DECLINED if none. */

static ngx_int_t
ngx_http_guichet_totp_pending(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a)
{
    char                          *colon;
    size_t                         len;
    int64_t                        since;
    ngx_int_t                      rc;
    unsigned char                  secret[64];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    colon = ngx_strchr(a->pending, ':');
    if (colon == NULL || colon == a->pending) {
        return NGX_DECLINED;
    }

    since = ngx_atotm((u_char *) a->pending, colon - a->pending);
    if (since == NGX_ERROR || since > ctx->now
        || ctx->now - since > NGX_HTTP_GUICHET_ENROL_TTL)
    {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (ac_unseal(gmcf->keys, colon + 1, ctx->digest, secret,
                  sizeof(secret), &len)
        == AC_OK
        && len == AC_TOTP_SECRET_LEN)
    {
        ngx_memcpy(a->secret, secret, AC_TOTP_SECRET_LEN);
        rc = NGX_OK;
    }

    ac_cleanse(secret, sizeof(secret));

    return rc;
}


/* An image, since templates insert text only and CSP refuses data: URIs */

void
ngx_http_guichet_account_totp_qr(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            rc;
    char                          *uri;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_totp_pending(r, ctx, a) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not found",
                                  "No set-up of two-step verification is "
                                  "in progress.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_base32_encode(a->secret, AC_TOTP_SECRET_LEN, a->secret_b32,
                         sizeof(a->secret_b32))
        != AC_OK
        || ac_otpauth_uri(gmcf->ac->totp_issuer, a->account.email,
                          a->secret_b32, &uri)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_buf_reset(&ctx->json);
    rc = ac_qr_svg(uri, &ctx->json);

    ac_cleanse(uri, ngx_strlen(uri));
    free(uri);

    if (rc != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "image/svg+xml");
    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_account_totp_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                          *p, *q;
    size_t                         len;
    char                           action[16];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    (void) ngx_http_guichet_ep_field(ctx, "action", action, sizeof(action),
                                     &len);

    if (ngx_strcmp(action, "disable") == 0) {
        if (a->account.totp[0] == '\0') {
            ngx_http_guichet_acct_back(r, ctx, NULL);
            ngx_http_guichet_ep_finish(r, ctx);
            return;
        }

        if (ac_cmd_totp_disable(&a->cmds[0], gmcf->ac, a->account.id)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_totp_disabled);
        return;
    }

    if (ngx_strcmp(action, "enable") != 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "Unknown action.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (a->account.totp[0]) {
        ngx_http_guichet_acct_back(r, ctx, NULL);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_totp_pending(r, ctx, a) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Set-up expired",
                                  "This set-up of two-step verification "
                                  "has expired. Start it again from your "
                                  "account page.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "code", a->code, sizeof(a->code),
                                     &len);

    /* apps show "123 456" */
    for (p = q = a->code; *p; p++) {
        if (*p != ' ') {
            *q++ = *p;
        }
    }

    *q = '\0';
    a->code_len = q - a->code;

    /* the code is counted before it is checked, like every proof */
    a->reauth = NGX_HTTP_GUICHET_PROOF_ENROL;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_totp_confirm);
}


static void
ngx_http_guichet_totp_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            vrc;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    vrc = ac_totp_verify(a->secret, AC_TOTP_SECRET_LEN, a->code,
                         a->code_len, (time_t) ctx->now, AC_TOTP_WINDOW, 0,
                         &a->step);

    if (vrc != AC_OK) {
        ngx_http_guichet_totp_page(r, ctx, a,
                                   vrc == AC_ERR_INVALID
                                   ? NGX_HTTP_BAD_REQUEST
                                   : NGX_HTTP_UNAUTHORIZED,
                                   vrc == AC_ERR_INVALID
                                   ? "Enter the 6 digits the app shows."
                                   : "That code is not the one expected. "
                                     "Check the app and try again.");
        return;
    }

    ngx_http_guichet_acct_proved(r, a);

    if (ac_seal(gmcf->keys, a->secret, AC_TOTP_SECRET_LEN, a->account.id,
                a->sealed, sizeof(a->sealed))
        != AC_OK
        || ac_recovery_generate(gmcf->keys, a->codes, a->rdigests) != AC_OK
        || ac_cmd_totp_enable(&a->cmds[0], gmcf->ac, a->account.id,
                              a->sealed, a->step, a->rdigests)
           != AC_OK
        || ngx_http_guichet_sess_rotate_cmd(r, ctx, &a->cmds[1], "k", "")
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 2, ngx_http_guichet_totp_enabled);
}


static void
ngx_http_guichet_totp_enabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    a->notice = "Two-step verification is on. Keep these recovery codes.";
    ctx->event_session = ctx->digest;

    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_SECOND_FACTOR,
                                 a->account.email, a->account.id,
                                 "two-step verification turned on");

    /* then recovery.generated for the codes it made, as guichetctl */
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_TOTP_ENROLLED, NULL, 1,
                                 ngx_http_guichet_recovery_done);
}


static void
ngx_http_guichet_totp_disabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    ctx->event_session = ctx->digest;

    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_SECOND_FACTOR,
                                 a->account.email, a->account.id,
                                 "two-step verification turned off");

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_TOTP_DISABLED, NULL, 1,
                                 ngx_http_guichet_back_logged);
}


static void
ngx_http_guichet_codes_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    ngx_http_guichet_acct_codes(r, ctx, a, a->notice);
}


/* ------------------------------------------------------ recovery codes */

void
ngx_http_guichet_account_recovery(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (a->account.totp[0] == '\0') {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Not available",
                                  "Recovery codes come with two-step "
                                  "verification: turn it on first.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_recovery_generate(gmcf->keys, a->codes, a->rdigests) != AC_OK
        || ac_cmd_recovery_replace(&a->cmds[0], gmcf->ac, a->account.id,
                                   a->rdigests)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_recovery_done);
}


static void
ngx_http_guichet_recovery_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    if (a->notice == NULL) {
        a->notice = "Your new recovery codes replace the earlier ones, "
                    "which no longer work.";

        /* turning TOTP on made them too: that notice said so */
        ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_SECOND_FACTOR,
                                     a->account.email, a->account.id,
                                     "new recovery codes made, the earlier"
                                     " ones no longer work");
    }
    ctx->event_session = ctx->digest;

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_RECOVERY_GENERATED, NULL, 1,
                                 ngx_http_guichet_codes_logged);
}
