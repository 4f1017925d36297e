/*
 * Partner trust (SPEC 6, "a partner vouches only for its own people"):
 * which accounts a partner's assertion may open (the account's partner
 * links), the pending link that waits for the owner's proof, and the
 * end of a partner's sessions when it is removed or an account is
 * unlinked from it. docs/PARTNERS.md tells partners and operators.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


/*
 * KEYS: partner, partners, partner's session index; ARGV: id, "P acct:",
 * "P events". The index holds "ACCOUNT:DIGEST"; a session ends only if
 * it still names the partner. Replies {partner removed, sessions
 * ended}.
 */
static const char  ac_lua_partner_remove[] =
    AC_SESSION_LUA
    "local n = redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "local e = 0\n"
    "for _, m in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do\n"
    "  local c = string.find(m, ':', 1, true)\n"
    "  if c then\n"
    "    local a, d = string.sub(m, 1, c - 1), string.sub(m, c + 1)\n"
    "    local s = ac_sget(ARGV[2] .. a, d)\n"
    "    if s and s[4] == ARGV[1] then\n"
    "      e = e + redis.call('HDEL', ARGV[2] .. a, 's:' .. d)\n"
    "      redis.call('PUBLISH', ARGV[3], 'revoke ' .. d)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "redis.call('DEL', KEYS[3])\n"
    "return {n, e}\n";

/*
 * KEYS: the account's links, the account, the partner's session index;
 * ARGV: partner, account id, "P events". The account's sessions are its
 * "s:DIGEST" fields; those of the partner end. Replies {link removed,
 * sessions ended}.
 */
static const char  ac_lua_partner_unlink[] =
    AC_SESSION_LUA
    "local had = redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "local n = 0\n"
    "local h = redis.call('HGETALL', KEYS[2])\n"
    "for i = 1, #h, 2 do\n"
    "  if string.sub(h[i], 1, 2) == 's:' then\n"
    "    local d = string.sub(h[i], 3)\n"
    "    local s = ac_sdec(h[i + 1])\n"
    "    if s and s[4] == ARGV[1] then\n"
    "      n = n + redis.call('HDEL', KEYS[2], h[i])\n"
    "      redis.call('ZREM', KEYS[3], ARGV[2] .. ':' .. d)\n"
    "      redis.call('PUBLISH', ARGV[3], 'revoke ' .. d)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {had, n}\n";

/* KEYS: partner, the account's links; ARGV: partner. -1: no partner */
static const char  ac_lua_partner_linked[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "return redis.call('HEXISTS', KEYS[2], ARGV[1])\n";

/* KEYS: pending link; ARGV: account, partner, return_to, ttl */
static const char  ac_lua_link_create[] =
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], 'a', ARGV[1], 'p', ARGV[2], 'r', ARGV[3],"
    " 'n', '0')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "return 1\n";

/* KEYS: pending link; ARGV: "P acct:" */
static const char  ac_lua_link_get[] =
    "local p = redis.call('HGETALL', KEYS[1])\n"
    "local a\n"
    "for i = 1, #p, 2 do if p[i] == 'a' then a = p[i + 1] end end\n"
    "if not a then return {} end\n"
    "return {p, redis.call('HGETALL', ARGV[1] .. a)}\n";

/* KEYS: pending link; ARGV: tries */
static const char  ac_lua_link_fail[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'n', 1)\n"
    "if n >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end\n"
    "return n\n";

/* KEYS: pending 2FA state */
static const char  ac_lua_pending_link_mark[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'l', '1')\n"
    "return 1\n";


static int ac_link_check(const ac_config_t *cfg, const char *id,
    const char *partner);
static int ac_link_ended_reply(const redisReply *r, int64_t *ended);
static int ac_link_copy(char *dst, size_t size, const redisReply *v);


