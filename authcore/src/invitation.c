/*
 * authcore: partner invitations, their registration tokens, the
 * registrations a partner may read back, and partner key rotation.
 * The key layout is in authcore.h ("invitations") and
 * docs/ARCHITECTURE.md.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "authcore.h"
#include "internal.h"


#define AC_REGTOK_CONTEXT  "guichet registration token"


static int ac_regtok_key(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len);
static int ac_inv_value_open(const ac_keys_t *keys, const char *partner,
    const char *value, size_t len, char email[AC_EMAIL_MAX + 1],
    int64_t *since);
static int ac_inv_int64(const redisReply *r, int64_t *v);
static int ac_reg_collect(const ac_registration_t *reg, void *data);
static int ac_reg_cmp(const void *a, const void *b);
static void ac_reg_time(ac_buf_t *b, int64_t t);


/*
 * KEYS: inv:PARTNER, invby:EDIGEST, regtok:TDIGEST;
 * ARGV: partner, EDIGEST, "SINCE SEALED", ttl, now, "P email:", "P acct:".
 * An invitation whose link expired unused is renewed (new SINCE, new
 * link) unless its email got linked to the partner meanwhile.
 */
static const char  ac_lua_invite_create[] =
    "local old = redis.call('HGET', KEYS[1], ARGV[2])\n"
    "if old then\n"
    "  local since = tonumber(string.match(old, '^(%d+) '))\n"
    "  if since == nil or since + tonumber(ARGV[4]) > tonumber(ARGV[5])"
    " then return 0 end\n"
    "  local id = redis.call('GET', ARGV[6] .. ARGV[2])\n"
    "  if id and redis.call('HEXISTS', ARGV[7] .. id .. ':partners',"
    " ARGV[1]) == 1 then return 0 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[3], 'p', ARGV[1], 'v', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[4])\n"
    "return 1\n";


/* KEYS: regtok:TDIGEST */
static const char  ac_lua_regtok_consume[] =
    "local v = redis.call('HMGET', KEYS[1], 'p', 'v')\n"
    "redis.call('DEL', KEYS[1])\n"
    "return v\n";


/* KEYS: inv:PARTNER; ARGV: partner, "P email:", "P acct:" */
static const char  ac_lua_registrations[] =
    "local out = {}\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #h, 2 do\n"
    "  local id = redis.call('GET', ARGV[2] .. h[i])\n"
    "  local t = false\n"
    "  if id then\n"
    "    t = redis.call('HGET', ARGV[3] .. id .. ':partners', ARGV[1])\n"
    "  end\n"
    "  out[#out + 1] = h[i]\n"
    "  out[#out + 1] = h[i + 1]\n"
    "  out[#out + 1] = t\n"
    "end\n"
    "return out\n";


/* KEYS: partner:ID; ARGV: alg, key */
static const char  ac_lua_partner_rotate[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'alg', ARGV[1], 'key', ARGV[2])\n"
    "return 1\n";


int
ac_regtok_derive(const ac_keys_t *keys, const char *partner,
    const char *email, int64_t since, char token[AC_TOKEN_LEN + 1])
{
    int            rc, n;
    unsigned char  mac[AC_MAC_LEN];
    char           input[sizeof(AC_REGTOK_CONTEXT) + AC_PARTNER_ID_MAX
                         + AC_EMAIL_MAX + 32];

    if (keys == NULL || partner == NULL || email == NULL || since <= 0
        || ac_partner_id_check(partner) != AC_OK
        || strlen(email) > AC_EMAIL_MAX)
    {
        return AC_ERR_INVALID;
    }

    /* partner ids and emails hold no NUL: the fields cannot run into
     * each other */
    n = snprintf(input, sizeof(input), "%s%c%s%c%s%c%" PRId64,
                 AC_REGTOK_CONTEXT, 0, partner, 0, email, 0, since);
    if (n < 0 || (size_t) n >= sizeof(input)) {
        return AC_ERR_TOO_LONG;
    }

    rc = ac_mac(keys, AC_PURPOSE_TOKEN, input, (size_t) n, mac);
    if (rc == AC_OK) {
        ac_b64url_encode(mac, AC_MAC_LEN, token);
    }

    ac_cleanse(mac, sizeof(mac));

    return rc;
}


