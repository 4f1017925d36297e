/*
 * Guichet nginx module: passkeys on the account pages (SPEC 11): the
 * list (GET account/passkeys), a registration challenge (POST
 * account/passkeys/options: the options of navigator.credentials.create
 * in JSON), a registration (POST account/passkeys, action "register":
 * the attestation, checked by authcore, stored with its name) and a
 * removal (action "remove"). Every route needs the identity check; a
 * registration is a new second factor and moves the session to a new id.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"
#include "ngx_http_guichet_passkey.h"


#define NGX_HTTP_GUICHET_ATT_MAX  6144       /* attestation, base64url */
#define NGX_HTTP_GUICHET_CDJ_MAX  1536       /* clientDataJSON, base64url */


typedef struct {
    ac_wa_cred_t                 cred;
    ac_passkey_t                 list[AC_WA_PASSKEYS_MAX];
    size_t                       n;
    unsigned char                challenge[AC_WA_CHALLENGE_LEN];
    char                         name[AC_WA_NAME_MAX + 1];
    size_t                       name_len;
    char                         handle[AC_DIGEST_LEN + 1];
    char                         att[NGX_HTTP_GUICHET_ATT_MAX + 1];
    size_t                       att_len;
    char                         cdj[NGX_HTTP_GUICHET_CDJ_MAX + 1];
    size_t                       cdj_len;
    char                         tr[AC_WA_TRANSPORTS_MAX + 1];
    size_t                       tr_len;
    char                         created[32];
    char                         used[32];
} ngx_http_guichet_pk_t;


static ngx_http_guichet_acct_t *ngx_http_guichet_pk_begin(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_ep_handler_pt next);
static void ngx_http_guichet_pk_cleanup(void *data);
static void ngx_http_guichet_pk_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_pk_listed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pk_t *pk,
    const char *notice);
static void ngx_http_guichet_pk_options_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_pk_options_stored(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_pk_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_added(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_registered(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_pk_removed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_back(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_pk_reauth_listed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_pk_refused(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *why, const char *message);


static const char  ngx_http_guichet_pk_off[] =
    "Passkeys are not offered by this site.";


/*
 * The account is read and the route's flags applied (acct_begin(), the
 * route table): this file's data goes beside the account's, then next.
 */

static ngx_http_guichet_acct_t *
ngx_http_guichet_pk_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_guichet_acct_t  *a;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_guichet_pk_t));
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NULL;
    }

    ngx_memzero(cln->data, sizeof(ngx_http_guichet_pk_t));
    cln->handler = ngx_http_guichet_pk_cleanup;

    a = ctx->route_data;
    a->ext = cln->data;
    next(r, ctx);

    return a;
}


static void
ngx_http_guichet_pk_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_pk_t));
}


/* ------------------------------------------------------------ the list */

void
ngx_http_guichet_account_passkeys_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_pk_begin(r, ctx, ngx_http_guichet_pk_get_loaded);
}


static void
ngx_http_guichet_pk_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_passkey_list(&cmd, gmcf->ac, a->account.id) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pk_listed);
}


static void
ngx_http_guichet_pk_listed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                      value[16];
    const char               *notice;
    ngx_http_guichet_pk_t    *pk;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    pk = a->ext;

    if (ac_passkey_list_reply(reply, pk->list, AC_WA_PASSKEYS_MAX, &pk->n)
        != AC_OK)
    {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* the answer of a change, after its redirect: fixed words only */
    notice = NULL;

    if (ngx_http_guichet_ep_arg(r, "done", value, sizeof(value), NULL)
        == NGX_OK)
    {
        if (ngx_strcmp(value, "registered") == 0) {
            notice = "Your passkey is registered.";

        } else if (ngx_strcmp(value, "removed") == 0) {
            notice = "The passkey is removed.";
        }
    }

    ngx_http_guichet_pk_render(r, ctx, pk, notice);
}


