/*
 * Guichet nginx module: the account self-service routes under
 * "account" (SPEC 1.1, 5, 8): what every route shares (the session, the
 * account page's one read, the checks, rendering), the page itself and
 * its sessions list. The proofs of identity and the password change are
 * in ngx_http_guichet_account_proof.c, TOTP and recovery codes in
 * ngx_http_guichet_account_totp.c, export and erasure in
 * ngx_http_guichet_account_data.c.
 *
 * Every route flagged NGX_HTTP_GUICHET_EP_SESSION in the route table
 * first reads the current session, then in one round trip the session's
 * own fields ("f": time of the last fresh proof, "k": pending TOTP
 * enrolment), the account, its recovery code count and its live
 * sessions; then the route's other flags are applied in one place
 * (acct_checks): the form's CSRF token, no change by a restricted
 * account (it may read and export only), a fresh proof within
 * reauth_window (export, erasure, second-factor or password changes);
 * only then is the route's handler called.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_account.h"


static void ngx_http_guichet_acct_cleanup(void *data);
static void ngx_http_guichet_acct_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_acct_loaded(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_acct_checks(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a);
static ngx_int_t ngx_http_guichet_acct_parse(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    redisReply *reply);
static void ngx_http_guichet_acct_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice);
static ngx_int_t ngx_http_guichet_sess_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value);
static void ngx_http_guichet_acct_seq_reply(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_acct_session_row(void *data, ngx_uint_t i,
    ngx_http_guichet_tpl_t *t);
static ngx_int_t ngx_http_guichet_acct_code_row(void *data, ngx_uint_t i,
    ngx_http_guichet_tpl_t *t);
static void ngx_http_guichet_revoke_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);


static const char  ngx_http_guichet_restricted[] =
    "Your account is restricted: you can read and export your data, but "
    "changes are turned off.";


/* ------------------------------------------------------------ common */

void
ngx_http_guichet_acct_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_acct_t),
                                 ngx_http_guichet_acct_cleanup);
    if (a == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_acct_session);
}


static void
ngx_http_guichet_acct_cleanup(void *data)
{
    ngx_http_guichet_acct_t *a = data;

    ac_cleanse(a, sizeof(ngx_http_guichet_acct_t));
}


static void
ngx_http_guichet_acct_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *url, *p;
    ngx_str_t                      uri;
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (!ctx->session_valid) {
        url = ngx_http_guichet_ep_url(r, ctx, "login?return_to=");
        if (url == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        uri = r->uri;
        p = ngx_pnalloc(r->pool, ngx_strlen(url) + 3 * uri.len + 1);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        url = ngx_cpymem(p, url, ngx_strlen(url));
        url = (u_char *) ngx_escape_uri(url, uri.data, uri.len,
                                        NGX_ESCAPE_URI_COMPONENT);
        *url = '\0';

        ngx_http_guichet_ep_redirect(ctx, (char *) p);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_account_page(&cmd, gmcf->ac, ctx->digest, ctx->account)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_acct_loaded);
}


static void
ngx_http_guichet_acct_loaded(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ngx_http_guichet_acct_parse(r, ctx, a, reply) != NGX_OK) {
        /* the account went away between the two reads */
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not found",
                                  "This account no longer exists.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ngx_http_guichet_ep_account(ctx, a->account.id, a->account.email);

    if (ngx_http_guichet_acct_checks(r, ctx, a) == NGX_OK) {
        ctx->route->handler(r, ctx);
    }
}


