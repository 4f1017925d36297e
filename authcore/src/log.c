/*
 * Connection log: events, the keyed hash chain, the atomic append that
 * concurrent writers cannot fork, verification and retention.
 * docs/LOG.md describes the format.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


#define AC_LOG_NONCE_LEN   AC_GCM_NONCE_LEN
#define AC_LOG_TAG_LEN     AC_GCM_TAG_LEN
#define AC_LOG_SEQ_MAX     20          /* digits of a uint64_t */
#define AC_LOG_HEAD_MAX    (AC_LOG_SEQ_MAX + 1 + AC_LOG_HASH_LEN)
#define AC_LOG_PLAIN_MAX   (3 * 2 + AC_EMAIL_MAX + AC_IP_MAX - 1         \
                            + AC_LOG_UA_MAX)
#define AC_LOG_BLOB_MAX                                                      \
    AC_B64URL_LEN(AC_LOG_NONCE_LEN + AC_LOG_PLAIN_MAX + AC_LOG_TAG_LEN)
#define AC_LOG_DOMAIN      "guichet-log-1"
#define AC_LOG_AAD         "guichet-log:"

/*
 * The fields covered by the chain, in canonical order; "h" is the
 * chain hash itself. Indexes into ac_log_names.
 */
enum {
    AC_F_SEQ = 0, AC_F_TIME, AC_F_EVENT, AC_F_RESULT, AC_F_REASON,
    AC_F_ACCOUNT, AC_F_PARTNER, AC_F_SESSION, AC_F_EMAIL, AC_F_IP, AC_F_UA,
    AC_F_SEALED, AC_F_CHAINED, AC_F_HASH = AC_F_CHAINED, AC_F_ALL
};

static const char  ac_log_names[] = "stvrcapdeiuxh";

typedef struct {
    const char  *v[AC_F_ALL];
    size_t       len[AC_F_ALL];
} ac_log_fields_t;


/*
 * KEYS: log, head [, account, pseudonym index]; ARGV: expected head, new
 * head [, pseudonym, id], field, value, ... A missing head is the
 * genesis, unless entries exist: then the head was lost and appending
 * would start a second chain. With an account (still there), its
 * pseudonym is indexed both ways (field "lp", "P log:pseudo").
 */
static const char  ac_log_append_lua[] =
    "local cur = redis.call('GET', KEYS[2])\n"
    "if not cur then\n"
    "  if redis.call('XLEN', KEYS[1]) > 0 then\n"
    "    return redis.error_reply('ERR guichet log head missing')\n"
    "  end\n"
    "  cur = '0 ' .. string.rep('A', 43)\n"
    "end\n"
    "if cur ~= ARGV[1] then return {0, cur} end\n"
    "local f = 3\n"
    "if #KEYS == 4 then\n"
    "  f = 5\n"
    "  if redis.call('EXISTS', KEYS[3]) == 1\n"
    "     and redis.call('HGET', KEYS[3], 'lp') ~= ARGV[3] then\n"
    "    redis.call('HSET', KEYS[3], 'lp', ARGV[3])\n"
    "    redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])\n"
    "  end\n"
    "end\n"
    "redis.call('XADD', KEYS[1], '*', unpack(ARGV, f))\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "return {1, ARGV[2]}\n";

/* KEYS: log, checkpoint; ARGV: before (ms) */
static const char  ac_log_trim_lua[] =
    "local last = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[1] .. '-0',"
    " '-', 'COUNT', 1)\n"
    "if #last == 0 then return 0 end\n"
    "local f = last[1][2]\n"
    "local s, h\n"
    "for i = 1, #f, 2 do\n"
    "  if f[i] == 's' then s = f[i + 1] elseif f[i] == 'h' then"
    " h = f[i + 1] end\n"
    "end\n"
    "if not s or not h then\n"
    "  return redis.error_reply('ERR guichet log entry without s or h')\n"
    "end\n"
    "redis.call('SET', KEYS[2], s .. ' ' .. h)\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])\n";

