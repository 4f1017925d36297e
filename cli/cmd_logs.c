/*
 * guichetctl logs, logs verify and logs anomalies: the security team's
 * view of the connection log (docs/SECURITY-TEAM.md, docs/LOG.md).
 *
 * The stream is read in batches of CTL_LOGS_BATCH entries by stream id
 * range (ids are Redis's millisecond clock), and the log keys of the
 * accounts a batch names are fetched in one pipelined round trip and
 * kept for the run.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include <openssl/crypto.h>

#include "guichetctl.h"


#define CTL_LOGS_BATCH     1000
#define CTL_LOGS_BLOCK_MS  1000
#define CTL_LOGS_UA_COLS   32
#define CTL_LOGS_COLS      10
#define CTL_LOGS_TIME_MAX  32
#define CTL_ANOM_SINCE     (24 * 3600)

#define CTL_FMT_TABLE      0
#define CTL_FMT_JSON       1
#define CTL_FMT_CSV        2


typedef int (*ctl_logs_each_pt)(ctl_t *ctl, void *data,
    const redisReply *entry);

typedef struct {
    const char     *account;
    char            account_id[AC_ID_LEN + 1];
    char            email[AC_EMAIL_MAX + 1];
    int             family;
    unsigned char   net[16];
    unsigned        prefix;
    uint32_t        events;
    int             result;                 /* -1 any, 0 ok, 1 fail */
    const char     *partner;
    int64_t         since_ms;               /* -1: none */
    int64_t         until_ms;
    uint64_t        limit;                  /* 0: none */
} ctl_logs_filter_t;

typedef struct {
    ctl_logs_filter_t   f;
    ctl_lk_cache_t      cache;
    int                 format;
    int                 follow;
    uint64_t            count;
    uint64_t            malformed;
    ac_log_entry_t      e;
    ac_buf_t            out;                /* table cells, or a line */
    size_t              width[CTL_LOGS_COLS];
    uint64_t            rows;
    char                last_id[AC_LOG_ID_MAX];
} ctl_logs_t;

typedef struct {
    uint64_t        n;
    uint64_t        bad;
    uint64_t        seq;
    unsigned char   hash[AC_MAC_LEN];
    uint64_t        head_seq;
    unsigned char   head[AC_MAC_LEN];
    int             head_seen;
    int             head_ok;
    uint64_t        bad_seq;
    char            bad_id[AC_LOG_ID_MAX];
    const char     *problem;
    char            last_id[AC_LOG_ID_MAX];
} ctl_verify_t;


static volatile sig_atomic_t  ctl_logs_stop;

static const char  *ctl_logs_head[CTL_LOGS_COLS] = {
    "TIME", "EVENT", "RESULT", "REASON", "ACCOUNT", "EMAIL", "IP",
    "PARTNER", "SESSION", "USER AGENT"
};

/* column widths while following, when rows cannot be measured first */
static const size_t  ctl_logs_follow_width[CTL_LOGS_COLS] = {
    24, 16, 6, 16, 16, 24, 15, 8, 8, 0
};


static int ctl_logs_walk(ctl_t *ctl, int reverse, const char *lo,
    const char *hi, ctl_lk_cache_t *cache, ctl_logs_each_pt each,
    void *data);
static int ctl_logs_time(const char *s, int64_t now_ms, int64_t *ms);
static int64_t ctl_now_ms(void);
static void ctl_time_ms(int64_t ms, char *out, size_t size);
static int ctl_logs_ip_parse(const char *s, ctl_logs_filter_t *f);
static int ctl_logs_ip_match(const ctl_logs_filter_t *f, const char *ip);
static int ctl_logs_options(ctl_t *ctl, ctl_logs_t *lg);
static int ctl_logs_each(ctl_t *ctl, void *data, const redisReply *entry);
static int ctl_logs_match(const ctl_logs_filter_t *f,
    const ac_log_entry_t *e, int personal);
static void ctl_logs_cells(const ac_log_entry_t *e,
    const char *cells[CTL_LOGS_COLS], char *time, size_t size, char *ua);
static void ctl_logs_table_add(ctl_logs_t *lg);
static int ctl_logs_table_print(ctl_logs_t *lg);
static void ctl_logs_table_line(ac_buf_t *b, const char **cells,
    const size_t *width);
static size_t ctl_utf8_width(const char *s);
static void ctl_logs_json(ac_buf_t *b, const ac_log_entry_t *e);
static void ctl_logs_csv_head(ac_buf_t *b);
static void ctl_logs_csv(ac_buf_t *b, const ac_log_entry_t *e);
static void ctl_csv_cell(ac_buf_t *b, const char *s, int last);
static int ctl_logs_flush(ctl_logs_t *lg);
static int ctl_logs_follow(ctl_t *ctl, ctl_logs_t *lg);
static void ctl_logs_sigint(int sig);
static int ctl_verify_each(ctl_t *ctl, void *data, const redisReply *entry);
static int ctl_verify_get(ctl_t *ctl, int checkpoint, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN]);


/* ------------------------------------------------------------ reading */

/*
 * Calls each() for every entry with an id between lo and hi, oldest
 * first or, when reverse, newest first, until it returns non-zero.
 */
