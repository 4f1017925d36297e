/*
 * Guichet nginx module: the account self-service routes under
 * "account" (SPEC 1.1, 5, 8): the page, sessions, re-authentication,
 * TOTP enrolment, recovery codes, password change, export and erasure.
 *
 * Every route first reads the current session, then in one round trip
 * the session's own fields ("f": time of the last fresh proof, "k":
 * pending TOTP enrolment), the account, its recovery code count and its
 * live sessions. Export, erasure and second-factor or password changes
 * need a fresh proof within reauth_window; a restricted account may
 * read and export only.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_ACCT_SESSIONS  64   /* listed at most */
#define NGX_HTTP_GUICHET_ENROL_TTL      600  /* seconds */
#define NGX_HTTP_GUICHET_CODE_MAX       32
#define NGX_HTTP_GUICHET_PENDING_MAX    (NGX_INT64_LEN + 1                  \
                                         + AC_SEALED_LEN(AC_TOTP_SECRET_LEN))


/* what a throttled proof is: its counters, its page, its log reason */
#define NGX_HTTP_GUICHET_PROOF_PASSWORD  0   /* password change */
#define NGX_HTTP_GUICHET_PROOF_REAUTH    1   /* password (+ code) */
#define NGX_HTTP_GUICHET_PROOF_ENROL     2   /* a new TOTP's first code */


typedef struct {
    char                         digest[AC_DIGEST_LEN + 1];
    char                         handle[AC_DIGEST_LEN + 1];
    char                         device[AC_DEVICE_MAX + 1];
    char                         ip[AC_IP_MAX];
    int64_t                      created;
    int64_t                      last_seen;
} ngx_http_guichet_acct_session_t;


typedef struct {
    ngx_http_guichet_ep_handler_pt   next;

    ac_account_t                     account;
    int64_t                          fresh;       /* "f", 0: never */
    char                             pending[NGX_HTTP_GUICHET_PENDING_MAX];
    int64_t                          recovery_left;
    ngx_http_guichet_acct_session_t *sessions;
    ngx_uint_t                       nsessions;

    unsigned char                    secret[AC_TOTP_SECRET_LEN];
    char                             secret_b32[AC_BASE32_LEN(
                                                 AC_TOTP_SECRET_LEN) + 1];
    char                             shown[AC_BASE32_LEN(
                                            AC_TOTP_SECRET_LEN) * 5 / 4 + 1];
    char                             sealed[AC_SEALED_LEN(
                                             AC_TOTP_SECRET_LEN) + 1];
    int64_t                          step;
    char                             codes[AC_RECOVERY_COUNT]
                                          [AC_RECOVERY_CODE_LEN + 1];
    char                             rdigests[AC_RECOVERY_COUNT]
                                             [AC_DIGEST_LEN + 1];
    char                             password[AC_PASSWORD_MAX + 1];
    size_t                           password_len;
    char                             new_password[AC_PASSWORD_MAX + 1];
    size_t                           new_password_len;
    char                             phc[AC_PHC_MAX];
    ngx_uint_t                       reauth;      /* NGX_HTTP_GUICHET_PROOF_* */
    ac_throttle_t                    throttle;
    const char                      *notice;
    char                             code[NGX_HTTP_GUICHET_CODE_MAX];
    size_t                           code_len;
    char                             return_to[AC_RETURN_TO_MAX + 1];
    char                             csrf[AC_CSRF_TOKEN_MAX + 1];
    char                             csrf_logout[AC_CSRF_TOKEN_MAX + 1];
    char                             num[NGX_INT64_LEN + 1];
    char                             last_login[32];
    ngx_uint_t                       download;    /* start the export */

    ac_cmd_t                         cmds[AC_EXPORT_NCMDS];
    redisReply                      *replies[AC_EXPORT_NCMDS];
    ngx_uint_t                       nreplies;
    ngx_uint_t                       ncmds;       /* a sequence of cmds */
} ngx_http_guichet_acct_t;


static ngx_http_guichet_acct_t *ngx_http_guichet_acct_begin(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_ep_handler_pt next);
static void ngx_http_guichet_acct_cleanup(void *data);
static void ngx_http_guichet_acct_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_acct_loaded(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_acct_parse(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    redisReply *reply);
static ngx_int_t ngx_http_guichet_acct_allowed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t change, ngx_uint_t fresh, const char *again);
static ngx_int_t ngx_http_guichet_acct_csrf(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *form);
static void ngx_http_guichet_acct_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice);
static void ngx_http_guichet_acct_codes(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice);
static ngx_int_t ngx_http_guichet_sess_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value);
static ngx_int_t ngx_http_guichet_sess_rotate_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value);
static ngx_int_t ngx_http_guichet_sess_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *field, const char *value,
    ngx_http_guichet_redis_handler_pt handler);
static void ngx_http_guichet_acct_seq(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t n,
    ngx_http_guichet_ep_handler_pt next);
