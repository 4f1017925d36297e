/*
 * guichet.conf values: numbers, durations, sizes, names, paths, the
 * Redis password file, Redis endpoints and Sentinels, origins. The key
 * table that names the reader of each key is in config.c.
 */

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <strings.h>
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "config_read.h"


#define AC_PASSWORD_FILE_MAX  512


/* The C type of a numeric configuration field. */
typedef enum {
    AC_CONF_INT = 0,
    AC_CONF_U32,
    AC_CONF_I64
} ac_conf_type_t;


static int ac_endpoint_parse(ac_conf_ctx_t *ctx, const char *s, size_t len,
    int default_port, int allow_unix, ac_endpoint_t *ep);
static int ac_parse_number(const char *s, size_t len, int64_t *v);
static int ac_parse_duration_ms(const char *s, int64_t *ms);
static char *ac_conf_resolve(ac_conf_ctx_t *ctx, const char *path);


/* Decimal digits only, no sign, no overflow. */

static int
ac_parse_number(const char *s, size_t len, int64_t *v)
{
    size_t   i;
    int64_t  n;

    if (len == 0) {
        return AC_ERR_INVALID;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return AC_ERR_INVALID;
        }

        if (n > (INT64_MAX - (s[i] - '0')) / 10) {
            return AC_ERR_INVALID;
        }

        n = n * 10 + (s[i] - '0');
    }

    *v = n;
    return AC_OK;
}


/* "1h30m": one or more number + unit pairs, to milliseconds. */

static int
ac_parse_duration_ms(const char *s, int64_t *ms)
{
    size_t   n;
    int64_t  v, unit, total;

    if (s == NULL || *s == '\0') {
        return AC_ERR_INVALID;
    }

    total = 0;

    while (*s) {
        n = strspn(s, "0123456789");
        if (ac_parse_number(s, n, &v) != AC_OK) {
            return AC_ERR_INVALID;
        }

        s += n;

        if (s[0] == 'm' && s[1] == 's') {
            unit = 1;
            s += 2;

        } else {
            switch (*s) {
            case 's':
                unit = 1000;
                break;
            case 'm':
                unit = 1000LL * AC_MIN;
                break;
            case 'h':
                unit = 1000LL * AC_HOUR;
                break;
            case 'd':
                unit = 1000LL * AC_DAY;
                break;
            case 'w':
                unit = 1000LL * 7 * AC_DAY;
                break;
            case 'y':
                unit = 1000LL * AC_YEAR;
                break;
            default:
                return AC_ERR_INVALID;
            }

            s++;
        }

        if (v > INT64_MAX / unit || total > INT64_MAX - v * unit) {
            return AC_ERR_INVALID;
        }

        total += v * unit;
    }

    *ms = total;
    return AC_OK;
}


int
ac_parse_duration(const char *s, int64_t *seconds)
{
    int64_t  ms;

    if (seconds == NULL || ac_parse_duration_ms(s, &ms) != AC_OK) {
        return AC_ERR_INVALID;
    }

    /* "1500ms" is not a whole number of seconds: refuse, never round */
    if (ms % 1000 != 0) {
        return AC_ERR_INVALID;
    }

    *seconds = ms / 1000;
    return AC_OK;
}


/* A duration, in seconds or (ms) in milliseconds, within the key's
 * bounds. */

static int
ac_conf_duration(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value, int ms, int64_t *v)
{
    const char  *unit;

    if ((ms ? ac_parse_duration_ms(value, v) : ac_parse_duration(value, v))
        != AC_OK)
    {
        return ac_conf_fail(ctx, "%s: invalid duration \"%s\" (a number and "
                            "a unit: ms, s, m, h, d, w, y)", k->name, value);
    }

    if (*v < k->min || *v > k->max) {
        unit = ms ? "ms" : "s";
        return ac_conf_fail(ctx, "%s: \"%s\" is out of range "
                            "(%" PRId64 "%s to %" PRId64 "%s)",
                            k->name, value, k->min, unit, k->max, unit);
    }

    return AC_OK;
}


/* Stores v, read with code rc, in the key's field of the given type. */

static int
ac_conf_put(ac_conf_ctx_t *ctx, const ac_conf_key_t *k, int rc, int64_t v,
    ac_conf_type_t type)
{
    char  *field;

    if (rc != AC_OK) {
        return rc;
    }

    field = (char *) ctx->cfg + k->offset;

    switch (type) {
    case AC_CONF_I64:
        *(int64_t *) field = v;
        break;
    case AC_CONF_U32:
        *(uint32_t *) field = (uint32_t) v;
        break;
    default:
        *(int *) field = (int) v;
    }

    return AC_OK;
}