static int
ctl_logs_walk(ctl_t *ctl, int reverse, const char *lo, const char *hi,
    ctl_lk_cache_t *cache, ctl_logs_each_pt each, void *data)
{
    int                rc;
    size_t             i, n;
    char               key[AC_KEY_MAX];
    char               from[AC_LOG_ID_MAX + 2];
    ac_cmd_t           cmd;
    redisReply        *r;
    const redisReply  *last;

    if (ac_key(ctl->cfg, AC_K_LOG, NULL, key) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "key_prefix too long");
    }

    snprintf(from, sizeof(from), "%s", reverse ? hi : lo);

    for ( ;; ) {
        ac_cmd_init(&cmd);
        ac_cmd_str(&cmd, reverse ? "XREVRANGE" : "XRANGE");
        ac_cmd_copy(&cmd, key, strlen(key));
        ac_cmd_copy(&cmd, from, strlen(from));
        ac_cmd_str(&cmd, reverse ? lo : hi);
        ac_cmd_str(&cmd, "COUNT");
        ac_cmd_int(&cmd, CTL_LOGS_BATCH);

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            return CTL_EXIT_FAIL;
        }

        if (r->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected reply reading the"
                            " log");
        }

        if (cache != NULL && ctl_lk_prefetch(ctl, cache, r) != 0) {
            freeReplyObject(r);
            return CTL_EXIT_FAIL;
        }

        n = r->elements;

        for (i = 0; i < n; i++) {
            rc = each(ctl, data, r->element[i]);
            if (rc != 0) {
                freeReplyObject(r);
                return rc < 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK;
            }
        }

        if (n < CTL_LOGS_BATCH) {
            freeReplyObject(r);
            return CTL_EXIT_OK;
        }

        last = r->element[n - 1];

        if (last->type != REDIS_REPLY_ARRAY || last->elements < 1
            || last->element[0]->type != REDIS_REPLY_STRING
            || last->element[0]->len >= AC_LOG_ID_MAX)
        {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected reply reading the"
                            " log");
        }

        /* "(" makes the bound exclusive: go on after the last one seen */
        from[0] = '(';
        memcpy(from + 1, last->element[0]->str, last->element[0]->len);
        from[last->element[0]->len + 1] = '\0';

        freeReplyObject(r);
    }
}


/* -------------------------------------------------------------- times */

static int
ctl_digits(const char *s, int n, int *v)
{
    int  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        *v = *v * 10 + (s[i] - '0');
    }

    return 1;
}


/*
 * "2026-11-23", "2026-11-23T10:00Z", "2026-11-23T10:00:00Z" or with
 * ".123" milliseconds, all UTC; or a duration ("24h") back from now.
 */
static int
ctl_logs_time(const char *s, int64_t now_ms, int64_t *ms)
{
    int        y, mo, d, h, mi, sec, frac, nfrac;
    time_t     t;
    int64_t    dur;
    struct tm  tm, back;
    const char *p;

    if (s[0] >= '0' && s[0] <= '9' && strlen(s) >= 10 && s[4] == '-') {
        h = mi = sec = frac = 0;

        if (!ctl_digits(s, 4, &y) || s[4] != '-'
            || !ctl_digits(s + 5, 2, &mo) || s[7] != '-'
            || !ctl_digits(s + 8, 2, &d))
        {
            return AC_ERR_INVALID;
        }

        p = s + 10;

        if (*p == 'T') {
            if (!ctl_digits(p + 1, 2, &h) || p[3] != ':'
                || !ctl_digits(p + 4, 2, &mi))
            {
                return AC_ERR_INVALID;
            }

            p += 6;

            if (*p == ':') {
                if (!ctl_digits(p + 1, 2, &sec)) {
                    return AC_ERR_INVALID;
                }
                p += 3;

                if (*p == '.') {
                    p++;
                    for (nfrac = 0; nfrac < 3 && *p >= '0' && *p <= '9';
                         nfrac++)
                    {
                        frac = frac * 10 + (*p++ - '0');
                    }

                    if (nfrac == 0) {
                        return AC_ERR_INVALID;
                    }

                    for ( /* void */ ; nfrac < 3; nfrac++) {
                        frac *= 10;
                    }
                }
            }

            if (*p++ != 'Z') {
                return AC_ERR_INVALID;
            }
        }

        if (*p != '\0' || y < 1970 || h > 23 || mi > 59 || sec > 59) {
            return AC_ERR_INVALID;
        }

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;

        t = timegm(&tm);

        /* timegm normalises "02-30": refuse dates that do not exist */
        if (t == (time_t) -1 || gmtime_r(&t, &back) == NULL
            || back.tm_mon != mo - 1 || back.tm_mday != d)
        {
            return AC_ERR_INVALID;
        }

        *ms = (int64_t) t * 1000 + frac;
        return AC_OK;
    }

    if (ac_parse_duration(s, &dur) != AC_OK || dur < 0
        || dur > now_ms / 1000)
    {
        return AC_ERR_INVALID;
    }

    *ms = now_ms - dur * 1000;

    return AC_OK;
}


static int64_t
ctl_now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


