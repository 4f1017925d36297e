/*
 * Guichet nginx module: what the security team's page files share
 * (ngx_http_guichet_admin.c reads, ngx_http_guichet_admin_page.c
 * renders): the page's data.
 */

#ifndef NGX_HTTP_GUICHET_ADMIN_H
#define NGX_HTTP_GUICHET_ADMIN_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_ADMIN_ROWS       50
#define NGX_HTTP_GUICHET_ADMIN_SCAN       1000
#define NGX_HTTP_GUICHET_ADMIN_ANOM_SCAN  5000
#define NGX_HTTP_GUICHET_ADMIN_ANOM_AGE   (24 * 3600)
#define NGX_HTTP_GUICHET_ADMIN_TIME_MAX   32
#define NGX_HTTP_GUICHET_ADMIN_FIELD_MAX  64


/* an account reference of the log (a pseudonym, or an older entry's id)
 * and, when a living account has it, that account's id and log key */
typedef struct {
    char                 id[AC_LOG_PSEUDO_LEN + 1];
    char                 account[AC_ID_LEN + 1];
    ngx_uint_t           has_key;
    unsigned char        key[AC_LOG_KEY_LEN];
} ngx_http_guichet_admin_key_t;


typedef struct {
    /* the filters, as typed (shown back in the form) */
    char                 account[AC_ID_LEN + 2];
    char                 email[AC_EMAIL_MAX + 1];
    char                 ip[NGX_HTTP_GUICHET_ADMIN_FIELD_MAX];
    char                 event[AC_LOG_EVENT_MAX + 2];
    char                 result[8];
    char                 partner[AC_PARTNER_ID_MAX + 2];
    char                 since[NGX_HTTP_GUICHET_ADMIN_FIELD_MAX];
    char                 until[NGX_HTTP_GUICHET_ADMIN_FIELD_MAX];
    char                 before[AC_LOG_ID_MAX];
    char                 after[AC_LOG_ID_MAX];

    /* ... as they apply: authcore's one log filter */
    ac_log_filter_t      f;
    const char          *error;

    redisReply          *entries;            /* copies, in r->pool */
    redisReply          *recent;
    ngx_http_guichet_admin_key_t  *keys;
    ngx_uint_t           nkeys;
    ngx_uint_t           pending;
    ngx_uint_t           next_key;

    ac_log_entry_t       e;
    ngx_http_guichet_tpl_t  tpl;             /* admin_logs.html */
    ac_buf_t             out;
} ngx_http_guichet_admin_t;



ngx_int_t ngx_http_guichet_admin_parse(ngx_http_guichet_admin_t *ad,
    const redisReply *entry);
ngx_uint_t ngx_http_guichet_admin_match(ngx_http_guichet_admin_t *ad);
void ngx_http_guichet_admin_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_admin_ms(int64_t ms, char *out, size_t size);
void ngx_http_guichet_admin_send(ngx_http_request_t *r,
    ngx_http_guichet_admin_t *ad);


#endif /* NGX_HTTP_GUICHET_ADMIN_H */
