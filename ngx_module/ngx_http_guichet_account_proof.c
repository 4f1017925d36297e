/*
 * Guichet nginx module: proofs of identity on the account pages: the
 * throttled password (and code) check, re-authentication, and the
 * password change.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"
#include "ngx_http_guichet_passkey.h"


static void ngx_http_guichet_acct_throttled(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_acct_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_acct_failed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a);
static void ngx_http_guichet_reauth_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static const char *ngx_http_guichet_reauth_why(const char *return_to);
static ngx_int_t ngx_http_guichet_reauth_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static void ngx_http_guichet_password_checked(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_password_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_password_ended(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_password_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_checked(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_reauth_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_passkey(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);


/*
 * Password proofs are throttled like logins, on the account's email and
 * the client address, and a re-authentication's code on the account's
 * second-factor counter: each attempt counted before the check, next
 * called only when no delay is running.
 */

void
ngx_http_guichet_acct_throttle(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next)
{
    int                            rc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL) {
        ngx_memzero(&a->throttle, sizeof(ac_throttle_t));

        rc = ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle, AC_THR_IP,
                             (char *) r->connection->addr_text.data,
                             r->connection->addr_text.len);

    } else {
        rc = ac_throttle_keys(gmcf->ac, gmcf->keys, a->account.email,
                              ngx_strlen(a->account.email),
                              (char *) r->connection->addr_text.data,
                              &a->throttle);
    }

    if (rc == AC_OK && a->reauth != NGX_HTTP_GUICHET_PROOF_PASSWORD
        && (AC_ACCOUNT_SECOND(&a->account)
            || a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL))
    {
        rc = ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle,
                             AC_THR_SECOND, a->account.id,
                             ngx_strlen(a->account.id));
    }

    if (rc != AC_OK
        || ac_cmd_throttle_reserve(&cmd, gmcf->ac, &a->throttle, ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->next = next;

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_acct_throttled);
}


static void
ngx_http_guichet_acct_throttled(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   wait;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (wait == 0) {
        a->next(r, ctx);
        return;
    }

    ac_cleanse(a->password, sizeof(a->password));
    ac_cleanse(a->new_password, sizeof(a->new_password));

    if (a->reauth == NGX_HTTP_GUICHET_PROOF_REAUTH) {
        if (ngx_http_guichet_reauth_set(r, ctx, a,
                                        NGX_HTTP_TOO_MANY_REQUESTS,
                                        "Too many failed attempts.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                  "Too many attempts",
                                  "Too many failed attempts.");
    }

    ctx->retry_after = wait;
    ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED,
                            a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL
                            ? "totp_enrol" : "reauth", 1);
}


/* The current password, checked for the reauth page or a new password. */

static void
ngx_http_guichet_acct_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    rc = ngx_http_guichet_password_verify(r,
                                          a->account.pw[0] ? a->account.pw
                                                           : NULL,
                                          (u_char *) a->password,
                                          a->password_len,
                                          a->reauth
                                          ? ngx_http_guichet_reauth_checked
                                          : ngx_http_guichet_password_checked,
                                          ctx);
    if (rc != NGX_OK) {
        ngx_http_guichet_ep_hash_unavailable(r, ctx, rc);
    }
}


/* A proof that held: its counters are forgotten. */

void
ngx_http_guichet_acct_proved(ngx_http_request_t *r,
    ngx_http_guichet_acct_t *a)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &a->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }
}


/* A wrong password or code, counted before the check: logged. */

static void
ngx_http_guichet_acct_failed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a)
{
    ctx->event_session = ctx->digest;
    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, "reauth", 1);
}

/* --------------------------------------------------- re-authentication */

void
ngx_http_guichet_account_reauth_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    (void) ngx_http_guichet_ep_param(r, ctx, "return_to", a->return_to,
                                     sizeof(a->return_to), NULL);
    ngx_http_guichet_reauth_page(r, ctx, a, NGX_HTTP_OK, NULL);
}


