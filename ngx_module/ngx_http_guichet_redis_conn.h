/*
 * Guichet nginx module: what ngx_http_guichet_redis.c (connections) and
 * ngx_http_guichet_redis_sentinel.c (Sentinel) share. Private to them.
 */

#ifndef NGX_HTTP_GUICHET_REDIS_CONN_H_INCLUDED_
#define NGX_HTTP_GUICHET_REDIS_CONN_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_guichet_redis.h"


#define NGX_HTTP_GUICHET_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_GUICHET_REDIS_BACKOFF_MAX  3000


typedef enum {
    NGX_HTTP_GUICHET_REDIS_DOWN = 0,
    NGX_HTTP_GUICHET_REDIS_SENTINEL,
    NGX_HTTP_GUICHET_REDIS_CONNECTING,
    NGX_HTTP_GUICHET_REDIS_READY
} ngx_http_guichet_redis_state_e;


typedef struct {
    ac_config_t                        *ac;
    const char                         *name;       /* for the log */
    ngx_uint_t                          level;      /* of lost messages */
    char                               *channel;    /* SUBSCRIBE to it */
    ngx_http_guichet_redis_event_pt     on_event;
    redisAsyncContext                  *ctx;
    ngx_connection_t                   *conn;
    ngx_http_guichet_redis_state_e      state;
    ngx_event_t                         reconnect;
    ngx_event_t                         connect_timer;
    ngx_msec_t                          backoff;
    ngx_queue_t                         free_waiters;
    ngx_log_t                          *log;
    ngx_uint_t                          sentinel;   /* next one to ask */
    char                                master[NGX_INET6_ADDRSTRLEN + 1];
    int                                 master_port;
    char                                peer[NGX_INET6_ADDRSTRLEN + 1];
    int                                 peer_port;  /* 0: not a master */
    unsigned                            have_master:1;
    unsigned                            watch:1;    /* +switch-master */
    unsigned                            lost:1;
    unsigned                            exiting:1;
    unsigned                            initialized:1;
} ngx_http_guichet_redis_t;


/* the command connection and the events subscriber of this worker */
extern ngx_http_guichet_redis_t  ngx_http_guichet_redis;
extern ngx_http_guichet_redis_t  ngx_http_guichet_redis_sub;


void ngx_http_guichet_redis_start(ngx_http_guichet_redis_t *rd,
    ngx_cycle_t *cycle, ac_config_t *ac);
void ngx_http_guichet_redis_stop(ngx_http_guichet_redis_t *rd);
void ngx_http_guichet_redis_connect(ngx_http_guichet_redis_t *rd);
/* Frees the context; hiredis answers every pending command with NULL. */
void ngx_http_guichet_redis_drop(ngx_http_guichet_redis_t *rd,
    const char *why);
/* 1 for an IPv4 or IPv6 literal: never a name (getaddrinfo() blocks) */
ngx_uint_t ngx_http_guichet_redis_literal(const char *host);

/* ngx_http_guichet_redis_sentinel.c */

/* the reply to SENTINEL get-master-addr-by-name */
void ngx_http_guichet_redis_sentinel(redisAsyncContext *ctx, void *r,
    void *privdata);
/* the replies on a watcher's connection (SUBSCRIBE +switch-master) */
void ngx_http_guichet_redis_switch(redisAsyncContext *ctx, void *r,
    void *privdata);
/* one watcher per sentinel of the configuration */
void ngx_http_guichet_redis_watch_start(ngx_cycle_t *cycle,
    ac_config_t *ac);
void ngx_http_guichet_redis_watch_stop(void);


#endif /* NGX_HTTP_GUICHET_REDIS_CONN_H_INCLUDED_ */