static void ngx_http_guichet_acct_seq_reply(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_acct_throttle(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next);
static void ngx_http_guichet_acct_throttled(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_acct_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_acct_proved(ngx_http_request_t *r,
    ngx_http_guichet_acct_t *a);
static void ngx_http_guichet_acct_failed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a);
static ngx_int_t ngx_http_guichet_totp_pending(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a);
static void ngx_http_guichet_totp_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static void ngx_http_guichet_codes_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_acct_rows(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name, const char *marker,
    ac_tvar_t *vars, size_t nvars, size_t nrow,
    ngx_int_t (*row)(void *data, ngx_uint_t i, ac_tvar_t *rv), void *data,
    ngx_uint_t n);
static ngx_int_t ngx_http_guichet_acct_session_row(void *data, ngx_uint_t i,
    ac_tvar_t *rv);
static ngx_int_t ngx_http_guichet_acct_code_row(void *data, ngx_uint_t i,
    ac_tvar_t *rv);
static void ngx_http_guichet_acct_tvar(ac_tvar_t *v, const char *name,
    const char *value);
static void ngx_http_guichet_acct_back(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *notice);
static void ngx_http_guichet_acct_reply_done(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);

static void ngx_http_guichet_acct_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_revoke_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_revoke_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_reauth_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static const char *ngx_http_guichet_reauth_why(const char *return_to);
static ngx_int_t ngx_http_guichet_reauth_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error);
static void ngx_http_guichet_reauth_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_shown(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_qr_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_enabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_totp_disabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_recovery_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_recovery_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_password_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_password_checked(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_password_hashed(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_password_ended(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_password_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_checked(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_reauth_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_reauth_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_export_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_export_reply(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_delete_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_delete_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_delete_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_back_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


static const char  ngx_http_guichet_restricted[] =
    "Your account is restricted: you can read and export your data, but "
    "changes are turned off.";


/* ------------------------------------------------------------ common */

static ngx_http_guichet_acct_t *
ngx_http_guichet_acct_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next)
{
    ngx_http_guichet_acct_t  *a;

    a = ngx_http_guichet_ep_data(r, ctx, sizeof(ngx_http_guichet_acct_t),
                                 ngx_http_guichet_acct_cleanup);
    if (a == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NULL;
    }

    a->next = next;
    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_acct_session);
    return a;
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
    a->next(r, ctx);
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
 * NGX_OK when the route may go on; otherwise the answer is set and sent:
 * 403 for a change by a restricted account, 303 to the re-authentication
 * page (coming back to "again") without a fresh proof.
 */

static ngx_int_t
ngx_http_guichet_acct_allowed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t change, ngx_uint_t fresh, const char *again)
{
    u_char                        *url, *p;
    size_t                         len;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (change && a->account.restricted) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Not allowed",
                                  ngx_http_guichet_restricted);
        ngx_http_guichet_ep_finish(r, ctx);
        return NGX_DECLINED;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (!fresh
        || (a->fresh && a->fresh <= ctx->now
            && ctx->now - a->fresh <= gmcf->ac->reauth_window))
    {
        return NGX_OK;
    }

    url = ngx_http_guichet_ep_url(r, ctx, again);
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


static ngx_int_t
ngx_http_guichet_acct_csrf(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *form)
{
    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, form)
        != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or did not come "
                                  "from this site. Go back, reload the page "
                                  "and try again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_guichet_acct_tvar(ac_tvar_t *v, const char *name,
    const char *value)
{
    v->name = name;
    v->value = value;
    v->len = value ? ngx_strlen(value) : 0;
}


/*
 * A page whose part between "<!-- marker -->" and "<!-- /marker -->" is
 * repeated once per row, rendered into ctx->json and sent as HTML.
 */

static ngx_int_t
ngx_http_guichet_acct_rows(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name, const char *marker,
    ac_tvar_t *vars, size_t nvars, size_t nrow,
    ngx_int_t (*row)(void *data, ngx_uint_t i, ac_tvar_t *rv), void *data,
    ngx_uint_t n)
{
    u_char      *open, *close, *end;
    size_t       olen, clen;
    ngx_str_t    tpl;
    ngx_uint_t   i;
    u_char       om[64], cm[64];

    if (ngx_http_guichet_ep_template(r, name, &tpl) != NGX_OK) {
        return NGX_ERROR;
    }

    olen = ngx_snprintf(om, sizeof(om), "<!-- %s -->\n", marker) - om;
    clen = ngx_snprintf(cm, sizeof(cm), "<!-- /%s -->\n", marker) - cm;
    end = tpl.data + tpl.len;

    open = ngx_strlcasestrn(tpl.data, end, om, olen - 1);
    close = open ? ngx_strlcasestrn(open, end, cm, clen - 1) : NULL;
    if (open == NULL || close == NULL) {
        return NGX_ERROR;
    }

    ac_buf_reset(&ctx->json);

    if (ac_template_render((char *) tpl.data, open - tpl.data, vars, nvars,
                           &ctx->json)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (row(data, i, vars + nvars) != NGX_OK
            || ac_template_render((char *) open + olen,
                                  close - open - olen, vars, nvars + nrow,
                                  &ctx->json)
               != AC_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ac_template_render((char *) close + clen, end - close - clen, vars,
                           nvars, &ctx->json)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "text/html; charset=utf-8");

    return NGX_OK;
}


typedef struct {
    ngx_http_guichet_ep_ctx_t   *ctx;
    ngx_http_guichet_acct_t     *acct;
    char                         when[128];
    char                         label[AC_DEVICE_MAX + 1];
} ngx_http_guichet_acct_rowdata_t;


static ngx_int_t
ngx_http_guichet_acct_session_row(void *data, ngx_uint_t i, ac_tvar_t *rv)
{
    ngx_http_guichet_acct_rowdata_t *d = data;

    u_char                          *p;
    ngx_tm_t                         c, t;
    ngx_http_guichet_acct_session_t *s;

    s = &d->acct->sessions[i];

    ngx_gmtime((time_t) s->created, &c);
    ngx_gmtime((time_t) s->last_seen, &t);

    p = ngx_snprintf((u_char *) d->when, sizeof(d->when) - 1,
                     "signed in %4d-%02d-%02d %02d:%02d UTC, last active "
                     "%4d-%02d-%02d %02d:%02d UTC",
                     c.ngx_tm_year, c.ngx_tm_mon, c.ngx_tm_mday,
                     c.ngx_tm_hour, c.ngx_tm_min, t.ngx_tm_year,
                     t.ngx_tm_mon, t.ngx_tm_mday, t.ngx_tm_hour,
                     t.ngx_tm_min);
    *p = '\0';

    /* older sessions kept the first bytes of the agent: named here */
    (void) ac_device_label(s->device, ngx_strlen(s->device), d->label,
                           sizeof(d->label));

    ngx_http_guichet_acct_tvar(&rv[0], "device", d->label);
    ngx_http_guichet_acct_tvar(&rv[1], "ip", s->ip);
    ngx_http_guichet_acct_tvar(&rv[2], "when", d->when);
    ngx_http_guichet_acct_tvar(&rv[3], "current",
                               ngx_strcmp(s->digest, d->ctx->digest) == 0
                               ? "1" : NULL);
    ngx_http_guichet_acct_tvar(&rv[4], "handle", s->handle);
    ngx_http_guichet_acct_tvar(&rv[5], "agent",
                               s->device[0] ? s->device : NULL);

    return NGX_OK;
}


static void
ngx_http_guichet_acct_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice)
{
    ngx_tm_t                         tm;
    ac_tvar_t                        vars[16];
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

    vars[0].name = "base";
    vars[0].value = (char *) ctx->base.data;
    vars[0].len = ctx->base.len;
    ngx_http_guichet_acct_tvar(&vars[1], "email", a->account.email);
    ngx_http_guichet_acct_tvar(&vars[2], "notice", notice);
    ngx_http_guichet_acct_tvar(&vars[3], "totp",
                               a->account.totp[0] ? "1" : NULL);
    ngx_http_guichet_acct_tvar(&vars[4], "recovery_left", a->num);
    ngx_http_guichet_acct_tvar(&vars[5], "csrf", a->csrf);
    ngx_http_guichet_acct_tvar(&vars[6], "csrf_logout", a->csrf_logout);
    ngx_http_guichet_acct_tvar(&vars[7], "last_login", NULL);
    ngx_http_guichet_acct_tvar(&vars[8], "download",
                               a->download ? "1" : NULL);

    if (a->account.last_login > 0) {
        ngx_gmtime((time_t) a->account.last_login, &tm);
        *ngx_snprintf((u_char *) a->last_login, sizeof(a->last_login) - 1,
                      "%4d-%02d-%02d %02d:%02d UTC", tm.ngx_tm_year,
                      tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                      tm.ngx_tm_min) = '\0';
        ngx_http_guichet_acct_tvar(&vars[7], "last_login", a->last_login);
    }

    /* "sign out everywhere else" only when there is somewhere else */
    ngx_http_guichet_acct_tvar(&vars[9], "others",
                               a->nsessions > 1 ? "1" : NULL);

    d.ctx = ctx;
    d.acct = a;

    if (ngx_http_guichet_acct_rows(r, ctx, "account.html", "session", vars,
                                   10, 6, ngx_http_guichet_acct_session_row,
                                   &d, a->nsessions)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: account page rendering failed");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static ngx_int_t
ngx_http_guichet_acct_code_row(void *data, ngx_uint_t i, ac_tvar_t *rv)
{
    ngx_http_guichet_acct_t *a = data;

    ngx_http_guichet_acct_tvar(&rv[0], "code", a->codes[i]);

    return NGX_OK;
}


static void
ngx_http_guichet_acct_codes(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice)
{
    ac_tvar_t  vars[3];

    vars[0].name = "base";
    vars[0].value = (char *) ctx->base.data;
    vars[0].len = ctx->base.len;
    ngx_http_guichet_acct_tvar(&vars[1], "notice", notice);

    if (ngx_http_guichet_acct_rows(r, ctx, "recovery.html", "code", vars, 2,
                                   1, ngx_http_guichet_acct_code_row, a,
                                   AC_RECOVERY_COUNT)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
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

static void
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

    return ac_cmd_session_field(cmd, gmcf->ac, ctx->digest, field, value)
           == AC_OK ? NGX_OK : NGX_ERROR;
}


/*
 * A privilege change (a fresh proof, a second factor enrolled): the
 * session goes on under a new id, with "field" set on the way; the new
 * cookie is sent with the answer and ctx->digest names the new id, so
 * that the forms of the answer are bound to it.
 */

static ngx_int_t
ngx_http_guichet_sess_rotate_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value)
{
    ngx_int_t                      rc;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    rc = NGX_ERROR;

    if (ac_token_new(token) == AC_OK
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


static ngx_int_t
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

static void
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


/*
 * Password proofs are throttled like logins, on the account's email and
 * the client address, and a re-authentication's code on the account's
 * second-factor counter: each attempt counted before the check, next
 * called only when no delay is running.
 */

static void
ngx_http_guichet_acct_throttle(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next)
{
    int                            rc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL) {
        ngx_memzero(&a->throttle, sizeof(ac_throttle_t));

        rc = ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle, AC_THR_IP,
                             (char *) r->connection->addr_text.data,
                             r->connection->addr_text.len);

    } else {
        rc = ac_throttle_keys(gmcf->ac, gmcf->keys, a->account.email,
                              ngx_strlen(a->account.email),
                              (char *) r->connection->addr_text.data,
                              &a->throttle);
    }

    if (rc == AC_OK && a->reauth != NGX_HTTP_GUICHET_PROOF_PASSWORD
        && (a->account.totp[0] || a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL))
    {
        rc = ac_throttle_add(gmcf->ac, gmcf->keys, &a->throttle,
                             AC_THR_SECOND, a->account.id,
                             ngx_strlen(a->account.id));
    }

    if (rc != AC_OK
        || ac_cmd_throttle_reserve(&cmd, gmcf->ac, &a->throttle, ctx->now)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->next = next;

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_acct_throttled);
}


static void
ngx_http_guichet_acct_throttled(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   wait;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ac_throttle_parse(reply, &wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (wait == 0) {
        a->next(r, ctx);
        return;
    }

    ac_cleanse(a->password, sizeof(a->password));
    ac_cleanse(a->new_password, sizeof(a->new_password));

    if (a->reauth == NGX_HTTP_GUICHET_PROOF_REAUTH) {
        if (ngx_http_guichet_reauth_set(r, ctx, a,
                                        NGX_HTTP_TOO_MANY_REQUESTS,
                                        "Too many failed attempts.")
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

    } else {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_TOO_MANY_REQUESTS,
                                  "Too many attempts",
                                  "Too many failed attempts.");
    }

    ctx->retry_after = wait;
    ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED,
                            a->reauth == NGX_HTTP_GUICHET_PROOF_ENROL
                            ? "totp_enrol" : "reauth", 1);
}


/* The current password, checked for the reauth page or a new password. */

static void
ngx_http_guichet_acct_verify(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (ngx_http_guichet_password_verify(r,
                                         a->account.pw[0] ? a->account.pw
                                                          : NULL,
                                         (u_char *) a->password,
                                         a->password_len,
                                         a->reauth
                                         ? ngx_http_guichet_reauth_checked
                                         : ngx_http_guichet_password_checked,
                                         ctx)
        != NGX_OK)
    {
        ngx_http_guichet_ep_unavailable(r, ctx);
    }
}


/* A proof that held: its counters are forgotten. */

static void
ngx_http_guichet_acct_proved(ngx_http_request_t *r,
    ngx_http_guichet_acct_t *a)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_throttle_release(&cmd, gmcf->ac, &a->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }
}


/* A wrong password or code, counted before the check: logged. */

static void
ngx_http_guichet_acct_failed(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a)
{
    ctx->event_session = ctx->digest;
    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, "reauth", 1);
}


/* ------------------------------------------------------- account page */

void
ngx_http_guichet_account_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_acct_get_loaded);
}


static void
ngx_http_guichet_acct_get_loaded(ngx_http_request_t *r,
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
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_revoke_loaded);
}