static int
ac_regtok_key(ac_cmd_t *cmd, const ac_config_t *cfg, const ac_keys_t *keys,
    const char *token, size_t len)
{
    int     rc;
    size_t  i;
    char    digest[AC_DIGEST_LEN + 1];

    if (token == NULL || len != AC_TOKEN_LEN) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        if (!((token[i] >= 'a' && token[i] <= 'z')
              || (token[i] >= 'A' && token[i] <= 'Z')
              || (token[i] >= '0' && token[i] <= '9')
              || token[i] == '-' || token[i] == '_'))
        {
            return AC_ERR_INVALID;
        }
    }

    rc = ac_digest(keys, AC_PURPOSE_TOKEN, token, len, digest);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_key_arg(cmd, cfg, "regtok:", digest, NULL);
}


int
ac_cmd_invitation_create(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner, const char *email,
    int64_t now, char scratch[AC_INVITE_MAX])
{
    int   rc;
    char  norm[AC_EMAIL_MAX + 1], digest[AC_DIGEST_LEN + 1];
    char  token[AC_TOKEN_LEN + 1];

    if (ac_partner_id_check(partner) != AC_OK || now <= 0
        || scratch == NULL || email == NULL)
    {
        return AC_ERR_INVALID;
    }

    if (ac_email_normalize(email, strlen(email), norm) != AC_OK
        || strcmp(norm, email) != 0)
    {
        return AC_ERR_BAD_EMAIL;
    }

    rc = ac_digest(keys, AC_PURPOSE_EMAIL, email, strlen(email), digest);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_inv_value_seal(keys, partner, email, now, scratch);
    if (rc != AC_OK) {
        return rc;
    }

    rc = ac_regtok_derive(keys, partner, email, now, token);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_invite_create,
                sizeof(ac_lua_invite_create) - 1, "3");

    if (ac_cmd_key_arg(cmd, cfg, "inv:", partner, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "invby:", digest, NULL) != AC_OK)
    {
        ac_cleanse(token, sizeof(token));
        return AC_ERR_TOO_LONG;
    }

    rc = ac_regtok_key(cmd, cfg, keys, token, AC_TOKEN_LEN);
    ac_cleanse(token, sizeof(token));

    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));
    ac_cmd_copy(cmd, digest, AC_DIGEST_LEN);
    ac_cmd_str(cmd, scratch);
    ac_cmd_int(cmd, AC_REGTOK_TTL);
    ac_cmd_int(cmd, now);

    if (ac_cmd_key_arg(cmd, cfg, "email:", NULL, NULL) != AC_OK
        || ac_cmd_key_arg(cmd, cfg, "acct:", NULL, NULL) != AC_OK)
    {
        return AC_ERR_TOO_LONG;
    }

    return ac_cmd_status(cmd);
}


int
ac_invitation_body_parse(const char *body, size_t len,
    char emails[][AC_EMAIL_MAX + 1], size_t max, size_t *n, long *bad)
{
    int           rc;
    size_t        i, j, count;
    json_t       *root, *arr, *v;
    const char   *key;
    json_error_t  jerr;

    *n = 0;
    *bad = -1;

    if (body == NULL || emails == NULL || max == 0) {
        return AC_ERR_INVALID;
    }

    if (len > AC_INVITE_BODY_MAX) {
        return AC_ERR_TOO_LONG;
    }

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return AC_ERR_INVALID;
    }

    rc = AC_ERR_INVALID;

    if (!json_is_object(root) || json_object_size(root) != 1) {
        goto failed;
    }

    arr = json_object_get(root, "emails");
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        goto failed;
    }

    count = json_array_size(arr);
    if (count > max || count > AC_INVITE_EMAILS_MAX) {
        rc = AC_ERR_TOO_LONG;
        goto failed;
    }

    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            *bad = (long) i;
            rc = AC_ERR_BAD_EMAIL;
            goto failed;
        }

        key = json_string_value(v);

        if (ac_email_normalize(key, json_string_length(v), emails[*n])
            != AC_OK)
        {
            *bad = (long) i;
            rc = AC_ERR_BAD_EMAIL;
            goto failed;
        }

        for (j = 0; j < *n; j++) {
            if (strcmp(emails[j], emails[*n]) == 0) {
                break;
            }
        }

        if (j == *n) {
            (*n)++;
        }
    }

    json_decref(root);

    return AC_OK;

