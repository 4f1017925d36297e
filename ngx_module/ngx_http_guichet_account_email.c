/*
 * Guichet nginx module: changing the address of an account (SPEC 10).
 *
 *   POST /guichet/account/email          from the account page, after the
 *                                        identity check: a confirmation
 *                                        link to the new address, a
 *                                        notice to the old one; the same
 *                                        answer when the new address has
 *                                        an account; throttled per
 *                                        account and per IP;
 *   GET /guichet/account/email/confirm?token
 *                                        the mailed link: its token is
 *                                        traded for a fresh one kept in a
 *                                        short-lived cookie, then 303 to
 *                                        the bare URL;
 *   GET /guichet/account/email/confirm   with that cookie: a page that
 *                                        shows the new address and asks;
 *   POST /guichet/account/email/confirm  its form (CSRF-bound to that
 *                                        browser): the change takes effect
 *                                        (email index, the account, its
 *                                        sessions), logged email.changed.
 *                                        Used or expired: 410.
 *
 * The token is single use and only its keyed digest is stored
 * (authcore's "emailchg:" keys); every look at one is counted first.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"
#include "ngx_http_guichet_ticket.h"


typedef struct {
    ngx_http_guichet_ticket_t  tk;     /* first: see ticket.h */
    char                 account[AC_ID_LEN + 1];
    char                 old_email[AC_EMAIL_MAX + 1];
    char                 new_email[AC_EMAIL_MAX + 1];
    ac_cmd_t             cmd;
} ngx_http_guichet_email_t;


static const ngx_http_guichet_ticket_kind_t  ngx_http_guichet_email_ticket = {
    NGX_HTTP_GUICHET_COOKIE_EMAIL, "account/email/confirm", 0, "email_link",
    "Too many confirmation links were tried from here. Please wait before "
    "trying again.",
    "This confirmation link has expired or was already used. You may ask "
    "for a new one from your account page.",
    "email_confirm",
    "This form has expired or was not sent by this site. Please open the "
    "link of your mail again.",
    ac_cmd_email_change_get, ac_cmd_email_change_exchange
};


static ngx_int_t ngx_http_guichet_email_new(ngx_http_guichet_ep_ctx_t *ctx,
    char norm[AC_EMAIL_MAX + 1]);
static void ngx_http_guichet_email_reserved(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_asked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_cleanup(void *data);
static ngx_http_guichet_email_t *ngx_http_guichet_email_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_email_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_confirmed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_taken(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_email_renamed(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


/* ------------------------------------------------------------ request */

/* the one reading of the form's new address, normalised */
static ngx_int_t
ngx_http_guichet_email_new(ngx_http_guichet_ep_ctx_t *ctx,
    char norm[AC_EMAIL_MAX + 1])
{
    size_t  len;
    char    typed[AC_EMAIL_MAX + 1];

    if (ngx_http_guichet_ep_field(ctx, "email", typed, sizeof(typed), &len)
        != NGX_OK
        || ac_email_normalize(typed, len, norm) != AC_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_http_guichet_account_email(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    char                           norm[AC_EMAIL_MAX + 1];
    char                           ident[6 + AC_ID_LEN + 1];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url == NULL) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not available",
                                  "Addresses cannot be changed by mail "
                                  "here. Please ask the people who run "
                                  "this service.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_email_new(ctx, norm) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                                  "Address not changed",
                                  "Please enter a valid email address.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_strcmp(norm, a->account.email) == 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                                  "Address not changed",
                                  "This is already the address of your "
                                  "account.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* counted before anything is looked up: the account and the IP */
    ngx_memzero(&a->throttle, sizeof(ac_throttle_t));

    len = ngx_strlen(a->account.id);
    ngx_memcpy(ident, "email:", 6);
    ngx_memcpy(ident + 6, a->account.id, len);

    if (ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle, AC_THR_TOKEN,
                        ident, 6 + len)
        != AC_OK
        || ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle, AC_THR_IP,
                           (char *) r->connection->addr_text.data,
                           r->connection->addr_text.len)
           != AC_OK
        || ac_cmd_throttle_reserve(&a->cmds[0], gmcf->ac, &a->throttle,
                                   ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[0],
                                     ngx_http_guichet_email_reserved);
}


static void
ngx_http_guichet_email_reserved(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    int64_t                        wait;
    ac_mail_t                      mnew, mold;
    char                           norm[AC_EMAIL_MAX + 1];
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_wait_reply(r, ctx, reply, rc, &wait) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (wait > 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                  "Too many requests",
                                  "Too many address changes were asked. "
                                  "Please wait before asking again.");
        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "email_change", 1);
        return;
    }

    if (ngx_http_guichet_email_new(ctx, norm) != NGX_OK
        || ngx_http_guichet_mail_fill(r, ctx, &mnew, AC_MAIL_EMAIL_CONFIRM)
           != NGX_OK
        || ngx_http_guichet_mail_fill(r, ctx, &mold, AC_MAIL_EMAIL_CHANGE)
           != NGX_OK
        || ac_token_new(token) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* only what each text uses: both fit in one command */
    mnew.device[0] = '\0';
    mnew.help[0] = '\0';
    mold.link[0] = '\0';

    ngx_cpystrn((u_char *) mnew.to, (u_char *) norm, sizeof(mnew.to));
    ngx_cpystrn((u_char *) mnew.account, (u_char *) a->account.id,
                sizeof(mnew.account));
    mnew.expires = ctx->now + gmcf->ac->reset_token_ttl;
    *ngx_snprintf((u_char *) mnew.link, sizeof(mnew.link) - 1,
                  "%s%Vaccount/email/confirm?token=%s",
                  gmcf->ac->public_url, &ctx->base, token) = '\0';

    ngx_cpystrn((u_char *) mold.to, (u_char *) a->account.email,
                sizeof(mold.to));
    ngx_cpystrn((u_char *) mold.account, (u_char *) a->account.id,
                sizeof(mold.account));

    /* the new address is in the script's reply only: the same answer
     * whether it is free or another account's */
    arc = ac_cmd_email_change_request(&a->cmds[0], gmcf->ac, gmcf->keys,
                                      a->account.id, a->account.email, norm,
                                      token, &mnew,
                                      (gmcf->ac->notify & AC_NOTIFY_EMAIL)
                                      ? &mold : NULL);
    ac_cleanse(token, sizeof(token));

    if (arc != AC_OK) {
        ac_cleanse(&mnew, sizeof(mnew));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the command is formatted as it is sent: then the link goes */
    (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[0],
                                     ngx_http_guichet_email_asked);
    ac_cleanse(&mnew, sizeof(mnew));
    ac_cleanse(&mold, sizeof(mold));
}


static void
ngx_http_guichet_email_asked(ngx_http_request_t *r, void *data,
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

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_OK, "Check your mail",
                              "A confirmation link was sent to the new "
                              "address. Your account keeps its address "
                              "until you open it; a notice went to the "
                              "current one.");

    ngx_http_guichet_ep_account(ctx, a->account.id, a->account.email);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_EMAIL_CHANGE_REQUESTED,
                            v == 1 ? "mail" : "taken", 1);
}


/* ------------------------------------------------------------ confirm */

static ngx_http_guichet_email_t *
ngx_http_guichet_email_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_email_t  *em;

    em = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_email_t),
                                  ngx_http_guichet_email_cleanup);
    if (em) {
        em->tk.kind = &ngx_http_guichet_email_ticket;
    }

    return em;
}


