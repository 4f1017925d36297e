/*
 * Guichet nginx module: /guichet/register?token=..., the link a
 * partner's invitation sends. The link trades its token for a
 * short-lived cookie and a 303 to the bare /guichet/register, so that
 * no URL an access log, a history or a Referer keeps can be redeemed;
 * from then on the token is only ever read from that cookie. GET shows
 * the set-password form; POST checks the password policy, hashes it in
 * the thread pool, uses the registration token up, then creates the
 * account of the invited email (or gives a password to its SSO-only
 * account), links it to the inviting partner and sends the person to
 * the login page. Every look at a token is throttled, counted before
 * it is made. docs/PARTNERS.md describes the link.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_ticket.h"


#define NGX_HTTP_GUICHET_REGISTER_AGE  900  /* the link's cookie: 15 min */

typedef struct {
    ngx_http_guichet_ticket_t  tk;     /* first: see ticket.h */
    char                 password[AC_PASSWORD_MAX + 1];
    size_t               password_len;
    char                 phc[AC_PHC_MAX];
    ac_regtok_t          regtok;
    ac_account_t         account;
    ngx_uint_t           exists;       /* an SSO-only account */
    ac_cmd_t             cmd;
} ngx_http_guichet_register_t;


static ngx_http_guichet_register_t *ngx_http_guichet_register_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_register_cleanup(void *data);
static ngx_int_t ngx_http_guichet_register_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);
static ngx_int_t ngx_http_guichet_register_token(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_shown(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_account(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_register_consumed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_stored(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_register_linked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


static const ngx_http_guichet_ticket_kind_t  ngx_http_guichet_register_ticket
    = {
    NGX_HTTP_GUICHET_COOKIE_REGISTER, "register",
    NGX_HTTP_GUICHET_REGISTER_AGE, "register",
    "Too many registration links were tried from here.",
    "This registration link has expired or was already used. Ask the "
    "organisation that invited you for a new one, or sign in if you "
    "already set your password.",
    "register",
    "This form has expired or was not sent by this site. Please open the "
    "link of your invitation again.",
    ac_cmd_regtok_get, NULL
};


static const char  ngx_http_guichet_register_policy[] =
    "Choose a password of at least 8 characters (at most 1024 bytes).";


static ngx_http_guichet_register_t *
ngx_http_guichet_register_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_register_t  *rg;

    rg = ngx_http_guichet_ep_data(r, ctx,
                                  sizeof(ngx_http_guichet_register_t),
                                  ngx_http_guichet_register_cleanup);
    if (rg) {
        rg->tk.kind = &ngx_http_guichet_register_ticket;
        rg->tk.secret = rg->password;
        rg->tk.secret_size = sizeof(rg->password);
    }

    return rg;
}


static void
ngx_http_guichet_register_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_register_t));
}


void
ngx_http_guichet_register_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_register_t  *rg;

    rg = ngx_http_guichet_register_data(r, ctx);
    if (rg == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (r->args.len != 0) {
        ngx_http_guichet_ticket_link(r, ctx);
        return;
    }

    ngx_http_guichet_ticket_cookie(r, ctx);

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 1) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ticket_lookup(r, ctx,
                                   ngx_http_guichet_register_shown);
}


void
ngx_http_guichet_register_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_register_t  *rg;

    rg = ngx_http_guichet_register_data(r, ctx);
    if (rg == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ticket_form(r, ctx) != NGX_OK) {
        return;
    }

    /* a password too long for the buffer is refused as too long */
    if (ngx_http_guichet_ep_field(ctx, "password", rg->password,
                                  sizeof(rg->password), &rg->password_len)
        != NGX_OK)
    {
        rg->password_len = 0;
        rg->password[0] = '\0';
    }

    ngx_http_guichet_ticket_lookup(r, ctx,
                                   ngx_http_guichet_register_checked);
}


static ngx_int_t
ngx_http_guichet_register_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_http_guichet_register_t  *rg;

    rg = ctx->route_data;

    ngx_http_guichet_ep_page(ctx, status, "register.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->csrf_cookie,
                                     rg->tk.kind->form)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "email", rg->regtok.email);
    ngx_http_guichet_ep_var(ctx, "error", error);

    return NGX_OK;
}


/* NGX_OK with rg->regtok, or NGX_DONE after answering */
static ngx_int_t
ngx_http_guichet_register_token(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    int                            arc;
    ngx_http_guichet_register_t   *rg;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return NGX_DONE;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rg = ctx->route_data;

    arc = ac_regtok_parse(reply, gmcf->keys, &rg->regtok);

    if (arc == AC_OK) {
        return NGX_OK;
    }

    if (arc == AC_ERR_REDIS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed registration token record");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_DONE;
    }

    ngx_http_guichet_ticket_gone(r, ctx);

    return NGX_DONE;
}