static void
ngx_http_guichet_revoke_loaded(ngx_http_request_t *r,
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

    if (ngx_http_guichet_acct_csrf(r, ctx, "account") != NGX_OK) {
        return;
    }

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


static void
ngx_http_guichet_back_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_back(r, ctx, NULL);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* --------------------------------------------------- re-authentication */

void
ngx_http_guichet_account_reauth_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_reauth_get_loaded);
}


static void
ngx_http_guichet_reauth_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    (void) ngx_http_guichet_ep_param(r, ctx, "return_to", a->return_to,
                                     sizeof(a->return_to), NULL);
    ngx_http_guichet_reauth_page(r, ctx, a, NGX_HTTP_OK, NULL);
}


static void
ngx_http_guichet_reauth_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    if (ngx_http_guichet_reauth_set(r, ctx, a, status, error) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* What the proof is asked for, in words that fit the action. */

static const char *
ngx_http_guichet_reauth_why(const char *return_to)
{
    static const struct {
        const char  *route;
        const char  *why;
    } whys[] = {
        { "account/export", "Downloading your data" },
        { "account/delete", "Deleting your account" },
        { "account/totp", "Changing two-step verification" },
        { "account/recovery", "Making new recovery codes" },
        { "account/password", "Changing your password" },
    };

    size_t       i, len, n;

    len = ngx_strlen(return_to);

    for (i = 0; i < sizeof(whys) / sizeof(whys[0]); i++) {
        n = ngx_strlen(whys[i].route);

        if (len >= n
            && ngx_strncmp(return_to + len - n, whys[i].route, n) == 0)
        {
            return whys[i].why;
        }
    }

    return "This";
}


static ngx_int_t
ngx_http_guichet_reauth_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    ngx_http_guichet_ep_page(ctx, status, "reauth.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "reauth")
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "why",
                            ngx_http_guichet_reauth_why(a->return_to));
    ngx_http_guichet_ep_var(ctx, "return_to", a->return_to);
    ngx_http_guichet_ep_var(ctx, "email", a->account.email);
    ngx_http_guichet_ep_var(ctx, "totp", a->account.totp[0] ? "1" : NULL);

    return NGX_OK;
}


