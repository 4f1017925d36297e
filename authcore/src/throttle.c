/*
 * Throttling: attempt counters in Redis (per email, account, token and
 * IP) with growing delays, counted before the check. The scripts take
 * the time from the caller, so that every node of a cluster judges with
 * the same arithmetic and tests can move the clock.
 */

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/*
 * KEYS: the counters; ARGV: now, max delay, then for each key its free
 * attempts and its window. Replies the seconds to wait, the attempt not
 * counted; or 0, the attempt counted on every key. Times are whole
 * seconds: a delay ends one second later than its length, so that an
 * attempt late in a second still waits the full delay.
 */
static const char  ac_throttle_reserve_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local wait = 0\n"
    "for i = 1, #KEYS do\n"
    "  local u = tonumber(redis.call('HGET', KEYS[i], 'u') or '0') or 0\n"
    "  if u - now > wait then wait = u - now end\n"
    "end\n"
    "if wait > 0 then return wait end\n"
    "for i = 1, #KEYS do\n"
    "  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)\n"
    "  local free = tonumber(ARGV[1 + 2 * i])\n"
    "  local d = 0\n"
    "  if n > free then\n"
    "    local e = n - free - 1\n"
    "    if e > 40 then e = 40 end\n"
    "    d = math.min(2 ^ e, tonumber(ARGV[2])) + 1\n"
    "    redis.call('HSET', KEYS[i], 'u', string.format('%d', now + d))\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i],"
    " math.max(tonumber(ARGV[2 + 2 * i]), d))\n"
    "end\n"
    "return 0\n";

/*
 * KEYS: the counters; ARGV: for each key 1 for an address, else 0, then
 * its free attempts. What was proved is forgotten; an address gets its
 * attempt back, and its delay ends once it is within its free attempts.
 */
static const char  ac_throttle_release_lua[] =
    "for i = 1, #KEYS do\n"
    "  if ARGV[2 * i - 1] == '1' then\n"
    "    if redis.call('EXISTS', KEYS[i]) == 1 then\n"
    "      local n = redis.call('HINCRBY', KEYS[i], 'n', -1)\n"
    "      if n <= 0 then redis.call('DEL', KEYS[i])\n"
    "      elseif n <= tonumber(ARGV[2 * i]) then"
    " redis.call('HDEL', KEYS[i], 'u') end\n"
    "    end\n"
    "  else\n"
    "    redis.call('DEL', KEYS[i])\n"
    "  end\n"
    "end\n"
    "return 0\n";


static int ac_throttle_key(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *kind, const void *data, size_t len, char out[AC_KEY_MAX]);
static void ac_throttle_limits(const ac_config_t *cfg,
    ac_throttle_kind_t kind, int64_t *free, int64_t *window);


static const char  *ac_throttle_names[] = { "id", "2f", "tk", "ip" };


static int
ac_throttle_key(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *kind, const void *data, size_t len, char out[AC_KEY_MAX])
{
    int          n, rc;
    char         digest[AC_DIGEST_LEN + 1];
    const char  *prefix;

    rc = ac_digest(keys, AC_PURPOSE_THROTTLE, data, len, digest);
    if (rc != AC_OK) {
        return rc;
    }

    prefix = (cfg->key_prefix != NULL) ? cfg->key_prefix : "guichet:";

    n = snprintf(out, AC_KEY_MAX, "%sthr:%s:%s", prefix, kind, digest);
    if (n < 0 || n >= AC_KEY_MAX) {
        out[0] = '\0';
        return AC_ERR_TOO_LONG;
    }

    return AC_OK;
}