static void
ngx_http_guichet_pk_date(int64_t t, char *out, size_t size)
{
    ngx_tm_t  tm;

    if (t <= 0) {
        ngx_cpystrn((u_char *) out, (u_char *) "never", size);
        return;
    }

    ngx_gmtime((time_t) t, &tm);
    *ngx_snprintf((u_char *) out, size - 1, "%4d-%02d-%02d %02d:%02d UTC",
                  tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                  tm.ngx_tm_hour, tm.ngx_tm_min) = '\0';
}


/* one row of the part "<!-- passkey -->" of passkeys.html */

static ngx_int_t
ngx_http_guichet_pk_row(void *data, ngx_uint_t i, ngx_http_guichet_tpl_t *t)
{
    ngx_http_guichet_pk_t *pk = data;

    ngx_http_guichet_pk_date(pk->list[i].created, pk->created,
                             sizeof(pk->created));
    ngx_http_guichet_pk_date(pk->list[i].last_used, pk->used,
                             sizeof(pk->used));
    ngx_http_guichet_tpl_str(t, "name", pk->list[i].name);
    ngx_http_guichet_tpl_str(t, "alg", ac_wa_alg_name(pk->list[i].cred.alg));
    ngx_http_guichet_tpl_str(t, "created", pk->created);
    ngx_http_guichet_tpl_str(t, "used", pk->used);
    ngx_http_guichet_tpl_str(t, "handle", pk->list[i].handle);
    ngx_http_guichet_tpl_str(t, "synced",
                             (pk->list[i].cred.flags & AC_WA_FLAG_BE)
                             ? "1" : NULL);

    return NGX_OK;
}


static void
ngx_http_guichet_pk_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pk_t *pk,
    const char *notice)
{
    ngx_http_guichet_tpl_t         t;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_tpl_get(r, ctx, "passkeys.html", &t) != NGX_OK
        || ac_csrf_token(gmcf->keys, ctx->digest, "account",
                         (time_t) ctx->now, a->csrf)
           != AC_OK
        || ac_csrf_token(gmcf->keys, ctx->digest, "logout",
                         (time_t) ctx->now, a->csrf_logout)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_tpl_str(&t, "email", a->account.email);
    ngx_http_guichet_tpl_str(&t, "notice", notice);
    ngx_http_guichet_tpl_str(&t, "csrf", a->csrf);
    ngx_http_guichet_tpl_str(&t, "csrf_logout", a->csrf_logout);
    ngx_http_guichet_tpl_str(&t, "none", pk->n ? NULL : "1");
    ngx_http_guichet_tpl_str(&t, "enabled",
                             gmcf->ac->webauthn_rp_id ? "1" : NULL);
    ngx_http_guichet_tpl_str(&t, "full",
                             pk->n >= AC_WA_PASSKEYS_MAX ? "1" : NULL);

    ac_buf_reset(&ctx->json);

    if (ngx_http_guichet_tpl_rows(&t, "passkey", ngx_http_guichet_pk_row, pk,
                                  pk->n, &ctx->json)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: passkeys page rendering failed");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "text/html; charset=utf-8");
    ngx_http_guichet_ep_finish(r, ctx);
}


/* ---------------------------------------------- registration challenge */

void
ngx_http_guichet_account_passkeys_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_pk_begin(r, ctx,
                                     ngx_http_guichet_pk_options_loaded);
}


static void
ngx_http_guichet_pk_options_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_pk_t         *pk;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    pk = a->ext;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "account")
        != NGX_OK)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "csrf",
                                       "This page has expired: reload it.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (a->account.restricted) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN,
                                       "restricted",
                                       "Your account is restricted.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (a->fresh == 0 || a->fresh > ctx->now
        || ctx->now - a->fresh > gmcf->ac->reauth_window)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "reauth",
                                       "Confirm it is you first: reload "
                                       "the page.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "disabled",
                                       ngx_http_guichet_pk_off);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* single use, bound to this session */
    if (ac_random(pk->challenge, AC_WA_CHALLENGE_LEN) != AC_OK
        || ac_cmd_passkey_challenge(&cmd, gmcf->ac, gmcf->keys,
                                    pk->challenge, "reg", ctx->digest)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pk_options_stored);
}


