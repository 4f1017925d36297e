/*
 * Guichet nginx module: partner SSO (/guichet/sso), and the verification
 * of every partner token (SSO assertions and the partner API's, see
 * ngx_http_guichet_partner_api.c) with a per-worker cache of parsed
 * partner keys. docs/PARTNERS.md is the partners' side of it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_sso.h"


/* a rotated key is in force on every worker within this delay */
#define NGX_HTTP_GUICHET_PARTNER_VALID   10000     /* ms */
#define NGX_HTTP_GUICHET_PARTNER_CACHE   64        /* partners per worker */






static void ngx_http_guichet_sso_cleanup(void *data);
static ngx_http_guichet_partner_t *ngx_http_guichet_partner_find(
    const char *id);
static void ngx_http_guichet_partner_forget(const char *id);
static void ngx_http_guichet_sso_partner(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_sso_claimed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_login(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_sso_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_created(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_trusted(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_sso_linked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_open(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_sso_pending(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_sso_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


static ngx_http_guichet_partner_t
    ngx_http_guichet_partners[NGX_HTTP_GUICHET_PARTNER_CACHE];


ngx_http_guichet_sso_ctx_t *
ngx_http_guichet_sso_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    return ngx_http_guichet_ep_data(r, ctx,
                                    sizeof(ngx_http_guichet_sso_ctx_t),
                                    ngx_http_guichet_sso_cleanup);
}


static void
ngx_http_guichet_sso_cleanup(void *data)
{
    ngx_http_guichet_sso_ctx_t *sc = data;

    if (sc->token != NULL) {
        ac_cleanse(sc->token, sc->token_len);
    }

    ac_cleanse(sc, sizeof(ngx_http_guichet_sso_ctx_t));
}


/*
 * Every refusal: 400 for a token that is not an assertion, 401 else, a
 * generic answer (the reason goes to the connection log only; the API
 * gives partners its code), no session.
 */
void
ngx_http_guichet_sso_fail(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_assertion_reason_t reason,
    const char *code)
{
    ngx_uint_t                   status;
    ngx_http_guichet_sso_ctx_t  *sc;

    sc = ctx->route_data;

    if (code == NULL) {
        code = ac_assertion_reason_name(reason);
    }

    switch (reason) {
    case AC_AR_MALFORMED:
    case AC_AR_TOO_LARGE:
    case AC_AR_BAD_HEADER:
        status = NGX_HTTP_BAD_REQUEST;
        break;
    default:
        status = NGX_HTTP_UNAUTHORIZED;
    }

    if (ctx->partner[0] == '\0' && sc->iss[0] != '\0'
        && reason != AC_AR_UNKNOWN_PARTNER)
    {
        ngx_memcpy(ctx->partner, sc->iss, ngx_strlen(sc->iss) + 1);
    }

    ngx_http_guichet_metric_sso((u_char *) ctx->partner,
                                ngx_strlen(ctx->partner), code);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "guichet: %s refused: %s",
                  sc->kind == AC_ASSERTION_SSO ? "sso assertion"
                                               : "partner api token",
                  code);

    if (sc->kind == AC_ASSERTION_PARTNER_API) {
        ngx_http_guichet_ep_json_error(ctx, status, code,
                                       "The partner token was refused.");

    } else if (ngx_http_guichet_browser(r)) {
        ngx_http_guichet_ep_error(ctx, status, "Sign-in refused",
                                  "Your organisation's sign-in could not "
                                  "be accepted. Please go back to your "
                                  "intranet and try again.");

    } else {
        ngx_http_guichet_ep_json_error(ctx, status, "sso_refused",
                                       "The assertion was refused.");
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_FAILURE, code,
                            ctx->has_account);
}


/* ------------------------------------------------------------- sso */

void
ngx_http_guichet_sso_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            rc;
    char                           value[AC_RETURN_TO_MAX + 1];
    ngx_str_t                      in;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    sc = ngx_http_guichet_sso_data(r, ctx);
    if (sc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    sc->kind = AC_ASSERTION_SSO;
    sc->verified = ngx_http_guichet_sso_login;

    if (ctx->post) {
        in.data = (u_char *) ctx->body;
        in.len = ctx->body_len;

    } else {
        in = r->args;
    }

    if (in.data == NULL) {
        in.data = (u_char *) "";
        in.len = 0;
    }

    (void) ac_form_get((char *) in.data, in.len, "return_to", value,
                       sizeof(value), NULL);
    (void) ac_return_to(gmcf->ac, value, ngx_strlen(value), sc->return_to,
                        sizeof(sc->return_to));

    /* one byte more than an assertion may hold tells "too large" */
    sc->token = ngx_pnalloc(r->pool, AC_ASSERTION_MAX + 2);
    if (sc->token == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ac_form_get((char *) in.data, in.len, "assertion", sc->token,
                     AC_ASSERTION_MAX + 2, &sc->token_len);

    if (rc == AC_ERR_TOO_LONG) {
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_TOO_LARGE, NULL);
        return;
    }

    if (rc != AC_OK) {
        sc->token_len = 0;
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_MALFORMED, NULL);
        return;
    }

    ngx_http_guichet_sso_start(r, ctx);
}


/* peek at iss, find the partner's key: cached, else from Redis */
void
ngx_http_guichet_sso_start(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ac_assertion_reason_t          reason;
    ngx_http_guichet_partner_t    *p;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    reason = AC_AR_MALFORMED;

    if (ac_assertion_peek_issuer(sc->token, sc->token_len, sc->iss, &reason)
        != AC_OK)
    {
        sc->iss[0] = '\0';
        ngx_http_guichet_sso_fail(r, ctx, reason, NULL);
        return;
    }

    p = ngx_http_guichet_partner_find(sc->iss);

    if (p != NULL && p->key != NULL
        && ngx_current_msec - p->fetched < NGX_HTTP_GUICHET_PARTNER_VALID)
    {
        sc->partner = p;
        ngx_http_guichet_sso_verify(r, ctx);
        return;
    }

    if (ac_cmd_partner_get(&cmd, gmcf->ac, sc->iss) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_sso_partner);
}


static ngx_http_guichet_partner_t *
ngx_http_guichet_partner_find(const char *id)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_GUICHET_PARTNER_CACHE; i++) {
        if (ngx_http_guichet_partners[i].key != NULL
            && ngx_strcmp(ngx_http_guichet_partners[i].id, id) == 0)
        {
            return &ngx_http_guichet_partners[i];
        }
    }

    return NULL;
}


static void
ngx_http_guichet_partner_forget(const char *id)
{
    ngx_http_guichet_partner_t  *p;

    p = ngx_http_guichet_partner_find(id);

    if (p != NULL) {
        ac_partner_key_free(p->key);
        ngx_memzero(p, sizeof(ngx_http_guichet_partner_t));
    }
}


static void
ngx_http_guichet_sso_partner(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ngx_uint_t                     i;
    ac_error_t                     err;
    ac_partner_t                  *partner;
    ac_partner_key_t              *key;
    ngx_http_guichet_partner_t    *p, *oldest;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    /* a partner record holds up to 4 KiB of key: not on the stack */
    partner = ngx_pcalloc(r->pool, sizeof(ac_partner_t));
    if (partner == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_http_guichet_partner_find(sc->iss);

    arc = ac_partner_parse(reply, gmcf->keys, sc->iss, partner);

    if (arc == AC_ERR_NOT_FOUND) {
        /* removed: forget it at once */
        ngx_http_guichet_partner_forget(sc->iss);

        ac_cleanse(partner, sizeof(ac_partner_t));
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_UNKNOWN_PARTNER, NULL);
        return;
    }

    if (arc != AC_OK) {
        ac_cleanse(partner, sizeof(ac_partner_t));
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: partner \"%s\" record unusable: %s",
                      sc->iss, ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (p == NULL || !ac_partner_key_same(p->key, partner)) {
        ngx_memzero(&err, sizeof(ac_error_t));

        arc = ac_partner_key_new(partner, &key, &err);
        if (arc != AC_OK) {
            ac_cleanse(partner, sizeof(ac_partner_t));
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "guichet: partner \"%s\" key unusable: %s",
                          sc->iss, err.msg[0] ? err.msg : ac_strerror(arc));
            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

        if (p == NULL) {
            oldest = &ngx_http_guichet_partners[0];

            for (i = 0; i < NGX_HTTP_GUICHET_PARTNER_CACHE; i++) {
                if (ngx_http_guichet_partners[i].key == NULL) {
                    oldest = &ngx_http_guichet_partners[i];
                    break;
                }

                if ((ngx_msec_int_t) (ngx_http_guichet_partners[i].fetched
                                      - oldest->fetched) < 0)
                {
                    oldest = &ngx_http_guichet_partners[i];
                }
            }

            p = oldest;
        }

        if (p->key != NULL) {
            ac_partner_key_free(p->key);
        }

        ngx_memzero(p, sizeof(ngx_http_guichet_partner_t));
        ngx_memcpy(p->id, sc->iss, ngx_strlen(sc->iss) + 1);
        p->key = key;
    }

    p->provision = partner->provision ? 1 : 0;
    p->require_2fa = partner->require_2fa ? 1 : 0;
    p->fetched = ngx_current_msec;

    ac_cleanse(partner, sizeof(ac_partner_t));

    sc->partner = p;
    ngx_http_guichet_sso_verify(r, ctx);
}


static void
ngx_http_guichet_sso_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            rc;
    ac_cmd_t                       cmd;
    ac_error_t                     err;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    sc->provision = sc->partner->provision;
    sc->require_2fa = sc->partner->require_2fa;

    ngx_memzero(&err, sizeof(ac_error_t));

    rc = ac_assertion_verify(gmcf->ac, sc->partner->key, sc->token,
                             sc->token_len, (time_t) ctx->now, sc->kind,
                             &sc->assertion, &err);

    /* the cache entry may change once we wait for Redis */
    sc->partner = NULL;

    if (rc != AC_OK) {
        if (sc->assertion.reason == AC_AR_INTERNAL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "guichet: assertion check failed: %s",
                          err.msg[0] ? err.msg : ac_strerror(rc));
        }

        ngx_http_guichet_sso_fail(r, ctx, sc->assertion.reason, NULL);
        return;
    }

    ngx_memcpy(ctx->partner, sc->assertion.partner,
               ngx_strlen(sc->assertion.partner) + 1);

    if (sc->kind == AC_ASSERTION_SSO) {
        ctx->email_len = ngx_strlen(sc->assertion.email);
        ngx_memcpy(ctx->email, sc->assertion.email, ctx->email_len + 1);
    }

    if (ac_cmd_jti_claim(&cmd, gmcf->ac, gmcf->keys, sc->assertion.partner,
                         sc->assertion.jti, sc->assertion.exp, ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_sso_claimed);
}


static void
ngx_http_guichet_sso_claimed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                          arc;
    ngx_http_guichet_sso_ctx_t  *sc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    sc = ctx->route_data;

    arc = ac_jti_claim_parse(reply);

    if (arc == AC_ERR_REPLAY) {
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_REPLAY, NULL);
        return;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    sc->verified(r, ctx);
}