/* "2026-11-23T10:00:00.123Z" */
static void
ctl_time_ms(int64_t ms, char *out, size_t size)
{
    time_t     t;
    size_t     n;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (ms < 0 || gmtime_r(&t, &tm) == NULL
        || (n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
    {
        snprintf(out, size, "-");
        return;
    }

    snprintf(out + n, size - n, ".%03dZ", (int) (ms % 1000));
}


/* ---------------------------------------------------------------- IPs */

static int
ctl_logs_ip_parse(const char *s, ctl_logs_filter_t *f)
{
    char           addr[AC_IP_MAX];
    char          *end;
    long           bits;
    size_t         len;
    const char    *slash;

    slash = strchr(s, '/');
    len = slash ? (size_t) (slash - s) : strlen(s);

    if (len == 0 || len >= sizeof(addr)) {
        return AC_ERR_INVALID;
    }

    memcpy(addr, s, len);
    addr[len] = '\0';

    if (inet_pton(AF_INET, addr, f->net) == 1) {
        f->family = AF_INET;
        f->prefix = 32;

    } else if (inet_pton(AF_INET6, addr, f->net) == 1) {
        f->family = AF_INET6;
        f->prefix = 128;

    } else {
        return AC_ERR_INVALID;
    }

    if (slash != NULL) {
        errno = 0;
        bits = strtol(slash + 1, &end, 10);

        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno != 0
            || bits < 0 || bits > (long) f->prefix)
        {
            return AC_ERR_INVALID;
        }

        f->prefix = (unsigned) bits;
    }

    return AC_OK;
}


static int
ctl_logs_ip_match(const ctl_logs_filter_t *f, const char *ip)
{
    unsigned       full, rest;
    unsigned char  a[16];

    if (inet_pton(f->family, ip, a) != 1) {
        return 0;
    }

    full = f->prefix / 8;
    rest = f->prefix % 8;

    if (memcmp(a, f->net, full) != 0) {
        return 0;
    }

    return rest == 0
           || ((a[full] ^ f->net[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}


/* --------------------------------------------------------------- logs */

static int
ctl_logs_options(ctl_t *ctl, ctl_logs_t *lg)
{
    int                 i;
    char               *end;
    int64_t             now;
    unsigned long long  n;
    char                email[AC_EMAIL_MAX + 1];
    ac_account_t        a;
    ac_event_kind_t     kind;
    const ctl_opt_t    *o;
    ctl_logs_filter_t  *f;

    f = &lg->f;
    f->result = -1;
    f->since_ms = -1;
    f->until_ms = -1;
    now = ctl_now_ms();

    lg->format = ctl_has_opt(ctl, "json") ? CTL_FMT_JSON
                 : ctl_has_opt(ctl, "csv") ? CTL_FMT_CSV : CTL_FMT_TABLE;
    lg->follow = ctl_has_opt(ctl, "follow");

    if (ctl_has_opt(ctl, "json") && ctl_has_opt(ctl, "csv")) {
        return ctl_fail(CTL_EXIT_USAGE, "--json and --csv exclude each"
                        " other");
    }

    if (lg->follow && (ctl_has_opt(ctl, "until") || ctl_has_opt(ctl, "limit")))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--follow does not go with --until"
                        " or --limit");
    }

    o = ctl_opt(ctl, "event");
    for (i = 0; o != NULL && i < o->count; i++) {
        if (ac_event_parse(o->values[i], strlen(o->values[i]), &kind)
            != AC_OK)
        {
            return ctl_fail(CTL_EXIT_USAGE, "unknown event (the events are"
                            " listed in docs/SECURITY-TEAM.md)");
        }
        f->events |= 1u << kind;
    }

    o = ctl_opt(ctl, "result");
    if (o != NULL) {
        if (o->count > 1 || (strcmp(o->values[0], "ok") != 0
                             && strcmp(o->values[0], "fail") != 0))
        {
            return ctl_fail(CTL_EXIT_USAGE, "--result is ok or fail");
        }
        f->result = strcmp(o->values[0], "fail") == 0;
    }

    o = ctl_opt(ctl, "partner");
    if (o != NULL) {
        if (o->count > 1 || ac_partner_id_check(o->values[0]) != AC_OK) {
            return ctl_fail(CTL_EXIT_USAGE, "invalid partner id");
        }
        f->partner = o->values[0];
    }

    o = ctl_opt(ctl, "ip");
    if (o != NULL) {
        if (o->count > 1 || ctl_logs_ip_parse(o->values[0], f) != AC_OK) {
            return ctl_fail(CTL_EXIT_USAGE, "--ip takes an IP address or"
                            " a CIDR block");
        }
    }

    o = ctl_opt(ctl, "email");
    if (o != NULL) {
        if (o->count > 1
            || ac_email_normalize(o->values[0], strlen(o->values[0]),
                                  f->email)
               != AC_OK)
        {
            return ctl_fail(CTL_EXIT_USAGE, "invalid email");
        }
    }

    o = ctl_opt(ctl, "since");
    if (o != NULL
        && (o->count > 1 || ctl_logs_time(o->values[0], now, &f->since_ms)
                            != AC_OK))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--since takes 2026-11-23,"
                        " 2026-11-23T10:00:00Z or a duration such as 24h");
    }

    o = ctl_opt(ctl, "until");
    if (o != NULL
        && (o->count > 1 || ctl_logs_time(o->values[0], now, &f->until_ms)
                            != AC_OK))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--until takes 2026-11-23,"
                        " 2026-11-23T10:00:00Z or a duration such as 24h");
    }

    o = ctl_opt(ctl, "limit");
    if (o != NULL) {
        errno = 0;
        n = strtoull(o->values[0], &end, 10);

        if (o->count > 1 || o->values[0][0] < '0' || o->values[0][0] > '9'
            || *end != '\0' || errno != 0 || n == 0)
        {
            return ctl_fail(CTL_EXIT_USAGE, "--limit takes a positive"
                            " number");
        }
        f->limit = n;
    }

    o = ctl_opt(ctl, "account");
    if (o != NULL) {
        if (o->count > 1) {
            return ctl_fail(CTL_EXIT_USAGE, "--account given twice");
        }

        if (strchr(o->values[0], '@') != NULL) {
            if (ctl_email_arg(o->values[0], email) != CTL_EXIT_OK) {
                return CTL_EXIT_USAGE;
            }

            /* the account's entries, whatever email they were typed as */
            if (ctl_account_find(ctl, email, &a) != CTL_EXIT_OK) {
                return CTL_EXIT_FAIL;
            }

            memcpy(f->account_id, a.id, sizeof(a.id));
            ac_cleanse(&a, sizeof(a));

        } else {
            if (strlen(o->values[0]) != AC_ID_LEN) {
                return ctl_fail(CTL_EXIT_USAGE, "--account takes an account"
                                " id, a log pseudonym or an email");
            }
            memcpy(f->account_id, o->values[0], AC_ID_LEN + 1);
        }

        /* its entries name its pseudonym: resolved to the id */
        if (ctl_lk_account(ctl, &lg->cache, f->account_id, f->account_id)
            != CTL_EXIT_OK)
        {
            return CTL_EXIT_FAIL;
        }

        f->account = f->account_id;
    }

    return CTL_EXIT_OK;
}


/* Filters; "personal" adds the email and IP, known once opened. */
static int
ctl_logs_match(const ctl_logs_filter_t *f, const ac_log_entry_t *e,
    int personal)
{
    ac_event_kind_t  kind;

    if (!personal) {
        if (f->events != 0
            && (ac_event_parse(e->event, strlen(e->event), &kind) != AC_OK
                || !(f->events & (1u << kind))))
        {
            return 0;
        }

        return (f->result < 0 || f->result == e->failed)
               && (f->account == NULL || strcmp(f->account, e->account) == 0)
               && (f->partner == NULL || strcmp(f->partner, e->partner) == 0);
    }

    if (f->email[0] != '\0'
        && (e->erased || strcasecmp(f->email, e->email) != 0))
    {
        return 0;
    }

    return f->family == 0 || (!e->erased && ctl_logs_ip_match(f, e->ip));
}