static ngx_int_t
ngx_http_guichet_acct_parse(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    redisReply *reply)
{
    size_t                          i, n;
    redisReply                     *l, **e;
    ngx_http_guichet_acct_session_t *s;
    ngx_http_guichet_main_conf_t   *gmcf;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING
        || reply->element[3]->type != REDIS_REPLY_INTEGER
        || reply->element[4]->type != REDIS_REPLY_ARRAY
        || reply->element[4]->elements % 5 != 0)
    {
        return NGX_ERROR;
    }

    if (ac_account_parse(reply->element[2], ctx->account, &a->account)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    a->fresh = 0;
    if (reply->element[0]->len) {
        a->fresh = ngx_atotm((u_char *) reply->element[0]->str,
                             reply->element[0]->len);
        if (a->fresh < 0) {
            a->fresh = 0;
        }
    }

    if (reply->element[1]->len < sizeof(a->pending)) {
        ngx_memcpy(a->pending, reply->element[1]->str,
                   reply->element[1]->len);
        a->pending[reply->element[1]->len] = '\0';
    }

    a->recovery_left = reply->element[3]->integer;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    l = reply->element[4];
    n = l->elements / 5;
    a->sessions = ngx_pcalloc(r->pool,
                      (n ? n : 1) * sizeof(ngx_http_guichet_acct_session_t));
    if (a->sessions == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        e = &l->element[i * 5];
        s = &a->sessions[a->nsessions];

        if (e[0]->type != REDIS_REPLY_STRING || e[0]->len != AC_DIGEST_LEN
            || e[1]->type != REDIS_REPLY_STRING
            || e[2]->type != REDIS_REPLY_STRING
            || e[3]->type != REDIS_REPLY_STRING
            || e[4]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        ngx_memcpy(s->digest, e[0]->str, AC_DIGEST_LEN);

        /* what the page shows instead of the digest: a keyed digest of it */
        if (ac_digest(gmcf->keys, AC_PURPOSE_SESSION, e[0]->str,
                      e[0]->len, s->handle)
            != AC_OK)
        {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) s->device, (u_char *) e[1]->str,
                    ngx_min(e[1]->len, AC_DEVICE_MAX) + 1);
        ngx_cpystrn((u_char *) s->ip, (u_char *) e[2]->str,
                    ngx_min(e[2]->len, AC_IP_MAX - 1) + 1);
        s->created = ngx_atotm((u_char *) e[3]->str, e[3]->len);
        s->last_seen = ngx_atotm((u_char *) e[4]->str, e[4]->len);
        a->nsessions++;
    }

    return NGX_OK;
}


/*
 * The route's flags: NGX_OK when it may go on; otherwise the answer is
 * set and sent: 403 for a form without its token or a change by a
 * restricted account, 303 to the re-authentication page without a fresh
 * proof (coming back to the page asked for, or to the account page after
 * a form).
 */

static ngx_int_t
ngx_http_guichet_acct_checks(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a)
{
    u_char                        *url, *p;
    size_t                         len;
    ngx_uint_t                     flags;
    ngx_http_guichet_main_conf_t  *gmcf;

    flags = ctx->route->flags;

    if ((flags & NGX_HTTP_GUICHET_EP_CSRF)
        && ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "account")
           != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or did not come "
                                  "from this site. Go back, reload the page "
                                  "and try again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return NGX_DECLINED;
    }

    if ((flags & NGX_HTTP_GUICHET_EP_CHANGE) && a->account.restricted) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Not allowed",
                                  ngx_http_guichet_restricted);
        ngx_http_guichet_ep_finish(r, ctx);
        return NGX_DECLINED;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (!(flags & NGX_HTTP_GUICHET_EP_FRESH)
        || (a->fresh && a->fresh <= ctx->now
            && ctx->now - a->fresh <= gmcf->ac->reauth_window))
    {
        return NGX_OK;
    }

    /* route names are C string literals */
    url = ngx_http_guichet_ep_url(r, ctx, ctx->post
                                          ? "account"
                                          : (char *) ctx->route->name.data);
    if (url == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DECLINED;
    }

    len = ngx_strlen(url);
    p = ngx_pnalloc(r->pool, ctx->base.len + sizeof("account/reauth?"
                             "return_to=") + 3 * len);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DECLINED;
    }

    *ngx_sprintf(p, "%Vaccount/reauth?return_to=", &ctx->base) = '\0';
    *(u_char *) ngx_escape_uri(p + ngx_strlen(p), url, len,
                               NGX_ESCAPE_URI_COMPONENT) = '\0';

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
    ngx_http_guichet_ep_finish(r, ctx);

    return NGX_DECLINED;
}


typedef struct {
    ngx_http_guichet_ep_ctx_t   *ctx;
    ngx_http_guichet_acct_t     *acct;
    char                         when[128];
    char                         label[AC_DEVICE_MAX + 1];
} ngx_http_guichet_acct_rowdata_t;


static ngx_int_t
ngx_http_guichet_acct_session_row(void *data, ngx_uint_t i,
    ngx_http_guichet_tpl_t *t)
{
    ngx_http_guichet_acct_rowdata_t *d = data;

    u_char                          *p;
    ngx_tm_t                         c, l;
    ngx_http_guichet_acct_session_t *s;

    s = &d->acct->sessions[i];

    ngx_gmtime((time_t) s->created, &c);
    ngx_gmtime((time_t) s->last_seen, &l);

    p = ngx_snprintf((u_char *) d->when, sizeof(d->when) - 1,
                     "signed in %4d-%02d-%02d %02d:%02d UTC, last active "
                     "%4d-%02d-%02d %02d:%02d UTC",
                     c.ngx_tm_year, c.ngx_tm_mon, c.ngx_tm_mday,
                     c.ngx_tm_hour, c.ngx_tm_min, l.ngx_tm_year,
                     l.ngx_tm_mon, l.ngx_tm_mday, l.ngx_tm_hour,
                     l.ngx_tm_min);
    *p = '\0';

    /* older sessions kept the first bytes of the agent: named here */
    (void) ac_device_label(s->device, ngx_strlen(s->device), d->label,
                           sizeof(d->label));

    ngx_http_guichet_tpl_str(t, "device", d->label);
    ngx_http_guichet_tpl_str(t, "ip", s->ip);
    ngx_http_guichet_tpl_str(t, "when", d->when);
    ngx_http_guichet_tpl_str(t, "current",
                             ngx_strcmp(s->digest, d->ctx->digest) == 0
                             ? "1" : NULL);
    ngx_http_guichet_tpl_str(t, "handle", s->handle);
    ngx_http_guichet_tpl_str(t, "agent", s->device[0] ? s->device : NULL);

    return NGX_OK;
}


