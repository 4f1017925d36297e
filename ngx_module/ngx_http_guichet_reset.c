/*
 * Guichet nginx module: "forgot password" (SPEC 10).
 *
 *   GET/POST /guichet/reset          the request form: the same 200 page
 *                                    and the same work for any address,
 *                                    throttled per address and per IP;
 *   GET /guichet/reset/confirm?token the mailed link: its token is
 *                                    traded for a fresh one kept in a
 *                                    short-lived cookie, then 303 to the
 *                                    bare URL, so that the link's token
 *                                    (in access logs, histories) is dead;
 *   GET/POST /guichet/reset/confirm  the new password, plus the second
 *                                    factor or a recovery code when the
 *                                    account has one. Success ends every
 *                                    session, logs password.reset and
 *                                    mails a notice. Used or expired: 410.
 *
 * Every look at a token is counted before it is made (thr:tk and the
 * address), second-factor codes on the account's thr:2f counter.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_ticket.h"
#include "ngx_http_guichet_passkey.h"


typedef struct {
    ngx_http_guichet_ticket_t  tk;     /* first: see ticket.h */
    char                 password[AC_PASSWORD_MAX + 1];
    size_t               password_len;
    char                 code[AC_RECOVERY_CODE_LEN + 8];
    size_t               code_len;
    char                 phc[AC_PHC_MAX];
    char                 norm[AC_EMAIL_MAX + 1];
    const char          *method;
    ac_account_t         account;
    ac_mail_t            mail;
    char                 binding[AC_DIGEST_LEN + 1];  /* of passkeys */
    ac_throttle_t        throttle;   /* a request's, a second factor's */
    ac_cmd_t             cmd;
} ngx_http_guichet_reset_t;


static ngx_http_guichet_reset_t *ngx_http_guichet_reset_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_reset_cleanup(void *data);
static ngx_int_t ngx_http_guichet_reset_off(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_reset_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error,
    const char *sent, const char *done);
static ngx_int_t ngx_http_guichet_reset_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route, const char *token,
    char *out, size_t size);
static void ngx_http_guichet_reset_mailfill(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_t *m, ac_mail_kind_t kind);
static void ngx_http_guichet_reset_asked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_queued(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_reset_account(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_reset_form(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);
static void ngx_http_guichet_reset_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_reset_binding(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_reset_opt_account(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_opt_listed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_pk_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);
static void ngx_http_guichet_reset_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_counted(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_claimed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_bad_code(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);
static void ngx_http_guichet_reset_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_reset_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_reset_finished(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reset_ended(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);


static const ngx_http_guichet_ticket_kind_t  ngx_http_guichet_reset_ticket = {
    NGX_HTTP_GUICHET_COOKIE_RESET, "reset/confirm", 0, "reset_link",
    "Too many reset links were tried from here. Please wait before "
    "trying again.",
    "This reset link has expired or was already used. You may ask for a "
    "new one.",
    "reset_confirm",
    "This form has expired or was not sent by this site. Please open the "
    "link of your mail again.",
    ac_cmd_reset_get, ac_cmd_reset_exchange
};


static ngx_http_guichet_reset_t *
ngx_http_guichet_reset_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t  *rs;

    rs = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_reset_t),
                                  ngx_http_guichet_reset_cleanup);
    if (rs) {
        rs->tk.kind = &ngx_http_guichet_reset_ticket;
        rs->tk.secret = rs->password;
        rs->tk.secret_size = sizeof(rs->password);
    }

    return rs;
}


static void
ngx_http_guichet_reset_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_reset_t));
}