static void
ngx_http_guichet_sso_login(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    if (ac_cmd_account_by_email(&cmd, gmcf->ac, gmcf->keys,
                                sc->assertion.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_sso_account);
}


static void
ngx_http_guichet_sso_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    arc = ac_account_parse(reply, NULL, &sc->account);

    if (arc == AC_OK) {
        ngx_http_guichet_ep_account(ctx, sc->account.id, sc->account.email);

        if (sc->account.status != AC_STATUS_ACTIVE) {
            ngx_http_guichet_sso_fail(r, ctx, AC_AR_COUNT, "account_locked");
            return;
        }

        /* a partner vouches only for the accounts linked to it */
        if (ac_cmd_partner_linked(&cmd, gmcf->ac, sc->account.id,
                                  sc->assertion.partner)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                         ngx_http_guichet_sso_trusted);
        return;
    }

    if (arc != AC_ERR_NOT_FOUND) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed account record: %s",
                      ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (!sc->provision) {
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_COUNT,
                                  "provisioning_disabled");
        return;
    }

    /* an SSO-only account: no password until the person sets one */
    ngx_memzero(&sc->account, sizeof(ac_account_t));

    if (ac_account_id_new(sc->account.id) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(sc->account.email, sc->assertion.email,
               ngx_strlen(sc->assertion.email) + 1);
    sc->account.roles = AC_ROLE_USER;
    sc->account.status = AC_STATUS_ACTIVE;
    sc->account.created = ctx->now;

    if (ac_cmd_account_create(&cmd, gmcf->ac, gmcf->keys, &sc->account)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_sso_created);
}


