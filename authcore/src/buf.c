/*
 * authcore: a growable, NUL-terminated byte buffer with JSON and HTML
 * escaping.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"

#define AC_BUF_MIN  64

static int ac_buf_reserve(ac_buf_t *b, size_t more);
static size_t ac_utf8_len(const unsigned char *s, size_t len);

/* The data of an empty buffer that never allocated: always "". */
static char  ac_buf_empty[1];


void
ac_buf_init(ac_buf_t *b)
{
    b->data = ac_buf_empty;
    b->len = 0;
    b->cap = 0;
    b->oom = 0;
}


void
ac_buf_free(ac_buf_t *b)
{
    if (b->cap != 0) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }

    ac_buf_init(b);
}


void
ac_buf_reset(ac_buf_t *b)
{
    if (b->cap != 0) {
        OPENSSL_cleanse(b->data, b->len);
        b->data[0] = '\0';
    }

    b->len = 0;
    b->oom = 0;
}


int
ac_buf_status(const ac_buf_t *b)
{
    return b->oom ? AC_ERR_NOMEM : AC_OK;
}


/*
 * Grows by copying rather than realloc() so that the old block, which
 * may hold secrets, is wiped before it is released.
 */
static int
ac_buf_reserve(ac_buf_t *b, size_t more)
{
    char    *p;
    size_t   cap;

    if (b->oom) {
        return AC_ERR_NOMEM;
    }

    if (more < b->cap - b->len) {
        return AC_OK;
    }

    if (more > (size_t) -1 / 2 - b->len - 1) {
        b->oom = 1;
        return AC_ERR_NOMEM;
    }

    cap = b->cap ? b->cap : AC_BUF_MIN;

    while (cap < b->len + more + 1) {
        cap *= 2;
    }

    p = malloc(cap);
    if (p == NULL) {
        b->oom = 1;
        return AC_ERR_NOMEM;
    }

    memcpy(p, b->data, b->len);
    p[b->len] = '\0';

    if (b->cap != 0) {
        OPENSSL_cleanse(b->data, b->cap);
        free(b->data);
    }

    b->data = p;
    b->cap = cap;

    return AC_OK;
}


void
ac_buf_add(ac_buf_t *b, const void *s, size_t len)
{
    if (len == 0 || ac_buf_reserve(b, len) != AC_OK) {
        return;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}


void
ac_buf_str(ac_buf_t *b, const char *s)
{
    ac_buf_add(b, s, strlen(s));
}


void
ac_buf_printf(ac_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (b->oom) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);

    if (n < 0) {
        b->oom = 1;
        return;
    }

    if (n == 0 || ac_buf_reserve(b, (size_t) n) != AC_OK) {
        return;
    }

    va_start(args, fmt);
    (void) vsnprintf(b->data + b->len, b->cap - b->len, fmt, args);
    va_end(args);

    b->len += (size_t) n;
}


/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if there is none.
 */
static size_t
ac_utf8_len(const unsigned char *s, size_t len)
{
    size_t         n, i;
    unsigned char  lo, hi;

    if (s[0] < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;

    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        if (s[0] == 0xe0) {
            lo = 0xa0;
        } else if (s[0] == 0xed) {
            hi = 0x9f;
        }

    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        if (s[0] == 0xf0) {
            lo = 0x90;
        } else if (s[0] == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if (len < n || s[1] < lo || s[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


void
ac_buf_json_str(ac_buf_t *b, const char *s, size_t len)
{
    size_t                i, n;
    const unsigned char  *p;

    p = (const unsigned char *) s;

    ac_buf_add(b, "\"", 1);

    for (i = 0; i < len; i += n) {
        n = ac_utf8_len(p + i, len - i);

        if (n == 0) {
            ac_buf_add(b, "\xef\xbf\xbd", 3);
            n = 1;
            continue;
        }

        if (n > 1) {
            ac_buf_add(b, p + i, n);
            continue;
        }

        switch (p[i]) {
        case '"':
            ac_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            ac_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            ac_buf_add(b, "\\n", 2);
            break;
        case '\r':
            ac_buf_add(b, "\\r", 2);
            break;
        case '\t':
            ac_buf_add(b, "\\t", 2);
            break;
        default:
            if (p[i] < 0x20 || p[i] == 0x7f) {
                ac_buf_printf(b, "\\u%04x", p[i]);
            } else {
                ac_buf_add(b, p + i, 1);
            }
        }
    }

    ac_buf_add(b, "\"", 1);
}


void
ac_buf_html(ac_buf_t *b, const char *s, size_t len)
{
    size_t       i, start;
    const char  *rep;

    start = 0;

    for (i = 0; i < len; i++) {
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }

        ac_buf_add(b, s + start, i - start);
        ac_buf_str(b, rep);
        start = i + 1;
    }

    ac_buf_add(b, s + start, len - start);
}