/* without public_url no link can be made: the page is not there */
static ngx_int_t
ngx_http_guichet_reset_off(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url != NULL) {
        return NGX_DECLINED;
    }

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not available",
                              "Passwords cannot be reset by mail here. "
                              "Please ask the people who run this "
                              "service.");
    ngx_http_guichet_ep_finish(r, ctx);

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_reset_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error,
    const char *sent, const char *done)
{
    ngx_http_guichet_ep_page(ctx, status, "reset.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->csrf_cookie, "reset")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "sent", sent);
    ngx_http_guichet_ep_var(ctx, "done", done);

    return NGX_OK;
}


/* public_url + base + route [+ "?token=" token] */
static ngx_int_t
ngx_http_guichet_reset_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route, const char *token,
    char *out, size_t size)
{
    u_char                        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_snprintf((u_char *) out, size - 1, "%s%V%s%s%s",
                     gmcf->ac->public_url, &ctx->base, route,
                     token ? "?token=" : "", token ? token : "");
    *p = '\0';

    return ((size_t) (p - (u_char *) out) < size - 1) ? NGX_OK : NGX_ERROR;
}


/* what every message of a request says: when, from where */
static void
ngx_http_guichet_reset_mailfill(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_t *m, ac_mail_kind_t kind)
{
    size_t  len;

    ngx_memzero(m, sizeof(ac_mail_t));
    m->kind = kind;
    m->when = ctx->now;

    len = ngx_min(r->connection->addr_text.len, sizeof(m->ip) - 1);
    ngx_memcpy(m->ip, r->connection->addr_text.data, len);

    if (r->headers_in.user_agent) {
        (void) ac_device_label((char *) r->headers_in.user_agent->value.data,
                               r->headers_in.user_agent->value.len,
                               m->device, sizeof(m->device));
    }

    (void) ngx_http_guichet_reset_link(r, ctx, "reset", NULL, m->help,
                                       sizeof(m->help));
}


/* ------------------------------------------------------------ request */

void
ngx_http_guichet_reset_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_reset_off(r, ctx) == NGX_OK) {
        return;
    }

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 1) != NGX_OK
        || ngx_http_guichet_reset_page(r, ctx, NGX_HTTP_OK, NULL, NULL, NULL)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_reset_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    char                           ident[6 + AC_EMAIL_MAX + 1];
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_reset_off(r, ctx) == NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    rs = ngx_http_guichet_reset_data(r, ctx);
    if (rs == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 0) != NGX_OK
        || ngx_http_guichet_ep_csrf_check(r, ctx, ctx->csrf_cookie, "reset")
           != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or was not sent "
                                  "by this site. Please open it again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "email", ctx->email,
                                     sizeof(ctx->email), &ctx->email_len);

    if (ac_email_normalize(ctx->email, ctx->email_len, rs->norm) != AC_OK) {
        /* cannot be anybody's: nothing is looked up, nothing sent */
        if (ngx_http_guichet_reset_page(r, ctx, NGX_HTTP_BAD_REQUEST,
                                        "Please enter a valid email "
                                        "address.", NULL, NULL)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* counted before anything is looked up: the address and the IP */
    ngx_memzero(&rs->throttle, sizeof(ac_throttle_t));

    len = ngx_strlen(rs->norm);
    ngx_memcpy(ident, "reset:", 6);
    ngx_memcpy(ident + 6, rs->norm, len);

    if (ac_throttle_add(gmcf->ac, gmcf->keys, &rs->throttle, AC_THR_TOKEN,
                        ident, 6 + len)
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &rs->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&rs->cmd, gmcf->ac, &rs->throttle,
                                   ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_asked);
}


static void
ngx_http_guichet_reset_asked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        wait;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (wait > 0) {
        if (ngx_http_guichet_reset_page(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                        "Too many requests. Please wait "
                                        "before asking again.", NULL, NULL)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "reset", 0);
        return;
    }

    /* a token and a message for every address: the same work for all,
     * the script keeps them only for a live account */
    ngx_http_guichet_reset_mailfill(r, ctx, &rs->mail, AC_MAIL_RESET);
    rs->mail.expires = ctx->now + gmcf->ac->reset_token_ttl;

    if (ac_token_new(token) != AC_OK
        || ngx_http_guichet_reset_link(r, ctx, "reset/confirm", token,
                                       rs->mail.link, sizeof(rs->mail.link))
           != NGX_OK
        || ac_cmd_reset_request(&rs->cmd, gmcf->ac, gmcf->keys, rs->norm,
                                token, &rs->mail)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_cleanse(token, sizeof(token));

    /* the link is copied by hiredis as the command is sent */
    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_queued);
    ac_cleanse(rs->mail.link, sizeof(rs->mail.link));
}