failed:

    json_decref(root);
    *n = 0;

    return rc;
}


int
ac_cmd_regtok_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    int  rc;

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "HMGET");

    rc = ac_regtok_key(cmd, cfg, keys, token, len);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, "p");
    ac_cmd_str(cmd, "v");

    return ac_cmd_status(cmd);
}


int
ac_cmd_regtok_consume(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    int  rc;

    ac_cmd_eval(cmd, ac_lua_regtok_consume,
                sizeof(ac_lua_regtok_consume) - 1, "1");

    rc = ac_regtok_key(cmd, cfg, keys, token, len);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


int
ac_cmd_regtok_ttl(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *token, size_t len)
{
    int  rc;

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "TTL");

    rc = ac_regtok_key(cmd, cfg, keys, token, len);
    if (rc != AC_OK) {
        return rc;
    }

    return ac_cmd_status(cmd);
}


/* The partner reads its invitations back by email: the email is kept
 * sealed, and bound to this partner's hash. */
int
ac_inv_value_seal(const ac_keys_t *keys, const char *partner,
    const char *email, int64_t now, char out[AC_INVITE_MAX])
{
    int     n;
    size_t  len;
    char    aad[AC_PARTNER_ID_MAX + 8];

    n = snprintf(out, AC_INVITE_MAX, "%" PRId64 " ", now);
    if (n < 0 || n >= 24) {
        return AC_ERR_INVALID;
    }

    snprintf(aad, sizeof(aad), "inv:%s", partner);
    len = (size_t) n;

    return ac_seal(keys, email, strlen(email), aad, out + len,
                   AC_INVITE_MAX - len);
}


/* "SINCE SEALED" of "P inv:PARTNER" to the email and time. */
static int
ac_inv_value_open(const ac_keys_t *keys, const char *partner,
    const char *value, size_t len, char email[AC_EMAIL_MAX + 1],
    int64_t *since)
{
    int          rc;
    size_t       i, outlen;
    int64_t      t;
    const char  *sp;
    char         aad[AC_PARTNER_ID_MAX + 8];
    char         sealed[AC_SEALED_LEN(AC_EMAIL_MAX) + 1];
    char         norm[AC_EMAIL_MAX + 1];

    sp = memchr(value, ' ', len);
    if (sp == NULL || sp == value || sp - value > 19) {
        return AC_ERR_REDIS;
    }

    t = 0;

    for (i = 0; value + i < sp; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return AC_ERR_REDIS;
        }
        t = t * 10 + (value[i] - '0');
    }

    len -= (size_t) (sp + 1 - value);
    if (len == 0 || len >= sizeof(sealed)) {
        return AC_ERR_REDIS;
    }

    memcpy(sealed, sp + 1, len);
    sealed[len] = '\0';

    snprintf(aad, sizeof(aad), "inv:%s", partner);

    rc = ac_unseal(keys, sealed, aad, (unsigned char *) email, AC_EMAIL_MAX,
                   &outlen);
    if (rc != AC_OK) {
        return AC_ERR_MISMATCH;
    }

    email[outlen] = '\0';

    /* written normalised: anything else was not written by us */
    if (ac_email_normalize(email, outlen, norm) != AC_OK
        || strcmp(norm, email) != 0)
    {
        return AC_ERR_MISMATCH;
    }

    *since = t;

    return AC_OK;
}