int
ac_cmd_partner_remove(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id)
{
    int    rc;

    if (ac_partner_id_check(id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_partner_remove,
                sizeof(ac_lua_partner_remove) - 1, "3");

    rc = ac_cmd_key_add(cmd, cfg, AC_K_PARTNER, id);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_add(cmd, cfg, AC_K_PARTNERS, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    if (ac_cmd_key_arg(cmd, cfg, "partner:", id, ":sess") != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_str(cmd, id);

    if (ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "events", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_partner_remove_reply(const struct redisReply *r, int64_t *ended)
{
    return ac_link_ended_reply(r, ended);
}


int
ac_cmd_partner_linked(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner)
{
    if (ac_link_check(cfg, id, partner) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_partner_linked,
                sizeof(ac_lua_partner_linked) - 1, "2");

    if (ac_cmd_key_arg(cmd, cfg, "partner:", partner, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", id, ":partners") != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));

    return ac_cmd_status(cmd);
}


int
ac_cmd_partner_unlink(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *id, const char *partner)
{
    if (ac_link_check(cfg, id, partner) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_partner_unlink,
                sizeof(ac_lua_partner_unlink) - 1, "3");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", id, ":partners") != AC_OK
        || ac_cmd_key_add(cmd, cfg, AC_K_ACCOUNT, id) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "partner:", partner, ":sess") != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));
    ac_cmd_copy(cmd, id, strlen(id));

    if (ac_cmd_key_arg(cmd, cfg, "events", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_partner_unlink_reply(const struct redisReply *r, int64_t *ended)
{
    return ac_link_ended_reply(r, ended);
}


/* ----------------------------------------------------- pending links */

int
ac_cmd_link_pending_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, const char *account, const char *partner,
    const char *return_to)
{
    int   rc;
    char  acct[AC_KEY_MAX];

    if (cfg == NULL || return_to == NULL || cfg->pending_ttl <= 0
        || strlen(return_to) > AC_RETURN_TO_MAX
        || ac_partner_id_check(partner) != AC_OK
        || ac_key(cfg, AC_K_ACCOUNT, account, acct) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_eval_key(cmd, ac_lua_link_create,
                         sizeof(ac_lua_link_create) - 1, "1", cfg, AC_K_LINK,
                         digest);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_str(cmd, account);
    ac_cmd_str(cmd, partner);
    ac_cmd_str(cmd, return_to);
    ac_cmd_int(cmd, cfg->pending_ttl);

    return ac_cmd_status(cmd);
}


int
ac_cmd_link_pending_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest)
{
    int   rc;

    rc = ac_cmd_eval_key(cmd, ac_lua_link_get, sizeof(ac_lua_link_get) - 1, "1",
                         cfg, AC_K_LINK, digest);
    if (rc != AC_OK) {
        return rc;
    }

    if (ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_link_pending_parse(const struct redisReply *r, ac_link_pending_t *lp)
{
    size_t       i;
    const char  *f;
    char         id[AC_ID_LEN + 1], num[24];
    redisReply  *p, *v;

    memset(lp, 0, sizeof(ac_link_pending_t));
    id[0] = '\0';

    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        return AC_ERR_REDIS;
    }

    if (r->elements == 0) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_ARRAY) {
        return AC_ERR_REDIS;
    }

    p = r->element[0];

    for (i = 0; i + 1 < p->elements; i += 2) {
        if (p->element[i]->type != REDIS_REPLY_STRING
            || p->element[i]->len != 1)
        {
            continue;
        }

        f = p->element[i]->str;
        v = p->element[i + 1];

        switch (f[0]) {
        case 'a':
            if (ac_link_copy(id, sizeof(id), v) != AC_OK) {
                return AC_ERR_REDIS;
            }
            break;

        case 'p':
            if (ac_link_copy(lp->partner, sizeof(lp->partner), v) != AC_OK
                || ac_partner_id_check(lp->partner) != AC_OK)
            {
                return AC_ERR_REDIS;
            }
            break;

        case 'r':
            if (ac_link_copy(lp->return_to, sizeof(lp->return_to), v)
                != AC_OK)
            {
                return AC_ERR_REDIS;
            }
            break;

        case 'n':
            if (ac_link_copy(num, sizeof(num), v) != AC_OK) {
                return AC_ERR_REDIS;
            }
            lp->failures = strtoll(num, NULL, 10);
            break;

        default:
            break;
        }
    }

    if (id[0] == '\0' || lp->partner[0] == '\0') {
        return AC_ERR_REDIS;
    }

    /* an erased account leaves nothing to link */
    return ac_account_parse(r->element[1], id, &lp->account);
}


int
ac_cmd_link_pending_fail(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest, int64_t tries)
{
    int   rc;

    rc = ac_cmd_eval_key(cmd, ac_lua_link_fail, sizeof(ac_lua_link_fail) - 1,
                         "1", cfg, AC_K_LINK, digest);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_int(cmd, tries);

    return ac_cmd_status(cmd);
}


int
ac_cmd_link_pending_delete(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest)
{
    return ac_cmd_key(cmd, "DEL", cfg, AC_K_LINK, digest);
}


int
ac_cmd_pending_link_mark(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest)
{
    int   rc;

    rc = ac_cmd_eval_key(cmd, ac_lua_pending_link_mark,
                         sizeof(ac_lua_pending_link_mark) - 1, "1", cfg,
                         AC_K_PENDING, digest);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


/* ------------------------------------------------------------ replies */

/* A partner id and an account id, both valid in a key. */

static int
ac_link_check(const ac_config_t *cfg, const char *id, const char *partner)
{
    char  key[AC_KEY_MAX];

    if (ac_partner_id_check(partner) != AC_OK
        || ac_key(cfg, AC_K_ACCOUNT, id, key) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


/* {1 when the partner or link was there (else 0), sessions ended} */

static int
ac_link_ended_reply(const redisReply *r, int64_t *ended)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2
        || r->element[0]->type != REDIS_REPLY_INTEGER
        || r->element[1]->type != REDIS_REPLY_INTEGER)
    {
        return AC_ERR_REDIS;
    }

    if (ended != NULL) {
        *ended = r->element[1]->integer;
    }

    return r->element[0]->integer == 1 ? AC_OK : AC_ERR_NOT_FOUND;
}


static int
ac_link_copy(char *dst, size_t size, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len >= size
        || memchr(v->str, '\0', v->len) != NULL)
    {
        return AC_ERR_REDIS;
    }

    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';

    return AC_OK;
}
