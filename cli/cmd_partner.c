/*
 * guichetctl partner add|list|show|remove|rotate
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "guichetctl.h"


#define CTL_FP_LEN  64                 /* SHA-256 in hex */


static int ctl_partner_id_arg(const char *id);
static int ctl_partner_read_key(const char *path, ac_partner_t *p);
static int ctl_partner_store(ctl_t *ctl, const ac_partner_t *p, int rotate);
static void ctl_partner_fingerprint(const ac_partner_t *p,
    char out[CTL_FP_LEN + 1]);
static void ctl_partner_json(ac_buf_t *b, const ac_partner_t *p);
static int ctl_partner_cmp(const void *a, const void *b);


int
ctl_cmd_partner_add(ctl_t *ctl)
{
    int                status;
    const ctl_opt_t   *alg, *file;
    ac_partner_t      *p;

    status = ctl_partner_id_arg(ctl->args.pos[0]);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    alg = ctl_opt(ctl, "alg");
    file = ctl_opt(ctl, "key-file");

    if (alg == NULL || file == NULL || alg->count > 1 || file->count > 1) {
        return ctl_fail(CTL_EXIT_USAGE, "partner add needs one --alg and"
                        " one --key-file");
    }

    p = calloc(1, sizeof(ac_partner_t));
    if (p == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    if (ac_alg_parse(alg->values[0], &p->alg) != AC_OK
        || p->alg == AC_ALG_NONE)
    {
        status = ctl_fail(CTL_EXIT_USAGE, "--alg is ES256, RS256 or HS256");
        goto done;
    }

    memcpy(p->id, ctl->args.pos[0], strlen(ctl->args.pos[0]) + 1);

    status = ctl_partner_read_key(file->values[0], p);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    p->provision = !ctl_has_opt(ctl, "no-provision");
    p->require_2fa = ctl_has_opt(ctl, "require-2fa");
    p->created = (int64_t) time(NULL);

    status = ctl_partner_store(ctl, p, 0);

done:

    ac_cleanse(p, sizeof(ac_partner_t));
    free(p);

    return status;
}


int
ctl_cmd_partner_list(ctl_t *ctl)
{
    int            rc, status;
    size_t         i, n;
    ac_buf_t       b;
    ac_cmd_t       cmd;
    redisReply    *ids, *r;
    ctl_table_t    t;
    ac_partner_t  *p;
    const char   **sorted, *cells[6];
    char           fp[CTL_FP_LEN + 1], created[32];
    static const char  *head[] = {
        "ID", "ALG", "PROVISION", "REQUIRE 2FA", "CREATED",
        "KEY SHA-256"
    };

    status = ctl_partner_ids(ctl, &ids, &sorted);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    n = ids->elements;
    status = CTL_EXIT_FAIL;
    ac_buf_init(&b);
    ctl_table_init(&t, head, 6);

    p = calloc(1, sizeof(ac_partner_t));
    if (p == NULL) {
        ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto failed;
    }

    for (i = 0; i < n; i++) {
        rc = ac_cmd_partner_get(&cmd, ctl->cfg, sorted[i]);
        if (rc != AC_OK || ac_cmd_status(&cmd) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
            goto failed;
        }

        if (ctl_redis_append(ctl, &cmd) != CTL_EXIT_OK) {
            goto failed;
        }
    }

    ac_buf_str(&b, "[");

    for (i = 0; i < n; i++) {
        r = ctl_redis_get(ctl);
        if (r == NULL) {
            goto failed;
        }

        rc = ac_partner_parse(r, ctl->keys, sorted[i], p);
        freeReplyObject(r);

        if (rc == AC_ERR_NOT_FOUND) {
            continue;
        }

        if (rc != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "partner %s: %s", sorted[i],
                     ac_strerror(rc));
            goto failed;
        }

        if (ctl->json) {
            if (b.len > 1) {
                ac_buf_str(&b, ",");
            }
            ctl_partner_json(&b, p);
            continue;
        }

        ctl_partner_fingerprint(p, fp);
        ctl_time_text(p->created, created, sizeof(created));

        cells[0] = p->id;
        cells[1] = ac_alg_name(p->alg);
        cells[2] = p->provision ? "yes" : "no";
        cells[3] = p->require_2fa ? "yes" : "no";
        cells[4] = created;
        cells[5] = fp;

        if (ctl_table_row(&t, cells) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "out of memory");
            goto failed;
        }
    }

    status = ctl_list_print(ctl, &b, &t);

