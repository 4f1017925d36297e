/*
 * Guichet nginx module: a per-worker cache of the sessions the gate read.
 *
 * SPEC 9 allows it only if a revocation is in force everywhere within one
 * second. Two things make it so:
 *   - an entry lives at most "valid" (<= 1s) from the moment its command
 *     was sent to Redis, whatever happens to the subscriber below;
 *   - a second Redis connection SUBSCRIBEs to "P events", where every
 *     revocation script publishes "revoke DIGEST" and "account ID"; those
 *     drop the entries at once, and a reply whose command was sent before
 *     any such message (the epoch moved) is not cached at all.
 * The table is fixed: buckets of a few entries, the entry that expires
 * first is replaced. Entries are found by the cookie value (the bucket
 * from a hash of it, then a constant-time comparison), so that a hit
 * computes no HMAC; revocations name the digest, found through a small
 * array of digest hashes walked in full (revocations are rare).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_cache.h"

#include <openssl/crypto.h>


#define NGX_HTTP_GUICHET_CACHE_WAYS   4
#define NGX_HTTP_GUICHET_CACHE_MAX    (1024 * 1024)


typedef struct {
    ngx_msec_t              expires;
    ngx_uint_t              used;
    u_char                  cookie[AC_TOKEN_LEN];
    char                    digest[AC_DIGEST_LEN + 1];
    ac_session_t            session;
} ngx_http_guichet_cache_entry_t;


typedef struct {
    ngx_http_guichet_cache_entry_t  *entries;
    uint32_t                        *tags;     /* digest hash per entry */
    ngx_uint_t                       nbuckets;
    ngx_msec_t                       valid;
    ngx_uint_t                       epoch;
} ngx_http_guichet_cache_t;


static ngx_http_guichet_cache_entry_t *ngx_http_guichet_cache_find(
    ngx_str_t *cookie);
static void ngx_http_guichet_cache_drop(ngx_http_guichet_cache_entry_t *e);
static void ngx_http_guichet_cache_event(ngx_str_t *message);
static void ngx_http_guichet_cache_flush(void);


static ngx_http_guichet_cache_t  ngx_http_guichet_cache;


char *
ngx_http_guichet_session_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_guichet_main_conf_t *gmcf = conf;

    ngx_str_t   *value, s;
    ngx_int_t    n;
    ngx_msec_t   valid;

    if (gmcf->session_cache != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    valid = NGX_HTTP_GUICHET_CACHE_VALID;

    if (cf->args->nelts == 2
        && ngx_strcmp(value[1].data, "off") == 0)
    {
        gmcf->session_cache = 0;
        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || n < NGX_HTTP_GUICHET_CACHE_WAYS
        || n > NGX_HTTP_GUICHET_CACHE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid session cache size \"%V\" (%d to %d "
                           "entries, or \"off\")", &value[1],
                           NGX_HTTP_GUICHET_CACHE_WAYS,
                           NGX_HTTP_GUICHET_CACHE_MAX);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "valid=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        valid = ngx_parse_time(&s, 0);

        /* SPEC 9: a revocation is in force within one second */
        if (valid == (ngx_msec_t) NGX_ERROR || valid == 0
            || valid > NGX_HTTP_GUICHET_CACHE_VALID)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": the session cache keeps an "
                               "entry for 1ms to 1s", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    gmcf->session_cache = (ngx_uint_t) n;
    gmcf->session_cache_valid = valid;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_guichet_cache_init(ngx_cycle_t *cycle)
{
    size_t                         len;
    u_char                        *p;
    ngx_uint_t                     size;
    ngx_http_guichet_cache_t      *cache = &ngx_http_guichet_cache;
    ngx_http_guichet_main_conf_t  *gmcf;
    u_char                         channel[AC_KEY_MAX];

    ngx_memzero(cache, sizeof(ngx_http_guichet_cache_t));

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_guichet_module);

    if (gmcf == NULL || gmcf->ac == NULL) {
        return NGX_OK;
    }

    size = gmcf->session_cache;
    cache->valid = gmcf->session_cache_valid;

    if (size == 0) {
        return NGX_OK;
    }

    len = ngx_strlen(gmcf->ac->key_prefix);

    if (len + sizeof("events") > sizeof(channel)) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "guichet: key_prefix too long for the events channel");
        return NGX_ERROR;
    }

    p = ngx_cpymem(channel, gmcf->ac->key_prefix, len);
    ngx_memcpy(p, "events", sizeof("events"));

    cache->nbuckets = (size + NGX_HTTP_GUICHET_CACHE_WAYS - 1)
                      / NGX_HTTP_GUICHET_CACHE_WAYS;

    cache->entries = ngx_calloc(cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS
                                * sizeof(ngx_http_guichet_cache_entry_t),
                                cycle->log);
    if (cache->entries == NULL) {
        goto failed;
    }

    cache->tags = ngx_calloc(cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS
                             * sizeof(uint32_t), cycle->log);
    if (cache->tags == NULL) {
        goto failed;
    }

    if (ngx_http_guichet_redis_subscribe(cycle, gmcf->ac, (char *) channel,
                                         ngx_http_guichet_cache_event)
        != NGX_OK)
    {
        goto failed;
    }

    return NGX_OK;

