/*
 * Guichet nginx module: appends one event to the connection log through
 * the Redis adapter, and only then calls the caller back, so that every
 * answer about an authentication follows its log entry.
 *
 * Events about an account name it by its pseudonym and carry its
 * personal fields sealed under the account's log key: it is read (or
 * created) first. The append is a
 * compare-and-set on the log head; this worker remembers the last head
 * it saw and, when another writer moved it, takes the head returned by
 * the refused append and tries again.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"


typedef struct {
    ac_event_t                        ev;
    ngx_uint_t                        tries;
    unsigned char                     key[AC_LOG_KEY_LEN];
    char                              sealed[AC_LOG_KEY_SEALED_MAX];
    ngx_http_guichet_log_handler_pt   handler;
    void                             *data;
} ngx_http_guichet_log_ctx_t;


typedef struct {
    ngx_uint_t                        known;
    uint64_t                          seq;
    unsigned char                     hash[AC_MAC_LEN];
} ngx_http_guichet_log_head_t;


static ngx_int_t ngx_http_guichet_log_send(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc);
static void ngx_http_guichet_log_key_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_log_key_made(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_log_key_open(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc, redisReply *reply);
static void ngx_http_guichet_log_head_got(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_log_appended(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static void ngx_http_guichet_log_cleanup(void *data);
static void ngx_http_guichet_log_done(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc, ngx_int_t rc);


/* the last head this worker saw; a stale one costs one retry */
static ngx_http_guichet_log_head_t  ngx_http_guichet_log_head;


ngx_int_t
ngx_http_guichet_log_event(ngx_http_request_t *r, const ac_event_t *ev,
    ngx_http_guichet_log_handler_pt handler, void *data)
{
    ac_cmd_t                       cmd;
    ngx_pool_cleanup_t            *cln;
    ngx_http_guichet_log_ctx_t    *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_guichet_log_ctx_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    lc = cln->data;
    ngx_memzero(lc, sizeof(ngx_http_guichet_log_ctx_t));
    cln->handler = ngx_http_guichet_log_cleanup;

    lc->ev = *ev;
    lc->ev.log_key = NULL;
    lc->handler = handler;
    lc->data = data;

    /* no account, or the pseudonym of one erased: no key to fetch */
    if (ev->account == NULL || ev->account_len == 0
        || ac_log_pseudonym_check(ev->account, ev->account_len) == AC_OK)
    {
        return ngx_http_guichet_log_send(r, lc);
    }

    if (ac_cmd_log_key_get(&cmd, gmcf->ac, ev->account) != AC_OK) {
        return NGX_ERROR;
    }

    return ngx_http_guichet_redis_send(r, &cmd, ngx_http_guichet_log_key_got,
                                       lc);
}


static void
ngx_http_guichet_log_key_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_log_ctx_t *lc = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (rc != NGX_OK || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        return;
    }

    if (reply->type == REDIS_REPLY_STRING) {
        if (ngx_http_guichet_log_key_open(r, lc, reply) != NGX_OK) {
            ngx_http_guichet_log_done(r, lc, NGX_ERROR);
            return;
        }

        if (ngx_http_guichet_log_send(r, lc) != NGX_OK) {
            ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        }

        return;
    }

    /* the account has no log key yet: offer one, the first offer wins */

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (ac_log_key_new(gmcf->keys, lc->ev.account, lc->key, lc->sealed)
        != AC_OK
        || ac_cmd_log_key_init(&cmd, gmcf->ac, lc->ev.account, lc->sealed)
           != AC_OK
        || ngx_http_guichet_redis_send(r, &cmd,
                                       ngx_http_guichet_log_key_made, lc)
           != NGX_OK)
    {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
    }
}


static void
ngx_http_guichet_log_key_made(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_log_ctx_t *lc = data;

    if (rc != NGX_OK || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        return;
    }

    if (reply->type == REDIS_REPLY_STRING) {
        if (ngx_http_guichet_log_key_open(r, lc, reply) != NGX_OK) {
            ngx_http_guichet_log_done(r, lc, NGX_ERROR);
            return;
        }
    }

    /* nil: the account is gone, its personal fields are not recorded */

    if (ngx_http_guichet_log_send(r, lc) != NGX_OK) {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
    }
}


