/*
 * authcore: web helpers: return_to, forms, CSRF, templates, cookies.
 * Part of authcore's public API: include <authcore.h>, not this file.
 */

#ifndef AUTHCORE_WEB_H
#define AUTHCORE_WEB_H

#include "config.h"
#include "crypto.h"

/* ------------------------------------------------------- web helpers */
/* (web.c: return_to, CSRF, templates) */

/*
 * return_to (origin.c). A value is kept when it is either
 *   - a path: one '/' not followed by '/' or '\', printable ASCII only
 *     (no space, no backslash), well-formed %XX escapes, and once
 *     decoded neither a control character nor a leading "//" or "/\";
 *   - an absolute http(s) URL whose scheme, host and port equal an entry
 *     of cfg->allowed_redirect_hosts ("https://host" or
 *     "https://host:8443"). Scheme and host compare case-insensitively;
 *     a missing port is the scheme's default, so "https://h" and
 *     "https://h:443" are the same origin. No userinfo ('@'), no
 *     backslash; the rest of the URL follows the path rules.
 * Anything else, or more than AC_RETURN_TO_MAX bytes, becomes "/". The
 * function always writes a safe, NUL-terminated value to out (outsize
 * >= 2; AC_RETURN_TO_MAX + 1 always fits) and returns AC_OK when the
 * input was kept, AC_ERR_INVALID when it was replaced.
 */
#define AC_RETURN_TO_MAX   2048

int ac_return_to(const ac_config_t *cfg, const char *in, size_t len,
    char *out, size_t outsize);


/*
 * application/x-www-form-urlencoded bodies and query strings. Writes the
 * decoded value of field "name" ('+' is a space) with a NUL after it.
 * The whole input is checked on every call: a malformed %-escape, a
 * decoded NUL, or "name" present twice give AC_ERR_INVALID; a value
 * that does not fit outsize - 1 bytes AC_ERR_TOO_LONG; an absent field
 * AC_ERR_NOT_FOUND. On error out is wiped and left empty.
 */
int ac_form_get(const char *body, size_t len, const char *name, char *out,
    size_t outsize, size_t *outlen);

/*
 * CSRF, as signed double-submit tokens. The browser holds a random
 * value in a cookie (ac_csrf_cookie_new); each form carries
 * "MAC.EXPIRY", MAC = base64url(HMAC(AC_PURPOSE_CSRF,
 * binding "|" form "|" expiry)). Before login the binding is the CSRF
 * cookie's value; once logged in it is the session digest. "form" names
 * the form ("login", "2fa", "logout", ...: [a-z0-9_.-], 1..32 bytes) so
 * a token is good for one form only. Tokens live AC_CSRF_TTL seconds.
 * Verification: AC_OK, AC_ERR_MISMATCH (forged, for another binding or
 * form, or expired), AC_ERR_INVALID (malformed).
 */
#define AC_CSRF_TTL        7200
#define AC_CSRF_TOKEN_MAX  64          /* 43 + '.' + 20 digits */
#define AC_CSRF_BINDING_MAX 128

int ac_csrf_cookie_new(char out[AC_TOKEN_LEN + 1]);
int ac_csrf_token(const ac_keys_t *keys, const char *binding,
    const char *form, time_t now, char out[AC_CSRF_TOKEN_MAX + 1]);
int ac_csrf_verify(const ac_keys_t *keys, const char *binding,
    const char *form, const char *token, size_t len, time_t now);

/*
 * Templates: "{{name}}" is replaced by the variable's value, HTML-escaped
 * (ac_buf_html); "{{#name}}...{{/name}}" is kept only when the variable
 * is non-empty, "{{^name}}...{{/name}}" only when it is empty. Names are
 * [a-z0-9_], 1..32 bytes. There is no raw insertion: "{{{" and any other
 * "{{" that is not such a tag are errors, as are unknown names.
 */
#define AC_TVAR_NAME_MAX   32

typedef struct {
    const char  *name;
    const char  *value;     /* NULL counts as empty */
    size_t       len;
} ac_tvar_t;

/* For configuration time: every tag well formed, sections balanced,
 * every name among "names". err->msg says which line is wrong. */
int ac_template_check(const char *tpl, size_t len,
    const char *const *names, size_t n, ac_error_t *err);
/* Appends the rendered page to out; AC_ERR_INVALID on a template error
 * (out then holds a partial page to discard), AC_ERR_NOMEM. */
int ac_template_render(const char *tpl, size_t len, const ac_tvar_t *vars,
    size_t n, ac_buf_t *out);

/* The headers every page sends (SPEC 5), as static name/value pairs. */
typedef struct {
    const char  *name;
    const char  *value;
} ac_header_t;

const ac_header_t *ac_security_headers(size_t *n);

/*
 * Set-Cookie value: "NAME=VALUE; Path=/; HttpOnly; SameSite=Lax"
 * then "; Secure" when secure, then "; Max-Age=N" when max_age >= 0
 * (0 with an empty value clears the cookie). Never a Domain. The name
 * must be an RFC 6265 token, the value cookie-octets of at most
 * AC_COOKIE_VALUE_MAX bytes; a "__Host-" name requires secure.
 */
#define AC_COOKIE_VALUE_MAX 256
#define AC_SET_COOKIE_MAX   512

int ac_cookie_format(const char *name, const char *value, int64_t max_age,
    int secure, char *out, size_t outsize);

/*
 * Finds cookie "name" in a Cookie header ("a=1; b=2", spaces tolerated).
 * AC_ERR_NOT_FOUND when absent or empty, AC_ERR_INVALID when its value
 * holds a byte outside the cookie-octet set or the name appears twice
 * (a cookie planted by another site of the domain), AC_ERR_TOO_LONG
 * beyond AC_COOKIE_VALUE_MAX bytes or outsize - 1. Other cookies are
 * skipped without being judged.
 */
int ac_cookie_get(const char *header, size_t len, const char *name,
    char *out, size_t outsize, size_t *outlen);

#endif /* AUTHCORE_WEB_H */
