/*
 * Guichet nginx module: linking an existing account to a partner
 * (/guichet/link), SPEC 6 "a partner vouches only for its own people".
 *
 * A partner's assertion for an account that is not linked to it opens
 * nothing: /guichet/sso stores a pending link ("P link:DIGEST", the
 * pending cookie's digest) and sends the browser here, where a page
 * names the partner that asks. The owner proves the account once with
 * its password (throttled like a login); with TOTP enrolled the proof
 * goes on at /guichet/2fa, whose success makes the link
 * (ngx_http_guichet_link_confirm()); without, the link is made here. Only
 * then is a session opened, by the partner (amr "sso", or "sso otp").
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_LINK_TRIES  5
#define NGX_HTTP_GUICHET_LINK_GONE   410      /* nginx names no such status */


typedef struct {
    char                 password[AC_PASSWORD_MAX + 1];
    size_t               password_len;
    char                 token[AC_TOKEN_LEN + 1];       /* pending 2FA */
    char                 return_to[AC_RETURN_TO_MAX + 1];
    ac_throttle_t        throttle;
    ac_link_pending_t    lp;
} ngx_http_guichet_link_ctx_t;


static ngx_http_guichet_link_ctx_t *ngx_http_guichet_link_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_link_cleanup(void *data);
static void ngx_http_guichet_link_started(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_redis_handler_pt handler);
static ngx_int_t ngx_http_guichet_link_state(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_gone(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_link_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);
static void ngx_http_guichet_link_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_hashed(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_link_pending(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_marked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_open(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_link_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_link_made(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);


static const char  ngx_http_guichet_link_expired[] =
    "This request to link your account has expired or was already used. "
    "Please sign in again from your organisation's intranet.";


static ngx_http_guichet_link_ctx_t *
ngx_http_guichet_link_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    return ngx_http_guichet_ep_data(r, ctx,
                                    sizeof(ngx_http_guichet_link_ctx_t),
                                    ngx_http_guichet_link_cleanup);
}


static void
ngx_http_guichet_link_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_link_ctx_t));
}


/* ------------------------------------------------ from /guichet/sso */

void
ngx_http_guichet_link_start(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *partner,
    const char *return_to)
{
    ac_cmd_t                       cmd;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* the cookie is only sent with the 303, once the state is stored */
    if (ac_token_new(token) != AC_OK
        || ac_session_digest(gmcf->keys, token, AC_TOKEN_LEN, ctx->digest)
           != AC_OK
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_PENDING,
                                          token, gmcf->ac->pending_ttl)
           != NGX_OK
        || ac_cmd_link_pending_create(&cmd, gmcf->ac, ctx->digest, account,
                                      partner, return_to)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_cleanse(token, sizeof(token));

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_link_started);
}


static void
ngx_http_guichet_link_started(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    u_char  *p;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ngx_http_guichet_ep_url(r, ctx, "link");
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    ngx_http_guichet_metric_sso((u_char *) ctx->partner,
                                ngx_strlen(ctx->partner), "not_linked");

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "guichet: sso assertion of \"%s\" for an account not "
                  "linked to it: link page", ctx->partner);

    /* nothing is opened: the owner must prove the account first */
    ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_FAILURE, "not_linked", 1);
}


/* ------------------------------------------------------ the page */

void
ngx_http_guichet_link_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_link_data(r, ctx) == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_link_read(r, ctx, ngx_http_guichet_link_shown);
}


static void
ngx_http_guichet_link_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_redis_handler_pt handler)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_PENDING)
        != NGX_OK)
    {
        ngx_http_guichet_link_gone(r, ctx);
        return;
    }

    if (ac_cmd_link_pending_get(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd, handler);
}


/* NGX_OK with lc->lp filled; otherwise the request was answered */
static ngx_int_t
ngx_http_guichet_link_state(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    int                            arc;
    ngx_http_guichet_link_ctx_t   *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return NGX_ERROR;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    arc = ac_link_pending_parse(reply, &lc->lp);

    if (arc == AC_ERR_NOT_FOUND) {
        ngx_http_guichet_link_gone(r, ctx);
        return NGX_ERROR;
    }

    if (arc != AC_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: pending link unusable: %s",
                      ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    (void) ac_return_to(gmcf->ac, lc->lp.return_to,
                        ngx_strlen(lc->lp.return_to), lc->return_to,
                        sizeof(lc->return_to));

    ngx_http_guichet_ep_account(ctx, lc->lp.account.id,
                                lc->lp.account.email);
    ngx_memcpy(ctx->partner, lc->lp.partner,
               ngx_strlen(lc->lp.partner) + 1);

    return NGX_OK;
}


static void
ngx_http_guichet_link_gone(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_PENDING,
                                       "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_GUICHET_LINK_GONE,
                              "Link request expired",
                              ngx_http_guichet_link_expired);
    ngx_http_guichet_ep_finish(r, ctx);
}


static ngx_int_t
ngx_http_guichet_link_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_http_guichet_link_ctx_t *lc = ctx->route_data;

    ngx_http_guichet_ep_page(ctx, status, "link.html");
    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "partner", lc->lp.partner);
    ngx_http_guichet_ep_var(ctx, "email", lc->lp.account.email);

    return ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "link");
}


