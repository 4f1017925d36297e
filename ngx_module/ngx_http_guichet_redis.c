/*
 * Guichet nginx module: one hiredis async context per worker on nginx's
 * event loop.
 *
 * hiredis 0.14 has no timers, so command timeouts, the connect timeout
 * and reconnection with exponential backoff are nginx timers here. The
 * socket is registered level-triggered because redisAsyncHandleRead()
 * reads at most one buffer per call. Only IP literals and unix sockets
 * are used: a host name would make hiredis call getaddrinfo(), which
 * blocks.
 *
 * With redis_sentinels, each connection starts by asking the sentinels in
 * turn for the master's address, and checks with ROLE that the server it
 * reaches is still the master; a failover closes our connection (Sentinel
 * kills the clients of a demoted master), which starts the search again.
 *
 * A second connection, made the same way, only SUBSCRIBEs to the events
 * channel for the session cache; its troubles are logged as errors, not
 * critical, since the cache's short expiry does not depend on it.
 *
 * With redis_sentinels, one more connection per sentinel listens for
 * the announcement of a failover (ngx_http_guichet_redis_sentinel.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_redis_conn.h"


#define NGX_HTTP_GUICHET_REDIS_REFUSALS     1000     /* summed up every */


typedef struct {
    ngx_queue_t                         queue;      /* free list */
    ngx_event_t                         timer;
    ngx_http_request_t                 *request;    /* NULL: detached */
    ngx_pool_cleanup_t                 *cleanup;
    ngx_http_guichet_redis_handler_pt   handler;
    void                               *data;
} ngx_http_guichet_redis_waiter_t;


static void ngx_http_guichet_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_guichet_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_guichet_redis_schedule(ngx_http_guichet_redis_t *rd);
static void ngx_http_guichet_redis_on_connect(const redisAsyncContext *ctx,
    int status);
static void ngx_http_guichet_redis_handshake(redisAsyncContext *ctx,
    void *r, void *privdata);
static void ngx_http_guichet_redis_message(redisAsyncContext *ctx,
    void *r, void *privdata);
static void ngx_http_guichet_redis_read_handler(ngx_event_t *rev);
static void ngx_http_guichet_redis_write_handler(ngx_event_t *wev);
static void ngx_http_guichet_redis_add_read(void *privdata);
static void ngx_http_guichet_redis_del_read(void *privdata);
static void ngx_http_guichet_redis_add_write(void *privdata);
static void ngx_http_guichet_redis_del_write(void *privdata);
static void ngx_http_guichet_redis_cleanup(void *privdata);
static void ngx_http_guichet_redis_reply(redisAsyncContext *ctx, void *r,
    void *privdata);
static void ngx_http_guichet_redis_timeout(ngx_event_t *ev);
static redisReply *ngx_http_guichet_redis_copy_at(ngx_pool_t *pool,
    const redisReply *reply, ngx_uint_t depth);
static void ngx_http_guichet_redis_detach(void *data);
static void ngx_http_guichet_redis_refusals_handler(ngx_event_t *ev);
static void ngx_http_guichet_redis_release(
    ngx_http_guichet_redis_waiter_t *w);


/*
 * one of each per worker process: commands, the events subscriber, and
 * the watcher of the sentinels' announcements
 */
ngx_http_guichet_redis_t         ngx_http_guichet_redis;
ngx_http_guichet_redis_t         ngx_http_guichet_redis_sub;

/* requests refused since the last line about them, and its timer */
static ngx_uint_t                ngx_http_guichet_redis_refused;
static ngx_event_t               ngx_http_guichet_redis_refusals;


