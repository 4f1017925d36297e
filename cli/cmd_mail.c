/*
 * guichetctl mail run | failed | retry: the mail worker (SPEC 10).
 *
 * The module only appends messages to the stream "P mail". This worker
 * reads them in the consumer group "workers", renders them from
 * config/templates/mail/, delivers each one with its own libcurl SMTP
 * handle (STARTTLS or implicit TLS, certificates verified, AUTH from
 * smtp_password_file), and acknowledges a message only once the server
 * accepted it. A failure schedules a retry with a growing delay; a
 * message refused for good, too old, or tried AC_MAIL_ATTEMPTS times
 * goes to the dead letters ("mail failed", "mail retry"). Messages a
 * dead worker left pending are claimed after --claim-idle seconds.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "guichetctl.h"


#define CTL_MAIL_BATCH        10
#define CTL_MAIL_BLOCK_MS     1000
#define CTL_MAIL_CLAIM_IDLE   60        /* s: longer than one delivery */
#define CTL_MAIL_TEMPLATE_MAX (256 * 1024)
#define CTL_MAIL_PW_MAX       512


typedef struct {
    char        *txt[AC_MAIL_COUNT];
    size_t       txtlen[AC_MAIL_COUNT];
    char        *html[AC_MAIL_COUNT];
    size_t       htmllen[AC_MAIL_COUNT];
    char         password[CTL_MAIL_PW_MAX + 1];
    char         consumer[64];
    char         url[128];
    char         resolve[160];
    const char  *ca_file;
    int64_t      claim_idle;
    unsigned     sent;
    unsigned     failed;
} ctl_mail_t;

typedef struct {
    const char  *data;
    size_t       len;
    size_t       off;
} ctl_mail_body_t;


static volatile sig_atomic_t  ctl_mail_stop;


static void ctl_mail_signal(int sig);
static int ctl_mail_file(const char *dir, const char *name, const char *ext,
    int required, char **out, size_t *outlen);
static int ctl_mail_setup(ctl_t *ctl, ctl_mail_t *mw);
static void ctl_mail_free(ctl_mail_t *mw);
static int ctl_mail_batch(ctl_t *ctl, ctl_mail_t *mw, const redisReply *list,
    unsigned *n);
static int ctl_mail_one(ctl_t *ctl, ctl_mail_t *mw, const redisReply *entry);
static int ctl_mail_send(ctl_t *ctl, ctl_mail_t *mw, const ac_mail_t *m,
    const ac_buf_t *msg, long *code, char *err, size_t errsize);
static size_t ctl_mail_read(char *buf, size_t size, size_t n, void *data);
static const char *ctl_mail_logged_to(const ac_mail_t *m);
static int ctl_mail_giveup(ctl_t *ctl, ctl_mail_t *mw, ac_mail_t *m,
    int dead, const char *reason);


static void
ctl_mail_signal(int sig)
{
    (void) sig;
    ctl_mail_stop = 1;
}


/* DIR/NAME.EXT, whole; a missing optional file gives *out = NULL */
static int
ctl_mail_file(const char *dir, const char *name, const char *ext,
    int required, char **out, size_t *outlen)
{
    FILE    *f;
    char     path[4096];
    char    *buf;
    size_t   n;

    *out = NULL;
    *outlen = 0;

    snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);

    f = fopen(path, "re");
    if (f == NULL) {
        if (!required && errno == ENOENT) {
            return CTL_EXIT_OK;
        }

        return ctl_fail(CTL_EXIT_FAIL, "%s: %s", path, strerror(errno));
    }

    buf = malloc(CTL_MAIL_TEMPLATE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    n = fread(buf, 1, CTL_MAIL_TEMPLATE_MAX + 1, f);
    fclose(f);

    if (n > CTL_MAIL_TEMPLATE_MAX) {
        free(buf);
        return ctl_fail(CTL_EXIT_FAIL, "%s: larger than %d bytes", path,
                        CTL_MAIL_TEMPLATE_MAX);
    }

    buf[n] = '\0';
    *out = buf;
    *outlen = n;

    return CTL_EXIT_OK;
}