void
ngx_http_guichet_account_reauth_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_reauth_post_loaded);
}


static void
ngx_http_guichet_reauth_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (ngx_http_guichet_acct_csrf(r, ctx, "reauth") != NGX_OK) {
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "return_to", a->return_to,
                                     sizeof(a->return_to), NULL);
    (void) ngx_http_guichet_ep_field(ctx, "code", a->code, sizeof(a->code),
                                     &a->code_len);

    if (ngx_http_guichet_ep_field(ctx, "password", a->password,
                                  sizeof(a->password), &a->password_len)
        != NGX_OK)
    {
        ngx_http_guichet_reauth_page(r, ctx, a, NGX_HTTP_BAD_REQUEST,
                                     "Enter your password.");
        return;
    }

    a->reauth = NGX_HTTP_GUICHET_PROOF_REAUTH;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_acct_verify);
}


static void
ngx_http_guichet_reauth_checked(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            vrc;
    size_t                         len;
    ac_cmd_t                       cmd;
    const char                    *error;
    unsigned char                  secret[64];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    error = "Incorrect password or code.";
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    ac_cleanse(a->password, sizeof(a->password));

    if (rc != AC_OK && rc != AC_REHASH) {
        goto failed;
    }

    if (a->account.totp[0] == '\0') {
        a->step = 0;
        ngx_http_guichet_reauth_step(r, ctx, NULL, NGX_DECLINED);
        return;
    }

    if (ac_unseal(gmcf->keys, a->account.totp, a->account.id, secret,
                  sizeof(secret), &len)
        != AC_OK)
    {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: TOTP secret of an account does not open");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    vrc = ac_totp_verify(secret, len, a->code, a->code_len,
                         (time_t) ctx->now, AC_TOTP_WINDOW,
                         a->account.totp_step, &a->step);
    ac_cleanse(secret, sizeof(secret));

    if (vrc == AC_ERR_REPLAY) {
        error = ngx_http_guichet_code_used;
        goto failed;
    }

    if (vrc != AC_OK) {
        goto failed;
    }

    if (ac_cmd_totp_step(&cmd, gmcf->ac, a->account.id, a->step) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_reauth_step);
    return;

failed:

    if (ngx_http_guichet_reauth_set(r, ctx, a, NGX_HTTP_UNAUTHORIZED, error)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_failed(r, ctx, a);
}


static void
ngx_http_guichet_reauth_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                   ok;
    ac_cmd_t                  cmd;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (rc != NGX_DECLINED) {
        if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
            return;
        }

        if (ac_reply_integer(reply, &ok) != AC_OK || ok != 1) {
            /* a replayed code */
            if (ngx_http_guichet_reauth_set(r, ctx, a, NGX_HTTP_UNAUTHORIZED,
                                            ngx_http_guichet_code_used)
                != NGX_OK)
            {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ngx_http_guichet_acct_failed(r, ctx, a);
            return;
        }
    }

    ngx_http_guichet_acct_proved(r, a);

    *ngx_sprintf((u_char *) a->num, "%L", ctx->now) = '\0';

    /* a fresh proof is a privilege change: a new session id */
    if (ngx_http_guichet_sess_rotate_cmd(r, ctx, &cmd, "f", a->num)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_reauth_done);
}