int
ac_conf_set_duration(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v = 0;

    rc = ac_conf_duration(ctx, k, value, 0, &v);

    return ac_conf_put(ctx, k, rc, v, AC_CONF_I64);
}


int
ac_conf_set_msec(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v = 0;

    rc = ac_conf_duration(ctx, k, value, 1, &v);

    return ac_conf_put(ctx, k, rc, v, AC_CONF_U32);
}


static int
ac_conf_number(ac_conf_ctx_t *ctx, const ac_conf_key_t *k, const char *value,
    int64_t *v)
{
    if (ac_parse_number(value, strlen(value), v) != AC_OK) {
        return ac_conf_fail(ctx, "%s: invalid number \"%s\"", k->name,
                            value);
    }

    if (*v < k->min || *v > k->max) {
        return ac_conf_fail(ctx, "%s: %s is out of range (%" PRId64 " to %"
                            PRId64 ")", k->name, value, k->min, k->max);
    }

    return AC_OK;
}


int
ac_conf_set_int(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v = 0;

    rc = ac_conf_number(ctx, k, value, &v);

    return ac_conf_put(ctx, k, rc, v, AC_CONF_INT);
}


int
ac_conf_set_u32(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int      rc;
    int64_t  v = 0;

    rc = ac_conf_number(ctx, k, value, &v);

    return ac_conf_put(ctx, k, rc, v, AC_CONF_U32);
}


/* KiB, or a number with k, m or g. */

int
ac_conf_set_kib(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t   n;
    int64_t  v, mult;

    n = strspn(value, "0123456789");
    mult = 1;

    if (value[n] != '\0') {
        if (value[n + 1] != '\0') {
            goto invalid;
        }

        switch (value[n]) {
        case 'k':
        case 'K':
            mult = 1;
            break;
        case 'm':
        case 'M':
            mult = 1024;
            break;
        case 'g':
        case 'G':
            mult = 1024 * 1024;
            break;
        default:
            goto invalid;
        }
    }

    if (ac_parse_number(value, n, &v) != AC_OK || v > INT64_MAX / mult) {
        goto invalid;
    }

    v *= mult;

    if (v < k->min || v > k->max) {
        return ac_conf_fail(ctx, "%s: \"%s\" is out of range (%" PRId64
                            " KiB to %" PRId64 " KiB)", k->name, value,
                            k->min, k->max);
    }

    *(uint32_t *) ((char *) ctx->cfg + k->offset) = (uint32_t) v;
    return AC_OK;

invalid:

    return ac_conf_fail(ctx, "%s: invalid size \"%s\" (KiB, or a number "
                        "with k, m or g)", k->name, value);
}


static int
ac_conf_store(ac_conf_ctx_t *ctx, const ac_conf_key_t *k, char *s)
{
    char  **field;

    if (s == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    field = (char **) ((char *) ctx->cfg + k->offset);
    free(*field);
    *field = s;

    return AC_OK;
}


/* One printable word: key prefixes, audiences, master names. */

int
ac_conf_set_name(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t  i, len;

    len = strlen(value);

    if ((int64_t) len < k->min || (int64_t) len > k->max) {
        return ac_conf_fail(ctx, "%s: length must be %" PRId64 " to %" PRId64
                            " bytes", k->name, k->min, k->max);
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) value[i] <= 0x20
            || (unsigned char) value[i] >= 0x7f)
        {
            return ac_conf_fail(ctx, "%s: \"%s\" must be one word of "
                                "printable ASCII", k->name, value);
        }
    }

    return ac_conf_store(ctx, k, strdup(value));
}


/* Free text shown to users (the TOTP issuer): no control characters, and
 * no ':' because it separates issuer and account in otpauth labels. */

int
ac_conf_set_text(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    size_t  i, len;

    len = strlen(value);

    if ((int64_t) len < k->min || (int64_t) len > k->max) {
        return ac_conf_fail(ctx, "%s: length must be %" PRId64 " to %" PRId64
                            " bytes", k->name, k->min, k->max);
    }

    for (i = 0; i < len; i++) {
        if (iscntrl((unsigned char) value[i]) || value[i] == ':') {
            return ac_conf_fail(ctx, "%s: control characters and ':' are "
                                "not allowed", k->name);
        }
    }

    return ac_conf_store(ctx, k, strdup(value));
}


