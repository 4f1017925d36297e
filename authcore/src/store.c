/*
 * The Redis key schema, the commands that read and write it, and the
 * parsers of their replies. docs/ARCHITECTURE.md describes the schema.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


static int ac_key_arg_check(const char *arg);
static int ac_reply_int64(const char *s, size_t len, int64_t *v);
static int ac_reply_copy(char *dst, size_t size, const char *s, size_t len);
static int ac_reply_pairs(const redisReply *r, size_t *n);


/* ------------------------------------------------------------ ac_cmd_t */

void
ac_cmd_init(ac_cmd_t *cmd)
{
    cmd->argc = 0;
    cmd->used = 0;
    cmd->overflow = 0;
}


void
ac_cmd_arg(ac_cmd_t *cmd, const char *s, size_t len)
{
    if (cmd->argc >= AC_CMD_ARGS || s == NULL) {
        cmd->overflow = 1;
        return;
    }

    cmd->argv[cmd->argc] = s;
    cmd->argvlen[cmd->argc] = len;
    cmd->argc++;
}


void
ac_cmd_str(ac_cmd_t *cmd, const char *s)
{
    if (s == NULL) {
        cmd->overflow = 1;
        return;
    }

    ac_cmd_arg(cmd, s, strlen(s));
}


void
ac_cmd_copy(ac_cmd_t *cmd, const char *s, size_t len)
{
    char  *p;

    if (s == NULL || cmd->argc >= AC_CMD_ARGS
        || len >= AC_CMD_BUF - cmd->used)
    {
        cmd->overflow = 1;
        return;
    }

    /* NUL-ended, so that the argument is also a C string */
    p = cmd->buf + cmd->used;
    memcpy(p, s, len);
    p[len] = '\0';
    cmd->used += len + 1;

    ac_cmd_arg(cmd, p, len);
}


void
ac_cmd_int(ac_cmd_t *cmd, int64_t v)
{
    int   n;
    char  num[24];

    n = snprintf(num, sizeof(num), "%" PRId64, v);
    ac_cmd_copy(cmd, num, (size_t) n);
}


int
ac_cmd_status(const ac_cmd_t *cmd)
{
    return cmd->overflow ? AC_ERR_TOO_LONG : AC_OK;
}


void
ac_cmd_eval(ac_cmd_t *cmd, const char *script, size_t len, const char *nkeys)
{
    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "EVAL");
    ac_cmd_arg(cmd, script, len);
    ac_cmd_str(cmd, nkeys);
}


/* ---------------------------------------------------------------- keys */

/* Key arguments are ids and digests: they never hold ':' or blanks, so
 * that no argument can reach into another part of the schema. */

static int
ac_key_arg_check(const char *arg)
{
    size_t  i;

    if (arg == NULL || arg[0] == '\0') {
        return AC_ERR_INVALID;
    }

    for (i = 0; arg[i]; i++) {
        if ((arg[i] >= 'a' && arg[i] <= 'z')
            || (arg[i] >= 'A' && arg[i] <= 'Z')
            || (arg[i] >= '0' && arg[i] <= '9')
            || arg[i] == '-' || arg[i] == '_' || arg[i] == '.')
        {
            continue;
        }

        return AC_ERR_INVALID;
    }

    return AC_OK;
}


int
ac_key_build(const ac_config_t *cfg, const char *name, const char *arg,
    const char *suffix, char out[AC_KEY_MAX])
{
    int          n;
    const char  *prefix;

    prefix = (cfg != NULL && cfg->key_prefix != NULL) ? cfg->key_prefix
                                                      : "guichet:";

    n = snprintf(out, AC_KEY_MAX, "%s%s%s%s", prefix, name,
                 arg ? arg : "", suffix ? suffix : "");

    if (n < 0 || n >= AC_KEY_MAX) {
        out[0] = '\0';
        return AC_ERR_TOO_LONG;
    }

    return AC_OK;
}


int
ac_cmd_key_arg(ac_cmd_t *cmd, const ac_config_t *cfg, const char *name,
    const char *arg, const char *suffix)
{
    int   rc;
    char  key[AC_KEY_MAX];

    rc = ac_key_build(cfg, name, arg, suffix, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, key, strlen(key));

    return AC_OK;
}


