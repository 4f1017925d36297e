/*
 * Guichet nginx module: the login route, and what the sign-in routes
 * share (see ngx_http_guichet_login.h): the route data, the pending
 * second-factor state. The second factor is in ngx_http_guichet_2fa.c,
 * logout and the session JSON in ngx_http_guichet_logout.c.
 *
 * Every route runs as a chain of Redis replies and, for passwords, a
 * thread-pool task; each step stores what it learnt in the route's data
 * and starts the next one.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"


static void ngx_http_guichet_login_cleanup(void *data);
static ngx_int_t ngx_http_guichet_login_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);
static void ngx_http_guichet_login_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_login_account(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_login_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_login_hashed(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_login_rehashed(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_login_proved(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_login_pending(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_login_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


const char  ngx_http_guichet_code_used[] =
    "That code was already used. Wait for the next code from your app, "
    "then enter it.";

static const char  ngx_http_guichet_bad_credentials[] =
    "Incorrect email address or password.";

const char  ngx_http_guichet_form_expired[] =
    "This form has expired or was not sent by this site. Please sign in "
    "again.";


ngx_http_guichet_login_ctx_t *
ngx_http_guichet_login_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ctx->route_data) {
        return ctx->route_data;
    }

    return ngx_http_guichet_ep_data(r, ctx,
                                    sizeof(ngx_http_guichet_login_ctx_t),
                                    ngx_http_guichet_login_cleanup);
}


static void
ngx_http_guichet_login_cleanup(void *data)
{
    ngx_http_guichet_login_ctx_t *lc = data;

    ac_cleanse(lc->password, sizeof(lc->password));
    ac_cleanse(lc->token, sizeof(lc->token));
    ac_cleanse(lc->phc, sizeof(lc->phc));
    ac_cleanse(&lc->account, sizeof(ac_account_t));
}


/* --------------------------------------------------------------- login */

static ngx_int_t
ngx_http_guichet_login_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_http_guichet_login_ctx_t *lc = ctx->route_data;

    ngx_http_guichet_ep_page(ctx, status, "login.html");
    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "return_to", lc->return_to);
    ngx_http_guichet_ep_var(ctx, "email", ctx->email);

    return ngx_http_guichet_ep_csrf_var(r, ctx, ctx->csrf_cookie, "login");
}


void
ngx_http_guichet_login_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           value[AC_RETURN_TO_MAX * 3 + 1];
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    lc = ngx_http_guichet_login_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_arg(r, "return_to", value, sizeof(value),
                                   NULL);
    (void) ac_return_to(gmcf->ac, value, ngx_strlen(value), lc->return_to,
                        sizeof(lc->return_to));

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 1) != NGX_OK
        || ngx_http_guichet_login_page(r, ctx, NGX_HTTP_OK, NULL) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ep_arg(r, "signed_out", value, sizeof(value), NULL)
        == NGX_OK)
    {
        ngx_http_guichet_ep_var(ctx, "notice",
                                ngx_strcmp(value, "all") == 0
                                ? "You have signed out everywhere."
                                : "You have signed out.");

    } else if (ngx_http_guichet_ep_arg(r, "registered", value,
                                       sizeof(value), NULL)
               == NGX_OK)
    {
        ngx_http_guichet_ep_var(ctx, "notice",
                                "Your password is set. Sign in with it.");
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_login_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           value[AC_RETURN_TO_MAX + 1];
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    lc = ngx_http_guichet_login_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "email", ctx->email,
                                     sizeof(ctx->email), &ctx->email_len);

    (void) ngx_http_guichet_ep_field(ctx, "return_to", value, sizeof(value),
                                     NULL);
    (void) ac_return_to(gmcf->ac, value, ngx_strlen(value), lc->return_to,
                        sizeof(lc->return_to));

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 0) != NGX_OK
        || ngx_http_guichet_ep_csrf_check(r, ctx, ctx->csrf_cookie, "login")
           != NGX_OK)
    {
        ctx->csrf_cookie[0] = '\0';
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  ngx_http_guichet_form_expired);
        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, "csrf", 0);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "password", lc->password,
                                  sizeof(lc->password), &lc->password_len)
        != NGX_OK)
    {
        lc->password_len = 0;
    }

    /* the attempt is counted before the password is looked at */
    if (ac_throttle_keys(gmcf->ac, gmcf->keys, ctx->email, ctx->email_len,
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
                                     ngx_http_guichet_login_checked);
}


