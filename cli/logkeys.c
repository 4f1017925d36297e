/*
 * guichetctl: the accounts the connection log names. An entry names its
 * account by a pseudonym (docs/LOG.md), or by its id when written before
 * pseudonyms; each reference is resolved once per run, in one pipelined
 * round trip per batch, to the living account's id and log key, so that
 * the security team reads the entries of living accounts under their id,
 * opened, and those of erased accounts under a pseudonym nothing links
 * back to anyone.
 */

#include <stdlib.h>
#include <string.h>

#include "guichetctl.h"


#define CTL_LK_PENDING     0
#define CTL_LK_KEY         1
#define CTL_LK_NONE        2
#define CTL_LK_BATCH       1000


static ctl_lk_t *ctl_lk_slot(ctl_lk_cache_t *cache, const char *a);
static int ctl_lk_grow(ctl_lk_cache_t *cache, size_t more);
static ctl_lk_t *ctl_lk_add(ctl_lk_cache_t *cache, const char *a);
static int ctl_lk_resolved(ctl_t *ctl, ctl_lk_t *lk, const redisReply *r);
static const redisReply *ctl_lk_field(const redisReply *entry, char name);


int
ctl_lk_prefetch(ctl_t *ctl, ctl_lk_cache_t *cache, const redisReply *batch)
{
    int                rc;
    size_t             i, n;
    void              *reply;
    ac_cmd_t           cmd;
    ctl_lk_t          *lk;
    const redisReply  *a;
    static char        pending[CTL_LK_BATCH][AC_LOG_PSEUDO_LEN + 1];

    if (cache->only) {
        return 0;
    }

    if (ctl_lk_grow(cache, batch->elements) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    n = 0;

    for (i = 0; i < batch->elements && n < CTL_LK_BATCH; i++) {
        a = ctl_lk_field(batch->element[i], 'a');

        if (a == NULL || a->len == 0 || a->len > AC_LOG_PSEUDO_LEN
            || memchr(a->str, '\0', a->len) != NULL)
        {
            continue;
        }

        memcpy(pending[n], a->str, a->len);
        pending[n][a->len] = '\0';

        lk = ctl_lk_slot(cache, pending[n]);
        if (lk->a[0] != '\0') {
            continue;
        }

        lk = ctl_lk_add(cache, pending[n]);

        if (ac_cmd_log_resolve(&cmd, ctl->cfg, pending[n]) != AC_OK) {
            continue;
        }

        lk->state = CTL_LK_PENDING;

        if (ctl_redis_append(ctl, &cmd) != CTL_EXIT_OK) {
            return CTL_EXIT_FAIL;
        }

        n++;
    }

    for (i = 0; i < n; i++) {
        reply = ctl_redis_get(ctl);
        if (reply == NULL) {
            return CTL_EXIT_FAIL;
        }

        rc = ctl_lk_resolved(ctl, ctl_lk_slot(cache, pending[i]), reply);
        freeReplyObject(reply);

        if (rc != 0) {
            return rc;
        }
    }

    return 0;
}


int
ctl_lk_account(ctl_t *ctl, ctl_lk_cache_t *cache, const char *ref,
    char filter[AC_ID_LEN + 1])
{
    int          rc;
    ac_cmd_t     cmd;
    ctl_lk_t    *lk, *other;
    redisReply  *r;
    char         pseudo[AC_LOG_PSEUDO_LEN + 1], a[AC_LOG_PSEUDO_LEN + 1];

    cache->only = 1;

    if (ctl_lk_grow(cache, 2) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    snprintf(a, sizeof(a), "%s", ref);

    rc = ac_cmd_log_resolve(&cmd, ctl->cfg, a);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "--account takes an account id,"
                        " a log pseudonym or an email");
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    lk = ctl_lk_add(cache, a);
    rc = ctl_lk_resolved(ctl, lk, r);
    freeReplyObject(r);

    if (rc != 0) {
        return rc;
    }

    if (lk->state != CTL_LK_KEY) {
        /* erased, or never logged: its entries name what was given */
        memcpy(filter, a, AC_ID_LEN + 1);
        return CTL_EXIT_OK;
    }

    /* its entries name either its pseudonym or (older ones) its id */
    if (ac_log_pseudonym(lk->key, lk->id, pseudo) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "log pseudonym of %s", lk->id);
    }

    other = ctl_lk_add(cache, strcmp(a, pseudo) == 0 ? lk->id : pseudo);
    memcpy(other->id, lk->id, sizeof(lk->id));
    memcpy(other->key, lk->key, sizeof(lk->key));
    other->state = CTL_LK_KEY;

    memcpy(filter, lk->id, AC_ID_LEN + 1);

    return CTL_EXIT_OK;
}