/* the link, then the page that asks before anything changes */
void
ngx_http_guichet_account_email_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_email_data(r, ctx) == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (r->args.len != 0) {
        ngx_http_guichet_ticket_link(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_cookie(r, ctx, 1) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ticket_cookie(r, ctx);
    ngx_http_guichet_ticket_lookup(r, ctx, ngx_http_guichet_email_shown);
}


/*
 * The person's confirmation: the form of that page, with its token, in
 * the browser that opened the link. A link opened by a mail scanner, or
 * by a stranger whose address was mistyped, changes nothing by itself.
 */
void
ngx_http_guichet_account_email_confirm_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_email_data(r, ctx) == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_guichet_ticket_form(r, ctx) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ticket_lookup(r, ctx, ngx_http_guichet_email_confirmed);
}


static void
ngx_http_guichet_email_cleanup(void *data)
{
    ac_cleanse(data, sizeof(ngx_http_guichet_email_t));
}


/* NGX_OK with the change read (the token's counters then go), or
 * NGX_DONE once answered */
static ngx_int_t
ngx_http_guichet_email_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    int                        arc;
    ngx_http_guichet_email_t  *em;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return NGX_DONE;
    }

    em = ctx->route_data;

    arc = ac_email_change_parse(reply, em->account, em->old_email,
                                em->new_email);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_DONE;
    }

    if (arc != AC_OK) {
        ngx_http_guichet_ticket_gone(r, ctx);
        return NGX_DONE;
    }

    ngx_http_guichet_ticket_release(r, ctx);

    return NGX_OK;
}


/* the new address only: the link may have reached someone else */
static void
ngx_http_guichet_email_shown(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_email_t  *em;

    if (ngx_http_guichet_email_read(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    em = ctx->route_data;

    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "email_confirm.html");
    ngx_http_guichet_ep_var(ctx, "email", em->new_email);

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->csrf_cookie,
                                     em->tk.kind->form)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_email_confirmed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_email_t      *em;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_email_read(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    em = ctx->route_data;

    if (ac_cmd_email_change_take(&em->cmd, gmcf->ac, gmcf->keys,
                                 em->tk.token, em->tk.token_len)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &em->cmd,
                                     ngx_http_guichet_email_taken);
}


/* the token used up: the account renamed as guichetctl user rename does */
static void
ngx_http_guichet_email_taken(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_email_t      *em;
    ngx_http_guichet_main_conf_t  *gmcf;

    /* used meanwhile (a second confirmation at once): 410 */
    if (ngx_http_guichet_email_read(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    em = ctx->route_data;

    if (ac_cmd_account_rename(&em->cmd, gmcf->ac, gmcf->keys, em->account,
                              em->old_email, em->new_email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &em->cmd,
                                     ngx_http_guichet_email_renamed);
}


static void
ngx_http_guichet_email_renamed(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                        arc;
    ngx_http_guichet_email_t  *em;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    em = ctx->route_data;

    arc = ac_account_rename_reply(reply);
    if (arc == AC_ERR_REDIS) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (arc != AC_OK) {
        /* the address was taken, or the account changed, meanwhile */
        ngx_http_guichet_ticket_gone(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_EMAIL,
                                          "", 0);

    ngx_http_guichet_ep_error(ctx, NGX_HTTP_OK, "Address changed",
                              "Your account now uses this address: sign "
                              "in with it from now on.");

    ngx_http_guichet_ep_account(ctx, em->account, em->new_email);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_EMAIL_CHANGED, NULL, 1);
}