static void
ngx_http_guichet_pk_options_stored(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                           ch[AC_B64URL_LEN(AC_WA_CHALLENGE_LEN)
                                      + 1];
    char                           uid[AC_B64URL_LEN(AC_ID_LEN) + 1];
    ngx_http_guichet_pk_t         *pk;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    pk = a->ext;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (reply->type != REDIS_REPLY_STATUS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ac_b64url_encode(pk->challenge, AC_WA_CHALLENGE_LEN, ch);

    /* the user handle is the account id: passwordless sign-in checks it */
    ac_b64url_encode(a->account.id, ngx_strlen(a->account.id), uid);

    ac_buf_reset(&ctx->json);
    ac_buf_printf(&ctx->json, "{\"challenge\":\"%s\",\"rp\":{\"id\":", ch);
    ac_buf_json_str(&ctx->json, gmcf->ac->webauthn_rp_id,
                    ngx_strlen(gmcf->ac->webauthn_rp_id));
    ac_buf_str(&ctx->json, ",\"name\":");
    ac_buf_json_str(&ctx->json, gmcf->ac->totp_issuer,
                    ngx_strlen(gmcf->ac->totp_issuer));
    ac_buf_printf(&ctx->json, "},\"user\":{\"id\":\"%s\",\"name\":", uid);
    ac_buf_json_str(&ctx->json, a->account.email,
                    ngx_strlen(a->account.email));
    ac_buf_str(&ctx->json, ",\"displayName\":");
    ac_buf_json_str(&ctx->json, a->account.email,
                    ngx_strlen(a->account.email));
    ac_buf_printf(&ctx->json, "},\"pubKeyCredParams\":["
                  "{\"type\":\"public-key\",\"alg\":%d},"
                  "{\"type\":\"public-key\",\"alg\":%d},"
                  "{\"type\":\"public-key\",\"alg\":%d}],"
                  "\"timeout\":%d,\"attestation\":\"none\","
                  "\"authenticatorSelection\":{\"residentKey\":"
                  "\"preferred\",\"userVerification\":\"preferred\"}}",
                  AC_WA_ES256, AC_WA_EDDSA, AC_WA_RS256,
                  AC_WA_CHALLENGE_TTL * 1000);

    if (ac_buf_status(&ctx->json) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* ---------------------------------------------- registration, removal */

void
ngx_http_guichet_account_passkeys_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_pk_begin(r, ctx,
                                     ngx_http_guichet_pk_post_loaded);
}


static void
ngx_http_guichet_pk_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    char                           action[16];
    ngx_http_guichet_pk_t         *pk;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    pk = a->ext;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    (void) ngx_http_guichet_ep_field(ctx, "action", action, sizeof(action),
                                     &len);

    if (ngx_strcmp(action, "remove") == 0) {
        if (ngx_http_guichet_ep_field(ctx, "handle", pk->handle,
                                      sizeof(pk->handle), &len)
            != NGX_OK
            || len != AC_DIGEST_LEN
            || ac_cmd_passkey_remove(&cmd, gmcf->ac, a->account.id,
                                     pk->handle)
               != AC_OK)
        {
            ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                                      "Bad request", "No such passkey.");
            ngx_http_guichet_ep_finish(r, ctx);
            return;
        }

        (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                         ngx_http_guichet_pk_removed);
        return;
    }

    if (ngx_strcmp(action, "register") != 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "Unknown action.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not available",
                                  ngx_http_guichet_pk_off);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "name", pk->name,
                                     sizeof(pk->name), &pk->name_len);
    (void) ngx_http_guichet_ep_field(ctx, "transports", pk->tr,
                                     sizeof(pk->tr), &pk->tr_len);

    if (pk->name_len == 0) {
        ngx_cpystrn((u_char *) pk->name, (u_char *) "Passkey",
                    sizeof(pk->name));
        pk->name_len = ngx_strlen(pk->name);
    }

    if (ngx_http_guichet_ep_field(ctx, "attestation", pk->att,
                                  sizeof(pk->att), &pk->att_len)
        != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "client_data", pk->cdj,
                                     sizeof(pk->cdj), &pk->cdj_len)
           != NGX_OK
        || ac_wa_client_challenge(pk->cdj, pk->cdj_len, pk->challenge)
           != AC_OK)
    {
        ngx_http_guichet_pk_refused(r, ctx, ac_wa_reason(AC_WA_MALFORMED),
                                    "The browser's answer could not be "
                                    "read. Try again.");
        return;
    }

    /* the challenge is taken (single use) before anything is checked */
    if (ac_cmd_passkey_challenge_take(&cmd, gmcf->ac, gmcf->keys,
                                      pk->challenge)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd, ngx_http_guichet_pk_taken);
}