static int
ctl_logs_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    int          rc;
    ctl_logs_t  *lg;

    lg = data;

    rc = ctl_lk_parse(&lg->cache, entry, &lg->e);
    if (rc == AC_ERR_REDIS) {
        lg->malformed++;
        return 0;
    }

    if (lg->follow) {
        memcpy(lg->last_id, lg->e.id, sizeof(lg->last_id));
    }

    if (!ctl_logs_match(&lg->f, &lg->e, 0)
        || !ctl_logs_match(&lg->f, &lg->e, 1))
    {
        return 0;
    }

    switch (lg->format) {

    case CTL_FMT_JSON:
        ctl_logs_json(&lg->out, &lg->e);
        break;

    case CTL_FMT_CSV:
        ctl_logs_csv(&lg->out, &lg->e);
        break;

    default:
        ctl_logs_table_add(lg);
    }

    lg->count++;

    /* JSON and CSV stream out; a table is measured first */
    if (lg->format != CTL_FMT_TABLE && lg->out.len >= 65536
        && ctl_logs_flush(lg) != CTL_EXIT_OK)
    {
        return -1;
    }

    if (ac_buf_status(&lg->out) != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "out of memory");
        return -1;
    }

    return lg->f.limit != 0 && lg->count >= lg->f.limit;
}


static void
ctl_logs_cells(const ac_log_entry_t *e, const char *cells[CTL_LOGS_COLS],
    char *time, size_t size, char *ua)
{
    size_t       i, n, chars;
    const char  *s;

    ctl_time_ms(e->time_ms, time, size);

    /* the user agent is cut to CTL_LOGS_UA_COLS characters */
    chars = 0;
    n = 0;
    for (s = e->ua; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xc0) != 0x80 && ++chars > CTL_LOGS_UA_COLS)
        {
            break;
        }
        n++;
    }

    memcpy(ua, e->ua, n);
    if (*s != '\0') {
        memcpy(ua + n, "...", 4);
    } else {
        ua[n] = '\0';
    }

    cells[0] = time;
    cells[1] = e->event;
    cells[2] = e->failed ? "fail" : "ok";
    cells[3] = e->reason;
    cells[4] = e->account;
    cells[5] = e->email;
    cells[6] = e->ip;
    cells[7] = e->partner;
    cells[8] = e->session;
    cells[9] = ua;

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        if (cells[i][0] == '\0') {
            cells[i] = "-";
        }
    }
}


/* Rows are kept as NUL-terminated cells in one buffer. */
static void
ctl_logs_table_add(ctl_logs_t *lg)
{
    size_t       i, w;
    const char  *cells[CTL_LOGS_COLS];
    char         time[CTL_LOGS_TIME_MAX], ua[AC_LOG_UA_MAX + 4];

    ctl_logs_cells(&lg->e, cells, time, sizeof(time), ua);

    if (lg->follow) {
        ctl_logs_table_line(&lg->out, cells, ctl_logs_follow_width);
        return;
    }

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        w = ctl_utf8_width(cells[i]);
        if (w > lg->width[i]) {
            lg->width[i] = w;
        }
        ac_buf_add(&lg->out, cells[i], strlen(cells[i]) + 1);
    }

    lg->rows++;
}


static int
ctl_logs_table_print(ctl_logs_t *lg)
{
    size_t       i, r;
    ac_buf_t     line;
    const char  *cells[CTL_LOGS_COLS], *p;

    if (lg->rows == 0) {
        return CTL_EXIT_OK;
    }

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        if (strlen(ctl_logs_head[i]) > lg->width[i]) {
            lg->width[i] = strlen(ctl_logs_head[i]);
        }
    }

    ac_buf_init(&line);
    ctl_logs_table_line(&line, ctl_logs_head, lg->width);
    fputs(line.data != NULL ? line.data : "", stdout);

    p = lg->out.data;

    for (r = 0; r < lg->rows; r++) {
        for (i = 0; i < CTL_LOGS_COLS; i++) {
            cells[i] = p;
            p += strlen(p) + 1;
        }

        ac_buf_reset(&line);
        ctl_logs_table_line(&line, cells, lg->width);

        if (ac_buf_status(&line) != AC_OK) {
            ac_buf_free(&line);
            return ctl_fail(CTL_EXIT_FAIL, "out of memory");
        }

        fwrite(line.data, 1, line.len, stdout);
    }

    ac_buf_free(&line);

    return CTL_EXIT_OK;
}


static void
ctl_logs_table_line(ac_buf_t *b, const char **cells, const size_t *width)
{
    size_t  i, w;

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        ac_buf_str(b, cells[i]);

        if (i + 1 == CTL_LOGS_COLS) {
            break;
        }

        for (w = ctl_utf8_width(cells[i]); w < width[i] + 2; w++) {
            ac_buf_add(b, " ", 1);
        }
    }

    ac_buf_add(b, "\n", 1);
}


/* Characters, not bytes, so that accented emails keep columns aligned. */
static size_t
ctl_utf8_width(const char *s)
{
    size_t  n;

    for (n = 0; *s != '\0'; s++) {
        n += ((unsigned char) *s & 0xc0) != 0x80;
    }

    return n;
}


static void
ctl_json_opt(ac_buf_t *b, const char *key, const char *s)
{
    ctl_json_key(b, key, 0);

    if (s[0] == '\0') {
        ac_buf_str(b, "null");

    } else {
        ctl_json_str(b, s);
    }
}


