/*
 * Guichet nginx module: a passkey as the second factor (SPEC 11). POST
 * 2fa/options gives a challenge bound to the pending state (JSON for
 * navigator.credentials.get, the account's passkeys allowed); POST 2fa
 * with the browser's answer takes a try of the pending state and counts
 * the account's second-factor counter (ngx_http_guichet_2fa.c), then
 * here takes the challenge (single use), finds the passkey among the
 * account's own, verifies the assertion with authcore and stores its
 * counter: a counter that does not increase (a cloned authenticator) is
 * refused and logged.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"


#define NGX_HTTP_GUICHET_2FA_PK_B64_MAX  2048


typedef struct {
    ac_passkey_t                 pk;
    unsigned char                challenge[AC_WA_CHALLENGE_LEN];
    unsigned char                id[AC_WA_ID_MAX];
    size_t                       id_len;
    char                         handle[AC_DIGEST_LEN + 1];
    char                         owner[AC_ID_LEN + 1];
    char                         cred_b64[AC_WA_ID_B64_MAX + 1];
    size_t                       cred_len;
    char                         ad[NGX_HTTP_GUICHET_2FA_PK_B64_MAX + 1];
    size_t                       ad_len;
    char                         cdj[NGX_HTTP_GUICHET_2FA_PK_B64_MAX + 1];
    size_t                       cdj_len;
    char                         sig[NGX_HTTP_GUICHET_2FA_PK_B64_MAX + 1];
    size_t                       sig_len;
    uint32_t                     count;
} ngx_http_guichet_2fa_pk_t;


typedef struct {
    ac_passkey_t                 list[AC_WA_PASSKEYS_MAX];
    size_t                       n;
    unsigned char                challenge[AC_WA_CHALLENGE_LEN];
} ngx_http_guichet_2fa_opt_t;


static void ngx_http_guichet_2fa_pk_cleanup(void *data);
static void ngx_http_guichet_2fa_opt_cleanup(void *data);
static void ngx_http_guichet_2fa_opt_read(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_opt_stored(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_pk_taken(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_pk_found(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_pk_counted(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_pk_clone(ngx_http_request_t *r,
    ngx_http_guichet_2fa_pk_t *p, ngx_http_guichet_login_ctx_t *lc);


/* ------------------------------------------------------------ options */

static void
ngx_http_guichet_2fa_opt_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_2fa_opt_t));
}


void
ngx_http_guichet_2fa_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_2fa_opt_t    *o;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    o = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_2fa_opt_t),
                                 ngx_http_guichet_2fa_opt_cleanup);
    if (o == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

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

    ac_cmd_t                       cmd;
    ngx_http_guichet_2fa_opt_t    *o;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    o = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED, "expired",
                                       "This sign-in has expired: sign in "
                                       "again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_passkey_list_reply(reply->element[2], o->list,
                              AC_WA_PASSKEYS_MAX, &o->n)
        != AC_OK)
    {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (o->n == 0) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "none",
                                       "This account has no passkey.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_random(o->challenge, AC_WA_CHALLENGE_LEN) != AC_OK
        || ac_cmd_passkey_challenge(&cmd, gmcf->ac, gmcf->keys, o->challenge,
                                    "2fa", ctx->digest)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_opt_stored);
}


static void
ngx_http_guichet_2fa_opt_stored(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    size_t                         i, j, len;
    const char                    *t;
    char                           ch[AC_B64URL_LEN(AC_WA_CHALLENGE_LEN)
                                      + 1];
    char                           id[AC_B64URL_LEN(AC_WA_ID_MAX) + 1];
    ngx_http_guichet_2fa_opt_t    *o;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    o = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (reply->type != REDIS_REPLY_STATUS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ac_b64url_encode(o->challenge, AC_WA_CHALLENGE_LEN, ch);

    ac_buf_reset(&ctx->json);
    ac_buf_printf(&ctx->json, "{\"challenge\":\"%s\",\"rpId\":", ch);
    ac_buf_json_str(&ctx->json, gmcf->ac->webauthn_rp_id,
                    ngx_strlen(gmcf->ac->webauthn_rp_id));
    ac_buf_printf(&ctx->json, ",\"timeout\":%d,\"userVerification\":"
                  "\"preferred\",\"allowCredentials\":[",
                  AC_WA_CHALLENGE_TTL * 1000);

    for (i = 0; i < o->n; i++) {
        ac_b64url_encode(o->list[i].cred.id, o->list[i].cred.id_len, id);
        ac_buf_printf(&ctx->json, "%s{\"type\":\"public-key\",\"id\":\"%s\"",
                      i ? "," : "", id);

        /* the transports stored at registration, "usb,nfc" */
        t = o->list[i].cred.transports;
        if (t[0]) {
            ac_buf_printf(&ctx->json, ",\"transports\":[");
            for (j = 0; t[0]; j++) {
                for (len = 0; t[len] && t[len] != ','; len++) {
                    /* void */
                }
                ac_buf_printf(&ctx->json, "%s", j ? "," : "");
                ac_buf_json_str(&ctx->json, t, len);
                t += len;
                if (t[0] == ',') {
                    t++;
                }
            }
            ac_buf_printf(&ctx->json, "]");
        }

        ac_buf_printf(&ctx->json, "}");
    }

    ac_buf_printf(&ctx->json, "]}");

    if (ac_buf_status(&ctx->json) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* ----------------------------------------------------------- the check */

static void
ngx_http_guichet_2fa_pk_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_2fa_pk_t));
}