ngx_int_t
ngx_http_guichet_redis_init(ngx_cycle_t *cycle, ac_config_t *ac)
{
    ngx_http_guichet_redis_t  *rd = &ngx_http_guichet_redis;

    ngx_memzero(rd, sizeof(ngx_http_guichet_redis_t));

    rd->name = "redis";
    rd->level = NGX_LOG_CRIT;

    ngx_memzero(&ngx_http_guichet_redis_refusals, sizeof(ngx_event_t));
    ngx_http_guichet_redis_refusals.handler =
        ngx_http_guichet_redis_refusals_handler;
    ngx_http_guichet_redis_refusals.log = cycle->log;
    ngx_http_guichet_redis_refusals.cancelable = 1;
    ngx_http_guichet_redis_refused = 0;

    ngx_http_guichet_redis_start(rd, cycle, ac);

    ngx_http_guichet_redis_watch_start(cycle, ac);

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_redis_subscribe(ngx_cycle_t *cycle, ac_config_t *ac,
    const char *channel, ngx_http_guichet_redis_event_pt handler)
{
    size_t                     len;
    ngx_http_guichet_redis_t  *rd = &ngx_http_guichet_redis_sub;

    ngx_memzero(rd, sizeof(ngx_http_guichet_redis_t));

    len = ngx_strlen(channel) + 1;

    rd->channel = ngx_alloc(len, cycle->log);
    if (rd->channel == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(rd->channel, channel, len);

    rd->name = "redis events";
    rd->level = NGX_LOG_ERR;
    rd->on_event = handler;

    ngx_http_guichet_redis_start(rd, cycle, ac);

    return NGX_OK;
}


void
ngx_http_guichet_redis_start(ngx_http_guichet_redis_t *rd,
    ngx_cycle_t *cycle, ac_config_t *ac)
{
    rd->ac = ac;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_GUICHET_REDIS_BACKOFF_MIN;
    ngx_queue_init(&rd->free_waiters);

    rd->reconnect.handler = ngx_http_guichet_redis_reconnect_handler;
    rd->reconnect.data = rd;
    rd->reconnect.log = cycle->log;
    rd->reconnect.cancelable = 1;

    rd->connect_timer.handler = ngx_http_guichet_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    rd->initialized = 1;

    ngx_http_guichet_redis_connect(rd);
}


void
ngx_http_guichet_redis_done(ngx_cycle_t *cycle)
{
    if (ngx_http_guichet_redis_refusals.timer_set) {
        ngx_del_timer(&ngx_http_guichet_redis_refusals);
        ngx_http_guichet_redis_refusals_handler(
            &ngx_http_guichet_redis_refusals);
    }

    ngx_http_guichet_redis_watch_stop();

    ngx_http_guichet_redis_stop(&ngx_http_guichet_redis_sub);
    ngx_http_guichet_redis_stop(&ngx_http_guichet_redis);
}


void
ngx_http_guichet_redis_stop(ngx_http_guichet_redis_t *rd)
{
    ngx_queue_t                      *q;
    ngx_http_guichet_redis_waiter_t  *w;

    if (!rd->initialized) {
        return;
    }

    rd->exiting = 1;

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->ctx) {
        /* pending replies come back NULL and release their waiters */
        redisAsyncFree(rd->ctx);
    }

    while (!ngx_queue_empty(&rd->free_waiters)) {
        q = ngx_queue_head(&rd->free_waiters);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_http_guichet_redis_waiter_t, queue);
        ngx_free(w);
    }

    if (rd->channel) {
        ngx_free(rd->channel);
        rd->channel = NULL;
    }

    rd->initialized = 0;
}


