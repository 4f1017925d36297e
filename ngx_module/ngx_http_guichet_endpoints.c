/*
 * Guichet nginx module: the routes under a "guichet_endpoints" location
 * (login, 2fa, logout, session).
 *
 * Every route reads its (small) body first, then runs as a chain of Redis
 * replies and, for passwords, a thread-pool task; each step stores what
 * it learnt in the request's ctx and starts the next one. Answers about
 * an authentication are sent only after their event is in the connection
 * log. Failures of Redis, of the log or of the thread pool answer 503.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"


#ifndef NGX_HTTP_GUICHET_TEMPLATES
#define NGX_HTTP_GUICHET_TEMPLATES  "/usr/share/guichet/templates"
#endif

#define NGX_HTTP_GUICHET_BODY_MAX   8192
#define NGX_HTTP_GUICHET_2FA_TRIES  5
#define NGX_HTTP_GUICHET_CODE_MAX   32
#define NGX_HTTP_GUICHET_COOKIES    3
#define NGX_HTTP_GUICHET_TVARS      6


typedef enum {
    NGX_HTTP_GUICHET_R_LOGIN = 0,
    NGX_HTTP_GUICHET_R_2FA,
    NGX_HTTP_GUICHET_R_LOGOUT,
    NGX_HTTP_GUICHET_R_SESSION,
    NGX_HTTP_GUICHET_R_CSS
} ngx_http_guichet_route_e;


typedef enum {
    NGX_HTTP_GUICHET_P_NONE = 0,
    NGX_HTTP_GUICHET_P_LOGIN,
    NGX_HTTP_GUICHET_P_2FA,
    NGX_HTTP_GUICHET_P_LOGOUT,
    NGX_HTTP_GUICHET_P_ERROR,
    NGX_HTTP_GUICHET_P_JSON,
    NGX_HTTP_GUICHET_P_CSS
} ngx_http_guichet_page_e;


typedef struct {
    ngx_str_t                    login;
    ngx_str_t                    twofa;
    ngx_str_t                    logout;
    ngx_str_t                    error;
    ngx_str_t                    css;
} ngx_http_guichet_pages_t;


typedef struct {
    ngx_http_guichet_route_e     route;
    ngx_uint_t                   post;
    ngx_uint_t                   secure;
    ngx_str_t                    base;
    int64_t                      now;

    /* the form */
    char                        *body;
    size_t                       body_len;
    char                         email[AC_EMAIL_MAX + 1];
    size_t                       email_len;
    char                         password[AC_PASSWORD_MAX + 1];
    size_t                       password_len;
    char                         code[NGX_HTTP_GUICHET_CODE_MAX];
    size_t                       code_len;
    char                         return_to[AC_RETURN_TO_MAX + 1];
    ngx_uint_t                   all;

    /* what the cookies and Redis said */
    char                         csrf_cookie[AC_COOKIE_VALUE_MAX + 1];
    ngx_uint_t                   csrf_new;
    char                         digest[AC_DIGEST_LEN + 1];
    char                         token[AC_TOKEN_LEN + 1];
    char                         new_digest[AC_DIGEST_LEN + 1];
    ac_throttle_t                throttle;
    ac_account_t                 account;
    ngx_uint_t                   has_account;
    ac_session_t                 session;
    unsigned                     amr;
    const char                  *method;     /* "totp", "recovery" */

    /* the answer */
    ngx_uint_t                   status;
    ngx_http_guichet_page_e      page;
    const char                  *error;
    const char                  *title;
    const char                  *message;
    const char                  *location;
    int64_t                      retry_after;
    ac_buf_t                     json;
    char                         set_cookie[NGX_HTTP_GUICHET_COOKIES]
                                           [AC_SET_COOKIE_MAX];
    ngx_uint_t                   ncookies;
    ac_event_t                   event;
} ngx_http_guichet_ep_ctx_t;