/* One JSON object per line, every field (null when absent). */
static void
ctl_logs_json(ac_buf_t *b, const ac_log_entry_t *e)
{
    char  time[CTL_LOGS_TIME_MAX];

    ctl_time_ms(e->time_ms, time, sizeof(time));

    ac_buf_str(b, "{");
    ctl_json_key(b, "id", 1);
    ctl_json_str(b, e->id);
    ctl_json_key(b, "seq", 0);
    ac_buf_printf(b, "%llu", (unsigned long long) e->seq);
    ctl_json_key(b, "time", 0);
    ctl_json_str(b, time);
    ctl_json_key(b, "time_ms", 0);
    ac_buf_printf(b, "%lld", (long long) e->time_ms);
    ctl_json_opt(b, "event", e->event);
    ctl_json_opt(b, "result", e->failed ? "fail" : "ok");
    ctl_json_opt(b, "reason", e->reason);
    ctl_json_opt(b, "account", e->account);
    ctl_json_opt(b, "email", e->email);
    ctl_json_opt(b, "ip", e->ip);
    ctl_json_opt(b, "user_agent", e->ua);
    ctl_json_opt(b, "partner", e->partner);
    ctl_json_opt(b, "session", e->session);
    ctl_json_key(b, "erased", 0);
    ac_buf_str(b, e->erased ? "true" : "false");
    ctl_json_opt(b, "hash", e->hash);
    ac_buf_str(b, "}\n");
}


static void
ctl_logs_csv_head(ac_buf_t *b)
{
    ac_buf_str(b, "id,seq,time,event,result,reason,account,email,ip,"
               "user_agent,partner,session,erased\r\n");
}


/* RFC 4180: CRLF line ends, quoted fields, quotes doubled. */
static void
ctl_logs_csv(ac_buf_t *b, const ac_log_entry_t *e)
{
    char  time[CTL_LOGS_TIME_MAX], seq[24];

    ctl_time_ms(e->time_ms, time, sizeof(time));
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long) e->seq);

    ctl_csv_cell(b, e->id, 0);
    ctl_csv_cell(b, seq, 0);
    ctl_csv_cell(b, time, 0);
    ctl_csv_cell(b, e->event, 0);
    ctl_csv_cell(b, e->failed ? "fail" : "ok", 0);
    ctl_csv_cell(b, e->reason, 0);
    ctl_csv_cell(b, e->account, 0);
    ctl_csv_cell(b, e->email, 0);
    ctl_csv_cell(b, e->ip, 0);
    ctl_csv_cell(b, e->ua, 0);
    ctl_csv_cell(b, e->partner, 0);
    ctl_csv_cell(b, e->session, 0);
    ctl_csv_cell(b, e->erased ? "true" : "false", 1);
}


static void
ctl_csv_cell(ac_buf_t *b, const char *s, int last)
{
    int          formula;
    const char  *p;

    /*
     * A typed email or user agent starting with = + - @ would run as a
     * formula in a spreadsheet: a leading ' keeps it text.
     */
    formula = s[0] != '\0' && strchr("=+-@", s[0]) != NULL;

    if (formula || strpbrk(s, ",\"\r\n") != NULL) {
        ac_buf_add(b, "\"", 1);

        if (formula) {
            ac_buf_add(b, "'", 1);
        }

        for (p = s; *p != '\0'; p++) {
            ac_buf_add(b, p, 1);
            if (*p == '"') {
                ac_buf_add(b, "\"", 1);
            }
        }

        ac_buf_add(b, "\"", 1);

    } else {
        ac_buf_str(b, s);
    }

    ac_buf_str(b, last ? "\r\n" : ",");
}


static int
ctl_logs_flush(ctl_logs_t *lg)
{
    if (ac_buf_status(&lg->out) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    if (lg->out.len > 0
        && fwrite(lg->out.data, 1, lg->out.len, stdout) != lg->out.len)
    {
        return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                        strerror(errno));
    }

    ac_buf_reset(&lg->out);

    return CTL_EXIT_OK;
}


static void
ctl_logs_sigint(int sig)
{
    ctl_logs_stop = 1;
}


/*
 * XREAD BLOCK from the last entry seen, a second at a time so that
 * SIGINT is noticed; ends with status 0 on SIGINT or SIGTERM.
 */
static int
ctl_logs_follow(ctl_t *ctl, ctl_logs_t *lg)
{
    int                 rc;
    size_t              i;
    char                key[AC_KEY_MAX];
    ac_cmd_t            cmd;
    redisReply         *r;
    const redisReply   *entries;
    struct sigaction    sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ctl_logs_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (ac_key(ctl->cfg, AC_K_LOG, NULL, key) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "key_prefix too long");
    }

    while (!ctl_logs_stop) {
        if (ctl_logs_flush(lg) != CTL_EXIT_OK) {
            return CTL_EXIT_FAIL;
        }

        if (fflush(stdout) != 0) {
            return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                            strerror(errno));
        }

        ac_cmd_init(&cmd);
        ac_cmd_str(&cmd, "XREAD");
        ac_cmd_str(&cmd, "COUNT");
        ac_cmd_int(&cmd, CTL_LOGS_BATCH);
        ac_cmd_str(&cmd, "BLOCK");
        ac_cmd_int(&cmd, CTL_LOGS_BLOCK_MS);
        ac_cmd_str(&cmd, "STREAMS");
        ac_cmd_copy(&cmd, key, strlen(key));
        ac_cmd_copy(&cmd, lg->last_id, strlen(lg->last_id));

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            return ctl_logs_stop ? CTL_EXIT_OK : CTL_EXIT_FAIL;
        }

        if (r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            continue;
        }

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
            || r->element[0]->type != REDIS_REPLY_ARRAY
            || r->element[0]->elements != 2
            || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
        {
            freeReplyObject(r);
            return ctl_fail(CTL_EXIT_FAIL, "unexpected XREAD reply");
        }

        entries = r->element[0]->element[1];

        if (ctl_lk_prefetch(ctl, &lg->cache, entries) != 0) {
            freeReplyObject(r);
            return CTL_EXIT_FAIL;
        }

        for (i = 0; i < entries->elements; i++) {
            rc = ctl_logs_each(ctl, lg, entries->element[i]);
            if (rc < 0) {
                freeReplyObject(r);
                return CTL_EXIT_FAIL;
            }
        }

        freeReplyObject(r);
    }

    return ctl_logs_flush(lg);
}


/*
 * guichetctl logs: newest first, or oldest first with --follow (the
 * entries since --since, then new ones as they come).
 */