void
ngx_http_guichet_redis_connect(ngx_http_guichet_redis_t *rd)
{
    ngx_connection_t   *c;
    ac_endpoint_t      *ep;
    redisAsyncContext  *ctx;
    ngx_uint_t          asking;

    asking = 0;
    ep = &rd->ac->redis;
    rd->peer_port = 0;

    if (rd->ac->nredis_sentinels && (rd->watch || !rd->have_master)) {
        asking = !rd->watch;
        ep = &rd->ac->redis_sentinels[rd->sentinel
                                      % rd->ac->nredis_sentinels];
    }

    if (rd->ac->nredis_sentinels && !asking && !rd->watch) {
        /* the address a sentinel gave serves this one attempt */
        rd->have_master = 0;
        ngx_memcpy(rd->peer, rd->master, sizeof(rd->peer));
        rd->peer_port = rd->master_port;
        ctx = redisAsyncConnect(rd->master, rd->master_port);

    } else if (ep->unix_path) {
        ctx = redisAsyncConnectUnix(ep->unix_path);

    } else if (ep->host && ngx_http_guichet_redis_literal(ep->host)) {
        ctx = redisAsyncConnect(ep->host, ep->port);

    } else {
        ngx_log_error(NGX_LOG_CRIT, rd->log, 0,
                      "guichet: redis needs an IP address or a unix socket");
        return;
    }

    if (ctx == NULL) {
        ngx_log_error(rd->level, rd->log, 0,
                      "guichet: %s context allocation failed", rd->name);
        ngx_http_guichet_redis_schedule(rd);
        return;
    }

    if (ctx->err) {
        if (!rd->lost) {
            ngx_log_error(rd->level, rd->log, 0,
                          "guichet: cannot connect to %s: %s", rd->name,
                          ctx->errstr);
            rd->lost = 1;
        }

        redisAsyncFree(ctx);
        ngx_http_guichet_redis_schedule(rd);
        return;
    }

    c = ngx_get_connection(ctx->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ctx);
        ngx_http_guichet_redis_schedule(rd);
        return;
    }

    c->data = ctx;
    c->read->handler = ngx_http_guichet_redis_read_handler;
    c->write->handler = ngx_http_guichet_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;

    rd->ctx = ctx;
    rd->conn = c;
    rd->state = asking ? NGX_HTTP_GUICHET_REDIS_SENTINEL
                       : NGX_HTTP_GUICHET_REDIS_CONNECTING;

    ctx->data = rd;
    ctx->ev.data = rd;
    ctx->ev.addRead = ngx_http_guichet_redis_add_read;
    ctx->ev.delRead = ngx_http_guichet_redis_del_read;
    ctx->ev.addWrite = ngx_http_guichet_redis_add_write;
    ctx->ev.delWrite = ngx_http_guichet_redis_del_write;
    ctx->ev.cleanup = ngx_http_guichet_redis_cleanup;

    redisAsyncSetConnectCallback(ctx, ngx_http_guichet_redis_on_connect);

    if (asking) {
        if (redisAsyncCommand(ctx, ngx_http_guichet_redis_sentinel, NULL,
                              "SENTINEL get-master-addr-by-name %s",
                              rd->ac->redis_master)
            != REDIS_OK)
        {
            goto failed;
        }

        ngx_add_timer(&rd->connect_timer,
                      ngx_max(rd->ac->redis_timeout_ms, 1000));
        return;
    }

    if (rd->watch) {
        if (redisAsyncCommand(ctx, ngx_http_guichet_redis_switch, NULL,
                              "SUBSCRIBE +switch-master")
            != REDIS_OK)
        {
            goto failed;
        }

        ngx_add_timer(&rd->connect_timer,
                      ngx_max(rd->ac->redis_timeout_ms, 1000));
        return;
    }

    /* replies arrive in order: the PING answers only after AUTH/SELECT */

    if (rd->ac->redis_password) {
        if (redisAsyncCommand(ctx, ngx_http_guichet_redis_handshake, "AUTH",
                              "AUTH %s", rd->ac->redis_password)
            != REDIS_OK)
        {
            goto failed;
        }
    }

    if (rd->ac->redis_db != 0) {
        if (redisAsyncCommand(ctx, ngx_http_guichet_redis_handshake,
                              "SELECT", "SELECT %d", rd->ac->redis_db)
            != REDIS_OK)
        {
            goto failed;
        }
    }

    if (rd->ac->nredis_sentinels
        && redisAsyncCommand(ctx, ngx_http_guichet_redis_handshake, "ROLE",
                             "ROLE")
           != REDIS_OK)
    {
        goto failed;
    }

    if (redisAsyncCommand(ctx, ngx_http_guichet_redis_handshake, "PING",
                          "PING")
        != REDIS_OK)
    {
        goto failed;
    }

    if (rd->channel
        && redisAsyncCommand(ctx, ngx_http_guichet_redis_message, NULL,
                             "SUBSCRIBE %s", rd->channel)
           != REDIS_OK)
    {
        goto failed;
    }

    ngx_add_timer(&rd->connect_timer,
                  ngx_max(rd->ac->redis_timeout_ms, 1000));

    return;

failed:

    ngx_http_guichet_redis_drop(rd, "cannot queue the handshake");
}


/* hiredis resolves names with getaddrinfo(), which blocks: never a name */

ngx_uint_t
ngx_http_guichet_redis_literal(const char *host)
{
    u_char  addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, addr) == 1
           || inet_pton(AF_INET6, host, addr) == 1;
}


static void
ngx_http_guichet_redis_schedule(ngx_http_guichet_redis_t *rd)
{
    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rd->have_master) {
        /* a sentinel just named the master: go there now */
        if (!rd->reconnect.timer_set) {
            ngx_add_timer(&rd->reconnect, 1);
        }

        return;
    }

    if (!rd->reconnect.timer_set) {
        ngx_add_timer(&rd->reconnect, rd->backoff);
    }

    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_GUICHET_REDIS_BACKOFF_MAX);
}


