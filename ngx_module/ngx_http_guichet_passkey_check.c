/*
 * Guichet nginx module: a passkey ceremony for an account known in
 * advance (see ngx_http_guichet_passkey.h): the offer of a challenge and
 * the check of the browser's answer, for the second factor and for the
 * identity check. A counter that does not increase (a cloned
 * authenticator) is refused and logged.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_passkey.h"




typedef struct {
    ac_passkey_t                 list[AC_WA_PASSKEYS_MAX];
    size_t                       n;
    unsigned char                challenge[AC_WA_CHALLENGE_LEN];
    ngx_uint_t                   require_uv;
} ngx_http_guichet_pka_offer_t;


typedef struct {
    ngx_http_guichet_pka_answer_t  ans;
    ac_passkey_t                 pk;
    char                         owner[AC_ID_LEN + 1];
    char                         account[AC_ID_LEN + 1];
    char                         binding[AC_DIGEST_LEN + 1];
    const char                  *kind;
    ngx_uint_t                   require_uv;
    ngx_http_guichet_pka_done_pt done;
    uint32_t                     count;
} ngx_http_guichet_pka_t;


static void *ngx_http_guichet_pka_alloc(ngx_http_request_t *r, size_t size,
    ngx_pool_cleanup_pt cleanup);
static void ngx_http_guichet_pka_offer_cleanup(void *data);
static void ngx_http_guichet_pka_cleanup(void *data);
static void ngx_http_guichet_pka_offered(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pka_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pka_found(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pka_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pka_clone(ngx_http_request_t *r,
    ngx_http_guichet_pka_t *p);


static void *
ngx_http_guichet_pka_alloc(ngx_http_request_t *r, size_t size,
    ngx_pool_cleanup_pt cleanup)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, size);
    if (cln == NULL) {
        return NULL;
    }

    ngx_memzero(cln->data, size);
    cln->handler = cleanup;

    return cln->data;
}


/* ---------------------------------------------------------- the offer */

static void
ngx_http_guichet_pka_offer_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_pka_offer_t));
}


void
ngx_http_guichet_pka_offer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const struct redisReply *list,
    const char *kind, const char *binding, ngx_uint_t require_uv)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_pka_offer_t  *o;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    o = ngx_http_guichet_pka_alloc(r, sizeof(ngx_http_guichet_pka_offer_t),
                                   ngx_http_guichet_pka_offer_cleanup);
    if (o == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->passkey = o;
    o->require_uv = require_uv;

    if (ac_passkey_list_reply(list, o->list, AC_WA_PASSKEYS_MAX, &o->n)
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
                                    kind, binding)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pka_offered);
}


static void
ngx_http_guichet_pka_offered(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    size_t                         i, j, len;
    const char                    *t;
    char                           ch[AC_B64URL_LEN(AC_WA_CHALLENGE_LEN)
                                      + 1];
    char                           id[AC_B64URL_LEN(AC_WA_ID_MAX) + 1];
    ngx_http_guichet_pka_offer_t  *o;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    o = ctx->passkey;
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
                  "\"%s\",\"allowCredentials\":[",
                  AC_WA_CHALLENGE_TTL * 1000,
                  o->require_uv ? "required" : "preferred");

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


/* ------------------------------------------------------------ the check */

static void
ngx_http_guichet_pka_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_pka_t));
}


ngx_int_t
ngx_http_guichet_pka_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_http_guichet_pka_t  *p;

    p = ngx_http_guichet_pka_alloc(r, sizeof(ngx_http_guichet_pka_t),
                                   ngx_http_guichet_pka_cleanup);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    rc = ngx_http_guichet_pka_answer(r, ctx, &p->ans);

    if (rc == NGX_OK) {
        ctx->passkey = p;
    }

    return rc;
}