static const struct {
    const char  *name;
    int          failure;
} ac_events[AC_EV_COUNT] = {
    { "login.success", 0 },
    { "login.failure", 1 },
    { "2fa.success", 0 },
    { "2fa.failure", 1 },
    { "sso.success", 0 },
    { "sso.failure", 1 },
    { "logout", 0 },
    { "session.revoked", 0 },
    { "throttled", 1 },
    { "account.created", 0 },
    { "account.erased", 0 },
    { "password.changed", 0 },
    { "totp.enrolled", 0 },
    { "partner.invitation", 0 },
    { "export", 0 },
    { "account.locked", 0 },
    { "account.unlocked", 0 },
    { "role.changed", 0 },
    { "partner.added", 0 },
    { "partner.removed", 0 },
    { "totp.disabled", 0 },
    { "recovery.generated", 0 },
    { "email.changed", 0 },
    { "account.restricted", 0 },
    { "account.unrestricted", 0 },
    { "partner.rotated", 0 },
    { "partner.linked", 0 },
    { "partner.unlinked", 0 },
    { "password.reset.requested", 0 },
    { "password.reset", 0 },
    { "email.change.requested", 0 },
    { "mail.sent", 0 },
    { "mail.failed", 1 },
    { "passkey.registered", 0 },
    { "passkey.removed", 0 },
    { "passkey.success", 0 },
    { "passkey.failure", 1 },
};


static int ac_log_partner_check(const char *s, size_t len);
static int ac_log_b64url_check(const char *s, size_t len);
static size_t ac_log_clean(char *dst, size_t max, const char *s,
    size_t len);
static size_t ac_log_u64(uint64_t v, char *out);
static int ac_log_seq_parse(const char *s, size_t len, uint64_t *v);
static int ac_log_chain(const ac_keys_t *keys,
    const unsigned char prev[AC_MAC_LEN], const ac_log_fields_t *f,
    char out[AC_LOG_HASH_LEN + 1]);
static int ac_log_aad_check(const char *account, size_t len);
static int ac_log_seal(const unsigned char *key, const char *account,
    size_t alen, const unsigned char *plain, size_t len, char *out,
    size_t *outlen);
static int ac_log_open(const unsigned char *key, const char *account,
    size_t alen, const char *blob, size_t bloblen, unsigned char *plain,
    size_t *len);
static int ac_log_keys(const ac_config_t *cfg, char log[AC_KEY_MAX],
    char aux[AC_KEY_MAX], const char *suffix);
static int ac_log_get(ac_cmd_t *cmd, const ac_config_t *cfg,
    const char *suffix);
static int ac_log_head_str(const char *s, size_t len, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN]);
static int ac_log_collect(const redisReply *entry, const redisReply **id,
    ac_log_fields_t *f);


const char *
ac_event_name(ac_event_kind_t kind)
{
    if ((int) kind < 0 || kind >= AC_EV_COUNT) {
        return NULL;
    }

    return ac_events[kind].name;
}


int
ac_event_parse(const char *name, size_t len, ac_event_kind_t *kind)
{
    int  i;

    if (name == NULL || kind == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < AC_EV_COUNT; i++) {
        if (strlen(ac_events[i].name) == len
            && memcmp(ac_events[i].name, name, len) == 0)
        {
            *kind = (ac_event_kind_t) i;
            return AC_OK;
        }
    }

    return AC_ERR_INVALID;
}