static void
ngx_http_guichet_redis_reconnect_handler(ngx_event_t *ev)
{
    ngx_http_guichet_redis_t  *rd = ev->data;

    if (rd->ctx == NULL) {
        ngx_http_guichet_redis_connect(rd);
    }
}


static void
ngx_http_guichet_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_guichet_redis_t  *rd = ev->data;

    if (rd->state != NGX_HTTP_GUICHET_REDIS_READY) {
        ngx_http_guichet_redis_drop(rd, "connection timed out");
    }
}


/* Frees the context; hiredis answers every pending command with NULL. */

void
ngx_http_guichet_redis_drop(ngx_http_guichet_redis_t *rd, const char *why)
{
    if (rd->ctx == NULL) {
        return;
    }

    if (!rd->lost) {
        ngx_log_error(rd->level, rd->log, 0,
                      "guichet: %s connection lost: %s", rd->name, why);
        rd->lost = 1;
    }

    redisAsyncFree(rd->ctx);
}


static void
ngx_http_guichet_redis_on_connect(const redisAsyncContext *ctx, int status)
{
    ngx_http_guichet_redis_t  *rd = ctx->data;

    if (status != REDIS_OK && !rd->lost) {
        ngx_log_error(rd->level, rd->log, 0,
                      "guichet: cannot connect to %s: %s", rd->name,
                      ctx->errstr ? ctx->errstr : "unknown error");
        rd->lost = 1;
    }
}


static void
ngx_http_guichet_redis_handshake(redisAsyncContext *ctx, void *r,
    void *privdata)
{
    redisReply                *reply = r;
    ngx_http_guichet_redis_t  *rd = ctx->data;

    if (reply == NULL) {
        /* the context is being freed */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(rd->level, rd->log, 0,
                      "guichet: %s %s failed: %*s", rd->name,
                      (char *) privdata,
                      (int) ngx_min(reply->len, 200), reply->str);
        rd->lost = 1;
        redisAsyncFree(ctx);
        return;
    }

    if (ngx_strcmp((char *) privdata, "ROLE") == 0) {
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0
            || reply->element[0]->type != REDIS_REPLY_STRING
            || reply->element[0]->len != sizeof("master") - 1
            || ngx_strncmp(reply->element[0]->str, "master",
                           sizeof("master") - 1)
               != 0)
        {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "guichet: redis at %s:%d is not the master",
                          rd->master, rd->master_port);
            redisAsyncFree(ctx);
        }

        return;
    }

    if (ngx_strcmp((char *) privdata, "PING") != 0) {
        return;
    }

    rd->state = NGX_HTTP_GUICHET_REDIS_READY;
    rd->backoff = NGX_HTTP_GUICHET_REDIS_BACKOFF_MIN;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->lost) {
        /* as visible as the loss, with the default error_log level */
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "guichet: %s connection is back", rd->name);
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_REDIS_RECONNECT);
        rd->lost = 0;
    }
}


/*
 * Replies on the subscriber connection: the SUBSCRIBE confirmation (the
 * handler gets NULL: messages may have been missed while it was down),
 * then one "message" per PUBLISH.
 */