static void
ngx_http_guichet_register_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_register_token(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    if (ngx_http_guichet_register_page(r, ctx, NGX_HTTP_OK, NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_register_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_register_t   *rg;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_register_token(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rg = ctx->route_data;

    if (ac_password_policy(rg->password, rg->password_len) != AC_OK) {
        ac_cleanse(rg->password, sizeof(rg->password));

        if (ngx_http_guichet_register_page(r, ctx, NGX_HTTP_BAD_REQUEST,
                                           ngx_http_guichet_register_policy)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_cmd_account_by_email(&rg->cmd, gmcf->ac, gmcf->keys,
                                rg->regtok.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rg->cmd,
                                     ngx_http_guichet_register_account);
}


static void
ngx_http_guichet_register_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                           arc;
    ngx_http_guichet_register_t  *rg;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    rg = ctx->route_data;

    arc = ac_account_parse(reply, NULL, &rg->account);

    if (arc == AC_OK) {
        if (rg->account.pw[0] != '\0'
            || rg->account.status != AC_STATUS_ACTIVE)
        {
            /* a password is only set here once: the link stays unused */
            ac_cleanse(rg->password, sizeof(rg->password));
            ngx_http_guichet_ep_error(ctx, NGX_HTTP_CONFLICT,
                                      "Account already set up",
                                      "An account with a password already "
                                      "exists for this address. Please "
                                      "sign in with it.");
            ngx_http_guichet_ep_finish(r, ctx);
            return;
        }

        rg->exists = 1;

    } else if (arc != AC_ERR_NOT_FOUND) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed account record: %s",
                      ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_ep_hash(r, ctx, rg->password, sizeof(rg->password),
                             rg->password_len, rg->phc,
                             ngx_http_guichet_register_hashed);
}


static void
ngx_http_guichet_register_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_register_t   *rg;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rg = ctx->route_data;

    /* single use: whoever consumes it first registers */
    if (ac_cmd_regtok_consume(&rg->cmd, gmcf->ac, gmcf->keys, rg->tk.token,
                              rg->tk.token_len)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rg->cmd,
                                     ngx_http_guichet_register_consumed);
}


static void
ngx_http_guichet_register_consumed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_register_t   *rg;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_register_token(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rg = ctx->route_data;

    if (rg->exists) {
        if (ac_cmd_account_set(&rg->cmd, gmcf->ac, rg->account.id, "pw",
                               rg->phc)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else {
        ngx_memzero(&rg->account, sizeof(ac_account_t));

        if (ac_account_id_new(rg->account.id) != AC_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(rg->account.email, rg->regtok.email,
                   ngx_strlen(rg->regtok.email) + 1);
        ngx_memcpy(rg->account.pw, rg->phc, AC_PHC_MAX);
        rg->account.roles = AC_ROLE_USER;
        rg->account.status = AC_STATUS_ACTIVE;
        rg->account.created = ctx->now;
        rg->account.pw_changed = ctx->now;

        if (ac_cmd_account_create(&rg->cmd, gmcf->ac, gmcf->keys,
                                  &rg->account)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    /* the command points into rg: the hash is wiped once it is sent */
    (void) ngx_http_guichet_ep_redis(r, ctx, &rg->cmd,
                                     ngx_http_guichet_register_stored);
}


static void
ngx_http_guichet_register_stored(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        n;
    ngx_http_guichet_register_t   *rg;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rg = ctx->route_data;

    ac_cleanse(rg->phc, sizeof(rg->phc));
    ac_cleanse(rg->account.pw, sizeof(rg->account.pw));

    if (!rg->exists
        && (ac_reply_integer(reply, &n) != AC_OK || n != 1))
    {
        /* the address got an account in between (an SSO): sign in */
        (void) ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_REGISTER,
                                          "", 0);
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_CONFLICT,
                                  "Account already set up",
                                  "An account already exists for this "
                                  "address. Please sign in.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ngx_http_guichet_ep_account(ctx, rg->account.id, rg->account.email);
    ngx_memcpy(ctx->partner, rg->regtok.partner,
               ngx_strlen(rg->regtok.partner) + 1);

    if (ac_cmd_partner_link(&rg->cmd, gmcf->ac, rg->account.id,
                            rg->regtok.partner, ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rg->cmd,
                                     ngx_http_guichet_register_linked);
}


static void
ngx_http_guichet_register_linked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    u_char                       *p;
    ngx_http_guichet_register_t  *rg;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    rg = ctx->route_data;

    p = ngx_http_guichet_ep_url(r, ctx, "login?registered=1");

    /* the link is used up: so is its cookie */
    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_REGISTER,
                                          "", 0)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    if (rg->exists) {
        ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSWORD_CHANGED,
                                "registration", 1);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_ACCOUNT_CREATED, "registration",
                            1);
}