static int
ctl_mail_setup(ctl_t *ctl, ctl_mail_t *mw)
{
    int               i;
    FILE             *f;
    size_t            n;
    ac_error_t        err;
    const char       *dir, *name;
    const ctl_opt_t  *o;
    char              host[80];

    if (ctl->cfg->smtp.host == NULL || ctl->cfg->mail_from == NULL) {
        return ctl_fail(CTL_EXIT_USAGE, "%s: smtp and mail_from are needed "
                        "to send mail", ctl->cfg->file);
    }

    dir = ctl->cfg->mail_templates ? ctl->cfg->mail_templates
                                   : AC_MAIL_TEMPLATES;

    for (i = 0; i < AC_MAIL_COUNT; i++) {
        name = ac_mail_kind_name((ac_mail_kind_t) i);

        if (ctl_mail_file(dir, name, "txt", 1, &mw->txt[i], &mw->txtlen[i])
            != CTL_EXIT_OK
            || ctl_mail_file(dir, name, "html", 0, &mw->html[i],
                             &mw->htmllen[i])
               != CTL_EXIT_OK)
        {
            return CTL_EXIT_FAIL;
        }

        memset(&err, 0, sizeof(err));

        if (ac_template_check(mw->txt[i], mw->txtlen[i], ac_mail_tvars,
                              AC_MAIL_NTVARS, &err)
            != AC_OK
            || (mw->html[i] != NULL
                && ac_template_check(mw->html[i], mw->htmllen[i],
                                     ac_mail_tvars, AC_MAIL_NTVARS, &err)
                   != AC_OK))
        {
            return ctl_fail(CTL_EXIT_FAIL, "%s/%s: %s", dir, name, err.msg);
        }
    }

    if (ctl->cfg->smtp_user != NULL) {
        if (ctl->cfg->smtp_password_file == NULL) {
            return ctl_fail(CTL_EXIT_USAGE, "smtp_user needs "
                            "smtp_password_file");
        }

        f = fopen(ctl->cfg->smtp_password_file, "re");
        if (f == NULL) {
            return ctl_fail(CTL_EXIT_FAIL, "%s: %s",
                            ctl->cfg->smtp_password_file, strerror(errno));
        }

        n = fread(mw->password, 1, CTL_MAIL_PW_MAX, f);
        fclose(f);
        mw->password[n] = '\0';
        mw->password[strcspn(mw->password, "\r\n")] = '\0';
    }

    o = ctl_opt(ctl, "consumer");
    if (o != NULL) {
        snprintf(mw->consumer, sizeof(mw->consumer), "%s", o->values[0]);
    } else {
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(mw->consumer, sizeof(mw->consumer), "%.40s-%ld", host,
                 (long) getpid());
    }

    mw->claim_idle = CTL_MAIL_CLAIM_IDLE;
    o = ctl_opt(ctl, "claim-idle");
    if (o != NULL) {
        char  *end;

        mw->claim_idle = strtoll(o->values[0], &end, 10);
        if (*end != '\0' || mw->claim_idle < 1 || mw->claim_idle > 86400) {
            return ctl_fail(CTL_EXIT_USAGE, "--claim-idle: 1 to 86400 "
                            "seconds");
        }
    }

    o = ctl_opt(ctl, "ca-file");
    mw->ca_file = o ? o->values[0] : NULL;

    /* a host name for the certificate check, reached at the configured
     * address without any DNS lookup */
    o = ctl_opt(ctl, "tls-name");
    name = ctl->cfg->smtp.host;
    if (o != NULL) {
        name = o->values[0];
        snprintf(mw->resolve, sizeof(mw->resolve), "%s:%d:%s", name,
                 ctl->cfg->smtp.port, ctl->cfg->smtp.host);
    }

    snprintf(mw->url, sizeof(mw->url), "%s://%s%s%s:%d",
             ctl->cfg->smtp_tls == AC_SMTP_TLS_TLS ? "smtps" : "smtp",
             strchr(name, ':') ? "[" : "", name,
             strchr(name, ':') ? "]" : "", ctl->cfg->smtp.port);

    return CTL_EXIT_OK;
}


static void
ctl_mail_free(ctl_mail_t *mw)
{
    int  i;

    for (i = 0; i < AC_MAIL_COUNT; i++) {
        free(mw->txt[i]);
        free(mw->html[i]);
    }

    ac_cleanse(mw->password, sizeof(mw->password));
}