typedef void (*ngx_http_guichet_ep_step_pt)(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


static void ngx_http_guichet_ep_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_guichet_ep_read_body(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_cleanup(void *data);
static ngx_int_t ngx_http_guichet_ep_cookie(ngx_http_request_t *r,
    const char *name, char *out, size_t outsize);
static const char *ngx_http_guichet_ep_cookie_name(
    ngx_http_guichet_ep_ctx_t *ctx, const char *name);
static ngx_int_t ngx_http_guichet_ep_set_cookie(
    ngx_http_guichet_ep_ctx_t *ctx, const char *name, const char *value,
    int64_t max_age);
static ngx_int_t ngx_http_guichet_ep_field(ngx_http_guichet_ep_ctx_t *ctx,
    const char *name, char *out, size_t outsize, size_t *outlen);
static ngx_int_t ngx_http_guichet_ep_csrf(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *binding, const char *form);
static void ngx_http_guichet_ep_finish(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_ep_send(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_ep_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_buf_t *out);
static void ngx_http_guichet_tvar(ac_tvar_t *var, const char *name,
    const char *value);
static ngx_int_t ngx_http_guichet_ep_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static void ngx_http_guichet_ep_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_ep_redirect(ngx_http_guichet_ep_ctx_t *ctx,
    const char *location);
static void ngx_http_guichet_ep_log(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind,
    const char *reason, ngx_uint_t with_account);
static void ngx_http_guichet_ep_logged(ngx_http_request_t *r, void *data,
    ngx_int_t rc);
static ngx_int_t ngx_http_guichet_ep_redis(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd,
    ngx_http_guichet_redis_handler_pt handler);
static ngx_int_t ngx_http_guichet_ep_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_ep_detached(ngx_http_request_t *r,
    ac_cmd_t *cmd);

static void ngx_http_guichet_login_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_login_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_login_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_login_account(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_login_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_login_hashed(ngx_http_request_t *r,
    void *data, int rc);
static void ngx_http_guichet_login_pending(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_session_new(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, unsigned amr,
    ngx_http_guichet_redis_handler_pt handler);
static void ngx_http_guichet_login_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);

static void ngx_http_guichet_2fa_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_2fa_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_2fa_state(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_checked(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_recovery(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_2fa_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);
static void ngx_http_guichet_2fa_counted(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);

static void ngx_http_guichet_logout_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_logout_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_logout_session(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_logout_done(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static u_char *ngx_http_guichet_ep_url(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route);

static void ngx_http_guichet_session_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_session_got(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_session_json_error(
    ngx_http_guichet_ep_ctx_t *ctx);

static ngx_int_t ngx_http_guichet_pages_load(ngx_conf_t *cf,
    ngx_http_guichet_pages_t *pages);
static ngx_int_t ngx_http_guichet_page_load(ngx_conf_t *cf,
    const char *name, const char *const *vars, size_t nvars, ngx_str_t *out);


/* pending 2FA state: a account id, r return_to, n wrong codes */

/* KEYS: pending; ARGV: account, return_to, ttl */
static const char  ngx_http_guichet_pending_create_lua[] =
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'a', ARGV[1], 'r', ARGV[2], 'n', '0')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return 1\n";

/* KEYS: pending; ARGV: account key prefix ("P acct:") */
static const char  ngx_http_guichet_pending_get_lua[] =
    "local p = redis.call('HGETALL', KEYS[1])\n"
    "local a\n"
    "for i = 1, #p, 2 do if p[i] == 'a' then a = p[i + 1] end end\n"
    "if not a then return {} end\n"
    "return {p, redis.call('HGETALL', ARGV[1] .. a)}\n";

/* KEYS: pending; ARGV: tries; replies the count, -1 when gone */
static const char  ngx_http_guichet_pending_fail_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
    "if n >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end\n"
    "return n\n";


static const char *const  ngx_http_guichet_login_vars[] = {
    "base", "error", "csrf", "return_to", "email"
};

static const char *const  ngx_http_guichet_2fa_vars[] = {
    "base", "error", "csrf", "return_to"
};

static const char *const  ngx_http_guichet_logout_vars[] = {
    "base", "csrf"
};

static const char *const  ngx_http_guichet_error_vars[] = {
    "base", "title", "message", "status"
};


static const char  ngx_http_guichet_bad_credentials[] =
    "Incorrect email address or password.";


ngx_int_t
ngx_http_guichet_endpoints_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    route;
    ngx_pool_cleanup_t          *cln;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_guichet_ep_ctx_t   *ctx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len) {
        return NGX_HTTP_NOT_FOUND;
    }

    route.data = r->uri.data + clcf->name.len;
    route.len = r->uri.len - clcf->name.len;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_guichet_ep_ctx_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_guichet_ep_ctx_t));
    ac_buf_init(&ctx->json);
    cln->handler = ngx_http_guichet_ep_cleanup;

    if (route.len == 5 && ngx_strncmp(route.data, "login", 5) == 0) {
        ctx->route = NGX_HTTP_GUICHET_R_LOGIN;

    } else if (route.len == 3 && ngx_strncmp(route.data, "2fa", 3) == 0) {
        ctx->route = NGX_HTTP_GUICHET_R_2FA;

    } else if (route.len == 6 && ngx_strncmp(route.data, "logout", 6) == 0) {
        ctx->route = NGX_HTTP_GUICHET_R_LOGOUT;

    } else if (route.len == 7 && ngx_strncmp(route.data, "session", 7) == 0)
    {
        ctx->route = NGX_HTTP_GUICHET_R_SESSION;

    } else if (route.len == 11
               && ngx_strncmp(route.data, "guichet.css", 11) == 0)
    {
        ctx->route = NGX_HTTP_GUICHET_R_CSS;

    } else {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->post = (r->method == NGX_HTTP_POST);

    if (ctx->post
        && (ctx->route == NGX_HTTP_GUICHET_R_SESSION
            || ctx->route == NGX_HTTP_GUICHET_R_CSS))
    {
        return NGX_HTTP_NOT_ALLOWED;
    }

    ctx->base = clcf->name;

#if (NGX_HTTP_SSL)
    ctx->secure = (r->connection->ssl != NULL);
#endif

    ngx_http_set_ctx(r, ctx, ngx_http_guichet_module);

    if (r->headers_in.content_length_n > NGX_HTTP_GUICHET_BODY_MAX) {
        return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_guichet_ep_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_guichet_ep_cleanup(void *data)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_buf_free(&ctx->json);

    if (ctx->body) {
        ac_cleanse(ctx->body, ctx->body_len);
    }

    ac_cleanse(ctx->password, sizeof(ctx->password));
    ac_cleanse(&ctx->account, sizeof(ac_account_t));
    ac_cleanse(ctx->token, sizeof(ctx->token));
    ac_cleanse(ctx->csrf_cookie, sizeof(ctx->csrf_cookie));
}


static void
ngx_http_guichet_ep_body(ngx_http_request_t *r)
{
    ngx_http_guichet_ep_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_guichet_module);

    ctx->now = (int64_t) ngx_time();

    switch (ngx_http_guichet_ep_read_body(r, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ctx->status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Request too large";
        ctx->message = "The form sent was too large.";
        ngx_http_guichet_ep_finish(r, ctx);
        return;

    default:
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    switch (ctx->route) {

    case NGX_HTTP_GUICHET_R_LOGIN:
        if (ctx->post) {
            ngx_http_guichet_login_post(r, ctx);
        } else {
            ngx_http_guichet_login_get(r, ctx);
        }
        break;

    case NGX_HTTP_GUICHET_R_2FA:
        if (ctx->post) {
            ngx_http_guichet_2fa_post(r, ctx);
        } else {
            ngx_http_guichet_2fa_get(r, ctx);
        }
        break;

    case NGX_HTTP_GUICHET_R_LOGOUT:
        if (ctx->post) {
            ngx_http_guichet_logout_post(r, ctx);
        } else {
            ngx_http_guichet_logout_get(r, ctx);
        }
        break;

    case NGX_HTTP_GUICHET_R_SESSION:
        ngx_http_guichet_session_get(r, ctx);
        break;

    default: /* NGX_HTTP_GUICHET_R_CSS */
        ctx->status = NGX_HTTP_OK;
        ctx->page = NGX_HTTP_GUICHET_P_CSS;
        ngx_http_guichet_ep_finish(r, ctx);
        break;
    }
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
    ssize_t       n;
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

    if (size > NGX_HTTP_GUICHET_BODY_MAX) {
        return NGX_DECLINED;
    }

    ctx->body = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (ctx->body == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) ctx->body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    *p = '\0';
    ctx->body_len = p - (u_char *) ctx->body;

    return NGX_OK;
}


/* ------------------------------------------------------------- cookies */

/*
 * Looks for cookie "name" in every Cookie header: absent, empty,
 * malformed or present twice (a cookie planted by a sibling site) all
 * give NGX_DECLINED.
 */

static ngx_int_t
ngx_http_guichet_ep_cookie(ngx_http_request_t *r, const char *name,
    char *out, size_t outsize)
{
    int                rc;
    size_t             len;
    ngx_uint_t         i, found;
    ngx_table_elt_t  **h;
    char               tmp[AC_COOKIE_VALUE_MAX + 1];

    found = 0;
    out[0] = '\0';
    h = r->headers_in.cookies.elts;

    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        rc = ac_cookie_get((char *) h[i]->value.data, h[i]->value.len, name,
                           tmp, sizeof(tmp), &len);

        if (rc == AC_ERR_NOT_FOUND) {
            continue;
        }

        if (rc != AC_OK || found || len >= outsize) {
            ac_cleanse(tmp, sizeof(tmp));
            out[0] = '\0';
            return NGX_DECLINED;
        }

        ngx_memcpy(out, tmp, len + 1);
        found = 1;
    }

    ac_cleanse(tmp, sizeof(tmp));

    return found ? NGX_OK : NGX_DECLINED;
}


/* "__Host-" names over TLS: no other site of the domain can set them */

static const char *
ngx_http_guichet_ep_cookie_name(ngx_http_guichet_ep_ctx_t *ctx,
    const char *name)
{
    if (ngx_strcmp(name, "guichet") == 0) {
        return ctx->secure ? "__Host-guichet" : "guichet";
    }

    if (ngx_strcmp(name, "guichet_pending") == 0) {
        return ctx->secure ? "__Host-guichet_pending" : "guichet_pending";
    }

    return ctx->secure ? "__Host-guichet_csrf" : "guichet_csrf";
}


static ngx_int_t
ngx_http_guichet_ep_set_cookie(ngx_http_guichet_ep_ctx_t *ctx,
    const char *name, const char *value, int64_t max_age)
{
    if (ctx->ncookies >= NGX_HTTP_GUICHET_COOKIES) {
        return NGX_ERROR;
    }

    if (ac_cookie_format(ngx_http_guichet_ep_cookie_name(ctx, name), value,
                         max_age, (int) ctx->secure,
                         ctx->set_cookie[ctx->ncookies], AC_SET_COOKIE_MAX)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    ctx->ncookies++;

    return NGX_OK;
}


/* --------------------------------------------------------------- forms */

static ngx_int_t
ngx_http_guichet_ep_field(ngx_http_guichet_ep_ctx_t *ctx, const char *name,
    char *out, size_t outsize, size_t *outlen)
{
    size_t  len;

    if (ac_form_get(ctx->body, ctx->body_len, name, out, outsize, &len)
        != AC_OK)
    {
        out[0] = '\0';
        if (outlen) {
            *outlen = 0;
        }
        return NGX_DECLINED;
    }

    if (outlen) {
        *outlen = len;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_ep_csrf(ngx_http_request_t *r,
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


/* ------------------------------------------------------------- answers */

static void
ngx_http_guichet_ep_finish(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_finalize_request(r, ngx_http_guichet_ep_send(r, ctx));
}


static void
ngx_http_guichet_ep_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    /* nothing half-done may reach the browser: no cookie, no redirect */
    ctx->ncookies = 0;
    ctx->location = NULL;
    ctx->retry_after = 0;
    ctx->status = NGX_HTTP_SERVICE_UNAVAILABLE;

    if (ctx->route == NGX_HTTP_GUICHET_R_SESSION) {
        ctx->page = NGX_HTTP_GUICHET_P_JSON;
        ac_buf_reset(&ctx->json);
        ac_buf_str(&ctx->json, "{\"error\":\"unavailable\",\"message\":"
                               "\"the service is unavailable, try again "
                               "later\"}\n");

    } else {
        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Service unavailable";
        ctx->message = "The service is unavailable. Please try again in a "
                       "moment.";
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_ep_redirect(ngx_http_guichet_ep_ctx_t *ctx,
    const char *location)
{
    ctx->status = NGX_HTTP_SEE_OTHER;
    ctx->page = NGX_HTTP_GUICHET_P_NONE;
    ctx->location = location;
}


static ngx_int_t
ngx_http_guichet_ep_send(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t              i, n;
    u_char             *p;
    ngx_int_t           rc;
    ngx_buf_t          *b;
    ac_buf_t            page;
    ngx_chain_t         out;
    const ac_header_t  *sh;

    ac_buf_init(&page);

    if (ngx_http_guichet_ep_render(r, ctx, &page) != NGX_OK) {
        ac_buf_free(&page);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ac_buf_free(&page);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (page.len) {
        p = ngx_pnalloc(r->pool, page.len);
        if (p == NULL) {
            ac_buf_free(&page);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, page.data, page.len);
        b->pos = p;
        b->last = p + page.len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ac_buf_free(&page);

    sh = ac_security_headers(&n);

    for (i = 0; i < n; i++) {
        if (ngx_http_guichet_ep_header(r, sh[i].name, (u_char *) sh[i].value,
                                       ngx_strlen(sh[i].value))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    for (i = 0; i < ctx->ncookies; i++) {
        if (ngx_http_guichet_ep_header(r, "Set-Cookie",
                                       (u_char *) ctx->set_cookie[i],
                                       ngx_strlen(ctx->set_cookie[i]))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* kept relative: nginx would make r->headers_out.location absolute */
    if (ctx->location
        && ngx_http_guichet_ep_header(r, "Location",
                                      (u_char *) ctx->location,
                                      ngx_strlen(ctx->location))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->retry_after > 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_guichet_ep_header(r, "Retry-After", p,
                                       ngx_sprintf(p, "%L", ctx->retry_after)
                                       - p)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.status = ctx->status;
    r->headers_out.content_length_n = b->last - b->pos;

    switch (ctx->page) {

    case NGX_HTTP_GUICHET_P_JSON:
        ngx_str_set(&r->headers_out.content_type, "application/json");
        break;

    case NGX_HTTP_GUICHET_P_CSS:
        ngx_str_set(&r->headers_out.content_type, "text/css");
        break;

    default:
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
        break;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (b->last == b->pos && !b->last_buf) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_guichet_ep_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_buf_t *out)
{
    int                            rc;
    size_t                         n;
    u_char                         status[NGX_INT_T_LEN + 1];
    ngx_str_t                     *tpl;
    ac_tvar_t                      vars[NGX_HTTP_GUICHET_TVARS];
    const char                    *binding, *form;
    char                           csrf[AC_CSRF_TOKEN_MAX + 1];
    ngx_http_guichet_pages_t      *pages;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    pages = gmcf->pages;

    csrf[0] = '\0';
    binding = NULL;
    form = NULL;

    switch (ctx->page) {

    case NGX_HTTP_GUICHET_P_NONE:
        return NGX_OK;

    case NGX_HTTP_GUICHET_P_JSON:
        if (ac_buf_status(&ctx->json) != AC_OK) {
            return NGX_ERROR;
        }

        ac_buf_add(out, ctx->json.data, ctx->json.len);
        return ac_buf_status(out) == AC_OK ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_GUICHET_P_CSS:
        ac_buf_add(out, pages->css.data, pages->css.len);
        return ac_buf_status(out) == AC_OK ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_GUICHET_P_LOGIN:
        tpl = &pages->login;
        binding = ctx->csrf_cookie;
        form = "login";
        break;

    case NGX_HTTP_GUICHET_P_2FA:
        tpl = &pages->twofa;
        binding = ctx->digest;
        form = "2fa";
        break;

    case NGX_HTTP_GUICHET_P_LOGOUT:
        tpl = &pages->logout;
        binding = ctx->digest;
        form = "logout";
        break;

    default: /* NGX_HTTP_GUICHET_P_ERROR */
        tpl = &pages->error;
        break;
    }

    if (binding && binding[0]
        && ac_csrf_token(gmcf->keys, binding, form, (time_t) ctx->now, csrf)
           != AC_OK)
    {
        return NGX_ERROR;
    }

    n = 0;


    vars[n].name = "base";
    vars[n].value = (char *) ctx->base.data;
    vars[n++].len = ctx->base.len;

    switch (ctx->page) {

    case NGX_HTTP_GUICHET_P_LOGIN:
        ngx_http_guichet_tvar(&vars[n++], "error", ctx->error);
        ngx_http_guichet_tvar(&vars[n++], "csrf", csrf);
        ngx_http_guichet_tvar(&vars[n++], "return_to", ctx->return_to);
        ngx_http_guichet_tvar(&vars[n++], "email", ctx->email);
        break;

    case NGX_HTTP_GUICHET_P_2FA:
        ngx_http_guichet_tvar(&vars[n++], "error", ctx->error);
        ngx_http_guichet_tvar(&vars[n++], "csrf", csrf);
        ngx_http_guichet_tvar(&vars[n++], "return_to", ctx->return_to);
        break;

    case NGX_HTTP_GUICHET_P_LOGOUT:
        ngx_http_guichet_tvar(&vars[n++], "csrf", csrf);
        break;

    default:
        *ngx_sprintf(status, "%ui", ctx->status) = '\0';
        ngx_http_guichet_tvar(&vars[n++], "title", ctx->title);
        ngx_http_guichet_tvar(&vars[n++], "message", ctx->message);
        ngx_http_guichet_tvar(&vars[n++], "status", (char *) status);
        break;
    }

    rc = ac_template_render((char *) tpl->data, tpl->len, vars, n, out);

    ac_cleanse(csrf, sizeof(csrf));

    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: page rendering failed: %s", ac_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_guichet_tvar(ac_tvar_t *var, const char *name, const char *value)
{
    var->name = name;
    var->value = value;
    var->len = value ? ngx_strlen(value) : 0;
}


static ngx_int_t
ngx_http_guichet_ep_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* ----------------------------------------------------- log and Redis */

static void
ngx_http_guichet_ep_log(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind, const char *reason,
    ngx_uint_t with_account)
{
    ac_event_t  *ev = &ctx->event;

    ngx_memzero(ev, sizeof(ac_event_t));

    ev->kind = kind;

    if (reason) {
        ev->reason = reason;
        ev->reason_len = ngx_strlen(reason);
    }

    if (with_account && ctx->has_account) {
        ev->account = ctx->account.id;
        ev->account_len = ngx_strlen(ctx->account.id);
        ev->email = ctx->account.email;
        ev->email_len = ngx_strlen(ctx->account.email);

    } else if (ctx->email_len) {
        /* as typed, so that the security team sees what was tried */
        ev->email = ctx->email;
        ev->email_len = ctx->email_len;
    }

    ev->ip = (char *) r->connection->addr_text.data;
    ev->ip_len = r->connection->addr_text.len;

    if (r->headers_in.user_agent) {
        ev->ua = (char *) r->headers_in.user_agent->value.data;
        ev->ua_len = r->headers_in.user_agent->value.len;
    }

    if (ctx->new_digest[0]) {
        ev->session = ctx->new_digest;
        ev->session_len = ngx_strlen(ctx->new_digest);

    } else if (ctx->digest[0] && ctx->route == NGX_HTTP_GUICHET_R_LOGOUT) {
        ev->session = ctx->digest;
        ev->session_len = ngx_strlen(ctx->digest);
    }

    if (ngx_http_guichet_log_event(r, ev, ngx_http_guichet_ep_logged, ctx)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: %s event not logged, answering 503",
                      ac_event_name(kind));
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

    } else {
        ngx_http_guichet_ep_finish(r, ctx);
    }

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_guichet_ep_redis(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd,
    ngx_http_guichet_redis_handler_pt handler)
{
    if (ngx_http_guichet_redis_send(r, cmd, handler, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: redis unavailable, answering 503");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Common checks of a reply: NGX_ERROR after answering 503. */

static ngx_int_t
ngx_http_guichet_ep_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    if (rc != NGX_OK || reply == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: redis did not answer, answering 503");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: redis error \"%*s\", answering 503",
                      (size_t) ngx_min(reply->len, 200), reply->str);
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
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


/* --------------------------------------------------------------- login */

static void
ngx_http_guichet_login_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char  value[AC_RETURN_TO_MAX * 3 + 1];

    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (r->args.len == 0
        || ac_form_get((char *) r->args.data, r->args.len, "return_to",
                       value, sizeof(value), NULL)
           != AC_OK)
    {
        value[0] = '\0';
    }

    (void) ac_return_to(gmcf->ac, value, ngx_strlen(value), ctx->return_to,
                        sizeof(ctx->return_to));

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                                "guichet_csrf"),
                                   ctx->csrf_cookie, sizeof(ctx->csrf_cookie))
        != NGX_OK
        || ngx_strlen(ctx->csrf_cookie) != AC_TOKEN_LEN)
    {
        if (ac_csrf_cookie_new(ctx->csrf_cookie) != AC_OK
            || ngx_http_guichet_ep_set_cookie(ctx, "guichet_csrf",
                                              ctx->csrf_cookie, -1)
               != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    ctx->status = NGX_HTTP_OK;
    ctx->page = NGX_HTTP_GUICHET_P_LOGIN;

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_login_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           value[AC_RETURN_TO_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    (void) ngx_http_guichet_ep_field(ctx, "email", ctx->email,
                                     sizeof(ctx->email), &ctx->email_len);

    (void) ngx_http_guichet_ep_field(ctx, "return_to", value, sizeof(value),
                                     NULL);
    (void) ac_return_to(gmcf->ac, value, ngx_strlen(value), ctx->return_to,
                        sizeof(ctx->return_to));

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                                "guichet_csrf"),
                                   ctx->csrf_cookie, sizeof(ctx->csrf_cookie))
        != NGX_OK
        || ngx_http_guichet_ep_csrf(r, ctx, ctx->csrf_cookie, "login") != NGX_OK)
    {
        ctx->csrf_cookie[0] = '\0';
        ctx->status = NGX_HTTP_FORBIDDEN;
        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Form expired";
        ctx->message = "This form has expired or was not sent by this site. "
                       "Please sign in again.";
        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, "csrf", 0);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "password", ctx->password,
                                  sizeof(ctx->password), &ctx->password_len)
        != NGX_OK)
    {
        ctx->password_len = 0;
    }

    if (ac_throttle_keys(gmcf->ac, gmcf->keys, ctx->email, ctx->email_len,
                         (char *) r->connection->addr_text.data,
                         &ctx->throttle)
        != AC_OK
        || ac_cmd_throttle_check(&cmd, &ctx->throttle, ctx->now) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_login_checked);
}


static void
ngx_http_guichet_login_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t                        wait;
    ac_cmd_t                       cmd;
    char                           norm[AC_EMAIL_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_throttle_parse(reply, &wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (wait > 0) {
        /* the password is not even looked at */
        ctx->status = NGX_HTTP_TOO_MANY_REQUESTS;
        ctx->page = NGX_HTTP_GUICHET_P_LOGIN;
        ctx->error = "Too many failed attempts. Please wait before trying "
                     "again.";
        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "login", 0);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_email_normalize(ctx->email, ctx->email_len, norm) != AC_OK) {
        /* cannot be an account: the same cost as a wrong password */
        ngx_http_guichet_login_hash(r, ctx);
        return;
    }

    if (ac_cmd_account_by_email(&cmd, gmcf->ac, gmcf->keys, norm) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_login_account);
}


static void
ngx_http_guichet_login_account(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int  arc;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    arc = ac_account_parse(reply, NULL, &ctx->account);

    if (arc == AC_OK) {
        ctx->has_account = 1;

    } else if (arc != AC_ERR_NOT_FOUND) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed account record: %s",
                      ac_strerror(arc));
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ngx_http_guichet_login_hash(r, ctx);
}


static void
ngx_http_guichet_login_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_int_t    rc;
    const char  *phc;

    phc = (ctx->has_account && ctx->account.pw[0]) ? ctx->account.pw : NULL;

    rc = ngx_http_guichet_password_verify(r, phc, (u_char *) ctx->password,
                                          ctx->password_len,
                                          ngx_http_guichet_login_hashed, ctx);

    ac_cleanse(ctx->password, sizeof(ctx->password));

    if (rc == NGX_OK) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "guichet: password hashing %s, answering 503",
                  rc == NGX_DECLINED ? "queue is full" : "failed to start");

    ngx_http_guichet_ep_unavailable(r, ctx);
}


static void
ngx_http_guichet_login_hashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    const char                    *reason;
    char                           key[AC_KEY_MAX];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    reason = NULL;

    if (rc != AC_OK && rc != AC_REHASH) {
        reason = "bad_credentials";

    } else if (!ctx->has_account || ctx->account.pw[0] == '\0') {
        reason = "bad_credentials";

    } else if (ctx->account.status != AC_STATUS_ACTIVE) {
        reason = "locked";
    }

    if (reason) {
        if (ac_cmd_throttle_fail(&cmd, gmcf->ac, &ctx->throttle, ctx->now)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }

        /* one page for every failure: nothing tells them apart */
        ctx->status = NGX_HTTP_UNAUTHORIZED;
        ctx->page = NGX_HTTP_GUICHET_P_LOGIN;
        ctx->error = ngx_http_guichet_bad_credentials;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_FAILURE, reason,
                                ctx->has_account);
        return;
    }

    if (ac_cmd_throttle_reset(&cmd, &ctx->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    if (ctx->account.totp[0] == '\0') {
        (void) ngx_http_guichet_session_new(r, ctx, AC_AMR_PWD,
                                            ngx_http_guichet_login_session);
        return;
    }

    /* the password was right, a second factor is due */

    if (ac_token_new(ctx->token) != AC_OK
        || ac_session_digest(gmcf->keys, ctx->token, AC_TOKEN_LEN,
                             ctx->digest)
           != AC_OK
        || ac_key(gmcf->ac, AC_K_PENDING, ctx->digest, key) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "EVAL");
    ac_cmd_arg(&cmd, ngx_http_guichet_pending_create_lua,
               sizeof(ngx_http_guichet_pending_create_lua) - 1);
    ac_cmd_str(&cmd, "1");
    ac_cmd_copy(&cmd, key, ngx_strlen(key));
    ac_cmd_str(&cmd, ctx->account.id);
    ac_cmd_str(&cmd, ctx->return_to);
    ac_cmd_int(&cmd, gmcf->ac->pending_ttl);

    if (ac_cmd_status(&cmd) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_login_pending);
}


static void
ngx_http_guichet_login_pending(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    u_char                        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_http_guichet_ep_url(r, ctx, "2fa");

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx, "guichet_pending", ctx->token,
                                       gmcf->ac->pending_ttl)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_SUCCESS, "2fa_required", 1);
}


/*
 * Creates a session for ctx->account with a fresh token: a new id at
 * every privilege change, so that a planted cookie is worth nothing.
 */

static ngx_int_t
ngx_http_guichet_session_new(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, unsigned amr,
    ngx_http_guichet_redis_handler_pt handler)
{
    size_t                         len;
    ac_cmd_t                       cmd;
    ac_session_t                  *s;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    s = &ctx->session;
    ngx_memzero(s, sizeof(ac_session_t));

    ngx_cpystrn((u_char *) s->account, (u_char *) ctx->account.id,
                sizeof(s->account));
    ngx_cpystrn((u_char *) s->email, (u_char *) ctx->account.email,
                sizeof(s->email));
    s->roles = ctx->account.roles;
    s->amr = amr;
    s->created = ctx->now;
    s->expires = ctx->now + gmcf->ac->session_max;
    s->last_seen = ctx->now;
    s->account_status = -1;

    len = ngx_min(r->connection->addr_text.len, sizeof(s->ip) - 1);
    ngx_memcpy(s->ip, r->connection->addr_text.data, len);
    s->ip[len] = '\0';

    if (r->headers_in.user_agent) {
        len = ngx_min(r->headers_in.user_agent->value.len,
                      sizeof(s->device) - 1);
        ngx_memcpy(s->device, r->headers_in.user_agent->value.data, len);
        s->device[len] = '\0';
    }

    if (ac_token_new(ctx->token) != AC_OK
        || ac_session_digest(gmcf->keys, ctx->token, AC_TOKEN_LEN,
                             ctx->new_digest)
           != AC_OK
        || ac_cmd_session_create(&cmd, gmcf->ac, ctx->new_digest, s) != AC_OK
        || ngx_http_guichet_ep_set_cookie(ctx, "guichet", ctx->token, -1)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_ERROR;
    }

    return ngx_http_guichet_ep_redis(r, ctx, &cmd, handler);
}


static void
ngx_http_guichet_login_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, ctx->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGIN_SUCCESS, NULL, 1);
}


/* ----------------------------------------------------------------- 2fa */

static void
ngx_http_guichet_2fa_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    u_char                        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                             "guichet_pending"),
                                   token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));

        p = ngx_http_guichet_ep_url(r, ctx, "login");
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ac_cleanse(token, sizeof(token));

    ctx->status = NGX_HTTP_OK;
    ctx->page = NGX_HTTP_GUICHET_P_2FA;

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_2fa_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    char                           key[AC_KEY_MAX], prefix[AC_KEY_MAX];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                             "guichet_pending"),
                                   token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        ngx_http_guichet_2fa_get(r, ctx);
        return;
    }

    ac_cleanse(token, sizeof(token));

    if (ngx_http_guichet_ep_csrf(r, ctx, ctx->digest, "2fa") != NGX_OK) {
        ctx->status = NGX_HTTP_FORBIDDEN;
        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Form expired";
        ctx->message = "This form has expired or was not sent by this site. "
                       "Please sign in again.";
        ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, "csrf", 0);
        return;
    }

    (void) ngx_http_guichet_ep_field(ctx, "code", ctx->code,
                                     sizeof(ctx->code), &ctx->code_len);

    if (ac_key(gmcf->ac, AC_K_PENDING, ctx->digest, key) != AC_OK
        || ac_key(gmcf->ac, AC_K_ACCOUNT, "x", prefix) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* "P acct:x" less its "x": the account key prefix */
    prefix[ngx_strlen(prefix) - 1] = '\0';

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "EVAL");
    ac_cmd_arg(&cmd, ngx_http_guichet_pending_get_lua,
               sizeof(ngx_http_guichet_pending_get_lua) - 1);
    ac_cmd_str(&cmd, "1");
    ac_cmd_copy(&cmd, key, ngx_strlen(key));
    ac_cmd_copy(&cmd, prefix, ngx_strlen(prefix));

    if (ac_cmd_status(&cmd) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_state);
}


static void
ngx_http_guichet_2fa_state(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    size_t                         i;
    u_char                        *p;
    ac_cmd_t                       cmd;
    char                           account[AC_ID_LEN + 1];
    redisReply                    *pending, *e;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        /* expired or destroyed: sign in again */
        p = ngx_http_guichet_ep_url(r, ctx, "login");
        if (p == NULL
            || ngx_http_guichet_ep_set_cookie(ctx, "guichet_pending", "", 0)
               != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_redirect(ctx, (char *) p);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    pending = reply->element[0];
    account[0] = '\0';

    if (pending->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i + 1 < pending->elements; i += 2) {
            e = pending->element[i];

            if (e->type != REDIS_REPLY_STRING || e->len != 1) {
                continue;
            }

            if (e->str[0] == 'a'
                && pending->element[i + 1]->len <= AC_ID_LEN)
            {
                ngx_memcpy(account, pending->element[i + 1]->str,
                           pending->element[i + 1]->len);
                account[pending->element[i + 1]->len] = '\0';

            } else if (e->str[0] == 'r') {
                (void) ac_return_to(gmcf->ac, pending->element[i + 1]->str,
                                    pending->element[i + 1]->len,
                                    ctx->return_to, sizeof(ctx->return_to));
            }
        }
    }

    if (ctx->return_to[0] == '\0') {
        ngx_memcpy(ctx->return_to, "/", 2);
    }

    if (account[0] == '\0'
        || ac_account_parse(reply->element[1], account, &ctx->account)
           != AC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: pending state without a usable account");
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ctx->has_account = 1;

    if (ac_throttle_keys(gmcf->ac, gmcf->keys, ctx->account.email,
                         ngx_strlen(ctx->account.email),
                         (char *) r->connection->addr_text.data,
                         &ctx->throttle)
        != AC_OK
        || ac_cmd_throttle_check(&cmd, &ctx->throttle, ctx->now) != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_checked);
}


static void
ngx_http_guichet_2fa_checked(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    size_t                         i, len;
    int64_t                        wait, step;
    ac_cmd_t                       cmd;
    ngx_uint_t                     digits;
    unsigned char                  secret[AC_TOTP_SECRET_LEN + 16];
    char                           digest[AC_DIGEST_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_throttle_parse(reply, &wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (wait > 0) {
        ctx->status = NGX_HTTP_TOO_MANY_REQUESTS;
        ctx->page = NGX_HTTP_GUICHET_P_2FA;
        ctx->error = "Too many wrong codes. Please wait before trying again.";
        ctx->retry_after = wait;
        ngx_http_guichet_ep_log(r, ctx, AC_EV_THROTTLED, "2fa", 1);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    digits = (ctx->code_len == AC_TOTP_DIGITS);

    for (i = 0; i < ctx->code_len; i++) {
        if (ctx->code[i] < '0' || ctx->code[i] > '9') {
            digits = 0;
        }
    }

    if (digits) {
        if (ctx->account.totp[0] == '\0') {
            ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
            return;
        }

        arc = ac_unseal(gmcf->keys, ctx->account.totp, ctx->account.id,
                        secret, sizeof(secret), &len);
        if (arc != AC_OK) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                          "guichet: TOTP secret of account %s unusable: %s",
                          ctx->account.id, ac_strerror(arc));
            ngx_http_guichet_ep_unavailable(r, ctx);
            return;
        }

        arc = ac_totp_verify(secret, len, ctx->code, ctx->code_len,
                             (time_t) ctx->now, AC_TOTP_WINDOW,
                             ctx->account.totp_step, &step);

        ac_cleanse(secret, sizeof(secret));

        if (arc == AC_ERR_REPLAY) {
            ngx_http_guichet_2fa_failure(r, ctx, "replay");
            return;
        }

        if (arc != AC_OK) {
            ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
            return;
        }

        /* another worker may have taken this step meanwhile */
        if (ac_cmd_totp_step(&cmd, gmcf->ac, ctx->account.id, step)
            != AC_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->method = "totp";

        (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                         ngx_http_guichet_2fa_step);
        return;
    }

    if (ac_recovery_digest(gmcf->keys, ctx->code, ctx->code_len, digest)
        != AC_OK)
    {
        ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
        return;
    }

    if (ac_cmd_recovery_use(&cmd, gmcf->ac, ctx->account.id, digest)
        != AC_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->method = "recovery";

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_recovery);
}


static void
ngx_http_guichet_2fa_step(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t  v;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        ngx_http_guichet_2fa_failure(r, ctx, "replay");
        return;
    }

    ngx_http_guichet_2fa_success(r, ctx);
}


static void
ngx_http_guichet_2fa_recovery(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t  v;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_reply_integer(reply, &v) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    if (v != 1) {
        ngx_http_guichet_2fa_failure(r, ctx, "bad_code");
        return;
    }

    ngx_http_guichet_2fa_success(r, ctx);
}


static void
ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           key[AC_KEY_MAX];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_key(gmcf->ac, AC_K_PENDING, ctx->digest, key) == AC_OK) {
        ac_cmd_init(&cmd);
        ac_cmd_str(&cmd, "DEL");
        ac_cmd_copy(&cmd, key, ngx_strlen(key));
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    if (ac_cmd_throttle_reset(&cmd, &ctx->throttle) == AC_OK) {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    if (ngx_http_guichet_ep_set_cookie(ctx, "guichet_pending", "", 0)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_session_new(r, ctx, AC_AMR_PWD|AC_AMR_OTP,
                                        ngx_http_guichet_2fa_session);
}


static void
ngx_http_guichet_2fa_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    ngx_http_guichet_ep_redirect(ctx, ctx->return_to);
    ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_SUCCESS, ctx->method, 1);
}


static void
ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason)
{
    ac_cmd_t                       cmd;
    char                           key[AC_KEY_MAX];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_cmd_throttle_fail(&cmd, gmcf->ac, &ctx->throttle, ctx->now)
        == AC_OK)
    {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    ctx->method = reason;

    if (ac_key(gmcf->ac, AC_K_PENDING, ctx->digest, key) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ac_cmd_init(&cmd);
    ac_cmd_str(&cmd, "EVAL");
    ac_cmd_arg(&cmd, ngx_http_guichet_pending_fail_lua,
               sizeof(ngx_http_guichet_pending_fail_lua) - 1);
    ac_cmd_str(&cmd, "1");
    ac_cmd_copy(&cmd, key, ngx_strlen(key));
    ac_cmd_int(&cmd, NGX_HTTP_GUICHET_2FA_TRIES);

    if (ac_cmd_status(&cmd) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_2fa_counted);
}


static void
ngx_http_guichet_2fa_counted(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int64_t  n;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ac_reply_integer(reply, &n) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return;
    }

    ctx->status = NGX_HTTP_UNAUTHORIZED;

    if (n < 0 || n >= NGX_HTTP_GUICHET_2FA_TRIES) {
        /* the pending state is gone: back to the password */
        if (ngx_http_guichet_ep_set_cookie(ctx, "guichet_pending", "", 0)
            != NGX_OK)
        {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Too many wrong codes";
        ctx->message = "Too many wrong codes were entered. Please sign in "
                       "again.";
        ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, "too_many", 1);
        return;
    }

    ctx->page = NGX_HTTP_GUICHET_P_2FA;
    ctx->error = "That code is not valid. Please try again.";
    ngx_http_guichet_ep_log(r, ctx, AC_EV_2FA_FAILURE, ctx->method, 1);
}


/* -------------------------------------------------------------- logout */

static void
ngx_http_guichet_logout_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                                 "guichet"),
                                   token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ac_cleanse(token, sizeof(token));

    ctx->status = NGX_HTTP_OK;
    ctx->page = NGX_HTTP_GUICHET_P_LOGOUT;

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_logout_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           all[4];
    ac_cmd_t                       cmd;
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                                 "guichet"),
                                   token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        /* no session to end: nothing a forged form could do */
        ac_cleanse(token, sizeof(token));
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ac_cleanse(token, sizeof(token));

    if (ngx_http_guichet_ep_csrf(r, ctx, ctx->digest, "logout") != NGX_OK) {
        ctx->status = NGX_HTTP_FORBIDDEN;
        ctx->page = NGX_HTTP_GUICHET_P_ERROR;
        ctx->title = "Form expired";
        ctx->message = "This form has expired or was not sent by this site. "
                       "Please try again.";
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "all", all, sizeof(all), NULL)
        == NGX_OK
        && ngx_strcmp(all, "1") == 0)
    {
        ctx->all = 1;
    }

    if (ac_cmd_session_get(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_logout_session);
}