int
ctl_cmd_logs(ctl_t *ctl)
{
    int          rc;
    char         lo[32], hi[32], key[AC_KEY_MAX];
    ac_cmd_t     cmd;
    redisReply  *r;
    ctl_logs_t  *lg;
    static char  outbuf[1 << 16];

    lg = calloc(1, sizeof(ctl_logs_t));
    if (lg == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    ac_buf_init(&lg->out);
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));

    rc = ctl_logs_options(ctl, lg);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

    snprintf(lo, sizeof(lo), "%s", "-");
    snprintf(hi, sizeof(hi), "%s", "+");

    if (lg->f.since_ms >= 0) {
        snprintf(lo, sizeof(lo), "%lld", (long long) lg->f.since_ms);
    }

    /* --until is exclusive: the last millisecond before it */
    if (lg->f.until_ms >= 0) {
        if (lg->f.until_ms <= lg->f.since_ms || lg->f.until_ms == 0) {
            goto print;
        }
        snprintf(hi, sizeof(hi), "%lld", (long long) lg->f.until_ms - 1);
    }

    if (lg->format == CTL_FMT_CSV) {
        ctl_logs_csv_head(&lg->out);
    }

    if (lg->follow) {
        if (lg->format == CTL_FMT_TABLE) {
            ctl_logs_table_line(&lg->out, ctl_logs_head,
                                ctl_logs_follow_width);
        }

        /* start after the last entry now, so that none slips by */
        snprintf(lg->last_id, sizeof(lg->last_id), "0-0");

        if (lg->f.since_ms < 0) {
            rc = ac_key(ctl->cfg, AC_K_LOG, NULL, key);
            ac_cmd_init(&cmd);
            ac_cmd_str(&cmd, "XREVRANGE");
            ac_cmd_copy(&cmd, key, strlen(key));
            ac_cmd_str(&cmd, "+");
            ac_cmd_str(&cmd, "-");
            ac_cmd_str(&cmd, "COUNT");
            ac_cmd_str(&cmd, "1");

            r = rc == AC_OK ? ctl_redis_run(ctl, &cmd) : NULL;
            if (r == NULL) {
                rc = CTL_EXIT_FAIL;
                goto done;
            }

            if (r->type == REDIS_REPLY_ARRAY && r->elements == 1
                && r->element[0]->type == REDIS_REPLY_ARRAY
                && r->element[0]->elements == 2
                && r->element[0]->element[0]->type == REDIS_REPLY_STRING
                && r->element[0]->element[0]->len < AC_LOG_ID_MAX)
            {
                memcpy(lg->last_id, r->element[0]->element[0]->str,
                       r->element[0]->element[0]->len + 1);
            }

            freeReplyObject(r);

        } else {
            rc = ctl_logs_walk(ctl, 0, lo, "+", &lg->cache, ctl_logs_each,
                               lg);
            if (rc != CTL_EXIT_OK) {
                goto done;
            }
        }

        rc = ctl_logs_follow(ctl, lg);
        goto done;
    }

    rc = ctl_logs_walk(ctl, 1, lo, hi, &lg->cache, ctl_logs_each, lg);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

print:

    if (lg->format == CTL_FMT_TABLE) {
        rc = ctl_logs_table_print(lg);

    } else {
        rc = ctl_logs_flush(lg);
    }

    if (rc == CTL_EXIT_OK && lg->malformed > 0) {
        fflush(stdout);
        fprintf(stderr, "guichetctl: %llu malformed entries skipped;"
                " \"guichetctl logs verify\" tells where\n",
                (unsigned long long) lg->malformed);
    }

done:

    ctl_lk_free(&lg->cache);
    ac_buf_free(&lg->out);
    ac_cleanse(&lg->e, sizeof(lg->e));
    free(lg);

    return rc;
}


/* ------------------------------------------------------------- verify */

static int
ctl_verify_get(ctl_t *ctl, int checkpoint, uint64_t *seq,
    unsigned char hash[AC_MAC_LEN])
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;

    rc = checkpoint ? ac_cmd_log_checkpoint(&cmd, ctl->cfg)
                    : ac_cmd_log_head(&cmd, ctl->cfg);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_log_head_parse(r, seq, hash);
    freeReplyObject(r);

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "the log %s is malformed (it should"
                        " read \"SEQ HASH\")",
                        checkpoint ? "checkpoint" : "head");
    }

    return CTL_EXIT_OK;
}


static int
ctl_verify_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    int            rc;
    uint64_t       seq;
    ctl_verify_t  *v;
    unsigned char  hash[AC_MAC_LEN];

    v = data;
    v->n++;

    if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2
        && entry->element[0]->type == REDIS_REPLY_STRING
        && entry->element[0]->len < AC_LOG_ID_MAX)
    {
        memcpy(v->last_id, entry->element[0]->str,
               entry->element[0]->len + 1);
    }

    rc = ac_log_verify_entry(ctl->keys, v->seq, v->hash, entry, &seq, hash);

    if (rc == AC_ERR_REDIS) {
        seq = v->seq + 1;
        memcpy(hash, v->hash, AC_MAC_LEN);
    }

    if (rc != AC_OK) {
        if (v->bad++ == 0) {
            v->bad_seq = seq;
            memcpy(v->bad_id, v->last_id, sizeof(v->bad_id));
            v->problem = rc == AC_ERR_REDIS
                         ? "not a log entry"
                         : seq != v->seq + 1
                         ? "out of sequence: an entry before it was"
                           " deleted, or it was inserted or moved"
                         : "hash mismatch: the entry was edited, inserted"
                           " or moved";
        }
    }

    v->seq = seq;
    memcpy(v->hash, hash, AC_MAC_LEN);

    if (seq == v->head_seq && !v->head_seen) {
        v->head_seen = 1;
        v->head_ok = CRYPTO_memcmp(hash, v->head, AC_MAC_LEN) == 0;
    }

    return 0;
}


/*
 * guichetctl logs verify: the chain from the checkpoint, then the head.
 * The head is read first, so entries appended meanwhile only extend the
 * walk.
 */
