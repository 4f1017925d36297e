/*
 * Accounts in Redis: the commands that create, read and change an account
 * hash and its recovery codes, and the parser of the account hash.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/* ------------------------------------------------------------ accounts */

static const char  ac_lua_account_create[] =
    "if redis.call('EXISTS', KEYS[2]) == 1"
    " or redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
    "redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])\n"
    "return 1\n";


int
ac_cmd_account_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_account_t *a)
{
    int    rc;
    char   key[AC_KEY_MAX], norm[AC_EMAIL_MAX + 1], roles[AC_ROLES_MAX];

    if (a == NULL || a->created <= 0 || a->totp_step < 0
        || (a->status != AC_STATUS_ACTIVE && a->status != AC_STATUS_LOCKED))
    {
        return AC_ERR_INVALID;
    }

    rc = ac_email_normalize(a->email, strlen(a->email), norm);
    if (rc != AC_OK) {
        return rc;
    }

    if (strcmp(norm, a->email) != 0) {
        return AC_ERR_BAD_EMAIL;
    }

    ac_roles_format(a->roles, roles);

    ac_cmd_eval(cmd, ac_lua_account_create,
                sizeof(ac_lua_account_create) - 1, "3");

    rc = ac_cmd_key_add(cmd, cfg, AC_K_ACCOUNT, a->id);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_key_email(cfg, keys, a->email, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_cmd_key_add(cmd, cfg, AC_K_ACCOUNTS, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, a->id);
    ac_cmd_int(cmd, a->created);

    /* fields at their default value are left out to save memory */
    ac_cmd_str(cmd, "email");
    ac_cmd_str(cmd, a->email);
    ac_cmd_str(cmd, "roles");
    ac_cmd_copy(cmd, roles, strlen(roles));
    ac_cmd_str(cmd, "created");
    ac_cmd_int(cmd, a->created);

    if (a->status != AC_STATUS_ACTIVE) {
        ac_cmd_str(cmd, "status");
        ac_cmd_int(cmd, a->status);
    }

    if (a->restricted) {
        ac_cmd_str(cmd, "restricted");
        ac_cmd_str(cmd, "1");
    }

    if (a->pw[0] != '\0') {
        ac_cmd_str(cmd, "pw");
        ac_cmd_str(cmd, a->pw);
        ac_cmd_str(cmd, "pw_changed");
        ac_cmd_int(cmd, a->pw_changed ? a->pw_changed : a->created);
    }

    if (a->totp[0] != '\0') {
        ac_cmd_str(cmd, "totp");
        ac_cmd_str(cmd, a->totp);
    }

    if (a->totp_step > 0) {
        ac_cmd_str(cmd, "totp_step");
        ac_cmd_int(cmd, a->totp_step);
    }

    if (a->last_login > 0) {
        ac_cmd_str(cmd, "last_login");
        ac_cmd_int(cmd, a->last_login);
    }

    return ac_cmd_status(cmd);
}


static const char  ac_lua_account_by_email[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then return {} end\n"
    "local h = redis.call('HGETALL', ARGV[1] .. id)\n"
    "if #h == 0 then return {} end\n"
    "h[#h + 1] = 'id'\n"
    "h[#h + 1] = id\n"
    "return h\n";


int
ac_cmd_account_by_email(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *email)
{
    int    rc;
    char   key[AC_KEY_MAX];

    ac_cmd_eval(cmd, ac_lua_account_by_email,
                sizeof(ac_lua_account_by_email) - 1, "1");

    rc = ac_key_email(cfg, keys, email, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_account_get(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    return ac_cmd_key(cmd, "HGETALL", cfg, AC_K_ACCOUNT, id);
}


int
ac_cmd_account_set(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *field, const char *value)
{
    int           rc;
    size_t        i;
    static const char  *fields[] = {
        "roles", "status", "restricted", "pw", "totp", "totp_step",
        "last_login", "pw_changed"
    };

    if (field == NULL || value == NULL) {
        return AC_ERR_INVALID;
    }

    /* "email" needs its index moved with it, "created" never changes */
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(field, fields[i]) == 0) {
            break;
        }
    }

    if (i == sizeof(fields) / sizeof(fields[0])) {
        return AC_ERR_INVALID;
    }

    /* numbers stay numbers, or every later read of the account fails */
    if (strcmp(field, "status") == 0 || strcmp(field, "restricted") == 0
        || strcmp(field, "totp_step") == 0
        || strcmp(field, "last_login") == 0
        || strcmp(field, "pw_changed") == 0)
    {
        if (value[0] == '\0' || value[strspn(value, "0123456789")] != '\0'
            || strlen(value) > 19)
        {
            return AC_ERR_INVALID;
        }
    }

    rc = ac_cmd_key(cmd, "HSET", cfg, AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, fields[i]);
    ac_cmd_str(cmd, value);

    return ac_cmd_status(cmd);
}


/* KEYS: account; ARGV: the hash verified, the new one */
static const char  ac_lua_account_rehash[] =
    "if redis.call('HGET', KEYS[1], 'pw') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'pw', ARGV[2])\n"
    "return 1\n";


int
ac_cmd_account_rehash(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *old_phc, const char *new_phc)
{
    int   rc;

    if (old_phc == NULL || new_phc == NULL || old_phc[0] == '\0'
        || strncmp(new_phc, "$argon2id$", 10) != 0)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_eval_key(cmd, ac_lua_account_rehash,
                         sizeof(ac_lua_account_rehash) - 1, "1", cfg,
                         AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, old_phc, strlen(old_phc));
    ac_cmd_copy(cmd, new_phc, strlen(new_phc));

    return ac_cmd_status(cmd);
}


/* A stored step that is not a number makes the script fail: closed. */

static const char  ac_lua_totp_step[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local last = tonumber(redis.call('HGET', KEYS[1], 'totp_step') or '0')\n"
    "if tonumber(ARGV[1]) <= last then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'totp_step', ARGV[1])\n"
    "return 1\n";


int
ac_cmd_totp_step(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    int64_t step)
{
    int    rc;

    if (step <= 0) {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_eval_key(cmd, ac_lua_totp_step, sizeof(ac_lua_totp_step) - 1,
                         "1", cfg, AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_int(cmd, step);

    return ac_cmd_status(cmd);
}


/* KEYS: account; ARGV: "P partner:", "P events", account id,
 * session_idle. Per-worker caches drop each ended session, then every
 * session of the account; the generation "g" moves on, so pending
 * second-factor states die. Replies how many were live. */
static const char  ac_lua_sessions_end_all[] =
    AC_SESSION_LUA
    "if ARGV[5] and redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HSET', KEYS[1], 'pw', ARGV[5], 'pw_changed', ARGV[6])\n"
    "end\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local n = 0\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local d = string.sub(h[i], 3)\n"
    "    local t = ac_sdec(h[i + 1])\n"
    "    if t and ac_slive(t, now, tonumber(ARGV[4])) then n = n + 1 end\n"
    "    if t and t[4] ~= '' then\n"
    "      redis.call('ZREM', ARGV[1] .. t[4] .. ':sess',"
    " ARGV[3] .. ':' .. d)\n"
    "    end\n"
    "    redis.call('HDEL', KEYS[1], h[i])\n"
    "    redis.call('PUBLISH', ARGV[2], 'revoke ' .. d)\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HINCRBY', KEYS[1], 'g', 1)\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[2], 'account ' .. ARGV[3])\n"
    "return n\n";

/* KEYS: account; ARGV: now, session_idle */
static const char  ac_lua_sessions_count[] =
    AC_SESSION_LUA
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local now = tonumber(ARGV[1])\n"
    "local n = 0\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local t = ac_sdec(h[i + 1])\n"
    "    if t and ac_slive(t, now, tonumber(ARGV[2])) then n = n + 1 end\n"
    "  end\n"
    "end\n"
    "return n\n";


/*
 * KEYS: accounts; ARGV: "P acct:", "P partner:", offset, count, now,
 * session_idle. Drops the "s:" fields of these accounts that are no live
 * session (past their expiry, idle too long, or of the previous layout)
 * and their partner index members. Replies {next offset or 0, dropped}.
 */
static const char  ac_lua_sessions_sweep[] =
    AC_SESSION_LUA
    "local o = tonumber(ARGV[3])\n"
    "local k = tonumber(ARGV[4])\n"
    "local now = tonumber(ARGV[5])\n"
    "local ids = redis.call('ZRANGE', KEYS[1], o, o + k - 1)\n"
    "local n = 0\n"
    "for _, id in ipairs(ids) do\n"
    "  local a = ARGV[1] .. id\n"
    "  local h = redis.call('HGETALL', a)\n"
    "  for i = 1, #h, 2 do\n"
    "    if string.sub(h[i], 1, 2) == 's:' then\n"
    "      local t = ac_sdec(h[i + 1])\n"
    "      if not t or not ac_slive(t, now, tonumber(ARGV[6])) then\n"
    "        n = n + redis.call('HDEL', a, h[i])\n"
    "        if t and t[4] ~= '' then\n"
    "          redis.call('ZREM', ARGV[2] .. t[4] .. ':sess',"
    " id .. ':' .. string.sub(h[i], 3))\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {#ids == k and o + k or 0, n}\n";


int
ac_cmd_sessions_sweep(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t offset, int64_t count, int64_t now)
{
    if (cfg == NULL || offset < 0 || count <= 0 || count > 10000
        || cfg->session_idle <= 0)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_sessions_sweep,
                sizeof(ac_lua_sessions_sweep) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "accounts", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_int(cmd, offset);
    ac_cmd_int(cmd, count);
    ac_cmd_int(cmd, now);
    ac_cmd_int(cmd, cfg->session_idle);

    return ac_cmd_status(cmd);
}


int
ac_sessions_sweep_reply(const struct redisReply *r, int64_t *next,
    int64_t *dropped)
{
    if (r == NULL || next == NULL || dropped == NULL
        || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return AC_ERR_REDIS;
    }

    *next = r->element[0]->integer;
    *dropped = r->element[1]->integer;

    return AC_OK;
}


int
ac_cmd_sessions_end_all(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id)
{
    return ac_cmd_password_set(cmd, cfg, id, NULL, 0);
}


int
ac_cmd_password_set(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *phc, int64_t now)
{
    int    rc;

    rc = ac_cmd_eval_key(cmd, ac_lua_sessions_end_all,
                         sizeof(ac_lua_sessions_end_all) - 1, "1", cfg,
                         AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "events", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, id, strlen(id));
    ac_cmd_int(cmd, cfg->session_idle);

    if (phc != NULL) {
        ac_cmd_copy(cmd, phc, strlen(phc));
        ac_cmd_int(cmd, now);
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_sessions_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t now)
{
    int   rc;

    rc = ac_cmd_eval_key(cmd, ac_lua_sessions_count,
                         sizeof(ac_lua_sessions_count) - 1, "1", cfg,
                         AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_int(cmd, now);
    ac_cmd_int(cmd, cfg->session_idle);

    return ac_cmd_status(cmd);
}


int
ac_cmd_accounts_list(ac_cmd_t *cmd, const ac_config_t *cfg)
{
    int  rc;

    rc = ac_cmd_key(cmd, "ZRANGE", cfg, AC_K_ACCOUNTS, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "0");
    ac_cmd_str(cmd, "-1");

    return ac_cmd_status(cmd);
}


int
ac_account_parse(const struct redisReply *r, const char *id,
    ac_account_t *a)
{
    int                rc;
    size_t             i, n;
    int64_t            v;
    const redisReply  *f, *val;
    char               norm[AC_EMAIL_MAX + 1];

    if (a == NULL) {
        return AC_ERR_INVALID;
    }

    memset(a, 0, sizeof(ac_account_t));

    rc = ac_reply_pairs(r, &n);
    if (rc != AC_OK) {
        return rc;
    }

    if (id != NULL) {
        rc = ac_reply_copy(a->id, sizeof(a->id), id, strlen(id));
        if (rc != AC_OK) {
            return AC_ERR_INVALID;
        }
    }

    for (i = 0; i < n; i++) {
        f = r->element[2 * i];
        val = r->element[2 * i + 1];
        rc = AC_OK;

        if (AC_FIELD_IS(f, "id")) {
            rc = ac_reply_copy(a->id, sizeof(a->id), val->str, val->len);

        } else if (AC_FIELD_IS(f, "email")) {
            rc = ac_reply_copy(a->email, sizeof(a->email), val->str,
                               val->len);

        } else if (AC_FIELD_IS(f, "roles")) {
            if (ac_roles_parse(val->str, val->len, &a->roles) != AC_OK) {
                rc = AC_ERR_REDIS;
            }

        } else if (AC_FIELD_IS(f, "pw")) {
            rc = ac_reply_copy(a->pw, sizeof(a->pw), val->str, val->len);

        } else if (AC_FIELD_IS(f, "totp")) {
            rc = ac_reply_copy(a->totp, sizeof(a->totp), val->str, val->len);

        } else if (AC_FIELD_IS(f, "status")
                   || AC_FIELD_IS(f, "restricted")
                   || AC_FIELD_IS(f, "totp_step")
                   || AC_FIELD_IS(f, "created")
                   || AC_FIELD_IS(f, "last_login")
                   || AC_FIELD_IS(f, "pw_changed")
                   || AC_FIELD_IS(f, "pk"))
        {
            rc = ac_reply_int64(val->str, val->len, &v);
            if (rc != AC_OK) {
                break;
            }

            if (AC_FIELD_IS(f, "status")) {
                if (v != AC_STATUS_ACTIVE && v != AC_STATUS_LOCKED) {
                    rc = AC_ERR_REDIS;
                }
                a->status = (int) v;

            } else if (AC_FIELD_IS(f, "restricted")) {
                if (v != 0 && v != 1) {
                    rc = AC_ERR_REDIS;
                }
                a->restricted = (int) v;

            } else if (v < 0) {
                rc = AC_ERR_REDIS;

            } else if (AC_FIELD_IS(f, "totp_step")) {
                a->totp_step = v;

            } else if (AC_FIELD_IS(f, "created")) {
                a->created = v;

            } else if (AC_FIELD_IS(f, "last_login")) {
                a->last_login = v;

            } else if (AC_FIELD_IS(f, "pk")) {
                a->passkeys = v;

            } else {
                a->pw_changed = v;
            }
        }

        /* other fields belong to later versions: ignored */

        if (rc != AC_OK) {
            break;
        }
    }

    if (rc == AC_OK) {
        if (a->id[0] == '\0' || ac_key_arg_check(a->id) != AC_OK
            || a->email[0] == '\0'
            || ac_email_normalize(a->email, strlen(a->email), norm) != AC_OK)
        {
            rc = AC_ERR_REDIS;
        }
    }

    if (rc != AC_OK) {
        ac_cleanse(a, sizeof(ac_account_t));
        return AC_ERR_REDIS;
    }

    return AC_OK;
}


/* ------------------------------------------------------ recovery codes */

static const char  ac_lua_recovery_replace[] =
    "if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "return redis.call('SADD', KEYS[1], unpack(ARGV))\n";


int
ac_cmd_recovery_replace(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1])
{
    int    rc;

    if (digests == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_recovery_replace,
                sizeof(ac_lua_recovery_replace) - 1, "2");

    rc = ac_cmd_key_add(cmd, cfg, AC_K_RECOVERY, id);
    if (rc == AC_OK) {
        rc = ac_cmd_key_add(cmd, cfg, AC_K_ACCOUNT, id);
    }

    return rc == AC_OK ? ac_cmd_recovery_digests(cmd, digests) : rc;
}


int
ac_cmd_recovery_digests(ac_cmd_t *cmd,
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1])
{
    int  i;

    for (i = 0; i < AC_RECOVERY_COUNT; i++) {
        if (strnlen(digests[i], AC_DIGEST_LEN + 1) != AC_DIGEST_LEN) {
            return AC_ERR_INVALID;
        }

        ac_cmd_arg(cmd, digests[i], AC_DIGEST_LEN);
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_recovery_use(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *digest)
{
    int  rc;

    if (digest == NULL || strlen(digest) != AC_DIGEST_LEN) {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_key(cmd, "SREM", cfg, AC_K_RECOVERY, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, digest);

    return ac_cmd_status(cmd);
}


int
ac_cmd_recovery_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id)
{
    return ac_cmd_key(cmd, "SCARD", cfg, AC_K_RECOVERY, id);
}