static void
ngx_http_guichet_logout_session(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_session_parse(reply, &ctx->session);

    if (arc != AC_OK) {
        /* already over */
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ctx->has_account = 1;
    ngx_cpystrn((u_char *) ctx->account.id, (u_char *) ctx->session.account,
                sizeof(ctx->account.id));
    ngx_cpystrn((u_char *) ctx->account.email,
                (u_char *) ctx->session.email, sizeof(ctx->account.email));

    if (ctx->all) {
        arc = ac_cmd_sessions_end_all(&cmd, gmcf->ac, ctx->session.account);

    } else {
        arc = ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                    ctx->session.account);
    }

    if (arc != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_logout_done);
}


static void
ngx_http_guichet_logout_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    if (ctx->all) {
        /* the session in use may predate the index entry: end it too */
        gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

        if (ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                  ctx->session.account)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }
    }

    if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGOUT, ctx->all ? "all" : NULL,
                            1);
}


static ngx_int_t
ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char  *p;

    p = ngx_http_guichet_ep_url(r, ctx, "login");

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx, "guichet", "", 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    return NGX_OK;
}


/* base + route, NUL-terminated: "/guichet/login" */

static u_char *
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


/* ------------------------------------------------------------- session */

static void
ngx_http_guichet_session_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_cmd_t                       cmd;
    char                           token[AC_COOKIE_VALUE_MAX + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ngx_http_guichet_ep_cookie(r, ngx_http_guichet_ep_cookie_name(ctx,
                                                                 "guichet"),
                                   token, sizeof(token))
        != NGX_OK
        || ac_session_digest(gmcf->keys, token, ngx_strlen(token),
                             ctx->digest)
           != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        ngx_http_guichet_session_json_error(ctx);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ac_cleanse(token, sizeof(token));

    if (ac_cmd_session_get(&cmd, gmcf->ac, ctx->digest) != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_session_got);
}