static void
ngx_http_guichet_sso_created(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                      n;
    ngx_http_guichet_sso_ctx_t  *sc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    sc = ctx->route_data;

    if (ac_reply_integer(reply, &n) != AC_OK || n != 1) {
        /* the email was taken in between: the next try finds it */
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    sc->created = 1;
    ngx_http_guichet_ep_account(ctx, sc->account.id, sc->account.email);
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_ACCOUNT_CREATED, "sso", 1,
                                 ngx_http_guichet_sso_link);
}


/*
 * An existing account: opened only when linked to this partner. One that
 * is not is linked only once its owner proved it on the link page
 * (ngx_http_guichet_link.c); an account without a password (another
 * partner's SSO-only account) has nothing to prove it with: refused.
 */
static void
ngx_http_guichet_sso_trusted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                      linked;
    ngx_http_guichet_sso_ctx_t  *sc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    sc = ctx->route_data;

    if (ac_reply_integer(reply, &linked) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (linked == -1) {
        /* removed meanwhile: the cached key goes at once */
        ngx_http_guichet_partner_forget(sc->assertion.partner);
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_UNKNOWN_PARTNER, NULL);
        return;
    }

    if (linked == 1) {
        ngx_http_guichet_sso_open(r, ctx);
        return;
    }

    if (sc->account.pw[0] == '\0') {
        ngx_http_guichet_sso_fail(r, ctx, AC_AR_COUNT, "not_linked");
        return;
    }

    ngx_http_guichet_link_start(r, ctx, sc->account.id,
                                sc->assertion.partner, sc->return_to);
}


