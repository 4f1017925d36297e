/*
 * The account self-service commands, shared by the account pages and
 * guichetctl: what the account page reads in one round trip, a
 * session's own fields, and the second factor turned on or off in one
 * atomic step each.
 */

#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/*
 * KEYS: account, recovery codes; ARGV: session digest, session_idle.
 * The account's sessions are its "s:DIGEST" fields, the live ones
 * listed by expiry. Replies {f, k, account hash, codes left, {digest,
 * device, ip, created, last seen, ...}}.
 */
static const char  ac_lua_account_page[] =
    AC_SESSION_LUA
    "local s = ac_sget(KEYS[1], ARGV[1]) or {}\n"
    "local a = redis.call('HGETALL', KEYS[1])\n"
    "local n = redis.call('SCARD', KEYS[2])\n"
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local ds = {}\n"
    "for i = 1, #a, 2 do\n"
    "  if string.sub(a[i], 1, 2) == 's:' then\n"
    "    local v = ac_sdec(a[i + 1])\n"
    "    if v and ac_slive(v, now, tonumber(ARGV[2])) then\n"
    "      ds[#ds + 1] = {tonumber(v[6]) or 0, string.sub(a[i], 3), v}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "table.sort(ds, function(p, q)\n"
    "  if p[1] ~= q[1] then return p[1] < q[1] end\n"
    "  return p[2] < q[2]\n"
    "end)\n"
    "local l = {}\n"
    "for _, e in ipairs(ds) do\n"
    "  local v = e[3]\n"
    "  l[#l + 1] = e[2]; l[#l + 1] = v[10]; l[#l + 1] = v[9]\n"
    "  l[#l + 1] = v[5]; l[#l + 1] = (v[7] ~= '') and v[7] or v[5]\n"
    "end\n"
    "return {s[8] or '', s[11] or '', a, n, l}\n";

/* KEYS: account; ARGV: digest, field, value (set only if the session
 * exists) */
static const char  ac_lua_session_field[] =
    AC_SESSION_LUA
    "local s = ac_sget(KEYS[1], ARGV[1])\n"
    "if not s then return 0 end\n"
    "s[AC_S[ARGV[2]]] = ARGV[3]\n"
    "ac_sset(KEYS[1], ARGV[1], s)\n"
    "return 1\n";

/*
 * KEYS: account, recovery codes; ARGV: sealed secret, accepted step,
 * then the new recovery code digests ("" and no digests: off). Replies
 * 1, or 0 when the account is gone.
 */
static const char  ac_lua_totp_set[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'totp', ARGV[1], 'totp_step', ARGV[2])\n"
    "redis.call('DEL', KEYS[2])\n"
    "if #ARGV > 2 then\n"
    "  redis.call('SADD', KEYS[2], unpack(ARGV, 3))\n"
    "end\n"
    "return 1\n";


static int ac_totp_keys(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id);


int
ac_cmd_account_page(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *id)
{
    int  rc;

    if (cfg == NULL || digest == NULL || id == NULL
        || strlen(digest) != AC_DIGEST_LEN)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_account_page, sizeof(ac_lua_account_page) - 1,
                "2");

    rc = ac_totp_keys(cmd, cfg, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_int(cmd, cfg->session_idle);

    return ac_cmd_status(cmd);
}


int
ac_cmd_session_field(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *digest, const char *field,
    const char *value)
{
    int  rc;

    if (cfg == NULL || digest == NULL || account == NULL
        || strlen(digest) != AC_DIGEST_LEN
        || ac_session_field_check(field, value) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_session_field, sizeof(ac_lua_session_field) - 1,
                "1");

    rc = ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_copy(cmd, field, 1);
    ac_cmd_copy(cmd, value, strlen(value));

    return ac_cmd_status(cmd);
}


int
ac_cmd_totp_enable(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id,
    const char *sealed, int64_t step,
    char digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1])
{
    int  rc;

    if (cfg == NULL || id == NULL || sealed == NULL || sealed[0] == '\0'
        || step < 0)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_totp_set, sizeof(ac_lua_totp_set) - 1, "2");

    rc = ac_totp_keys(cmd, cfg, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, sealed, strlen(sealed));
    ac_cmd_int(cmd, step);

    if (digests == NULL) {
        return ac_cmd_status(cmd);
    }

    return ac_cmd_recovery_digests(cmd, digests);
}


int
ac_cmd_totp_disable(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    int  rc;

    if (cfg == NULL || id == NULL) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_totp_set, sizeof(ac_lua_totp_set) - 1, "2");

    rc = ac_totp_keys(cmd, cfg, id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "");
    ac_cmd_str(cmd, "0");

    return ac_cmd_status(cmd);
}


/* KEYS account, recovery codes */

static int
ac_totp_keys(ac_cmd_t *cmd, const ac_config_t *cfg, const char *id)
{
    int   rc;

    rc = ac_cmd_key_add(cmd, cfg, AC_K_ACCOUNT, id);

    return rc == AC_OK ? ac_cmd_key_add(cmd, cfg, AC_K_RECOVERY, id) : rc;
}