int
ac_regtok_parse(const struct redisReply *r, const ac_keys_t *keys,
    ac_regtok_t *t)
{
    const redisReply  *p, *v;

    memset(t, 0, sizeof(ac_regtok_t));

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        return AC_ERR_REDIS;
    }

    p = r->element[0];
    v = r->element[1];

    if (p->type == REDIS_REPLY_NIL || v->type == REDIS_REPLY_NIL) {
        return AC_ERR_NOT_FOUND;
    }

    if (p->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING
        || p->len > AC_PARTNER_ID_MAX)
    {
        return AC_ERR_REDIS;
    }

    memcpy(t->partner, p->str, p->len);
    t->partner[p->len] = '\0';

    if (ac_partner_id_check(t->partner) != AC_OK) {
        return AC_ERR_REDIS;
    }

    return ac_inv_value_open(keys, t->partner, v->str, v->len, t->email,
                             &t->since);
}


int
ac_cmd_registrations(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const char *partner)
{
    char  key[AC_KEY_MAX];

    if (ac_partner_id_check(partner) != AC_OK) {
        return AC_ERR_INVALID;
    }

    ac_cmd_eval(cmd, ac_lua_registrations,
                sizeof(ac_lua_registrations) - 1, "1");

    if (ac_cmd_key_arg(cmd, cfg, "inv:", partner, NULL) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }

    ac_cmd_copy(cmd, partner, strlen(partner));

    if (ac_key_build(cfg, "email:", NULL, NULL, key) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    if (ac_key_build(cfg, "acct:", NULL, NULL, key) != AC_OK) {
        return AC_ERR_TOO_LONG;
    }
    ac_cmd_copy(cmd, key, strlen(key));

    return ac_cmd_status(cmd);
}


static int
ac_inv_int64(const redisReply *r, int64_t *v)
{
    char  *end, buf[24];

    if (r->type == REDIS_REPLY_INTEGER) {
        *v = r->integer;
        return AC_OK;
    }

    if (r->type != REDIS_REPLY_STRING || r->len == 0
        || r->len >= sizeof(buf))
    {
        return AC_ERR_REDIS;
    }

    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';

    *v = strtoll(buf, &end, 10);

    return (*end == '\0' && *v >= 0) ? AC_OK : AC_ERR_REDIS;
}


int
ac_registrations_parse(const struct redisReply *r,
    const ac_keys_t *keys, const char *partner,
    int (*fn)(const ac_registration_t *reg, void *data), void *data)
{
    int                 rc;
    size_t              i;
    ac_registration_t   reg;
    const redisReply   *v, *t;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0
        || ac_partner_id_check(partner) != AC_OK)
    {
        return AC_ERR_REDIS;
    }

    rc = AC_OK;

    for (i = 0; i < r->elements; i += 3) {
        v = r->element[i + 1];
        t = r->element[i + 2];

        if (v->type != REDIS_REPLY_STRING) {
            rc = AC_ERR_REDIS;
            break;
        }

        memset(&reg, 0, sizeof(reg));

        rc = ac_inv_value_open(keys, partner, v->str, v->len, reg.email,
                               &reg.invited);
        if (rc != AC_OK) {
            break;
        }

        reg.since = reg.invited;

        if (t->type != REDIS_REPLY_NIL) {
            rc = ac_inv_int64(t, &reg.since);
            if (rc != AC_OK) {
                break;
            }

            reg.registered = 1;

            /* linked before being invited: registered from then on */
            if (reg.since < reg.invited) {
                reg.since = reg.invited;
            }
        }

        rc = fn(&reg, data);
        if (rc != AC_OK) {
            break;
        }
    }

    ac_cleanse(&reg, sizeof(reg));

    return rc;
}


static int
ac_reg_collect(const ac_registration_t *reg, void *data)
{
    size_t              cap;
    ac_registration_list_t  *l;
    ac_registration_t  *regs;

    l = data;

    if (l->n == l->cap) {
        cap = l->cap ? 2 * l->cap : 16;
        regs = realloc(l->regs, cap * sizeof(ac_registration_t));
        if (regs == NULL) {
            return AC_ERR_NOMEM;
        }
        l->regs = regs;
        l->cap = cap;
    }

    l->regs[l->n++] = *reg;

    return AC_OK;
}


