/*
 * Guichet nginx module: the endpoints framework, shared by the route
 * files (ngx_http_guichet_login.c, ...).
 *
 * A request to a "guichet_endpoints" location is matched against the
 * route table of ngx_http_guichet_endpoints.c by the rest of its URI
 * ("login" under "/guichet/") and its method. The framework allocates
 * the request's ctx, reads a bounded body for routes flagged
 * NGX_HTTP_GUICHET_EP_BODY (413 beyond NGX_HTTP_GUICHET_BODY_MAX, or
 * NGX_HTTP_GUICHET_BODY_LARGE for NGX_HTTP_GUICHET_EP_LARGE), sets
 * ctx->now, and calls the route's handler, which owns the request from
 * then on: it must end, directly or at the end of a chain of Redis
 * replies, in exactly one of
 *
 *     ngx_http_guichet_ep_finish()       sends the answer set in ctx;
 *     ngx_http_guichet_ep_log()          logs an event, then sends it;
 *     ngx_http_guichet_ep_unavailable()  sends 503;
 *     ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR).
 *
 * ngx_http_guichet_ep_redis() and ngx_http_guichet_ep_reply() answer
 * 503 themselves when Redis fails: a step that sees NGX_ERROR from them
 * just returns.
 *
 * To add a route:
 *   1. write its handler(s) in a route file, e.g. ngx_http_guichet_sso.c,
 *      and declare them at the end of this file;
 *   2. add one line to ngx_http_guichet_routes[] in
 *      ngx_http_guichet_endpoints.c: { name, methods, flags, handler };
 *      a name may appear on several lines, one per method set;
 *   3. its pages: one line per template in ngx_http_guichet_templates[]
 *      (file, content type, the variable names it may use); templates
 *      are read from "guichet_templates" and checked at configuration
 *      time, and named in ngx_http_guichet_ep_page();
 *   4. the route file's state lives in ctx->route_data, allocated with
 *      ngx_http_guichet_ep_data() from r->pool (with a cleanup that wipes
 *      its secrets);
 *   5. the new file goes to ngx_module/config (ngx_module_srcs).
 */

#ifndef NGX_HTTP_GUICHET_ENDPOINTS_H_INCLUDED_
#define NGX_HTTP_GUICHET_ENDPOINTS_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <authcore.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"


#define NGX_HTTP_GUICHET_BODY_MAX     8192
#define NGX_HTTP_GUICHET_COOKIES      3      /* Set-Cookie lines */
#define NGX_HTTP_GUICHET_TVARS        16     /* variables of one page */

/* route flags */
#define NGX_HTTP_GUICHET_EP_BODY      0x01   /* read the body first */
#define NGX_HTTP_GUICHET_EP_JSON      0x02   /* errors in JSON, not HTML */
#define NGX_HTTP_GUICHET_EP_LARGE     0x04   /* body up to BODY_LARGE */
/* the account routes (ngx_http_guichet_account.c reads the session and
 * the account, then applies these in this order, then the handler) */
#define NGX_HTTP_GUICHET_EP_SESSION   0x08   /* signed in, else the login */
#define NGX_HTTP_GUICHET_EP_CSRF      0x10   /* the "account" form token */
#define NGX_HTTP_GUICHET_EP_CHANGE    0x20   /* 403 for a restricted one */
#define NGX_HTTP_GUICHET_EP_FRESH     0x40   /* a proof within reauth_window */

/* an account page, an account change and an account form */
#define NGX_HTTP_GUICHET_EP_PAGE      NGX_HTTP_GUICHET_EP_SESSION
#define NGX_HTTP_GUICHET_EP_FORM      (NGX_HTTP_GUICHET_EP_SESSION           \
                                       |NGX_HTTP_GUICHET_EP_BODY            \
                                       |NGX_HTTP_GUICHET_EP_CSRF)
#define NGX_HTTP_GUICHET_EP_SECURE    (NGX_HTTP_GUICHET_EP_FORM              \
                                       |NGX_HTTP_GUICHET_EP_CHANGE          \
                                       |NGX_HTTP_GUICHET_EP_FRESH)

#define NGX_HTTP_GUICHET_BODY_LARGE   32768  /* partner API: SPEC 5 */