static ngx_int_t
ngx_http_guichet_log_key_open(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc, redisReply *reply)
{
    int                            arc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    arc = ac_log_key_unseal(gmcf->keys, lc->ev.account, reply->str,
                            reply->len, lc->key);
    if (arc != AC_OK) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: log key of account %s unusable: %s",
                      lc->ev.account, ac_strerror(arc));
        return NGX_ERROR;
    }

    lc->ev.log_key = lc->key;

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_log_send(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc)
{
    int                            arc;
    ac_cmd_t                       cmd;
    ngx_time_t                    *tp;
    ngx_http_guichet_main_conf_t  *gmcf;
    ngx_http_guichet_log_head_t   *head = &ngx_http_guichet_log_head;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (!head->known) {
        if (ac_cmd_log_head(&cmd, gmcf->ac) != AC_OK) {
            return NGX_ERROR;
        }

        return ngx_http_guichet_redis_send(r, &cmd,
                                           ngx_http_guichet_log_head_got,
                                           lc);
    }

    if (lc->tries++ >= AC_LOG_RETRIES) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: connection log busy, gave up after %ui "
                      "attempts", (ngx_uint_t) AC_LOG_RETRIES);
        return NGX_ERROR;
    }

    ngx_time_update();
    tp = ngx_timeofday();

    arc = ac_cmd_log_append(&cmd, gmcf->ac, gmcf->keys, &lc->ev, head->seq,
                            head->hash,
                            (int64_t) tp->sec * 1000 + tp->msec, NULL);
    if (arc != AC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: cannot build the log append: %s",
                      ac_strerror(arc));
        return NGX_ERROR;
    }

    return ngx_http_guichet_redis_send(r, &cmd, ngx_http_guichet_log_appended,
                                       lc);
}


static void
ngx_http_guichet_log_head_got(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_log_ctx_t *lc = data;

    ngx_http_guichet_log_head_t  *head = &ngx_http_guichet_log_head;

    if (rc != NGX_OK
        || ac_log_head_parse(reply, &head->seq, head->hash) != AC_OK)
    {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        return;
    }

    head->known = 1;

    if (ngx_http_guichet_log_send(r, lc) != NGX_OK) {
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
    }
}


static void
ngx_http_guichet_log_appended(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_log_ctx_t *lc = data;

    int                           arc;
    uint64_t                      seq;
    unsigned char                 hash[AC_MAC_LEN];
    ngx_http_guichet_log_head_t  *head = &ngx_http_guichet_log_head;

    if (rc != NGX_OK) {
        /* the entry may or may not be in: ask for the head next time */
        head->known = 0;
        ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        return;
    }

    arc = ac_log_append_reply(reply, &seq, hash);

    if (arc == AC_OK || arc == AC_LOG_CONFLICT) {
        head->seq = seq;
        ngx_memcpy(head->hash, hash, AC_MAC_LEN);
        head->known = 1;
    }

    if (arc == AC_OK) {
        ngx_http_guichet_log_done(r, lc, NGX_OK);
        return;
    }

    if (arc == AC_LOG_CONFLICT) {
        if (ngx_http_guichet_log_send(r, lc) != NGX_OK) {
            ngx_http_guichet_log_done(r, lc, NGX_ERROR);
        }

        return;
    }

    head->known = 0;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: connection log append refused: %*s",
                      (size_t) ngx_min(reply->len, 200), reply->str);

    } else {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: connection log append: malformed reply");
    }

    ngx_http_guichet_log_done(r, lc, NGX_ERROR);
}


static void
ngx_http_guichet_log_cleanup(void *data)
{
    ngx_http_guichet_log_ctx_t *lc = data;

    ngx_explicit_memzero(lc->key, sizeof(lc->key));
}


static void
ngx_http_guichet_log_done(ngx_http_request_t *r,
    ngx_http_guichet_log_ctx_t *lc, ngx_int_t rc)
{
    ngx_explicit_memzero(lc->key, sizeof(lc->key));
    lc->ev.log_key = NULL;

    if (rc != NGX_OK && ngx_http_guichet_redis_refusal()) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: %s event not logged, answering 503",
                      ac_event_name(lc->ev.kind));
    }

    lc->handler(r, lc->data, rc);
}
