/*
 * Guichet nginx module: Redis Sentinel.
 *
 * A connection made with redis_sentinels first asks a sentinel for the
 * master's address (SENTINEL get-master-addr-by-name), then checks with
 * ROLE that the server it reaches is the master (ngx_http_guichet_redis.c).
 *
 * One more connection per sentinel (a watcher, made and kept up like the
 * others, on nginx's events) SUBSCRIBEs to its "+switch-master" channel:
 * the leader of a failover announces it at once, the other sentinels only
 * once they hear of it (up to 2 s later), so every one is listened to. At
 * the first announcement that our master moved, the command connection
 * and the events subscriber go to the new address at once, whatever their
 * reconnect backoff: requests fail for the failover itself, not for the
 * failover plus a backoff. A watcher that misses an announcement (its
 * sentinel down) changes nothing: the backoff still finds the new master.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_guichet_redis_conn.h"


static void ngx_http_guichet_redis_follow(ngx_http_guichet_redis_t *rd,
    const char *host, int port);


static ngx_http_guichet_redis_t  *ngx_http_guichet_redis_watch;
static ngx_uint_t                 ngx_http_guichet_redis_nwatch;


void
ngx_http_guichet_redis_watch_start(ngx_cycle_t *cycle, ac_config_t *ac)
{
    ngx_uint_t                 i;
    ngx_http_guichet_redis_t  *w;

    ngx_http_guichet_redis_nwatch = 0;

    if (ac->nredis_sentinels == 0) {
        return;
    }

    ngx_http_guichet_redis_watch = ngx_calloc(
        ac->nredis_sentinels * sizeof(ngx_http_guichet_redis_t), cycle->log);
    if (ngx_http_guichet_redis_watch == NULL) {
        /* failovers are then followed by the backoff alone */
        return;
    }

    ngx_http_guichet_redis_nwatch = ac->nredis_sentinels;

    for (i = 0; i < ac->nredis_sentinels; i++) {
        w = &ngx_http_guichet_redis_watch[i];
        w->name = "redis sentinel events";
        w->level = NGX_LOG_ERR;
        w->watch = 1;
        w->sentinel = i;
        ngx_http_guichet_redis_start(w, cycle, ac);
    }
}


void
ngx_http_guichet_redis_watch_stop(void)
{
    ngx_uint_t  i;

    for (i = 0; i < ngx_http_guichet_redis_nwatch; i++) {
        ngx_http_guichet_redis_stop(&ngx_http_guichet_redis_watch[i]);
    }

    if (ngx_http_guichet_redis_watch != NULL) {
        ngx_free(ngx_http_guichet_redis_watch);
        ngx_http_guichet_redis_watch = NULL;
    }

    ngx_http_guichet_redis_nwatch = 0;
}


void
ngx_http_guichet_redis_sentinel(redisAsyncContext *ctx, void *r,
    void *privdata)
{
    redisReply                *reply = r;
    redisReply                *host, *port;
    ngx_int_t                  n;
    ngx_http_guichet_redis_t  *rd = ctx->data;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        host = reply->element[0];
        port = reply->element[1];

        if (host->type == REDIS_REPLY_STRING
            && port->type == REDIS_REPLY_STRING
            && host->len < sizeof(rd->master))
        {
            ngx_memcpy(rd->master, host->str, host->len);
            rd->master[host->len] = '\0';
            n = ngx_atoi((u_char *) port->str, port->len);

            if (n > 0 && n < 65536
                && ngx_http_guichet_redis_literal(rd->master))
            {
                rd->master_port = (int) n;
                rd->have_master = 1;
            }
        }
    }

    if (!rd->have_master) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "guichet: a sentinel did not name master \"%s\"",
                      rd->ac->redis_master);
    }

    /* deferred by hiredis until this callback returns */
    redisAsyncFree(ctx);
}


/*
 * Replies on the watcher's connection: the SUBSCRIBE confirmation (the
 * watcher is up), then one message per failover a sentinel completed:
 * "<master name> <old ip> <old port> <new ip> <new port>".
 */

void
ngx_http_guichet_redis_switch(redisAsyncContext *ctx, void *r,
    void *privdata)
{
    u_char                    *p, *last, *field[5];
    size_t                     len[5];
    ngx_int_t                  port;
    ngx_uint_t                 n;
    redisReply                *reply = r;
    ngx_http_guichet_redis_t  *rd = ctx->data;
    char                       host[NGX_INET6_ADDRSTRLEN + 1];

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (reply->element[0]->len == sizeof("subscribe") - 1
        && ngx_strncmp(reply->element[0]->str, "subscribe",
                       sizeof("subscribe") - 1)
           == 0)
    {
        rd->state = NGX_HTTP_GUICHET_REDIS_READY;
        rd->backoff = NGX_HTTP_GUICHET_REDIS_BACKOFF_MIN;

        if (rd->connect_timer.timer_set) {
            ngx_del_timer(&rd->connect_timer);
        }

        if (rd->lost) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "guichet: %s connection is back", rd->name);
            rd->lost = 0;
        }

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

    /* five fields separated by single spaces, nothing else */

    p = (u_char *) reply->element[2]->str;
    last = p + reply->element[2]->len;

    for (n = 0; n < 5; n++) {
        field[n] = p;

        while (p < last && *p != ' ') {
            p++;
        }

        len[n] = p - field[n];

        if (len[n] == 0 || (n < 4 && p == last)) {
            return;
        }

        p++;
    }

    if (p <= last
        || len[0] != ngx_strlen(rd->ac->redis_master)
        || ngx_strncmp(field[0], rd->ac->redis_master, len[0]) != 0
        || len[3] >= sizeof(host))
    {
        return;
    }

    ngx_memcpy(host, field[3], len[3]);
    host[len[3]] = '\0';
    port = ngx_atoi(field[4], len[4]);

    if (port <= 0 || port > 65535
        || !ngx_http_guichet_redis_literal(host))
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "guichet: sentinel announced the new redis master of "
                  "\"%s\": %s:%i", rd->ac->redis_master, host, port);

    ngx_http_guichet_redis_follow(&ngx_http_guichet_redis, host, (int) port);
    ngx_http_guichet_redis_follow(&ngx_http_guichet_redis_sub, host,
                                  (int) port);
}


/*
 * Sends a connection to the announced master now: one already there (or
 * on its way there) is kept; one elsewhere is closed and made again at
 * once; one waiting for its backoff stops waiting.
 */

static void
ngx_http_guichet_redis_follow(ngx_http_guichet_redis_t *rd,
    const char *host, int port)
{
    if (!rd->initialized || rd->exiting) {
        return;
    }

    ngx_cpystrn((u_char *) rd->master, (u_char *) host, sizeof(rd->master));
    rd->master_port = port;
    rd->backoff = NGX_HTTP_GUICHET_REDIS_BACKOFF_MIN;

    if (rd->ctx != NULL && rd->peer_port == port
        && ngx_strcmp(rd->peer, host) == 0)
    {
        return;
    }

    rd->have_master = 1;

    if (rd->ctx != NULL) {
        /*
         * the move was logged by the watcher, its return will be too;
         * the cleanup schedules the next attempt in 1 ms
         */
        rd->lost = 1;
        ngx_http_guichet_redis_drop(rd, "the master moved");
        return;
    }

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    ngx_http_guichet_redis_connect(rd);
}
