/*
 * Guichet nginx module: the per-worker session cache.
 */

#ifndef NGX_HTTP_GUICHET_CACHE_H_INCLUDED_
#define NGX_HTTP_GUICHET_CACHE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <authcore.h>


#define NGX_HTTP_GUICHET_CACHE_SIZE    4096       /* entries per worker */
#define NGX_HTTP_GUICHET_CACHE_VALID   1000       /* ms, also the maximum */


/* guichet_session_cache off | SIZE [valid=TIME]; (http) */
char *ngx_http_guichet_session_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_guichet_cache_init(ngx_cycle_t *cycle);
void ngx_http_guichet_cache_done(ngx_cycle_t *cycle);

/*
 * The invalidation epoch: a reply read from Redis may be cached only if
 * no revocation arrived since its command was sent (the epoch is the
 * same), and only until "sent" + valid.
 */
ngx_uint_t ngx_http_guichet_cache_epoch(void);

/*
 * The cache is keyed by the cookie value itself, so that a hit computes
 * no digest: NGX_OK with digest and *s filled on a live entry for this
 * cookie, NGX_DECLINED otherwise.
 */
ngx_int_t ngx_http_guichet_cache_get(ngx_str_t *cookie,
    char digest[AC_DIGEST_LEN + 1], ac_session_t *s);

void ngx_http_guichet_cache_put(ngx_str_t *cookie, const char *digest,
    const ac_session_t *s, ngx_uint_t epoch, ngx_msec_t sent);

/* The gate renewed the session: note it so that hits do not touch. */
void ngx_http_guichet_cache_touched(ngx_str_t *cookie, int64_t now);


#endif /* NGX_HTTP_GUICHET_CACHE_H_INCLUDED_ */
