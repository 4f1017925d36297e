/*
 * Guichet nginx module: configuration shared by the module's files.
 */

#ifndef NGX_HTTP_GUICHET_MODULE_H_INCLUDED_
#define NGX_HTTP_GUICHET_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <authcore.h>


/* where the page templates are without "guichet_templates" */
#ifndef NGX_HTTP_GUICHET_TEMPLATES
#define NGX_HTTP_GUICHET_TEMPLATES  "/usr/share/guichet/templates"
#endif


typedef struct {
    ngx_str_t              config_file;
    ac_config_t           *ac;
    ac_keys_t             *keys;
#if (NGX_THREADS)
    ngx_thread_pool_t     *thread_pool;
#endif
    ngx_uint_t             endpoints;        /* some location serves them */
    ngx_str_t              endpoints_base;   /* the first such location */
    ngx_array_t           *endpoint_clcfs;   /* their core loc confs */
    ngx_str_t              templates;        /* guichet_templates DIR */
    void                  *pages;            /* the endpoints' templates */
    ngx_uint_t             session_cache;    /* entries, 0: off */
    ngx_msec_t             session_cache_valid;
} ngx_http_guichet_main_conf_t;


typedef struct {
    ngx_flag_t             strip_identity;   /* some place uses Guichet */
    ngx_str_t              endpoints_base;   /* "/guichet/" of this server */
} ngx_http_guichet_srv_conf_t;


typedef struct {
    ngx_flag_t             enable;
    ngx_flag_t             require_2fa;
    ngx_uint_t             role;             /* AC_ROLE_* bit, 0: any */
    ngx_flag_t             used;             /* a directive here or above */
} ngx_http_guichet_loc_conf_t;


extern ngx_module_t  ngx_http_guichet_module;


ngx_int_t ngx_http_guichet_gate_handler(ngx_http_request_t *r);
/* Content-Security-Policy, nosniff, no-referrer, no-store */
ngx_int_t ngx_http_guichet_security_headers(ngx_http_request_t *r);
/* where the gate sends browsers: the location serving the endpoints in
 * this server, else the first one of the http block, else "/guichet/" */
void ngx_http_guichet_endpoints_base(ngx_http_request_t *r, ngx_str_t *base);
/* a client that accepts text/html is sent pages, others JSON */
ngx_uint_t ngx_http_guichet_browser(ngx_http_request_t *r);
ngx_int_t ngx_http_guichet_endpoints_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_guichet_endpoints_init(ngx_conf_t *cf);


/* ngx_http_guichet_input.c: cookies and identity headers */
typedef enum {
    NGX_HTTP_GUICHET_COOKIE_SESSION = 0,     /* guichet */
    NGX_HTTP_GUICHET_COOKIE_PENDING,         /* guichet_pending: 2FA due */
    NGX_HTTP_GUICHET_COOKIE_CSRF,            /* guichet_csrf */
    NGX_HTTP_GUICHET_COOKIE_REGISTER,        /* guichet_register: a link */
    NGX_HTTP_GUICHET_COOKIE_RESET,           /* guichet_reset: a reset */
    NGX_HTTP_GUICHET_COOKIE_EMAIL            /* guichet_email: a change */
} ngx_http_guichet_cookie_e;

const char *ngx_http_guichet_cookie_name(ngx_uint_t secure,
    ngx_http_guichet_cookie_e kind);
/*
 * The one cookie reader: the cookie's value from all the Cookie lines of
 * r, read as one list by ac_cookie_get(). NGX_DECLINED when it is absent,
 * empty, malformed, too long for out or present twice; NGX_ERROR without
 * memory.
 */
ngx_int_t ngx_http_guichet_cookie(ngx_http_request_t *r,
    ngx_http_guichet_cookie_e kind, char *out, size_t outsize,
    size_t *outlen);
/* post-read phase: removes client-sent X-Guichet-* headers */
ngx_int_t ngx_http_guichet_identity_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_guichet_identity_remove(ngx_http_request_t *r);


/* ngx_http_guichet_thread.c: argon2 in the guichet_threads pool */
typedef void (*ngx_http_guichet_hash_handler_pt)(ngx_http_request_t *r,
    void *data, int rc);

ngx_int_t ngx_http_guichet_password_verify(ngx_http_request_t *r,
    const char *phc, const u_char *pw, size_t len,
    ngx_http_guichet_hash_handler_pt handler, void *data);
/* Hashes pw (argon2id, the configured cost) into phc, which must hold
 * AC_PHC_MAX bytes and live until the handler gets rc. */
ngx_int_t ngx_http_guichet_password_hash(ngx_http_request_t *r,
    const u_char *pw, size_t len, char *phc,
    ngx_http_guichet_hash_handler_pt handler, void *data);


/* ngx_http_guichet_log.c: one connection log event, then the handler */
typedef void (*ngx_http_guichet_log_handler_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t rc);

ngx_int_t ngx_http_guichet_log_event(ngx_http_request_t *r,
    const ac_event_t *ev, ngx_http_guichet_log_handler_pt handler,
    void *data);


/* ngx_http_guichet_metrics.c: counters shared by the workers */
#define NGX_HTTP_GUICHET_M_LOGIN_SUCCESS      0
#define NGX_HTTP_GUICHET_M_LOGIN_FAILURE      1
#define NGX_HTTP_GUICHET_M_2FA_SUCCESS        2
#define NGX_HTTP_GUICHET_M_2FA_FAILURE        3
#define NGX_HTTP_GUICHET_M_THROTTLED          4
#define NGX_HTTP_GUICHET_M_GATE_ALLOW         5
#define NGX_HTTP_GUICHET_M_GATE_REDIRECT      6
#define NGX_HTTP_GUICHET_M_GATE_UNAUTHORIZED  7
#define NGX_HTTP_GUICHET_M_GATE_FORBIDDEN     8
#define NGX_HTTP_GUICHET_M_GATE_UNAVAILABLE   9
#define NGX_HTTP_GUICHET_M_REDIS_ERROR        10
#define NGX_HTTP_GUICHET_M_REDIS_RECONNECT    11
#define NGX_HTTP_GUICHET_M_THREAD_REJECTED    12
#define NGX_HTTP_GUICHET_M_COUNT              13

char *ngx_http_guichet_metrics_zone(ngx_conf_t *cf);
void ngx_http_guichet_metric_inc(ngx_uint_t metric);
/* login, 2FA and throttled events as they are logged */
void ngx_http_guichet_metric_event(ac_event_kind_t kind);
/* the gate's decision by its status: 200 allow, 302, 401, 403, 503 */
void ngx_http_guichet_metric_gate(ngx_uint_t status);
/* a reply (NULL: none came) of a command a request waited for */
void ngx_http_guichet_metric_redis(const struct redisReply *reply);
/* reason: "ok" or an ac_assertion_reason_name() */
void ngx_http_guichet_metric_sso(const u_char *partner, size_t len,
    const char *reason);
ngx_int_t ngx_http_guichet_metrics_text(ngx_pool_t *pool, ngx_str_t *out);


#endif /* NGX_HTTP_GUICHET_MODULE_H_INCLUDED_ */