int
ac_cmd_log_append(ac_cmd_t *cmd, const ac_config_t *cfg,
    const ac_keys_t *keys, const ac_event_t *ev, uint64_t prev_seq,
    const unsigned char prev_hash[AC_MAC_LEN], int64_t now_ms,
    unsigned char new_hash[AC_MAC_LEN])
{
    int              rc, i, fail, indexed;
    char             logkey[AC_KEY_MAX], headkey[AC_KEY_MAX];
    char             seq[AC_LOG_SEQ_MAX + 1], tms[AC_LOG_SEQ_MAX + 1];
    char             reason[AC_LOG_REASON_MAX + 1];
    char             email[AC_EMAIL_MAX + 1], ip[AC_IP_MAX];
    char             ua[AC_LOG_UA_MAX + 1];
    char             blob[AC_LOG_BLOB_MAX + 1];
    char             hash[AC_LOG_HASH_LEN + 1];
    char             head[AC_LOG_HEAD_MAX + 1];
    char             id[AC_ID_LEN + 1], acct[AC_LOG_PSEUDO_LEN + 1];
    unsigned char    plain[AC_LOG_PLAIN_MAX], *p;
    size_t           n, elen, ilen, ulen, plen;
    ac_log_fields_t  f;

    if (cmd == NULL || keys == NULL || ev == NULL || prev_hash == NULL
        || ac_event_name(ev->kind) == NULL || now_ms < 0
        || prev_seq >= UINT64_MAX - 1)
    {
        return AC_ERR_INVALID;
    }

    if ((ev->account_len > 0
         && ac_log_account_check(ev->account, ev->account_len) != AC_OK
         && ac_log_pseudonym_check(ev->account, ev->account_len) != AC_OK)
        || (ev->partner_len > 0
            && ac_log_partner_check(ev->partner, ev->partner_len) != AC_OK)
        || (ev->session_len > 0
            && (ev->session_len < AC_LOG_SESSION_LEN
                || ac_log_b64url_check(ev->session, AC_LOG_SESSION_LEN)
                   != AC_OK)))
    {
        return AC_ERR_INVALID;
    }

    rc = ac_log_keys(cfg, logkey, headkey, ":head");
    if (rc != AC_OK) {
        return rc;
    }

    memset(&f, 0, sizeof(ac_log_fields_t));

    f.len[AC_F_SEQ] = ac_log_u64(prev_seq + 1, seq);
    f.v[AC_F_SEQ] = seq;
    f.len[AC_F_TIME] = ac_log_u64((uint64_t) now_ms, tms);
    f.v[AC_F_TIME] = tms;
    f.v[AC_F_EVENT] = ac_events[ev->kind].name;
    f.len[AC_F_EVENT] = strlen(f.v[AC_F_EVENT]);

    fail = ac_events[ev->kind].failure || ev->failed;
    f.v[AC_F_RESULT] = fail ? "fail" : "ok";
    f.len[AC_F_RESULT] = fail ? 4 : 2;

    f.len[AC_F_REASON] = ac_log_clean(reason, AC_LOG_REASON_MAX, ev->reason,
                                      ev->reason_len);
    f.v[AC_F_REASON] = reason;
    /* an account is named by its pseudonym, never by its id */
    indexed = 0;

    if (ev->account_len == 0) {
        acct[0] = '\0';

    } else if (ev->account_len == AC_LOG_PSEUDO_LEN
               && ac_log_pseudonym_check(ev->account, ev->account_len)
                  == AC_OK)
    {
        memcpy(acct, ev->account, AC_LOG_PSEUDO_LEN);
        acct[AC_LOG_PSEUDO_LEN] = '\0';

    } else if (ev->log_key != NULL) {
        memcpy(id, ev->account, ev->account_len);
        id[ev->account_len] = '\0';

        rc = ac_log_pseudonym(ev->log_key, id, acct);
        if (rc != AC_OK) {
            return rc;
        }

        indexed = 1;

    } else {
        /* the account is gone with its key: nothing left to name it */
        acct[0] = '\0';
    }

    f.v[AC_F_ACCOUNT] = acct;
    f.len[AC_F_ACCOUNT] = strlen(acct);
    f.v[AC_F_PARTNER] = ev->partner;
    f.len[AC_F_PARTNER] = ev->partner_len;
    f.v[AC_F_SESSION] = ev->session;
    f.len[AC_F_SESSION] = ev->session_len ? AC_LOG_SESSION_LEN : 0;

    elen = ac_log_clean(email, AC_EMAIL_MAX, ev->email, ev->email_len);
    ilen = ac_log_clean(ip, AC_IP_MAX - 1, ev->ip, ev->ip_len);
    ulen = ac_log_clean(ua, AC_LOG_UA_MAX, ev->ua, ev->ua_len);

    plen = 0;

    if (ev->account_len == 0) {
        /* no account to erase: the security team reads these as typed */
        f.v[AC_F_EMAIL] = email;
        f.len[AC_F_EMAIL] = elen;
        f.v[AC_F_IP] = ip;
        f.len[AC_F_IP] = ilen;
        f.v[AC_F_UA] = ua;
        f.len[AC_F_UA] = ulen;

    } else if (indexed && elen + ilen + ulen > 0) {
        p = plain;
        *p++ = (unsigned char) (elen >> 8);
        *p++ = (unsigned char) elen;
        memcpy(p, email, elen);
        p += elen;
        *p++ = (unsigned char) (ilen >> 8);
        *p++ = (unsigned char) ilen;
        memcpy(p, ip, ilen);
        p += ilen;
        *p++ = (unsigned char) (ulen >> 8);
        *p++ = (unsigned char) ulen;
        memcpy(p, ua, ulen);
        p += ulen;
        plen = (size_t) (p - plain);

        rc = ac_log_seal(ev->log_key, acct, AC_LOG_PSEUDO_LEN, plain, plen,
                         blob, &n);
        if (rc != AC_OK) {
            goto failed;
        }

        f.v[AC_F_SEALED] = blob;
        f.len[AC_F_SEALED] = n;
    }

    rc = ac_log_chain(keys, prev_hash, &f, hash);
    if (rc != AC_OK) {
        goto failed;
    }

    ac_cmd_eval(cmd, ac_log_append_lua, sizeof(ac_log_append_lua) - 1,
                indexed ? "4" : "2");
    ac_cmd_copy(cmd, logkey, strlen(logkey));
    ac_cmd_copy(cmd, headkey, strlen(headkey));

    if (indexed
        && (ac_cmd_key_arg(cmd, cfg, "acct:", id, NULL) != AC_OK
            || ac_cmd_key_arg(cmd, cfg, "log:pseudo", NULL, NULL) != AC_OK))
    {
        rc = AC_ERR_TOO_LONG;
        goto failed;
    }

    n = ac_log_u64(prev_seq, head);
    head[n++] = ' ';
    n += ac_b64url_encode(prev_hash, AC_MAC_LEN, head + n);
    ac_cmd_copy(cmd, head, n);

    n = ac_log_u64(prev_seq + 1, head);
    head[n++] = ' ';
    memcpy(head + n, hash, AC_LOG_HASH_LEN);
    ac_cmd_copy(cmd, head, n + AC_LOG_HASH_LEN);

    if (indexed) {
        ac_cmd_copy(cmd, acct, AC_LOG_PSEUDO_LEN);
        ac_cmd_copy(cmd, id, strlen(id));
    }

    for (i = 0; i < AC_F_CHAINED; i++) {
        if (f.len[i] == 0) {
            continue;
        }

        ac_cmd_arg(cmd, &ac_log_names[i], 1);
        ac_cmd_copy(cmd, f.v[i], f.len[i]);
    }

    ac_cmd_arg(cmd, &ac_log_names[AC_F_HASH], 1);
    ac_cmd_copy(cmd, hash, AC_LOG_HASH_LEN);

    rc = ac_cmd_status(cmd);
    if (rc != AC_OK) {
        goto failed;
    }

    if (new_hash != NULL) {
        rc = ac_b64url_decode(hash, AC_LOG_HASH_LEN, new_hash, AC_MAC_LEN,
                              &n);
        if (rc != AC_OK || n != AC_MAC_LEN) {
            rc = AC_ERR_CRYPTO;
            goto failed;
        }
    }

    rc = AC_OK;

failed:

    ac_cleanse(plain, plen);
    ac_cleanse(email, sizeof(email));
    ac_cleanse(ip, sizeof(ip));
    ac_cleanse(ua, sizeof(ua));

    return rc;
}