static void
ngx_http_guichet_pk_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ac_wa_why_t                    why;
    ngx_http_guichet_pk_t         *pk;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    pk = a->ext;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_passkey_challenge_reply(reply, "reg", ctx->digest);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_pk_refused(r, ctx, ac_wa_reason(AC_WA_CHALLENGE),
                                    "This registration has expired or was "
                                    "already used. Start it again.");
        return;
    }

    why = AC_WA_MALFORMED;

    arc = ac_wa_register(gmcf->ac, pk->challenge, pk->att, pk->att_len,
                         pk->cdj, pk->cdj_len, pk->tr, pk->tr_len,
                         &pk->cred, &why);
    if (arc != AC_OK) {
        ngx_http_guichet_pk_refused(r, ctx, ac_wa_reason(why),
                                    "This passkey could not be registered. "
                                    "Try again, or with another device.");
        return;
    }

    if (ac_cmd_passkey_add(&cmd, gmcf->ac, gmcf->keys, a->account.id,
                           &pk->cred, pk->name, ctx->now)
        != AC_OK)
    {
        ngx_http_guichet_pk_refused(r, ctx, ac_wa_reason(AC_WA_MALFORMED),
                                    "This name or passkey is not "
                                    "accepted.");
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd, ngx_http_guichet_pk_added);
}


static void
ngx_http_guichet_pk_added(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   v;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK || v == 0) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v == -1) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_CONFLICT, "Already there",
                                  "This passkey is registered already.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (v == -2) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_CONFLICT, "Too many",
                                  "Your account has as many passkeys as it "
                                  "may: remove one first.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* a new second factor: the session moves to a new id */
    if (ngx_http_guichet_sess_rotate_cmd(r, ctx, &a->cmds[0], "k", "")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_pk_registered);
}


static void
ngx_http_guichet_pk_registered(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                   *p;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    ctx->event_session = ctx->digest;

    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_SECOND_FACTOR,
                                 a->account.email, a->account.id,
                                 "a passkey registered");

    p = ngx_http_guichet_ep_url(r, ctx, "account/passkeys?done=registered");
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_REGISTERED,
                            ac_wa_alg_name(((ngx_http_guichet_pk_t *)
                                            a->ext)->cred.alg), 1);
}


static void
ngx_http_guichet_pk_removed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   v;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not found",
                                  "No such passkey.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ctx->event_session = ctx->digest;

    ngx_http_guichet_mail_notice(r, ctx, AC_MAIL_SECOND_FACTOR,
                                 a->account.email, a->account.id,
                                 "a passkey removed");

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_PASSKEY_REMOVED, NULL, 1,
                                 ngx_http_guichet_pk_back);
}


static void
ngx_http_guichet_pk_back(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_http_guichet_ep_url(r, ctx, "account/passkeys?done=removed");
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* a refused registration: 400, logged as passkey.failure with why */

static void
ngx_http_guichet_pk_refused(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *why, const char *message)
{
    ctx->event_session = ctx->digest;

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                              "Passkey not registered", message);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE, why, 1);
}


/* ------------------------------------------- the identity check's offer */

/*
 * POST account/reauth/options: a challenge bound to this session for the
 * passkey that goes with the password on the reauth page.
 */

void
ngx_http_guichet_account_reauth_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "disabled",
                                       ngx_http_guichet_pk_off);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "account")
        != NGX_OK)
    {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_FORBIDDEN, "csrf",
                                       "This page has expired: reload it.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_cmd_passkey_list(&cmd, gmcf->ac, a->account.id) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_pk_reauth_listed);
}


static void
ngx_http_guichet_pk_reauth_listed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_pka_offer(r, ctx, reply, "reauth", ctx->digest, 0);
}