int
ac_key(const ac_config_t *cfg, ac_key_kind_t kind, const char *arg,
    char out[AC_KEY_MAX])
{
    const char  *name, *suffix;

    suffix = NULL;

    switch (kind) {
    case AC_K_ACCOUNTS:
        return ac_key_build(cfg, "accounts", NULL, NULL, out);
    case AC_K_PARTNERS:
        return ac_key_build(cfg, "partners", NULL, NULL, out);
    case AC_K_LOG:
        return ac_key_build(cfg, "log", NULL, NULL, out);

    case AC_K_ACCOUNT:
        name = "acct:";
        break;
    case AC_K_RECOVERY:
        name = "acct:";
        suffix = ":rc";
        break;
    case AC_K_EMAIL:
        name = "email:";
        break;
    case AC_K_SESSION:
        name = "sess:";
        break;
    case AC_K_PENDING:
        name = "pending:";
        break;
    case AC_K_LINK:
        name = "link:";
        break;
    case AC_K_PARTNER:
        name = "partner:";
        break;
    default:
        return AC_ERR_INVALID;
    }

    if (ac_key_arg_check(arg) != AC_OK) {
        out[0] = '\0';
        return AC_ERR_INVALID;
    }

    return ac_key_build(cfg, name, arg, suffix, out);
}