static void
ngx_http_guichet_acct_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice)
{
    ngx_tm_t                         tm;
    ngx_http_guichet_tpl_t           t;
    ngx_http_guichet_main_conf_t    *gmcf;
    ngx_http_guichet_acct_rowdata_t  d;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_csrf_token(gmcf->keys, ctx->digest, "account", (time_t) ctx->now,
                      a->csrf) != AC_OK
        || ac_csrf_token(gmcf->keys, ctx->digest, "logout",
                         (time_t) ctx->now, a->csrf_logout) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_sprintf((u_char *) a->num, "%L", a->recovery_left) = '\0';

    if (notice == NULL && a->account.restricted) {
        notice = ngx_http_guichet_restricted;
    }

    if (ngx_http_guichet_tpl_get(r, ctx, "account.html", &t) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_tpl_str(&t, "email", a->account.email);
    ngx_http_guichet_tpl_str(&t, "notice", notice);
    ngx_http_guichet_tpl_str(&t, "totp", a->account.totp[0] ? "1" : NULL);
    ngx_http_guichet_tpl_str(&t, "passkeys",
                             a->account.passkeys > 0 ? "1" : NULL);
    ngx_http_guichet_tpl_str(&t, "recovery_left", a->num);
    ngx_http_guichet_tpl_str(&t, "csrf", a->csrf);
    ngx_http_guichet_tpl_str(&t, "csrf_logout", a->csrf_logout);
    ngx_http_guichet_tpl_str(&t, "download", a->download ? "1" : NULL);

    if (a->account.last_login > 0) {
        ngx_gmtime((time_t) a->account.last_login, &tm);
        *ngx_snprintf((u_char *) a->last_login, sizeof(a->last_login) - 1,
                      "%4d-%02d-%02d %02d:%02d UTC", tm.ngx_tm_year,
                      tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                      tm.ngx_tm_min) = '\0';
        ngx_http_guichet_tpl_str(&t, "last_login", a->last_login);
    }

    /* "sign out everywhere else" only when there is somewhere else */
    ngx_http_guichet_tpl_str(&t, "others", a->nsessions > 1 ? "1" : NULL);

    d.ctx = ctx;
    d.acct = a;

    ac_buf_reset(&ctx->json);

    if (ngx_http_guichet_tpl_rows(&t, "session",
                                  ngx_http_guichet_acct_session_row, &d,
                                  a->nsessions, &ctx->json)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: account page rendering failed");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "text/html; charset=utf-8");
    ngx_http_guichet_ep_finish(r, ctx);
}


static ngx_int_t
ngx_http_guichet_acct_code_row(void *data, ngx_uint_t i,
    ngx_http_guichet_tpl_t *t)
{
    ngx_http_guichet_acct_t *a = data;

    ngx_http_guichet_tpl_str(t, "code", a->codes[i]);

    return NGX_OK;
}


void
ngx_http_guichet_acct_codes(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice)
{
    ngx_http_guichet_tpl_t  t;

    ac_buf_reset(&ctx->json);

    if (ngx_http_guichet_tpl_get(r, ctx, "recovery.html", &t) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_tpl_str(&t, "notice", notice);

    if (ngx_http_guichet_tpl_rows(&t, "code", ngx_http_guichet_acct_code_row,
                                  a, AC_RECOVERY_COUNT, &ctx->json)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "text/html; charset=utf-8");
    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_acct_back(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *notice)
{
    u_char  *url;

    url = ngx_http_guichet_ep_url(r, ctx, "account");
    if (url == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) url);
}


/* A reply that only has to be a success; then the route's next step. */

void
ngx_http_guichet_acct_reply_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;
    a->next(r, ctx);
}


/* Sets (or with "" deletes) a field of the current session. */

static ngx_int_t
ngx_http_guichet_sess_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    return ac_cmd_session_field(cmd, gmcf->ac, ctx->session.account,
                                ctx->digest, field, value)
           == AC_OK ? NGX_OK : NGX_ERROR;
}


/*
 * A privilege change (a fresh proof, a second factor enrolled): the
 * session goes on under a new id, with "field" set on the way; the new
 * cookie is sent with the answer and ctx->digest names the new id, so
 * that the forms of the answer are bound to it.
 */

ngx_int_t
ngx_http_guichet_sess_rotate_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value)
{
    ngx_int_t                      rc;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    rc = NGX_ERROR;

    if (ac_session_token_new(ctx->session.account, token) == AC_OK
        && ac_session_digest(gmcf->keys, token, AC_TOKEN_LEN,
                             ctx->new_digest)
           == AC_OK
        && ac_cmd_session_rotate(cmd, gmcf->ac, ctx->digest,
                                 ctx->session.account, ctx->new_digest,
                                 field, value)
           == AC_OK
        && ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_SESSION,
                                          token, -1)
           == NGX_OK)
    {
        ngx_memcpy(ctx->digest, ctx->new_digest, AC_DIGEST_LEN + 1);
        rc = NGX_OK;
    }

    ac_cleanse(token, sizeof(token));

    return rc;
}