static char *
ac_conf_resolve(ac_conf_ctx_t *ctx, const char *path)
{
    char    *s;
    size_t   dlen, plen;

    if (path[0] == '/') {
        return strdup(path);
    }

    dlen = strlen(ctx->dir);
    plen = strlen(path);

    s = malloc(dlen + 1 + plen + 1);
    if (s == NULL) {
        return NULL;
    }

    memcpy(s, ctx->dir, dlen);
    if (dlen == 0 || ctx->dir[dlen - 1] != '/') {
        s[dlen++] = '/';
    }
    memcpy(s + dlen, path, plen + 1);

    return s;
}


int
ac_conf_set_path(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    if (strlen(value) >= PATH_MAX) {
        return ac_conf_fail(ctx, "%s: path too long", k->name);
    }

    return ac_conf_store(ctx, k, ac_conf_resolve(ctx, value));
}


int
ac_conf_set_password_file(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int          rc;
    char        *path, *pw;
    FILE        *f;
    size_t       len;
    struct stat  st;
    char         buf[AC_PASSWORD_FILE_MAX + 2];

    rc = ac_conf_set_path(ctx, k, value);
    if (rc != AC_OK) {
        return rc;
    }

    path = ctx->cfg->redis_password_file;

    f = fopen(path, "re");
    if (f == NULL) {
        return ac_conf_fail(ctx, "%s: %s: %s", k->name, path,
                            strerror(errno));
    }

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ac_conf_fail(ctx, "%s: %s is not a regular file", k->name,
                            path);
    }

    if (st.st_mode & S_IROTH) {
        fclose(f);
        return ac_conf_fail(ctx, "%s: %s must not be world-readable "
                            "(chmod o-r)", k->name, path);
    }

    if (fgets(buf, sizeof(buf), f) == NULL) {
        buf[0] = '\0';
    }

    fclose(f);

    len = strcspn(buf, "\r\n");

    if (len > AC_PASSWORD_FILE_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return ac_conf_fail(ctx, "%s: password longer than %d bytes",
                            k->name, AC_PASSWORD_FILE_MAX);
    }

    if (len == 0) {
        return ac_conf_fail(ctx, "%s: %s has an empty first line", k->name,
                            path);
    }

    pw = strndup(buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));

    if (pw == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    ctx->cfg->redis_password = pw;
    return AC_OK;
}


/*
 * "a.b.c.d[:port]", "[v6][:port]", or with allow_unix "unix:/path".
 * Host names are refused: resolving them would mean DNS at request time.
 */

static int
ac_endpoint_parse(ac_conf_ctx_t *ctx, const char *s, size_t len,
    int default_port, int allow_unix, ac_endpoint_t *ep)
{
    size_t           hlen;
    int64_t          port;
    const char      *host, *colon;
    char             hbuf[INET6_ADDRSTRLEN + 1], pbuf[PATH_MAX];
    struct in_addr   a4;
    struct in6_addr  a6;

    memset(ep, 0, sizeof(ac_endpoint_t));

    if (allow_unix && len >= 5 && strncmp(s, "unix:", 5) == 0) {
        if (len == 5 || len - 5 >= sizeof(pbuf)) {
            return AC_ERR_INVALID;
        }

        memcpy(pbuf, s + 5, len - 5);
        pbuf[len - 5] = '\0';

        ep->unix_path = ac_conf_resolve(ctx, pbuf);
        return ep->unix_path ? AC_OK : AC_ERR_NOMEM;
    }

    if (len > 0 && s[0] == '[') {
        colon = memchr(s, ']', len);
        if (colon == NULL) {
            return AC_ERR_INVALID;
        }

        host = s + 1;
        hlen = colon - host;
        colon++;

        if (colon != s + len && *colon != ':') {
            return AC_ERR_INVALID;
        }

    } else {
        host = s;
        colon = memchr(s, ':', len);
        hlen = colon ? (size_t) (colon - s) : len;

        if (colon && memchr(colon + 1, ':', s + len - colon - 1)) {
            /* a bare IPv6 address: its port would be ambiguous */
            return AC_ERR_INVALID;
        }
    }

    if (hlen == 0 || hlen >= sizeof(hbuf)) {
        return AC_ERR_INVALID;
    }

    memcpy(hbuf, host, hlen);
    hbuf[hlen] = '\0';

    if (s[0] == '[') {
        if (inet_pton(AF_INET6, hbuf, &a6) != 1) {
            return AC_ERR_INVALID;
        }

    } else if (inet_pton(AF_INET, hbuf, &a4) != 1) {
        return AC_ERR_INVALID;
    }

    port = default_port;

    if (colon != NULL && colon != s + len) {
        if (ac_parse_number(colon + 1, s + len - colon - 1, &port) != AC_OK
            || port < 1 || port > 65535)
        {
            return AC_ERR_INVALID;
        }

    } else if (colon != NULL) {
        return AC_ERR_INVALID;
    }

    ep->host = strdup(hbuf);
    if (ep->host == NULL) {
        return AC_ERR_NOMEM;
    }

    ep->port = (int) port;
    return AC_OK;
}


