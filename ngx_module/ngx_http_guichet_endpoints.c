/*
 * Guichet nginx module: the endpoints framework (see
 * ngx_http_guichet_endpoints.h): the route table, body reading, the
 * request's ctx, forms, cookies, CSRF, sessions, the connection log.
 * The templates and the answers are in ngx_http_guichet_page.c.
 *
 * The routes themselves live in their own files; their answers about an
 * authentication are sent only after their event is in the connection
 * log. Failures of Redis, of the log or of the thread pool answer 503.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_endpoints.h"
#include "ngx_http_guichet_account.h"


static void ngx_http_guichet_ep_css(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_js(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_icon(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_guichet_ep_read_body(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_cleanup(void *data);
static void ngx_http_guichet_ep_body_cleanup(void *data);
static ngx_int_t ngx_http_guichet_ep_refuse(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status);
static void ngx_http_guichet_ep_refusal(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status);
static ngx_int_t ngx_http_guichet_ep_form(const char *data, size_t len,
    const char *name, char *out, size_t outsize, size_t *outlen);
static void ngx_http_guichet_ep_session_got(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_ep_route(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_logged(ngx_http_request_t *r, void *data,
    ngx_int_t rc);


/*
 * The routes, one line each: the name under the location's prefix, the
 * methods, NGX_HTTP_GUICHET_EP_* flags, the handler. A name may have
 * several lines, one per set of methods; a known name asked with another
 * method gets 405. The flags say what is done before the handler: the
 * body read, the session and account read, the form's token, no change
 * by a restricted account, a fresh proof (see endpoints.h).
 */

