/*
 * The mail queue, reset and address-change tokens, and the devices an
 * account was seen from (SPEC 10; authcore.h "mail"). The module only
 * appends to the queue; guichetctl's worker reads, delivers,
 * acknowledges, retries and gives up. Every move of a message between
 * the stream, the retry set and the dead letters is one script, so that
 * a message is always in exactly one place.
 */

#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/* KEYS: mail, retry, held; ARGV: now */
static const char  ac_mail_due_lua[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1],"
    " 'LIMIT', 0, 100)\n"
    "for _, id in ipairs(ids) do\n"
    "  local v = redis.call('HGET', KEYS[3], id)\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "  redis.call('HDEL', KEYS[3], id)\n"
    "  if v then redis.call('XADD', KEYS[1], '*', unpack(cjson.decode(v)))"
    " end\n"
    "end\n"
    "return #ids\n";

/* KEYS: mail; ARGV: group, id */
static const char  ac_mail_done_lua[] =
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0"
    " end\n"
    "redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "return 1\n";

/* KEYS: mail, retry, held, dead; ARGV: group, id, due, dead, error, now,
 * then the message's fields */
static const char  ac_mail_retry_lua[] =
    "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0"
    " end\n"
    "redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "local f = {}\n"
    "for i = 7, #ARGV do f[#f + 1] = ARGV[i] end\n"
    "if ARGV[4] == '1' then\n"
    "  f[#f + 1] = 'e'\n"
    "  f[#f + 1] = ARGV[5]\n"
    "  f[#f + 1] = 'f'\n"
    "  f[#f + 1] = ARGV[6]\n"
    "  redis.call('XADD', KEYS[4], '*', unpack(f))\n"
    "else\n"
    "  redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(f))\n"
    "  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])\n"
    "end\n"
    "return 1\n";

/* KEYS: dead, mail; ARGV: id or "all" */
static const char  ac_mail_requeue_lua[] =
    "local e\n"
    "if ARGV[1] == 'all' then\n"
    "  e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1000)\n"
    "else\n"
    "  e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "end\n"
    "for _, x in ipairs(e) do\n"
    "  local f = {}\n"
    "  local kv = x[2]\n"
    "  for i = 1, #kv, 2 do\n"
    "    if kv[i] == 'n' then f[#f + 1] = 'n' f[#f + 1] = '0'\n"
    "    elseif kv[i] ~= 'e' and kv[i] ~= 'f' then\n"
    "      f[#f + 1] = kv[i] f[#f + 1] = kv[i + 1]\n"
    "    end\n"
    "  end\n"
    "  redis.call('XADD', KEYS[2], '*', unpack(f))\n"
    "  redis.call('XDEL', KEYS[1], x[1])\n"
    "end\n"
    "return #e\n";

/*
 * KEYS: email index, mail, reset key; ARGV: "P acct:", ttl, email, then
 * the message's fields but "t" and "a". The same steps for any address
 * up to the lookup; the token and the message only for a live account.
 */