static void
ngx_http_guichet_login_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        wait;
    ac_cmd_t                       cmd;
    char                           norm[AC_EMAIL_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    if (wait > 0) {
        /* the password is not even looked at */
        if (ngx_http_guichet_login_page(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                        "Too many failed attempts.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        /* logged by login_hash, once the account is looked up: the
         * same answer and round trips whether it exists or not */
        ctx->retry_after = wait;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_email_normalize(ctx->email, ctx->email_len, norm) != AC_OK) {
        /* cannot be an account: the same cost as a wrong password */
        ngx_http_guichet_login_hash(r, ctx);
        return;
    }

    if (ac_cmd_account_by_email(&cmd, gmcf->ac, gmcf->keys, norm) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_login_account);
}


static void
ngx_http_guichet_login_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    arc = ac_account_parse(reply, NULL, &lc->account);

    if (arc == AC_OK) {
        ngx_http_guichet_ep_account(ctx, lc->account.id, lc->account.email);

    } else if (arc != AC_ERR_NOT_FOUND) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed account record: %s",
                      ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_login_hash(r, ctx);
}


static void
ngx_http_guichet_login_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t                      rc;
    const char                    *phc;
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    if (ctx->retry_after > 0) {
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "login", 1);
        return;
    }

    phc = (ctx->has_account && lc->account.pw[0]) ? lc->account.pw : NULL;

    rc = ngx_http_guichet_password_verify(r, phc, (u_char *) lc->password,
                                          lc->password_len,
                                          ngx_http_guichet_login_hashed, ctx);

    /* kept until the answer, in case the hash needs new parameters */
    if (rc == NGX_OK) {
        return;
    }

    ac_cleanse(lc->password, sizeof(lc->password));

    ngx_http_guichet_ep_hash_unavailable(r, ctx, rc);
}


static void
ngx_http_guichet_login_hashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    const char                    *reason;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    reason = NULL;

    if (rc != AC_OK && rc != AC_REHASH) {
        reason = "bad_credentials";

    } else if (!ctx->has_account || lc->account.pw[0] == '\0') {
        reason = "bad_credentials";

    } else if (lc->account.status != AC_STATUS_ACTIVE) {
        reason = "locked";
    }

    if (reason) {
        ac_cleanse(lc->password, sizeof(lc->password));

        /* one page for every failure: nothing tells them apart */
        if (ngx_http_guichet_login_page(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                        ngx_http_guichet_bad_credentials)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, reason,
                                ctx->has_account);
        return;
    }

    /* the password is proved, not the second factor: thr:2f stays */
    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &lc->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    if (rc == AC_REHASH) {
        /* made with older argon2 parameters: hashed again, off the loop */
        rc = ngx_http_guichet_password_hash(r, (u_char *) lc->password,
                                            lc->password_len, lc->phc,
                                            ngx_http_guichet_login_rehashed,
                                            ctx);
        ac_cleanse(lc->password, sizeof(lc->password));

        if (rc == NGX_OK) {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "guichet: password of account %s not rehashed: "
                      "hashing %s", lc->account.id,
                      rc == NGX_DECLINED ? "queue is full"
                                         : "failed to start");
    }

    ac_cleanse(lc->password, sizeof(lc->password));
    ngx_http_guichet_login_proved(r, ctx);
}


/* A new hash, stored only if the account still holds the old one. */

static void
ngx_http_guichet_login_rehashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    if (rc == AC_OK
        && ac_cmd_account_rehash(&cmd, gmcf->ac, lc->account.id,
                                 lc->account.pw, lc->phc)
           == AC_OK)
    {
        ngx_http_guichet_ep_detached(r, &cmd);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "guichet: password of account %s not rehashed: %s",
                      lc->account.id, ac_strerror(rc));
    }

    ac_cleanse(lc->phc, sizeof(lc->phc));
    ngx_http_guichet_login_proved(r, ctx);
}


/* The password held: a session, or the second factor first. */

static void
ngx_http_guichet_login_proved(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    if (!AC_ACCOUNT_SECOND(&lc->account)) {
        /* every factor the account has: a proof of identity (SPEC 8) */
        ctx->fresh_proof = 1;

        (void) ngx_http_guichet_ep_session_create(r, ctx, lc->account.id,
                                          lc->account.email,
                                          lc->account.roles, AC_AMR_PWD,
                                          NULL,
                                          ngx_http_guichet_login_session);
        return;
    }

    /* the password was right, a second factor is due */

    (void) ngx_http_guichet_pending_create(r, ctx, lc->token,
                                           lc->account.id, lc->return_to,
                                           NULL,
                                           ngx_http_guichet_login_pending);
}


ngx_int_t
ngx_http_guichet_pending_create(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, char *token, const char *account,
    const char *return_to, const char *partner,
    ngx_http_guichet_redis_handler_pt handler)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_token_new(token) != AC_OK
        || ac_session_digest(gmcf->keys, token, AC_TOKEN_LEN, ctx->digest)
           != AC_OK
        || ac_cmd_pending_create(&cmd, gmcf->ac, ctx->digest, account,
                                 return_to, partner)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    return ngx_http_guichet_ep_redis(r, ctx, &cmd, handler);
}


ngx_int_t
ngx_http_guichet_pending_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *token)
{
    u_char                        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_http_guichet_ep_url(r, ctx, "2fa");

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_PENDING,
                                          token, gmcf->ac->pending_ttl)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    return NGX_OK;
}


static void
ngx_http_guichet_login_pending(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (ngx_http_guichet_pending_answer(r, ctx, lc->token) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_SUCCESS, "2fa_required", 1);
}


static void
ngx_http_guichet_login_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    ngx_http_guichet_ep_redirect(ctx, lc->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_SUCCESS, NULL, 1);
}