static void
ngx_http_guichet_reauth_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    if (ngx_http_guichet_reauth_set(r, ctx, a, status, error) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* What the proof is asked for, in words that fit the action. */

static const char *
ngx_http_guichet_reauth_why(const char *return_to)
{
    static const struct {
        const char  *route;
        const char  *why;
    } whys[] = {
        { "account/export", "Downloading your data" },
        { "account/delete", "Deleting your account" },
        { "account/totp", "Changing two-step verification" },
        { "account/recovery", "Making new recovery codes" },
        { "account/password", "Changing your password" },
    };

    size_t       i, len, n;

    len = ngx_strlen(return_to);

    for (i = 0; i < sizeof(whys) / sizeof(whys[0]); i++) {
        n = ngx_strlen(whys[i].route);

        if (len >= n
            && ngx_strncmp(return_to + len - n, whys[i].route, n) == 0)
        {
            return whys[i].why;
        }
    }

    return "This";
}


static ngx_int_t
ngx_http_guichet_reauth_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    ngx_uint_t                     pk;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    pk = (a->account.passkeys > 0 && gmcf->ac->webauthn_rp_id != NULL);

    ngx_http_guichet_ep_page(ctx, status, "reauth.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "account")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "why",
                            ngx_http_guichet_reauth_why(a->return_to));
    ngx_http_guichet_ep_var(ctx, "return_to", a->return_to);
    ngx_http_guichet_ep_var(ctx, "email", a->account.email);
    ngx_http_guichet_ep_var(ctx, "totp", a->account.totp[0] ? "1" : NULL);
    ngx_http_guichet_ep_var(ctx, "passkey", pk ? "1" : NULL);
    /* the password (and code) form: also when nothing else can be used */
    ngx_http_guichet_ep_var(ctx, "code",
                            (a->account.totp[0] || !pk) ? "1" : NULL);

    return NGX_OK;
}


void
ngx_http_guichet_account_reauth_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    (void) ngx_http_guichet_ep_field(ctx, "return_to", a->return_to,
                                     sizeof(a->return_to), NULL);

    /* the password and a passkey, or the password and a code */
    switch (ngx_http_guichet_pka_read(r, ctx)) {
    case NGX_DECLINED:
        ctx->passkey = NULL;
        (void) ngx_http_guichet_ep_field(ctx, "code", a->code,
                                         sizeof(a->code), &a->code_len);
        break;
    case NGX_OK:
        break;
    default:
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "password", a->password,
                                  sizeof(a->password), &a->password_len)
        != NGX_OK)
    {
        ngx_http_guichet_reauth_page(r, ctx, a, NGX_HTTP_BAD_REQUEST,
                                     "Enter your password.");
        return;
    }

    a->reauth = NGX_HTTP_GUICHET_PROOF_REAUTH;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_acct_verify);
}


static void
ngx_http_guichet_reauth_checked(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            vrc;
    ac_cmd_t                       cmd;
    const char                    *error;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    error = "Incorrect password or code.";
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    ac_cleanse(a->password, sizeof(a->password));

    if (rc != AC_OK && rc != AC_REHASH) {
        goto failed;
    }

    if (ctx->passkey != NULL) {
        /* the session's own challenge, among the account's passkeys */
        ngx_http_guichet_pka_check(r, ctx, "reauth", ctx->digest,
                                   a->account.id, 0,
                                   ngx_http_guichet_reauth_passkey);
        return;
    }

    if (a->account.totp[0] == '\0' && a->account.passkeys > 0) {
        /* the second factor is a passkey: the password alone is not it */
        error = "Confirm with your password and your passkey.";
        goto failed;
    }

    if (a->account.totp[0] == '\0') {
        a->step = 0;
        ngx_http_guichet_reauth_step(r, ctx, NULL, NGX_DECLINED);
        return;
    }

    vrc = ac_account_totp_check(gmcf->keys, &a->account, a->code,
                                a->code_len, (time_t) ctx->now, &a->step);

    if (vrc == AC_ERR_KEY) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: TOTP secret of account %s unusable",
                      a->account.id);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (vrc == AC_ERR_REPLAY) {
        error = ngx_http_guichet_code_used;
        goto failed;
    }

    if (vrc != AC_OK) {
        goto failed;
    }

    if (ac_cmd_totp_step(&cmd, gmcf->ac, a->account.id, a->step) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_reauth_step);
    return;

failed:

    if (ngx_http_guichet_reauth_set(r, ctx, a, NGX_HTTP_UNAUTHORIZED, error)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_failed(r, ctx, a);
}


/* The passkey after the password: the proof is complete, or refused. */

static void
ngx_http_guichet_reauth_passkey(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (reason == NULL) {
        a->step = 0;
        ngx_http_guichet_reauth_step(r, ctx, NULL, NGX_DECLINED);
        return;
    }

    if (ngx_http_guichet_reauth_set(r, ctx, a, NGX_HTTP_UNAUTHORIZED,
                                    "That passkey was not accepted. Please "
                                    "try again.")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->event_session = ctx->digest;
    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE, reason, 1);
}


