/*
 * Redis replies as authcore reads them. A reply comes from the server
 * Guichet trusts, but whoever can write to Redis (or a server of
 * another version) must not be able to crash a worker with it: every
 * ac_*_parse and ac_*_reply function gets the replies hiredis's own
 * reader (redisReaderFeed, redisReaderGetReply) builds from the input,
 * RESP bytes. The first reply goes to every parser, each element of an
 * array reply to the entry parsers, and the first six replies (nil for
 * the missing ones) to the account export.
 */

#include <hiredis/hiredis.h>

#include "fuzz.h"


#define FUZZ_REPLIES  8
#define FUZZ_ELEMENTS 4096

static redisReply     *fuzz_nil;
static unsigned char   fuzz_log_key[AC_LOG_KEY_LEN];


static redisReply *
fuzz_read(redisReader *rd)
{
    void  *reply;

    reply = NULL;
    if (redisReaderGetReply(rd, &reply) != REDIS_OK) {
        return NULL;
    }

    return reply;
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    redisReader  *rd;

    (void) fuzz_keys();
    memset(fuzz_log_key, 0x4b, sizeof(fuzz_log_key));

    rd = redisReaderCreate();
    if (rd == NULL || redisReaderFeed(rd, "$-1\r\n", 5) != REDIS_OK) {
        abort();
    }

    fuzz_nil = fuzz_read(rd);
    if (fuzz_nil == NULL) {
        abort();
    }

    redisReaderFree(rd);

    return 0;
}


static int
fuzz_idle(const ac_idle_account_t *a, void *data)
{
    if (strlen(a->id) > AC_ID_LEN || strlen(a->email) > AC_EMAIL_MAX) {
        abort();
    }

    return (*(int *) data)++ < 3 ? AC_OK : AC_ERR_EXISTS;
}


static int
fuzz_reg(const ac_registration_t *reg, void *data)
{
    if (strlen(reg->email) > AC_EMAIL_MAX) {
        abort();
    }

    (*(int *) data)++;

    return AC_OK;
}


static void
fuzz_entry(const redisReply *r)
{
    uint64_t        seq;
    unsigned char   hash[AC_MAC_LEN], zero[AC_MAC_LEN];
    ac_log_entry_t  e;

    memset(zero, 0, sizeof(zero));

    (void) ac_log_entry_parse(r, NULL, &e);
    (void) ac_log_entry_parse(r, fuzz_log_key, &e);
    (void) ac_log_verify_entry(fuzz_keys(), 0, zero, r, &seq, hash);
}


static void
fuzz_one(const redisReply *r)
{
    int               n;
    int64_t           v;
    uint64_t          seq;
    ac_buf_t          b;
    ac_regtok_t       t;
    ac_account_t      a;
    ac_partner_t      p;
    ac_session_t      s;
    unsigned char     hash[AC_MAC_LEN];

    (void) ac_account_parse(r, NULL, &a);
    (void) ac_account_parse(r, "abcdefghijklmnop", &a);
    (void) ac_partner_parse(r, fuzz_keys(), "acme", &p);
    (void) ac_session_parse(r, &s);
    (void) ac_throttle_parse(r, &v);
    (void) ac_reply_integer(r, &v);
    (void) ac_reply_ok(r);
    (void) ac_jti_claim_parse(r);
    (void) ac_account_erase_reply(r, &v);
    (void) ac_account_rename_reply(r);
    (void) ac_log_append_reply(r, &seq, hash);
    (void) ac_log_head_parse(r, &seq, hash);
    (void) ac_regtok_parse(r, fuzz_keys(), &t);

    n = 0;
    (void) ac_retention_scan_parse(r, &v, fuzz_idle, &n);
    n = 0;
    (void) ac_registrations_parse(r, fuzz_keys(), "acme", fuzz_reg, &n);

    ac_buf_init(&b);
    (void) ac_registrations_json(r, fuzz_keys(), "acme", &b);
    ac_buf_free(&b);

    fuzz_entry(r);
}


/*
 * hiredis 0.14's reader allocates an array's element vector as soon as
 * it reads "*N" (newer versions cap N), and reads N without checking
 * its digits: arrays larger than any reply authcore reads are refused
 * here, as an allocation failure, not to measure hiredis's appetite
 * instead of authcore.
 */
static redisReplyObjectFunctions  fuzz_fn, fuzz_hiredis_fn;


static void *
fuzz_create_array(const redisReadTask *task, int elements)
{
    if (elements < 0 || elements > FUZZ_ELEMENTS) {
        return NULL;
    }

    return fuzz_hiredis_fn.createArray(task, elements);
}


static redisReader *
fuzz_reader(void)
{
    redisReader  *rd;

    rd = redisReaderCreate();
    if (rd == NULL) {
        return NULL;
    }

    if (fuzz_fn.createArray == NULL) {
        fuzz_hiredis_fn = *rd->fn;
        fuzz_fn = fuzz_hiredis_fn;
        fuzz_fn.createArray = fuzz_create_array;
    }

    rd->fn = &fuzz_fn;

    return rd;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t             i, n;
    ac_buf_t           b;
    redisReply        *r[FUZZ_REPLIES];
    redisReader       *rd;
    const redisReply  *ex[AC_EXPORT_NCMDS];

    rd = fuzz_reader();
    if (rd == NULL) {
        return 0;
    }

    n = 0;

    if (redisReaderFeed(rd, (const char *) data, size) == REDIS_OK) {
        while (n < FUZZ_REPLIES) {
            r[n] = fuzz_read(rd);
            if (r[n] == NULL) {
                break;
            }

            n++;
        }
    }

    redisReaderFree(rd);

    if (n == 0) {
        return 0;
    }

    fuzz_one(r[0]);

    if (r[0]->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r[0]->elements && i < 16; i++) {
            fuzz_entry(r[0]->element[i]);
        }
    }

    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        ex[i] = (i < n) ? r[i] : fuzz_nil;
    }

    ac_buf_init(&b);
    (void) ac_account_export(fuzz_keys(), "abcdefghijklmnop", ex,
                             1700000000, &b);
    ac_buf_free(&b);

    for (i = 0; i < n; i++) {
        freeReplyObject(r[i]);
    }

    return 0;
}
