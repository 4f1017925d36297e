/*
 * Guichet nginx module: configuration shared by the module's files.
 */

#ifndef NGX_HTTP_GUICHET_MODULE_H_INCLUDED_
#define NGX_HTTP_GUICHET_MODULE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <authcore.h>


typedef struct {
    ngx_str_t              config_file;
    ac_config_t           *ac;
    ac_keys_t             *keys;
#if (NGX_THREADS)
    ngx_thread_pool_t     *thread_pool;
#endif
    ngx_uint_t             endpoints;        /* some location serves them */
    ngx_str_t              templates;        /* guichet_templates DIR */
    void                  *pages;            /* the endpoints' templates */
    ngx_uint_t             session_cache;    /* entries, 0: off */
    ngx_msec_t             session_cache_valid;
    ngx_uint_t             session_cache_set;
} ngx_http_guichet_main_conf_t;


typedef struct {
    ngx_flag_t             enable;
    ngx_flag_t             require_2fa;
    ngx_uint_t             role;             /* AC_ROLE_* bit, 0: any */
} ngx_http_guichet_loc_conf_t;


extern ngx_module_t  ngx_http_guichet_module;


ngx_int_t ngx_http_guichet_gate_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_guichet_endpoints_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_guichet_endpoints_init(ngx_conf_t *cf);


/* ngx_http_guichet_thread.c: argon2 in the guichet_threads pool */
typedef void (*ngx_http_guichet_hash_handler_pt)(ngx_http_request_t *r,
    void *data, int rc);

ngx_int_t ngx_http_guichet_password_verify(ngx_http_request_t *r,
    const char *phc, const u_char *pw, size_t len,
    ngx_http_guichet_hash_handler_pt handler, void *data);


/* ngx_http_guichet_log.c: one connection log event, then the handler */
typedef void (*ngx_http_guichet_log_handler_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t rc);

ngx_int_t ngx_http_guichet_log_event(ngx_http_request_t *r,
    const ac_event_t *ev, ngx_http_guichet_log_handler_pt handler,
    void *data);


#endif /* NGX_HTTP_GUICHET_MODULE_H_INCLUDED_ */