int
ctl_cmd_mail_run(ctl_t *ctl)
{
    int                 status, once;
    unsigned            n, total;
    ac_cmd_t            cmd;
    redisReply         *r;
    ctl_mail_t          mw;
    struct timeval      tv;
    struct sigaction    sa;

    memset(&mw, 0, sizeof(mw));
    once = ctl_has_opt(ctl, "once");

    status = ctl_mail_setup(ctl, &mw);
    if (status != CTL_EXIT_OK) {
        ctl_mail_free(&mw);
        return status;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ctl_mail_free(&mw);
        return ctl_fail(CTL_EXIT_FAIL, "libcurl failed to start");
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ctl_mail_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    status = CTL_EXIT_FAIL;

    if (ctl->redis == NULL && ctl_redis_connect(ctl) != AC_OK) {
        goto done;
    }

    /* a blocking read waits longer than an ordinary command */
    tv.tv_sec = CTL_MAIL_BLOCK_MS / 1000 + 5 + ctl->cfg->redis_timeout_ms
                / 1000;
    tv.tv_usec = 0;
    redisSetTimeout(ctl->redis, tv);

    if (ac_cmd_mail_group(&cmd, ctl->cfg) != AC_OK) {
        goto done;
    }

    r = redisCommandArgv(ctl->redis, cmd.argc, cmd.argv, cmd.argvlen);
    if (r == NULL
        || (r->type == REDIS_REPLY_ERROR
            && strncmp(r->str, "BUSYGROUP", 9) != 0))
    {
        ctl_fail(CTL_EXIT_FAIL, "Redis: %s",
                 r ? r->str : ctl->redis->errstr);
        if (r) {
            freeReplyObject(r);
        }
        goto done;
    }

    freeReplyObject(r);

    if (!once) {
        printf("mail worker %s: delivering through %s\n", mw.consumer,
               mw.url);
        fflush(stdout);
    }

    while (!ctl_mail_stop) {
        total = 0;

        /* retries that are due go back to the stream */
        if (ac_cmd_mail_due(&cmd, ctl->cfg, (int64_t) time(NULL)) != AC_OK) {
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            goto done;
        }
        freeReplyObject(r);

        /* what a dead worker left pending */
        if (ac_cmd_mail_claim(&cmd, ctl->cfg, mw.consumer,
                              mw.claim_idle * 1000, CTL_MAIL_BATCH)
            != AC_OK)
        {
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            goto done;
        }

        n = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
            status = ctl_mail_batch(ctl, &mw, r->element[1], &n);
        }
        freeReplyObject(r);
        total += n;

        if (ac_cmd_mail_read(&cmd, ctl->cfg, mw.consumer, CTL_MAIL_BATCH,
                             once ? 100 : CTL_MAIL_BLOCK_MS)
            != AC_OK)
        {
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            goto done;
        }

        n = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
            && r->element[0]->type == REDIS_REPLY_ARRAY
            && r->element[0]->elements == 2)
        {
            status = ctl_mail_batch(ctl, &mw, r->element[0]->element[1], &n);
        }
        freeReplyObject(r);
        total += n;

        if (once && total == 0) {
            break;
        }
    }

    status = CTL_EXIT_OK;

    if (once) {
        printf("%u sent, %u failed\n", mw.sent, mw.failed);
    }

done:

    curl_global_cleanup();
    ctl_mail_free(&mw);

    return status;
}


static int
ctl_mail_batch(ctl_t *ctl, ctl_mail_t *mw, const redisReply *list,
    unsigned *n)
{
    size_t  i;

    if (list->type != REDIS_REPLY_ARRAY) {
        return CTL_EXIT_FAIL;
    }

    for (i = 0; i < list->elements && !ctl_mail_stop; i++) {
        /* a message deleted while pending is claimed as nil */
        if (list->element[i]->type != REDIS_REPLY_ARRAY) {
            continue;
        }

        (void) ctl_mail_one(ctl, mw, list->element[i]);
        (*n)++;
    }

    return CTL_EXIT_OK;
}