int
ac_throttle_add(const ac_config_t *cfg, const ac_keys_t *keys,
    ac_throttle_t *t, ac_throttle_kind_t kind, const char *ident,
    size_t identlen)
{
    int    rc;
    char   norm[AC_EMAIL_MAX + 1];

    if (cfg == NULL || keys == NULL || t == NULL || ident == NULL
        || (unsigned) kind > AC_THR_IP)
    {
        return AC_ERR_INVALID;
    }

    if (t->n >= AC_THROTTLE_MAX) {
        return AC_ERR_TOO_LONG;
    }

    /* "Alice@Example.com" and "alice@example.com" share one counter */
    if (kind == AC_THR_EMAIL
        && ac_email_normalize(ident, identlen, norm) == AC_OK)
    {
        rc = ac_throttle_key(cfg, keys, ac_throttle_names[kind], norm,
                             strlen(norm), t->key[t->n]);

    } else {
        rc = ac_throttle_key(cfg, keys, ac_throttle_names[kind], ident,
                             identlen, t->key[t->n]);
    }

    ac_cleanse(norm, sizeof(norm));

    if (rc != AC_OK) {
        return rc;
    }

    t->kind[t->n++] = kind;

    return AC_OK;
}


int
ac_throttle_keys(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *ident, size_t identlen, const char *ip, ac_throttle_t *t)
{
    int  rc;

    if (t == NULL || ip == NULL) {
        return AC_ERR_INVALID;
    }

    memset(t, 0, sizeof(ac_throttle_t));

    rc = ac_throttle_add(cfg, keys, t, AC_THR_EMAIL, ident, identlen);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_throttle_add(cfg, keys, t, AC_THR_IP, ip, strlen(ip));
}


static void
ac_throttle_limits(const ac_config_t *cfg, ac_throttle_kind_t kind,
    int64_t *free, int64_t *window)
{
    *free = cfg->throttle_free;
    *window = cfg->throttle_window > 0 ? cfg->throttle_window : 1;

    if (kind == AC_THR_IP) {
        *free *= AC_THROTTLE_IP_FACTOR;

    } else if (kind == AC_THR_SECOND && *window < AC_THROTTLE_SECOND_WINDOW)
    {
        /* guesses spread over many sign-ins are still remembered */
        *window = AC_THROTTLE_SECOND_WINDOW;
    }
}


int
ac_cmd_throttle_reserve(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t, int64_t now)
{
    size_t   i;
    int64_t  free, window;

    if (cfg == NULL || t == NULL || t->n == 0 || t->n > AC_THROTTLE_MAX) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_throttle_reserve_lua,
                sizeof(ac_throttle_reserve_lua) - 1,
                t->n == 1 ? "1" : t->n == 2 ? "2" : "3");

    for (i = 0; i < t->n; i++) {
        ac_cmd_copy(cmd, t->key[i], strlen(t->key[i]));
    }

    ac_cmd_int(cmd, now);
    ac_cmd_int(cmd, cfg->throttle_max_delay > 0 ? cfg->throttle_max_delay
                                                 : 1);

    for (i = 0; i < t->n; i++) {
        ac_throttle_limits(cfg, t->kind[i], &free, &window);
        ac_cmd_int(cmd, free);
        ac_cmd_int(cmd, window);
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_throttle_release(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t)
{
    size_t   i;
    int64_t  free, window;

    if (cfg == NULL || t == NULL || t->n == 0 || t->n > AC_THROTTLE_MAX) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_throttle_release_lua,
                sizeof(ac_throttle_release_lua) - 1,
                t->n == 1 ? "1" : t->n == 2 ? "2" : "3");

    for (i = 0; i < t->n; i++) {
        ac_cmd_copy(cmd, t->key[i], strlen(t->key[i]));
    }

    for (i = 0; i < t->n; i++) {
        ac_throttle_limits(cfg, t->kind[i], &free, &window);
        ac_cmd_int(cmd, t->kind[i] == AC_THR_IP);
        ac_cmd_int(cmd, free);
    }

    return ac_cmd_status(cmd);
}


int
ac_throttle_parse(const struct redisReply *r, int64_t *seconds)
{
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
        return AC_ERR_REDIS;
    }

    *seconds = r->integer;

    return AC_OK;
}