int
ac_log_append_reply(const struct redisReply *r, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN])
{
    const redisReply  *st, *head;

    if (r == NULL || seq == NULL || hash == NULL
        || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
    {
        return AC_ERR_REDIS;
    }

    st = r->element[0];
    head = r->element[1];

    if (st == NULL || head == NULL || st->type != REDIS_REPLY_INTEGER
        || (st->integer != 0 && st->integer != 1)
        || head->type != REDIS_REPLY_STRING)
    {
        return AC_ERR_REDIS;
    }

    if (ac_log_head_str(head->str, head->len, seq, hash) != AC_OK) {
        return AC_ERR_REDIS;
    }

    return st->integer == 1 ? AC_OK : AC_LOG_CONFLICT;
}


/* GET of the log's KEY + suffix. */
static int
ac_log_get(ac_cmd_t *cmd, const ac_config_t *cfg, const char *suffix)
{
    int   rc;
    char  logkey[AC_KEY_MAX], key[AC_KEY_MAX];

    rc = ac_log_keys(cfg, logkey, key, suffix);
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_init(cmd);
    ac_cmd_str(cmd, "GET");
    ac_cmd_copy(cmd, key, strlen(key));

    return ac_cmd_status(cmd);
}


int
ac_cmd_log_head(ac_cmd_t *cmd, const ac_config_t *cfg)
{
    return ac_log_get(cmd, cfg, ":head");
}


int
ac_cmd_log_checkpoint(ac_cmd_t *cmd, const ac_config_t *cfg)
{
    return ac_log_get(cmd, cfg, ":checkpoint");
}


int
ac_log_head_parse(const struct redisReply *r, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN])
{
    if (r == NULL || seq == NULL || hash == NULL) {
        return AC_ERR_INVALID;
    }

    if (r->type == REDIS_REPLY_NIL) {
        *seq = 0;
        memset(hash, 0, AC_MAC_LEN);
        return AC_OK;
    }

    if (r->type != REDIS_REPLY_STRING
        || ac_log_head_str(r->str, r->len, seq, hash) != AC_OK)
    {
        return AC_ERR_REDIS;
    }

    return AC_OK;
}