int
ctl_cmd_logs_verify(ctl_t *ctl)
{
    int           rc, intact;
    uint64_t      cp_seq;
    ac_buf_t      b;
    ctl_verify_t  v;
    char          head[AC_LOG_HASH_LEN + 1], bad[256];
    unsigned char cp[AC_MAC_LEN];

    memset(&v, 0, sizeof(v));

    rc = ctl_verify_get(ctl, 1, &cp_seq, cp);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    rc = ctl_verify_get(ctl, 0, &v.head_seq, v.head);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    v.seq = cp_seq;
    memcpy(v.hash, cp, AC_MAC_LEN);

    if (v.head_seq == cp_seq) {
        v.head_seen = 1;
        v.head_ok = CRYPTO_memcmp(cp, v.head, AC_MAC_LEN) == 0;
    }

    rc = ctl_logs_walk(ctl, 0, "-", "+", NULL, ctl_verify_each, &v);
    if (rc != CTL_EXIT_OK) {
        return rc;
    }

    bad[0] = '\0';

    if (v.bad == 0 && !v.head_ok) {
        v.bad = 1;

        if (v.head_seq == 0 && v.n > 0) {
            snprintf(bad, sizeof(bad), "the head (%slog:head) is missing",
                     ctl->cfg->key_prefix);

        } else if (v.head_seq > v.seq || !v.head_seen) {
            snprintf(bad, sizeof(bad), "the log ends at seq %llu (id %s)"
                     " but the head is seq %llu: entries were removed from"
                     " the end", (unsigned long long) v.seq,
                     v.last_id[0] ? v.last_id : "-",
                     (unsigned long long) v.head_seq);
            v.bad_seq = v.seq + 1;

        } else {
            snprintf(bad, sizeof(bad), "the entry at seq %llu does not"
                     " match the head", (unsigned long long) v.head_seq);
            v.bad_seq = v.head_seq;
        }

        v.problem = bad;
    }

    intact = v.bad == 0;

    ac_b64url_encode(v.head, AC_MAC_LEN, head);
    head[AC_LOG_HASH_LEN] = '\0';

    if (ctl->json) {
        ac_buf_init(&b);
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "entries", 1);
        ac_buf_printf(&b, "%llu", (unsigned long long) v.n);
        ctl_json_key(&b, "intact", 0);
        ac_buf_str(&b, intact ? "true" : "false");
        ctl_json_key(&b, "checkpoint_seq", 0);
        ac_buf_printf(&b, "%llu", (unsigned long long) cp_seq);
        ctl_json_key(&b, "head", 0);
        ac_buf_printf(&b, "\"%llu %s\"", (unsigned long long) v.head_seq,
                      head);

        if (!intact) {
            ctl_json_key(&b, "bad_entries", 0);
            ac_buf_printf(&b, "%llu", (unsigned long long) v.bad);
            ctl_json_key(&b, "first_bad", 0);
            ac_buf_str(&b, "{");
            ctl_json_key(&b, "seq", 1);
            ac_buf_printf(&b, "%llu", (unsigned long long) v.bad_seq);
            ctl_json_key(&b, "id", 0);
            if (v.bad_id[0] != '\0') {
                ctl_json_str(&b, v.bad_id);
            } else {
                ac_buf_str(&b, "null");
            }
            ctl_json_key(&b, "problem", 0);
            ctl_json_str(&b, v.problem);
            ac_buf_str(&b, "}");
        }

        ac_buf_str(&b, "}");
        rc = ctl_print_buf(&b);
        ac_buf_free(&b);

        if (rc != CTL_EXIT_OK) {
            return rc;
        }

        return intact ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }

    if (intact) {
        printf("%llu entries, chain intact\nhead: %llu %s\n",
               (unsigned long long) v.n, (unsigned long long) v.head_seq,
               head);
        return CTL_EXIT_OK;
    }

    printf("%llu entries, chain BROKEN (%llu bad)\n"
           "first bad position: seq %llu, stream id %s\n%s\n",
           (unsigned long long) v.n, (unsigned long long) v.bad,
           (unsigned long long) v.bad_seq,
           v.bad_id[0] != '\0' ? v.bad_id : "-", v.problem);

    return CTL_EXIT_FAIL;
}



/* ---------------------------------------------------------- anomalies */

/* The rules are authcore's (ac_anomaly_*); this feeds and prints them. */
typedef struct {
    ctl_lk_cache_t   cache;
    ac_anomaly_t    *an;
    ac_log_entry_t   e;
} ctl_anom_t;


static int
ctl_anom_each(ctl_t *ctl, void *data, const redisReply *entry)
{
    ctl_anom_t      *an;
    ac_log_entry_t  *e;

    an = data;
    e = &an->e;

    if (ctl_lk_parse(&an->cache, entry, e) != AC_OK) {
        return 0;
    }

    if (ac_anomaly_add(an->an, e) != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "out of memory");
        return -1;
    }

    return 0;
}


static int
ctl_anom_is_new(const ac_anomaly_finding_t *r)
{
    return strcmp(r->rule, "new_ip") == 0
           || strcmp(r->rule, "new_device") == 0;
}


