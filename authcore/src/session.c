/*
 * Sessions: cookie digest, Redis commands and reply parsing.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/*
 * KEYS: account; ARGV: idle, expires, digest, now, max, "P partner:",
 * "P events", the session's value, account id. A session is the
 * account's field "s:DIGEST": those past their expiry (absolute or
 * idle) or not of this layout are dropped, and beyond "max" the sessions
 * that expire first end, so that the hash stays small. Every sign-in,
 * of any kind, makes a session: it is the account's "last_login". A
 * locked account gets none: the gate reads only the session, and a lock
 * ends the sessions before it (a sign-in that read the account before
 * the lock is refused here).
 */
#define AC_SESSION_CREATE_LUA                                                \
    AC_SESSION_LUA                                                           \
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"                           \
    "  return redis.error_reply('ERR no such account')\n"                    \
    "end\n"                                                                  \
    "local st = redis.call('HGET', KEYS[1], 'status')\n"                     \
    "if st and st ~= '0' and st ~= 'active' then\n"                          \
    "  return redis.error_reply('ERR account locked')\n"                     \
    "end\n"                                                                  \
    "local now = tonumber(ARGV[4])\n"                                        \
    "local idle = tonumber(ARGV[1])\n"                                       \
    "local h = redis.call('HGETALL', KEYS[1])\n"                             \
    "local live = {}\n"                                                      \
    "local function unindex(t, d)\n"                                         \
    "  if t and t[4] ~= '' then\n"                                           \
    "    redis.call('ZREM', ARGV[6] .. t[4] .. ':sess',"                    \
    " ARGV[9] .. ':' .. d)\n"                                                \
    "  end\n"                                                                \
    "end\n"                                                                  \
    "for i = 1, #h, 2 do\n"                                                  \
    "  if string.sub(h[i], 1, 2) == 's:' then\n"                             \
    "    local d = string.sub(h[i], 3)\n"                                    \
    "    local t = ac_sdec(h[i + 1])\n"                                      \
    "    if not t or not ac_slive(t, now, idle) then\n"                      \
    "      redis.call('HDEL', KEYS[1], h[i])\n"                              \
    "      unindex(t, d)\n"                                                  \
    "    elseif d ~= ARGV[3] then\n"                                         \
    "      live[#live + 1] = {tonumber(t[6]), d, t}\n"                       \
    "    end\n"                                                              \
    "  end\n"                                                                \
    "end\n"                                                                  \
    "local over = #live + 1 - tonumber(ARGV[5])\n"                           \
    "if over > 0 then\n"                                                     \
    "  table.sort(live, function(p, q)\n"                                    \
    "    if p[1] ~= q[1] then return p[1] < q[1] end\n"                      \
    "    return p[2] < q[2]\n"                                               \
    "  end)\n"                                                               \
    "  for i = 1, over do\n"                                                 \
    "    local d = live[i][2]\n"                                             \
    "    redis.call('HDEL', KEYS[1], 's:' .. d)\n"                           \
    "    unindex(live[i][3], d)\n"                                           \
    "    redis.call('PUBLISH', ARGV[7], 'revoke ' .. d)\n"                   \
    "  end\n"                                                                \
    "end\n"                                                                  \
    "redis.call('HSET', KEYS[1], 's:' .. ARGV[3], ARGV[8],"                  \
    " 'last_login', ARGV[4])\n"

static const char  ac_session_create_lua[] =
    AC_SESSION_CREATE_LUA
    "return 1\n";

/*
 * An SSO session: KEYS add the partner, the account's partner links and
 * the partner's session index ("ACCOUNT:DIGEST", so that removing the
 * partner finds the account; erasure and the sweeps remove the
 * account's members); ARGV[10] is the partner id. Checked in the same
 * step as the write, so that a partner removed or an account unlinked
 * meanwhile opens nothing.
 */