int
ac_cmd_log_trim(ac_cmd_t *cmd, const ac_config_t *cfg, int64_t before_ms)
{
    int   rc;
    char  logkey[AC_KEY_MAX], key[AC_KEY_MAX];

    if (before_ms <= 0) {
        return AC_ERR_INVALID;
    }

    rc = ac_log_keys(cfg, logkey, key, ":checkpoint");
    if (rc != AC_OK) {
        return rc;
    }

    ac_cmd_eval(cmd, ac_log_trim_lua, sizeof(ac_log_trim_lua) - 1, "2");
    ac_cmd_copy(cmd, logkey, strlen(logkey));
    ac_cmd_copy(cmd, key, strlen(key));
    ac_cmd_int(cmd, before_ms);

    return ac_cmd_status(cmd);
}


int
ac_log_verify_entry(const ac_keys_t *keys, uint64_t prev_seq,
    const unsigned char prev_hash[AC_MAC_LEN],
    const struct redisReply *entry, uint64_t *new_seq,
    unsigned char new_hash[AC_MAC_LEN])
{
    int                rc, ok;
    size_t             n;
    uint64_t           seq;
    unsigned char      prev[AC_MAC_LEN];
    char               hash[AC_LOG_HASH_LEN + 1];
    const redisReply  *id;
    ac_log_fields_t    f;

    if (keys == NULL || prev_hash == NULL || entry == NULL
        || new_seq == NULL || new_hash == NULL)
    {
        return AC_ERR_INVALID;
    }

    /* new_hash may be prev_hash: the caller's running head */
    memcpy(prev, prev_hash, AC_MAC_LEN);

    rc = ac_log_collect(entry, &id, &f);
    if (rc == AC_ERR_REDIS) {
        return rc;
    }

    *new_seq = prev_seq + 1;

    ok = (rc == AC_OK);

    if (f.v[AC_F_SEQ] != NULL
        && ac_log_seq_parse(f.v[AC_F_SEQ], f.len[AC_F_SEQ], &seq) == AC_OK)
    {
        *new_seq = seq;
        ok = ok && seq == prev_seq + 1;

    } else {
        ok = 0;
    }

    if (f.v[AC_F_HASH] == NULL || f.len[AC_F_HASH] != AC_LOG_HASH_LEN
        || ac_b64url_decode(f.v[AC_F_HASH], AC_LOG_HASH_LEN, new_hash,
                            AC_MAC_LEN, &n)
           != AC_OK
        || n != AC_MAC_LEN)
    {
        memcpy(new_hash, prev, AC_MAC_LEN);
        return AC_ERR_MISMATCH;
    }

    if (!ok) {
        return AC_ERR_MISMATCH;
    }

    rc = ac_log_chain(keys, prev, &f, hash);
    if (rc != AC_OK) {
        return rc;
    }

    if (CRYPTO_memcmp(hash, f.v[AC_F_HASH], AC_LOG_HASH_LEN) != 0) {
        return AC_ERR_MISMATCH;
    }

    return AC_OK;
}