static void
ngx_http_guichet_sso_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_sso_ctx_t    *sc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    sc = ctx->route_data;

    ngx_memzero(&ctx->event, sizeof(ac_event_t));

    if (ac_cmd_partner_link(&cmd, gmcf->ac, sc->account.id,
                            sc->assertion.partner, ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_sso_linked);
}


static void
ngx_http_guichet_sso_linked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_sso_open(r, ctx);
}


/*
 * A linked account: an enrolled second factor is always asked after the
 * assertion (amr "sso otp"), whatever the partner's policy; the session
 * never carries the roles security or admin (a partner vouches for a
 * person, not for their rights).
 */
static void
ngx_http_guichet_sso_open(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_sso_ctx_t  *sc;

    sc = ctx->route_data;

    if (!AC_ACCOUNT_SECOND(&sc->account)) {
        (void) ngx_http_guichet_ep_session_create(r, ctx, sc->account.id,
                                                  sc->account.email,
                                                  sc->account.roles
                                                  & ~AC_ROLES_SSO_DENIED,
                                                  AC_AMR_SSO,
                                                  sc->assertion.partner,
                                              ngx_http_guichet_sso_session);
        return;
    }

    (void) ngx_http_guichet_pending_create(r, ctx, sc->pending,
                                           sc->account.id, sc->return_to,
                                           sc->assertion.partner,
                                           ngx_http_guichet_sso_pending);
}


static void
ngx_http_guichet_sso_pending(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_sso_ctx_t  *sc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    sc = ctx->route_data;

    if (ngx_http_guichet_pending_answer(r, ctx, sc->pending) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_metric_sso((u_char *) ctx->partner,
                                ngx_strlen(ctx->partner), "ok");

    ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_SUCCESS, "2fa_required", 1);
}


static void
ngx_http_guichet_sso_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_sso_success(r, ctx);
}


static void
ngx_http_guichet_sso_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_sso_ctx_t  *sc;

    sc = ctx->route_data;

    ngx_http_guichet_metric_sso((u_char *) ctx->partner,
                                ngx_strlen(ctx->partner), "ok");

    ngx_http_guichet_ep_redirect(ctx, sc->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_SSO_SUCCESS, NULL, 1);
}
