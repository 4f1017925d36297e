/*
 * Origins and return_to: the one parser of "scheme://host[:port]".
 *
 * The allow-list (allowed_redirect_hosts, read by config.c) and the URLs
 * checked by ac_return_to() both go through ac_origin_parse() and are
 * compared in the canonical form ac_origin_format() writes, so that an
 * entry and a URL that name the same origin compare equal and no URL
 * can be read one way by the check and another way by the list.
 */

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"


static int ac_origin_host(const char *p, const char *end, ac_origin_t *o,
    const char **next);
static int ac_origin_port(const char *p, const char *end, unsigned *port,
    const char **next);
static int ac_url_rest_ok(const char *s, size_t len, int path);


static int
ac_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}


/*
 * "http(s)://host[:port]" followed by nothing, '/', '?' or '#'. The host
 * is a DNS name (labels of letters, digits and '-' joined by single
 * dots) or an IPv6 literal ("[v6]"); no userinfo, no escapes, no zone.
 * o->host receives it lower-cased, an IPv6 literal in inet_ntop()'s
 * form; the port is the scheme's default when absent.
 */
int
ac_origin_parse(const char *s, size_t len, ac_origin_t *o)
{
    size_t       slen;
    const char  *end, *p;

    end = s + len;

    for (slen = 0; slen < len && s[slen] != ':'; slen++) { /* void */ }

    if ((slen != 4 && slen != 5) || ac_lower(s[0]) != 'h'
        || ac_lower(s[1]) != 't' || ac_lower(s[2]) != 't'
        || ac_lower(s[3]) != 'p' || (slen == 5 && ac_lower(s[4]) != 's'))
    {
        return AC_ERR_INVALID;
    }

    o->https = (slen == 5);

    p = s + slen;

    if (end - p < 3 || p[0] != ':' || p[1] != '/' || p[2] != '/') {
        return AC_ERR_INVALID;
    }

    if (ac_origin_host(p + 3, end, o, &p) != AC_OK) {
        return AC_ERR_INVALID;
    }

    o->port = o->https ? 443 : 80;

    if (p < end && *p == ':'
        && ac_origin_port(p + 1, end, &o->port, &p) != AC_OK)
    {
        return AC_ERR_INVALID;
    }

    /* '@', '\', '%' and anything else unexpected in the authority end up
     * here, at the start of what must be a path */
    if (p < end && *p != '/' && *p != '?' && *p != '#') {
        return AC_ERR_INVALID;
    }

    o->rest = p;
    o->restlen = end - p;

    return AC_OK;
}


static int
ac_origin_host(const char *p, const char *end, ac_origin_t *o,
    const char **next)
{
    size_t           n;
    const char      *h;
    char             v6[INET6_ADDRSTRLEN];
    struct in6_addr  a6;

    h = p;

    if (p < end && *p == '[') {
        for (p++; p < end && *p != ']'; p++) { /* void */ }

        n = p - h - 1;

        if (p == end || n == 0 || n >= sizeof(v6)) {
            return AC_ERR_INVALID;
        }

        memcpy(v6, h + 1, n);
        v6[n] = '\0';

        if (inet_pton(AF_INET6, v6, &a6) != 1
            || inet_ntop(AF_INET6, &a6, v6, sizeof(v6)) == NULL)
        {
            return AC_ERR_INVALID;
        }

        n = snprintf(o->host, sizeof(o->host), "[%s]", v6);
        *next = p + 1;

        return n < sizeof(o->host) ? AC_OK : AC_ERR_INVALID;
    }

    for (n = 0; p < end; p++, n++) {
        if (*p == '.') {
            if (n == 0 || o->host[n - 1] == '.') {
                return AC_ERR_INVALID;
            }

        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                     || (*p >= '0' && *p <= '9') || *p == '-'))
        {
            break;
        }

        if (n == AC_ORIGIN_HOST_MAX) {
            return AC_ERR_INVALID;
        }

        o->host[n] = (char) ac_lower(*p);
    }

    if (n == 0 || o->host[n - 1] == '.') {
        return AC_ERR_INVALID;
    }

    o->host[n] = '\0';
    *next = p;

    return AC_OK;
}