#define ngx_http_guichet_ep_body_max(ctx)                                    \
    (((ctx)->route->flags & NGX_HTTP_GUICHET_EP_LARGE)                        \
     ? NGX_HTTP_GUICHET_BODY_LARGE : NGX_HTTP_GUICHET_BODY_MAX)


typedef enum {
    NGX_HTTP_GUICHET_ANSWER_NONE = 0,        /* headers only (redirect) */
    NGX_HTTP_GUICHET_ANSWER_PAGE,            /* a template */
    NGX_HTTP_GUICHET_ANSWER_JSON,            /* ctx->json */
    NGX_HTTP_GUICHET_ANSWER_BODY             /* ctx->json, content_type */
} ngx_http_guichet_answer_e;


typedef struct ngx_http_guichet_ep_ctx_s  ngx_http_guichet_ep_ctx_t;

typedef void (*ngx_http_guichet_ep_handler_pt)(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


typedef struct {
    ngx_str_t                        name;     /* URI after the base */
    ngx_uint_t                       methods;  /* NGX_HTTP_GET|... */
    ngx_uint_t                       flags;    /* NGX_HTTP_GUICHET_EP_* */
    ngx_http_guichet_ep_handler_pt   handler;
} ngx_http_guichet_route_t;


struct ngx_http_guichet_ep_ctx_s {
    const ngx_http_guichet_route_t  *route;
    ngx_uint_t                       post;
    ngx_uint_t                       secure;     /* TLS: __Host- cookies */
    ngx_str_t                        base;       /* "/guichet/" */
    int64_t                          now;

    char                            *body;       /* NUL-terminated */
    size_t                           body_len;

    /* cookies and sessions */
    char                             csrf_cookie[AC_COOKIE_VALUE_MAX + 1];
    char                             digest[AC_DIGEST_LEN + 1];
    char                             new_digest[AC_DIGEST_LEN + 1];
    char                             cookie_account[AC_ID_LEN + 1];
    ngx_uint_t                       session_found;
    ngx_uint_t                       session_valid;
    ngx_uint_t                       fresh_proof;  /* every factor given */
    ac_session_t                     session;

    /* who the events are about */
    ngx_uint_t                       has_account;
    char                             account[AC_ID_LEN + 1];
    char                             account_email[AC_EMAIL_MAX + 1];
    char                             email[AC_EMAIL_MAX + 1]; /* as typed */
    size_t                           email_len;
    char                             partner[AC_PARTNER_ID_MAX + 1];
    const char                      *event_session;  /* default new_digest */

    /* the answer */
    ngx_uint_t                       status;
    ngx_http_guichet_answer_e        answer;
    ngx_uint_t                       page;       /* template index */
    ac_tvar_t                        vars[NGX_HTTP_GUICHET_TVARS];
    ngx_uint_t                       nvars;
    ngx_uint_t                       vars_overflow;
    u_char                           status_text[NGX_INT_T_LEN + 1];
    const char                      *location;
    int64_t                          retry_after;
    ac_buf_t                         json;       /* JSON or other body */
    const char                      *content_type;
    char                             set_cookie[NGX_HTTP_GUICHET_COOKIES]
                                               [AC_SET_COOKIE_MAX];
    ngx_uint_t                       ncookies;
    ac_event_t                       event;

    ngx_http_guichet_ep_handler_pt   next;       /* after a lookup or log */
    void                            *route_data; /* the route file's */
    void                            *passkey;    /* a passkey ceremony */
    ngx_http_guichet_ep_handler_pt   hashed;     /* see ep_hash() */
};


/* ---------------------------------------------------- the request */

/* Allocates ctx->route_data (zeroed, from r->pool); "cleanup" (may be
 * NULL) is called with it when the request is freed. */
void *ngx_http_guichet_ep_data(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, size_t size,
    ngx_pool_cleanup_pt cleanup);

/* Form fields: ac_form_get() of the body, of the query string, or of
 * the body for a POST and the query otherwise. NGX_DECLINED (and out
 * empty) when absent, malformed or too long. outlen may be NULL. */
ngx_int_t ngx_http_guichet_ep_field(ngx_http_guichet_ep_ctx_t *ctx,
    const char *name, char *out, size_t outsize, size_t *outlen);
ngx_int_t ngx_http_guichet_ep_arg(ngx_http_request_t *r, const char *name,
    char *out, size_t outsize, size_t *outlen);
ngx_int_t ngx_http_guichet_ep_param(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name, char *out,
    size_t outsize, size_t *outlen);

/* Cookies: absent, empty, malformed or sent twice give NGX_DECLINED. */
ngx_int_t ngx_http_guichet_ep_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_cookie_e kind,
    char *out, size_t outsize);