static int
ac_reg_cmp(const void *a, const void *b)
{
    const ac_registration_t  *x = a, *y = b;

    if (x->invited != y->invited) {
        return x->invited < y->invited ? -1 : 1;
    }

    return strcmp(x->email, y->email);
}


static void
ac_reg_time(ac_buf_t *b, int64_t t)
{
    time_t     tt;
    struct tm  tm;
    char       s[32];

    tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        ac_buf_str(b, "null");
        return;
    }

    ac_buf_printf(b, "\"%s\"", s);
}


int
ac_registrations_list(const struct redisReply *r, const ac_keys_t *keys,
    const char *partner, ac_registration_list_t *l)
{
    int  rc;

    memset(l, 0, sizeof(ac_registration_list_t));

    rc = ac_registrations_parse(r, keys, partner, ac_reg_collect, l);

    if (rc == AC_OK && l->n > 1) {
        qsort(l->regs, l->n, sizeof(ac_registration_t), ac_reg_cmp);
    }

    return rc;
}


void
ac_registrations_free(ac_registration_list_t *l)
{
    if (l->regs != NULL) {
        ac_cleanse(l->regs, l->cap * sizeof(ac_registration_t));
        free(l->regs);
    }

    memset(l, 0, sizeof(ac_registration_list_t));
}


int
ac_registrations_json(const struct redisReply *r, const ac_keys_t *keys,
    const char *partner, ac_buf_t *out)
{
    int                     rc;
    size_t                  i;
    ac_registration_list_t  l;

    rc = ac_registrations_list(r, keys, partner, &l);
    if (rc != AC_OK) {
        goto done;
    }

    ac_buf_str(out, "{\"registrations\":[");

    for (i = 0; i < l.n; i++) {
        ac_buf_str(out, i ? ",{\"email\":" : "{\"email\":");
        ac_buf_json_str(out, l.regs[i].email, strlen(l.regs[i].email));
        ac_buf_str(out, l.regs[i].registered
                        ? ",\"status\":\"registered\",\"since\":"
                        : ",\"status\":\"invited\",\"since\":");
        ac_reg_time(out, l.regs[i].since);
        ac_buf_str(out, "}");
    }

    ac_buf_str(out, "]}");

    rc = ac_buf_status(out);

done:

    ac_registrations_free(&l);

    return rc;
}


int
ac_cmd_partner_rotate(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_partner_t *p, char *scratch,
    size_t scratchsize)
{
    int    rc;
    char   aad[AC_PARTNER_ID_MAX + 16];

    if (p == NULL || ac_partner_id_check(p->id) != AC_OK) {
        return AC_ERR_INVALID;
    }

    if (p->keylen > AC_PARTNER_KEY_MAX) {
        return AC_ERR_TOO_LONG;
    }

    rc = ac_partner_key_check(p->alg, p->key, p->keylen, NULL);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_lua_partner_rotate,
                sizeof(ac_lua_partner_rotate) - 1, "1");

    rc = ac_cmd_key_add(cmd, cfg, AC_K_PARTNER, p->id);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, ac_alg_name(p->alg));

    if (p->alg != AC_ALG_HS256) {
        ac_cmd_arg(cmd, p->key, p->keylen);
        return ac_cmd_status(cmd);
    }

    if (keys == NULL || scratch == NULL
        || scratchsize < AC_SEALED_LEN(p->keylen) + 1)
    {
        return AC_ERR_TOO_LONG;
    }

    /* bound to the partner as ac_cmd_partner_add seals it */
    snprintf(aad, sizeof(aad), "partner:%s", p->id);

    rc = ac_seal(keys, p->key, p->keylen, aad, scratch, scratchsize);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_str(cmd, scratch);

    return ac_cmd_status(cmd);
}