static const char  ac_reset_request_lua[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then return {0, 'unknown'} end\n"
    "local a = redis.call('HMGET', ARGV[1] .. id, 'email', 'status',"
    " 'restricted', 'pw_changed')\n"
    "if a[1] ~= ARGV[3] then return {0, 'unknown'} end\n"
    "if a[2] and a[2] ~= '0' then return {0, 'locked', id} end\n"
    "if a[3] == '1' then return {0, 'restricted', id} end\n"
    "redis.call('HSET', KEYS[3], 'a', id, 'e', a[1], 'p', a[4] or '')\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[2])\n"
    "local f = {'t', a[1], 'a', id}\n"
    "for i = 4, #ARGV do f[#f + 1] = ARGV[i] end\n"
    "redis.call('XADD', KEYS[2], '*', unpack(f))\n"
    "return {1, id}\n";

/* KEYS: reset key; ARGV: "P acct:" */
static const char  ac_reset_get_lua[] =
    "local t = redis.call('HMGET', KEYS[1], 'a', 'e', 'p')\n"
    "if not t[1] then return {} end\n"
    "local k = ARGV[1] .. t[1]\n"
    "local c = redis.call('HMGET', k, 'email', 'pw_changed')\n"
    "if c[1] ~= t[2] or (c[2] or '') ~= t[3] then return {} end\n"
    "local a = redis.call('HGETALL', k)\n"
    "a[#a + 1] = 'id'\n"
    "a[#a + 1] = t[1]\n"
    "return a\n";

/* KEYS: reset key, its new key */
static const char  ac_reset_exchange_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('RENAME', KEYS[1], KEYS[2])\n"
    "return 1\n";

/* KEYS: reset key, account; ARGV: account id, phc, now */
static const char  ac_reset_finish_lua[] =
    "local t = redis.call('HMGET', KEYS[1], 'a', 'e', 'p')\n"
    "if t[1] ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "local c = redis.call('HMGET', KEYS[2], 'email', 'pw_changed')\n"
    "if c[1] ~= t[2] or (c[2] or '') ~= t[3] then return 0 end\n"
    "redis.call('HSET', KEYS[2], 'pw', ARGV[2], 'pw_changed', ARGV[3])\n"
    "return 1\n";

/* KEYS: new email index, change key, mail; ARGV: ttl, account, old, new,
 * number of fields of the first message, its fields, the second's */
static const char  ac_email_change_request_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[2], 'a', ARGV[2], 'o', ARGV[3], 'n', ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "local n = tonumber(ARGV[5])\n"
    "local f = {}\n"
    "for i = 6, 5 + n do f[#f + 1] = ARGV[i] end\n"
    "redis.call('XADD', KEYS[3], '*', unpack(f))\n"
    "if #ARGV > 5 + n then\n"
    "  local g = {}\n"
    "  for i = 6 + n, #ARGV do g[#g + 1] = ARGV[i] end\n"
    "  redis.call('XADD', KEYS[3], '*', unpack(g))\n"
    "end\n"
    "return 1\n";

/* KEYS: change key; ARGV: "P acct:" */
/* KEYS: the token's; ARGV: the account key prefix, "1" to use it up */
static const char  ac_email_change_take_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'a', 'o', 'n')\n"
    "if not h[1] then return {} end\n"
    "if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end\n"
    "if redis.call('HGET', ARGV[1] .. h[1], 'email') ~= h[2] then"
    " return {} end\n"
    "return h\n";

/*
 * KEYS: account, mail; ARGV: field, now, window, max, notify, account
 * id, then the notice's fields but "t" and "a". An account that never
 * had a pair recorded gets no notice: nothing to compare with.
 */
static const char  ac_seen_device_lua[] =
    "local e = redis.call('HGET', KEYS[1], 'email')\n"
    "if not e then return 0 end\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local now = tonumber(ARGV[2])\n"
    "local cut = now - tonumber(ARGV[3])\n"
    "local max = tonumber(ARGV[4])\n"
    "local others = {}\n"
    "local known = false\n"
    "local any = false\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 'n:' then\n"
    "    any = true\n"
    "    local t = tonumber(h[i + 1]) or 0\n"
    "    if t < cut then redis.call('HDEL', KEYS[1], h[i])\n"
    "    elseif h[i] == ARGV[1] then known = true\n"
    "    else others[#others + 1] = {h[i], t} end\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "if #others >= max then\n"
    "  table.sort(others, function(x, y) return x[2] < y[2] end)\n"
    "  for i = 1, #others - max + 1 do\n"
    "    redis.call('HDEL', KEYS[1], others[i][1])\n"
    "  end\n"
    "end\n"
    "if known or not any then return 0 end\n"
    "if ARGV[5] == '1' then\n"
    "  local f = {'t', e, 'a', ARGV[6]}\n"
    "  for i = 7, #ARGV do f[#f + 1] = ARGV[i] end\n"
    "  redis.call('XADD', KEYS[2], '*', unpack(f))\n"
    "end\n"
    "return 1\n";


static int ac_mail_text_ok(const char *s);
static int ac_mail_args(ac_cmd_t *cmd, const ac_mail_t *m, int with_to);
static int ac_mail_token_key(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *name, const char *token,
    size_t len);
