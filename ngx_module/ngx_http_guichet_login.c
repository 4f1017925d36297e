/*
 * Guichet nginx module: the login, 2fa, logout and session routes (see
 * ngx_http_guichet_endpoints.h for the framework they plug into).
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
#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_2FA_TRIES  5
#define NGX_HTTP_GUICHET_CODE_MAX   32


typedef struct {
    char                         password[AC_PASSWORD_MAX + 1];
    size_t                       password_len;
    char                         code[NGX_HTTP_GUICHET_CODE_MAX];
    size_t                       code_len;
    char                         return_to[AC_RETURN_TO_MAX + 1];
    ngx_uint_t                   all;
    char                         token[AC_TOKEN_LEN + 1];  /* pending */
    char                         phc[AC_PHC_MAX];          /* rehash */
    ac_throttle_t                throttle;
    ac_account_t                 account;
    const char                  *method;     /* "totp", "recovery" */
    int64_t                      tries;      /* of the pending state */
    char                         partner[AC_PARTNER_ID_MAX + 1];  /* SSO */
    ngx_uint_t                   link;       /* success links partner */
} ngx_http_guichet_login_ctx_t;


static ngx_http_guichet_login_ctx_t *ngx_http_guichet_login_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
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

static ngx_int_t ngx_http_guichet_2fa_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);
static void ngx_http_guichet_2fa_state(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_claimed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_2fa_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);

static void ngx_http_guichet_logout_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_logout_done(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

static void ngx_http_guichet_json_words(ac_buf_t *b, const char *list,
    char sep);
static void ngx_http_guichet_session_got(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


const char  ngx_http_guichet_code_used[] =
    "That code was already used. Wait for the next code from your app, "
    "then enter it.";

static const char  ngx_http_guichet_bad_credentials[] =
    "Incorrect email address or password.";

static const char  ngx_http_guichet_form_expired[] =
    "This form has expired or was not sent by this site. Please sign in "
    "again.";


static ngx_http_guichet_login_ctx_t *
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

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_throttle_parse(reply, &wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
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

    if (lc->account.totp[0] == '\0') {
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


/* ----------------------------------------------------------------- 2fa */

static ngx_int_t
ngx_http_guichet_2fa_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_http_guichet_login_ctx_t *lc = ctx->route_data;

    ngx_http_guichet_ep_page(ctx, status, "2fa.html");
    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "return_to", lc->return_to);

    return ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "2fa");
}


void
ngx_http_guichet_2fa_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char  *p;

    if (ngx_http_guichet_login_data(r, ctx) == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_PENDING)
        != NGX_OK)
    {
        p = ngx_http_guichet_ep_url(r, ctx, "login");
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_OK, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_2fa_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    lc = ngx_http_guichet_login_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_PENDING)
        != NGX_OK)
    {
        ngx_http_guichet_2fa_get(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "2fa")
        != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  ngx_http_guichet_form_expired);
        ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, "csrf", 0);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "code", lc->code,
                                     sizeof(lc->code), &lc->code_len);

    /* a try of the pending state is taken before the code is looked at */
    if (ac_cmd_pending_take(&cmd, gmcf->ac, ctx->digest,
                            NGX_HTTP_GUICHET_2FA_TRIES)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_state);
}


