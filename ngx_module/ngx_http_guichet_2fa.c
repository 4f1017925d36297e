/*
 * Guichet nginx module: the second factor after a password or an SSO
 * assertion (POST /guichet/2fa): a try of the pending state and the
 * account's second-factor counter are taken before the code, or the
 * passkey's answer (ngx_http_guichet_2fa_passkey.c), is checked.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"


static void ngx_http_guichet_2fa_read(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_restart(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_2fa_state(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_claimed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


/* ----------------------------------------------------------------- 2fa */

/*
 * The factors the account has are offered: a passkey when it has one
 * and the site offers passkeys, the code field for TOTP and recovery
 * codes (also when nothing else could be offered).
 */

ngx_int_t
ngx_http_guichet_2fa_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_uint_t                     pk;
    ngx_http_guichet_login_ctx_t  *lc = ctx->route_data;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    pk = (lc->account.passkeys > 0 && gmcf->ac->webauthn_rp_id != NULL);

    ngx_http_guichet_ep_page(ctx, status, "2fa.html");
    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "return_to", lc->return_to);
    ngx_http_guichet_ep_var(ctx, "passkey", pk ? "1" : NULL);
    ngx_http_guichet_ep_var(ctx, "code",
                            (lc->account.totp[0] || !pk) ? "1" : NULL);

    return ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "2fa");
}


void
ngx_http_guichet_2fa_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *p;
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

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

    /* the page offers the factors of the account, read without a try */
    if (ac_cmd_passkey_pending(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd, ngx_http_guichet_2fa_read);
}


static void
ngx_http_guichet_2fa_read(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                           account[AC_ID_LEN + 1];
    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len > AC_ID_LEN)
    {
        ngx_http_guichet_2fa_restart(r, ctx);
        return;
    }

    ngx_memcpy(account, reply->element[0]->str, reply->element[0]->len);
    account[reply->element[0]->len] = '\0';

    if (ac_account_parse(reply->element[1], account, &lc->account)
        != AC_OK)
    {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_OK, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* the pending state is expired, destroyed or stale: sign in again */

static void
ngx_http_guichet_2fa_restart(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_http_guichet_ep_url(r, ctx, "login");
    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_PENDING,
                                          "", 0)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
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

    switch (ngx_http_guichet_2fa_passkey_read(r, ctx)) {
    case NGX_DECLINED:
        (void) ngx_http_guichet_ep_field(ctx, "code", lc->code,
                                         sizeof(lc->code), &lc->code_len);
        break;
    case NGX_OK:
        break;
    default:
        return;
    }

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
        ngx_http_guichet_2fa_restart(r, ctx);
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
    int64_t                        wait, step;
    ac_cmd_t                       cmd;
    char                           digest[AC_DIGEST_LEN + 1];
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (wait > 0) {
        if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                      lc->pk ? "Too many failed tries."
                                             : "Too many wrong codes.")
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

    if (lc->pk != NULL) {
        ngx_http_guichet_2fa_passkey_check(r, ctx);
        return;
    }

    lc->second = AC_AMR_OTP;
    if (ac_totp_code_shape(lc->code, lc->code_len)) {
        arc = ac_account_totp_check(gmcf->keys, &lc->account, lc->code,
                                    lc->code_len, (time_t) ctx->now, &step);
        if (arc == AC_ERR_KEY) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "guichet: TOTP secret of account %s unusable",
                          lc->account.id);
            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

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


void
ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
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

    if (ac_cmd_pending_end(&cmd, gmcf->ac, ctx->digest) == AC_OK) {
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
                                              |lc->second,
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

void
ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ac_event_kind_t                ev;
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ctx->route_data;

    /* a passkey's ceremony is logged as such (a clone: "counter") */
    ev = lc->pk ? AC_EV_PASSKEY_FAILURE : AC_EV_2FA_FAILURE;

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
            ngx_http_guichet_ep_log(r, ctx, ev, reason, 1);
            return;
        }

        ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                  "Too many wrong codes",
                                  "Too many wrong codes were entered. "
                                  "Please sign in again.");
        ngx_http_guichet_ep_log(r, ctx, ev, "too_many", 1);
        return;
    }

    lc->method = reason;

    if (ngx_http_guichet_2fa_page(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                  lc->pk
                                  ? "That passkey was not accepted. Please "
                                    "try again."
                                  : ngx_strcmp(reason, "replay") == 0
                                  ? ngx_http_guichet_code_used
                                  : "That code is not valid. Please try "
                                    "again.")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, ev, reason, 1);
}