/* 1 to 65535, decimal, no leading zero. */
static int
ac_origin_port(const char *p, const char *end, unsigned *port,
    const char **next)
{
    size_t    i;
    unsigned  v;

    v = 0;

    for (i = 0; p < end && *p >= '0' && *p <= '9'; p++, i++) {
        if (i == 5 || (i == 1 && v == 0)) {
            return AC_ERR_INVALID;
        }

        v = v * 10 + (*p - '0');
    }

    if (i == 0 || v == 0 || v > 65535) {
        return AC_ERR_INVALID;
    }

    *port = v;
    *next = p;

    return AC_OK;
}


int
ac_origin_format(const ac_origin_t *o, char *out, size_t outsize)
{
    int  n;

    if (o->port == (o->https ? 443u : 80u)) {
        n = snprintf(out, outsize, "%s://%s", o->https ? "https" : "http",
                     o->host);

    } else {
        n = snprintf(out, outsize, "%s://%s:%u",
                     o->https ? "https" : "http", o->host, o->port);
    }

    return (n > 0 && (size_t) n < outsize) ? AC_OK : AC_ERR_TOO_LONG;
}


int
ac_origin_normalize(const char *s, size_t len, char out[AC_ORIGIN_MAX])
{
    ac_origin_t  o;

    if (s == NULL || ac_origin_parse(s, len, &o) != AC_OK
        || o.restlen > 1 || (o.restlen == 1 && o.rest[0] != '/'))
    {
        return AC_ERR_INVALID;
    }

    return ac_origin_format(&o, out, AC_ORIGIN_MAX);
}


/* 1 when the origin of o is one of cfg->allowed_redirect_hosts. The
 * entries are canonical already (config.c); normalising them again costs
 * little and keeps the comparison right for a hand-made configuration. */
static int
ac_origin_allowed(const ac_config_t *cfg, const ac_origin_t *o)
{
    size_t       i;
    const char  *entry;
    char         want[AC_ORIGIN_MAX], have[AC_ORIGIN_MAX];

    if (cfg == NULL || ac_origin_format(o, want, sizeof(want)) != AC_OK) {
        return 0;
    }

    for (i = 0; i < cfg->nallowed_redirect_hosts; i++) {
        entry = cfg->allowed_redirect_hosts[i];

        if (entry != NULL
            && ac_origin_normalize(entry, strlen(entry), have) == AC_OK
            && strcmp(have, want) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The part of a URL after the authority, or a whole local path when
 * "path" is set: visible ASCII but '\', well-formed escapes that decode
 * to no control character, and for a path one '/' that does not decode
 * into "//" or "/\".
 */
static int
ac_url_rest_ok(const char *s, size_t len, int path)
{
    int            hi, lo;
    size_t         i, k;
    unsigned char  c, d[2];

    if (path && (len == 0 || s[0] != '/')) {
        return 0;
    }

    d[0] = '\0';
    d[1] = '\0';

    for (i = 0, k = 0; i < len; i++, k++) {
        c = (unsigned char) s[i];

        if (c <= 0x20 || c >= 0x7f || c == '\\') {
            return 0;
        }

        if (c == '%') {
            if (len - i < 3) {
                return 0;
            }

            hi = ac_hex_value((unsigned char) s[i + 1]);
            lo = ac_hex_value((unsigned char) s[i + 2]);

            if (hi < 0 || lo < 0) {
                return 0;
            }

            c = (unsigned char) (hi << 4 | lo);

            if (c < 0x20 || c == 0x7f) {
                return 0;
            }

            i += 2;
        }

        if (k < 2) {
            d[k] = c;
        }
    }

    if (path && (d[1] == '/' || d[1] == '\\')) {
        return 0;
    }

    return 1;
}


int
ac_return_to(const ac_config_t *cfg, const char *in, size_t len,
    char *out, size_t outsize)
{
    ac_origin_t  o;

    if (out == NULL || outsize < 2) {
        if (out != NULL && outsize == 1) {
            out[0] = '\0';
        }

        return AC_ERR_INVALID;
    }

    if (in == NULL || len == 0 || len > AC_RETURN_TO_MAX || len >= outsize) {
        goto unsafe;
    }

    if (in[0] == '/') {
        if (!ac_url_rest_ok(in, len, 1)) {
            goto unsafe;
        }

    } else {
        if (ac_origin_parse(in, len, &o) != AC_OK
            || !ac_url_rest_ok(o.rest, o.restlen, 0)
            || !ac_origin_allowed(cfg, &o))
        {
            goto unsafe;
        }
    }

    memcpy(out, in, len);
    out[len] = '\0';

    return AC_OK;

unsafe:

    out[0] = '/';
    out[1] = '\0';

    return AC_ERR_INVALID;
}