static void
ngx_http_guichet_reset_queued(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                        arc;
    const char                *reason;
    char                       id[AC_ID_LEN + 1];
    ngx_http_guichet_reset_t  *rs;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    rs = ctx->route_data;

    arc = ac_reset_request_reply(reply, id, &reason);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* one page whatever the address */
    if (ngx_http_guichet_reset_page(r, ctx, NGX_HTTP_OK, NULL, "1", NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_var(ctx, "email", ctx->email);

    if (id[0] != '\0') {
        ngx_http_guichet_ep_account(ctx, id, rs->norm);
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSWORD_RESET_REQUESTED,
                            arc == AC_OK ? "mail" : reason, id[0] != '\0');
}


/* ------------------------------------------------------------ confirm */

void
ngx_http_guichet_reset_confirm_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t  *rs;

    if (ngx_http_guichet_reset_off(r, ctx) == NGX_OK) {
        return;
    }

    rs = ngx_http_guichet_reset_data(r, ctx);
    if (rs == NULL
        || ngx_http_guichet_ep_csrf_cookie(r, ctx, 1) != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (r->args.len != 0) {
        ngx_http_guichet_ticket_link(r, ctx);
        return;
    }

    ngx_http_guichet_ticket_cookie(r, ctx);
    ngx_http_guichet_ticket_lookup(r, ctx, ngx_http_guichet_reset_shown);
}


void
ngx_http_guichet_reset_confirm_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t  *rs;

    if (ngx_http_guichet_reset_off(r, ctx) == NGX_OK) {
        return;
    }

    rs = ngx_http_guichet_reset_data(r, ctx);
    if (rs == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ticket_form(r, ctx) != NGX_OK) {
        return;
    }

    if (ngx_http_guichet_reset_binding(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the second factor: a passkey's answer, or a code */
    switch (ngx_http_guichet_pka_read(r, ctx)) {

    case NGX_DECLINED:
        ctx->passkey = NULL;

        if (ngx_http_guichet_ep_field(ctx, "code", rs->code,
                                      sizeof(rs->code), &rs->code_len)
            != NGX_OK)
        {
            rs->code_len = 0;
            rs->code[0] = '\0';
        }

        break;

    case NGX_OK:
        break;

    default:
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "password", rs->password,
                                  sizeof(rs->password), &rs->password_len)
        != NGX_OK)
    {
        rs->password_len = 0;
        rs->password[0] = '\0';
    }

    ngx_http_guichet_ticket_lookup(r, ctx, ngx_http_guichet_reset_checked);
}


/* a passkey's challenge is bound to this browser's form: its CSRF cookie */
static ngx_int_t
ngx_http_guichet_reset_binding(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    return ac_digest(gmcf->keys, AC_PURPOSE_CSRF, ctx->csrf_cookie,
                     ngx_strlen(ctx->csrf_cookie), rs->binding)
           == AC_OK ? NGX_OK : NGX_ERROR;
}


/*
 * POST reset/confirm/options: the options of navigator.credentials.get
 * for the account of this browser's link, its passkeys allowed (JSON).
 */
void
ngx_http_guichet_reset_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url == NULL || gmcf->ac->webauthn_rp_id == NULL) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_NOT_FOUND, "disabled",
                                       "Passkeys are not offered here.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_reset_data(r, ctx) == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ticket_form(r, ctx) != NGX_OK) {
        return;
    }

    if (ngx_http_guichet_reset_binding(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ticket_lookup(r, ctx,
                                   ngx_http_guichet_reset_opt_account);
}


static void
ngx_http_guichet_reset_opt_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_reset_account(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (ac_cmd_passkey_list(&rs->cmd, gmcf->ac, rs->account.id) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_opt_listed);
}


static void
ngx_http_guichet_reset_opt_listed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_reset_t  *rs;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    rs = ctx->route_data;

    ngx_http_guichet_pka_offer(r, ctx, reply, "reset", rs->binding, 0);
}


