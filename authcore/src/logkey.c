/*
 * Per-account log keys and the pseudonyms that name accounts in the
 * connection log: the key seals an entry's personal fields and is the
 * only link from a pseudonym back to its account, so that erasing the
 * account (and its key) leaves its entries anonymous. docs/LOG.md.
 */

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


#define AC_LOG_PSEUDO_DOMAIN  "guichet-log-pseudonym-1:"


static const char  ac_log_pseudo_alphabet[33] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* KEYS: account; ARGV: sealed log key */
static const char  ac_log_key_init_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return false end\n"
    "redis.call('HSETNX', KEYS[1], 'lk', ARGV[1])\n"
    "return redis.call('HGET', KEYS[1], 'lk')\n";

/*
 * KEYS: the pseudonym index; ARGV: a, "P acct:", "1" when a is an
 * account id (an entry written before pseudonyms).
 */
static const char  ac_log_resolve_lua[] =
    "local id = ARGV[1]\n"
    "if ARGV[3] ~= '1' then\n"
    "  id = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "  if not id then return false end\n"
    "end\n"
    "local lk = redis.call('HGET', ARGV[2] .. id, 'lk')\n"
    "if not lk then return false end\n"
    "return {id, lk}\n";


static int ac_log_lk_aad(const char *account, char *out, size_t size);


int
ac_log_key_new(const ac_keys_t *keys, const char *account,
    unsigned char key[AC_LOG_KEY_LEN], char sealed[AC_LOG_KEY_SEALED_MAX])
{
    int   rc;
    char  aad[AC_ID_LEN + 8];

    if (keys == NULL || key == NULL || sealed == NULL
        || ac_log_lk_aad(account, aad, sizeof(aad)) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_random(key, AC_LOG_KEY_LEN);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_seal(keys, key, AC_LOG_KEY_LEN, aad, sealed,
                 AC_LOG_KEY_SEALED_MAX);
    if (rc != AC_OK) {
        ac_cleanse(key, AC_LOG_KEY_LEN);
        sealed[0] = '\0';
    }

    return rc;
}


int
ac_log_key_unseal(const ac_keys_t *keys, const char *account,
    const char *sealed, size_t len, unsigned char key[AC_LOG_KEY_LEN])
{
    int            rc;
    size_t         n;
    char           aad[AC_ID_LEN + 8], buf[AC_LOG_KEY_SEALED_MAX];
    unsigned char  out[AC_LOG_KEY_LEN + 16];

    if (keys == NULL || sealed == NULL || key == NULL
        || ac_log_lk_aad(account, aad, sizeof(aad)) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    if (len == 0 || len >= sizeof(buf) || memchr(sealed, '\0', len)) {
        return AC_ERR_KEY;
    }

    memcpy(buf, sealed, len);
    buf[len] = '\0';

    rc = ac_unseal(keys, buf, aad, out, sizeof(out), &n);

    if (rc == AC_OK && n != AC_LOG_KEY_LEN) {
        rc = AC_ERR_KEY;
    }

    if (rc == AC_OK) {
        memcpy(key, out, AC_LOG_KEY_LEN);
    }

    ac_cleanse(out, sizeof(out));

    return rc;
}


int
ac_cmd_log_key_init(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account, const char *sealed)
{
    int   rc;

    if (account == NULL || sealed == NULL || sealed[0] == '\0'
        || ac_log_account_check(account, strlen(account)) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_eval_key(cmd, ac_log_key_init_lua,
                         sizeof(ac_log_key_init_lua) - 1, "1", cfg,
                         AC_K_ACCOUNT, account);
    if (rc != AC_OK) {
        return rc;
    }
    ac_cmd_copy(cmd, sealed, strlen(sealed));

    return ac_cmd_status(cmd);
}


int
ac_cmd_log_key_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *account)
{
    int   rc;

    if (account == NULL
        || ac_log_account_check(account, strlen(account)) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_cmd_key(cmd, "HGET", cfg, AC_K_ACCOUNT, account);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "lk");

    return ac_cmd_status(cmd);
}


int
ac_log_pseudonym(const unsigned char key[AC_LOG_KEY_LEN],
    const char *account, char out[AC_LOG_PSEUDO_LEN + 1])
{
    int            rc;
    size_t         i, bit, len;
    unsigned       v;
    unsigned int   maclen;
    unsigned char  buf[sizeof(AC_LOG_PSEUDO_DOMAIN) + AC_ID_LEN];
    unsigned char  mac[AC_MAC_LEN];

    if (key == NULL || account == NULL || out == NULL) {
        return AC_ERR_INVALID;
    }

    len = strlen(account);

    if (ac_log_account_check(account, len) != AC_OK) {
        return AC_ERR_INVALID;
    }

    memcpy(buf, AC_LOG_PSEUDO_DOMAIN, sizeof(AC_LOG_PSEUDO_DOMAIN) - 1);
    memcpy(buf + sizeof(AC_LOG_PSEUDO_DOMAIN) - 1, account, len);

    maclen = AC_MAC_LEN;
    rc = AC_OK;

    if (HMAC(EVP_sha256(), key, AC_LOG_KEY_LEN, buf,
             sizeof(AC_LOG_PSEUDO_DOMAIN) - 1 + len, mac, &maclen)
        == NULL
        || maclen != AC_MAC_LEN)
    {
        rc = AC_ERR_CRYPTO;
        goto done;
    }

    /* 16 characters of 5 bits: the first 10 bytes */
    for (i = 0; i < AC_LOG_PSEUDO_LEN; i++) {
        bit = i * 5;
        v = ((unsigned) mac[bit / 8] << 8) | mac[bit / 8 + 1];
        out[i] = ac_log_pseudo_alphabet[(v >> (11 - bit % 8)) & 31];
    }

    out[AC_LOG_PSEUDO_LEN] = '\0';

done:

    ac_cleanse(mac, sizeof(mac));

    return rc;
}


int
ac_log_pseudonym_check(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL || len != AC_LOG_PSEUDO_LEN) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
        {
            return AC_ERR_INVALID;
        }
    }

    return AC_OK;
}