static void
ctl_anom_print(ctl_t *ctl, ctl_anom_t *an, int64_t since, int64_t until,
    ac_buf_t *b)
{
    size_t                 i, k, n;
    char                   t1[CTL_LOGS_TIME_MAX], t2[CTL_LOGS_TIME_MAX];
    const char            *cells[6];
    ctl_table_t            table;
    ac_config_t           *cfg;
    ac_buf_t               d;
    ac_anomaly_finding_t   r;
    static const char     *head[6] = {
        "RULE", "SUBJECT", "COUNT", "FROM", "TO", "DETAILS"
    };

    cfg = ctl->cfg;
    n = ac_anomaly_count(an->an);

    if (ctl->json) {
        ctl_time_ms(since, t1, sizeof(t1));
        ctl_time_ms(until, t2, sizeof(t2));

        ac_buf_str(b, "{");
        ctl_json_key(b, "since", 1);
        ctl_json_str(b, t1);
        ctl_json_key(b, "until", 0);
        ctl_json_str(b, t2);
        ctl_json_key(b, "events_scanned", 0);
        ac_buf_printf(b, "%zu", ac_anomaly_events(an->an));
        ctl_json_key(b, "thresholds", 0);
        ac_buf_printf(b, "{\"window_seconds\":%lld,\"ip_failures\":%u,"
                      "\"account_failures\":%u,"
                      "\"second_factor_failures\":%u,\"ip_accounts\":%u,"
                      "\"partner_failures\":%u}",
                      (long long) cfg->anomaly_window,
                      cfg->anomaly_ip_failures,
                      cfg->anomaly_account_failures,
                      cfg->anomaly_second_factor_failures,
                      cfg->anomaly_ip_accounts,
                      cfg->anomaly_partner_failures);
        ctl_json_key(b, "anomalies", 0);
        ac_buf_str(b, "[");

        for (i = 0; ac_anomaly_get(an->an, i, &r) == AC_OK; i++) {
            ctl_time_ms(r.first_ms, t1, sizeof(t1));
            ctl_time_ms(r.last_ms, t2, sizeof(t2));

            ac_buf_str(b, i ? ",{" : "{");
            ctl_json_key(b, "rule", 1);
            ctl_json_str(b, r.rule);
            ctl_json_key(b, r.subject_kind, 0);
            ctl_json_str(b, r.subject);
            ctl_json_key(b, "count", 0);
            ac_buf_printf(b, "%llu", (unsigned long long) r.count);
            ctl_json_key(b, "first", 0);
            ctl_json_str(b, t1);
            ctl_json_key(b, "last", 0);
            ctl_json_str(b, t2);

            if (ctl_anom_is_new(&r)) {
                ctl_json_key(b, "ip", 0);
                ctl_json_str(b, r.ip);
                ctl_json_key(b, "user_agent", 0);
                ctl_json_str(b, r.ua);

            } else {
                ctl_json_key(b, strcmp(r.details_kind, "ip") == 0
                                ? "ips" : "accounts", 0);
                ac_buf_str(b, "[");
                for (k = 0; k < r.ndetails; k++) {
                    if (k) {
                        ac_buf_str(b, ",");
                    }
                    ctl_json_str(b, r.details[k]);
                }
                ac_buf_str(b, "]");
                ctl_json_key(b, "more", 0);
                ac_buf_printf(b, "%llu", (unsigned long long) r.more);
            }

            ac_buf_str(b, "}");
        }

        ac_buf_str(b, "]}");
        return;
    }

    ctl_table_init(&table, head, 6);
    ac_buf_init(&d);

    for (i = 0; ac_anomaly_get(an->an, i, &r) == AC_OK; i++) {
        ctl_time_ms(r.first_ms, t1, sizeof(t1));
        ctl_time_ms(r.last_ms, t2, sizeof(t2));

        ac_buf_reset(&d);

        if (ctl_anom_is_new(&r)) {
            ac_buf_printf(&d, "ip: %s", r.ip);
            if (r.ua[0] != '\0') {
                ac_buf_printf(&d, " ua: %s", r.ua);
            }

        } else {
            ac_buf_printf(&d, "%s:", strcmp(r.details_kind, "ip") == 0
                                     ? "ips" : "accounts");
            for (k = 0; k < r.ndetails; k++) {
                ac_buf_printf(&d, "%s%s", k ? "," : " ", r.details[k]);
            }
        }

        if (r.more > 0) {
            ac_buf_printf(&d, " (+%llu more)", (unsigned long long) r.more);
        }

        ac_buf_printf(b, "%llu", (unsigned long long) r.count);

        cells[0] = r.rule;
        cells[1] = r.subject;
        cells[2] = b->data;
        cells[3] = t1;
        cells[4] = t2;
        cells[5] = d.data != NULL ? d.data : "";

        if (ac_buf_status(&d) != AC_OK || ac_buf_status(b) != AC_OK
            || ctl_table_row(&table, cells) != AC_OK)
        {
            b->oom = 1;
            break;
        }

        ac_buf_reset(b);
    }

    if (n == 0) {
        printf("no anomalies in %zu authentication events\n",
               ac_anomaly_events(an->an));

    } else if (!b->oom) {
        ctl_table_print(&table, stdout);
    }

    ctl_table_free(&table);
    ac_buf_free(&d);
    ac_buf_reset(b);
}


/*
 * guichetctl logs anomalies: scans --since (24h) to now, oldest first,
 * then applies the rules to the events kept.
 */
int
ctl_cmd_logs_anomalies(ctl_t *ctl)
{
    int                rc;
    int64_t            now, since;
    char               lo[32];
    ac_buf_t           b;
    ctl_anom_t        *an;
    const ctl_opt_t   *o;

    now = ctl_now_ms();
    since = now - (int64_t) CTL_ANOM_SINCE * 1000;

    o = ctl_opt(ctl, "since");
    if (o != NULL
        && (o->count > 1 || ctl_logs_time(o->values[0], now, &since)
                            != AC_OK))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--since takes 2026-11-23,"
                        " 2026-11-23T10:00:00Z or a duration such as 24h");
    }

    an = calloc(1, sizeof(ctl_anom_t));
    if (an == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    ac_buf_init(&b);

    if (ac_anomaly_new(ctl->cfg, &an->an) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    snprintf(lo, sizeof(lo), "%lld", (long long) since);

    rc = ctl_logs_walk(ctl, 0, lo, "+", &an->cache, ctl_anom_each, an);
    if (rc != CTL_EXIT_OK) {
        goto done;
    }

    if (ac_anomaly_run(an->an) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    ctl_anom_print(ctl, an, since, now, &b);

    if (ctl->json) {
        rc = ctl_print_buf(&b);

    } else if (ac_buf_status(&b) != AC_OK) {
        rc = ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

done:

    ctl_lk_free(&an->cache);
    ac_anomaly_free(an->an);
    ac_buf_free(&b);
    ac_cleanse(&an->e, sizeof(an->e));
    free(an);

    return rc;
}
