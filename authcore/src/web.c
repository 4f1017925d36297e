/*
 * Helpers for the login pages: CSRF tokens, templates, security headers
 * and Set-Cookie values (return_to is in origin.c).
 *
 * CSRF design. The login and 2FA forms are shown before any session
 * exists, so the token cannot be stored server-side against a session.
 * It is a signed double-submit token instead:
 *
 *   - the browser gets a random value (32 bytes, base64url) in a cookie,
 *     HttpOnly and SameSite=Lax, "__Host-" prefixed over TLS so that a
 *     sibling subdomain cannot plant one;
 *   - each form carries MAC "." EXPIRY where MAC is base64url of
 *     HMAC-SHA256 under the CSRF key (HKDF from the secret file) of
 *     binding "|" form "|" EXPIRY;
 *   - a POST is accepted only when the MAC recomputed from the cookie it
 *     came with matches in constant time and EXPIRY is in the future and
 *     no further than AC_CSRF_TTL (plus a small clock allowance) away.
 *
 * A cross-site page can make the browser send the cookie but can neither
 * read it nor forge a MAC for it, and a token taken from one browser is
 * useless with another browser's cookie. Nothing is stored in Redis.
 * Once logged in, the binding is the session digest: the token then dies
 * with the session and the CSRF cookie is no longer needed. The form
 * name stops a token for one form (say "login") being replayed against
 * another ("logout").
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "internal.h"


#define AC_CSRF_FORM_MAX   32
#define AC_CSRF_SKEW       60
#define AC_CSRF_BINDING_MIN 16
#define AC_TPL_DEPTH       8


static int ac_b64url_chars(const char *s, size_t len);
static int ac_csrf_mac(const ac_keys_t *keys, const char *binding,
    const char *form, int64_t exp, char mac[AC_B64URL_LEN(AC_MAC_LEN) + 1]);
static int ac_tpl_run(int text, const char *tpl, size_t len,
    const char *const *names, const ac_tvar_t *vars, size_t n,
    ac_buf_t *out, ac_error_t *err);
static void ac_tpl_error(ac_error_t *err, const char *tpl, const char *at,
    const char *what, const char *name, size_t namelen);
static int ac_cookie_name_ok(const char *s, size_t len);


/* ----------------------------------------------------------------- CSRF */

static int
ac_b64url_chars(const char *s, size_t len)
{
    size_t  i;
    char    c;

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        {
            return 0;
        }
    }

    return 1;
}


static int
ac_csrf_mac(const ac_keys_t *keys, const char *binding, const char *form,
    int64_t exp, char mac[AC_B64URL_LEN(AC_MAC_LEN) + 1])
{
    int            rc, n;
    char           data[AC_CSRF_BINDING_MAX + AC_CSRF_FORM_MAX + 32];
    size_t         blen, flen, i;
    unsigned char  raw[AC_MAC_LEN];

    if (keys == NULL || binding == NULL || form == NULL) {
        return AC_ERR_INVALID;
    }

    blen = strlen(binding);
    flen = strlen(form);

    if (blen < AC_CSRF_BINDING_MIN || blen > AC_CSRF_BINDING_MAX
        || !ac_b64url_chars(binding, blen)
        || flen == 0 || flen > AC_CSRF_FORM_MAX)
    {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < flen; i++) {
        if (!((form[i] >= 'a' && form[i] <= 'z')
              || (form[i] >= '0' && form[i] <= '9')
              || form[i] == '_' || form[i] == '.' || form[i] == '-'))
        {
            return AC_ERR_INVALID;
        }
    }

    /* neither part can hold '|', so the encoding is unambiguous */
    n = snprintf(data, sizeof(data), "%s|%s|%" PRId64, binding, form, exp);
    if (n < 0 || (size_t) n >= sizeof(data)) {
        return AC_ERR_INVALID;
    }

    rc = ac_mac(keys, AC_PURPOSE_CSRF, data, (size_t) n, raw);

    if (rc == AC_OK) {
        ac_b64url_encode(raw, sizeof(raw), mac);
    }

    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(data, sizeof(data));

    return rc;
}


int
ac_csrf_cookie_new(char out[AC_TOKEN_LEN + 1])
{
    return ac_token_new(out);
}


int
ac_csrf_token(const ac_keys_t *keys, const char *binding, const char *form,
    time_t now, char out[AC_CSRF_TOKEN_MAX + 1])
{
    int      rc;
    char     mac[AC_B64URL_LEN(AC_MAC_LEN) + 1];
    int64_t  exp;

    out[0] = '\0';

    if (now <= 0 || (int64_t) now > INT64_MAX - AC_CSRF_TTL) {
        return AC_ERR_INVALID;
    }

    exp = (int64_t) now + AC_CSRF_TTL;

    rc = ac_csrf_mac(keys, binding, form, exp, mac);
    if (rc != AC_OK) {
        return rc;
    }

    snprintf(out, AC_CSRF_TOKEN_MAX + 1, "%s.%" PRId64, mac, exp);
    OPENSSL_cleanse(mac, sizeof(mac));

    return AC_OK;
}