int
ac_log_entry_parse(const struct redisReply *entry,
    const unsigned char *log_key, ac_log_entry_t *e)
{
    int                rc;
    char              *dst;
    size_t             i, n, l, len, max;
    uint64_t           v;
    const char        *s;
    unsigned char      plain[AC_LOG_PLAIN_MAX];
    const redisReply  *id;
    ac_log_fields_t    f;

    if (entry == NULL || e == NULL) {
        return AC_ERR_INVALID;
    }

    memset(e, 0, sizeof(ac_log_entry_t));

    rc = ac_log_collect(entry, &id, &f);
    if (rc != AC_OK) {
        /* an unknown or repeated field: readable only once verified */
        goto failed;
    }

    if (f.v[AC_F_SEQ] == NULL || f.v[AC_F_EVENT] == NULL
        || ac_log_seq_parse(f.v[AC_F_SEQ], f.len[AC_F_SEQ], &e->seq)
           != AC_OK
        || id->len >= sizeof(e->id))
    {
        goto failed;
    }

    memcpy(e->id, id->str, id->len);

    if (f.v[AC_F_TIME] != NULL) {
        if (ac_log_seq_parse(f.v[AC_F_TIME], f.len[AC_F_TIME], &v) != AC_OK
            || v > INT64_MAX)
        {
            goto failed;
        }

        e->time_ms = (int64_t) v;
    }

    e->failed = !(f.len[AC_F_RESULT] == 2
                  && memcmp(f.v[AC_F_RESULT], "ok", 2) == 0);

    (void) ac_log_clean(e->event, AC_LOG_EVENT_MAX, f.v[AC_F_EVENT],
                        f.len[AC_F_EVENT]);
    (void) ac_log_clean(e->reason, AC_LOG_REASON_MAX, f.v[AC_F_REASON],
                        f.len[AC_F_REASON]);
    (void) ac_log_clean(e->account, AC_ID_LEN, f.v[AC_F_ACCOUNT],
                        f.len[AC_F_ACCOUNT]);
    (void) ac_log_clean(e->partner, AC_PARTNER_ID_MAX, f.v[AC_F_PARTNER],
                        f.len[AC_F_PARTNER]);
    (void) ac_log_clean(e->session, AC_LOG_SESSION_LEN, f.v[AC_F_SESSION],
                        f.len[AC_F_SESSION]);
    (void) ac_log_clean(e->hash, AC_LOG_HASH_LEN, f.v[AC_F_HASH],
                        f.len[AC_F_HASH]);

    if (f.v[AC_F_SEALED] == NULL) {
        (void) ac_log_clean(e->email, AC_EMAIL_MAX, f.v[AC_F_EMAIL],
                            f.len[AC_F_EMAIL]);
        (void) ac_log_clean(e->ip, AC_IP_MAX - 1, f.v[AC_F_IP],
                            f.len[AC_F_IP]);
        (void) ac_log_clean(e->ua, AC_LOG_UA_MAX, f.v[AC_F_UA],
                            f.len[AC_F_UA]);
        return AC_OK;
    }

    e->sealed = 1;
    rc = AC_OK;

    if (log_key == NULL) {
        goto erased;
    }

    if (ac_log_open(log_key, f.v[AC_F_ACCOUNT], f.len[AC_F_ACCOUNT],
                    f.v[AC_F_SEALED], f.len[AC_F_SEALED], plain, &len)
        != AC_OK)
    {
        rc = AC_ERR_MISMATCH;
        goto erased;
    }

    /* three length-prefixed strings: email, IP, user agent */
    s = (const char *) plain;
    i = 0;

    for (n = 0; n < 3; n++) {
        if (len - i < 2) {
            break;
        }

        l = ((size_t) plain[i] << 8) | plain[i + 1];
        i += 2;

        if (l > len - i) {
            break;
        }

        dst = n == 0 ? e->email : n == 1 ? e->ip : e->ua;
        max = n == 0 ? AC_EMAIL_MAX : n == 1 ? AC_IP_MAX - 1
                                             : AC_LOG_UA_MAX;
        (void) ac_log_clean(dst, max, s + i, l);
        i += l;
    }

    if (n != 3 || i != len) {
        rc = AC_ERR_MISMATCH;
        goto erased;
    }

    ac_cleanse(plain, sizeof(plain));

    return AC_OK;

erased:

    ac_cleanse(plain, sizeof(plain));
    ac_cleanse(e->email, sizeof(e->email));
    ac_cleanse(e->ip, sizeof(e->ip));
    ac_cleanse(e->ua, sizeof(e->ua));

    e->erased = 1;
    memcpy(e->email, AC_LOG_ERASED, sizeof(AC_LOG_ERASED));
    memcpy(e->ip, AC_LOG_ERASED, sizeof(AC_LOG_ERASED));
    memcpy(e->ua, AC_LOG_ERASED, sizeof(AC_LOG_ERASED));

    return rc;

failed:

    memset(e, 0, sizeof(ac_log_entry_t));

    return AC_ERR_REDIS;
}


/* Account ids are base32 lower-case, at most AC_ID_LEN characters. */

int
ac_log_account_check(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL || len == 0 || len > AC_ID_LEN) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
        {
            return AC_ERR_INVALID;
        }
    }

    return AC_OK;
}


static int
ac_log_partner_check(const char *s, size_t len)
{
    char  id[AC_PARTNER_ID_MAX + 1];

    if (s == NULL || len == 0 || len > AC_PARTNER_ID_MAX
        || memchr(s, '\0', len) != NULL)
    {
        return AC_ERR_INVALID;
    }

    memcpy(id, s, len);
    id[len] = '\0';

    return ac_partner_id_check(id);
}