ngx_int_t
ngx_http_guichet_2fa_passkey_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_guichet_2fa_pk_t     *p;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_guichet_2fa_pk_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (p == NULL || cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_guichet_2fa_pk_cleanup;
    cln->data = p;

    /* only the passkey form (passkey.js) sends a clientDataJSON */
    if (ngx_http_guichet_ep_field(ctx, "client_data", p->cdj,
                                  sizeof(p->cdj), &p->cdj_len)
        != NGX_OK
        || p->cdj_len == 0)
    {
        return NGX_DECLINED;
    }

    lc->pk = p;
    lc->second = AC_AMR_HWK;

    if (ngx_http_guichet_ep_field(ctx, "credential", p->cred_b64,
                                  sizeof(p->cred_b64), &p->cred_len)
        != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "auth_data", p->ad, sizeof(p->ad),
                                     &p->ad_len)
           != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "signature", p->sig,
                                     sizeof(p->sig), &p->sig_len)
           != NGX_OK
        || ac_wa_id_decode(p->cred_b64, p->cred_len, p->id, &p->id_len)
           != AC_OK
        || ac_wa_client_challenge(p->cdj, p->cdj_len, p->challenge) != AC_OK
        || ac_passkey_handle(gmcf->keys, p->id, p->id_len, p->handle)
           != AC_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "The browser's answer could not be read. "
                                  "Try again.");
        ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE,
                                ac_wa_reason(AC_WA_MALFORMED), 0);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_guichet_2fa_passkey_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_2fa_pk_t     *p;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;
    p = lc->pk;

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_2fa_failure(r, ctx, ac_wa_reason(AC_WA_DISABLED));
        return;
    }

    /* single use: taken before anything is checked against it */
    if (ac_cmd_passkey_challenge_take(&cmd, gmcf->ac, gmcf->keys,
                                      p->challenge)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_pk_taken);
}


static void
ngx_http_guichet_2fa_pk_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_2fa_pk_t     *p;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;
    p = lc->pk;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* made for this pending state, not another sign-in's */
    arc = ac_passkey_challenge_reply(reply, "2fa", ctx->digest);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_2fa_failure(r, ctx, ac_wa_reason(AC_WA_CHALLENGE));
        return;
    }

    if (ac_cmd_passkey_lookup(&cmd, gmcf->ac, p->handle) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_pk_found);
}


static void
ngx_http_guichet_2fa_pk_found(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    size_t                         len;
    unsigned                       flags;
    ac_cmd_t                       cmd;
    ac_wa_why_t                    why;
    ngx_http_guichet_2fa_pk_t     *p;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;
    p = lc->pk;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_passkey_lookup_reply(reply, p->owner, &p->pk);
    if (arc != AC_OK && arc != AC_ERR_NOT_FOUND) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* another account's passkey proves nothing about this one */
    len = ngx_strlen(lc->account.id);

    if (arc == AC_ERR_NOT_FOUND || ngx_strlen(p->owner) != len
        || !ac_ct_equal(p->owner, lc->account.id, len))
    {
        ngx_http_guichet_2fa_failure(r, ctx,
                                     ac_wa_reason(AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    why = AC_WA_MALFORMED;

    if (ac_wa_verify(gmcf->ac, &p->pk.cred, p->challenge, 0, p->ad,
                     p->ad_len, p->cdj, p->cdj_len, p->sig, p->sig_len,
                     &p->count, &flags, &why)
        != AC_OK)
    {
        if (why == AC_WA_COUNTER) {
            ngx_http_guichet_2fa_pk_clone(r, p, lc);
        }

        ngx_http_guichet_2fa_failure(r, ctx, ac_wa_reason(why));
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
                                     ngx_http_guichet_2fa_pk_counted);
}


static void
ngx_http_guichet_2fa_pk_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        v;
    ngx_http_guichet_2fa_pk_t     *p;
    ngx_http_guichet_login_ctx_t  *lc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;
    p = lc->pk;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        if (v == -1) {
            ngx_http_guichet_2fa_pk_clone(r, p, lc);
        }

        ngx_http_guichet_2fa_failure(r, ctx,
                                     ac_wa_reason(v == -1
                                                  ? AC_WA_COUNTER
                                                  : AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    lc->method = "passkey";
    ngx_http_guichet_2fa_success(r, ctx);
}


/* a counter that did not increase: two copies of the key exist */

static void
ngx_http_guichet_2fa_pk_clone(ngx_http_request_t *r,
    ngx_http_guichet_2fa_pk_t *p, ngx_http_guichet_login_ctx_t *lc)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "guichet: passkey %s of account %s refused: its counter "
                  "did not increase (a cloned authenticator?)",
                  p->pk.handle, lc->account.id);
}
