/*
 * Partners in Redis: the commands that add, read and list partners, and
 * the parser of the partner hash (an HS256 secret is stored sealed).
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


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
    char   aad[AC_PARTNER_ID_MAX + 16];

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

    rc = ac_cmd_key_add(cmd, cfg, AC_K_PARTNER, p->id);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_cmd_key_add(cmd, cfg, AC_K_PARTNERS, NULL);
    if (rc != AC_OK) {
        return rc;
    }

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
