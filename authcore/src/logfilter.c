/*
 * The one filter over connection log entries: read from options as an
 * operator types them ("guichetctl logs", the admin page, the export),
 * matched against parsed entries.
 */

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"


static int ac_log_filter_ip(ac_log_filter_t *f, const char *s, size_t len);
static int ac_log_filter_events(ac_log_filter_t *f, const char *s,
    size_t len);
static int ac_log_filter_ip_match(const ac_log_filter_t *f, const char *ip);


void
ac_log_filter_init(ac_log_filter_t *f)
{
    memset(f, 0, sizeof(ac_log_filter_t));
    f->result = -1;
    f->since_ms = -1;
    f->until_ms = -1;
}


int
ac_log_filter_set(ac_log_filter_t *f, const char *name, const char *value,
    size_t len, int64_t now_ms)
{
    if (f == NULL || name == NULL || value == NULL || len == 0
        || memchr(value, '\0', len) != NULL)
    {
        return AC_ERR_INVALID;
    }

    if (strcmp(name, "event") == 0) {
        return ac_log_filter_events(f, value, len);
    }

    if (strcmp(name, "account") == 0) {
        if (f->account[0] != '\0') {
            return AC_ERR_EXISTS;
        }

        if (len != AC_ID_LEN
            || (ac_log_account_check(value, len) != AC_OK
                && ac_log_pseudonym_check(value, len) != AC_OK))
        {
            return AC_ERR_INVALID;
        }

        memcpy(f->account, value, len);
        f->account[len] = '\0';
        return AC_OK;
    }

    if (strcmp(name, "email") == 0) {
        if (f->email[0] != '\0') {
            return AC_ERR_EXISTS;
        }

        return ac_email_normalize(value, len, f->email) == AC_OK
               ? AC_OK : AC_ERR_INVALID;
    }

    if (strcmp(name, "ip") == 0) {
        return f->family != 0 ? AC_ERR_EXISTS
                              : ac_log_filter_ip(f, value, len);
    }

    if (strcmp(name, "result") == 0) {
        if (f->result >= 0) {
            return AC_ERR_EXISTS;
        }

        if (len == 2 && memcmp(value, "ok", 2) == 0) {
            f->result = 0;

        } else if (len == 4 && memcmp(value, "fail", 4) == 0) {
            f->result = 1;

        } else {
            return AC_ERR_INVALID;
        }

        return AC_OK;
    }

    if (strcmp(name, "partner") == 0) {
        if (f->partner[0] != '\0') {
            return AC_ERR_EXISTS;
        }

        if (len > AC_PARTNER_ID_MAX) {
            return AC_ERR_INVALID;
        }

        memcpy(f->partner, value, len);
        f->partner[len] = '\0';

        if (ac_partner_id_check(f->partner) != AC_OK) {
            f->partner[0] = '\0';
            return AC_ERR_INVALID;
        }

        return AC_OK;
    }

    if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0) {
        int64_t  *ms;

        ms = name[0] == 's' ? &f->since_ms : &f->until_ms;

        if (*ms >= 0) {
            return AC_ERR_EXISTS;
        }

        return ac_log_time_parse(value, len, now_ms, ms);
    }

    return AC_ERR_NOT_FOUND;
}


/* "login.success", or several joined by ','; each call adds to the set. */
static int
ac_log_filter_events(ac_log_filter_t *f, const char *s, size_t len)
{
    size_t           n;
    const char      *end, *comma;
    ac_event_kind_t  kind;
    uint32_t         events;

    events = 0;
    end = s + len;

    while (s < end) {
        comma = memchr(s, ',', end - s);
        n = (comma ? comma : end) - s;

        if (ac_event_parse(s, n, &kind) != AC_OK) {
            return AC_ERR_INVALID;
        }

        events |= 1u << kind;
        s += n + (comma != NULL);

        if (comma != NULL && s == end) {
            return AC_ERR_INVALID;
        }
    }

    f->events |= events;

    return AC_OK;
}