ngx_int_t
ngx_http_guichet_sess_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *field, const char *value,
    ngx_http_guichet_redis_handler_pt handler)
{
    ac_cmd_t  cmd;

    if (ngx_http_guichet_sess_cmd(r, ctx, &cmd, field, value) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    return ngx_http_guichet_ep_redis(r, ctx, &cmd, handler);
}


/*
 * Sends a->cmds[0..n-1] one after the other, each once the previous one
 * succeeded, then calls next.
 */

void
ngx_http_guichet_acct_seq(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t n,
    ngx_http_guichet_ep_handler_pt next)
{
    ngx_uint_t                i;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    for (i = 0; i < n; i++) {
        if (ac_cmd_status(&a->cmds[i]) != AC_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    a->next = next;
    a->ncmds = n;
    a->nreplies = 0;

    (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[0],
                                     ngx_http_guichet_acct_seq_reply);
}


static void
ngx_http_guichet_acct_seq_reply(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (++a->nreplies < a->ncmds) {
        (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[a->nreplies],
                                         ngx_http_guichet_acct_seq_reply);
        return;
    }

    a->next(r, ctx);
}

/* ------------------------------------------------------- account page */

void
ngx_http_guichet_account_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                      value[4];
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    /* after a proof asked for a download: it starts from this page */
    if (ngx_http_guichet_ep_arg(r, "download", value, sizeof(value), NULL)
        == NGX_OK
        && ngx_strcmp(value, "1") == 0)
    {
        a->download = 1;
        ngx_http_guichet_acct_render(r, ctx, a,
                                     "Confirmed. The download of your "
                                     "data starts now.");
        return;
    }

    ngx_http_guichet_acct_render(r, ctx, a, NULL);
}


/* ----------------------------------------------------------- sessions */

void
ngx_http_guichet_account_revoke(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                            len;
    ngx_uint_t                        i, all, found;
    ac_cmd_t                          cmd;
    char                              handle[AC_DIGEST_LEN + 2], flag[4];
    ngx_http_guichet_acct_t          *a;
    ngx_http_guichet_main_conf_t     *gmcf;
    ngx_http_guichet_acct_session_t  *s;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    all = (ngx_http_guichet_ep_field(ctx, "all", flag, sizeof(flag), &len)
           == NGX_OK && len == 1 && flag[0] == '1');

    if (!all
        && (ngx_http_guichet_ep_field(ctx, "session", handle, sizeof(handle),
                                      &len) != NGX_OK
            || len != AC_DIGEST_LEN))
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "Choose a session to sign out.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    found = 0;

    for (i = 0; i < a->nsessions; i++) {
        s = &a->sessions[i];

        if (ngx_strcmp(s->digest, ctx->digest) == 0) {
            continue;
        }

        if (!all && !ac_ct_equal(s->handle, handle, AC_DIGEST_LEN)) {
            continue;
        }

        if (ac_cmd_session_delete(&cmd, gmcf->ac, s->digest, ctx->account)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_detached(r, &cmd);
        found++;
    }

    if (!all && !found) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not found",
                                  "That session has already ended.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    /* commands of one connection run in order: the PING comes last */
    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "PING");
    a->next = ngx_http_guichet_back_logged;
    ctx->event_session = ctx->digest;

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_revoke_done);
}


static void
ngx_http_guichet_revoke_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_SESSION_REVOKED, NULL, 1,
                                 ngx_http_guichet_back_logged);
}


void
ngx_http_guichet_back_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_back(r, ctx, NULL);
    ngx_http_guichet_ep_finish(r, ctx);
}
