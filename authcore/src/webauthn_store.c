/*
 * authcore: the Redis schema of passkeys (webauthn.h): an account's
 * passkeys, the credential index for passwordless sign-in, single-use
 * challenges and increasing signature counters.
 */

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "internal.h"


/* KEYS: acct, acct:pk, cred:HANDLE; ARGV: handle, record, name, counter,
 * now, account id, max */
static const char  ac_lua_passkey_add[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end\n"
    "local n = 0\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do\n"
    "  if string.sub(f, 1, 2) == 'r:' then n = n + 1 end\n"
    "end\n"
    "if n >= tonumber(ARGV[7]) then return -2 end\n"
    "local h = ARGV[1]\n"
    "redis.call('HSET', KEYS[2], 'r:' .. h, ARGV[2], 'm:' .. h, ARGV[3],"
    " 'n:' .. h, ARGV[4], 'u:' .. h, '0')\n"
    "redis.call('SET', KEYS[3], ARGV[6])\n"
    "redis.call('HSET', KEYS[1], 'pk', n + 1)\n"
    "return 1\n";

/* KEYS: cred:HANDLE; ARGV: "P acct:", handle */
static const char  ac_lua_passkey_lookup[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if not id then return false end\n"
    "local h = ARGV[2]\n"
    "local v = redis.call('HMGET', ARGV[1] .. id .. ':pk', 'r:' .. h,"
    " 'm:' .. h, 'n:' .. h, 'u:' .. h)\n"
    "if not v[1] then return false end\n"
    "return {id, 'r:' .. h, v[1], 'm:' .. h, v[2] or '', 'n:' .. h,"
    " v[3] or '0', 'u:' .. h, v[4] or '0'}\n";

/* KEYS: acct:pk; ARGV: handle, counter, now */
static const char  ac_lua_passkey_counter[] =
    "local h = ARGV[1]\n"
    "local c = redis.call('HGET', KEYS[1], 'n:' .. h)\n"
    "if not c then return 0 end\n"
    "c = tonumber(c)\n"
    "local n = tonumber(ARGV[2])\n"
    "if (n ~= 0 or c ~= 0) and n <= c then return -1 end\n"
    "redis.call('HSET', KEYS[1], 'n:' .. h, ARGV[2], 'u:' .. h, ARGV[3])\n"
    "return 1\n";

/*
 * KEYS: acct:pk, cred:HANDLE, acct; ARGV: handle, account id. The
 * account's "pk" counts its passkeys: the sign-in reads from it that a
 * passkey is a second factor of the account.
 */
static const char  ac_lua_passkey_remove[] =
    "local h = ARGV[1]\n"
    "local n = redis.call('HDEL', KEYS[1], 'r:' .. h, 'm:' .. h,"
    " 'n:' .. h, 'u:' .. h)\n"
    "if redis.call('GET', KEYS[2]) == ARGV[2] then\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "if n == 0 then return 0 end\n"
    "local left = 0\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  if string.sub(f, 1, 2) == 'r:' then left = left + 1 end\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[3]) == 1 then\n"
    "  if left > 0 then redis.call('HSET', KEYS[3], 'pk', left)\n"
    "  else redis.call('HDEL', KEYS[3], 'pk') end\n"
    "end\n"
    "return 1\n";


/*
 * KEYS: pending; ARGV: "P acct:". Reads a pending second-factor state
 * (session.c's layout: "a" account, "g" its generation) without taking
 * a try: {} when it is gone or stale (a stale one is deleted), else
 * {account id, account HGETALL, the account's passkeys HGETALL}.
 */
static const char  ac_lua_passkey_pending[] =
    "local a = redis.call('HGET', KEYS[1], 'a')\n"
    "if not a then return {} end\n"
    "local g = redis.call('HGET', KEYS[1], 'g') or '0'\n"
    "local acct = redis.call('HGETALL', ARGV[1] .. a)\n"
    "local now = redis.call('HGET', ARGV[1] .. a, 'g') or '0'\n"
    "if #acct == 0 or now ~= g then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return {}\n"
    "end\n"
    "return {a, acct, redis.call('HGETALL', ARGV[1] .. a .. ':pk')}\n";


static int ac_passkey_parse(const char *handle, size_t hlen,
    const redisReply *const *f, ac_passkey_t *pk);
static int ac_passkey_cmp(const void *a, const void *b);


int
ac_passkey_handle(const ac_keys_t *keys, const unsigned char *id,
    size_t id_len, char handle[AC_DIGEST_LEN + 1])
{
    if (id == NULL || id_len == 0 || id_len > AC_WA_ID_MAX) {
        return AC_ERR_INVALID;
    }

    return ac_digest(keys, AC_PURPOSE_TOKEN, id, id_len, handle);
}


int
ac_cmd_passkey_challenge(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const unsigned char ch[AC_WA_CHALLENGE_LEN],
    const char *kind, const char *binding)
{
    int   rc;
    char  d[AC_DIGEST_LEN + 1], v[AC_KEY_MAX];

    if (kind == NULL || binding == NULL
        || strlen(kind) + strlen(binding) + 2 > sizeof(v)
        || ac_key_arg_check(binding) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_digest(keys, AC_PURPOSE_TOKEN, ch, AC_WA_CHALLENGE_LEN, d);
    if (rc != AC_OK) {
        return rc;
    }

    snprintf(v, sizeof(v), "%s:%s", kind, binding);

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "SET");
    if (ac_cmd_key_arg(cmd, cfg, "wac:", d, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }
    ac_cmd_copy(cmd, v, strlen(v));
    ac_cmd_str(cmd, "NX");
    ac_cmd_str(cmd, "EX");
    ac_cmd_int(cmd, AC_WA_CHALLENGE_TTL);

    return ac_cmd_status(cmd);
}


int
ac_cmd_passkey_challenge_take(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const unsigned char ch[AC_WA_CHALLENGE_LEN])
{
    int   rc;
    char  d[AC_DIGEST_LEN + 1];

    rc = ac_digest(keys, AC_PURPOSE_TOKEN, ch, AC_WA_CHALLENGE_LEN, d);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "GETDEL");
    if (ac_cmd_key_arg(cmd, cfg, "wac:", d, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_passkey_challenge_reply(const redisReply *r, const char *kind,
    const char *binding)
{
    size_t  kl, bl;

    if (r == NULL) {
        return AC_ERR_INVALID;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_REPLAY;
    }

    if (r->type != REDIS_REPLY_STRING) {
        return AC_ERR_REDIS;
    }

    kl = strlen(kind);
    bl = strlen(binding);

    if (r->len != kl + 1 + bl || memcmp(r->str, kind, kl) != 0
        || r->str[kl] != ':' || !ac_ct_equal(r->str + kl + 1, binding, bl))
    {
        return AC_ERR_MISMATCH;
    }

    return AC_OK;
}


int
ac_cmd_passkey_add(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *account, const ac_wa_cred_t *cred,
    const char *name, int64_t now)
{
    int       rc;
    char      handle[AC_DIGEST_LEN + 1];
    char      id[AC_B64URL_LEN(AC_WA_ID_MAX) + 1];
    char      pk[AC_B64URL_LEN(AC_WA_PK_MAX) + 1];
    ac_buf_t  b;

    if (account == NULL || ac_key_arg_check(account) != AC_OK
        || name == NULL || strlen(name) > AC_WA_NAME_MAX
        || cred->id_len == 0 || cred->pk_len == 0)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_passkey_handle(keys, cred->id, cred->id_len, handle);
    if (rc != AC_OK) {
        return rc;
    }

    ac_b64url_encode(cred->id, cred->id_len, id);
    ac_b64url_encode(cred->pk, cred->pk_len, pk);

    ac_buf_init(&b);
    ac_buf_printf(&b, "{\"id\":\"%s\",\"alg\":%d,\"pk\":\"%s\","
                  "\"flags\":%u,\"tr\":", id, cred->alg, pk, cred->flags);
    ac_buf_json_str(&b, cred->transports, strlen(cred->transports));
    ac_buf_printf(&b, ",\"created\":%lld}", (long long) now);

    rc = ac_buf_status(&b);
    if (rc != AC_OK) {
        ac_buf_free(&b);
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_passkey_add, sizeof(ac_lua_passkey_add) - 1,
                "3");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", account, ":pk") != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "cred:", handle, NULL) != AC_OK)
    {
        ac_buf_free(&b);
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, handle, strlen(handle));
    ac_cmd_copy(cmd, b.data, b.len);
    ac_cmd_copy(cmd, name, strlen(name));
    ac_cmd_int(cmd, cred->sign_count);
    ac_cmd_int(cmd, now);
    ac_cmd_copy(cmd, account, strlen(account));
    ac_cmd_int(cmd, AC_WA_PASSKEYS_MAX);

    ac_buf_free(&b);

    return ac_cmd_status(cmd);
}


int
ac_cmd_passkey_list(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account)
{
    if (account == NULL || ac_key_arg_check(account) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "HGETALL");
    if (ac_cmd_key_arg(cmd, cfg, "acct:", account, ":pk") != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


/* f: the values of "r:", "m:", "n:", "u:" of one handle */

static int
ac_passkey_parse(const char *handle, size_t hlen,
    const redisReply *const *f, ac_passkey_t *pk)
{
    int           rc;
    size_t        n;
    json_t       *root, *id, *alg, *key, *flags, *tr, *created;
    const char   *s;
    long long     v;
    char         *end;
    int           i;

    memset(pk, 0, sizeof(*pk));

    for (i = 0; i < 4; i++) {
        if (f[i] == NULL || f[i]->type != REDIS_REPLY_STRING) {
            return AC_ERR_REDIS;
        }
    }

    if (hlen != AC_DIGEST_LEN || f[1]->len > AC_WA_NAME_MAX) {
        return AC_ERR_REDIS;
    }

    memcpy(pk->handle, handle, hlen);
    memcpy(pk->name, f[1]->str, f[1]->len);

    v = strtoll(f[2]->str, &end, 10);
    if (*end != '\0' || v < 0 || v > (long long) UINT32_MAX) {
        return AC_ERR_REDIS;
    }
    pk->cred.sign_count = (uint32_t) v;

    pk->last_used = strtoll(f[3]->str, &end, 10);
    if (*end != '\0') {
        return AC_ERR_REDIS;
    }

    root = json_loadb(f[0]->str, f[0]->len, 0, NULL);
    id = json_object_get(root, "id");
    alg = json_object_get(root, "alg");
    key = json_object_get(root, "pk");
    flags = json_object_get(root, "flags");
    tr = json_object_get(root, "tr");
    created = json_object_get(root, "created");

    rc = AC_ERR_REDIS;

    if (json_is_string(id) && json_is_integer(alg) && json_is_string(key)
        && json_is_integer(flags) && json_is_string(tr)
        && json_is_integer(created)
        && json_string_length(tr) <= AC_WA_TRANSPORTS_MAX
        && ac_b64url_decode(json_string_value(id), json_string_length(id),
                            pk->cred.id, sizeof(pk->cred.id), &n) == AC_OK)
    {
        pk->cred.id_len = n;
        s = json_string_value(key);

        if (ac_b64url_decode(s, strlen(s), pk->cred.pk, sizeof(pk->cred.pk),
                             &n) == AC_OK)
        {
            pk->cred.pk_len = n;
            pk->cred.alg = (int) json_integer_value(alg);
            pk->cred.flags = (unsigned) json_integer_value(flags);
            strcpy(pk->cred.transports, json_string_value(tr));
            pk->created = json_integer_value(created);
            rc = AC_OK;
        }
    }

    json_decref(root);
    return rc;
}


int
ac_passkey_list_reply(const redisReply *r, ac_passkey_t *out, size_t max,
    size_t *n)
{
    int                rc;
    size_t             i, j;
    const char        *h;
    const redisReply  *f[4];
    static const char  pre[] = "rmnu";

    *n = 0;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        return AC_ERR_REDIS;
    }

    for (i = 0; i < r->elements; i += 2) {
        if (r->element[i]->type != REDIS_REPLY_STRING
            || r->element[i]->len != 2 + AC_DIGEST_LEN)
        {
            return AC_ERR_REDIS;
        }

        if (memcmp(r->element[i]->str, "r:", 2) != 0) {
            continue;
        }

        h = r->element[i]->str + 2;
        memset(f, 0, sizeof(f));

        for (j = 0; j < r->elements; j += 2) {
            const redisReply  *k = r->element[j];
            const char        *c;

            if (k->type == REDIS_REPLY_STRING && k->len == 2 + AC_DIGEST_LEN
                && k->str[1] == ':'
                && memcmp(k->str + 2, h, AC_DIGEST_LEN) == 0
                && (c = strchr(pre, k->str[0])) != NULL)
            {
                f[c - pre] = r->element[j + 1];
            }
        }

        if (*n == max) {
            break;
        }

        rc = ac_passkey_parse(h, AC_DIGEST_LEN, f, &out[*n]);
        if (rc != AC_OK) {
            return rc;
        }

        (*n)++;
    }

    qsort(out, *n, sizeof(ac_passkey_t), ac_passkey_cmp);

    return AC_OK;
}


static int
ac_passkey_cmp(const void *a, const void *b)
{
    const ac_passkey_t  *x = a, *y = b;

    if (x->created != y->created) {
        return x->created < y->created ? -1 : 1;
    }

    return strcmp(x->handle, y->handle);
}


int
ac_cmd_passkey_lookup(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *handle)
{
    if (handle == NULL || ac_key_arg_check(handle) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_passkey_lookup,
                sizeof(ac_lua_passkey_lookup) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "cred:", handle, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, handle, strlen(handle));

    return ac_cmd_status(cmd);
}


int
ac_passkey_lookup_reply(const redisReply *r, char account[AC_ID_LEN + 1],
    ac_passkey_t *pk)
{
    size_t  n;

    if (r == NULL) {
        return AC_ERR_INVALID;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 9
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[0]->len != AC_ID_LEN)
    {
        return AC_ERR_REDIS;
    }

    memcpy(account, r->element[0]->str, AC_ID_LEN);
    account[AC_ID_LEN] = '\0';

    {
        redisReply   fake;

        fake = *r;
        fake.elements = 8;
        fake.element = r->element + 1;

        if (ac_passkey_list_reply(&fake, pk, 1, &n) != AC_OK || n != 1) {
            return AC_ERR_REDIS;
        }
    }

    return AC_OK;
}


int
ac_cmd_passkey_counter(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *handle, uint32_t count, int64_t now)
{
    if (account == NULL || handle == NULL
        || ac_key_arg_check(account) != AC_OK
        || ac_key_arg_check(handle) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_passkey_counter,
                sizeof(ac_lua_passkey_counter) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", account, ":pk") != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, handle, strlen(handle));
    ac_cmd_int(cmd, count);
    ac_cmd_int(cmd, now);

    return ac_cmd_status(cmd);
}


int
ac_cmd_passkey_remove(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *handle)
{
    if (account == NULL || handle == NULL
        || ac_key_arg_check(account) != AC_OK
        || ac_key_arg_check(handle) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_passkey_remove,
                sizeof(ac_lua_passkey_remove) - 1, "3");

    if (ac_cmd_key_arg(cmd, cfg, "acct:", account, ":pk") != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "cred:", handle, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", account, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, handle, strlen(handle));
    ac_cmd_copy(cmd, account, strlen(account));

    return ac_cmd_status(cmd);
}


int
ac_passkey_export(ac_buf_t *b, const redisReply *r)
{
    int           rc;
    size_t        i, n;
    ac_passkey_t *pk;

    pk = calloc(AC_WA_PASSKEYS_MAX, sizeof(ac_passkey_t));
    if (pk == NULL) {
        return AC_ERR_NOMEM;
    }

    rc = ac_passkey_list_reply(r, pk, AC_WA_PASSKEYS_MAX, &n);

    ac_buf_str(b, "[");

    for (i = 0; rc == AC_OK && i < n; i++) {
        ac_buf_str(b, i ? ",{\"name\":" : "{\"name\":");
        ac_buf_json_str(b, pk[i].name, strlen(pk[i].name));
        ac_buf_printf(b, ",\"algorithm\":\"%s\",\"transports\":",
                      ac_wa_alg_name(pk[i].cred.alg));
        ac_buf_json_str(b, pk[i].cred.transports,
                        strlen(pk[i].cred.transports));
        ac_buf_printf(b, ",\"backup_eligible\":%s,\"backed_up\":%s,"
                      "\"created\":%lld,\"last_used\":%lld}",
                      (pk[i].cred.flags & AC_WA_FLAG_BE) ? "true" : "false",
                      (pk[i].cred.flags & AC_WA_FLAG_BS) ? "true" : "false",
                      (long long) pk[i].created,
                      (long long) pk[i].last_used);
    }

    ac_buf_str(b, "]");

    free(pk);

    return rc != AC_OK ? rc : ac_buf_status(b);
}


int
ac_cmd_passkey_pending(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *digest)
{
    int   rc;
    char  key[AC_KEY_MAX];

    if (cfg == NULL || digest == NULL) {
        return AC_ERR_INVALID;
    }

    rc = ac_key(cfg, AC_K_PENDING, digest, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_passkey_pending,
                sizeof(ac_lua_passkey_pending) - 1, "1");
    ac_cmd_copy(cmd, key, strlen(key));

    if (ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}