int
ac_cmd_log_resolve(ac_cmd_t *cmd, const ac_config_t *cfg, const char *a)
{
    int     rc, legacy;
    size_t  len;

    if (cmd == NULL || a == NULL) {
        return AC_ERR_INVALID;
    }

    len = strlen(a);
    legacy = ac_log_account_check(a, len) == AC_OK;

    if (!legacy && ac_log_pseudonym_check(a, len) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_log_resolve_lua, sizeof(ac_log_resolve_lua) - 1,
                "1");
    rc = ac_cmd_key_arg(cmd, cfg, "log:pseudo", NULL, NULL);
    ac_cmd_copy(cmd, a, len);
    rc |= ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL);
    ac_cmd_str(cmd, legacy ? "1" : "0");

    if (rc != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_log_resolve_reply(const ac_keys_t *keys, const char *a,
    const struct redisReply *r, char id[AC_ID_LEN + 1],
    unsigned char key[AC_LOG_KEY_LEN])
{
    int                rc;
    char               pseudo[AC_LOG_PSEUDO_LEN + 1];
    const redisReply  *i, *k;

    if (keys == NULL || a == NULL || r == NULL || id == NULL
        || key == NULL)
    {
        return AC_ERR_INVALID;
    }

    if (r->type == REDIS_REPLY_NIL) {
        return AC_ERR_NOT_FOUND;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        return AC_ERR_REDIS;
    }

    i = r->element[0];
    k = r->element[1];

    if (i == NULL || k == NULL || i->type != REDIS_REPLY_STRING
        || k->type != REDIS_REPLY_STRING)
    {
        return AC_ERR_REDIS;
    }

    if (ac_log_account_check(i->str, i->len) != AC_OK
        || memchr(i->str, '\0', i->len) != NULL)
    {
        return AC_ERR_NOT_FOUND;
    }

    memcpy(id, i->str, i->len);
    id[i->len] = '\0';

    rc = ac_log_key_unseal(keys, id, k->str, k->len, key);

    if (rc == AC_OK && strcmp(a, id) != 0) {
        /* the index is in Redis: believe it only if the key agrees */
        rc = ac_log_pseudonym(key, id, pseudo);

        if (rc == AC_OK && strcmp(a, pseudo) != 0) {
            rc = AC_ERR_NOT_FOUND;
        }
    }

    if (rc != AC_OK) {
        ac_cleanse(key, AC_LOG_KEY_LEN);
        id[0] = '\0';
        return AC_ERR_NOT_FOUND;
    }

    return AC_OK;
}


int
ac_account_erase_pseudonym(const ac_keys_t *keys, const char *id,
    const struct redisReply *r, char out[AC_LOG_PSEUDO_LEN + 1])
{
    int                rc;
    unsigned char      key[AC_LOG_KEY_LEN];
    const redisReply  *lk;

    if (keys == NULL || id == NULL || r == NULL || out == NULL) {
        return AC_ERR_INVALID;
    }

    /* {1, sessions, sealed log key or nil} */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        return AC_ERR_NOT_FOUND;
    }

    lk = r->element[2];

    if (lk == NULL || lk->type != REDIS_REPLY_STRING) {
        return AC_ERR_NOT_FOUND;
    }

    rc = ac_log_key_unseal(keys, id, lk->str, lk->len, key);
    if (rc == AC_OK) {
        rc = ac_log_pseudonym(key, id, out);
    }

    ac_cleanse(key, sizeof(key));

    return rc;
}


static int
ac_log_lk_aad(const char *account, char *out, size_t size)
{
    size_t  len;

    if (account == NULL) {
        return AC_ERR_INVALID;
    }

    len = strlen(account);

    if (ac_log_account_check(account, len) != AC_OK || len + 4 > size) {
        return AC_ERR_INVALID;
    }

    memcpy(out, "lk:", 3);
    memcpy(out + 3, account, len + 1);

    return AC_OK;
}