/* Adds a Set-Cookie line: max_age -1 for a browser-session cookie, 0
 * with "" to clear it. */
ngx_int_t ngx_http_guichet_ep_set_cookie(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_cookie_e kind, const char *value, int64_t max_age);

/* CSRF. Before a session the binding is ctx->csrf_cookie: read it, and
 * with "create" mint one (and its Set-Cookie) when it is missing. Once
 * logged in (or with a pending 2FA) the binding is ctx->digest. */
ngx_int_t ngx_http_guichet_ep_csrf_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t create);
/* Checks the "csrf" field of the body for this binding and form. */
ngx_int_t ngx_http_guichet_ep_csrf_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *binding, const char *form);
/* Sets the page variable "csrf" to a fresh token ("" without binding). */
ngx_int_t ngx_http_guichet_ep_csrf_var(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *binding, const char *form);

/* The digest of the session (or pending) cookie into ctx->digest;
 * NGX_DECLINED when there is no usable cookie. */
ngx_int_t ngx_http_guichet_ep_digest(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_cookie_e kind);
/*
 * Reads session ctx->digest (the session cookie's unless set) and its
 * account status from Redis, then calls next(r, ctx) with
 * ctx->session_found (the session exists) and ctx->session_valid (not
 * expired, account active; ctx->session filled, ctx->account and
 * ctx->account_email set). Without a cookie next is called at once;
 * when Redis fails it answers 503 and next is not called.
 */
void ngx_http_guichet_ep_current_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next);
/*
 * Creates a session with a fresh token (a new id at every privilege
 * change) for account/email/roles, with amr and partner ("" or NULL for
 * none): fills ctx->session and ctx->new_digest, adds the session
 * Set-Cookie, sends the command; "handler" gets the reply. NGX_ERROR
 * after having answered.
 */
ngx_int_t ngx_http_guichet_ep_session_create(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *email,
    unsigned roles, unsigned amr, const char *partner,
    ngx_http_guichet_redis_handler_pt handler);

/* Notes the account the events are about. */
void ngx_http_guichet_ep_account(ngx_http_guichet_ep_ctx_t *ctx,
    const char *id, const char *email);

/* base + route, NUL-terminated, from r->pool: "/guichet/login". */
u_char *ngx_http_guichet_ep_url(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route);


/* ------------------------------------------------------ answers */

/* An HTML page (or a static file such as the CSS) from template "name"
 * of ngx_http_guichet_templates[]; "base" is always set, the others are
 * added with ngx_http_guichet_ep_var(). Forgets earlier variables. */
void ngx_http_guichet_ep_page(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status, const char *name);
/* A variable of the page; value (NULL: empty) must live until sent. */
void ngx_http_guichet_ep_var(ngx_http_guichet_ep_ctx_t *ctx,
    const char *name, const char *value);
/* The error page: title, message, status. */
void ngx_http_guichet_ep_error(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status, const char *title, const char *message);
/* JSON: ctx->json holds the body. */
void ngx_http_guichet_ep_json(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status);
/* Another body built in ctx->json, sent with this content type. */
void ngx_http_guichet_ep_body(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status, const char *content_type);
/*
 * A template a route renders itself, in parts or with repeated rows:
 * tpl_get() gives its text and every name it may use, all empty but
 * "base"; tpl_set()/tpl_str() give one a value, tpl_clear() empties them
 * again; tpl_render() appends the whole template; tpl_rows() appends it
 * with the part between "<!-- marker -->" and "<!-- /marker -->"
 * repeated n times, row(data, i, t) setting that row's values first.
 */
typedef struct ngx_http_guichet_tpl_s  ngx_http_guichet_tpl_t;

struct ngx_http_guichet_tpl_s {
    ngx_str_t                        text;
    ac_tvar_t                       *vars;
    ngx_uint_t                       nvars;
};

ngx_int_t ngx_http_guichet_tpl_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name,
    ngx_http_guichet_tpl_t *t);