/* An IPv4 or IPv6 address, or a CIDR block "ADDR/BITS". */
static int
ac_log_filter_ip(ac_log_filter_t *f, const char *s, size_t len)
{
    size_t       alen, i;
    unsigned     bits, max;
    const char  *slash;
    char         addr[AC_IP_MAX];

    slash = memchr(s, '/', len);
    alen = slash ? (size_t) (slash - s) : len;

    if (alen == 0 || alen >= sizeof(addr)) {
        return AC_ERR_INVALID;
    }

    memcpy(addr, s, alen);
    addr[alen] = '\0';

    if (inet_pton(AF_INET, addr, f->net) == 1) {
        f->family = AF_INET;
        max = 32;

    } else if (inet_pton(AF_INET6, addr, f->net) == 1) {
        f->family = AF_INET6;
        max = 128;

    } else {
        return AC_ERR_INVALID;
    }

    f->prefix = max;

    if (slash != NULL) {
        bits = 0;

        for (i = alen + 1; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || i - alen > 3) {
                goto invalid;
            }

            bits = bits * 10 + (s[i] - '0');
        }

        if (i == alen + 1 || bits > max) {
            goto invalid;
        }

        f->prefix = bits;
    }

    return AC_OK;

invalid:

    f->family = 0;
    return AC_ERR_INVALID;
}


static int
ac_log_filter_ip_match(const ac_log_filter_t *f, const char *ip)
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


int
ac_log_filter_match(const ac_log_filter_t *f, const ac_log_entry_t *e)
{
    ac_event_kind_t  kind;

    if (f->events != 0
        && (ac_event_parse(e->event, strlen(e->event), &kind) != AC_OK
            || !(f->events & (1u << kind))))
    {
        return 0;
    }

    if ((f->result >= 0 && f->result != (e->failed != 0))
        || (f->account[0] != '\0' && strcmp(f->account, e->account) != 0)
        || (f->partner[0] != '\0' && strcmp(f->partner, e->partner) != 0)
        || (f->since_ms >= 0 && e->time_ms < f->since_ms)
        || (f->until_ms >= 0 && e->time_ms >= f->until_ms))
    {
        return 0;
    }

    /* erased personal fields match no email or IP filter */
    if (f->email[0] != '\0'
        && (e->erased || strcasecmp(f->email, e->email) != 0))
    {
        return 0;
    }

    return f->family == 0 || (!e->erased && ac_log_filter_ip_match(f, e->ip));
}


static int
ac_digits(const char *s, const char *end, int n, int *v)
{
    int  i;

    *v = 0;

    if (end - s < n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 1;
}


int
ac_log_time_parse(const char *s, size_t len, int64_t now_ms, int64_t *ms)
{
    int          y, mo, d, h, mi, sec, frac, nfrac;
    char         buf[32];
    time_t       t;
    int64_t      dur;
    struct tm    tm, back;
    const char  *p, *end;

    if (s == NULL || len == 0 || len >= sizeof(buf)) {
        return AC_ERR_INVALID;
    }

    end = s + len;

    if (len < 10 || s[4] != '-' || s[0] < '0' || s[0] > '9') {
        memcpy(buf, s, len);
        buf[len] = '\0';

        if (memchr(s, '\0', len) != NULL
            || ac_parse_duration(buf, &dur) != AC_OK || dur < 0
            || dur > now_ms / 1000)
        {
            return AC_ERR_INVALID;
        }

        *ms = now_ms - dur * 1000;
        return AC_OK;
    }

    h = mi = sec = frac = 0;

    if (!ac_digits(s, end, 4, &y) || !ac_digits(s + 5, end, 2, &mo)
        || s[7] != '-' || !ac_digits(s + 8, end, 2, &d))
    {
        return AC_ERR_INVALID;
    }

    p = s + 10;

    if (p < end && *p == 'T') {
        if (!ac_digits(p + 1, end, 2, &h) || end - p < 6 || p[3] != ':'
            || !ac_digits(p + 4, end, 2, &mi))
        {
            return AC_ERR_INVALID;
        }

        p += 6;

        if (p < end && *p == ':') {
            if (!ac_digits(p + 1, end, 2, &sec)) {
                return AC_ERR_INVALID;
            }

            p += 3;

            if (p < end && *p == '.') {
                p++;

                for (nfrac = 0;
                     nfrac < 3 && p < end && *p >= '0' && *p <= '9';
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

        /* UTC always: the admin page's date-time fields send no "Z" */
        if (p < end && *p == 'Z') {
            p++;
        }
    }

    if (p != end || y < 1970 || h > 23 || mi > 59 || sec > 59) {
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