static void
ngx_http_guichet_reauth_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    u_char                   *p;
    ngx_http_guichet_acct_t  *a;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    if (ngx_strcmp(ngx_http_guichet_reauth_why(a->return_to),
                   "Downloading your data")
        == 0)
    {
        /* back on the account page, which starts the download */
        p = ngx_http_guichet_ep_url(r, ctx, "account?download=1");
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);

    } else if (ngx_http_guichet_ep_redirect_return_to(r, ctx, a->return_to,
                                                      ngx_strlen(a->return_to))
               != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* ------------------------------------------------------------- export */

void
ngx_http_guichet_account_export(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_export_loaded);
}


static void
ngx_http_guichet_export_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_allowed(r, ctx, a, 0, 1, "account/export")
        != NGX_OK)
    {
        return;
    }

    if (ac_cmd_account_export(a->cmds, gmcf->ac, gmcf->keys, a->account.id,
                              a->account.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->nreplies = 0;
    (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[0],
                                     ngx_http_guichet_export_reply);
}


static void
ngx_http_guichet_export_reply(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_int_t                      i;
    ngx_table_elt_t               *h;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    a = ctx->route_data;

    /* the reply belongs to the adapter: keep a copy of what is needed */
    a->replies[a->nreplies] = ngx_http_guichet_redis_copy(r->pool, reply);
    if (a->replies[a->nreplies] == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    a->nreplies++;

    if (a->nreplies < AC_EXPORT_NCMDS) {
        (void) ngx_http_guichet_ep_redis(r, ctx, &a->cmds[a->nreplies],
                                         ngx_http_guichet_export_reply);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    ac_buf_reset(&ctx->json);
    i = ac_account_export(gmcf->keys, a->account.id,
                          (const redisReply *const *) a->replies, ctx->now,
                          &ctx->json);
    if (i != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Content-Disposition");
    ngx_str_set(&h->value, "attachment; filename=\"guichet-export.json\"");

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "application/json");
    ngx_http_guichet_ep_log(r, ctx, AC_EV_EXPORT, NULL, 1);
}


/* ------------------------------------------------------------- delete */

void
ngx_http_guichet_account_delete(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_delete_loaded);
}


static void
ngx_http_guichet_delete_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    char                           flag[4];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_csrf(r, ctx, "account") != NGX_OK
        || ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account")
           != NGX_OK)
    {
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "confirm", flag, sizeof(flag), &len)
        != NGX_OK || len != 1 || flag[0] != '1')
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Not deleted",
                                  "Tick the box to confirm that you want "
                                  "to delete your account.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_cmd_account_erase(&cmd, gmcf->ac, gmcf->keys, a->account.id,
                             a->account.email)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_delete_done);
}