void ngx_http_guichet_tpl_clear(ngx_http_guichet_tpl_t *t);
void ngx_http_guichet_tpl_set(ngx_http_guichet_tpl_t *t, const char *name,
    const char *value, size_t len);
void ngx_http_guichet_tpl_str(ngx_http_guichet_tpl_t *t, const char *name,
    const char *value);
ngx_int_t ngx_http_guichet_tpl_render(ngx_http_guichet_tpl_t *t,
    ac_buf_t *out);
ngx_int_t ngx_http_guichet_tpl_rows(ngx_http_guichet_tpl_t *t,
    const char *marker, ngx_int_t (*row)(void *data, ngx_uint_t i,
    ngx_http_guichet_tpl_t *t), void *data, ngx_uint_t n, ac_buf_t *out);
/* {"error":code,"message":message}, both JSON-escaped. */
void ngx_http_guichet_ep_json_error(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status, const char *code, const char *message);
/* 303 to a location of ours (kept relative). */
void ngx_http_guichet_ep_redirect(ngx_http_guichet_ep_ctx_t *ctx,
    const char *location);
/* 303 to a user-given return_to once checked by ac_return_to() ("/"
 * when refused); NGX_ERROR without memory. */
ngx_int_t ngx_http_guichet_ep_redirect_return_to(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *value, size_t len);

/* ngx_http_guichet_page.c: the templates, read and checked once at
 * configuration time, and the answers */
ngx_int_t ngx_http_guichet_pages_init(ngx_conf_t *cf,
    ngx_http_guichet_main_conf_t *gmcf);
/* Sends the answer set in ctx (security headers always); for the
 * handler's first pass, without finalizing. */
ngx_int_t ngx_http_guichet_ep_send(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* Sends the answer set in ctx (security headers always) and finalizes. */
void ngx_http_guichet_ep_finish(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* 503 without cookies or redirect, in JSON for EP_JSON routes. */
void ngx_http_guichet_ep_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* The reply of a throttle reservation (ac_cmd_throttle_reserve): NGX_OK
 * with *wait (0: go on, else the seconds to wait), or NGX_DONE once
 * answered (Redis unavailable: 503). */
ngx_int_t ngx_http_guichet_ep_wait_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc,
    int64_t *wait);
/* The 503 of a hashing task that did not start ("rc" of
 * ngx_http_guichet_password_hash/verify: NGX_DECLINED, the queue is
 * full), with its error-log line. */
void ngx_http_guichet_ep_hash_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_int_t rc);
/* A new password's hash: pw (len bytes, then wiped over size) hashed
 * into phc (AC_PHC_MAX bytes, living as long as the request) off the
 * event loop, then "next"; a task that cannot start answers 503, a
 * failed hash 500, each with its error-log line. */
void ngx_http_guichet_ep_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, char *pw, size_t size, size_t len,
    char *phc, ngx_http_guichet_ep_handler_pt next);


/* --------------------------------------------------- log and Redis */

/*
 * Appends event "kind" to the connection log (with the account of
 * ngx_http_guichet_ep_account() when with_account, else the email as
 * typed; IP, user agent, partner, session), then calls next (NULL:
 * sends the answer). If it cannot be logged: 503.
 */
void ngx_http_guichet_ep_log_then(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind,
    const char *reason, ngx_uint_t with_account,
    ngx_http_guichet_ep_handler_pt next);
void ngx_http_guichet_ep_log(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_event_kind_t kind,
    const char *reason, ngx_uint_t with_account);

/* Sends cmd, the reply going to handler with data = ctx; NGX_ERROR
 * after answering 503. */
ngx_int_t ngx_http_guichet_ep_redis(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd,
    ngx_http_guichet_redis_handler_pt handler);
/* First lines of a reply handler: NGX_ERROR after answering 503 for no
 * reply or an error reply. */
ngx_int_t ngx_http_guichet_ep_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc);
/* A command whose reply nobody waits for. */
void ngx_http_guichet_ep_detached(ngx_http_request_t *r, ac_cmd_t *cmd);


/* ----------------------------------------------------- route files */