static void
ngx_http_guichet_redis_message(redisAsyncContext *ctx, void *r,
    void *privdata)
{
    ngx_str_t                  msg;
    redisReply                *reply = r;
    ngx_http_guichet_redis_t  *rd = ctx->data;

    if (reply == NULL || rd->on_event == NULL
        || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (reply->element[0]->len == sizeof("subscribe") - 1
        && ngx_strncmp(reply->element[0]->str, "subscribe",
                       sizeof("subscribe") - 1)
           == 0)
    {
        rd->on_event(NULL);
        return;
    }

    if (reply->element[0]->len != sizeof("message") - 1
        || ngx_strncmp(reply->element[0]->str, "message",
                       sizeof("message") - 1)
           != 0
        || reply->element[2]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    msg.data = (u_char *) reply->element[2]->str;
    msg.len = reply->element[2]->len;

    rd->on_event(&msg);
}


static void
ngx_http_guichet_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c = rev->data;

    redisAsyncHandleRead(c->data);
}


static void
ngx_http_guichet_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c = wev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_http_guichet_redis_add_read(void *privdata)
{
    ngx_http_guichet_redis_t  *rd = privdata;

    if (rd->conn && !rd->conn->read->active) {
        if (ngx_add_event(rd->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                          "guichet: cannot add the redis read event");
        }
    }
}


static void
ngx_http_guichet_redis_del_read(void *privdata)
{
    ngx_http_guichet_redis_t  *rd = privdata;

    if (rd->conn && rd->conn->read->active) {
        (void) ngx_del_event(rd->conn->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_guichet_redis_add_write(void *privdata)
{
    ngx_http_guichet_redis_t  *rd = privdata;

    if (rd->conn && !rd->conn->write->active) {
        if (ngx_add_event(rd->conn->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                          "guichet: cannot add the redis write event");
        }
    }
}


static void
ngx_http_guichet_redis_del_write(void *privdata)
{
    ngx_http_guichet_redis_t  *rd = privdata;

    if (rd->conn && rd->conn->write->active) {
        (void) ngx_del_event(rd->conn->write, NGX_WRITE_EVENT,
                             NGX_LEVEL_EVENT);
    }
}


/*
 * hiredis is freeing the context and will close the socket itself: give
 * the nginx connection back without closing the fd, then plan the next
 * attempt.
 */

static void
ngx_http_guichet_redis_cleanup(void *privdata)
{
    ngx_http_guichet_redis_t  *rd = privdata;

    ngx_connection_t  *c;

    c = rd->conn;

    if (c) {
        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        c->read->closed = 1;
        c->write->closed = 1;

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
    }

    if (rd->state == NGX_HTTP_GUICHET_REDIS_READY && !rd->lost
        && !rd->exiting)
    {
        ngx_log_error(rd->level, rd->log, 0,
                      "guichet: %s connection lost: %s", rd->name,
                      rd->ctx && rd->ctx->errstr ? rd->ctx->errstr
                                                 : "closed");
        rd->lost = 1;
    }

    if (rd->state == NGX_HTTP_GUICHET_REDIS_SENTINEL && !rd->have_master) {
        rd->sentinel++;
    }

    rd->conn = NULL;
    rd->ctx = NULL;
    rd->state = NGX_HTTP_GUICHET_REDIS_DOWN;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ngx_http_guichet_redis_schedule(rd);
}


ngx_int_t
ngx_http_guichet_redis_send(ngx_http_request_t *r, const ac_cmd_t *cmd,
    ngx_http_guichet_redis_handler_pt handler, void *data)
{
    ngx_queue_t                      *q;
    ngx_pool_cleanup_t               *cln;
    ngx_http_guichet_redis_t         *rd = &ngx_http_guichet_redis;
    ngx_http_guichet_redis_waiter_t  *w;

    if (rd->ctx == NULL || rd->state == NGX_HTTP_GUICHET_REDIS_SENTINEL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    /* waiters outlive requests: recycled, allocated only at peaks */

    if (!ngx_queue_empty(&rd->free_waiters)) {
        q = ngx_queue_head(&rd->free_waiters);
        ngx_queue_remove(q);
        w = ngx_queue_data(q, ngx_http_guichet_redis_waiter_t, queue);

    } else {
        w = ngx_alloc(sizeof(ngx_http_guichet_redis_waiter_t), rd->log);
        if (w == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memzero(w, sizeof(ngx_http_guichet_redis_waiter_t));

    w->request = r;
    w->cleanup = cln;
    w->handler = handler;
    w->data = data;
    w->timer.handler = ngx_http_guichet_redis_timeout;
    w->timer.data = w;
    w->timer.log = rd->log;

    /* not cancelable: a graceful shutdown waits for the answer */

    if (redisAsyncCommandArgv(rd->ctx, ngx_http_guichet_redis_reply, w,
                              cmd->argc, (const char **) cmd->argv,
                              cmd->argvlen)
        != REDIS_OK)
    {
        ngx_http_guichet_redis_release(w);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_guichet_redis_detach;
    cln->data = w;

    ngx_add_timer(&w->timer, rd->ac->redis_timeout_ms);

    return NGX_OK;
}


redisReply *
ngx_http_guichet_redis_copy(ngx_pool_t *pool, const redisReply *reply)
{
    return ngx_http_guichet_redis_copy_at(pool, reply, 0);
}


static redisReply *
ngx_http_guichet_redis_copy_at(ngx_pool_t *pool, const redisReply *reply,
    ngx_uint_t depth)
{
    size_t       i;
    redisReply  *c;

    if (depth > 4) {
        return NULL;
    }

    c = ngx_pcalloc(pool, sizeof(redisReply));
    if (c == NULL) {
        return NULL;
    }

    c->type = reply->type;
    c->integer = reply->integer;

    if (reply->str != NULL) {
        c->str = ngx_pnalloc(pool, reply->len + 1);
        if (c->str == NULL) {
            return NULL;
        }

        ngx_memcpy(c->str, reply->str, reply->len);
        c->str[reply->len] = '\0';
        c->len = reply->len;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
        c->element = ngx_palloc(pool, reply->elements * sizeof(redisReply *));
        if (c->element == NULL) {
            return NULL;
        }

        for (i = 0; i < reply->elements; i++) {
            c->element[i] = ngx_http_guichet_redis_copy_at(pool,
                                                           reply->element[i],
                                                           depth + 1);
            if (c->element[i] == NULL) {
                return NULL;
            }
        }

        c->elements = reply->elements;
    }

    return c;
}


ngx_uint_t
ngx_http_guichet_redis_ready(void)
{
    return ngx_http_guichet_redis.state == NGX_HTTP_GUICHET_REDIS_READY;
}


ngx_int_t
ngx_http_guichet_redis_send_detached(ngx_log_t *log, const ac_cmd_t *cmd)
{
    ngx_http_guichet_redis_t  *rd = &ngx_http_guichet_redis;

    if (rd->state != NGX_HTTP_GUICHET_REDIS_READY) {
        return NGX_ERROR;
    }

    if (redisAsyncCommandArgv(rd->ctx, NULL, NULL, cmd->argc,
                              (const char **) cmd->argv, cmd->argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_guichet_redis_reply(redisAsyncContext *ctx, void *r, void *privdata)
{
    redisReply                       *reply = r;
    ngx_connection_t                 *c;
    ngx_http_request_t               *req;
    ngx_http_guichet_redis_waiter_t  *w = privdata;

    ngx_http_guichet_metric_redis(reply);

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    req = w->request;

    if (req) {
        w->request = NULL;
        w->cleanup->handler = NULL;
        c = req->connection;

        w->handler(req, w->data, reply, reply ? NGX_OK : NGX_ERROR);

        /* a request ended in error here is posted for termination */
        ngx_http_run_posted_requests(c);
    }

    ngx_http_guichet_redis_release(w);
}


static void
ngx_http_guichet_redis_timeout(ngx_event_t *ev)
{
    ngx_connection_t                 *c;
    ngx_http_request_t               *r;
    ngx_http_guichet_redis_t         *rd = &ngx_http_guichet_redis;
    ngx_http_guichet_redis_waiter_t  *w = ev->data;

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "guichet: redis command timed out after %Mms",
                  (ngx_msec_t) rd->ac->redis_timeout_ms);

    r = w->request;

    if (r) {
        w->request = NULL;
        w->cleanup->handler = NULL;
        c = r->connection;

        w->handler(r, w->data, NULL, NGX_ERROR);
        ngx_http_run_posted_requests(c);
    }

    /*
     * A stalled server or a silent network: start over; hiredis releases
     * this waiter with a NULL reply while freeing the context.
     */
    ngx_http_guichet_redis_drop(rd, "command timed out");
}


ngx_uint_t
ngx_http_guichet_redis_refusal(void)
{
    ngx_event_t  *ev = &ngx_http_guichet_redis_refusals;

    if (ev->handler == NULL) {
        /* no Redis in this worker: nothing to count */
        return 1;
    }

    if (ev->timer_set) {
        ngx_http_guichet_redis_refused++;
        return 0;
    }

    ngx_add_timer(ev, NGX_HTTP_GUICHET_REDIS_REFUSALS);

    return 1;
}


/*
 * Sums up the refusals of the last second, and waits for those of the
 * next one; after a quiet second the next refusal is logged at once.
 */

static void
ngx_http_guichet_redis_refusals_handler(ngx_event_t *ev)
{
    if (ngx_http_guichet_redis_refused == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "guichet: redis failing, %ui more requests refused "
                  "in the last second", ngx_http_guichet_redis_refused);

    ngx_http_guichet_redis_refused = 0;

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(ev, NGX_HTTP_GUICHET_REDIS_REFUSALS);
    }
}


static void
ngx_http_guichet_redis_detach(void *data)
{
    ngx_http_guichet_redis_waiter_t  *w = data;

    w->request = NULL;
}


static void
ngx_http_guichet_redis_release(ngx_http_guichet_redis_waiter_t *w)
{
    ngx_http_guichet_redis_t  *rd = &ngx_http_guichet_redis;

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (rd->exiting) {
        ngx_free(w);
        return;
    }

    ngx_queue_insert_head(&rd->free_waiters, &w->queue);
}