static void
ngx_http_guichet_2fa_state(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    size_t                         i;
    u_char                        *p;
    ac_cmd_t                       cmd;
    char                           account[AC_ID_LEN + 1];
    redisReply                    *pending, *e;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[2]->type != REDIS_REPLY_INTEGER)
    {
        /* expired, destroyed or stale: sign in again */
        p = ngx_http_guichet_ep_url(r, ctx, "login");
        if (p == NULL
            || ngx_http_guichet_ep_set_cookie(ctx,
                                              NGX_HTTP_GUICHET_COOKIE_PENDING,
                                              "", 0)
               != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    pending = reply->element[0];
    account[0] = '\0';

    if (pending->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < pending->elements; i += 2) {
            e = pending->element[i];

            if (e->type != REDIS_REPLY_STRING || e->len != 1) {
                continue;
            }

            if (e->str[0] == 'a'
                && pending->element[i + 1]->len <= AC_ID_LEN)
            {
                ngx_memcpy(account, pending->element[i + 1]->str,
                           pending->element[i + 1]->len);
                account[pending->element[i + 1]->len] = '\0';

            } else if (e->str[0] == 'r') {
                (void) ac_return_to(gmcf->ac, pending->element[i + 1]->str,
                                    pending->element[i + 1]->len,
                                    lc->return_to, sizeof(lc->return_to));

            } else if (e->str[0] == 'p'
                       && pending->element[i + 1]->len > 0
                       && pending->element[i + 1]->len <= AC_PARTNER_ID_MAX)
            {
                /* the first factor was this partner's SSO */
                ngx_memcpy(lc->partner, pending->element[i + 1]->str,
                           pending->element[i + 1]->len);
                lc->partner[pending->element[i + 1]->len] = '\0';
                ngx_memcpy(ctx->partner, lc->partner,
                           pending->element[i + 1]->len + 1);

            } else if (e->str[0] == 'l') {
                /* set by the link page (ngx_http_guichet_link.c) */
                lc->link = 1;
            }
        }
    }

    if (lc->return_to[0] == '\0') {
        ngx_memcpy(lc->return_to, "/", 2);
    }

    if (account[0] == '\0'
        || ac_account_parse(reply->element[1], account, &lc->account)
           != AC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: pending state without a usable account");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_ep_account(ctx, lc->account.id, lc->account.email);
    lc->tries = reply->element[2]->integer;

    /*
     * Codes are counted on the account, whatever the sign-in or address
     * they come with (a correct password resets nothing here), and on
     * the address; before they are checked.
     */
    ngx_memzero(&lc->throttle, sizeof(ac_throttle_t));

    if (ac_throttle_add(gmcf->ac, gmcf->keys, &lc->throttle, AC_THR_SECOND,
                        lc->account.id, ngx_strlen(lc->account.id))
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &lc->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&cmd, gmcf->ac, &lc->throttle, ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_checked);
}


static void
ngx_http_guichet_2fa_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    size_t                         i, len;
    int64_t                        wait, step;
    ac_cmd_t                       cmd;
    ngx_uint_t                     digits;
    unsigned char                  secret[AC_TOTP_SECRET_LEN + 16];
    char                           digest[AC_DIGEST_LEN + 1];
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (ac_throttle_parse(reply, &wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (wait > 0) {
        if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                      "Too many wrong codes.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "2fa", 1);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (lc->account.status != AC_STATUS_ACTIVE) {
        /* locked since the password step */
        ngx_http_guichet_2fa_failure(r, ctx, "locked");
        return;
    }

    digits = (lc->code_len == AC_TOTP_DIGITS);

    for (i = 0; i < lc->code_len; i++) {
        if (lc->code[i] < '0' || lc->code[i] > '9') {
            digits = 0;
        }
    }

    if (digits) {
        if (lc->account.totp[0] == '\0') {
            ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
            return;
        }

        arc = ac_unseal(gmcf->keys, lc->account.totp, lc->account.id,
                        secret, sizeof(secret), &len);
        if (arc != AC_OK) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "guichet: TOTP secret of account %s unusable: %s",
                          lc->account.id, ac_strerror(arc));
            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

        arc = ac_totp_verify(secret, len, lc->code, lc->code_len,
                             (time_t) ctx->now, AC_TOTP_WINDOW,
                             lc->account.totp_step, &step);

        ac_cleanse(secret, sizeof(secret));

        if (arc == AC_ERR_REPLAY) {
            ngx_http_guichet_2fa_failure(r, ctx, "replay");
            return;
        }

        if (arc != AC_OK) {
            ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
            return;
        }

        /* another worker may have taken this step meanwhile */
        if (ac_cmd_totp_step(&cmd, gmcf->ac, lc->account.id, step)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        lc->method = "totp";

        (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                         ngx_http_guichet_2fa_claimed);
        return;
    }

    if (ac_recovery_digest(gmcf->keys, lc->code, lc->code_len, digest)
        != AC_OK)
    {
        ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
        return;
    }

    if (ac_cmd_recovery_use(&cmd, gmcf->ac, lc->account.id, digest)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    lc->method = "recovery";

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_claimed);
}


/*
 * A TOTP step or a recovery code, taken once: a step already taken is a
 * replay, a recovery code not found a wrong code.
 */

static void
ngx_http_guichet_2fa_claimed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        v;
    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        ngx_http_guichet_2fa_failure(r, ctx,
                                     ngx_strcmp(lc->method, "totp") == 0
                                     ? "replay" : "bad_code");
        return;
    }

    ngx_http_guichet_2fa_success(r, ctx);
}


static void
ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           key[AC_KEY_MAX];
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    /*
     * The second factor completed the proof of a partner link
     * (ngx_http_guichet_link.c): make the link, then come back here.
     */
    if (lc->link && lc->partner[0]) {
        lc->link = 0;
        ngx_http_guichet_link_confirm(r, ctx, lc->account.id, lc->partner,
                                      ngx_http_guichet_2fa_success);
        return;
    }

    if (ac_key(gmcf->ac, AC_K_PENDING, ctx->digest, key) == AC_OK) {
        ac_cmd_init(&cmd);
        ac_cmd_str(&cmd, "DEL");
        ac_cmd_copy(&cmd, key, ngx_strlen(key));
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    /* only a correct second factor forgets the account's failures */
    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &lc->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_PENDING,
                                       "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a password and a code: every factor the account has */
    ctx->fresh_proof = (lc->partner[0] == '\0');

    (void) ngx_http_guichet_ep_session_create(r, ctx, lc->account.id,
                                              lc->account.email,
                                              lc->account.roles,
                                              (lc->partner[0] ? AC_AMR_SSO
                                                              : AC_AMR_PWD)
                                              |AC_AMR_OTP,
                                              lc->partner,
                                              ngx_http_guichet_2fa_session);
}