static int
ctl_mail_one(ctl_t *ctl, ctl_mail_t *mw, const redisReply *entry)
{
    int          rc;
    long         code;
    time_t       now;
    ac_cmd_t     cmd;
    ac_buf_t     msg;
    ac_mail_t    m;
    ac_error_t   err;
    redisReply  *r;
    char         why[CURL_ERROR_SIZE + 64];

    now = time(NULL);

    if (ac_mail_parse(entry, &m) != AC_OK) {
        /* not a message of ours: out of the way, into the dead letters
         * it cannot be written to either */
        if (entry->elements == 2
            && entry->element[0]->type == REDIS_REPLY_STRING
            && ac_cmd_mail_done(&cmd, ctl->cfg, entry->element[0]->str)
               == AC_OK)
        {
            r = ctl_redis_run(ctl, &cmd);
            if (r) {
                freeReplyObject(r);
            }
        }

        fprintf(stderr, "guichetctl: mail: malformed queue entry dropped\n");
        mw->failed++;
        return CTL_EXIT_FAIL;
    }

    if (m.expires > 0 && now > m.expires) {
        return ctl_mail_giveup(ctl, mw, &m, 1, "expired");
    }

    ac_buf_init(&msg);
    memset(&err, 0, sizeof(err));

    rc = ac_mail_format(ctl->cfg, &m, mw->txt[m.kind], mw->txtlen[m.kind],
                        mw->html[m.kind], mw->htmllen[m.kind], now, &msg,
                        &err);
    if (rc != AC_OK) {
        ac_buf_free(&msg);
        fprintf(stderr, "guichetctl: mail %s: %s\n", m.id, err.msg);
        return ctl_mail_giveup(ctl, mw, &m, 1, "bad_message");
    }

    why[0] = '\0';
    code = 0;

    rc = ctl_mail_send(ctl, mw, &m, &msg, &code, why, sizeof(why));
    ac_buf_free(&msg);

    if (rc == CTL_EXIT_OK) {
        if (ac_cmd_mail_done(&cmd, ctl->cfg, m.id) == AC_OK) {
            r = ctl_redis_run(ctl, &cmd);
            if (r) {
                freeReplyObject(r);
            }
        }

        mw->sent++;
        return ctl_log_reason(ctl, AC_EV_MAIL_SENT,
                              ac_mail_kind_name(m.kind), m.account,
                              ctl_mail_logged_to(&m));
    }

    fprintf(stderr, "guichetctl: mail %s (%s): %s\n", m.id,
            ac_mail_kind_name(m.kind), why);

    m.attempts++;

    /* refused for good: the address or the content, not the moment;
     * an authentication failure (530, 534, 535, 538) is the server's
     * configuration and is tried again */
    if (code >= 500 && code < 600 && code != 530 && code != 534
        && code != 535 && code != 538)
    {
        return ctl_mail_giveup(ctl, mw, &m, 1, "rejected");
    }

    if (m.attempts >= AC_MAIL_ATTEMPTS) {
        return ctl_mail_giveup(ctl, mw, &m, 1, "too_many_attempts");
    }

    return ctl_mail_giveup(ctl, mw, &m, 0, "smtp_error");
}


/* to mail:retry, or with dead set to the dead letters; logged */
static int
ctl_mail_giveup(ctl_t *ctl, ctl_mail_t *mw, ac_mail_t *m, int dead,
    const char *reason)
{
    int64_t      now;
    ac_cmd_t     cmd;
    redisReply  *r;

    now = (int64_t) time(NULL);

    if (ac_cmd_mail_retry(&cmd, ctl->cfg, m,
                          now + ac_mail_backoff(m->attempts), dead, reason,
                          now)
        != AC_OK)
    {
        return ctl_fail(CTL_EXIT_FAIL, "mail %s: cannot be moved", m->id);
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }
    freeReplyObject(r);

    mw->failed++;

    return ctl_log_reason(ctl, AC_EV_MAIL_FAILED, reason, m->account,
                          ctl_mail_logged_to(m));
}


/*
 * The address the log names for a message without account (an
 * invitation); an erased account's last notice names nobody: its
 * address must not outlive the message.
 */
static const char *
ctl_mail_logged_to(const ac_mail_t *m)
{
    if (m->kind == AC_MAIL_ERASED || m->account[0] != '\0') {
        return NULL;
    }

    return m->to;
}


static size_t
ctl_mail_read(char *buf, size_t size, size_t n, void *data)
{
    size_t            len;
    ctl_mail_body_t  *b = data;

    len = size * n;
    if (len > b->len - b->off) {
        len = b->len - b->off;
    }

    memcpy(buf, b->data + b->off, len);
    b->off += len;

    return len;
}