static void
ngx_http_guichet_session_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_buf_t      *b;
    const char    *amr;
    ac_session_t  *s;
    char           roles[AC_ROLES_MAX];

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    s = &ctx->session;

    if (ac_session_parse(reply, s) != AC_OK
        || s->expires <= ctx->now
        || s->account_status != AC_STATUS_ACTIVE)
    {
        ngx_http_guichet_session_json_error(ctx);
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ac_roles_format(s->roles, roles);
    amr = ac_amr_name(s->amr);

    b = &ctx->json;

    ac_buf_str(b, "{\"user\":");
    ac_buf_json_str(b, s->account, ngx_strlen(s->account));
    ac_buf_str(b, ",\"email\":");
    ac_buf_json_str(b, s->email, ngx_strlen(s->email));
    ac_buf_str(b, ",\"roles\":");
    ac_buf_json_str(b, roles, ngx_strlen(roles));
    ac_buf_str(b, ",\"amr\":");
    ac_buf_json_str(b, amr, ngx_strlen(amr));
    ac_buf_str(b, ",\"partner\":");

    if (s->partner[0]) {
        ac_buf_json_str(b, s->partner, ngx_strlen(s->partner));

    } else {
        ac_buf_str(b, "null");
    }

    ac_buf_printf(b, ",\"created_at\":%lld,\"expires_at\":%lld}\n",
                  (long long) s->created, (long long) s->expires);

    ctx->status = NGX_HTTP_OK;
    ctx->page = NGX_HTTP_GUICHET_P_JSON;

    ngx_http_guichet_ep_finish(r, ctx);
}