int
ac_key_email(const ac_config_t *cfg, const ac_keys_t *keys,
    const char *email, char out[AC_KEY_MAX])
{
    int    rc;
    char   norm[AC_EMAIL_MAX + 1], digest[AC_DIGEST_LEN + 1];

    if (email == NULL) {
        return AC_ERR_BAD_EMAIL;
    }

    /* normalising again is cheap and makes the index case-insensitive
     * even for a caller that forgot */
    rc = ac_email_normalize(email, strlen(email), norm);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_digest(keys, AC_PURPOSE_EMAIL, norm, strlen(norm), digest);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_key(cfg, AC_K_EMAIL, digest, out);
}


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

    rc = ac_key(cfg, AC_K_ACCOUNT, a->id, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_key_email(cfg, keys, a->email, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_key(cfg, AC_K_ACCOUNTS, NULL, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

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


static int
ac_cmd_key(ac_cmd_t *cmd, const char *verb, const ac_config_t *cfg,
    ac_key_kind_t kind, const char *arg)
{
    int    rc;
    char   key[AC_KEY_MAX];

    rc = ac_key(cfg, kind, arg, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, verb);
    ac_cmd_copy(cmd, key, strlen(key));

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
    char  key[AC_KEY_MAX];

    if (old_phc == NULL || new_phc == NULL || old_phc[0] == '\0'
        || strncmp(new_phc, "$argon2id$", 10) != 0)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_key(cfg, AC_K_ACCOUNT, id, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_account_rehash,
                sizeof(ac_lua_account_rehash) - 1, "1");
    ac_cmd_copy(cmd, key, strlen(key));
    ac_cmd_copy(cmd, old_phc, strlen(old_phc));
    ac_cmd_copy(cmd, new_phc, strlen(new_phc));

    return ac_cmd_status(cmd);
}


int
ac_cmd_account_set_totp(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *sealed)
{
    int  rc;

    if (sealed == NULL) {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_key(cmd, "HSET", cfg, AC_K_ACCOUNT, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "totp");
    ac_cmd_str(cmd, sealed);
    ac_cmd_str(cmd, "totp_step");
    ac_cmd_str(cmd, "0");

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
    char   key[AC_KEY_MAX];

    if (step <= 0) {
        return AC_ERR_INVALID;
    }

    rc = ac_key(cfg, AC_K_ACCOUNT, id, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_totp_step, sizeof(ac_lua_totp_step) - 1, "1");
    ac_cmd_copy(cmd, key, strlen(key));
    ac_cmd_int(cmd, step);

    return ac_cmd_status(cmd);
}


/* KEYS: account; ARGV: "P sess:", "P events", account id. Per-worker
 * caches drop each ended session, then every session of the account;
 * the generation "g" moves on, so pending second-factor states die. */
static const char  ac_lua_sessions_end_all[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local n = 0\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local d = string.sub(h[i], 3)\n"
    "    n = n + redis.call('DEL', ARGV[1] .. d)\n"
    "    redis.call('HDEL', KEYS[1], h[i])\n"
    "    redis.call('PUBLISH', ARGV[2], 'revoke ' .. d)\n"
    "  end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  redis.call('HINCRBY', KEYS[1], 'g', 1)\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[2], 'account ' .. ARGV[3])\n"
    "return n\n";

/* KEYS: account; ARGV: now */
static const char  ac_lua_sessions_count[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local now = tonumber(ARGV[1])\n"
    "local n = 0\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local x = tonumber(h[i + 1])\n"
    "    if x and x >= now then n = n + 1 end\n"
    "  end\n"
    "end\n"
    "return n\n";


int
ac_cmd_sessions_end_all(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id)
{
    int    rc;
    char   key[AC_KEY_MAX];

    rc = ac_key(cfg, AC_K_ACCOUNT, id, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_sessions_end_all,
                sizeof(ac_lua_sessions_end_all) - 1, "1");
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_cmd_key_arg(cmd, cfg, "sess:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "events", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, id, strlen(id));

    return ac_cmd_status(cmd);
}


int
ac_cmd_sessions_count(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int64_t now)
{
    int   rc;
    char  key[AC_KEY_MAX];

    rc = ac_key(cfg, AC_K_ACCOUNT, id, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_sessions_count,
                sizeof(ac_lua_sessions_count) - 1, "1");
    ac_cmd_copy(cmd, key, strlen(key));
    ac_cmd_int(cmd, now);

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


/* ------------------------------------------------------ reply parsing */

static int
ac_reply_int64(const char *s, size_t len, int64_t *v)
{
    int      neg;
    size_t   i;
    int64_t  n;

    neg = 0;
    i = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }

    if (i == len) {
        return AC_ERR_REDIS;
    }

    n = 0;

    for ( /* void */ ; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || n > (INT64_MAX - 9) / 10) {
            return AC_ERR_REDIS;
        }

        n = n * 10 + (s[i] - '0');
    }

    *v = neg ? -n : n;
    return AC_OK;
}


static int
ac_reply_copy(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size || memchr(s, '\0', len) != NULL) {
        return AC_ERR_REDIS;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return AC_OK;
}


/* An HGETALL-shaped reply: how many field/value pairs it holds. */

static int
ac_reply_pairs(const redisReply *r, size_t *n)
{
    size_t  i;

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return AC_ERR_REDIS;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->type != REDIS_REPLY_ARRAY
#ifdef REDIS_REPLY_MAP
        && r->type != REDIS_REPLY_MAP
#endif
       )
    {
        return AC_ERR_REDIS;
    }

    if (r->elements == 0) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->elements % 2 != 0) {
        return AC_ERR_REDIS;
    }

    for (i = 0; i < r->elements; i++) {
        if (r->element[i] == NULL
            || (r->element[i]->type != REDIS_REPLY_STRING
                && r->element[i]->type != REDIS_REPLY_STATUS))
        {
            return AC_ERR_REDIS;
        }
    }

    *n = r->elements / 2;
    return AC_OK;
}


#define AC_FIELD_IS(f, name)                                                 \
    ((f)->len == sizeof(name) - 1 && memcmp((f)->str, name, (f)->len) == 0)

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
                   || AC_FIELD_IS(f, "pw_changed"))
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
    int    rc, i;
    char   key[AC_KEY_MAX];

    if (digests == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_recovery_replace,
                sizeof(ac_lua_recovery_replace) - 1, "2");

    rc = ac_key(cfg, AC_K_RECOVERY, id, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_key(cfg, AC_K_ACCOUNT, id, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

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


/* ------------------------------------------------------------ partners */

static const char  ac_lua_partner_add[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 2))\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "return 1\n";


/* The sealed secret is bound to its partner: it cannot be moved to
 * another partner's hash and still open. */

static int
ac_partner_aad(const char *id, char out[AC_PARTNER_ID_MAX + 16])
{
    int  n;

    n = snprintf(out, AC_PARTNER_ID_MAX + 16, "partner:%s", id);

    return (n < 0 || n >= AC_PARTNER_ID_MAX + 16) ? AC_ERR_TOO_LONG : AC_OK;
}


int
ac_cmd_partner_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_partner_t *p, char *scratch,
    size_t scratchsize)
{
    int    rc;
    char   key[AC_KEY_MAX], aad[AC_PARTNER_ID_MAX + 16];

    if (p == NULL || p->created <= 0) {
        return AC_ERR_INVALID;
    }

    rc = ac_partner_id_check(p->id);
    if (rc != AC_OK) {
        return rc;
    }

    if (p->keylen > AC_PARTNER_KEY_MAX) {
        return AC_ERR_TOO_LONG;
    }

    rc = ac_partner_key_check(p->alg, p->key, p->keylen, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_partner_add, sizeof(ac_lua_partner_add) - 1, "2");

    rc = ac_key(cfg, AC_K_PARTNER, p->id, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_key(cfg, AC_K_PARTNERS, NULL, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    ac_cmd_str(cmd, p->id);

    ac_cmd_str(cmd, "alg");
    ac_cmd_str(cmd, ac_alg_name(p->alg));
    ac_cmd_str(cmd, "key");

    if (p->alg == AC_ALG_HS256) {
        if (scratch == NULL
            || scratchsize < AC_SEALED_LEN(p->keylen) + 1)
        {
            return AC_ERR_TOO_LONG;
        }

        rc = ac_partner_aad(p->id, aad);
        if (rc != AC_OK) {
            return rc;
        }

        rc = ac_seal(keys, p->key, p->keylen, aad, scratch, scratchsize);
        if (rc != AC_OK) {
            return rc;
        }

        ac_cmd_str(cmd, scratch);

    } else {
        /* a public key is no secret */
        ac_cmd_arg(cmd, p->key, p->keylen);
    }

    ac_cmd_str(cmd, "provision");
    ac_cmd_str(cmd, p->provision ? "1" : "0");
    ac_cmd_str(cmd, "require_2fa");
    ac_cmd_str(cmd, p->require_2fa ? "1" : "0");
    ac_cmd_str(cmd, "created");
    ac_cmd_int(cmd, p->created);

    return ac_cmd_status(cmd);
}


int
ac_cmd_partner_get(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    if (ac_partner_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    return ac_cmd_key(cmd, "HGETALL", cfg, AC_K_PARTNER, id);
}


int
ac_cmd_partners_list(ac_cmd_t *cmd, const ac_config_t *cfg)
{
    return ac_cmd_key(cmd, "SMEMBERS", cfg, AC_K_PARTNERS, NULL);
}


int
ac_partner_parse(const struct redisReply *r, const ac_keys_t *keys,
    const char *id, ac_partner_t *p)
{
    int                rc;
    size_t             i, n, outlen;
    int64_t            v;
    const redisReply  *f, *val, *key;
    char               alg[16], aad[AC_PARTNER_ID_MAX + 16];

    if (p == NULL) {
        return AC_ERR_INVALID;
    }

    memset(p, 0, sizeof(ac_partner_t));

    rc = ac_reply_pairs(r, &n);
    if (rc != AC_OK) {
        return rc;
    }

    if (id != NULL) {
        if (ac_partner_id_check(id) != AC_OK) {
            return AC_ERR_INVALID;
        }

        memcpy(p->id, id, strlen(id) + 1);
    }

    key = NULL;
    alg[0] = '\0';

    for (i = 0; i < n; i++) {
        f = r->element[2 * i];
        val = r->element[2 * i + 1];
        rc = AC_OK;

        if (AC_FIELD_IS(f, "id")) {
            rc = ac_reply_copy(p->id, sizeof(p->id), val->str, val->len);

        } else if (AC_FIELD_IS(f, "alg")) {
            rc = ac_reply_copy(alg, sizeof(alg), val->str, val->len);

        } else if (AC_FIELD_IS(f, "key")) {
            key = val;

        } else if (AC_FIELD_IS(f, "provision")
                   || AC_FIELD_IS(f, "require_2fa")
                   || AC_FIELD_IS(f, "created"))
        {
            rc = ac_reply_int64(val->str, val->len, &v);

            if (rc != AC_OK || v < 0) {
                goto failed;
            }

            if (AC_FIELD_IS(f, "provision")) {
                p->provision = (v != 0);

            } else if (AC_FIELD_IS(f, "require_2fa")) {
                p->require_2fa = (v != 0);

            } else {
                p->created = v;
            }
        }

        if (rc != AC_OK) {
            goto failed;
        }
    }

    if (ac_partner_id_check(p->id) != AC_OK
        || ac_alg_parse(alg, &p->alg) != AC_OK
        || key == NULL || key->len == 0)
    {
        goto failed;
    }

    if (p->alg == AC_ALG_HS256) {
        if (keys == NULL || strlen(key->str) != key->len
            || ac_partner_aad(p->id, aad) != AC_OK)
        {
            goto failed;
        }

        rc = ac_unseal(keys, key->str, aad, (unsigned char *) p->key,
                       sizeof(p->key) - 1, &outlen);
        if (rc != AC_OK) {
            ac_cleanse(p, sizeof(ac_partner_t));
            return rc == AC_ERR_MISMATCH ? AC_ERR_MISMATCH : AC_ERR_REDIS;
        }

        p->key[outlen] = '\0';
        p->keylen = outlen;

    } else {
        if (ac_reply_copy(p->key, sizeof(p->key), key->str, key->len)
            != AC_OK)
        {
            goto failed;
        }

        p->keylen = key->len;
    }

    return AC_OK;

failed:

    ac_cleanse(p, sizeof(ac_partner_t));
    return AC_ERR_REDIS;
}


/* --------------------------------------------------------- small replies */

int
ac_reply_integer(const struct redisReply *r, int64_t *v)
{
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        return AC_ERR_REDIS;
    }

    if (v != NULL) {
        *v = r->integer;
    }

    return AC_OK;
}


int
ac_reply_ok(const struct redisReply *r)
{
    if (r == NULL
        || (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_STRING)
        || r->len != 2 || memcmp(r->str, "OK", 2) != 0)
    {
        return AC_ERR_REDIS;
    }

    return AC_OK;
}