static void
ngx_http_guichet_reauth_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   ok;
    ac_cmd_t                  cmd;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (rc != NGX_DECLINED) {
        if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
            return;
        }

        if (ac_reply_integer(reply, &ok) != AC_OK || ok != 1) {
            /* a replayed code */
            if (ngx_http_guichet_reauth_set(r, ctx, a, NGX_HTTP_UNAUTHORIZED,
                                            ngx_http_guichet_code_used)
                != NGX_OK)
            {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ngx_http_guichet_acct_failed(r, ctx, a);
            return;
        }
    }

    ngx_http_guichet_acct_proved(r, a);

    *ngx_sprintf((u_char *) a->num, "%L", ctx->now) = '\0';

    /* a fresh proof is a privilege change: a new session id */
    if (ngx_http_guichet_sess_rotate_cmd(r, ctx, &cmd, "f", a->num)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_reauth_done);
}


static void
ngx_http_guichet_reauth_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    u_char                   *p;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ngx_strcmp(ngx_http_guichet_reauth_why(a->return_to),
                   "Downloading your data")
        == 0)
    {
        /* back on the account page, which starts the download */
        p = ngx_http_guichet_ep_url(r, ctx, "account?download=1");
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);

    } else if (ngx_http_guichet_ep_redirect_return_to(r, ctx, a->return_to,
                                                      ngx_strlen(a->return_to))
               != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}

/* ------------------------------------------------------------ password */

void
ngx_http_guichet_account_password(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                    len;
    ngx_int_t                 same;
    char                      confirm[AC_PASSWORD_MAX + 1];
    const char               *error;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    error = NULL;

    if (ngx_http_guichet_ep_field(ctx, "current_password", a->password,
                                  sizeof(a->password), &a->password_len)
        != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "new_password", a->new_password,
                                     sizeof(a->new_password),
                                     &a->new_password_len)
           != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "confirm_password", confirm,
                                     sizeof(confirm), &len)
           != NGX_OK)
    {
        error = "Fill in your current password and the new one twice.";

    } else {
        same = (len == a->new_password_len
                && ac_ct_equal(confirm, a->new_password, len));

        if (!same) {
            error = "The two new passwords differ.";

        } else if (ac_password_policy(a->new_password, a->new_password_len)
                   != AC_OK)
        {
            error = "The new password must have at least 8 characters.";
        }
    }

    ac_cleanse(confirm, sizeof(confirm));

    if (error) {
        ac_cleanse(a->password, sizeof(a->password));
        ac_cleanse(a->new_password, sizeof(a->new_password));
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                                  "Password not changed", error);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    a->reauth = NGX_HTTP_GUICHET_PROOF_PASSWORD;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_acct_verify);
}


static void
ngx_http_guichet_password_checked(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    ac_cleanse(a->password, sizeof(a->password));

    if (rc != AC_OK && rc != AC_REHASH) {
        ac_cleanse(a->new_password, sizeof(a->new_password));
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                  "Password not changed",
                                  "Your current password is not the one "
                                  "entered.");
        ngx_http_guichet_acct_failed(r, ctx, a);
        return;
    }

    ngx_http_guichet_acct_proved(r, a);

    ngx_http_guichet_ep_hash(r, ctx, a->new_password,
                             sizeof(a->new_password), a->new_password_len,
                             a->phc, ngx_http_guichet_password_hashed);
}


/*
 * The new hash stored and every session of the account ended (this one
 * too) in one step, then a new session for this browser.
 */

static void
ngx_http_guichet_password_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_password_set(&a->cmds[0], gmcf->ac, a->account.id, a->phc,
                            ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_password_ended);
}


static void
ngx_http_guichet_password_ended(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    unsigned                  roles, amr;
    char                      partner[AC_PARTNER_ID_MAX + 1];
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    ac_cleanse(a->phc, sizeof(a->phc));

    roles = a->account.roles;
    amr = ctx->session.amr;
    ngx_cpystrn((u_char *) partner, (u_char *) ctx->session.partner,
                sizeof(partner));

    (void) ngx_http_guichet_ep_session_create(r, ctx, a->account.id,
                                      a->account.email, roles, amr,
                                      partner,
                                      ngx_http_guichet_password_session);
}


static void
ngx_http_guichet_password_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_PASSWORD, a->account.email,
                                 a->account.id,
                                 "changed from the account page");

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_PASSWORD_CHANGED, NULL, 1,
                                 ngx_http_guichet_back_logged);
}