int
ac_conf_set_redis(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int            rc;
    ac_endpoint_t  ep;

    rc = ac_endpoint_parse(ctx, value, strlen(value), 6379, 1, &ep);

    if (rc == AC_ERR_NOMEM) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return rc;
    }

    if (rc != AC_OK) {
        return ac_conf_fail(ctx, "%s: \"%s\" is not IP:PORT, [IPv6]:PORT "
                            "or unix:/path (host names are not allowed)",
                            k->name, value);
    }

    free(ctx->cfg->redis.host);
    free(ctx->cfg->redis.unix_path);
    ctx->cfg->redis = ep;

    return AC_OK;
}


int
ac_conf_set_sentinels(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int             rc;
    size_t          n, len;
    const char     *p;
    ac_endpoint_t  *eps;

    n = 1;
    for (p = value; *p; p++) {
        if (*p == ',') {
            n++;
        }
    }

    if (n > 64) {
        return ac_conf_fail(ctx, "%s: more than 64 sentinels", k->name);
    }

    eps = calloc(n, sizeof(ac_endpoint_t));
    if (eps == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    ctx->cfg->redis_sentinels = eps;
    ctx->cfg->nredis_sentinels = 0;

    p = value;

    while (ctx->cfg->nredis_sentinels < n) {
        p += strspn(p, " \t");
        len = strcspn(p, ",");

        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            len--;
        }

        rc = ac_endpoint_parse(ctx, p, len, 26379, 0,
                               &eps[ctx->cfg->nredis_sentinels]);

        if (rc == AC_ERR_NOMEM) {
            ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory",
                         ctx->file);
            return rc;
        }

        if (rc != AC_OK) {
            return ac_conf_fail(ctx, "%s: \"%.*s\" is not IP:PORT or "
                                "[IPv6]:PORT (host names are not allowed)",
                                k->name, (int) len, p);
        }

        ctx->cfg->nredis_sentinels++;

        p += strcspn(p, ",");
        if (*p == ',') {
            p++;
        }
    }

    return AC_OK;
}


int
ac_conf_set_origins(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int           rc;
    char         *s, **list;
    size_t        n, i, len;
    const char   *p;
    ac_config_t  *cfg;
    char          origin[AC_ORIGIN_MAX];

    cfg = ctx->cfg;

    n = 0;
    for (p = value; *p; p += len) {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len > 0) {
            n++;
        }
    }

    if (n == 0) {
        return ac_conf_fail(ctx, "%s: missing value", k->name);
    }

    list = calloc(n, sizeof(char *));
    if (list == NULL) {
        ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory", ctx->file);
        return AC_ERR_NOMEM;
    }

    cfg->allowed_redirect_hosts = list;
    cfg->nallowed_redirect_hosts = 0;

    for (p = value; *p; p += len) {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 0) {
            continue;
        }

        rc = ac_origin_normalize(p, len, origin);
        if (rc != AC_OK) {
            return ac_conf_fail(ctx, "%s: \"%.*s\" is not an origin like "
                                "https://host[:port]", k->name,
                                (int) (len > 100 ? 100 : len), p);
        }

        for (i = 0; i < cfg->nallowed_redirect_hosts; i++) {
            if (strcmp(list[i], origin) == 0) {
                break;
            }
        }

        if (i < cfg->nallowed_redirect_hosts) {
            continue;
        }

        s = strdup(origin);
        if (s == NULL) {
            ac_error_set(ctx->err, AC_ERR_NOMEM, "%s: out of memory",
                         ctx->file);
            return AC_ERR_NOMEM;
        }

        list[cfg->nallowed_redirect_hosts++] = s;
    }

    return AC_OK;
}


/* The mail keys are read by mailconf.c, which owns their values. */

int
ac_conf_set_mail(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int   rc;
    char  reason[AC_ERRMSG_MAX];

    reason[0] = '\0';

    rc = ac_mail_conf_set(ctx->cfg, k->name, value, reason, sizeof(reason));
    if (rc == AC_ERR_CONFIG) {
        return ac_conf_fail(ctx, "%s: %s", k->name, reason);
    }

    return rc;
}