static ngx_http_guichet_route_t  ngx_http_guichet_routes[] = {

    { ngx_string("login"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_login_get },
    { ngx_string("login"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_login_post },

    { ngx_string("2fa"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_2fa_get },
    { ngx_string("2fa"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_2fa_post },
    { ngx_string("2fa/options"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY|NGX_HTTP_GUICHET_EP_JSON,
      ngx_http_guichet_2fa_options },

    { ngx_string("passkey"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_passkey_post },
    { ngx_string("passkey/options"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY|NGX_HTTP_GUICHET_EP_JSON,
      ngx_http_guichet_passkey_options },

    { ngx_string("logout"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_logout_get },
    { ngx_string("logout"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_logout_post },

    { ngx_string("session"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_JSON, ngx_http_guichet_session_get },

    { ngx_string("guichet.css"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_ep_css },
    { ngx_string("guichet.js"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_ep_js },
    { ngx_string("passkey.js"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_passkey_js },
    { ngx_string("favicon.svg"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_ep_icon },

    { ngx_string("admin/logs"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_admin_logs },
    { ngx_string("metrics"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_metrics_get },

    { ngx_string("account"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE, ngx_http_guichet_account_get },
    { ngx_string("account/sessions/revoke"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_FORM, ngx_http_guichet_account_revoke },
    { ngx_string("account/reauth"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE, ngx_http_guichet_account_reauth_get },
    { ngx_string("account/reauth"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_FORM, ngx_http_guichet_account_reauth_post },
    { ngx_string("account/reauth/options"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_BODY
      |NGX_HTTP_GUICHET_EP_JSON, ngx_http_guichet_account_reauth_options },
    { ngx_string("account/totp"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_CHANGE
      |NGX_HTTP_GUICHET_EP_FRESH, ngx_http_guichet_account_totp_get },
    { ngx_string("account/totp"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_totp_post },
    { ngx_string("account/totp/qr.svg"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_CHANGE
      |NGX_HTTP_GUICHET_EP_FRESH, ngx_http_guichet_account_totp_qr },
    { ngx_string("account/passkeys"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_FRESH,
      ngx_http_guichet_account_passkeys_get },
    { ngx_string("account/passkeys"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_passkeys_post },
    { ngx_string("account/passkeys/options"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_BODY
      |NGX_HTTP_GUICHET_EP_JSON, ngx_http_guichet_account_passkeys_options },
    { ngx_string("account/recovery-codes"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_recovery },
    { ngx_string("account/password"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_password },
    { ngx_string("account/email"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_email },
    { ngx_string("account/email/confirm"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_account_email_confirm },
    { ngx_string("account/email/confirm"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY, ngx_http_guichet_account_email_confirm_post },
    { ngx_string("account/export"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_PAGE|NGX_HTTP_GUICHET_EP_FRESH,
      ngx_http_guichet_account_export },
    { ngx_string("account/delete"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_SECURE, ngx_http_guichet_account_delete },

    { ngx_string("sso"), NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY|NGX_HTTP_GUICHET_EP_LARGE,
      ngx_http_guichet_sso_handler },
    { ngx_string("partner/invitations"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY|NGX_HTTP_GUICHET_EP_JSON
      |NGX_HTTP_GUICHET_EP_LARGE, ngx_http_guichet_invitations_handler },
    { ngx_string("partner/registrations"), NGX_HTTP_GET|NGX_HTTP_HEAD,
      NGX_HTTP_GUICHET_EP_JSON, ngx_http_guichet_registrations_handler },
    { ngx_string("register"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_register_get },
    { ngx_string("register"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_register_post },
    { ngx_string("link"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_link_get },
    { ngx_string("link"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_link_post },

    { ngx_string("reset"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_reset_get },
    { ngx_string("reset"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_reset_post },
    { ngx_string("reset/confirm"), NGX_HTTP_GET|NGX_HTTP_HEAD, 0,
      ngx_http_guichet_reset_confirm_get },
    { ngx_string("reset/confirm"), NGX_HTTP_POST, NGX_HTTP_GUICHET_EP_BODY,
      ngx_http_guichet_reset_confirm_post },
    { ngx_string("reset/confirm/options"), NGX_HTTP_POST,
      NGX_HTTP_GUICHET_EP_BODY|NGX_HTTP_GUICHET_EP_JSON,
      ngx_http_guichet_reset_options },

    { ngx_null_string, 0, 0, NULL }
};


/* what an unknown name is answered as: an HTML page */
static ngx_http_guichet_route_t  ngx_http_guichet_route_none = {
    ngx_null_string, 0, 0, NULL
};


ngx_int_t
ngx_http_guichet_endpoints_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    name;
    ngx_pool_cleanup_t          *cln;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_guichet_route_t    *rt, *found, *known;
    ngx_http_guichet_ep_ctx_t   *ctx;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    known = NULL;
    found = NULL;

    if (r->uri.len >= clcf->name.len) {
        name.data = r->uri.data + clcf->name.len;
        name.len = r->uri.len - clcf->name.len;

        for (rt = ngx_http_guichet_routes; rt->handler; rt++) {
            if (rt->name.len != name.len
                || ngx_strncmp(rt->name.data, name.data, name.len) != 0)
            {
                continue;
            }

            known = rt;

            if (rt->methods & r->method) {
                found = rt;
                break;
            }
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_guichet_ep_ctx_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_guichet_ep_ctx_t));
    ac_buf_init(&ctx->json);
    cln->handler = ngx_http_guichet_ep_cleanup;

    ctx->route = found ? found : (known ? known : &ngx_http_guichet_route_none);
    ctx->post = (r->method == NGX_HTTP_POST);
    ctx->base = clcf->name;
    ctx->body = "";

#if (NGX_HTTP_SSL)
    ctx->secure = (r->connection->ssl != NULL);
#endif

    ngx_http_set_ctx(r, ctx, ngx_http_guichet_module);

    /* refusals are pages of ours too: security headers, JSON for APIs */

    if (found == NULL) {
        return ngx_http_guichet_ep_refuse(r, ctx, known
                                                  ? NGX_HTTP_NOT_ALLOWED
                                                  : NGX_HTTP_NOT_FOUND);
    }

    if (r->headers_in.content_length_n > ngx_http_guichet_ep_body_max(ctx))
    {
        return ngx_http_guichet_ep_refuse(r, ctx,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
    }

    if (found->flags & NGX_HTTP_GUICHET_EP_BODY) {
        /* nginx's own buffers of the body hold passwords too */
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_guichet_ep_body_cleanup;
        cln->data = r;

        rc = ngx_http_read_client_request_body(r,
                                               ngx_http_guichet_ep_body_read);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->now = (int64_t) ngx_time();

    /* the handler finalizes the request, maybe later: hold it till then */
    r->main->count++;

    ngx_http_guichet_ep_route(r, ctx);

    return NGX_DONE;
}


static void
ngx_http_guichet_ep_cleanup(void *data)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_buf_free(&ctx->json);

    if (ctx->body_len) {
        ac_cleanse(ctx->body, ctx->body_len);
    }

    ac_cleanse(ctx->csrf_cookie, sizeof(ctx->csrf_cookie));
    ac_cleanse(ctx->set_cookie, sizeof(ctx->set_cookie));
}


static void
ngx_http_guichet_ep_body_cleanup(void *data)
{
    ngx_http_request_t *r = data;

    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file && b->pos && b->last > b->pos) {
            ac_cleanse(b->pos, b->last - b->pos);
        }
    }
}


static ngx_int_t
ngx_http_guichet_ep_refuse(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status)
{
    ngx_int_t  rc;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
        r->keepalive = 0;
    }

    ngx_http_guichet_ep_refusal(ctx, status);

    return ngx_http_guichet_ep_send(r, ctx);
}


static void
ngx_http_guichet_ep_refusal(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status)
{
    const char  *code, *title, *message;

    switch (status) {

    case NGX_HTTP_NOT_FOUND:
        code = "not_found";
        title = "Not found";
        message = "There is no such page here.";
        break;

    case NGX_HTTP_NOT_ALLOWED:
        code = "method_not_allowed";
        title = "Method not allowed";
        message = "This page does not take this method.";
        break;

    default: /* NGX_HTTP_REQUEST_ENTITY_TOO_LARGE */
        code = "too_large";
        title = "Request too large";
        message = "What was sent is too large.";
        break;
    }

    if (ctx->route->flags & NGX_HTTP_GUICHET_EP_JSON) {
        ngx_http_guichet_ep_json_error(ctx, status, code, message);

    } else {
        ngx_http_guichet_ep_error(ctx, status, title, message);
    }
}


static void
ngx_http_guichet_ep_body_read(ngx_http_request_t *r)
{
    ngx_http_guichet_ep_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_guichet_module);

    ctx->now = (int64_t) ngx_time();

    switch (ngx_http_guichet_ep_read_body(r, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        r->keepalive = 0;
        ngx_http_guichet_ep_refusal(ctx, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
        ngx_http_guichet_ep_finish(r, ctx);
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_route(r, ctx);
}


/* the account routes read the session and the account first */

static void
ngx_http_guichet_ep_route(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ctx->route->flags & NGX_HTTP_GUICHET_EP_SESSION) {
        ngx_http_guichet_acct_begin(r, ctx);
        return;
    }

    ctx->route->handler(r, ctx);
}


/*
 * Copies the body into one NUL-terminated string. NGX_DECLINED when it is
 * larger than NGX_HTTP_GUICHET_BODY_MAX (a chunked body has no length
 * to refuse it earlier). A body nginx wrote to a temporary file (with a
 * client_body_buffer_size below the limit) is read back from it.
 */

static ngx_int_t
ngx_http_guichet_ep_read_body(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    off_t         size;
    u_char       *p;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ctx->body = "";
        return NGX_OK;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    if (size > ngx_http_guichet_ep_body_max(ctx)) {
        return NGX_DECLINED;
    }

    ctx->body = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (ctx->body == NULL) {
        ctx->body = "";
        return NGX_ERROR;
    }

    p = (u_char *) ctx->body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            /* only "client_body_in_file_only" spools a body this small */
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet endpoints refuse a request body written "
                          "to a file (client_body_in_file_only?)");
            return NGX_ERROR;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    ctx->body_len = p - (u_char *) ctx->body;

    return NGX_OK;
}


static void
ngx_http_guichet_ep_css(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "guichet.css");
    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_ep_js(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "guichet.js");
    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_ep_icon(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "favicon.svg");
    ngx_http_guichet_ep_finish(r, ctx);
}


void *
ngx_http_guichet_ep_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, size_t size, ngx_pool_cleanup_pt cleanup)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, size);
    if (cln == NULL) {
        return NULL;
    }

    ngx_memzero(cln->data, size);
    cln->handler = cleanup;

    ctx->route_data = cln->data;

    return cln->data;
}


/* --------------------------------------------------------------- forms */

ngx_int_t
ngx_http_guichet_ep_field(ngx_http_guichet_ep_ctx_t *ctx, const char *name,
    char *out, size_t outsize, size_t *outlen)
{
    return ngx_http_guichet_ep_form(ctx->body, ctx->body_len, name, out,
                                    outsize, outlen);
}


ngx_int_t
ngx_http_guichet_ep_arg(ngx_http_request_t *r, const char *name, char *out,
    size_t outsize, size_t *outlen)
{
    return ngx_http_guichet_ep_form((char *) r->args.data, r->args.len, name,
                                    out, outsize, outlen);
}


ngx_int_t
ngx_http_guichet_ep_param(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name, char *out,
    size_t outsize, size_t *outlen)
{
    if (ctx->post) {
        return ngx_http_guichet_ep_field(ctx, name, out, outsize, outlen);
    }

    return ngx_http_guichet_ep_arg(r, name, out, outsize, outlen);
}


static ngx_int_t
ngx_http_guichet_ep_form(const char *data, size_t len, const char *name,
    char *out, size_t outsize, size_t *outlen)
{
    size_t  n;

    if (len == 0
        || ac_form_get(data, len, name, out, outsize, &n) != AC_OK)
    {
        out[0] = '\0';
        if (outlen) {
            *outlen = 0;
        }
        return NGX_DECLINED;
    }

    if (outlen) {
        *outlen = n;
    }

    return NGX_OK;
}


/* ------------------------------------------------------------- cookies */

/* The module's one cookie reader (ngx_http_guichet_input.c). */

ngx_int_t
ngx_http_guichet_ep_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_cookie_e kind,
    char *out, size_t outsize)
{
    if (ngx_http_guichet_cookie(r, kind, out, outsize, NULL) != NGX_OK) {
        out[0] = '\0';
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_ep_set_cookie(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_cookie_e kind, const char *value, int64_t max_age)
{
    if (ctx->ncookies >= NGX_HTTP_GUICHET_COOKIES) {
        return NGX_ERROR;
    }

    if (ac_cookie_format(ngx_http_guichet_cookie_name(ctx->secure, kind),
                         value, max_age, (int) ctx->secure,
                         ctx->set_cookie[ctx->ncookies], AC_SET_COOKIE_MAX)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    ctx->ncookies++;

    return NGX_OK;
}


/* ---------------------------------------------------------------- CSRF */

ngx_int_t
ngx_http_guichet_ep_csrf_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t create)
{
    if (ngx_http_guichet_ep_cookie(r, ctx, NGX_HTTP_GUICHET_COOKIE_CSRF,
                                   ctx->csrf_cookie, sizeof(ctx->csrf_cookie))
        == NGX_OK
        && (!create || ngx_strlen(ctx->csrf_cookie) == AC_TOKEN_LEN))
    {
        return NGX_OK;
    }

    if (!create) {
        ctx->csrf_cookie[0] = '\0';
        return NGX_DECLINED;
    }

    if (ac_csrf_cookie_new(ctx->csrf_cookie) != AC_OK
        || ngx_http_guichet_ep_set_cookie(ctx, NGX_HTTP_GUICHET_COOKIE_CSRF,
                                          ctx->csrf_cookie, -1)
           != NGX_OK)
    {
        ctx->csrf_cookie[0] = '\0';
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_ep_csrf_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *binding, const char *form)
{
    size_t                         len;
    char                           token[AC_CSRF_TOKEN_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    if (binding == NULL || binding[0] == '\0') {
        return NGX_DECLINED;
    }

    if (ngx_http_guichet_ep_field(ctx, "csrf", token, sizeof(token), &len)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_csrf_verify(gmcf->keys, binding, form, token, len,
                       (time_t) ctx->now)
        != AC_OK)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_ep_csrf_var(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *binding, const char *form)
{
    char                          *csrf;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (binding == NULL || binding[0] == '\0') {
        ngx_http_guichet_ep_var(ctx, "csrf", NULL);
        return NGX_OK;
    }

    csrf = ngx_pnalloc(r->pool, AC_CSRF_TOKEN_MAX + 1);
    if (csrf == NULL) {
        return NGX_ERROR;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_csrf_token(gmcf->keys, binding, form, (time_t) ctx->now, csrf)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_var(ctx, "csrf", csrf);

    return NGX_OK;
}


/* ------------------------------------------------------------ sessions */

ngx_int_t
ngx_http_guichet_ep_digest(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_cookie_e kind)
{
    ngx_int_t                      rc;
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    rc = NGX_OK;

    if (ngx_http_guichet_ep_cookie(r, ctx, kind, token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        ctx->digest[0] = '\0';
        rc = NGX_DECLINED;

    } else if (kind == NGX_HTTP_GUICHET_COOKIE_SESSION) {
        /* "" for a cookie of the previous layout: no session */
        (void) ac_session_account(token, ngx_strlen(token),
                                  ctx->cookie_account);
    }

    ac_cleanse(token, sizeof(token));

    return rc;
}


void
ngx_http_guichet_ep_current_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next)
{
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    ctx->session_found = 0;
    ctx->session_valid = 0;
    ctx->next = next;

    if (ctx->digest[0] == '\0'
        && ngx_http_guichet_ep_digest(r, ctx,
                                      NGX_HTTP_GUICHET_COOKIE_SESSION)
           != NGX_OK)
    {
        next(r, ctx);
        return;
    }

    /* a cookie of the previous layout: no session (503 while Redis is
     * down, as a read would have answered) */
    if (ctx->cookie_account[0] == '\0') {
        if (!ngx_http_guichet_redis_ready()) {
            if (ngx_http_guichet_redis_refusal()) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "guichet: redis unavailable, answering 503");
            }

            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

        next(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_session_get(&cmd, gmcf->ac, ctx->cookie_account, ctx->digest)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_ep_session_got);
}


static void
ngx_http_guichet_ep_session_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_session_t                  *s;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    s = &ctx->session;
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* a session names the account its cookie and hash name */
    if (ac_session_parse(reply, s) == AC_OK
        && ngx_strcmp(s->account, ctx->cookie_account) == 0)
    {
        ctx->session_found = 1;
        ctx->session_valid = (ac_session_live(s, gmcf->ac, ctx->now)
                              && s->account_status == AC_STATUS_ACTIVE);

        ngx_http_guichet_ep_account(ctx, s->account, s->email);

        if (s->partner[0]) {
            ngx_cpystrn((u_char *) ctx->partner, (u_char *) s->partner,
                        sizeof(ctx->partner));
        }

    } else {
        ngx_memzero(s, sizeof(ac_session_t));
        s->account_status = -1;
    }

    ctx->next(r, ctx);
}


ngx_int_t
ngx_http_guichet_ep_session_create(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *email,
    unsigned roles, unsigned amr, const char *partner,
    ngx_http_guichet_redis_handler_pt handler)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    ngx_int_t                      rc;
    ac_session_t                  *s;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    s = &ctx->session;
    ngx_memzero(s, sizeof(ac_session_t));

    ngx_cpystrn((u_char *) s->account, (u_char *) account,
                sizeof(s->account));
    ngx_cpystrn((u_char *) s->email, (u_char *) email, sizeof(s->email));

    if (partner) {
        ngx_cpystrn((u_char *) s->partner, (u_char *) partner,
                    sizeof(s->partner));
    }

    s->roles = roles;
    s->amr = amr;
    s->created = ctx->now;
    s->expires = ctx->now + gmcf->ac->session_max;
    s->last_seen = ctx->now;
    s->fresh = ctx->fresh_proof ? ctx->now : 0;
    s->account_status = -1;

    len = ngx_min(r->connection->addr_text.len, sizeof(s->ip) - 1);
    ngx_memcpy(s->ip, r->connection->addr_text.data, len);
    s->ip[len] = '\0';

    /*
     * The session keeps the device's name ("Chrome on Linux"), made from
     * the whole user agent: its first bytes seldom name the browser, and
     * the whole of it is in the connection log.
     */
    if (r->headers_in.user_agent) {
        (void) ac_device_label((char *) r->headers_in.user_agent->value.data,
                               r->headers_in.user_agent->value.len,
                               s->device, sizeof(s->device));
    }

    rc = NGX_OK;

    if (ac_session_token_new(account, token) != AC_OK
        || ac_session_digest(gmcf->keys, token, AC_TOKEN_LEN,
                             ctx->new_digest)
           != AC_OK
        || ac_cmd_session_create(&cmd, gmcf->ac, ctx->new_digest, s) != AC_OK
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_SESSION,
                                          token, -1)
           != NGX_OK)
    {
        rc = NGX_ERROR;
    }

    ac_cleanse(token, sizeof(token));

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    rc = ngx_http_guichet_ep_redis(r, ctx, &cmd, handler);

    /* every sign-in comes here: its device, after the session */
    if (rc == NGX_OK) {
        ngx_http_guichet_mail_seen(r, ctx, s);
    }

    return rc;
}


void
ngx_http_guichet_ep_account(ngx_http_guichet_ep_ctx_t *ctx, const char *id,
    const char *email)
{
    ctx->has_account = 1;
    ngx_cpystrn((u_char *) ctx->account, (u_char *) id,
                sizeof(ctx->account));
    ngx_cpystrn((u_char *) ctx->account_email, (u_char *) email,
                sizeof(ctx->account_email));
}


u_char *
ngx_http_guichet_ep_url(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(route);

    p = ngx_pnalloc(r->pool, ctx->base.len + len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(ngx_cpymem(p, ctx->base.data, ctx->base.len), route, len) =
        '\0';

    return p;
}


/* ----------------------------------------------------- log and Redis */

void
ngx_http_guichet_ep_log(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind, const char *reason,
    ngx_uint_t with_account)
{
    ngx_http_guichet_ep_log_then(r, ctx, kind, reason, with_account, NULL);
}


void
ngx_http_guichet_ep_log_then(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind, const char *reason,
    ngx_uint_t with_account, ngx_http_guichet_ep_handler_pt next)
{
    const char  *session;
    ac_event_t  *ev = &ctx->event;

    ngx_memzero(ev, sizeof(ac_event_t));

    ev->kind = kind;
    ngx_http_guichet_metric_event(kind);

    if (reason) {
        ev->reason = reason;
        ev->reason_len = ngx_strlen(reason);
    }

    if (with_account && ctx->has_account) {
        ev->account = ctx->account;
        ev->account_len = ngx_strlen(ctx->account);
        ev->email = ctx->account_email;
        ev->email_len = ngx_strlen(ctx->account_email);

    } else if (ctx->email_len) {
        /* as typed, so that the security team sees what was tried */
        ev->email = ctx->email;
        ev->email_len = ctx->email_len;
    }

    if (ctx->partner[0]) {
        ev->partner = ctx->partner;
        ev->partner_len = ngx_strlen(ctx->partner);
    }

    ev->ip = (char *) r->connection->addr_text.data;
    ev->ip_len = r->connection->addr_text.len;

    if (r->headers_in.user_agent) {
        ev->ua = (char *) r->headers_in.user_agent->value.data;
        ev->ua_len = r->headers_in.user_agent->value.len;
    }

    session = ctx->new_digest[0] ? ctx->new_digest : ctx->event_session;

    if (session && session[0]) {
        ev->session = session;
        ev->session_len = ngx_strlen(session);
    }

    ctx->next = next;

    if (ngx_http_guichet_log_event(r, ev, ngx_http_guichet_ep_logged, ctx)
        != NGX_OK)
    {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: %s event not logged, answering 503",
                          ac_event_name(kind));
        }

        ngx_http_guichet_ep_unavailable(r, ctx);
    }
}


static void
ngx_http_guichet_ep_logged(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ngx_connection_t  *c;

    /* the request may be freed once answered */
    c = r->connection;

    if (rc != NGX_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);

    } else if (ctx->next) {
        ctx->next(r, ctx);

    } else {
        ngx_http_guichet_ep_finish(r, ctx);
    }

    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_http_guichet_ep_redis(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd,
    ngx_http_guichet_redis_handler_pt handler)
{
    if (ngx_http_guichet_redis_send(r, cmd, handler, ctx) != NGX_OK) {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis unavailable, answering 503");
        }
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_ep_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    if (rc != NGX_OK || reply == NULL) {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis did not answer, answering 503");
        }
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis error \"%*s\", answering 503",
                          (size_t) ngx_min(reply->len, 200), reply->str);
        }

        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_guichet_ep_detached(ngx_http_request_t *r, ac_cmd_t *cmd)
{
    /* commands of one connection run in order: later ones see this one */
    if (ngx_http_guichet_redis_send_detached(r->connection->log, cmd)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "guichet: redis command not sent");
    }
}


/* ------------------------------------------------------- configuration */

ngx_int_t
ngx_http_guichet_endpoints_init(ngx_conf_t *cf)
{
    ngx_uint_t                     i;
    ngx_http_core_loc_conf_t     **clcfp;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_guichet_module);

    if (!gmcf->endpoints) {
        return NGX_OK;
    }

    if (gmcf->ac == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"guichet_endpoints\" needs \"guichet_config\" in "
                      "the http block");
        return NGX_ERROR;
    }

#if (NGX_THREADS)
    if (gmcf->thread_pool == NULL)
#endif
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"guichet_endpoints\" needs \"guichet_threads\": "
                      "passwords are hashed in a thread pool");
        return NGX_ERROR;
    }

    /*
     * Every body a route accepts fits in memory: nginx never spools it to
     * a temporary file, which would be read back with blocking I/O and
     * would leave passwords on disk.
     */

    clcfp = gmcf->endpoint_clcfs->elts;

    for (i = 0; i < gmcf->endpoint_clcfs->nelts; i++) {
        if (clcfp[i]->client_body_buffer_size
            < NGX_HTTP_GUICHET_BODY_LARGE)
        {
            clcfp[i]->client_body_buffer_size = NGX_HTTP_GUICHET_BODY_LARGE;
        }
    }

    return ngx_http_guichet_pages_init(cf, gmcf);
}