/* NGX_OK with rs->account, or NGX_DONE after answering */
static ngx_int_t
ngx_http_guichet_reset_account(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    int                        arc;
    ngx_http_guichet_reset_t  *rs;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return NGX_DONE;
    }

    rs = ctx->route_data;

    arc = ac_reset_parse(reply, &rs->account);

    if (arc == AC_ERR_REDIS) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed reset token record");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_DONE;
    }

    /* locked or restricted since the mail: no reset either */
    if (arc != AC_OK || rs->account.status != AC_STATUS_ACTIVE
        || rs->account.restricted)
    {
        ngx_http_guichet_ticket_gone(r, ctx);
        return NGX_DONE;
    }

    ngx_http_guichet_ep_account(ctx, rs->account.id, rs->account.email);

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_reset_form(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error)
{
    ngx_http_guichet_reset_t  *rs;

    rs = ctx->route_data;

    ac_cleanse(rs->password, sizeof(rs->password));
    ac_cleanse(rs->code, sizeof(rs->code));

    ngx_http_guichet_ep_page(ctx, status, "reset_confirm.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->csrf_cookie,
                                     rs->tk.kind->form)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "email", rs->account.email);
    ngx_http_guichet_ep_var(ctx, "totp",
                            rs->account.totp[0] ? "1" : NULL);
    ngx_http_guichet_ep_var(ctx, "passkey",
                            rs->account.passkeys > 0 ? "1" : NULL);
    /* the form with a code, or with nothing more to give */
    ngx_http_guichet_ep_var(ctx, "code",
                            (rs->account.totp[0]
                             || rs->account.passkeys == 0) ? "1" : NULL);

    return NGX_OK;
}


static void
ngx_http_guichet_reset_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_reset_account(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_OK, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_reset_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_reset_account(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (ac_password_policy(rs->password, rs->password_len) != AC_OK) {
        if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_BAD_REQUEST,
                                        "Choose a password of at least 8 "
                                        "characters (at most 1024 bytes).")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    rs->method = "mail";

    if (!AC_ACCOUNT_SECOND(&rs->account)) {
        ngx_http_guichet_reset_hash(r, ctx);
        return;
    }

    if (ctx->passkey == NULL && rs->account.totp[0] == '\0') {
        /* the second factor is a passkey: the link alone is not it */
        if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                        "Confirm with your passkey: it is "
                                        "your account's second step.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* the second factor, counted on the account before it is checked */
    ngx_memzero(&rs->throttle, sizeof(ac_throttle_t));

    if (ac_throttle_add(gmcf->ac, gmcf->keys, &rs->throttle, AC_THR_SECOND,
                        rs->account.id, ngx_strlen(rs->account.id))
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &rs->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&rs->cmd, gmcf->ac, &rs->throttle,
                                   ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_counted);
}


static void
ngx_http_guichet_reset_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    int64_t                        wait, step;
    char                           digest[AC_DIGEST_LEN + 1];
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (wait > 0) {
        if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                        "Too many wrong codes. Please wait "
                                        "before trying again.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "2fa", 1);
        return;
    }

    if (ctx->passkey != NULL) {
        /* bound to this browser's form; among the account's passkeys */
        ngx_http_guichet_pka_check(r, ctx, "reset", rs->binding,
                                   rs->account.id, 0,
                                   ngx_http_guichet_reset_pk_done);
        return;
    }

    if (ac_totp_code_shape(rs->code, rs->code_len)) {
        arc = ac_account_totp_check(gmcf->keys, &rs->account, rs->code,
                                    rs->code_len, (time_t) ctx->now, &step);
        if (arc == AC_ERR_KEY) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "guichet: TOTP secret of account %s unusable",
                          rs->account.id);
            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

        if (arc != AC_OK) {
            ngx_http_guichet_reset_bad_code(r, ctx,
                                            arc == AC_ERR_REPLAY
                                            ? "replay" : "bad_code");
            return;
        }

        rs->method = "totp";

        if (ac_cmd_totp_step(&rs->cmd, gmcf->ac, rs->account.id, step)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else {
        if (ac_recovery_digest(gmcf->keys, rs->code, rs->code_len, digest)
            != AC_OK)
        {
            ngx_http_guichet_reset_bad_code(r, ctx, "bad_code");
            return;
        }

        rs->method = "recovery";

        if (ac_cmd_recovery_use(&rs->cmd, gmcf->ac, rs->account.id, digest)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_claimed);
}


/* a TOTP step or a recovery code, taken once */
static void
ngx_http_guichet_reset_claimed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        v;
    ac_cmd_t                       cmd;
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        ngx_http_guichet_reset_bad_code(r, ctx,
                                        ngx_strcmp(rs->method, "totp") == 0
                                        ? "replay" : "bad_code");
        return;
    }

    /* only a correct second factor forgets the account's failures */
    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &rs->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    ngx_http_guichet_reset_hash(r, ctx);
}


static void
ngx_http_guichet_reset_pk_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (reason == NULL) {
        if (ac_cmd_throttle_release(&cmd, gmcf->ac, &rs->throttle)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }

        rs->method = "passkey";
        ngx_http_guichet_reset_hash(r, ctx);
        return;
    }

    if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                    "That passkey was not accepted. Please "
                                    "try again.")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSKEY_FAILURE, reason, 1);
}