static int ac_mail_token_cmd(ac_cmd_t *cmd, const char *script, size_t slen,
    const ac_config_t *cfg, const ac_keys_t *keys, const char *name,
    const char *token, size_t len, const char *fresh);


static int
ac_mail_text_ok(const char *s)
{
    for ( ; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* the message's fields, as the stream holds them; referenced from m */
static int
ac_mail_args(ac_cmd_t *cmd, const ac_mail_t *m, int with_to)
{
    size_t       i;
    const char  *name;
    char         norm[AC_EMAIL_MAX + 1];
    const struct {
        const char  *field;
        const char  *value;
    }            opt[] = {
        { "i", m->ip }, { "d", m->device }, { "l", m->link },
        { "h", m->help }, { "p", m->partner }, { "v", m->detail },
    };

    name = ac_mail_kind_name(m->kind);
    if (name == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_str(cmd, "k");
    ac_cmd_str(cmd, name);

    if (with_to) {
        if (ac_email_normalize(m->to, strlen(m->to), norm) != AC_OK) {
            return AC_ERR_INVALID;
        }

        ac_cmd_str(cmd, "t");
        ac_cmd_str(cmd, m->to);

        if (m->account[0]) {
            if (ac_log_account_check(m->account, strlen(m->account))
                != AC_OK)
            {
                return AC_ERR_INVALID;
            }

            ac_cmd_str(cmd, "a");
            ac_cmd_str(cmd, m->account);
        }
    }

    ac_cmd_str(cmd, "w");
    ac_cmd_int(cmd, m->when);

    if (m->expires > 0) {
        ac_cmd_str(cmd, "x");
        ac_cmd_int(cmd, m->expires);
    }

    ac_cmd_str(cmd, "n");
    ac_cmd_int(cmd, m->attempts);

    for (i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (opt[i].value[0] == '\0') {
            continue;
        }

        if (!ac_mail_text_ok(opt[i].value)) {
            return AC_ERR_INVALID;
        }

        ac_cmd_str(cmd, opt[i].field);
        ac_cmd_str(cmd, opt[i].value);
    }

    return AC_OK;
}


int
ac_cmd_mail_enqueue(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_mail_t *m)
{
    int  rc;

    if (cmd == NULL || cfg == NULL || m == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "XADD");

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "*");

    rc = ac_mail_args(cmd, m, 1);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_group(ac_cmd_t *cmd, const ac_config_t *cfg)
{
    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "XGROUP");
    ac_cmd_str(cmd, "CREATE");

    if (ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, AC_MAIL_GROUP);
    ac_cmd_str(cmd, "0");
    ac_cmd_str(cmd, "MKSTREAM");

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_read(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *consumer, int64_t count, int64_t block_ms)
{
    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "XREADGROUP");
    ac_cmd_str(cmd, "GROUP");
    ac_cmd_str(cmd, AC_MAIL_GROUP);
    ac_cmd_str(cmd, consumer);
    ac_cmd_str(cmd, "COUNT");
    ac_cmd_int(cmd, count);
    ac_cmd_str(cmd, "BLOCK");
    ac_cmd_int(cmd, block_ms);
    ac_cmd_str(cmd, "STREAMS");

    if (ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, ">");

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_claim(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *consumer, int64_t idle_ms, int64_t count)
{
    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "XAUTOCLAIM");

    if (ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, AC_MAIL_GROUP);
    ac_cmd_str(cmd, consumer);
    ac_cmd_int(cmd, idle_ms);
    ac_cmd_str(cmd, "0-0");
    ac_cmd_str(cmd, "COUNT");
    ac_cmd_int(cmd, count);

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_due(ac_cmd_t *cmd, const ac_config_t *cfg, int64_t now)
{
    int  rc;

    ac_cmd_eval(cmd, ac_mail_due_lua, sizeof(ac_mail_due_lua) - 1, "3");

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail:retry", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail:held", NULL, NULL);
    if (rc != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_done(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    ac_cmd_eval(cmd, ac_mail_done_lua, sizeof(ac_mail_done_lua) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, AC_MAIL_GROUP);
    ac_cmd_str(cmd, id);

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_retry(ac_cmd_t *cmd, const ac_config_t *cfg, const ac_mail_t *m,
    int64_t due, int dead, const char *error, int64_t now)
{
    int  rc;

    if (m == NULL || m->id[0] == '\0') {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_mail_retry_lua, sizeof(ac_mail_retry_lua) - 1, "4");

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail:retry", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail:held", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail:dead", NULL, NULL);
    if (rc != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, AC_MAIL_GROUP);
    ac_cmd_str(cmd, m->id);
    ac_cmd_int(cmd, due);
    ac_cmd_str(cmd, dead ? "1" : "0");
    ac_cmd_str(cmd, error ? error : "");
    ac_cmd_int(cmd, now);

    rc = ac_mail_args(cmd, m, 1);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_dead_list(ac_cmd_t *cmd, const ac_config_t *cfg, int64_t count)
{
    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "XRANGE");

    if (ac_cmd_key_arg(cmd, cfg, "mail:dead", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, "-");
    ac_cmd_str(cmd, "+");
    ac_cmd_str(cmd, "COUNT");
    ac_cmd_int(cmd, count);

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_requeue(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    int     rc;
    size_t  i;

    if (id == NULL || id[0] == '\0' || strlen(id) >= AC_LOG_ID_MAX) {
        return AC_ERR_INVALID;
    }

    /* a stream id "MS-N", or "all" */
    if (strcmp(id, "all") != 0) {
        for (i = 0; id[i]; i++) {
            if (!((id[i] >= '0' && id[i] <= '9') || id[i] == '-')) {
                return AC_ERR_INVALID;
            }
        }
    }

    ac_cmd_eval(cmd, ac_mail_requeue_lua, sizeof(ac_mail_requeue_lua) - 1,
                "2");

    rc = ac_cmd_key_arg(cmd, cfg, "mail:dead", NULL, NULL);
    rc |= ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    if (rc != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, id);

    return ac_cmd_status(cmd);
}


int
ac_cmd_mail_dead_trim(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t before_ms, int count)
{
    char  end[32];

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, count ? "XRANGE" : "XTRIM");

    if (ac_cmd_key_arg(cmd, cfg, "mail:dead", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    if (count) {
        snprintf(end, sizeof(end), "(%lld", (long long) before_ms);
        ac_cmd_str(cmd, "-");
        ac_cmd_copy(cmd, end, strlen(end));

    } else {
        ac_cmd_str(cmd, "MINID");
        ac_cmd_int(cmd, before_ms);
    }

    return ac_cmd_status(cmd);
}


int64_t
ac_mail_backoff(int64_t attempts)
{
    int64_t  d;

    if (attempts < 1) {
        attempts = 1;
    }

    if (attempts > 8) {
        return 3600;
    }

    d = 30LL << (attempts - 1);

    return d > 3600 ? 3600 : d;
}


/* ------------------------------------------------------------- tokens */

/* the key "P NAME:TDIGEST" of a token shaped as ours */
static int
ac_mail_token_key(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *name, const char *token, size_t len)
{
    int     rc;
    size_t  i;
    char    digest[AC_DIGEST_LEN + 1], data[16 + AC_TOKEN_LEN];

    if (token == NULL || len != AC_TOKEN_LEN) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        if (!((token[i] >= 'A' && token[i] <= 'Z')
              || (token[i] >= 'a' && token[i] <= 'z')
              || (token[i] >= '0' && token[i] <= '9')
              || token[i] == '-' || token[i] == '_'))
        {
            return AC_ERR_INVALID;
        }
    }

    /* "reset:" or "emailchg:" then the token: one purpose per kind */
    i = strlen(name);
    memcpy(data, name, i);
    memcpy(data + i, token, len);

    rc = ac_digest(keys, AC_PURPOSE_TOKEN, data, i + len, digest);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_key_arg(cmd, cfg, name, digest, NULL);
}


/*
 * An EVAL of a token's script: KEYS the token's key, then with "fresh"
 * the key of the token that replaces it (an exchange), else ARGV "P acct:"
 * (a read or a take).
 */
static int
ac_mail_token_cmd(ac_cmd_t *cmd, const char *script, size_t slen,
    const ac_config_t *cfg, const ac_keys_t *keys, const char *name,
    const char *token, size_t len, const char *fresh)
{
    int  rc;

    ac_cmd_eval(cmd, script, slen, fresh != NULL ? "2" : "1");

    rc = ac_mail_token_key(cmd, cfg, keys, name, token, len);
    if (rc != AC_OK) {
        return rc;
    }

    rc = fresh != NULL
         ? ac_mail_token_key(cmd, cfg, keys, name, fresh, strlen(fresh))
         : ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_reset_request(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *email, const char *token,
    const ac_mail_t *m)
{
    int   rc;
    char  key[AC_KEY_MAX];

    if (cmd == NULL || cfg == NULL || email == NULL || m == NULL) {
        return AC_ERR_INVALID;
    }

    rc = ac_key_email(cfg, keys, email, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_reset_request_lua, sizeof(ac_reset_request_lua) - 1,
                "3");
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_mail_token_key(cmd, cfg, keys, "reset:", token,
                           token ? strlen(token) : 0);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_int(cmd, cfg->reset_token_ttl);
    ac_cmd_str(cmd, email);

    rc = ac_mail_args(cmd, m, 0);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_reset_request_reply(const redisReply *r, char id[AC_ID_LEN + 1],
    const char **reason)
{
    const redisReply  *e;

    id[0] = '\0';
    *reason = "unknown";

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_STRING)
    {
        return AC_ERR_REDIS;
    }

    e = (r->element[0]->integer == 1) ? r->element[1]
        : (r->elements > 2 ? r->element[2] : NULL);

    if (e != NULL) {
        if (e->type != REDIS_REPLY_STRING || e->len > AC_ID_LEN) {
            return AC_ERR_REDIS;
        }

        memcpy(id, e->str, e->len);
        id[e->len] = '\0';
    }

    if (r->element[0]->integer == 1) {
        return AC_OK;
    }

    e = r->element[1];

    if (e->len == 6 && memcmp(e->str, "locked", 6) == 0) {
        *reason = "locked";
    } else if (e->len == 10 && memcmp(e->str, "restricted", 10) == 0) {
        *reason = "restricted";
    }

    return AC_ERR_NOT_FOUND;
}


int
ac_cmd_reset_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    return ac_mail_token_cmd(cmd, ac_reset_get_lua,
                             sizeof(ac_reset_get_lua) - 1, cfg, keys,
                             "reset:", token, len, NULL);
}


int
ac_reset_parse(const redisReply *r, ac_account_t *a)
{
    return ac_account_parse(r, NULL, a);
}


int
ac_cmd_reset_exchange(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len, const char *fresh)
{
    if (fresh == NULL) {
        return AC_ERR_INVALID;
    }

    return ac_mail_token_cmd(cmd, ac_reset_exchange_lua,
                             sizeof(ac_reset_exchange_lua) - 1, cfg, keys,
                             "reset:", token, len, fresh);
}


int
ac_cmd_reset_finish(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len,
    const char *account, const char *phc, int64_t now)
{
    int  rc;

    if (account == NULL || phc == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_reset_finish_lua, sizeof(ac_reset_finish_lua) - 1,
                "2");

    rc = ac_mail_token_key(cmd, cfg, keys, "reset:", token, len);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, account);
    ac_cmd_str(cmd, phc);
    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_email_change_request(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const char *old_email,
    const char *new_email, const char *token, const ac_mail_t *m_new,
    const ac_mail_t *m_old)
{
    int     rc;
    char    key[AC_KEY_MAX];
    size_t  mark, n;

    if (account == NULL || old_email == NULL || new_email == NULL
        || m_new == NULL)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_key_email(cfg, keys, new_email, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_email_change_request_lua,
                sizeof(ac_email_change_request_lua) - 1, "3");
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_mail_token_key(cmd, cfg, keys, "emailchg:", token,
                           token ? strlen(token) : 0);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_int(cmd, cfg->reset_token_ttl);
    ac_cmd_str(cmd, account);
    ac_cmd_str(cmd, old_email);
    ac_cmd_str(cmd, new_email);

    /* the count of the first message's fields, known once they are in */
    ac_cmd_str(cmd, "0");
    mark = cmd->argc - 1;

    rc = ac_mail_args(cmd, m_new, 1);
    if (rc != AC_OK) {
        return rc;
    }

    n = cmd->argc - 1 - mark;
    ac_cmd_int(cmd, (int64_t) n);
    cmd->argc--;
    cmd->argv[mark] = cmd->argv[cmd->argc];
    cmd->argvlen[mark] = cmd->argvlen[cmd->argc];

    if (m_old != NULL) {
        rc = ac_mail_args(cmd, m_old, 1);
        if (rc != AC_OK) {
            return rc;
        }
    }

    return ac_cmd_status(cmd);
}


static int
ac_cmd_email_change_read(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len, int take)
{
    int  rc;

    ac_cmd_eval(cmd, ac_email_change_take_lua,
                sizeof(ac_email_change_take_lua) - 1, "1");

    rc = ac_mail_token_key(cmd, cfg, keys, "emailchg:", token, len);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, take ? "1" : "0");

    return ac_cmd_status(cmd);
}


int
ac_cmd_email_change_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    return ac_cmd_email_change_read(cmd, cfg, keys, token, len, 0);
}


int
ac_cmd_email_change_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    return ac_cmd_email_change_read(cmd, cfg, keys, token, len, 1);
}


int
ac_cmd_email_change_exchange(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len, const char *fresh)
{
    if (fresh == NULL) {
        return AC_ERR_INVALID;
    }

    return ac_mail_token_cmd(cmd, ac_reset_exchange_lua,
                             sizeof(ac_reset_exchange_lua) - 1, cfg, keys,
                             "emailchg:", token, len, fresh);
}


int
ac_email_change_parse(const redisReply *r, char account[AC_ID_LEN + 1],
    char old_email[AC_EMAIL_MAX + 1], char new_email[AC_EMAIL_MAX + 1])
{
    size_t              i;
    char               *out[3];
    size_t              size[3];

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return AC_ERR_REDIS;
    }

    if (r->elements == 0) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->elements != 3) {
        return AC_ERR_REDIS;
    }

    out[0] = account;
    out[1] = old_email;
    out[2] = new_email;
    size[0] = AC_ID_LEN + 1;
    size[1] = AC_EMAIL_MAX + 1;
    size[2] = AC_EMAIL_MAX + 1;

    for (i = 0; i < 3; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING
            || r->element[i]->len >= size[i])
        {
            return AC_ERR_REDIS;
        }

        memcpy(out[i], r->element[i]->str, r->element[i]->len);
        out[i][r->element[i]->len] = '\0';
    }

    return AC_OK;
}


/* ------------------------------------------------------------ devices */

int
ac_cmd_seen_device(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const char *ip,
    const char *device, int64_t now, int notify, const ac_mail_t *m)
{
    int     rc;
    char    field[2 + 2 * (AC_DIGEST_LEN + 1) + 1];
    char    data[4 + AC_LOG_UA_MAX + 1];
    size_t  n;

    if (account == NULL || ip == NULL || device == NULL || m == NULL) {
        return AC_ERR_INVALID;
    }

    memcpy(field, "n:", 2);

    n = snprintf(data, sizeof(data), "ip:%s", ip);
    rc = ac_digest(keys, AC_PURPOSE_EMAIL, data,
                   n < sizeof(data) ? n : sizeof(data) - 1, field + 2);
    if (rc != AC_OK) {
        return rc;
    }

    field[2 + AC_DIGEST_LEN] = '.';

    n = snprintf(data, sizeof(data), "ua:%s", device);
    rc = ac_digest(keys, AC_PURPOSE_EMAIL, data,
                   n < sizeof(data) ? n : sizeof(data) - 1,
                   field + 3 + AC_DIGEST_LEN);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_seen_device_lua, sizeof(ac_seen_device_lua) - 1,
                "2");

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "mail", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, field, strlen(field));
    ac_cmd_int(cmd, now);
    ac_cmd_int(cmd, AC_SEEN_WINDOW);
    ac_cmd_int(cmd, AC_SEEN_MAX);
    ac_cmd_str(cmd, notify ? "1" : "0");
    ac_cmd_copy(cmd, account, strlen(account));

    rc = ac_mail_args(cmd, m, 0);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}