static const char  ac_session_create_sso_lua[] =
    "if redis.call('EXISTS', KEYS[2]) == 0 then\n"
    "  return redis.error_reply('ERR no such partner')\n"
    "end\n"
    "if redis.call('HEXISTS', KEYS[3], ARGV[10]) == 0 then\n"
    "  return redis.error_reply('ERR account not linked to the partner')\n"
    "end\n"
    AC_SESSION_CREATE_LUA
    "redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[4])\n"
    "redis.call('ZADD', KEYS[4], ARGV[2], ARGV[9] .. ':' .. ARGV[3])\n"
    "return 1\n";

/* KEYS: account; ARGV: digest, idle, now. An expired session is left
 * as it is, to the sweeps (the next sign-in, the retention run). */
static const char  ac_session_touch_lua[] =
    AC_SESSION_LUA
    "local s = ac_sget(KEYS[1], ARGV[1])\n"
    "if not s then return 0 end\n"
    "local now = tonumber(ARGV[3])\n"
    "if not ac_slive(s, now, tonumber(ARGV[2])) then\n"
    "  return 0\n"
    "end\n"
    "s[7] = ARGV[3]\n"
    "ac_sset(KEYS[1], ARGV[1], s)\n"
    "return 1\n";

/* KEYS: account; ARGV: digest, events channel, "P partner:", account id,
 * session_idle. Per-worker caches drop the session when they read the
 * message. The account's other fields that are no live session go too
 * (a logout sweeps its account, as a sign-in does). */
static const char  ac_session_delete_lua[] =
    AC_SESSION_LUA
    "local function drop(f, t)\n"
    "  if t and t[4] ~= '' then\n"
    "    redis.call('ZREM', ARGV[3] .. t[4] .. ':sess',"
    " ARGV[4] .. ':' .. string.sub(f, 3))\n"
    "  end\n"
    "  return redis.call('HDEL', KEYS[1], f)\n"
    "end\n"
    "local f = 's:' .. ARGV[1]\n"
    "local n = drop(f, ac_sdec(redis.call('HGET', KEYS[1], f)))\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local t = ac_sdec(h[i + 1])\n"
    "    if not t or not ac_slive(t, now, tonumber(ARGV[5])) then\n"
    "      drop(h[i], t)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[2], 'revoke ' .. ARGV[1])\n"
    "return n\n";


/*
 * KEYS: account; ARGV: digest, events channel, new digest, field, value
 * ("" empties the field), "P partner:", account id. The session goes on
 * under a new id, the old id is dropped by every cache.
 */
static const char  ac_session_rotate_lua[] =
    AC_SESSION_LUA
    "local s = ac_sget(KEYS[1], ARGV[1])\n"
    "if not s then return 0 end\n"
    "s[AC_S[ARGV[4]]] = ARGV[5]\n"
    "redis.call('HDEL', KEYS[1], 's:' .. ARGV[1])\n"
    "ac_sset(KEYS[1], ARGV[3], s)\n"
    "if s[4] ~= '' then\n"
    "  local z = ARGV[6] .. s[4] .. ':sess'\n"
    "  if redis.call('ZREM', z, ARGV[7] .. ':' .. ARGV[1]) == 1 then\n"
    "    redis.call('ZADD', z, s[6], ARGV[7] .. ':' .. ARGV[3])\n"
    "  end\n"
    "end\n"
    "redis.call('PUBLISH', ARGV[2], 'revoke ' .. ARGV[1])\n"
    "return 1\n";


static int ac_session_keys(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account);
static int ac_session_events(const ac_config_t *cfg, char key[AC_KEY_MAX]);
static int ac_digest_check(const char *digest);
static int ac_session_account_check(const char *account);
static int ac_session_int(const char *s, size_t len, int64_t *v);
static int ac_session_copy(char *dst, size_t size, const char *s,
    size_t len);


