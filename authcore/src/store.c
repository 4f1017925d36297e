/*
 * The Redis key schema: ac_cmd_t, the key builders, and the helpers every
 * reply parser uses. docs/ARCHITECTURE.md describes the schema; the
 * commands of each concept are in store_account.c, store_partner.c,
 * session.c, account.c (privacy), link.c, invitation.c, log.c.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


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

int
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

/* Starts cmd as "VERB KEY", the key of that kind. */

int
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
ac_cmd_eval_key(ac_cmd_t *cmd, const char *script, size_t len,
    const char *nkeys, const ac_config_t *cfg, ac_key_kind_t kind,
    const char *arg)
{
    int    rc;
    char   key[AC_KEY_MAX];

    /* the key first: cmd is left as it was when it cannot be built */
    rc = ac_key(cfg, kind, arg, key);
    if (rc == AC_OK) {
        ac_cmd_eval(cmd, script, len, nkeys);
        ac_cmd_copy(cmd, key, strlen(key));
    }

    return rc;
}


int
ac_cmd_key_add(ac_cmd_t *cmd, const ac_config_t *cfg, ac_key_kind_t kind,
    const char *arg)
{
    int    rc;
    char   key[AC_KEY_MAX];

    rc = ac_key(cfg, kind, arg, key);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, key, strlen(key));

    return AC_OK;
}


/* ------------------------------------------------------ reply parsing */

int
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


int
ac_reply_copy(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size || memchr(s, '\0', len) != NULL) {
        return AC_ERR_REDIS;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return AC_OK;
}


int
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