static void
ngx_http_guichet_link_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_link_state(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ngx_http_guichet_link_page(r, ctx, NGX_HTTP_OK, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* ------------------------------------------------------ the proof */

void
ngx_http_guichet_link_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_link_ctx_t  *lc;

    lc = ngx_http_guichet_link_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "password", lc->password,
                                  sizeof(lc->password), &lc->password_len)
        != NGX_OK)
    {
        lc->password_len = 0;
    }

    ngx_http_guichet_link_read(r, ctx, ngx_http_guichet_link_got);
}


static void
ngx_http_guichet_link_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_link_ctx_t   *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_link_state(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "link")
        != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or was not sent "
                                  "by this site.");
        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, "link_csrf", 1);
        return;
    }

    /* the same counters as a login with this account's email, counted
     * before the password is looked at */
    if (ac_throttle_keys(gmcf->ac, gmcf->keys, lc->lp.account.email,
                         ngx_strlen(lc->lp.account.email),
                         (char *) r->connection->addr_text.data,
                         &lc->throttle)
        != AC_OK
        || ac_cmd_throttle_reserve(&cmd, gmcf->ac, &lc->throttle, ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_link_checked);
}


static void
ngx_http_guichet_link_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                       wait;
    ngx_int_t                     hrc;
    const char                   *phc;
    ngx_http_guichet_link_ctx_t  *lc;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (wait > 0) {
        /* the password is not even looked at */
        if (ngx_http_guichet_link_page(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                       "Too many failed attempts.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "link", 1);
        return;
    }

    phc = lc->lp.account.pw[0] ? lc->lp.account.pw : NULL;

    hrc = ngx_http_guichet_password_verify(r, phc, (u_char *) lc->password,
                                           lc->password_len,
                                           ngx_http_guichet_link_hashed,
                                           ctx);

    ac_cleanse(lc->password, sizeof(lc->password));

    if (hrc == NGX_OK) {
        return;
    }

    ngx_http_guichet_ep_hash_unavailable(r, ctx, hrc);
}


static void
ngx_http_guichet_link_hashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    const char                    *reason;
    ngx_http_guichet_link_ctx_t   *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    reason = NULL;

    if ((rc != AC_OK && rc != AC_REHASH) || lc->lp.account.pw[0] == '\0') {
        reason = "link_bad_credentials";

    } else if (lc->lp.account.status != AC_STATUS_ACTIVE) {
        reason = "link_locked";
    }

    if (reason) {
        /* a few wrong passwords use the pending link up */
        if (ac_cmd_link_pending_fail(&cmd, gmcf->ac, ctx->digest,
                                     NGX_HTTP_GUICHET_LINK_TRIES)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }

        if (ngx_http_guichet_link_page(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       "Incorrect password.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, reason, 1);
        return;
    }

    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &lc->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    /* good for one proof */
    if (ac_cmd_link_pending_delete(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_detached(r, &cmd);

    if (!AC_ACCOUNT_SECOND(&lc->lp.account)) {
        ngx_http_guichet_link_confirm(r, ctx, lc->lp.account.id,
                                      lc->lp.partner,
                                      ngx_http_guichet_link_open);
        return;
    }

    /* the second factor completes the proof; its success links */
    (void) ngx_http_guichet_pending_create(r, ctx, lc->token,
                                           lc->lp.account.id, lc->return_to,
                                           lc->lp.partner,
                                           ngx_http_guichet_link_pending);
}


static void
ngx_http_guichet_link_pending(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_pending_link_mark(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_link_marked);
}


static void
ngx_http_guichet_link_marked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                       v;
    ngx_http_guichet_link_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK || v != 1) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (ngx_http_guichet_pending_answer(r, ctx, lc->token) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_SUCCESS,
                            "link_2fa_required", 1);
}


/* linked after the password alone (no second factor enrolled) */
static void
ngx_http_guichet_link_open(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_link_ctx_t  *lc;

    lc = ctx->route_data;

    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_PENDING,
                                       "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_session_create(r, ctx, lc->lp.account.id,
                                              lc->lp.account.email,
                                              lc->lp.account.roles
                                              & ~AC_ROLES_SSO_DENIED,
                                              AC_AMR_SSO, lc->lp.partner,
                                              ngx_http_guichet_link_session);
}


static void
ngx_http_guichet_link_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_link_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    ngx_http_guichet_metric_sso((u_char *) ctx->partner,
                                ngx_strlen(ctx->partner), "ok");

    ngx_http_guichet_ep_redirect(ctx, lc->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_SUCCESS, "linked", 1);
}


/* ------------------------------------------- making the link itself */

/*
 * Links the account to the partner (the proof is complete: password,
 * and the second factor when enrolled), logs "partner.linked", then
 * calls next(r, ctx). Also the hook of /guichet/2fa's success when its
 * pending state was marked by ac_cmd_pending_link_mark().
 */
void
ngx_http_guichet_link_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *partner,
    ngx_http_guichet_ep_handler_pt next)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_partner_link(&cmd, gmcf->ac, account, partner, ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(ctx->partner, partner, ngx_strlen(partner) + 1);
    ctx->next = next;

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_link_made);
}


static void
ngx_http_guichet_link_made(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                          v;
    ngx_http_guichet_ep_handler_pt   next;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    next = ctx->next;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "guichet: account %s linked to partner \"%s\"%s",
                  ctx->account, ctx->partner,
                  v == 1 ? "" : " (already)");

    if (v != 1) {
        next(r, ctx);
        return;
    }

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_PARTNER_LINKED, "proof", 1,
                                 next);
}