/* one delivery, one handle: CTL_EXIT_OK once the server took it */
static int
ctl_mail_send(ctl_t *ctl, ctl_mail_t *mw, const ac_mail_t *m,
    const ac_buf_t *msg, long *code, char *err, size_t errsize)
{
    CURL               *h;
    CURLcode            rc;
    ctl_mail_body_t     body;
    struct curl_slist  *rcpt, *resolve;
    char                from[AC_EMAIL_MAX + 3], to[AC_EMAIL_MAX + 3];
    char                errbuf[CURL_ERROR_SIZE];

    h = curl_easy_init();
    if (h == NULL) {
        snprintf(err, errsize, "libcurl: no handle");
        return CTL_EXIT_FAIL;
    }

    snprintf(from, sizeof(from), "<%s>", ctl->cfg->mail_from);
    snprintf(to, sizeof(to), "<%s>", m->to);

    rcpt = curl_slist_append(NULL, to);
    resolve = mw->resolve[0] ? curl_slist_append(NULL, mw->resolve) : NULL;

    body.data = msg->data;
    body.len = msg->len;
    body.off = 0;
    errbuf[0] = '\0';

    curl_easy_setopt(h, CURLOPT_URL, mw->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ctl_mail_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &body);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);

    if (resolve) {
        curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
    }

    if (mw->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, mw->ca_file);
    }

    if (ctl->cfg->smtp_tls == AC_SMTP_TLS_STARTTLS) {
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    }

    if (ctl->cfg->smtp_user != NULL) {
        curl_easy_setopt(h, CURLOPT_USERNAME, ctl->cfg->smtp_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, mw->password);
    }

    rc = (rcpt == NULL) ? CURLE_OUT_OF_MEMORY : curl_easy_perform(h);

    *code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);

    if (rc != CURLE_OK) {
        snprintf(err, errsize, "%s (SMTP %ld)",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc), *code);
    }

    curl_slist_free_all(rcpt);
    curl_slist_free_all(resolve);
    curl_easy_cleanup(h);

    return rc == CURLE_OK ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}


int
ctl_cmd_mail_failed(ctl_t *ctl)
{
    int           status;
    size_t        i;
    ac_cmd_t      cmd;
    ac_buf_t      b;
    ac_mail_t     m;
    redisReply   *r;
    ctl_table_t   t;
    char          attempts[24];
    const char   *cells[5];
    static const char  *head[] = { "ID", "KIND", "TO", "ATTEMPTS",
                                   "ERROR" };

    if (ac_cmd_mail_dead_list(&cmd, ctl->cfg, 10000) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "command too long");
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    ac_buf_init(&b);

    if (ctl_table_init(&t, head, 5) != 0) {
        freeReplyObject(r);
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    ac_buf_str(&b, "[");

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (ac_mail_parse(r->element[i], &m) != AC_OK) {
            continue;
        }

        snprintf(attempts, sizeof(attempts), "%lld",
                 (long long) m.attempts);

        cells[0] = m.id;
        cells[1] = ac_mail_kind_name(m.kind);
        cells[2] = m.to;
        cells[3] = attempts;
        cells[4] = m.error;
        (void) ctl_table_row(&t, cells);

        ac_buf_str(&b, b.len > 1 ? ",{" : "{");
        ctl_json_key(&b, "id", 1);
        ctl_json_str(&b, m.id);
        ctl_json_key(&b, "kind", 0);
        ctl_json_str(&b, ac_mail_kind_name(m.kind));
        ctl_json_key(&b, "to", 0);
        ctl_json_str(&b, m.to);
        ctl_json_key(&b, "attempts", 0);
        ac_buf_printf(&b, "%lld", (long long) m.attempts);
        ctl_json_key(&b, "error", 0);
        ctl_json_str(&b, m.error);
        ctl_json_key(&b, "when", 0);
        ctl_time_json(&b, m.when);
        ac_buf_str(&b, "}");
    }

    freeReplyObject(r);

    status = ctl_list_print(ctl, &b, &t);

    ctl_table_free(&t);
    ac_buf_free(&b);

    return status;
}


int
ctl_cmd_mail_retry(ctl_t *ctl)
{
    int64_t   n;
    ac_cmd_t  cmd;

    if (ac_cmd_mail_requeue(&cmd, ctl->cfg, ctl->args.pos[0]) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "%s: not a message id (see mail "
                        "failed) nor \"all\"", ctl->args.pos[0]);
    }

    if (ctl_redis_integer(ctl, AC_OK, &cmd, &n) != CTL_EXIT_OK) {
        return CTL_EXIT_FAIL;
    }

    if (n == 0) {
        return ctl_fail(CTL_EXIT_FAIL, "%s: no such failed message",
                        ctl->args.pos[0]);
    }

    printf("%lld message%s queued again\n", (long long) n, n == 1 ? "" : "s");

    return CTL_EXIT_OK;
}