ngx_int_t
ngx_http_guichet_pka_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pka_answer_t *a)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* only a passkey form (passkey.js) sends a clientDataJSON */
    if (ngx_http_guichet_ep_field(ctx, "client_data", a->cdj,
                                  sizeof(a->cdj), &a->cdj_len)
        != NGX_OK
        || a->cdj_len == 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_guichet_ep_field(ctx, "credential", a->cred_b64,
                                  sizeof(a->cred_b64), &a->cred_len)
        != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "auth_data", a->ad, sizeof(a->ad),
                                     &a->ad_len)
           != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "signature", a->sig,
                                     sizeof(a->sig), &a->sig_len)
           != NGX_OK
        || ac_wa_id_decode(a->cred_b64, a->cred_len, a->id, &a->id_len)
           != AC_OK
        || ac_wa_client_challenge(a->cdj, a->cdj_len, a->challenge) != AC_OK
        || ac_passkey_handle(gmcf->keys, a->id, a->id_len, a->handle)
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
ngx_http_guichet_pka_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *kind, const char *binding,
    const char *account, ngx_uint_t require_uv,
    ngx_http_guichet_pka_done_pt done)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_pka_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    p = ctx->passkey;

    p->kind = kind;
    p->require_uv = require_uv;
    p->done = done;
    ngx_cpystrn((u_char *) p->binding, (u_char *) binding,
                sizeof(p->binding));
    ngx_cpystrn((u_char *) p->account, (u_char *) account,
                sizeof(p->account));

    if (gmcf->ac->webauthn_rp_id == NULL) {
        done(r, ctx, ac_wa_reason(AC_WA_DISABLED));
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
                                     ngx_http_guichet_pka_taken);
}


static void
ngx_http_guichet_pka_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_pka_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->passkey;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* made for this ceremony of this browser, not another's */
    arc = ac_passkey_challenge_reply(reply, p->kind, p->binding);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (arc != AC_OK) {
        p->done(r, ctx, ac_wa_reason(AC_WA_CHALLENGE));
        return;
    }

    if (ac_cmd_passkey_lookup(&cmd, gmcf->ac, p->ans.handle) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pka_found);
}


static void
ngx_http_guichet_pka_found(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    size_t                         len;
    unsigned                       flags;
    ac_cmd_t                       cmd;
    ac_wa_why_t                    why;
    ngx_http_guichet_pka_t        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->passkey;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_passkey_lookup_reply(reply, p->owner, &p->pk);
    if (arc != AC_OK && arc != AC_ERR_NOT_FOUND) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* another account's passkey proves nothing about this one */
    len = ngx_strlen(p->account);

    if (arc == AC_ERR_NOT_FOUND || len == 0 || ngx_strlen(p->owner) != len
        || !ac_ct_equal(p->owner, p->account, len))
    {
        p->done(r, ctx, ac_wa_reason(AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    why = AC_WA_MALFORMED;

    if (ac_wa_verify(gmcf->ac, &p->pk.cred, p->ans.challenge, p->require_uv,
                     p->ans.ad, p->ans.ad_len, p->ans.cdj, p->ans.cdj_len,
                     p->ans.sig, p->ans.sig_len, &p->count, &flags, &why)
        != AC_OK)
    {
        if (why == AC_WA_COUNTER) {
            ngx_http_guichet_pka_clone(r, p);
        }

        p->done(r, ctx, ac_wa_reason(why));
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
                                     ngx_http_guichet_pka_counted);
}


static void
ngx_http_guichet_pka_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                  v;
    ngx_http_guichet_pka_t  *p;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    p = ctx->passkey;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v == -1) {
        /* another worker stored a higher counter meanwhile */
        ngx_http_guichet_pka_clone(r, p);
        p->done(r, ctx, ac_wa_reason(AC_WA_COUNTER));
        return;
    }

    if (v != 1) {
        p->done(r, ctx, ac_wa_reason(AC_WA_UNKNOWN_CREDENTIAL));
        return;
    }

    p->done(r, ctx, NULL);
}


/* a counter that did not increase: two copies of the key exist */

static void
ngx_http_guichet_pka_clone(ngx_http_request_t *r, ngx_http_guichet_pka_t *p)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "guichet: passkey %s of account %s refused: its counter "
                  "did not increase (a cloned authenticator?)",
                  p->pk.handle, p->owner);
}