static int
ac_log_b64url_check(const char *s, size_t len)
{
    size_t  i;

    if (s == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'
              || s[i] == '_'))
        {
            return AC_ERR_INVALID;
        }
    }

    return AC_OK;
}


/*
 * Copies at most "max" bytes of s to dst (which holds max + 1), cut at
 * a UTF-8 character boundary, control bytes replaced with '?', and
 * NUL-terminates it; returns the length.
 */

static size_t
ac_log_clean(char *dst, size_t max, const char *s, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (s == NULL) {
        len = 0;
    }

    if (len > max) {
        len = max;

        /* s[len] is the first byte left out: not inside a character */
        while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }

    dst[len] = '\0';

    return len;
}


static size_t
ac_log_u64(uint64_t v, char *out)
{
    char    tmp[AC_LOG_SEQ_MAX];
    size_t  n, i;

    n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);

    for (i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }

    out[n] = '\0';

    return n;
}


/* Decimal, canonical: no sign, no leading zero, no overflow. */

static int
ac_log_seq_parse(const char *s, size_t len, uint64_t *v)
{
    size_t    i;
    uint64_t  n;

    if (s == NULL || len == 0 || len > AC_LOG_SEQ_MAX
        || (len > 1 && s[0] == '0'))
    {
        return AC_ERR_INVALID;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9'
            || n > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
        {
            return AC_ERR_INVALID;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');
    }

    *v = n;

    return AC_OK;
}


/*
 * h = HMAC(log key, prev | "guichet-log-1" | for each chained field in
 * order: name (1 byte) | length (4 bytes, big-endian) | value); an absent
 * field has length 0.
 */

static int
ac_log_chain(const ac_keys_t *keys, const unsigned char prev[AC_MAC_LEN],
    const ac_log_fields_t *f, char out[AC_LOG_HASH_LEN + 1])
{
    int            rc, i;
    size_t         total;
    unsigned char  *buf, *p, mac[AC_MAC_LEN];

    total = AC_MAC_LEN + sizeof(AC_LOG_DOMAIN) - 1;

    for (i = 0; i < AC_F_CHAINED; i++) {
        if (f->len[i] > UINT32_MAX) {
            return AC_ERR_TOO_LONG;
        }

        total += 5 + f->len[i];
    }

    buf = malloc(total);
    if (buf == NULL) {
        return AC_ERR_NOMEM;
    }

    p = buf;
    memcpy(p, prev, AC_MAC_LEN);
    p += AC_MAC_LEN;
    memcpy(p, AC_LOG_DOMAIN, sizeof(AC_LOG_DOMAIN) - 1);
    p += sizeof(AC_LOG_DOMAIN) - 1;

    for (i = 0; i < AC_F_CHAINED; i++) {
        *p++ = (unsigned char) ac_log_names[i];
        *p++ = (unsigned char) (f->len[i] >> 24);
        *p++ = (unsigned char) (f->len[i] >> 16);
        *p++ = (unsigned char) (f->len[i] >> 8);
        *p++ = (unsigned char) f->len[i];

        if (f->len[i] > 0) {
            memcpy(p, f->v[i], f->len[i]);
            p += f->len[i];
        }
    }

    rc = ac_mac(keys, AC_PURPOSE_LOG, buf, total, mac);

    ac_cleanse(buf, total);
    free(buf);

    if (rc != AC_OK) {
        return rc;
    }

    ac_b64url_encode(mac, AC_MAC_LEN, out);
    out[AC_LOG_HASH_LEN] = '\0';

    return AC_OK;
}


/* The account part of the AAD "guichet-log:" + account. */

static int
ac_log_aad_check(const char *account, size_t len)
{
    if (account == NULL || len == 0 || len > AC_ID_LEN) {
        return AC_ERR_INVALID;
    }

    return AC_OK;
}


/* AES-256-GCM, bound to the account id: base64url(nonce | ct | tag). */

static int
ac_log_seal(const unsigned char *key, const char *account, size_t alen,
    const unsigned char *plain, size_t len, char *out, size_t *outlen)
{
    int            rc;
    unsigned char  raw[AC_LOG_NONCE_LEN + AC_LOG_PLAIN_MAX
                       + AC_LOG_TAG_LEN];

    if (len > AC_LOG_PLAIN_MAX || ac_log_aad_check(account, alen) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    rc = ac_gcm_seal(key, AC_LOG_AAD, sizeof(AC_LOG_AAD) - 1, account, alen,
                     plain, len, raw);
    if (rc == AC_OK) {
        *outlen = ac_b64url_encode(raw,
                                   AC_LOG_NONCE_LEN + len + AC_LOG_TAG_LEN,
                                   out);
    }

    ac_cleanse(raw, sizeof(raw));

    return rc;
}


static int
ac_log_open(const unsigned char *key, const char *account, size_t alen,
    const char *blob, size_t bloblen, unsigned char *plain, size_t *len)
{
    int            rc;
    size_t         rawlen;
    unsigned char  raw[AC_LOG_NONCE_LEN + AC_LOG_PLAIN_MAX
                       + AC_LOG_TAG_LEN];

    if (ac_log_aad_check(account, alen) != AC_OK
        || bloblen > AC_LOG_BLOB_MAX
        || ac_b64url_decode(blob, bloblen, raw, sizeof(raw), &rawlen)
           != AC_OK
        || rawlen < AC_LOG_NONCE_LEN + AC_LOG_TAG_LEN)
    {
        return AC_ERR_MISMATCH;
    }

    rc = ac_gcm_open(key, AC_LOG_AAD, sizeof(AC_LOG_AAD) - 1, account, alen,
                     raw, rawlen, plain);

    if (rc == AC_OK) {
        *len = rawlen - AC_LOG_NONCE_LEN - AC_LOG_TAG_LEN;

    } else if (rc == AC_ERR_CRYPTO) {
        rc = AC_ERR_MISMATCH;
    }

    ac_cleanse(raw, sizeof(raw));

    return rc;
}


/* "P log" and "P log" + suffix. */

static int
ac_log_keys(const ac_config_t *cfg, char log[AC_KEY_MAX],
    char aux[AC_KEY_MAX], const char *suffix)
{
    int     rc;
    size_t  n, s;

    rc = ac_key(cfg, AC_K_LOG, NULL, log);
    if (rc != AC_OK) {
        return rc;
    }

    n = strlen(log);
    s = strlen(suffix);

    if (n + s >= AC_KEY_MAX) {
        return AC_ERR_TOO_LONG;
    }

    memcpy(aux, log, n);
    memcpy(aux + n, suffix, s + 1);

    return AC_OK;
}


static int
ac_log_head_str(const char *s, size_t len, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN])
{
    size_t       n;
    const char  *sp;

    sp = memchr(s, ' ', len);

    if (sp == NULL
        || ac_log_seq_parse(s, (size_t) (sp - s), seq) != AC_OK
        || len - (size_t) (sp - s) - 1 != AC_LOG_HASH_LEN
        || ac_b64url_decode(sp + 1, AC_LOG_HASH_LEN, hash, AC_MAC_LEN, &n)
           != AC_OK
        || n != AC_MAC_LEN)
    {
        return AC_ERR_REDIS;
    }

    return AC_OK;
}


/*
 * Points f at the values of a stream entry [id, [name, value, ...]].
 * AC_ERR_REDIS when it is not shaped like one; AC_ERR_MISMATCH when a
 * field is unknown or repeated (f is filled all the same).
 */

static int
ac_log_collect(const redisReply *entry, const redisReply **id,
    ac_log_fields_t *f)
{
    int                rc;
    size_t             i;
    const char        *name;
    const redisReply  *list, *k, *v;

    memset(f, 0, sizeof(ac_log_fields_t));

    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2
        || entry->element[0] == NULL || entry->element[1] == NULL
        || entry->element[0]->type != REDIS_REPLY_STRING
        || entry->element[1]->type != REDIS_REPLY_ARRAY
        || entry->element[1]->elements % 2 != 0)
    {
        return AC_ERR_REDIS;
    }

    *id = entry->element[0];
    list = entry->element[1];
    rc = AC_OK;

    for (i = 0; i < list->elements; i += 2) {
        k = list->element[i];
        v = list->element[i + 1];

        if (k == NULL || v == NULL || k->type != REDIS_REPLY_STRING
            || v->type != REDIS_REPLY_STRING)
        {
            return AC_ERR_REDIS;
        }

        name = (k->len == 1 && k->str[0] != '\0')
               ? strchr(ac_log_names, k->str[0]) : NULL;

        /* appends never write an empty field, which chains as absent */
        if (name == NULL || f->v[name - ac_log_names] != NULL
            || v->len == 0)
        {
            rc = AC_ERR_MISMATCH;
            continue;
        }

        f->v[name - ac_log_names] = v->str;
        f->len[name - ac_log_names] = v->len;
    }

    return rc;
}