static void
ngx_http_guichet_reset_bad_code(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    if (ngx_http_guichet_reset_form(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                    ngx_strcmp(reason, "replay") == 0
                                    ? ngx_http_guichet_code_used
                                    : "That code is not valid. Please try "
                                      "again.")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE,
                            ngx_strcmp(reason, "replay") == 0
                            ? "reset_replay" : "reset_bad_code", 1);
}


static void
ngx_http_guichet_reset_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t  *rs;

    rs = ctx->route_data;

    ngx_http_guichet_ep_hash(r, ctx, rs->password, sizeof(rs->password),
                             rs->password_len, rs->phc,
                             ngx_http_guichet_reset_hashed);
}


static void
ngx_http_guichet_reset_hashed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    /* single use: the token goes with the new password, in one step */
    if (ac_cmd_reset_finish(&rs->cmd, gmcf->ac, gmcf->keys, rs->tk.token,
                            rs->tk.token_len, rs->account.id, rs->phc,
                            ctx->now)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_finished);
    ac_cleanse(rs->phc, sizeof(rs->phc));
}


static void
ngx_http_guichet_reset_finished(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        v;
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (ac_reply_integer(reply, &v) != AC_OK || v != 1) {
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    /* every session ends, pending second factors with them */
    if (ac_cmd_sessions_end_all(&rs->cmd, gmcf->ac, rs->account.id)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &rs->cmd,
                                     ngx_http_guichet_reset_ended);
}


static void
ngx_http_guichet_reset_ended(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_reset_t      *rs;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    rs = ctx->route_data;

    if (gmcf->ac->notify & AC_NOTIFY_PASSWORD) {
        ngx_http_guichet_reset_mailfill(r, ctx, &rs->mail,
                                        AC_MAIL_PASSWORD);
        ngx_cpystrn((u_char *) rs->mail.to, (u_char *) rs->account.email,
                    sizeof(rs->mail.to));
        ngx_cpystrn((u_char *) rs->mail.account, (u_char *) rs->account.id,
                    sizeof(rs->mail.account));
        ngx_cpystrn((u_char *) rs->mail.detail,
                    (u_char *) "reset through a link sent by mail",
                    sizeof(rs->mail.detail));

        if (ac_cmd_mail_enqueue(&cmd, gmcf->ac, &rs->mail) == AC_OK) {
            ngx_http_guichet_ep_detached(r, &cmd);
        }
    }

    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_RESET,
                                       "", 0)
        != NGX_OK
        || ngx_http_guichet_reset_page(r, ctx, NGX_HTTP_OK, NULL, NULL, "1")
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_PASSWORD_RESET, rs->method, 1);
}