static void
ngx_http_guichet_2fa_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    ngx_http_guichet_ep_redirect(ctx, lc->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_SUCCESS, lc->method, 1);
}


/*
 * The try was taken and the code counted before the check: a failure
 * only answers. The last try of the pending state deleted it.
 */

static void
ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    if (lc->tries >= NGX_HTTP_GUICHET_2FA_TRIES
        || lc->account.status != AC_STATUS_ACTIVE)
    {
        /* the pending state is gone: back to the password */
        if (ngx_http_guichet_ep_set_cookie(ctx,
                                           NGX_HTTP_GUICHET_COOKIE_PENDING,
                                           "", 0)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (lc->account.status != AC_STATUS_ACTIVE) {
            ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                      "Sign in again",
                                      "This sign-in can no longer go on. "
                                      "Please sign in again.");
            ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, reason, 1);
            return;
        }

        ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                  "Too many wrong codes",
                                  "Too many wrong codes were entered. "
                                  "Please sign in again.");
        ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, "too_many", 1);
        return;
    }

    lc->method = reason;

    if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                  ngx_strcmp(reason, "replay") == 0
                                  ? ngx_http_guichet_code_used
                                  : "That code is not valid. Please try "
                                    "again.")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, reason, 1);
}


/* -------------------------------------------------------------- logout */

void
ngx_http_guichet_logout_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_SESSION)
        != NGX_OK)
    {
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "logout.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "logout")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_logout_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           all[4];
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ngx_http_guichet_login_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->event_session = ctx->digest;

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_SESSION)
        != NGX_OK)
    {
        /* no session to end: nothing a forged form could do */
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "logout")
        != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or was not sent "
                                  "by this site. Please try again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "all", all, sizeof(all), NULL)
        == NGX_OK
        && ngx_strcmp(all, "1") == 0)
    {
        lc->all = 1;
    }

    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_logout_session);
}


static void
ngx_http_guichet_logout_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (!ctx->session_found) {
        /* already over */
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    if (lc->all) {
        arc = ac_cmd_sessions_end_all(&cmd, gmcf->ac, ctx->session.account);

    } else {
        arc = ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                    ctx->session.account);
    }

    if (arc != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_logout_done);
}


static void
ngx_http_guichet_logout_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (lc->all) {
        /* the session in use may predate the index entry: end it too */
        gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

        if (ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                  ctx->session.account)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }
    }

    if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGOUT, lc->all ? "all" : NULL,
                            1);
}


static ngx_int_t
ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *p;
    ngx_http_guichet_login_ctx_t  *lc = ctx->route_data;

    /* the login page then says "You have signed out" */
    p = ngx_http_guichet_ep_url(r, ctx, lc != NULL && lc->all
                                        ? "login?signed_out=all"
                                        : "login?signed_out=1");

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_SESSION,
                                          "", 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    return NGX_OK;
}


/* "user,security" as ["user","security"]: the lists of the session JSON */

static void
ngx_http_guichet_json_words(ac_buf_t *b, const char *list, char sep)
{
    ngx_uint_t   first;
    const char  *p, *end;

    ac_buf_str(b, "[");
    first = 1;

    for (p = list; *p; p = end) {
        end = strchr(p, sep);
        if (end == NULL) {
            end = p + strlen(p);
        }

        if (end > p) {
            ac_buf_str(b, first ? "" : ",");
            ac_buf_json_str(b, p, end - p);
            first = 0;
        }

        if (*end) {
            end++;
        }
    }

    ac_buf_str(b, "]");
}


/* ------------------------------------------------------------- session */

void
ngx_http_guichet_session_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_session_got);
}


static void
ngx_http_guichet_session_got(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_buf_t      *b;
    const char    *amr;
    ac_session_t  *s;
    char           roles[AC_ROLES_MAX];

    if (!ctx->session_valid) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "no valid session");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    s = &ctx->session;

    ac_roles_format(s->roles, roles);
    amr = ac_amr_name(s->amr);

    b = &ctx->json;

    ac_buf_str(b, "{\"user\":");
    ac_buf_json_str(b, s->account, ngx_strlen(s->account));
    ac_buf_str(b, ",\"email\":");
    ac_buf_json_str(b, s->email, ngx_strlen(s->email));
    ac_buf_str(b, ",\"roles\":");
    ngx_http_guichet_json_words(b, roles, ',');
    ac_buf_str(b, ",\"amr\":");
    ngx_http_guichet_json_words(b, amr, ' ');
    ac_buf_str(b, ",\"partner\":");

    if (s->partner[0]) {
        ac_buf_json_str(b, s->partner, ngx_strlen(s->partner));

    } else {
        ac_buf_str(b, "null");
    }

    ac_buf_printf(b, ",\"created_at\":%lld,\"expires_at\":%lld}\n",
                  (long long) s->created, (long long) s->expires);

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}
