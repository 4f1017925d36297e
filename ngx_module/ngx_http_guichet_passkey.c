/*
 * Guichet nginx module: passkeys at sign-in (SPEC 11) and the pages'
 * script. Passwordless sign-in from the login page: POST passkey/options
 * gives a challenge bound to the login form's CSRF cookie (JSON for
 * navigator.credentials.get, a discoverable credential, user
 * verification required); POST passkey counts the try on the credential
 * and the address, takes the challenge (single use), finds the passkey,
 * verifies the assertion with authcore, stores its counter, and opens a
 * session with amr "hwk" that counts as every factor.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"
#include "ngx_http_guichet_passkey.h"




typedef struct {
    ngx_http_guichet_pka_answer_t  ans;
    ac_passkey_t                 pk;
    ac_account_t                 account;
    ac_throttle_t                throttle;
    char                         binding[AC_DIGEST_LEN + 1];
    char                         owner[AC_ID_LEN + 1];
    char                         uh[AC_WA_ID_B64_MAX + 1];
    size_t                       uh_len;
    char                         return_to[AC_RETURN_TO_MAX + 1];
    uint32_t                     count;
} ngx_http_guichet_pkl_t;


static ngx_int_t ngx_http_guichet_pkl_binding(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pkl_t *p);
static void ngx_http_guichet_pkl_cleanup(void *data);
static void ngx_http_guichet_pkl_options_stored(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_reserved(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_found(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pkl_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);
static void ngx_http_guichet_pkl_clone(ngx_http_request_t *r,
    ngx_http_guichet_pkl_t *p);


/* ------------------------------------------------------------- script */

void
ngx_http_guichet_passkey_js(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "passkey.js");
    ngx_http_guichet_ep_finish(r, ctx);
}


/* ------------------------------------------------- passwordless sign-in */

static void
ngx_http_guichet_pkl_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_pkl_t));
}


/* the login form's CSRF cookie checked, and its digest as the binding */

static ngx_int_t
ngx_http_guichet_pkl_binding(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pkl_t *p)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 0) != NGX_OK
        || ngx_http_guichet_ep_csrf_check(r, ctx, ctx->csrf_cookie, "login")
           != NGX_OK
        || ac_digest(gmcf->keys, AC_PURPOSE_CSRF, ctx->csrf_cookie,
                     ngx_strlen(ctx->csrf_cookie), p->binding)
           != AC_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_http_guichet_pkl_t *
ngx_http_guichet_pkl_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_pkl_t  *p;

    p = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_pkl_t),
                                 ngx_http_guichet_pkl_cleanup);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    return p;
}


void
ngx_http_guichet_passkey_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_http_guichet_pkl_data(r, ctx);
    if (p == NULL) {
        return;
    }

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "disabled",
                                       "Passkeys are not offered by this "
                                       "site.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_pkl_binding(r, ctx, p) != NGX_OK) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "csrf",
                                       "This page has expired: reload it.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_random(p->ans.challenge, AC_WA_CHALLENGE_LEN) != AC_OK
        || ac_cmd_passkey_challenge(&cmd, gmcf->ac, gmcf->keys,
                                    p->ans.challenge, "login", p->binding)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_options_stored);
}


static void
ngx_http_guichet_pkl_options_stored(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                           ch[AC_B64URL_LEN(AC_WA_CHALLENGE_LEN)
                                      + 1];
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (reply->type != REDIS_REPLY_STATUS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ac_b64url_encode(p->ans.challenge, AC_WA_CHALLENGE_LEN, ch);

    /* no allowCredentials: the authenticator offers its passkeys */
    ac_buf_reset(&ctx->json);
    ac_buf_printf(&ctx->json, "{\"challenge\":\"%s\",\"rpId\":", ch);
    ac_buf_json_str(&ctx->json, gmcf->ac->webauthn_rp_id,
                    ngx_strlen(gmcf->ac->webauthn_rp_id));
    ac_buf_printf(&ctx->json, ",\"timeout\":%d,\"userVerification\":"
                  "\"required\"}", AC_WA_CHALLENGE_TTL * 1000);

    if (ac_buf_status(&ctx->json) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_passkey_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    char                           rt[AC_RETURN_TO_MAX + 1];
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_http_guichet_pkl_data(r, ctx);
    if (p == NULL) {
        return;
    }

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not available",
                                  "Passkeys are not offered by this site.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_pkl_binding(r, ctx, p) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  ngx_http_guichet_form_expired);
        ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE, "csrf", 0);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "return_to", rt, sizeof(rt), &len)
        != NGX_OK
        || ac_return_to(gmcf->ac, rt, len, p->return_to,
                        sizeof(p->return_to))
           != AC_OK)
    {
        ngx_memcpy(p->return_to, "/", 2);
    }

    (void) ngx_http_guichet_ep_field(ctx, "user_handle", p->uh,
                                     sizeof(p->uh), &p->uh_len);

    switch (ngx_http_guichet_pka_answer(r, ctx, &p->ans)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        /* a passwordless form always carries an answer */
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "The browser's answer could not be read. "
                                  "Try again.");
        ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE,
                                ac_wa_reason(AC_WA_MALFORMED), 0);
        return;

    default:
        return;
    }

    /* counted on the credential and the address before the check */
    if (ac_throttle_add(gmcf->ac, gmcf->keys, &p->throttle, AC_THR_TOKEN,
                        p->ans.handle, ngx_strlen(p->ans.handle))
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &p->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&cmd, gmcf->ac, &p->throttle, ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_reserved);
}