int
ctl_lk_parse(ctl_lk_cache_t *cache, const redisReply *entry,
    ac_log_entry_t *e)
{
    int        rc;
    ctl_lk_t  *lk;

    rc = ac_log_entry_parse(entry, NULL, e);
    if (rc != AC_OK || e->account[0] == '\0' || cache->size == 0) {
        return rc;
    }

    lk = ctl_lk_slot(cache, e->account);
    if (lk->a[0] == '\0' || lk->state != CTL_LK_KEY) {
        return AC_OK;
    }

    if (e->sealed) {
        (void) ac_log_entry_parse(entry, lk->key, e);
    }

    memcpy(e->account, lk->id, sizeof(lk->id));

    return AC_OK;
}


void
ctl_lk_free(ctl_lk_cache_t *cache)
{
    if (cache->slots != NULL) {
        ac_cleanse(cache->slots, cache->size * sizeof(ctl_lk_t));
        free(cache->slots);
    }

    memset(cache, 0, sizeof(*cache));
}


/* A reply of ac_cmd_log_resolve() for lk: its id and key, or none. */
static int
ctl_lk_resolved(ctl_t *ctl, ctl_lk_t *lk, const redisReply *r)
{
    int  rc;

    lk->state = CTL_LK_NONE;

    rc = ac_log_resolve_reply(ctl->keys, lk->a, r, lk->id, lk->key);

    if (rc == AC_OK) {
        lk->state = CTL_LK_KEY;
        return 0;
    }

    lk->id[0] = '\0';

    /* not found: erased (or never had a key); its entries read [erased] */
    if (rc != AC_ERR_NOT_FOUND) {
        return ctl_fail(CTL_EXIT_FAIL, "unexpected reply resolving a log"
                        " account");
    }

    return 0;
}


static size_t
ctl_lk_hash(const char *s)
{
    size_t  h;

    /* FNV-1a */
    h = 2166136261u;

    while (*s != '\0') {
        h = (h ^ (unsigned char) *s++) * 16777619u;
    }

    return h;
}


/* The reference's slot, or the empty one where it would go. */
static ctl_lk_t *
ctl_lk_slot(ctl_lk_cache_t *cache, const char *a)
{
    size_t  i;

    i = ctl_lk_hash(a) & (cache->size - 1);

    while (cache->slots[i].a[0] != '\0'
           && strcmp(cache->slots[i].a, a) != 0)
    {
        i = (i + 1) & (cache->size - 1);
    }

    return &cache->slots[i];
}


/* Claims the slot of a (room made by ctl_lk_grow()), state "none". */
static ctl_lk_t *
ctl_lk_add(ctl_lk_cache_t *cache, const char *a)
{
    ctl_lk_t  *lk;

    lk = ctl_lk_slot(cache, a);

    if (lk->a[0] == '\0') {
        snprintf(lk->a, sizeof(lk->a), "%s", a);
        cache->used++;
    }

    lk->state = CTL_LK_NONE;

    return lk;
}


/* Room for "more" insertions at most half full. */
static int
ctl_lk_grow(ctl_lk_cache_t *cache, size_t more)
{
    size_t     i, size;
    ctl_lk_t  *old, *lk;
    size_t     oldsize;

    if ((cache->used + more) * 2 < cache->size) {
        return AC_OK;
    }

    size = cache->size ? cache->size : 1024;

    while ((cache->used + more) * 2 >= size) {
        size *= 2;
    }

    old = cache->slots;
    oldsize = cache->size;

    cache->slots = calloc(size, sizeof(ctl_lk_t));
    if (cache->slots == NULL) {
        cache->slots = old;
        return AC_ERR_NOMEM;
    }

    cache->size = size;

    for (i = 0; i < oldsize; i++) {
        if (old[i].a[0] != '\0') {
            lk = ctl_lk_slot(cache, old[i].a);
            *lk = old[i];
        }
    }

    if (old != NULL) {
        ac_cleanse(old, oldsize * sizeof(ctl_lk_t));
        free(old);
    }

    return AC_OK;
}


/* A field of a stream entry, or NULL. */
static const redisReply *
ctl_lk_field(const redisReply *entry, char name)
{
    size_t             i;
    const redisReply  *list, *k;

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return NULL;
    }

    list = entry->element[1];

    for (i = 0; i + 1 < list->elements; i += 2) {
        k = list->element[i];

        if (k->type == REDIS_REPLY_STRING && k->len == 1 && k->str[0] == name
            && list->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return list->element[i + 1];
        }
    }

    return NULL;
}
