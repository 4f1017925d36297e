/*
 * Throttling: per-identifier and per-IP failure counters in Redis with
 * growing delays. The scripts take the time from the caller, so that
 * every node of a cluster judges with the same arithmetic and tests can
 * move the clock.
 */

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/* KEYS: id, ip; ARGV: now */
static const char  ac_throttle_check_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local wait = 0\n"
    "for i = 1, 2 do\n"
    "  local u = tonumber(redis.call('HGET', KEYS[i], 'u') or '0') or 0\n"
    "  if u - now > wait then wait = u - now end\n"
    "end\n"
    "return wait\n";

/*
 * KEYS: id, ip; ARGV: now, window, free id, free ip, max delay.
 * Times are whole seconds: the delay ends one second later than its
 * length, so that a failure late in a second still waits the full delay.
 */
static const char  ac_throttle_fail_lua[] =
    "local now = tonumber(ARGV[1])\n"
    "local wait = 0\n"
    "for i = 1, 2 do\n"
    "  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)\n"
    "  local free = tonumber(ARGV[2 + i])\n"
    "  local d = 0\n"
    "  if n > free then\n"
    "    local e = n - free - 1\n"
    "    if e > 40 then e = 40 end\n"
    "    d = math.min(2 ^ e, tonumber(ARGV[5])) + 1\n"
    "    redis.call('HSET', KEYS[i], 'u', string.format('%d', now + d))\n"
    "  end\n"
    "  redis.call('EXPIRE', KEYS[i], math.max(tonumber(ARGV[2]), d))\n"
    "  if d > wait then wait = d end\n"
    "end\n"
    "return wait\n";


static int ac_throttle_key(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *kind, const void *data, size_t len, char out[AC_KEY_MAX]);


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
ac_throttle_keys(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *ident, size_t identlen, const char *ip, ac_throttle_t *t)
{
    int    rc;
    char   norm[AC_EMAIL_MAX + 1];

    if (cfg == NULL || keys == NULL || ident == NULL || ip == NULL
        || t == NULL)
    {
        return AC_ERR_INVALID;
    }

    /* "Alice@Example.com" and "alice@example.com" share one counter */
    if (ac_email_normalize(ident, identlen, norm) == AC_OK) {
        rc = ac_throttle_key(cfg, keys, "id", norm, strlen(norm), t->id);

    } else {
        rc = ac_throttle_key(cfg, keys, "id", ident, identlen, t->id);
    }

    ac_cleanse(norm, sizeof(norm));

    if (rc != AC_OK) {
        return rc;
    }

    return ac_throttle_key(cfg, keys, "ip", ip, strlen(ip), t->ip);
}


int64_t
ac_throttle_delay(int64_t failures, int64_t free, int64_t max_delay)
{
    int64_t  e, d;

    if (failures <= free || max_delay <= 0) {
        return 0;
    }

    e = failures - free - 1;
    if (e > 40) {
        e = 40;
    }

    d = (int64_t) 1 << e;

    return d < max_delay ? d : max_delay;
}


int
ac_cmd_throttle_check(ac_cmd_t *cmd, const ac_throttle_t *t, int64_t now)
{
    if (t == NULL || t->id[0] == '\0' || t->ip[0] == '\0') {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_throttle_check_lua,
                sizeof(ac_throttle_check_lua) - 1, "2");
    ac_cmd_copy(cmd, t->id, strlen(t->id));
    ac_cmd_copy(cmd, t->ip, strlen(t->ip));
    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_throttle_fail(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_throttle_t *t, int64_t now)
{
    int64_t  window, max_delay;

    if (cfg == NULL || t == NULL || t->id[0] == '\0' || t->ip[0] == '\0') {
        return AC_ERR_INVALID;
    }

    window = cfg->throttle_window > 0 ? cfg->throttle_window : 1;
    max_delay = cfg->throttle_max_delay > 0 ? cfg->throttle_max_delay : 1;

    ac_cmd_eval(cmd, ac_throttle_fail_lua,
                sizeof(ac_throttle_fail_lua) - 1, "2");
    ac_cmd_copy(cmd, t->id, strlen(t->id));
    ac_cmd_copy(cmd, t->ip, strlen(t->ip));
    ac_cmd_int(cmd, now);
    ac_cmd_int(cmd, window);
    ac_cmd_int(cmd, (int64_t) cfg->throttle_free);
    ac_cmd_int(cmd, (int64_t) cfg->throttle_free * AC_THROTTLE_IP_FACTOR);
    ac_cmd_int(cmd, max_delay);

    return ac_cmd_status(cmd);
}


int
ac_cmd_throttle_reset(ac_cmd_t *cmd, const ac_throttle_t *t)
{
    if (t == NULL || t->id[0] == '\0') {
        return AC_ERR_INVALID;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "DEL");
    ac_cmd_copy(cmd, t->id, strlen(t->id));

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