int
ac_amr_parse(const char *s, size_t len, unsigned *amr)
{
    static const struct {
        const char  *name;
        unsigned     amr;
    } amrs[] = {
        { "pwd", AC_AMR_PWD },
        { "pwd otp", AC_AMR_PWD | AC_AMR_OTP },
        { "sso", AC_AMR_SSO },
        { "sso otp", AC_AMR_SSO | AC_AMR_OTP },
        { "pwd hwk", AC_AMR_PWD | AC_AMR_HWK },
        { "sso hwk", AC_AMR_SSO | AC_AMR_HWK },
        { "hwk", AC_AMR_HWK },
    };

    size_t  i;

    if (s == NULL || amr == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < sizeof(amrs) / sizeof(amrs[0]); i++) {
        if (strlen(amrs[i].name) == len
            && memcmp(amrs[i].name, s, len) == 0)
        {
            *amr = amrs[i].amr;
            return AC_OK;
        }
    }

    return AC_ERR_INVALID;
}


const char *
ac_amr_name(unsigned amr)
{
    switch (amr) {
    case AC_AMR_PWD:
        return "pwd";
    case AC_AMR_PWD | AC_AMR_OTP:
        return "pwd otp";
    case AC_AMR_SSO:
        return "sso";
    case AC_AMR_SSO | AC_AMR_OTP:
        return "sso otp";
    case AC_AMR_PWD | AC_AMR_HWK:
        return "pwd hwk";
    case AC_AMR_SSO | AC_AMR_HWK:
        return "sso hwk";
    case AC_AMR_HWK:
        return "hwk";
    default:
        return "";
    }
}


int
ac_session_digest(const ac_keys_t *keys, const char *cookie, size_t len,
    char out[AC_DIGEST_LEN + 1])
{
    size_t  i;

    if (keys == NULL || cookie == NULL || len != AC_TOKEN_LEN) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) cookie[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return AC_ERR_INVALID;
        }
    }

    return ac_digest(keys, AC_PURPOSE_SESSION, cookie, len, out);
}


/*
 * A pending second-factor state: a account id, r return_to, n tries
 * taken, m the first factor ("pwd", "sso"), p the partner of an SSO,
 * g the account's generation when it was made. Lock, password change
 * and logout everywhere raise the generation (ac_cmd_sessions_end_all),
 * which kills the pending states made before.
 *
 * KEYS: pending; ARGV: account, return_to, ttl, first factor, partner,
 * account key.
 */
static const char  ac_pending_create_lua[] =
    "redis.call('DEL', KEYS[1])\n"
    "local g = redis.call('HGET', ARGV[6], 'g') or '0'\n"
    "redis.call('HSET', KEYS[1], 'a', ARGV[1], 'r', ARGV[2], 'n', '0',"
    " 'm', ARGV[4], 'g', g)\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'p', ARGV[5]) end\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "return 1\n";

/*
 * KEYS: pending; ARGV: "P acct:", tries. Takes one try before the code
 * is checked; the last one deletes the state. Replies {} when the state
 * is gone or stale, else {pending, account, tries taken}.
 */
static const char  ac_pending_take_lua[] =
    "local p = redis.call('HGETALL', KEYS[1])\n"
    "local a, g\n"
    "for i = 1, #p, 2 do\n"
    "  if p[i] == 'a' then a = p[i + 1] end\n"
    "  if p[i] == 'g' then g = p[i + 1] end\n"
    "end\n"
    "if not a then return {} end\n"
    "local acct = redis.call('HGETALL', ARGV[1] .. a)\n"
    "local now = redis.call('HGET', ARGV[1] .. a, 'g') or '0'\n"
    "if #acct == 0 or now ~= (g or '0') then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return {}\n"
    "end\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
    "if n >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end\n"
    "return {p, acct, n}\n";