/* ngx_http_guichet_login.c: login, 2fa, logout, session */
void ngx_http_guichet_login_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_login_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_2fa_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_2fa_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_logout_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_logout_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_session_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/*
 * The pending 2FA state of an account whose first factor passed: a
 * password, or (with "partner") that partner's SSO. Mints the pending
 * token into "token" (AC_TOKEN_LEN + 1) and ctx->digest, stores the
 * state; "handler" gets the reply. NGX_ERROR after having answered.
 * Then ngx_http_guichet_pending_answer() sets the pending cookie and
 * the 303 to "2fa" (NGX_ERROR without memory).
 */
ngx_int_t ngx_http_guichet_pending_create(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, char *token, const char *account,
    const char *return_to, const char *partner,
    ngx_http_guichet_redis_handler_pt handler);
ngx_int_t ngx_http_guichet_pending_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *token);
/* the words for a TOTP code whose time step was already used */
extern const char  ngx_http_guichet_code_used[];


/* ngx_http_guichet_admin.c: the security team's log page */
/* ngx_http_guichet_admin_chart.c: its chart (NGX_DECLINED for an empty
 * range) and its event filter's <option>s */
#define NGX_HTTP_GUICHET_CHART_RANGE  48
ngx_int_t ngx_http_guichet_admin_chart(const redisReply *range,
    int64_t since_ms, int64_t until_ms, int64_t now_ms, ac_buf_t *out,
    char range_text[NGX_HTTP_GUICHET_CHART_RANGE],
    char read_text[NGX_INT_T_LEN + 1]);
void ngx_http_guichet_admin_event_options(const char *current,
    ac_buf_t *out);
void ngx_http_guichet_admin_logs(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_metrics.c: Prometheus text */
void ngx_http_guichet_metrics_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_account.c: the account self-service page */
void ngx_http_guichet_account_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_revoke(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_reauth_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_reauth_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_totp_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_totp_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_totp_qr(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_recovery(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_password(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_export(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_delete(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* ngx_http_guichet_account_passkey.c: passkeys (SPEC 11) */
void ngx_http_guichet_account_passkeys_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_passkeys_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_passkeys_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_reauth_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* ngx_http_guichet_2fa_passkey.c: a passkey as the second factor */
void ngx_http_guichet_2fa_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* ngx_http_guichet_passkey.c: passwordless sign-in and the pages'
 * script */
void ngx_http_guichet_passkey_js(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_passkey_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_passkey_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* ngx_http_guichet_account_email.c: changing the address (SPEC 10) */
void ngx_http_guichet_account_email(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_email_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_account_email_confirm_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_sso.c: partner SSO and the partner API */
void ngx_http_guichet_sso_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_invitations_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_registrations_handler(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_register.c: the invitation's set-password link */
void ngx_http_guichet_register_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_register_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_reset.c: forgot password (SPEC 10) */
void ngx_http_guichet_reset_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_reset_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_reset_confirm_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_reset_confirm_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_reset_options(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* ngx_http_guichet_mail.c: mails queued by other routes */
void ngx_http_guichet_mail_invitation(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *partner, const char *email,
    int64_t since);
/* after a session is created: the device is recorded, and a sign-in
 * from one not seen in 90 days queues a notice */
void ngx_http_guichet_mail_seen(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const ac_session_t *s);
/* a message of this kind from this request: when, its address and
 * device in words, the account and reset pages as links */
ngx_int_t ngx_http_guichet_mail_fill(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_t *m, ac_mail_kind_t kind);
/* a security notice to "to" (AC_MAIL_PASSWORD, _SECOND_FACTOR,
 * _EMAIL_CHANGE, _ERASED) when "notify" asks for it; detail (or NULL)
 * says what changed */
void ngx_http_guichet_mail_notice(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_kind_t kind, const char *to,
    const char *account, const char *detail);

/* ngx_http_guichet_link.c: linking an existing account to a partner */
void ngx_http_guichet_link_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_link_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* From /guichet/sso: stores a pending link of account to partner, sets
 * the pending cookie, answers 303 to "link" and logs sso.failure
 * "not_linked". */
void ngx_http_guichet_link_start(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *partner,
    const char *return_to);
/* Makes the link once the owner's proof is complete, logs
 * partner.linked, then calls next(r, ctx). */
void ngx_http_guichet_link_confirm(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *account, const char *partner,
    ngx_http_guichet_ep_handler_pt next);

#endif /* NGX_HTTP_GUICHET_ENDPOINTS_H_INCLUDED_ */