failed:

    if (p != NULL) {
        ac_cleanse(p, sizeof(ac_partner_t));
        free(p);
    }

    free(sorted);
    ctl_table_free(&t);
    ac_buf_free(&b);
    freeReplyObject(ids);

    return status;
}


int
ctl_cmd_partner_show(ctl_t *ctl)
{
    int            status;
    ac_buf_t       b;
    ac_partner_t  *p;
    const char    *id;
    char           fp[CTL_FP_LEN + 1], created[32];

    id = ctl->args.pos[0];

    status = ctl_partner_id_arg(id);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    p = calloc(1, sizeof(ac_partner_t));
    if (p == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    status = ctl_partner_get(ctl, id, p);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (ctl->json) {
        ac_buf_init(&b);
        ctl_partner_json(&b, p);
        status = ctl_print_buf(&b);
        ac_buf_free(&b);
        goto done;
    }

    ctl_partner_fingerprint(p, fp);
    ctl_time_text(p->created, created, sizeof(created));

    printf("id:           %s\n"
           "alg:          %s\n"
           "key sha256:   %s\n"
           "provision:    %s\n"
           "require 2fa:  %s\n"
           "created:      %s\n",
           p->id, ac_alg_name(p->alg), fp, p->provision ? "yes" : "no",
           p->require_2fa ? "yes" : "no", created);

done:

    ac_cleanse(p, sizeof(ac_partner_t));
    free(p);

    return status;
}


int
ctl_cmd_partner_remove(ctl_t *ctl)
{
    int          rc, status;
    int64_t      ended;
    ac_cmd_t     cmd;
    redisReply  *r;
    const char  *id;

    id = ctl->args.pos[0];

    status = ctl_partner_id_arg(id);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    /* the sessions it opened end with it, in the same step */
    rc = ac_cmd_partner_remove(&cmd, ctl->cfg, id);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_partner_remove_reply(r, &ended);
    freeReplyObject(r);

    if (rc == AC_ERR_NOT_FOUND) {
        return ctl_fail(CTL_EXIT_FAIL, "no partner %s", id);
    }

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "unexpected reply: %s",
                        ac_strerror(rc));
    }

    printf("removed partner %s; %lld session(s) ended\n", id,
           (long long) ended);

    return ctl_log_event(ctl, AC_EV_PARTNER_REMOVED, NULL, NULL, id);
}


/*
 * Replaces a partner's key (and, with --alg, its algorithm) in one
 * step. Gateways pick the new key up within their partner cache's
 * refresh delay (docs/PARTNERS.md), without a reload.
 */