int
ac_cmd_session_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const ac_session_t *s)
{
    int     rc, sso;
    size_t  len;
    char    key[AC_KEY_MAX], value[AC_SESSION_VALUE_MAX];

    if (cfg == NULL || s == NULL || cfg->session_idle <= 0) {
        return AC_ERR_INVALID;
    }

    sso = (s->partner[0] != '\0');

    if (sso) {
        if (ac_partner_id_check(s->partner) != AC_OK) {
            return AC_ERR_INVALID;
        }

        ac_cmd_eval(cmd, ac_session_create_sso_lua,
                    sizeof(ac_session_create_sso_lua) - 1, "4");

    } else {
        ac_cmd_eval(cmd, ac_session_create_lua,
                    sizeof(ac_session_create_lua) - 1, "1");
    }

    rc = ac_session_keys(cmd, cfg, digest, s->account);
    if (rc != AC_OK) {
        return rc;
    }

    if (sso
        && (ac_cmd_key_arg(cmd, cfg, "partner:", s->partner, NULL) != AC_OK
            || ac_cmd_key_arg(cmd, cfg, "acct:", s->account, ":partners")
               != AC_OK
            || ac_cmd_key_arg(cmd, cfg, "partner:", s->partner, ":sess")
               != AC_OK))
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_int(cmd, cfg->session_idle);
    ac_cmd_int(cmd, s->expires);
    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_int(cmd, s->created);
    ac_cmd_int(cmd, AC_SESSIONS_MAX);

    if (ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    rc = ac_session_events(cfg, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, key, strlen(key));

    rc = ac_session_format(s, value, sizeof(value), &len);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, value, len);
    ac_cmd_copy(cmd, s->account, strlen(s->account));

    if (sso) {
        ac_cmd_str(cmd, s->partner);
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_session_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest)
{
    int   rc;
    char  field[2 + AC_DIGEST_LEN + 1];

    if (cfg == NULL || ac_digest_check(digest) != AC_OK
        || ac_session_account_check(account) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "HMGET");

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    field[0] = 's';
    field[1] = ':';
    memcpy(field + 2, digest, AC_DIGEST_LEN + 1);

    ac_cmd_copy(cmd, field, 2 + AC_DIGEST_LEN);
    ac_cmd_str(cmd, "email");

    return ac_cmd_status(cmd);
}


int
ac_cmd_session_touch(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest, int64_t now)
{
    int  rc;

    if (cfg == NULL || cfg->session_idle <= 0
        || ac_session_account_check(account) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_session_touch_lua,
                sizeof(ac_session_touch_lua) - 1, "1");

    rc = ac_session_keys(cmd, cfg, digest, account);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_int(cmd, cfg->session_idle);
    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_session_delete(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account)
{
    int   rc;
    char  key[AC_KEY_MAX];

    if (cfg == NULL || account == NULL || account[0] == '\0'
        || cfg->session_idle <= 0)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_session_delete_lua,
                sizeof(ac_session_delete_lua) - 1, "1");

    rc = ac_session_keys(cmd, cfg, digest, account);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);

    rc = ac_session_events(cfg, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, key, strlen(key));

    if (ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, account, strlen(account));
    ac_cmd_int(cmd, cfg->session_idle);

    return ac_cmd_status(cmd);
}