static void
ngx_http_guichet_delete_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    char                           pseudo[AC_LOG_PSEUDO_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_account_erase_reply(reply, NULL) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    /* the account's log key is gone: only its pseudonym is recorded (an
     * id without key the log leaves out) */
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    if (ac_account_erase_pseudonym(gmcf->keys, ctx->account, reply, pseudo)
        != AC_OK)
    {
        ngx_cpystrn((u_char *) pseudo, (u_char *) ctx->account,
                    sizeof(pseudo));
    }
    ngx_http_guichet_ep_account(ctx, pseudo, "");
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_ACCOUNT_ERASED, NULL, 1,
                                 ngx_http_guichet_delete_logged);
}


static void
ngx_http_guichet_delete_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "goodbye.html");

    if (ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_SESSION,
                                       "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


/* --------------------------------------------------------------- TOTP */

void
ngx_http_guichet_account_totp_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_totp_get_loaded);
}


/*
 * A new secret, kept sealed (and bound to this session) in the session's
 * field "k" as "TIME:SEALED" until a first code confirms it.
 */

static void
ngx_http_guichet_totp_get_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *p;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account/totp")
        != NGX_OK)
    {
        return;
    }

    if (a->account.totp[0]) {
        ngx_http_guichet_acct_back(r, ctx, NULL);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_totp_secret_new(a->secret) != AC_OK
        || ac_seal(gmcf->keys, a->secret, AC_TOTP_SECRET_LEN, ctx->digest,
                   a->sealed, sizeof(a->sealed))
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_snprintf((u_char *) a->pending, sizeof(a->pending) - 1, "%L:%s",
                     ctx->now, a->sealed);
    *p = '\0';

    a->next = ngx_http_guichet_totp_shown;

    (void) ngx_http_guichet_sess_set(r, ctx, "k", a->pending,
                                     ngx_http_guichet_acct_reply_done);
}


static void
ngx_http_guichet_totp_shown(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_totp_page(r, ctx, ctx->route_data, NGX_HTTP_OK, NULL);
}


static void
ngx_http_guichet_totp_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    ngx_uint_t status, const char *error)
{
    size_t  i, n;
    char   *p;

    if (ac_base32_encode(a->secret, AC_TOTP_SECRET_LEN, a->secret_b32,
                         sizeof(a->secret_b32))
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* groups of four, as authenticator apps show keys */
    p = a->shown;
    n = ngx_strlen(a->secret_b32);

    for (i = 0; i < n; i++) {
        if (i && i % 4 == 0) {
            *p++ = ' ';
        }

        *p++ = a->secret_b32[i];
    }

    *p = '\0';

    ngx_http_guichet_ep_page(ctx, status, "totp.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "account")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_var(ctx, "error", error);
    ngx_http_guichet_ep_var(ctx, "email", a->account.email);
    ngx_http_guichet_ep_var(ctx, "secret", a->shown);
    ngx_http_guichet_ep_finish(r, ctx);
}


/* The pending enrolment's secret into a->secret: NGX_DECLINED if none. */

static ngx_int_t
ngx_http_guichet_totp_pending(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a)
{
    char                          *colon;
    size_t                         len;
    int64_t                        since;
    ngx_int_t                      rc;
    unsigned char                  secret[64];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    colon = ngx_strchr(a->pending, ':');
    if (colon == NULL || colon == a->pending) {
        return NGX_DECLINED;
    }

    since = ngx_atotm((u_char *) a->pending, colon - a->pending);
    if (since == NGX_ERROR || since > ctx->now
        || ctx->now - since > NGX_HTTP_GUICHET_ENROL_TTL)
    {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (ac_unseal(gmcf->keys, colon + 1, ctx->digest, secret,
                  sizeof(secret), &len)
        == AC_OK
        && len == AC_TOTP_SECRET_LEN)
    {
        ngx_memcpy(a->secret, secret, AC_TOTP_SECRET_LEN);
        rc = NGX_OK;
    }

    ac_cleanse(secret, sizeof(secret));

    return rc;
}


void
ngx_http_guichet_account_totp_qr(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_totp_qr_loaded);
}


/* An image, since templates insert text only and CSP refuses data: URIs */

static void
ngx_http_guichet_totp_qr_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            rc;
    char                          *uri;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account/totp")
        != NGX_OK)
    {
        return;
    }

    if (ngx_http_guichet_totp_pending(r, ctx, a) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_NOT_FOUND, "Not found",
                                  "No set-up of two-step verification is "
                                  "in progress.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_base32_encode(a->secret, AC_TOTP_SECRET_LEN, a->secret_b32,
                         sizeof(a->secret_b32))
        != AC_OK
        || ac_otpauth_uri(gmcf->ac->totp_issuer, a->account.email,
                          a->secret_b32, &uri)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_buf_reset(&ctx->json);
    rc = ac_qr_svg(uri, &ctx->json);

    ac_cleanse(uri, ngx_strlen(uri));
    free(uri);

    if (rc != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_body(ctx, NGX_HTTP_OK, "image/svg+xml");
    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_account_totp_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_totp_post_loaded);
}