int
ctl_cmd_partner_rotate(ctl_t *ctl)
{
    int                status;
    const ctl_opt_t   *alg, *file;
    ac_partner_t      *p;
    const char        *id;

    id = ctl->args.pos[0];

    status = ctl_partner_id_arg(id);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    alg = ctl_opt(ctl, "alg");
    file = ctl_opt(ctl, "key-file");

    if (file == NULL || file->count > 1 || (alg != NULL && alg->count > 1))
    {
        return ctl_fail(CTL_EXIT_USAGE, "partner rotate needs one"
                        " --key-file and at most one --alg");
    }

    p = calloc(1, sizeof(ac_partner_t));
    if (p == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    /* the current registration: its algorithm is kept without --alg */
    status = ctl_partner_get(ctl, id, p);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (alg != NULL
        && (ac_alg_parse(alg->values[0], &p->alg) != AC_OK
            || p->alg == AC_ALG_NONE))
    {
        status = ctl_fail(CTL_EXIT_USAGE, "--alg is ES256, RS256 or HS256");
        goto done;
    }

    ac_cleanse(p->key, sizeof(p->key));

    status = ctl_partner_read_key(file->values[0], p);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    status = ctl_partner_store(ctl, p, 1);

done:

    ac_cleanse(p, sizeof(ac_partner_t));
    free(p);

    return status;
}


/*
 * Stores a new partner, or (rotate) a partner's new key, reports it and
 * logs it.
 */
static int
ctl_partner_store(ctl_t *ctl, const ac_partner_t *p, int rotate)
{
    int        rc, status;
    int64_t    stored;
    size_t     scratchsize;
    char      *scratch;
    ac_cmd_t   cmd;
    char       fp[CTL_FP_LEN + 1];

    scratchsize = AC_SEALED_LEN(AC_PARTNER_KEY_MAX) + 1;
    scratch = malloc(scratchsize);
    if (scratch == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    rc = rotate ? ac_cmd_partner_rotate(&cmd, ctl->cfg, ctl->keys, p,
                                        scratch, scratchsize)
                : ac_cmd_partner_add(&cmd, ctl->cfg, ctl->keys, p, scratch,
                                     scratchsize);
    status = ctl_redis_integer(ctl, rc, &cmd, &stored);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (stored != 1) {
        status = ctl_fail(CTL_EXIT_FAIL, rotate ? "no partner %s"
                                                : "partner %s already exists",
                          p->id);
        goto done;
    }

    ctl_partner_fingerprint(p, fp);
    printf(rotate ? "rotated key of partner %s (%s, key sha256 %s)\n"
                  : "added partner %s (%s, key sha256 %s)\n",
           p->id, ac_alg_name(p->alg), fp);

    status = ctl_log_event(ctl, rotate ? AC_EV_PARTNER_ROTATED
                                       : AC_EV_PARTNER_ADDED,
                           NULL, NULL, p->id);

done:

    ac_cleanse(scratch, scratchsize);
    free(scratch);
    ac_cleanse(&cmd, sizeof(cmd));

    return status;
}


static int
ctl_partner_id_arg(const char *id)
{
    if (ac_partner_id_check(id) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "invalid partner id (lower-case"
                        " letters, digits, '.', '_', '-', at most %d)",
                        AC_PARTNER_ID_MAX);
    }

    return CTL_EXIT_OK;
}


/*
 * Reads the key file whole and checks it is a key for p->alg. An HS256
 * secret loses its trailing line ends, which editors and "echo" add but
 * a partner does not sign with.
 */
static int
ctl_partner_read_key(const char *path, ac_partner_t *p)
{
    int          fd, rc, status;
    char        *key;
    size_t       n, size;
    ssize_t      got;
    ac_error_t   err;

    key = p->key;
    size = sizeof(p->key);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return ctl_fail(CTL_EXIT_FAIL, "%s: %s", path, strerror(errno));
    }

    n = 0;
    status = CTL_EXIT_OK;

    for ( ;; ) {
        if (n == size - 1) {
            status = ctl_fail(CTL_EXIT_FAIL, "%s: larger than %d bytes",
                              path, AC_PARTNER_KEY_MAX);
            break;
        }

        got = read(fd, key + n, size - 1 - n);

        if (got == -1) {
            if (errno == EINTR) {
                continue;
            }
            status = ctl_fail(CTL_EXIT_FAIL, "%s: %s", path,
                              strerror(errno));
            break;
        }

        if (got == 0) {
            break;
        }

        n += (size_t) got;
    }

    close(fd);

    if (status != CTL_EXIT_OK) {
        ac_cleanse(key, size);
        return status;
    }

    if (p->alg == AC_ALG_HS256) {
        while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r')) {
            n--;
        }
    }

    key[n] = '\0';
    p->keylen = n;

    memset(&err, 0, sizeof(err));

    rc = ac_partner_key_check(p->alg, p->key, p->keylen, &err);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "key refused for %s: %s",
                        ac_alg_name(p->alg),
                        err.msg[0] ? err.msg : ac_strerror(rc));
    }

    return CTL_EXIT_OK;
}


