/*
 * The privacy rights on accounts (SPEC 8): erasure, export, retention,
 * restriction and rectification, plus the partner links and invitations
 * that erasure and export must reach. docs/PRIVACY.md describes what is
 * stored and how each right is exercised.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


#define AC_EXPORT_SCAN    1000     /* log entries read per XREVRANGE */


static int ac_acct_email_digest(const ac_keys_t *keys, const char *email,
    char digest[AC_DIGEST_LEN + 1]);
static int ac_acct_int(const redisReply *r, int64_t *v);
static void ac_export_time(ac_buf_t *b, int64_t t, int ms);
static void ac_export_key(ac_buf_t *b, const char *key, int first);
static void ac_export_strz(ac_buf_t *b, const char *s);
static int ac_export_account(ac_buf_t *b, const ac_account_t *a,
    const redisReply *rc_reply);
static int ac_export_sessions(ac_buf_t *b, const redisReply *r);
static int ac_export_partners(ac_buf_t *b, const char *name,
    const redisReply *r, int sealed);
static int ac_export_log(ac_buf_t *b, const ac_keys_t *keys,
    const char *id, const redisReply *acct, const redisReply *r);


/* ------------------------------------------------------------- scripts */

/*
 * KEYS: acct, rc, email index, accounts, partner links, invby, the email
 * and second-factor throttle counters, the log pseudonym index, the
 * passkeys.
 * ARGV: id, email, "P partner:", "P inv:", EDIGEST, cutoff,
 * "P events", "P cred:", session_idle. The sessions are the account's
 * "s:DIGEST" fields (an SSO one also a member of its partner's index),
 * the live ones counted. Replies {1, sessions, the log key "lk" just
 * destroyed (or nil)}, for the "account.erased" entry to name the
 * account by its pseudonym.
 */