static void
ngx_http_guichet_totp_post_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                          *p, *q;
    size_t                         len;
    char                           action[16];
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_csrf(r, ctx, "account") != NGX_OK
        || ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account")
           != NGX_OK)
    {
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "action", action, sizeof(action),
                                     &len);

    if (ngx_strcmp(action, "disable") == 0) {
        if (a->account.totp[0] == '\0') {
            ngx_http_guichet_acct_back(r, ctx, NULL);
            ngx_http_guichet_ep_finish(r, ctx);
            return;
        }

        if (ac_cmd_totp_disable(&a->cmds[0], gmcf->ac, a->account.id)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_totp_disabled);
        return;
    }

    if (ngx_strcmp(action, "enable") != 0) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Bad request",
                                  "Unknown action.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (a->account.totp[0]) {
        ngx_http_guichet_acct_back(r, ctx, NULL);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_totp_pending(r, ctx, a) != NGX_OK) {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Set-up expired",
                                  "This set-up of two-step verification "
                                  "has expired. Start it again from your "
                                  "account page.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "code", a->code, sizeof(a->code),
                                     &len);

    /* apps show "123 456" */
    for (p = q = a->code; *p; p++) {
        if (*p != ' ') {
            *q++ = *p;
        }
    }

    *q = '\0';
    a->code_len = q - a->code;

    /* the code is counted before it is checked, like every proof */
    a->reauth = NGX_HTTP_GUICHET_PROOF_ENROL;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_totp_confirm);
}


static void
ngx_http_guichet_totp_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            vrc;
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    vrc = ac_totp_verify(a->secret, AC_TOTP_SECRET_LEN, a->code,
                         a->code_len, (time_t) ctx->now, AC_TOTP_WINDOW, 0,
                         &a->step);

    if (vrc != AC_OK) {
        ngx_http_guichet_totp_page(r, ctx, a,
                                   vrc == AC_ERR_INVALID
                                   ? NGX_HTTP_BAD_REQUEST
                                   : NGX_HTTP_UNAUTHORIZED,
                                   vrc == AC_ERR_INVALID
                                   ? "Enter the 6 digits the app shows."
                                   : "That code is not the one expected. "
                                     "Check the app and try again.");
        return;
    }

    ngx_http_guichet_acct_proved(r, a);

    if (ac_seal(gmcf->keys, a->secret, AC_TOTP_SECRET_LEN, a->account.id,
                a->sealed, sizeof(a->sealed))
        != AC_OK
        || ac_recovery_generate(gmcf->keys, a->codes, a->rdigests) != AC_OK
        || ac_cmd_totp_enable(&a->cmds[0], gmcf->ac, a->account.id,
                              a->sealed, a->step, a->rdigests)
           != AC_OK
        || ngx_http_guichet_sess_rotate_cmd(r, ctx, &a->cmds[1], "k", "")
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 2, ngx_http_guichet_totp_enabled);
}


static void
ngx_http_guichet_totp_enabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    a->notice = "Two-step verification is on. Keep these recovery codes.";
    ctx->event_session = ctx->digest;

    /* then recovery.generated for the codes it made, as guichetctl */
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_TOTP_ENROLLED, NULL, 1,
                                 ngx_http_guichet_recovery_done);
}


static void
ngx_http_guichet_totp_disabled(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ctx->event_session = ctx->digest;
    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_TOTP_DISABLED, NULL, 1,
                                 ngx_http_guichet_back_logged);
}


static void
ngx_http_guichet_codes_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    ngx_http_guichet_acct_codes(r, ctx, a, a->notice);
}


/* ------------------------------------------------------ recovery codes */

void
ngx_http_guichet_account_recovery(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_recovery_loaded);
}