static void
ngx_http_guichet_session_json_error(ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_buf_reset(&ctx->json);
    ac_buf_str(&ctx->json, "{\"error\":\"unauthenticated\",\"message\":"
                           "\"no valid session\"}\n");

    ctx->status = NGX_HTTP_UNAUTHORIZED;
    ctx->page = NGX_HTTP_GUICHET_P_JSON;
}


/* ------------------------------------------------------- configuration */

ngx_int_t
ngx_http_guichet_endpoints_init(ngx_conf_t *cf)
{
    ngx_http_guichet_pages_t      *pages;
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

    pages = ngx_pcalloc(cf->pool, sizeof(ngx_http_guichet_pages_t));
    if (pages == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_guichet_pages_load(cf, pages) != NGX_OK) {
        return NGX_ERROR;
    }

    gmcf->pages = pages;

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_pages_load(ngx_conf_t *cf, ngx_http_guichet_pages_t *pages)
{
    if (ngx_http_guichet_page_load(cf, "login.html",
                                   ngx_http_guichet_login_vars,
                                   sizeof(ngx_http_guichet_login_vars)
                                   / sizeof(char *),
                                   &pages->login)
        != NGX_OK
        || ngx_http_guichet_page_load(cf, "2fa.html",
                                      ngx_http_guichet_2fa_vars,
                                      sizeof(ngx_http_guichet_2fa_vars)
                                      / sizeof(char *),
                                      &pages->twofa)
           != NGX_OK
        || ngx_http_guichet_page_load(cf, "logout.html",
                                      ngx_http_guichet_logout_vars,
                                      sizeof(ngx_http_guichet_logout_vars)
                                      / sizeof(char *),
                                      &pages->logout)
           != NGX_OK
        || ngx_http_guichet_page_load(cf, "error.html",
                                      ngx_http_guichet_error_vars,
                                      sizeof(ngx_http_guichet_error_vars)
                                      / sizeof(char *),
                                      &pages->error)
           != NGX_OK
        || ngx_http_guichet_page_load(cf, "guichet.css", NULL, 0,
                                      &pages->css)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_page_load(ngx_conf_t *cf, const char *name,
    const char *const *vars, size_t nvars, ngx_str_t *out)
{
    int              rc;
    u_char          *path;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ac_error_t       err;
    ngx_file_info_t  fi;

    path = ngx_pnalloc(cf->pool, sizeof(NGX_HTTP_GUICHET_TEMPLATES "/")
                                 + ngx_strlen(name));
    if (path == NULL) {
        return NGX_ERROR;
    }

    *ngx_sprintf(path, NGX_HTTP_GUICHET_TEMPLATES "/%s", name) = '\0';

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name.data = path;
    file.name.len = ngx_strlen(path);
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 1024 * 1024)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "\"%s\" is unreadable or too large", path);
        goto failed;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, out->data, out->len, 0);
    if (n != (ssize_t) out->len) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"%s\": short read", path);
        goto failed;
    }

    out->data[out->len] = '\0';

    ngx_close_file(fd);

    if (vars == NULL) {
        return NGX_OK;
    }

    ngx_memzero(&err, sizeof(ac_error_t));

    rc = ac_template_check((char *) out->data, out->len, vars, nvars, &err);
    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "template \"%s\": %s", path,
                      err.msg[0] ? err.msg : ac_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;

failed:

    ngx_close_file(fd);
    return NGX_ERROR;
}