failed:

    ngx_http_guichet_cache_done(cycle);

    return NGX_ERROR;
}


void
ngx_http_guichet_cache_done(ngx_cycle_t *cycle)
{
    ngx_http_guichet_cache_t  *cache = &ngx_http_guichet_cache;

    if (cache->entries) {
        /* cookies and emails: do not leave them in freed memory */
        ngx_explicit_memzero(cache->entries,
                             cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS
                             * sizeof(ngx_http_guichet_cache_entry_t));
        ngx_free(cache->entries);
        cache->entries = NULL;
    }

    if (cache->tags) {
        ngx_free(cache->tags);
        cache->tags = NULL;
    }

    cache->nbuckets = 0;
}


ngx_uint_t
ngx_http_guichet_cache_epoch(void)
{
    return ngx_http_guichet_cache.epoch;
}


ngx_int_t
ngx_http_guichet_cache_get(ngx_str_t *cookie, char digest[AC_DIGEST_LEN + 1],
    ac_session_t *s)
{
    ngx_uint_t                       i;
    ngx_http_guichet_cache_entry_t  *e;

    e = ngx_http_guichet_cache_find(cookie);
    if (e == NULL) {
        return NGX_DECLINED;
    }

    for (i = 0; i < NGX_HTTP_GUICHET_CACHE_WAYS; i++, e++) {

        if (!e->used
            || CRYPTO_memcmp(e->cookie, cookie->data, AC_TOKEN_LEN) != 0)
        {
            continue;
        }

        if ((ngx_msec_int_t) (e->expires - ngx_current_msec) <= 0) {
            ngx_http_guichet_cache_drop(e);
            return NGX_DECLINED;
        }

        ngx_memcpy(digest, e->digest, AC_DIGEST_LEN + 1);
        *s = e->session;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


void
ngx_http_guichet_cache_put(ngx_str_t *cookie, const char *digest,
    const ac_session_t *s, ngx_uint_t epoch, ngx_msec_t sent)
{
    ngx_uint_t                       i;
    ngx_msec_t                       expires;
    ngx_http_guichet_cache_t        *cache = &ngx_http_guichet_cache;
    ngx_http_guichet_cache_entry_t  *e, *victim;

    if (epoch != cache->epoch) {
        /* a revocation came in while Redis answered: maybe this one */
        return;
    }

    expires = sent + cache->valid;

    if ((ngx_msec_int_t) (expires - ngx_current_msec) <= 0) {
        return;
    }

    e = ngx_http_guichet_cache_find(cookie);
    if (e == NULL) {
        return;
    }

    victim = e;

    for (i = 0; i < NGX_HTTP_GUICHET_CACHE_WAYS; i++, e++) {

        if (e->used
            && CRYPTO_memcmp(e->cookie, cookie->data, AC_TOKEN_LEN) == 0)
        {
            victim = e;
            break;
        }

        if (!e->used) {
            victim = e;
            continue;
        }

        if (victim->used
            && (ngx_msec_int_t) (e->expires - victim->expires) < 0)
        {
            victim = e;
        }
    }

    ngx_memcpy(victim->cookie, cookie->data, AC_TOKEN_LEN);
    ngx_memcpy(victim->digest, digest, AC_DIGEST_LEN);
    victim->digest[AC_DIGEST_LEN] = '\0';
    victim->session = *s;
    victim->expires = expires;
    victim->used = 1;

    cache->tags[victim - cache->entries] =
                       ngx_murmur_hash2((u_char *) digest, AC_DIGEST_LEN);
}


void
ngx_http_guichet_cache_touched(ngx_str_t *cookie, int64_t now)
{
    ngx_uint_t                       i;
    ngx_http_guichet_cache_entry_t  *e;

    e = ngx_http_guichet_cache_find(cookie);
    if (e == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_GUICHET_CACHE_WAYS; i++, e++) {
        if (e->used
            && CRYPTO_memcmp(e->cookie, cookie->data, AC_TOKEN_LEN) == 0)
        {
            e->session.last_seen = now;
            return;
        }
    }
}


/* The first entry of the cookie's bucket, NULL without a cache. */

static ngx_http_guichet_cache_entry_t *
ngx_http_guichet_cache_find(ngx_str_t *cookie)
{
    uint32_t                   key;
    ngx_http_guichet_cache_t  *cache = &ngx_http_guichet_cache;

    if (cache->nbuckets == 0 || cookie->len != AC_TOKEN_LEN) {
        return NULL;
    }

    /* the cookie is random: any hash spreads it */
    key = ngx_murmur_hash2(cookie->data, AC_TOKEN_LEN);

    return &cache->entries[(key % cache->nbuckets)
                           * NGX_HTTP_GUICHET_CACHE_WAYS];
}


static void
ngx_http_guichet_cache_drop(ngx_http_guichet_cache_entry_t *e)
{
    e->used = 0;
    ngx_explicit_memzero(e->cookie, AC_TOKEN_LEN);
}


/* "revoke DIGEST", "account ID", or NULL after (re)subscribing */

static void
ngx_http_guichet_cache_event(ngx_str_t *message)
{
    u_char                          *arg;
    size_t                           len;
    uint32_t                         tag;
    ngx_uint_t                       i, n;
    ngx_http_guichet_cache_t        *cache = &ngx_http_guichet_cache;
    ngx_http_guichet_cache_entry_t  *e;

    cache->epoch++;

    if (message == NULL) {
        /* messages may have been lost while the subscriber was down */
        ngx_http_guichet_cache_flush();
        return;
    }

    if (message->len == sizeof("revoke ") - 1 + AC_DIGEST_LEN
        && ngx_strncmp(message->data, "revoke ", sizeof("revoke ") - 1)
           == 0)
    {
        arg = message->data + sizeof("revoke ") - 1;
        tag = ngx_murmur_hash2(arg, AC_DIGEST_LEN);
        n = cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS;

        for (i = 0; i < n; i++) {
            e = &cache->entries[i];

            if (cache->tags[i] == tag && e->used
                && ngx_memcmp(e->digest, arg, AC_DIGEST_LEN) == 0)
            {
                ngx_http_guichet_cache_drop(e);
            }
        }

        return;
    }

    if (message->len > sizeof("account ") - 1
        && message->len <= sizeof("account ") - 1 + AC_ID_LEN
        && ngx_strncmp(message->data, "account ", sizeof("account ") - 1)
           == 0)
    {
        arg = message->data + sizeof("account ") - 1;
        len = message->len - (sizeof("account ") - 1);
        n = cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS;

        for (i = 0; i < n; i++) {
            e = &cache->entries[i];

            if (e->used && ngx_strlen(e->session.account) == len
                && ngx_memcmp(e->session.account, arg, len) == 0)
            {
                ngx_http_guichet_cache_drop(e);
            }
        }

        return;
    }

    /* a message of a later version: be safe */
    ngx_http_guichet_cache_flush();
}


static void
ngx_http_guichet_cache_flush(void)
{
    ngx_uint_t                 i, n;
    ngx_http_guichet_cache_t  *cache = &ngx_http_guichet_cache;

    n = cache->nbuckets * NGX_HTTP_GUICHET_CACHE_WAYS;

    for (i = 0; i < n; i++) {
        ngx_http_guichet_cache_drop(&cache->entries[i]);
    }
}