int
ac_csrf_verify(const ac_keys_t *keys, const char *binding, const char *form,
    const char *token, size_t len, time_t now)
{
    int      rc, same;
    char     mac[AC_B64URL_LEN(AC_MAC_LEN) + 1];
    size_t   maclen, i;
    int64_t  exp;

    maclen = AC_B64URL_LEN(AC_MAC_LEN);

    if (token == NULL || len <= maclen + 1 || len > AC_CSRF_TOKEN_MAX
        || token[maclen] != '.' || token[maclen + 1] == '0'
        || len - maclen - 1 > 18)
    {
        return AC_ERR_INVALID;
    }

    exp = 0;

    for (i = maclen + 1; i < len; i++) {
        if (token[i] < '0' || token[i] > '9') {
            return AC_ERR_INVALID;
        }

        exp = exp * 10 + (token[i] - '0');
    }

    rc = ac_csrf_mac(keys, binding, form, exp, mac);
    if (rc != AC_OK) {
        return rc;
    }

    same = (CRYPTO_memcmp(mac, token, maclen) == 0);
    OPENSSL_cleanse(mac, sizeof(mac));

    if (!same || exp <= (int64_t) now
        || exp > (int64_t) now + AC_CSRF_TTL + AC_CSRF_SKEW)
    {
        return AC_ERR_MISMATCH;
    }

    return AC_OK;
}


/* ------------------------------------------------------------ templates */

static void
ac_tpl_error(ac_error_t *err, const char *tpl, const char *at,
    const char *what, const char *name, size_t namelen)
{
    size_t       line;
    const char  *p;

    if (err == NULL) {
        return;
    }

    line = 1;

    for (p = tpl; p < at; p++) {
        if (*p == '\n') {
            line++;
        }
    }

    ac_error_set(err, AC_ERR_INVALID, "line %zu: %s%s%.*s%s", line, what,
                 name ? " \"" : "", (int) namelen, name ? name : "",
                 name ? "\"" : "");
}


/*
 * One walk for both uses: without "out" it checks the names against
 * "names", with "out" it renders "vars" into it.
 */
static int
ac_tpl_run(int text, const char *tpl, size_t len, const char *const *names,
    const ac_tvar_t *vars, size_t n, ac_buf_t *out, ac_error_t *err)
{
    int          kind, hidden;
    size_t       i, depth, namelen;
    const char  *p, *end, *lit, *tag, *name, *value;
    size_t       vlen;
    struct {
        const char  *name;
        size_t       len;
        int          hidden;
    }            stack[AC_TPL_DEPTH];

    if (tpl == NULL && len != 0) {
        return AC_ERR_INVALID;
    }

    p = tpl;
    end = (tpl != NULL) ? tpl + len : tpl;
    lit = p;
    depth = 0;
    hidden = 0;

    while (p < end) {
        if (!(p[0] == '{' && end - p >= 2 && p[1] == '{')) {
            p++;
            continue;
        }

        if (out != NULL && !hidden) {
            ac_buf_add(out, lit, p - lit);
        }

        tag = p;
        p += 2;

        if (p < end && *p == '{') {
            ac_tpl_error(err, tpl, tag, "raw insertion is not supported",
                         NULL, 0);
            return AC_ERR_INVALID;
        }

        kind = 0;
        if (p < end && (*p == '#' || *p == '^' || *p == '/')) {
            kind = *p++;
        }

        name = p;
        while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                           || *p == '_'))
        {
            p++;
        }

        namelen = p - name;

        if (namelen == 0 || namelen > AC_TVAR_NAME_MAX
            || end - p < 2 || p[0] != '}' || p[1] != '}'
            || (end - p > 2 && p[2] == '}'))
        {
            ac_tpl_error(err, tpl, tag, "malformed tag", NULL, 0);
            return AC_ERR_INVALID;
        }

        p += 2;
        lit = p;

        value = NULL;
        vlen = 0;

        if (kind == '/') {
            if (depth == 0 || stack[depth - 1].len != namelen
                || memcmp(stack[depth - 1].name, name, namelen) != 0)
            {
                ac_tpl_error(err, tpl, tag, "unexpected section end", name,
                             namelen);
                return AC_ERR_INVALID;
            }

            depth--;
            hidden = stack[depth].hidden;
            continue;
        }

        if (out == NULL) {
            for (i = 0; i < n; i++) {
                if (names[i] != NULL && strlen(names[i]) == namelen
                    && memcmp(names[i], name, namelen) == 0)
                {
                    break;
                }
            }

        } else {
            for (i = 0; i < n; i++) {
                if (vars[i].name != NULL && strlen(vars[i].name) == namelen
                    && memcmp(vars[i].name, name, namelen) == 0)
                {
                    value = vars[i].value;
                    vlen = value ? vars[i].len : 0;
                    break;
                }
            }
        }

        if (i == n) {
            ac_tpl_error(err, tpl, tag, "unknown variable", name, namelen);
            return AC_ERR_INVALID;
        }

        if (kind == 0) {
            if (out != NULL && !hidden && vlen != 0) {
                if (!text) {
                    ac_buf_html(out, value, vlen);

                } else {
                    /* plain text (mail): a control character could
                     * forge lines, so a value holding one is refused */
                    for (i = 0; i < vlen; i++) {
                        if ((unsigned char) value[i] < 0x20
                            || value[i] == 0x7f)
                        {
                            return AC_ERR_INVALID;
                        }
                    }

                    ac_buf_add(out, value, vlen);
                }
            }

            continue;
        }

        if (depth == AC_TPL_DEPTH) {
            ac_tpl_error(err, tpl, tag, "sections nested too deep", NULL, 0);
            return AC_ERR_INVALID;
        }

        stack[depth].name = name;
        stack[depth].len = namelen;
        stack[depth].hidden = hidden;
        depth++;

        if (out != NULL && (kind == '#') == (vlen == 0)) {
            hidden = 1;
        }
    }

    if (depth != 0) {
        ac_tpl_error(err, tpl, stack[depth - 1].name, "unclosed section",
                     stack[depth - 1].name, stack[depth - 1].len);
        return AC_ERR_INVALID;
    }

    if (out != NULL) {
        ac_buf_add(out, lit, end - lit);
        return ac_buf_status(out);
    }

    return AC_OK;
}


