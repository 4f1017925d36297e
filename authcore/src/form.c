/*
 * Request input: application/x-www-form-urlencoded bodies and query
 * strings, and the Cookie header.
 */

#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"


#define AC_FORM_NAME_MAX  64


static int ac_form_decode(const char *s, const char *e, char *out,
    size_t outsize, size_t *outlen);
static int ac_cookie_octet(int c);


int
ac_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


/*
 * Decodes [s, e) into out (NULL: check only). The whole input is always
 * checked, so a malformed escape wins over a value that is too long.
 */
static int
ac_form_decode(const char *s, const char *e, char *out, size_t outsize,
    size_t *outlen)
{
    int     hi, lo, toolong;
    size_t  n;
    char    c;

    n = 0;
    toolong = 0;

    while (s < e) {
        c = *s++;

        if (c == '+') {
            c = ' ';

        } else if (c == '%') {
            if (e - s < 2) {
                return AC_ERR_INVALID;
            }

            hi = ac_hex_value((unsigned char) s[0]);
            lo = ac_hex_value((unsigned char) s[1]);

            if (hi < 0 || lo < 0) {
                return AC_ERR_INVALID;
            }

            c = (char) (hi << 4 | lo);
            s += 2;
        }

        if (c == '\0') {
            return AC_ERR_INVALID;
        }

        if (out != NULL) {
            if (n + 1 < outsize) {
                out[n] = c;

            } else {
                toolong = 1;
            }
        }

        n++;
    }

    if (out != NULL && !toolong) {
        out[n] = '\0';
    }

    *outlen = n;

    return toolong ? AC_ERR_TOO_LONG : AC_OK;
}


int
ac_form_get(const char *body, size_t len, const char *name, char *out,
    size_t outsize, size_t *outlen)
{
    int          rc, found;
    char         field[AC_FORM_NAME_MAX + 1];
    size_t       namelen, n, vlen;
    const char  *p, *end, *pe, *eq, *ne;

    if (out == NULL || outsize == 0) {
        return AC_ERR_INVALID;
    }

    out[0] = '\0';

    if (outlen != NULL) {
        *outlen = 0;
    }

    if (name == NULL || (body == NULL && len != 0)) {
        return AC_ERR_INVALID;
    }

    namelen = strlen(name);

    if (namelen == 0 || namelen > AC_FORM_NAME_MAX) {
        return AC_ERR_INVALID;
    }

    rc = AC_ERR_NOT_FOUND;
    found = 0;
    vlen = 0;
    p = body;
    end = (body != NULL) ? body + len : body;

    while (p < end) {
        pe = memchr(p, '&', end - p);
        if (pe == NULL) {
            pe = end;
        }

        if (pe == p) {
            p++;
            continue;
        }

        eq = memchr(p, '=', pe - p);
        ne = (eq != NULL) ? eq : pe;

        /* the field name itself may be encoded: decode it to compare */
        if (ac_form_decode(p, ne, field, sizeof(field), &n) == AC_ERR_INVALID)
        {
            goto invalid;
        }

        if (n == namelen && memcmp(field, name, n) == 0) {
            if (found) {
                goto invalid;
            }

            found = 1;

            if (eq == NULL) {
                rc = AC_OK;

            } else {
                rc = ac_form_decode(eq + 1, pe, out, outsize, &vlen);
                if (rc == AC_ERR_INVALID) {
                    goto invalid;
                }
            }

        } else if (eq != NULL) {
            if (ac_form_decode(eq + 1, pe, NULL, 0, &n) != AC_OK) {
                goto invalid;
            }
        }

        p = pe + 1;
    }

    if (rc != AC_OK) {
        OPENSSL_cleanse(out, outsize);
        out[0] = '\0';
        return rc;
    }

    if (outlen != NULL) {
        *outlen = vlen;
    }

    return AC_OK;

invalid:

    OPENSSL_cleanse(out, outsize);
    out[0] = '\0';

    return AC_ERR_INVALID;
}


/* RFC 6265 4.1.1: cookie-octet */
static int
ac_cookie_octet(int c)
{
    return c == 0x21
           || (c >= 0x23 && c <= 0x2b)
           || (c >= 0x2d && c <= 0x3a)
           || (c >= 0x3c && c <= 0x5b)
           || (c >= 0x5d && c <= 0x7e);
}


int
ac_cookie_get(const char *header, size_t len, const char *name,
    char *out, size_t outsize, size_t *outlen)
{
    int          rc, count;
    size_t       namelen, i, vlen;
    const char  *p, *end, *pe, *eq, *ns, *ne, *vs, *ve;

    if (out == NULL || outsize == 0) {
        return AC_ERR_INVALID;
    }

    out[0] = '\0';

    if (outlen != NULL) {
        *outlen = 0;
    }

    if (name == NULL || (header == NULL && len != 0)) {
        return AC_ERR_INVALID;
    }

    namelen = strlen(name);

    if (namelen == 0) {
        return AC_ERR_INVALID;
    }

    rc = AC_ERR_NOT_FOUND;
    count = 0;
    vlen = 0;
    p = header;
    end = header + len;

    while (p < end) {
        pe = memchr(p, ';', end - p);
        if (pe == NULL) {
            pe = end;
        }

        eq = memchr(p, '=', pe - p);

        if (eq == NULL) {
            p = pe + 1;
            continue;
        }

        ns = p;
        while (ns < eq && (*ns == ' ' || *ns == '\t')) {
            ns++;
        }

        ne = eq;
        while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t')) {
            ne--;
        }

        if ((size_t) (ne - ns) != namelen || memcmp(ns, name, namelen) != 0)
        {
            p = pe + 1;
            continue;
        }

        if (++count > 1) {
            rc = AC_ERR_INVALID;
            break;
        }

        vs = eq + 1;
        while (vs < pe && (*vs == ' ' || *vs == '\t')) {
            vs++;
        }

        ve = pe;
        while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }

        vlen = ve - vs;

        for (i = 0; i < vlen; i++) {
            if (!ac_cookie_octet((unsigned char) vs[i])) {
                break;
            }
        }

        if (i < vlen) {
            rc = AC_ERR_INVALID;

        } else if (vlen == 0) {
            rc = AC_ERR_NOT_FOUND;

        } else if (vlen > AC_COOKIE_VALUE_MAX || vlen >= outsize) {
            rc = AC_ERR_TOO_LONG;

        } else {
            memcpy(out, vs, vlen);
            out[vlen] = '\0';
            rc = AC_OK;
        }

        p = pe + 1;
    }

    if (rc != AC_OK) {
        OPENSSL_cleanse(out, outsize);
        out[0] = '\0';
        return rc;
    }

    if (outlen != NULL) {
        *outlen = vlen;
    }

    return AC_OK;
}
