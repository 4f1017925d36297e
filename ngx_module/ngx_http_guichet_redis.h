/*
 * Guichet nginx module: one non-blocking hiredis connection per worker,
 * driven by nginx events and timers.
 */

#ifndef NGX_HTTP_GUICHET_REDIS_H_INCLUDED_
#define NGX_HTTP_GUICHET_REDIS_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <authcore.h>


/*
 * Called exactly once per command unless the request went away first:
 * with rc == NGX_OK and the reply (freed by hiredis after the call), or
 * with rc == NGX_ERROR and reply == NULL when Redis is unreachable, the
 * connection broke, or the command timed out.
 */
typedef void (*ngx_http_guichet_redis_handler_pt)(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);


/* A message of the subscribed channel, or NULL once (re)subscribed. */
typedef void (*ngx_http_guichet_redis_event_pt)(ngx_str_t *message);


ngx_int_t ngx_http_guichet_redis_init(ngx_cycle_t *cycle, ac_config_t *ac);
/* A second connection that SUBSCRIBEs to "channel", reconnecting like
 * the first; stopped by ngx_http_guichet_redis_done(). */
ngx_int_t ngx_http_guichet_redis_subscribe(ngx_cycle_t *cycle,
    ac_config_t *ac, const char *channel,
    ngx_http_guichet_redis_event_pt handler);
void ngx_http_guichet_redis_done(ngx_cycle_t *cycle);

/*
 * Sends a command for request r. When the request is finalized first,
 * its pool cleanup detaches the command so that a late reply touches
 * nothing freed. Returns NGX_ERROR when the command could not be sent
 * (the handler is not called then), NGX_OK otherwise.
 */
ngx_int_t ngx_http_guichet_redis_send(ngx_http_request_t *r,
    const ac_cmd_t *cmd, ngx_http_guichet_redis_handler_pt handler,
    void *data);

/*
 * A copy of a reply in pool, for a handler that needs it after returning
 * (hiredis frees its own): NULL without memory or nested too deep.
 */
redisReply *ngx_http_guichet_redis_copy(ngx_pool_t *pool,
    const redisReply *reply);

/* 1 while the command connection is up (handshake done), else 0. */
ngx_uint_t ngx_http_guichet_redis_ready(void);

/*
 * Call before logging a request refused because Redis failed (503): 1
 * when the line should be written. The first refusal is logged, those
 * that follow within a second are counted and summed up by one line a
 * second later ("N more requests refused in the last second"), so that
 * an outage under load writes a few lines per worker, not one per
 * request. The connection's own changes (lost, back) are logged once.
 */
ngx_uint_t ngx_http_guichet_redis_refusal(void);

/* Sends a command whose reply nobody waits for (e.g. a session touch). */
ngx_int_t ngx_http_guichet_redis_send_detached(ngx_log_t *log,
    const ac_cmd_t *cmd);


#endif /* NGX_HTTP_GUICHET_REDIS_H_INCLUDED_ */