static void
ngx_http_guichet_recovery_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_acct_csrf(r, ctx, "account") != NGX_OK
        || ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account")
           != NGX_OK)
    {
        return;
    }

    if (a->account.totp[0] == '\0') {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST, "Not available",
                                  "Recovery codes come with two-step "
                                  "verification: turn it on first.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ac_recovery_generate(gmcf->keys, a->codes, a->rdigests) != AC_OK
        || ac_cmd_recovery_replace(&a->cmds[0], gmcf->ac, a->account.id,
                                   a->rdigests)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 1, ngx_http_guichet_recovery_done);
}


static void
ngx_http_guichet_recovery_done(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;
    if (a->notice == NULL) {
        a->notice = "Your new recovery codes replace the earlier ones, "
                    "which no longer work.";
    }
    ctx->event_session = ctx->digest;

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_RECOVERY_GENERATED, NULL, 1,
                                 ngx_http_guichet_codes_logged);
}


/* ------------------------------------------------------------ password */

void
ngx_http_guichet_account_password(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    (void) ngx_http_guichet_acct_begin(r, ctx,
                                       ngx_http_guichet_password_loaded);
}


static void
ngx_http_guichet_password_loaded(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                    len;
    ngx_int_t                 same;
    char                      confirm[AC_PASSWORD_MAX + 1];
    const char               *error;
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    if (ngx_http_guichet_acct_csrf(r, ctx, "account") != NGX_OK
        || ngx_http_guichet_acct_allowed(r, ctx, a, 1, 1, "account")
           != NGX_OK)
    {
        return;
    }

    error = NULL;

    if (ngx_http_guichet_ep_field(ctx, "current_password", a->password,
                                  sizeof(a->password), &a->password_len)
        != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "new_password", a->new_password,
                                     sizeof(a->new_password),
                                     &a->new_password_len)
           != NGX_OK
        || ngx_http_guichet_ep_field(ctx, "confirm_password", confirm,
                                     sizeof(confirm), &len)
           != NGX_OK)
    {
        error = "Fill in your current password and the new one twice.";

    } else {
        same = (len == a->new_password_len
                && ac_ct_equal(confirm, a->new_password, len));

        if (!same) {
            error = "The two new passwords differ.";

        } else if (ac_password_policy(a->new_password, a->new_password_len)
                   != AC_OK)
        {
            error = "The new password must have at least 8 characters.";
        }
    }

    ac_cleanse(confirm, sizeof(confirm));

    if (error) {
        ac_cleanse(a->password, sizeof(a->password));
        ac_cleanse(a->new_password, sizeof(a->new_password));
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_BAD_REQUEST,
                                  "Password not changed", error);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    a->reauth = NGX_HTTP_GUICHET_PROOF_PASSWORD;
    ngx_http_guichet_acct_throttle(r, ctx, ngx_http_guichet_acct_verify);
}


static void
ngx_http_guichet_password_checked(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    ac_cleanse(a->password, sizeof(a->password));

    if (rc != AC_OK && rc != AC_REHASH) {
        ac_cleanse(a->new_password, sizeof(a->new_password));
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                  "Password not changed",
                                  "Your current password is not the one "
                                  "entered.");
        ngx_http_guichet_acct_failed(r, ctx, a);
        return;
    }

    ngx_http_guichet_acct_proved(r, a);

    rc = ngx_http_guichet_password_hash(r, (u_char *) a->new_password,
                                        a->new_password_len, a->phc,
                                        ngx_http_guichet_password_hashed,
                                        ctx);
    ac_cleanse(a->new_password, sizeof(a->new_password));

    if (rc != NGX_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
    }
}


/*
 * The new hash stored, every session of the account ended (this one
 * too), then a new session for this browser.
 */

static void
ngx_http_guichet_password_hashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_http_guichet_acct_t       *a;
    ngx_http_guichet_main_conf_t  *gmcf;

    a = ctx->route_data;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: password hashing failed: %s",
                      ac_strerror(rc));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_sprintf((u_char *) a->num, "%L", ctx->now) = '\0';

    if (ac_cmd_account_set(&a->cmds[0], gmcf->ac, a->account.id, "pw",
                           a->phc)
        != AC_OK
        || ac_cmd_account_set(&a->cmds[1], gmcf->ac, a->account.id,
                              "pw_changed", a->num)
           != AC_OK
        || ac_cmd_sessions_end_all(&a->cmds[2], gmcf->ac, a->account.id)
           != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_acct_seq(r, ctx, 3, ngx_http_guichet_password_ended);
}


static void
ngx_http_guichet_password_ended(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    unsigned                  roles, amr;
    char                      partner[AC_PARTNER_ID_MAX + 1];
    ngx_http_guichet_acct_t  *a;

    a = ctx->route_data;

    ac_cleanse(a->phc, sizeof(a->phc));

    roles = a->account.roles;
    amr = ctx->session.amr;
    ngx_cpystrn((u_char *) partner, (u_char *) ctx->session.partner,
                sizeof(partner));

    (void) ngx_http_guichet_ep_session_create(r, ctx, a->account.id,
                                      a->account.email, roles, amr,
                                      partner,
                                      ngx_http_guichet_password_session);
}


static void
ngx_http_guichet_password_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ep_log_then(r, ctx, AC_EV_PASSWORD_CHANGED, NULL, 1,
                                 ngx_http_guichet_back_logged);
}