static void
ngx_http_guichet_pkl_reserved(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        wait;
    ac_cmd_t                       cmd;
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (wait > 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                  "Too many tries",
                                  "Too many sign-in tries with this "
                                  "passkey or from this address. Wait a "
                                  "little and try again.");
        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "passkey", 0);
        return;
    }

    /* single use: taken before anything is checked against it */
    if (ac_cmd_passkey_challenge_take(&cmd, gmcf->ac, gmcf->keys,
                                      p->ans.challenge)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_taken);
}


static void
ngx_http_guichet_pkl_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_passkey_challenge_reply(reply, "login", p->binding);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_pkl_failure(r, ctx, ac_wa_reason(AC_WA_CHALLENGE));
        return;
    }

    if (ac_cmd_passkey_lookup(&cmd, gmcf->ac, p->ans.handle) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_found);
}


static void
ngx_http_guichet_pkl_found(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    unsigned                       flags;
    ac_cmd_t                       cmd;
    ac_wa_why_t                    why;
    char                           uh[AC_B64URL_LEN(AC_ID_LEN) + 1];
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_passkey_lookup_reply(reply, p->owner, &p->pk);
    if (arc == AC_ERR_NOT_FOUND) {
        ngx_http_guichet_pkl_failure(r, ctx,
                                     ac_wa_reason(AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_ep_account(ctx, p->owner, "");

    /* the user handle given at registration is the account id */
    ac_b64url_encode(p->owner, ngx_strlen(p->owner), uh);

    if (p->uh_len != ngx_strlen(uh) || !ac_ct_equal(uh, p->uh, p->uh_len)) {
        ngx_http_guichet_pkl_failure(r, ctx,
                                     ac_wa_reason(AC_WA_USER_HANDLE));
        return;
    }

    why = AC_WA_MALFORMED;

    if (ac_wa_verify(gmcf->ac, &p->pk.cred, p->ans.challenge, 1,
                     p->ans.ad, p->ans.ad_len, p->ans.cdj, p->ans.cdj_len,
                     p->ans.sig, p->ans.sig_len, &p->count, &flags, &why)
        != AC_OK)
    {
        if (why == AC_WA_COUNTER) {
            ngx_http_guichet_pkl_clone(r, p);
        }

        ngx_http_guichet_pkl_failure(r, ctx, ac_wa_reason(why));
        return;
    }

    if (ac_cmd_passkey_counter(&cmd, gmcf->ac, p->owner, p->pk.handle,
                               p->count, ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_counted);
}


static void
ngx_http_guichet_pkl_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        v;
    ac_cmd_t                       cmd;
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        if (v == -1) {
            ngx_http_guichet_pkl_clone(r, p);
        }

        ngx_http_guichet_pkl_failure(r, ctx,
                                     ac_wa_reason(v == -1
                                                  ? AC_WA_COUNTER
                                                  : AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    if (ac_cmd_account_get(&cmd, gmcf->ac, p->owner) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pkl_account);
}


static void
ngx_http_guichet_pkl_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_pkl_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_account_parse(reply, p->owner, &p->account) != AC_OK) {
        ngx_http_guichet_pkl_failure(r, ctx,
                                     ac_wa_reason(AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    ngx_http_guichet_ep_account(ctx, p->account.id, p->account.email);

    if (p->account.status != AC_STATUS_ACTIVE) {
        ngx_http_guichet_pkl_failure(r, ctx, "locked");
        return;
    }

    /* only a verified passkey forgets the credential's failures */
    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &p->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    /* a passkey with user verification: every factor */
    ctx->fresh_proof = 1;

    (void) ngx_http_guichet_ep_session_create(r, ctx, p->account.id,
                                              p->account.email,
                                              p->account.roles, AC_AMR_HWK,
                                              NULL,
                                              ngx_http_guichet_pkl_session);
}


static void
ngx_http_guichet_pkl_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_pkl_t  *p;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->route_data;

    ngx_http_guichet_ep_redirect(ctx, p->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_SUCCESS, "passwordless",
                            1);
}


/* the try was counted before the check: a failure only answers */

static void
ngx_http_guichet_pkl_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                              "Passkey not accepted",
                              "This passkey could not sign you in. Try "
                              "again, or sign in with your password.");
    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE, reason,
                            ctx->has_account);
}


/* a counter that did not increase: two copies of the key exist */

static void
ngx_http_guichet_pkl_clone(ngx_http_request_t *r, ngx_http_guichet_pkl_t *p)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "guichet: passkey %s of account %s refused: its counter "
                  "did not increase (a cloned authenticator?)",
                  p->pk.handle, p->owner);
}