static const char  ac_lua_erase[] =
    AC_SESSION_LUA
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local a = redis.call('HMGET', KEYS[1], 'email', 'created',"
    " 'last_login', 'restricted')\n"
    "if a[1] ~= ARGV[2] then return -2 end\n"
    "local c = tonumber(ARGV[6])\n"
    "if c > 0 then\n"
    "  local last = tonumber(a[3] or a[2] or '0')\n"
    "  if a[4] == '1' or last >= c then return -1 end\n"
    "end\n"
    "local n = 0\n"
    "local ids = {}\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local d = string.sub(h[i], 3)\n"
    "    local t = ac_sdec(h[i + 1])\n"
    "    ids[#ids + 1] = d\n"
    "    if t and ac_slive(t, now, tonumber(ARGV[9])) then n = n + 1 end\n"
    "    if t and t[4] ~= '' then\n"
    "      redis.call('ZREM', ARGV[3] .. t[4] .. ':sess',"
    " ARGV[1] .. ':' .. d)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if redis.call('GET', KEYS[3]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[3])\n"
    "end\n"
    "for _, p in ipairs(redis.call('SMEMBERS', KEYS[6])) do\n"
    "  redis.call('HDEL', ARGV[4] .. p, ARGV[5])\n"
    "end\n"
    "local lk = redis.call('HGET', KEYS[1], 'lk')\n"
    "local lp = redis.call('HGET', KEYS[1], 'lp')\n"
    "if lp and redis.call('HGET', KEYS[9], lp) == ARGV[1] then\n"
    "  redis.call('HDEL', KEYS[9], lp)\n"
    "end\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[10])) do\n"
    "  local c = ARGV[8] .. string.sub(f, 3)\n"
    "  if string.sub(f, 1, 2) == 'r:'"
    " and redis.call('GET', c) == ARGV[1] then\n"
    "    redis.call('DEL', c)\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[1], KEYS[2], KEYS[5], KEYS[6], KEYS[7],"
    " KEYS[8], KEYS[10])\n"
    "redis.call('ZREM', KEYS[4], ARGV[1])\n"
    "for _, d in ipairs(ids) do\n"
    "  redis.call('PUBLISH', ARGV[7], 'revoke ' .. d)\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[7], 'account ' .. ARGV[1])\n"
    "return {1, n, lk or false}\n";


/* KEYS: accounts; ARGV: "P acct:", cutoff, offset, count */
static const char  ac_lua_retention_scan[] =
    "local o = tonumber(ARGV[3])\n"
    "local k = tonumber(ARGV[4])\n"
    "local ids = redis.call('ZRANGE', KEYS[1], o, o + k - 1)\n"
    "local out = {0}\n"
    "if #ids == k then out[1] = o + k end\n"
    "local c = tonumber(ARGV[2])\n"
    "for _, id in ipairs(ids) do\n"
    "  local a = redis.call('HMGET', ARGV[1] .. id, 'email', 'created',"
    " 'last_login', 'restricted')\n"
    "  if a[1] then\n"
    "    local last = tonumber(a[3] or a[2] or '0')\n"
    "    if last < c then\n"
    "      out[#out + 1] = id\n"
    "      out[#out + 1] = a[1]\n"
    "      out[#out + 1] = last\n"
    "      out[#out + 1] = (a[4] == '1') and 1 or 0\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";


/* KEYS: acct; ARGV: "1" to set, "0" to clear */
static const char  ac_lua_restrict[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "if ARGV[1] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'restricted', '1')\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], 'restricted')\n"
    "end\n"
    "return 1\n";


/* KEYS: acct, old index, new index; ARGV: id, old, new, "P events".
 * The sessions are the account's "s:DIGEST" fields: they hold no email
 * (the account's stands for it), so every cache drops them. */
static const char  ac_lua_rename[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "if redis.call('HGET', KEYS[1], 'email') ~= ARGV[2] then"
    " return -2 end\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end\n"
    "redis.call('SET', KEYS[3], ARGV[1])\n"
    "if redis.call('GET', KEYS[2]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'email', ARGV[3])\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    redis.call('PUBLISH', ARGV[4], 'revoke ' .. string.sub(h[i], 3))\n"
    "  end\n"
    "end\n"
    "return 1\n";


/* KEYS: inv:PARTNER, invby:EDIGEST; ARGV: partner, EDIGEST, value */
static const char  ac_lua_invite[] =
    "if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 0 then"
    " return 0 end\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "return 1\n";


/* KEYS: account ("s:DIGEST" fields); ARGV: session_idle. Replies the
 * live sessions' values (one of the previous layout is left out). */
static const char  ac_lua_export_sessions[] =
    AC_SESSION_LUA
    "local out = {}\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local a = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #a, 2 do\n"
    "  if string.sub(a[i], 1, 2) == 's:' then\n"
    "    local t = ac_sdec(a[i + 1])\n"
    "    if t and ac_slive(t, now, tonumber(ARGV[1])) then\n"
    "      out[#out + 1] = a[i + 1]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";


/* KEYS: invby:EDIGEST; ARGV: "P inv:", EDIGEST */
static const char  ac_lua_export_invitations[] =
    "local out = {}\n"
    "for _, p in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local v = redis.call('HGET', ARGV[1] .. p, ARGV[2])\n"
    "  if v then\n"
    "    out[#out + 1] = p\n"
    "    out[#out + 1] = v\n"
    "  end\n"
    "end\n"
    "return out\n";


/* KEYS: log, acct; ARGV: id, max, batch. Newest first; the log has no
 * index by account, so this walks it in batches. Entries name the
 * account by its pseudonym ("lp"), older ones by its id. */
static const char  ac_lua_export_log[] =
    "local out = {}\n"
    "local p = redis.call('HGET', KEYS[2], 'lp')\n"
    "local max = tonumber(ARGV[2])\n"
    "local k = tonumber(ARGV[3])\n"
    "local last = '+'\n"
    "while #out < max do\n"
    "  local b = redis.call('XREVRANGE', KEYS[1], last, '-', 'COUNT', k)\n"
    "  for _, e in ipairs(b) do\n"
    "    local f = e[2]\n"
    "    for i = 1, #f, 2 do\n"
    "      if f[i] == 'a' then\n"
    "        if (f[i + 1] == ARGV[1] or f[i + 1] == p) and #out < max"
    " then out[#out + 1] = e end\n"
    "        break\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if #b < k then break end\n"
    "  last = '(' .. b[#b][1]\n"
    "end\n"
    "return out\n";


/* The email index digest; the email must already be normalised, since
 * it is also compared with the stored one. */
static int
ac_acct_email_digest(const ac_keys_t *keys, const char *email,
    char digest[AC_DIGEST_LEN + 1])
{
    int   rc;
    char  norm[AC_EMAIL_MAX + 1];

    if (email == NULL) {
        return AC_ERR_BAD_EMAIL;
    }

    rc = ac_email_normalize(email, strlen(email), norm);
    if (rc != AC_OK) {
        return rc;
    }

    if (strcmp(norm, email) != 0) {
        return AC_ERR_BAD_EMAIL;
    }

    return ac_digest(keys, AC_PURPOSE_EMAIL, norm, strlen(norm), digest);
}


static int
ac_acct_id_check(const char *id)
{
    char  key[AC_KEY_MAX];

    if (id == NULL || strlen(id) != AC_ID_LEN) {
        return AC_ERR_INVALID;
    }

    return ac_key(NULL, AC_K_ACCOUNT, id, key);
}


/* ------------------------------------------------------------- erasure */

int
ac_cmd_account_erase(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *email)
{
    return ac_cmd_account_erase_idle(cmd, cfg, keys, id, email, 0);
}


int
ac_cmd_account_erase_idle(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *email,
    int64_t cutoff)
{
    int            rc;
    char           digest[AC_DIGEST_LEN + 1], key[AC_KEY_MAX];
    ac_throttle_t  t;

    if (cutoff < 0 || ac_acct_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    rc = ac_acct_email_digest(keys, email, digest);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_throttle_keys(cfg, keys, email, strlen(email), "", &t);
    if (rc == AC_OK) {
        rc = ac_throttle_add(cfg, keys, &t, AC_THR_SECOND, id, strlen(id));
    }

    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_erase, sizeof(ac_lua_erase) - 1, "10");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", id, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", id, ":rc") != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "email:", digest, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "accounts", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", id, ":partners") != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "invby:", digest, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, t.key[0], strlen(t.key[0]));     /* email */
    ac_cmd_copy(cmd, t.key[2], strlen(t.key[2]));     /* second factor */

    if (ac_cmd_key_arg(cmd, cfg, "log:pseudo", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", id, ":pk") != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, id, strlen(id));
    ac_cmd_copy(cmd, email, strlen(email));

    if (ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "inv:", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_int(cmd, cutoff);

    rc = ac_key_build(cfg, "events", NULL, NULL, key);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    if (ac_cmd_key_arg(cmd, cfg, "cred:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_int(cmd, cfg->session_idle);

    return ac_cmd_status(cmd);
}


int
ac_account_erase_reply(const struct redisReply *r, int64_t *sessions)
{
    if (r == NULL) {
        return AC_ERR_REDIS;
    }

    if (r->type == REDIS_REPLY_INTEGER) {
        switch (r->integer) {
        case 0:
            return AC_ERR_NOT_FOUND;
        case -1:
            return AC_ERR_EXISTS;
        case -2:
            return AC_ERR_MISMATCH;
        default:
            return AC_ERR_REDIS;
        }
    }

    /* {1, sessions} or {1, sessions, log key} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->elements > 3
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[0]->integer != 1
        || r->element[1]->type != REDIS_REPLY_INTEGER
        || r->element[1]->integer < 0)
    {
        return AC_ERR_REDIS;
    }

    if (sessions != NULL) {
        *sessions = r->element[1]->integer;
    }

    return AC_OK;
}


/* ----------------------------------------------------------- retention */

int
ac_cmd_retention_scan(ac_cmd_t *cmd, const ac_config_t *cfg,
    int64_t cutoff, int64_t offset, int64_t count)
{
    if (cutoff <= 0 || offset < 0 || count <= 0 || count > 10000) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_retention_scan,
                sizeof(ac_lua_retention_scan) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "accounts", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_int(cmd, cutoff);
    ac_cmd_int(cmd, offset);
    ac_cmd_int(cmd, count);

    return ac_cmd_status(cmd);
}


int
ac_retention_scan_parse(const struct redisReply *r, int64_t *next,
    int (*fn)(const ac_idle_account_t *a, void *data), void *data)
{
    int                 rc;
    size_t              i;
    const redisReply   *id, *email, *last, *restricted;
    ac_idle_account_t   a;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || (r->elements - 1) % 4 != 0
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[0]->integer < 0 || fn == NULL)
    {
        return AC_ERR_REDIS;
    }

    for (i = 1; i < r->elements; i += 4) {
        id = r->element[i];
        email = r->element[i + 1];
        last = r->element[i + 2];
        restricted = r->element[i + 3];

        if (id->type != REDIS_REPLY_STRING
            || email->type != REDIS_REPLY_STRING
            || last->type != REDIS_REPLY_INTEGER
            || restricted->type != REDIS_REPLY_INTEGER
            || id->len != AC_ID_LEN || email->len > AC_EMAIL_MAX
            || memchr(email->str, '\0', email->len) != NULL)
        {
            return AC_ERR_REDIS;
        }

        memset(&a, 0, sizeof(a));
        memcpy(a.id, id->str, AC_ID_LEN);
        memcpy(a.email, email->str, email->len);
        a.last = last->integer;
        a.restricted = (restricted->integer != 0);

        if (ac_acct_id_check(a.id) != AC_OK) {
            return AC_ERR_REDIS;
        }

        rc = fn(&a, data);
        ac_cleanse(&a, sizeof(a));

        if (rc != AC_OK) {
            return rc;
        }
    }

    if (next != NULL) {
        *next = r->element[0]->integer;
    }

    return AC_OK;
}


/* ---------------------------------------- restriction, rectification */

int
ac_cmd_account_restrict(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, int on)
{
    if (ac_acct_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_restrict, sizeof(ac_lua_restrict) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", id, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, on ? "1" : "0");

    return ac_cmd_status(cmd);
}


int
ac_cmd_account_rename(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *id, const char *old_email,
    const char *new_email)
{
    int   rc;
    char  od[AC_DIGEST_LEN + 1], nd[AC_DIGEST_LEN + 1];

    if (ac_acct_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    rc = ac_acct_email_digest(keys, old_email, od);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_acct_email_digest(keys, new_email, nd);
    if (rc != AC_OK) {
        return rc;
    }

    if (strcmp(old_email, new_email) == 0) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_rename, sizeof(ac_lua_rename) - 1, "3");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", id, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "email:", od, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "email:", nd, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, id, strlen(id));
    ac_cmd_copy(cmd, old_email, strlen(old_email));
    ac_cmd_copy(cmd, new_email, strlen(new_email));

    if (ac_cmd_key_arg(cmd, cfg, "events", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_account_rename_reply(const struct redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        return AC_ERR_REDIS;
    }

    switch (r->integer) {
    case 1:
        return AC_OK;
    case 0:
        return AC_ERR_NOT_FOUND;
    case -1:
        return AC_ERR_EXISTS;
    case -2:
        return AC_ERR_MISMATCH;
    default:
        return AC_ERR_REDIS;
    }
}


/* ---------------------------------------- partner links, invitations */

int
ac_cmd_partner_link(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *partner, int64_t now)
{
    if (ac_acct_id_check(id) != AC_OK
        || ac_partner_id_check(partner) != AC_OK || now <= 0)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "HSETNX");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", id, ":partners") != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));
    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_invitation_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *email,
    int64_t now, char scratch[AC_INVITE_MAX])
{
    int   rc;
    char  digest[AC_DIGEST_LEN + 1];

    if (ac_partner_id_check(partner) != AC_OK || now <= 0
        || scratch == NULL)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_acct_email_digest(keys, email, digest);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_inv_value_seal(keys, partner, email, now, scratch);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_invite, sizeof(ac_lua_invite) - 1, "2");

    if (ac_cmd_key_arg(cmd, cfg, "inv:", partner, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "invby:", digest, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));
    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_str(cmd, scratch);

    return ac_cmd_status(cmd);
}


/* -------------------------------------------------------------- export */

int
ac_cmd_account_export(ac_cmd_t cmds[AC_EXPORT_NCMDS],
    const ac_config_t *cfg, const ac_keys_t *keys, const char *id,
    const char *email)
{
    int        rc;
    ac_cmd_t  *c;
    char       digest[AC_DIGEST_LEN + 1];

    if (cmds == NULL || ac_acct_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    rc = ac_acct_email_digest(keys, email, digest);
    if (rc != AC_OK) {
        return rc;
    }

    c = &cmds[AC_EXPORT_ACCOUNT];
    ac_cmd_init(c);
    ac_cmd_str(c, "HGETALL");
    rc = ac_cmd_key_arg(c, cfg, "acct:", id, NULL);

    c = &cmds[AC_EXPORT_RECOVERY];
    ac_cmd_init(c);
    ac_cmd_str(c, "SCARD");
    rc |= ac_cmd_key_arg(c, cfg, "acct:", id, ":rc");

    c = &cmds[AC_EXPORT_SESSIONS];
    ac_cmd_eval(c, ac_lua_export_sessions,
                sizeof(ac_lua_export_sessions) - 1, "1");
    rc |= ac_cmd_key_arg(c, cfg, "acct:", id, NULL);
    ac_cmd_int(c, cfg->session_idle);

    c = &cmds[AC_EXPORT_PARTNERS];
    ac_cmd_init(c);
    ac_cmd_str(c, "HGETALL");
    rc |= ac_cmd_key_arg(c, cfg, "acct:", id, ":partners");

    c = &cmds[AC_EXPORT_INVITATIONS];
    ac_cmd_eval(c, ac_lua_export_invitations,
                sizeof(ac_lua_export_invitations) - 1, "1");
    rc |= ac_cmd_key_arg(c, cfg, "invby:", digest, NULL);
    rc |= ac_cmd_key_arg(c, cfg, "inv:", NULL, NULL);
    ac_cmd_copy(c, digest, AC_DIGEST_LEN);

    c = &cmds[AC_EXPORT_LOG];
    ac_cmd_eval(c, ac_lua_export_log, sizeof(ac_lua_export_log) - 1, "2");
    rc |= ac_cmd_key_arg(c, cfg, "log", NULL, NULL);
    rc |= ac_cmd_key_arg(c, cfg, "acct:", id, NULL);
    ac_cmd_copy(c, id, strlen(id));
    ac_cmd_int(c, AC_EXPORT_LOG_MAX);
    ac_cmd_int(c, AC_EXPORT_SCAN);

    c = &cmds[AC_EXPORT_PASSKEYS];
    ac_cmd_init(c);
    ac_cmd_str(c, "HGETALL");
    rc |= ac_cmd_key_arg(c, cfg, "acct:", id, ":pk");

    if (rc != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    for (c = cmds; c < cmds + AC_EXPORT_NCMDS; c++) {
        if (ac_cmd_status(c) != AC_OK) {
            return AC_ERR_TOO_LONG;
        }
    }

    return AC_OK;
}


/* A decimal integer in a string reply (HGETALL values). */
static int
ac_acct_int(const redisReply *r, int64_t *v)
{
    int64_t  n;
    size_t   i;

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 18) {
        return AC_ERR_REDIS;
    }

    n = 0;

    for (i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return AC_ERR_REDIS;
        }
        n = n * 10 + (r->str[i] - '0');
    }

    *v = n;
    return AC_OK;
}


/* RFC 3339 UTC, "2024-05-01T12:00:00Z" (".123Z" with ms), or null. */
static void
ac_export_time(ac_buf_t *b, int64_t t, int ms)
{
    time_t     tt;
    struct tm  tm;
    char       text[40];
    int64_t    s;

    s = ms ? t / 1000 : t;
    tt = (time_t) s;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
    {
        ac_buf_str(b, "null");
        return;
    }

    if (ms) {
        ac_buf_printf(b, "\"%s.%03dZ\"", text, (int) (t % 1000));

    } else {
        ac_buf_printf(b, "\"%sZ\"", text);
    }
}


static void
ac_export_key(ac_buf_t *b, const char *key, int first)
{
    if (!first) {
        ac_buf_str(b, ",");
    }

    ac_buf_json_str(b, key, strlen(key));
    ac_buf_str(b, ":");
}


/* A string, or null when it is empty. */
static void
ac_export_strz(ac_buf_t *b, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        ac_buf_str(b, "null");
        return;
    }

    ac_buf_json_str(b, s, strlen(s));
}


static void
ac_export_roles(ac_buf_t *b, unsigned roles)
{
    int          first;
    char         list[AC_ROLES_MAX];
    const char  *p, *comma;

    ac_roles_format(roles, list);
    ac_buf_str(b, "[");
    first = 1;

    for (p = list; *p != '\0'; p = comma + 1) {
        comma = strchr(p, ',');
        if (!first) {
            ac_buf_str(b, ",");
        }
        first = 0;
        ac_buf_json_str(b, p, comma ? (size_t) (comma - p) : strlen(p));
        if (comma == NULL) {
            break;
        }
    }

    ac_buf_str(b, "]");
}


static int
ac_export_account(ac_buf_t *b, const ac_account_t *a,
    const redisReply *rc_reply)
{
    int64_t  codes;

    if (ac_reply_integer(rc_reply, &codes) != AC_OK || codes < 0) {
        return AC_ERR_REDIS;
    }

    ac_export_key(b, "account", 0);
    ac_buf_str(b, "{");
    ac_export_key(b, "id", 1);
    ac_buf_json_str(b, a->id, strlen(a->id));
    ac_export_key(b, "email", 0);
    ac_buf_json_str(b, a->email, strlen(a->email));
    ac_export_key(b, "roles", 0);
    ac_export_roles(b, a->roles);
    ac_export_key(b, "status", 0);
    ac_buf_str(b, a->status == AC_STATUS_LOCKED ? "\"locked\""
                                                : "\"active\"");
    ac_export_key(b, "restricted", 0);
    ac_buf_str(b, a->restricted ? "true" : "false");
    ac_export_key(b, "created", 0);
    ac_export_time(b, a->created, 0);
    ac_export_key(b, "last_login", 0);
    ac_export_time(b, a->last_login, 0);
    ac_export_key(b, "password", 0);
    ac_buf_str(b, a->pw[0] ? "true" : "false");
    ac_export_key(b, "pw_changed", 0);
    ac_export_time(b, a->pw[0] ? a->pw_changed : 0, 0);
    ac_buf_str(b, "}");

    ac_export_key(b, "second_factor", 0);
    ac_buf_str(b, "{");
    ac_export_key(b, "totp", 1);
    ac_buf_str(b, a->totp[0] ? "true" : "false");
    ac_export_key(b, "recovery_codes_left", 0);
    ac_buf_printf(b, "%" PRId64, codes);
    ac_buf_str(b, "}");

    return AC_OK;
}


static int
ac_export_sessions(ac_buf_t *b, const redisReply *r)
{
    int           rc;
    size_t        i;
    ac_session_t  s;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return AC_ERR_REDIS;
    }

    ac_export_key(b, "sessions", 0);
    ac_buf_str(b, "[");

    for (i = 0; i < r->elements; i++) {
        rc = ac_session_parse(r->element[i], &s);
        if (rc != AC_OK) {
            return AC_ERR_REDIS;
        }

        ac_buf_str(b, i ? ",{" : "{");
        ac_export_key(b, "created", 1);
        ac_export_time(b, s.created, 0);
        ac_export_key(b, "last_seen", 0);
        ac_export_time(b, s.last_seen, 0);
        ac_export_key(b, "expires", 0);
        ac_export_time(b, s.expires, 0);
        ac_export_key(b, "ip", 0);
        ac_export_strz(b, s.ip);
        ac_export_key(b, "device", 0);
        ac_export_strz(b, s.device);
        ac_export_key(b, "method", 0);
        ac_export_strz(b, ac_amr_name(s.amr));
        ac_export_key(b, "partner", 0);
        ac_export_strz(b, s.partner);
        ac_buf_str(b, "}");

        ac_cleanse(&s, sizeof(s));
    }

    ac_buf_str(b, "]");

    return AC_OK;
}


/* "name": [{"partner", "since"}...] from an HGETALL of partner -> SINCE,
 * or of partner -> "SINCE SEALED" when "sealed" is set. */
static int
ac_export_partners(ac_buf_t *b, const char *name, const redisReply *r,
    int sealed)
{
    size_t             i;
    int64_t            since;
    const char        *sp;
    redisReply         num;
    const redisReply  *p, *v;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        return AC_ERR_REDIS;
    }

    ac_export_key(b, name, 0);
    ac_buf_str(b, "[");

    for (i = 0; i < r->elements; i += 2) {
        p = r->element[i];
        v = r->element[i + 1];

        if (p->type != REDIS_REPLY_STRING
            || ac_partner_id_check(p->str) != AC_OK
            || v->type != REDIS_REPLY_STRING)
        {
            return AC_ERR_REDIS;
        }

        if (sealed) {
            /* only the time is the account's to see here */
            sp = memchr(v->str, ' ', v->len);
            if (sp == NULL) {
                return AC_ERR_REDIS;
            }

            memset(&num, 0, sizeof(num));
            num.type = REDIS_REPLY_STRING;
            num.str = v->str;
            num.len = (size_t) (sp - v->str);
            v = &num;
        }

        if (ac_acct_int(v, &since) != AC_OK) {
            return AC_ERR_REDIS;
        }

        ac_buf_str(b, i ? ",{" : "{");
        ac_export_key(b, "partner", 1);
        ac_buf_json_str(b, p->str, p->len);
        ac_export_key(b, "since", 0);
        ac_export_time(b, since, 0);
        ac_buf_str(b, "}");
    }

    ac_buf_str(b, "]");

    return AC_OK;
}


static int
ac_export_log(ac_buf_t *b, const ac_keys_t *keys, const char *id,
    const redisReply *acct, const redisReply *r)
{
    int              rc, have_key;
    size_t           i, n;
    char             pseudo[AC_LOG_PSEUDO_LEN + 1];
    unsigned char    key[AC_LOG_KEY_LEN];
    ac_log_entry_t   e;
    ac_log_filter_t  mine;
    const redisReply *f, *v;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return AC_ERR_REDIS;
    }

    /* the account's entries, as "guichetctl logs --account ID" reads
     * them: each named by its id once its pseudonym is resolved */
    ac_log_filter_init(&mine);
    if (ac_log_filter_set(&mine, "account", id, strlen(id), 0) != AC_OK) {
        return AC_ERR_INVALID;
    }

    have_key = 0;
    pseudo[0] = '\0';

    for (i = 0; i + 1 < acct->elements; i += 2) {
        f = acct->element[i];
        v = acct->element[i + 1];

        if (f->len == 2 && memcmp(f->str, "lk", 2) == 0) {
            rc = ac_log_key_unseal(keys, id, v->str, v->len, key);
            if (rc == AC_OK) {
                rc = ac_log_pseudonym(key, id, pseudo);
            }
            if (rc != AC_OK) {
                ac_cleanse(key, sizeof(key));
                return AC_ERR_REDIS;
            }
            have_key = 1;
        }
    }

    ac_export_key(b, "log", 0);
    ac_buf_str(b, "[");
    rc = AC_OK;

    /* the script replies newest first; the document is oldest first */
    for (n = r->elements; n > 0; n--) {
        rc = ac_log_entry_parse(r->element[n - 1], have_key ? key : NULL,
                                &e);
        if (rc != AC_OK && rc != AC_ERR_MISMATCH) {
            rc = AC_ERR_REDIS;
            break;
        }

        rc = AC_OK;

        if (have_key && strcmp(e.account, pseudo) == 0) {
            memcpy(e.account, id, AC_ID_LEN + 1);
        }

        /* the script's match, checked: "lp" is only an index */
        if (!ac_log_filter_match(&mine, &e)) {
            rc = AC_ERR_REDIS;
            break;
        }

        ac_buf_str(b, n == r->elements ? "{" : ",{");
        ac_export_key(b, "time", 1);
        ac_export_time(b, e.time_ms, 1);
        ac_export_key(b, "event", 0);
        ac_export_strz(b, e.event);
        ac_export_key(b, "result", 0);
        ac_buf_str(b, e.failed ? "\"fail\"" : "\"ok\"");
        ac_export_key(b, "reason", 0);
        ac_export_strz(b, e.reason);
        ac_export_key(b, "partner", 0);
        ac_export_strz(b, e.partner);
        ac_export_key(b, "email", 0);
        ac_export_strz(b, e.erased ? NULL : e.email);
        ac_export_key(b, "ip", 0);
        ac_export_strz(b, e.erased ? NULL : e.ip);
        ac_export_key(b, "user_agent", 0);
        ac_export_strz(b, e.erased ? NULL : e.ua);
        ac_buf_str(b, "}");

        ac_cleanse(&e, sizeof(e));
    }

    ac_cleanse(&e, sizeof(e));
    ac_cleanse(key, sizeof(key));

    if (rc != AC_OK) {
        return rc;
    }

    ac_buf_str(b, "]");

    return AC_OK;
}


int
ac_account_export(const ac_keys_t *keys, const char *id,
    const struct redisReply *const replies[AC_EXPORT_NCMDS], int64_t now,
    ac_buf_t *out)
{
    int            rc;
    size_t         start;
    ac_account_t   a;

    if (keys == NULL || replies == NULL || out == NULL
        || ac_acct_id_check(id) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_account_parse(replies[AC_EXPORT_ACCOUNT], id, &a);
    if (rc != AC_OK) {
        return rc;
    }

    start = out->len;

    ac_buf_str(out, "{");
    ac_export_key(out, "format", 1);
    ac_buf_str(out, "\"guichet-export\"");
    ac_export_key(out, "version", 0);
    ac_buf_printf(out, "%d", AC_EXPORT_VERSION);
    ac_export_key(out, "exported_at", 0);
    ac_export_time(out, now, 0);

    rc = ac_export_account(out, &a, replies[AC_EXPORT_RECOVERY]);
    ac_cleanse(&a, sizeof(a));

    if (rc == AC_OK) {
        rc = ac_export_partners(out, "partners",
                                replies[AC_EXPORT_PARTNERS], 0);
    }

    if (rc == AC_OK) {
        rc = ac_export_partners(out, "invitations",
                                replies[AC_EXPORT_INVITATIONS], 1);
    }

    if (rc == AC_OK) {
        rc = ac_export_sessions(out, replies[AC_EXPORT_SESSIONS]);
    }

    if (rc == AC_OK) {
        /* names, flags, transports, dates: never the key or the id */
        ac_export_key(out, "passkeys", 0);
        rc = ac_passkey_export(out, replies[AC_EXPORT_PASSKEYS]);
    }

    if (rc == AC_OK) {
        rc = ac_export_log(out, keys, id, replies[AC_EXPORT_ACCOUNT],
                           replies[AC_EXPORT_LOG]);
    }

    ac_buf_str(out, "}");

    if (rc == AC_OK) {
        rc = ac_buf_status(out);
    }

    if (rc != AC_OK && out->data != NULL && out->len > start) {
        ac_cleanse(out->data + start, out->len - start);
        out->len = start;
        out->data[start] = '\0';
    }

    return rc;
}