/*
 * SHA-256 of the DER SubjectPublicKeyInfo for a public key (what
 * "openssl pkey -pubin -outform DER | sha256sum" prints), or of the
 * secret's bytes for HS256, so that both sides can compare keys without
 * showing them.
 */
static void
ctl_partner_fingerprint(const ac_partner_t *p, char out[CTL_FP_LEN + 1])
{
    int             len;
    unsigned        i, mdlen;
    BIO            *bio;
    EVP_PKEY       *pkey;
    unsigned char  *der;
    unsigned char   md[EVP_MAX_MD_SIZE];

    snprintf(out, CTL_FP_LEN + 1, "-");
    mdlen = 0;

    if (p->alg == AC_ALG_HS256) {
        if (EVP_Digest(p->key, p->keylen, md, &mdlen, EVP_sha256(), NULL)
            != 1)
        {
            return;
        }

    } else {
        bio = BIO_new_mem_buf(p->key, (int) p->keylen);
        if (bio == NULL) {
            return;
        }

        pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);

        if (pkey == NULL) {
            return;
        }

        der = NULL;
        len = i2d_PUBKEY(pkey, &der);
        EVP_PKEY_free(pkey);

        if (len <= 0) {
            return;
        }

        i = EVP_Digest(der, (size_t) len, md, &mdlen, EVP_sha256(), NULL);
        OPENSSL_free(der);

        if (i != 1) {
            return;
        }
    }

    for (i = 0; i < mdlen && i < CTL_FP_LEN / 2; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}


static void
ctl_partner_json(ac_buf_t *b, const ac_partner_t *p)
{
    char  fp[CTL_FP_LEN + 1];

    ctl_partner_fingerprint(p, fp);

    ac_buf_str(b, "{");
    ctl_json_key(b, "id", 1);
    ctl_json_str(b, p->id);
    ctl_json_key(b, "alg", 0);
    ctl_json_str(b, ac_alg_name(p->alg));
    ctl_json_key(b, "fingerprint", 0);
    ctl_json_str(b, fp);
    ctl_json_key(b, "provision", 0);
    ac_buf_str(b, p->provision ? "true" : "false");
    ctl_json_key(b, "require_2fa", 0);
    ac_buf_str(b, p->require_2fa ? "true" : "false");
    ctl_json_key(b, "created", 0);
    ctl_time_json(b, p->created);
    ac_buf_str(b, "}");
}


/*
 * The registered partners' ids, sorted; they point into *ids, which the
 * caller frees with *sorted.
 */
int
ctl_partner_ids(ctl_t *ctl, redisReply **ids, const char ***sorted)
{
    int           rc;
    size_t        i, n;
    ac_cmd_t      cmd;
    redisReply   *r;
    const char  **s;

    rc = ac_cmd_partners_list(&cmd, ctl->cfg);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
    }

    n = r->elements;

    s = calloc(n + 1, sizeof(char *));
    if (s == NULL) {
        freeReplyObject(r);
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    for (i = 0; i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING) {
            free(s);
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
        }
        s[i] = r->element[i]->str;
    }

    qsort(s, n, sizeof(char *), ctl_partner_cmp);

    *ids = r;
    *sorted = s;

    return CTL_EXIT_OK;
}


static int
ctl_partner_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/* The partner "id" from Redis, an HS256 secret unsealed. */
int
ctl_partner_get(ctl_t *ctl, const char *id, ac_partner_t *p)
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;

    rc = ac_cmd_partner_get(&cmd, ctl->cfg, id);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_partner_parse(r, ctl->keys, id, p);
    freeReplyObject(r);

    if (rc == AC_ERR_NOT_FOUND) {
        return ctl_fail(CTL_EXIT_FAIL, "no partner %s", id);
    }

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "partner %s: %s", id,
                        ac_strerror(rc));
    }

    return CTL_EXIT_OK;
}