int
ac_cmd_session_rotate(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *new_digest,
    const char *field, const char *value)
{
    int   rc;
    char  key[AC_KEY_MAX];

    if (cfg == NULL || account == NULL || account[0] == '\0'
        || ac_session_field_check(field, value) != AC_OK
        || ac_digest_check(new_digest) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_session_rotate_lua,
                sizeof(ac_session_rotate_lua) - 1, "1");

    rc = ac_session_keys(cmd, cfg, digest, account);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);

    rc = ac_session_events(cfg, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, key, strlen(key));
    ac_cmd_copy(cmd, new_digest, AC_DIGEST_LEN);
    ac_cmd_copy(cmd, field, strlen(field));
    ac_cmd_copy(cmd, value, strlen(value));

    if (ac_cmd_key_arg(cmd, cfg, "partner:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, account, strlen(account));

    return ac_cmd_status(cmd);
}


int
ac_session_token_new(const char *account, char out[AC_TOKEN_LEN + 1])
{
    int  rc;

    if (out == NULL || ac_session_account_check(account) != AC_OK) {
        return AC_ERR_INVALID;
    }

    /* 27 random base64url characters (162 bits) after the account id */
    rc = ac_token_new(out);
    if (rc != AC_OK) {
        return rc;
    }

    memmove(out + AC_ID_LEN, out, AC_TOKEN_LEN - AC_ID_LEN);
    memcpy(out, account, AC_ID_LEN);
    out[AC_TOKEN_LEN] = '\0';

    return AC_OK;
}


int
ac_session_account(const char *cookie, size_t len,
    char account[AC_ID_LEN + 1])
{
    if (cookie == NULL || account == NULL || len != AC_TOKEN_LEN) {
        return AC_ERR_INVALID;
    }

    memcpy(account, cookie, AC_ID_LEN);
    account[AC_ID_LEN] = '\0';

    if (ac_session_account_check(account) != AC_OK) {
        account[0] = '\0';
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


int
ac_session_live(const ac_session_t *s, const ac_config_t *cfg,
    int64_t now)
{
    int64_t  seen;

    if (s == NULL || cfg == NULL) {
        return 0;
    }

    seen = s->last_seen ? s->last_seen : s->created;

    return s->expires > now && seen + cfg->session_idle > now;
}


int
ac_cmd_pending_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *return_to,
    const char *partner)
{
    int   rc;

    if (cfg == NULL || digest == NULL || account == NULL
        || account[0] == '\0' || return_to == NULL)
    {
        return AC_ERR_INVALID;
    }

    if (partner == NULL) {
        partner = "";
    }

    rc = ac_cmd_eval_key(cmd, ac_pending_create_lua,
                         sizeof(ac_pending_create_lua) - 1, "1", cfg,
                         AC_K_PENDING, digest);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, account, strlen(account));
    ac_cmd_copy(cmd, return_to, strlen(return_to));
    ac_cmd_int(cmd, cfg->pending_ttl > 0 ? cfg->pending_ttl : 300);
    ac_cmd_str(cmd, partner[0] ? "sso" : "pwd");
    ac_cmd_copy(cmd, partner, strlen(partner));

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_pending_end(ac_cmd_t *cmd, const ac_config_t *cfg, const char *digest)
{
    if (cfg == NULL || ac_digest_check(digest) != AC_OK) {
        return AC_ERR_INVALID;
    }

    return ac_cmd_key(cmd, "DEL", cfg, AC_K_PENDING, digest);
}


int
ac_cmd_pending_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, unsigned tries)
{
    int   rc;

    if (cfg == NULL || digest == NULL || tries == 0) {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_eval_key(cmd, ac_pending_take_lua,
                         sizeof(ac_pending_take_lua) - 1, "1", cfg,
                         AC_K_PENDING, digest);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_int(cmd, tries);

    return ac_cmd_status(cmd);
}


/*
 * The value of the field "s:DIGEST" of "P acct:ID":
 * "2|a|r|m|p|c|x|t|f|i|u|k|" (session.h), e left empty. A '|' of a
 * device label becomes '/', since it is only shown.
 */
int
ac_session_format(const ac_session_t *s, char *out, size_t size,
    size_t *len)
{
    int          n;
    size_t       i, dlen;
    const char  *amr;
    char         roles[AC_ROLES_MAX], fresh[24];
    char         device[AC_DEVICE_MAX + 1];

    if (s == NULL || out == NULL || s->expires <= s->created
        || ac_key_arg_check(s->account) != AC_OK
        || strlen(s->account) > AC_ID_LEN
        || strchr(s->ip, '|') != NULL
        || (s->partner[0] != '\0'
            && ac_partner_id_check(s->partner) != AC_OK))
    {
        return AC_ERR_INVALID;
    }

    amr = ac_amr_name(s->amr);
    if (amr[0] == '\0') {
        return AC_ERR_INVALID;
    }

    /* a partner vouches for a person, never for their rights */
    ac_roles_format((s->amr & AC_AMR_SSO) ? s->roles & ~AC_ROLES_SSO_DENIED
                                          : s->roles,
                    roles);

    dlen = strnlen(s->device, AC_DEVICE_MAX);
    for (i = 0; i < dlen; i++) {
        device[i] = (s->device[i] == '|') ? '/' : s->device[i];
    }
    device[dlen] = '\0';

    fresh[0] = '\0';
    if (s->fresh > 0) {
        (void) snprintf(fresh, sizeof(fresh), "%lld", (long long) s->fresh);
    }

    /* "k" and "e" empty: the account's own "email" stands for e */
    n = snprintf(out, size, "2|%s|%s|%s|%s|%lld|%lld|%lld|%s|%.*s|%s||",
                 s->account, roles, amr, s->partner, (long long) s->created,
                 (long long) s->expires, (long long) s->last_seen, fresh,
                 (int) strnlen(s->ip, AC_IP_MAX - 1), s->ip, device);

    if (n < 0 || (size_t) n >= size) {
        return AC_ERR_TOO_LONG;
    }

    *len = (size_t) n;

    return AC_OK;
}


/* The fields a page may set on a live session: "f" (fresh proof) and
 * "k" (a second factor being enrolled); no '|', no control byte. */
int
ac_session_field_check(const char *field, const char *value)
{
    size_t  i;

    if (field == NULL || value == NULL
        || (strcmp(field, "f") != 0 && strcmp(field, "k") != 0))
    {
        return AC_ERR_INVALID;
    }

    for (i = 0; value[i]; i++) {
        if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f
            || value[i] == '|')
        {
            return AC_ERR_INVALID;
        }
    }

    return AC_OK;
}


int
ac_session_parse(const struct redisReply *r, ac_session_t *s)
{
    size_t                   i, n, len[AC_SESSION_FIELDS];
    const char              *v, *end, *q, *f[AC_SESSION_FIELDS];
    const struct redisReply  *email;

    email = NULL;

    if (r == NULL || s == NULL) {
        return AC_ERR_INVALID;
    }

    memset(s, 0, sizeof(ac_session_t));
    s->account_status = -1;

    /* HMGET of the session's field and the account's email, or the
     * field's value alone */
    if (r->type == REDIS_REPLY_ARRAY) {
        if (r->elements < 1 || r->elements > 2 || r->element[0] == NULL) {
            return AC_ERR_REDIS;
        }

        if (r->elements == 2) {
            email = r->element[1];
            if (email == NULL
                || (email->type != REDIS_REPLY_STRING
                    && email->type != REDIS_REPLY_NIL))
            {
                return AC_ERR_REDIS;
            }
        }

        r = r->element[0];
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->type != REDIS_REPLY_STRING || r->len < 2
        || memcmp(r->str, "2|", 2) != 0
        || memchr(r->str, '\0', r->len) != NULL)
    {
        return AC_ERR_REDIS;
    }

    v = r->str + 2;
    end = r->str + r->len;

    for (n = 0; n < AC_SESSION_FIELDS - 1; n++) {
        q = memchr(v, '|', end - v);
        if (q == NULL) {
            return AC_ERR_REDIS;
        }

        f[n] = v;
        len[n] = q - v;
        v = q + 1;
    }

    f[n] = v;
    len[n] = end - v;

    /* a m x are needed; the others may be empty */
    if (len[0] == 0 || len[2] == 0 || len[5] == 0
        || ac_session_copy(s->account, sizeof(s->account), f[0], len[0])
           != AC_OK
        || (len[1] && ac_roles_parse(f[1], len[1], &s->roles) != AC_OK)
        || ac_amr_parse(f[2], len[2], &s->amr) != AC_OK
        || ac_session_copy(s->partner, sizeof(s->partner), f[3], len[3])
           != AC_OK
        || (len[4] && ac_session_int(f[4], len[4], &s->created) != AC_OK)
        || ac_session_int(f[5], len[5], &s->expires) != AC_OK
        || (len[6] && ac_session_int(f[6], len[6], &s->last_seen) != AC_OK)
        || (len[7] && ac_session_int(f[7], len[7], &s->fresh) != AC_OK)
        || ac_session_copy(s->ip, sizeof(s->ip), f[8], len[8]) != AC_OK
        || (email != NULL && email->type == REDIS_REPLY_STRING
            && ac_session_copy(s->email, sizeof(s->email), email->str,
                               email->len) != AC_OK))
    {
        goto failed;
    }

    /* a label for display: cut, never refused */
    i = len[9] < AC_DEVICE_MAX ? len[9] : AC_DEVICE_MAX;
    (void) ac_session_copy(s->device, sizeof(s->device), f[9], i);

    /* "k" (f[10]) is the account page's own */

    /* a session exists only for an active account: a lock ends them */
    s->account_status = AC_STATUS_ACTIVE;

    /* also for a session written before that rule */
    if (s->amr & AC_AMR_SSO) {
        s->roles &= ~AC_ROLES_SSO_DENIED;
    }

    return AC_OK;

failed:

    memset(s, 0, sizeof(ac_session_t));
    s->account_status = -1;

    return AC_ERR_REDIS;
}


static int
ac_session_keys(ac_cmd_t *cmd, const ac_config_t *cfg, const char *digest,
    const char *account)
{
    if (ac_digest_check(digest) != AC_OK) {
        return AC_ERR_INVALID;
    }

    return ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
}


/* An account id as a session cookie begins with: AC_ID_LEN characters
 * of the lower-case base32 alphabet, nothing after. */
static int
ac_session_account_check(const char *account)
{
    size_t  i;

    if (account == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < AC_ID_LEN; i++) {
        if (account[i] == '\0'
            || strchr(ac_base32_lower, account[i]) == NULL)
        {
            return AC_ERR_INVALID;
        }
    }

    return account[AC_ID_LEN] == '\0' ? AC_OK : AC_ERR_INVALID;
}


/* "P events": the account key prefix with "events" for "acct:x" */
static int
ac_session_events(const ac_config_t *cfg, char key[AC_KEY_MAX])
{
    int     rc;
    size_t  len;

    rc = ac_key(cfg, AC_K_ACCOUNT, "x", key);
    if (rc != AC_OK) {
        return rc;
    }

    len = strlen(key) - sizeof("acct:x") + 1;
    if (len + sizeof("events") > AC_KEY_MAX) {
        return AC_ERR_TOO_LONG;
    }

    memcpy(key + len, "events", sizeof("events"));

    return AC_OK;
}


static int
ac_digest_check(const char *digest)
{
    size_t  i;

    if (digest == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < AC_DIGEST_LEN; i++) {
        unsigned char  c = (unsigned char) digest[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return AC_ERR_INVALID;
        }
    }

    return digest[AC_DIGEST_LEN] == '\0' ? AC_OK : AC_ERR_INVALID;
}


static int
ac_session_int(const char *s, size_t len, int64_t *v)
{
    char       buf[24], *end;
    long long  n;

    if (len == 0 || len >= sizeof(buf)) {
        return AC_ERR_INVALID;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';

    if (buf[0] < '0' || buf[0] > '9') {
        return AC_ERR_INVALID;
    }

    errno = 0;
    n = strtoll(buf, &end, 10);

    if (errno != 0 || *end != '\0') {
        return AC_ERR_INVALID;
    }

    *v = n;

    return AC_OK;
}


static int
ac_session_copy(char *dst, size_t size, const char *s, size_t len)
{
    size_t  i;

    if (len >= size) {
        return AC_ERR_TOO_LONG;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return AC_ERR_INVALID;
        }
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return AC_OK;
}