int
ac_template_check(const char *tpl, size_t len, const char *const *names,
    size_t n, ac_error_t *err)
{
    if (names == NULL && n != 0) {
        return AC_ERR_INVALID;
    }

    return ac_tpl_run(0, tpl, len, names, NULL, n, NULL, err);
}


int
ac_template_render(const char *tpl, size_t len, const ac_tvar_t *vars,
    size_t n, ac_buf_t *out)
{
    if (out == NULL || (vars == NULL && n != 0)) {
        return AC_ERR_INVALID;
    }

    return ac_tpl_run(0, tpl, len, NULL, vars, n, out, NULL);
}


int
ac_template_render_text(const char *tpl, size_t len, const ac_tvar_t *vars,
    size_t n, ac_buf_t *out)
{
    if (out == NULL || (vars == NULL && n != 0)) {
        return AC_ERR_INVALID;
    }

    return ac_tpl_run(1, tpl, len, NULL, vars, n, out, NULL);
}


/* -------------------------------------------------------------- headers */

static const ac_header_t  ac_security_headers_list[] = {
    { "Content-Security-Policy",
      "default-src 'self'; frame-ancestors 'none'" },
    { "X-Content-Type-Options", "nosniff" },
    { "Referrer-Policy", "no-referrer" },
    { "Cache-Control", "no-store" },
};


const ac_header_t *
ac_security_headers(size_t *n)
{
    if (n != NULL) {
        *n = sizeof(ac_security_headers_list)
             / sizeof(ac_security_headers_list[0]);
    }

    return ac_security_headers_list;
}


/* -------------------------------------------------------------- cookies */

/* RFC 7230 tchar */
static int
ac_cookie_name_ok(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > 64) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
        {
            return 0;
        }
    }

    return 1;
}


int
ac_cookie_format(const char *name, const char *value, int64_t max_age,
    int secure, char *out, size_t outsize)
{
    int     n;
    char    age[32];
    size_t  nlen, vlen, i;
    int     c;

    if (out == NULL || outsize == 0) {
        return AC_ERR_INVALID;
    }

    out[0] = '\0';

    if (name == NULL || value == NULL) {
        return AC_ERR_INVALID;
    }

    nlen = strlen(name);
    vlen = strlen(value);

    if (!ac_cookie_name_ok(name, nlen)) {
        return AC_ERR_INVALID;
    }

    if (nlen >= 7 && memcmp(name, "__Host-", 7) == 0 && !secure) {
        return AC_ERR_INVALID;
    }

    if (vlen > AC_COOKIE_VALUE_MAX) {
        return AC_ERR_TOO_LONG;
    }

    for (i = 0; i < vlen; i++) {
        c = (unsigned char) value[i];

        if (!(c == 0x21 || (c >= 0x23 && c <= 0x2b)
              || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b)
              || (c >= 0x5d && c <= 0x7e)))
        {
            return AC_ERR_INVALID;
        }
    }

    age[0] = '\0';
    if (max_age >= 0) {
        snprintf(age, sizeof(age), "; Max-Age=%" PRId64, max_age);
    }

    n = snprintf(out, outsize, "%s=%s; Path=/; HttpOnly; SameSite=Lax%s%s",
                 name, value, secure ? "; Secure" : "", age);

    if (n < 0 || (size_t) n >= outsize) {
        out[0] = '\0';
        return AC_ERR_TOO_LONG;
    }

    return AC_OK;
}
