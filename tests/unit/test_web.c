/*
 * Web helpers: return_to, form and cookie parsing, CSRF tokens, security
 * headers, Set-Cookie values (templates: test_templates.c).
 */

#include <stdlib.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"


static const char  *allowed[] = {
    "https://good.com",
    "https://app.example.org:8443",
    "http://[::1]:8080/",
    "http://dev.local:80",
};

static ac_config_t  cfg;


static int
rt(const char *in, char *out)
{
    return ac_return_to(&cfg, in, strlen(in), out, AC_RETURN_TO_MAX + 1);
}


#define KEPT(s)                                                              \
    do {                                                                     \
        char o_[AC_RETURN_TO_MAX + 1];                                       \
        CHECK_INT(rt(s, o_), AC_OK);                                         \
        CHECK_STR(o_, s);                                                    \
    } while (0)

#define REPLACED(s)                                                          \
    do {                                                                     \
        char o_[AC_RETURN_TO_MAX + 1];                                       \
        CHECK_INT(rt(s, o_), AC_ERR_INVALID);                                \
        CHECK_STR(o_, "/");                                                  \
    } while (0)


TEST(return_to_paths)
{
    KEPT("/");
    KEPT("/account");
    KEPT("/a/b/c.html?x=1&y=%20z#frag");
    KEPT("/search?q=100%25");
    KEPT("/caf%C3%A9");
    KEPT("/a//b");
    KEPT("/.well-known/x");
}


TEST(return_to_hostile_paths)
{
    REPLACED("//evil.com");
    REPLACED("//evil.com/");
    REPLACED("///evil.com");
    REPLACED("/\\evil.com");
    REPLACED("\\/evil");
    REPLACED("\\\\evil.com");
    REPLACED("/%2F%2Fevil.com");
    REPLACED("/%2fevil.com");
    REPLACED("/%5Cevil");
    REPLACED("/%5cevil");
    REPLACED("/foo%0d%0aSet-Cookie:x");
    REPLACED("/foo%0D%0ALocation:%20//evil");
    REPLACED("/foo%00");
    REPLACED("/foo%09bar");
    REPLACED("/foo%7f");
    REPLACED("/foo\tbar");
    REPLACED("/foo\nbar");
    REPLACED("/foo\r\nSet-Cookie: x=1");
    REPLACED("/foo bar");
    REPLACED("/foo\\bar");
    REPLACED("/caf\xc3\xa9");
    REPLACED(" /foo");
    REPLACED("\t//evil.com");
    REPLACED("/%");
    REPLACED("/%2");
    REPLACED("/%zz");
    REPLACED("/%%32%46");
    REPLACED("");
    REPLACED("evil.com");
    REPLACED("./foo");
    REPLACED("?next=/");
    REPLACED("#/");
}


TEST(return_to_schemes)
{
    REPLACED("javascript:alert(1)");
    REPLACED("JaVaScRiPt:alert(1)");
    REPLACED("javascript://good.com/%0aalert(1)");
    REPLACED("data:text/html,<script>alert(1)</script>");
    REPLACED("vbscript:msgbox(1)");
    REPLACED("ftp://good.com/");
    REPLACED("https:/good.com");
    REPLACED("https:good.com");
    REPLACED("https//good.com");
    REPLACED("https:\\\\good.com");
    REPLACED("//good.com");
}


TEST(return_to_absolute)
{
    KEPT("https://good.com");
    KEPT("https://good.com/");
    KEPT("https://good.com/a/b?c=d#e");
    /* the default port is the same origin, written or not */
    KEPT("https://good.com:443/x");
    KEPT("https://app.example.org:8443/p?q=1");
    KEPT("http://[::1]:8080/");
    KEPT("http://dev.local/");
    KEPT("http://dev.local:80/");
    /* scheme and host are case-insensitive (RFC 3986 6.2.2.1) */
    KEPT("HTTPS://GOOD.COM/x");
    KEPT("Https://Good.Com");
    /* an '@' after the authority is in the fragment or query: harmless */
    KEPT("https://good.com#@evil.com");
    KEPT("https://good.com/?u=@evil.com");
}


TEST(return_to_hostile_absolute)
{
    REPLACED("https://evil.com");
    REPLACED("https://evil.com/https://good.com");
    REPLACED("https://good.com@evil.com");
    REPLACED("https://good.com@evil.com/");
    REPLACED("https://good.com:443@evil.com/");
    REPLACED("http://[::1]:8080@evil.com/");
    REPLACED("https://evil.com#@good.com");
    REPLACED("https://evil.com?https://good.com");
    REPLACED("https://user:pw@good.com/");
    REPLACED("https://@good.com/");
    REPLACED("https://good.com.evil.com");
    REPLACED("https://good.com.");
    REPLACED("https://evilgood.com");
    REPLACED("https://xgood.com");
    REPLACED("https://good.co");
    REPLACED("https://good.com\\@evil.com");
    REPLACED("https://good.com\\.evil.com");
    REPLACED("https://good.com%2F@evil.com");
    REPLACED("https://good%2ecom/");
    REPLACED("https://good.com%00.evil.com");
    REPLACED("https://good.com\n/");
    REPLACED("https://go od.com/");
    REPLACED("http://good.com");
    REPLACED("http://good.com:443");
    REPLACED("https://good.com:8443");
    REPLACED("https://good.com:");
    REPLACED("https://good.com:0443");
    REPLACED("https://good.com:99999");
    REPLACED("https://good.com:abc");
    REPLACED("https://app.example.org/");
    REPLACED("https://app.example.org:443/");
    REPLACED("http://app.example.org:8443/");
    REPLACED("http://[::1]/");
    REPLACED("http://[::2]:8080/");
    REPLACED("http://[::1:8080/");
    REPLACED("https://dev.local/");
    REPLACED("https://good.com/%0d%0aSet-Cookie:x");
    REPLACED("https://good.com/a b");
    REPLACED("https://good.com/\\evil");
    REPLACED("https://");
}


TEST(return_to_limits)
{
    char    *in, out[AC_RETURN_TO_MAX + 1], small[4];
    size_t   i;

    in = malloc(AC_RETURN_TO_MAX + 2);
    CHECK(in != NULL);
    if (in == NULL) {
        return;
    }

    in[0] = '/';
    for (i = 1; i <= AC_RETURN_TO_MAX; i++) {
        in[i] = 'a';
    }
    in[AC_RETURN_TO_MAX + 1] = '\0';

    CHECK_INT(ac_return_to(&cfg, in, AC_RETURN_TO_MAX, out, sizeof(out)),
              AC_OK);
    CHECK_INT(strlen(out), AC_RETURN_TO_MAX);

    CHECK_INT(ac_return_to(&cfg, in, AC_RETURN_TO_MAX + 1, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_STR(out, "/");
    free(in);

    /* only len bytes are read */
    CHECK_INT(ac_return_to(&cfg, "/ok//evil.com", 3, out, sizeof(out)),
              AC_OK);
    CHECK_STR(out, "/ok");
    CHECK_INT(ac_return_to(&cfg, "/\0/evil", 7, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_STR(out, "/");

    /* too small to copy: the safe value still fits */
    CHECK_INT(ac_return_to(&cfg, "/abcd", 5, small, 2), AC_ERR_INVALID);
    CHECK_STR(small, "/");
    CHECK_INT(ac_return_to(&cfg, "/abc", 4, small, 4), AC_ERR_INVALID);
    CHECK_STR(small, "/");
    CHECK_INT(ac_return_to(&cfg, "/ab", 3, small, 4), AC_OK);
    CHECK_STR(small, "/ab");
    small[0] = 'x';
    CHECK_INT(ac_return_to(&cfg, "/", 1, small, 1), AC_ERR_INVALID);
    CHECK_INT(small[0], '\0');

    CHECK_INT(ac_return_to(&cfg, NULL, 0, out, sizeof(out)), AC_ERR_INVALID);
    CHECK_STR(out, "/");

    /* an escape cut by the length is malformed, whatever follows */
    CHECK_INT(ac_return_to(&cfg, "/a%41", 4, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_STR(out, "/");
    CHECK_INT(ac_return_to(&cfg, "/a%41", 3, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_return_to(&cfg, "/a%41", 5, out, sizeof(out)), AC_OK);

    /* without a configuration, only paths */
    CHECK_INT(ac_return_to(NULL, "/x", 2, out, sizeof(out)), AC_OK);
    CHECK_INT(ac_return_to(NULL, "https://good.com", 16, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_STR(out, "/");
}


static int
norm(const char *in, char *out)
{
    return ac_origin_normalize(in, in ? strlen(in) : 0, out);
}


#define ORIGIN(s, want)                                                      \
    do {                                                                     \
        char o_[AC_ORIGIN_MAX];                                              \
        CHECK_INT(norm(s, o_), AC_OK);                                       \
        CHECK_STR(o_, want);                                                 \
    } while (0)

#define NOT_ORIGIN(s)                                                        \
    do {                                                                     \
        char o_[AC_ORIGIN_MAX];                                              \
        CHECK_INT(norm(s, o_), AC_ERR_INVALID);                              \
    } while (0)


TEST(origin_normalize_canonical_form)
{
    ORIGIN("https://good.com", "https://good.com");
    ORIGIN("https://good.com/", "https://good.com");
    ORIGIN("HTTPS://Good.COM:443/", "https://good.com");
    ORIGIN("http://good.com:80", "http://good.com");
    ORIGIN("http://good.com:8080", "http://good.com:8080");
    ORIGIN("https://good.com:80", "https://good.com:80");
    ORIGIN("http://10.1.2.3:8080", "http://10.1.2.3:8080");
    ORIGIN("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443");
    ORIGIN("https://[2001:DB8:0:0::1]:8443/", "https://[2001:db8::1]:8443");
    ORIGIN("http://[::1]:80", "http://[::1]");
    ORIGIN("http://[::FFFF:10.0.0.1]", "http://[::ffff:10.0.0.1]");
}


TEST(origin_normalize_hostile_entries)
{
    NOT_ORIGIN("https://good.com/path");
    NOT_ORIGIN("https://good.com?x");
    NOT_ORIGIN("https://good.com#x");
    NOT_ORIGIN("https://u@good.com");
    NOT_ORIGIN("https://good.com@evil.com");
    NOT_ORIGIN("https://good.com\\@evil.com");
    NOT_ORIGIN("https://good.com\\");
    NOT_ORIGIN("https://%67ood.com");
    NOT_ORIGIN("https://good%2ecom");
    NOT_ORIGIN("https://good.com%2f");
    NOT_ORIGIN("https://good.com.");
    NOT_ORIGIN("https://.good.com");
    NOT_ORIGIN("https://good..com");
    NOT_ORIGIN("https://go_od.com");
    NOT_ORIGIN("https://[::1");
    NOT_ORIGIN("https://[]");
    NOT_ORIGIN("https://[good.com]");
    NOT_ORIGIN("https://[fe80::1%25eth0]");
    NOT_ORIGIN("https://[::1]x");
    NOT_ORIGIN("https://good.com:0");
    NOT_ORIGIN("https://good.com:0443");
    NOT_ORIGIN("https://good.com:65536");
    NOT_ORIGIN("https://good.com:");
    NOT_ORIGIN("https://good.com:+443");
    NOT_ORIGIN("good.com");
    NOT_ORIGIN("//good.com");
    NOT_ORIGIN("ftp://good.com");
    NOT_ORIGIN("https:good.com");
    NOT_ORIGIN("https:/good.com");
    NOT_ORIGIN("https://");
    NOT_ORIGIN("");
    NOT_ORIGIN(NULL);
}


/* A URL is kept exactly when its origin, read by the same parser, is one
 * of the entries: spellings of one origin agree, lookalikes do not. */
TEST(return_to_agrees_with_allow_list)
{
    static const char  *entries[] = {
        "HTTPS://Good.Com:443/",
        "https://[2001:db8::1]:8443",
        "http://[::1]",
    };
    ac_config_t         c2;
    char                out[AC_RETURN_TO_MAX + 1];
    size_t              i;
    static const char  *kept[] = {
        "https://good.com/x",
        "https://GOOD.COM:443/",
        "https://[2001:db8::1]:8443/p",
        "https://[2001:DB8:0:0:0:0:0:1]:8443/p",
        "http://[0:0::1]:80/",
        "http://[::1]",
    };
    static const char  *replaced[] = {
        "https://good.com:8443/",
        "http://good.com/",
        "https://[2001:db8::1]/",
        "https://[2001:db8::2]:8443/",
        "https://[2001:db8::1%25eth0]:8443/",
        "https://good.com:443@evil.com/",
        "https://good.com\\@evil.com/",
        "https://evil.com\\@good.com/",
        "https://good.com%40evil.com/",
        "https://%67ood.com/",
        "https://good.com./",
        "https://[::1]@evil.com/",
        "http://[::1]:8080/",
    };

    memset(&c2, 0, sizeof(c2));
    c2.allowed_redirect_hosts = (char **) entries;
    c2.nallowed_redirect_hosts = sizeof(entries) / sizeof(entries[0]);

    for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        CHECK_INT(ac_return_to(&c2, kept[i], strlen(kept[i]), out,
                               sizeof(out)), AC_OK);
        CHECK_STR(out, kept[i]);
    }

    for (i = 0; i < sizeof(replaced) / sizeof(replaced[0]); i++) {
        CHECK_INT(ac_return_to(&c2, replaced[i], strlen(replaced[i]), out,
                               sizeof(out)), AC_ERR_INVALID);
        CHECK_STR(out, "/");
    }
}


/*
 * ac_form_get or ac_cookie_get on a C string; whatever the result, the
 * length it reports matches what it wrote, and a failure writes "".
 */
static int
get(int (*fn)(const char *, size_t, const char *, char *, size_t, size_t *),
    const char *in, const char *name, char *out, size_t outsize)
{
    size_t  n;
    int     rc;

    n = 12345;
    rc = fn(in, strlen(in), name, out, outsize, &n);

    if (rc == AC_OK) {
        CHECK_INT(n, strlen(out));
    } else {
        CHECK_INT(n, 0);
        CHECK_INT(out[0], '\0');
    }

    return rc;
}


static int
fg(const char *body, const char *name, char *out, size_t outsize)
{
    return get(ac_form_get, body, name, out, outsize);
}


TEST(form_get)
{
    char         v[64];
    size_t       n;
    const char  *body;

    body = "email=alice%40example.com&password=p%26ss+w%3Drd%2B&csrf=t.1"
           "&return_to=%2Faccount%3Fx%3D1%26y%3D2";

    CHECK_INT(fg(body, "email", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "alice@example.com");
    CHECK_INT(fg(body, "password", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "p&ss w=rd+");
    CHECK_INT(fg(body, "csrf", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "t.1");
    CHECK_INT(fg(body, "return_to", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "/account?x=1&y=2");
    CHECK_INT(fg(body, "code", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(fg(body, "mail", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(fg(body, "email=", v, sizeof(v)), AC_ERR_NOT_FOUND);

    CHECK_INT(fg("n=%C3%A9t%c3%a9", "n", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "\xc3\xa9t\xc3\xa9");
    CHECK_INT(fg("a=b=c", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "b=c");
    CHECK_INT(fg("&&a=1&", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "1");
    CHECK_INT(fg("all&b=1", "all", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "");
    CHECK_INT(fg("a=", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "");
    CHECK_INT(fg("xa=1&a=2&ax=3", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "2");
    CHECK_INT(fg("first+name=Ann", "first name", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "Ann");
    CHECK_INT(fg("", "a", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(fg("&&&", "a", v, sizeof(v)), AC_ERR_NOT_FOUND);
    /* ';' is not a separator */
    CHECK_INT(fg("a;b=1", "b", v, sizeof(v)), AC_ERR_NOT_FOUND);

    /* only len bytes */
    CHECK_INT(ac_form_get("a=1&a=2", 3, "a", v, sizeof(v), &n), AC_OK);
    CHECK_STR(v, "1");
    CHECK_INT(n, 1);
    CHECK_INT(ac_form_get(NULL, 0, "a", v, sizeof(v), NULL),
              AC_ERR_NOT_FOUND);
    CHECK_INT(ac_form_get("a=1", 3, "", v, sizeof(v), NULL), AC_ERR_INVALID);
    CHECK_INT(ac_form_get("a=1", 3, "a", v, 0, NULL), AC_ERR_INVALID);
}


TEST(form_get_hostile)
{
    char  v[8];

    /* duplicates are refused, however they are spelled */
    CHECK_INT(fg("a=1&a=2", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=1&%61=2", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=1&a", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=1&b=2&a=1", "a", v, sizeof(v)), AC_ERR_INVALID);

    /* malformed escapes, in the field asked for or anywhere else */
    CHECK_INT(fg("a=%", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=%2", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=%zz", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=%+1", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=1&b=%g0", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=1&%=2", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("a=x%00y", "a", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(fg("b=%00&a=1", "a", v, sizeof(v)), AC_ERR_INVALID);

    /* too long: the escape is decoded before the length is judged */
    CHECK_INT(fg("a=1234567", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "1234567");
    CHECK_INT(fg("a=12345678", "a", v, sizeof(v)), AC_ERR_TOO_LONG);
    CHECK_INT(fg("a=%41%41%41%41%41%41%41", "a", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "AAAAAAA");
    CHECK_INT(fg("a=12345678&b=%zz", "a", v, sizeof(v)), AC_ERR_INVALID);

    /* a failed call leaves nothing of a secret behind */
    CHECK_INT(fg("password=hunter2&password=x", "password", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK(memchr(v, 'u', sizeof(v)) == NULL);
    CHECK_INT(fg("password=hunter22xyz", "password", v, sizeof(v)),
              AC_ERR_TOO_LONG);
    CHECK(memchr(v, 'u', sizeof(v)) == NULL);

    /* an escape cut by the length is malformed, whatever follows */
    CHECK_INT(ac_form_get("a=%41", 4, "a", v, sizeof(v), NULL),
              AC_ERR_INVALID);
    CHECK_INT(ac_form_get("a=%41", 3, "a", v, sizeof(v), NULL),
              AC_ERR_INVALID);
}


static int
cg(const char *header, const char *name, char *out, size_t outsize)
{
    return get(ac_cookie_get, header, name, out, outsize);
}


TEST(cookie_get)
{
    char  v[AC_COOKIE_VALUE_MAX + 2], big[600], *p;

    CHECK_INT(cg("guichet=abc_-123", "guichet", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "abc_-123");
    CHECK_INT(cg("a=1; guichet=xyz; b=2", "guichet", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "xyz");
    CHECK_INT(cg("  a=1 ;\tguichet = xyz  ;b=2", "guichet", v, sizeof(v)),
              AC_OK);
    CHECK_STR(v, "xyz");
    CHECK_INT(cg("a=1;guichet=x=y", "guichet", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "x=y");
    CHECK_INT(cg("__Host-guichet=t; guichet=u", "__Host-guichet", v,
                 sizeof(v)), AC_OK);
    CHECK_STR(v, "t");

    /* other cookies are not judged */
    CHECK_INT(cg("app=\"a b, c\"; x; guichet=ok; \xff=\xfe", "guichet", v,
                 sizeof(v)), AC_OK);
    CHECK_STR(v, "ok");

    CHECK_INT(cg("a=1; b=2", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(cg("xguichet=1; guichetx=2", "guichet", v, sizeof(v)),
              AC_ERR_NOT_FOUND);
    CHECK_INT(cg("Guichet=1", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(cg("guichet", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(cg("guichet=", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(cg("guichet=  ;", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);
    CHECK_INT(cg("", "guichet", v, sizeof(v)), AC_ERR_NOT_FOUND);

    /* 256 bytes fit, 257 do not */
    p = big;
    p += sprintf(p, "guichet=");
    memset(p, 'a', AC_COOKIE_VALUE_MAX);
    p[AC_COOKIE_VALUE_MAX] = '\0';
    CHECK_INT(cg(big, "guichet", v, sizeof(v)), AC_OK);
    CHECK_INT(strlen(v), AC_COOKIE_VALUE_MAX);
    p[AC_COOKIE_VALUE_MAX] = 'a';
    p[AC_COOKIE_VALUE_MAX + 1] = '\0';
    CHECK_INT(cg(big, "guichet", v, sizeof(v)), AC_ERR_TOO_LONG);
    CHECK_INT(cg("guichet=abcd", "guichet", v, 4), AC_ERR_TOO_LONG);
    CHECK_INT(cg("guichet=abc", "guichet", v, 4), AC_OK);
}


TEST(cookie_get_hostile)
{
    char  v[64];

    CHECK_INT(cg("guichet=a\r\nSet-Cookie: x=1", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a\nb", "guichet", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a b", "guichet", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(cg("guichet=\"abc\"", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a,b", "guichet", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a\\b", "guichet", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(cg("guichet=caf\xc3\xa9", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a\x7f", "guichet", v, sizeof(v)), AC_ERR_INVALID);
    CHECK_INT(ac_cookie_get("guichet=a\0b", 11, "guichet", v, sizeof(v),
                            NULL), AC_ERR_INVALID);

    /* a second cookie of the same name: planted, refuse both */
    CHECK_INT(cg("guichet=a; guichet=b", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK_INT(cg("guichet=a; x=1; guichet=a", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
    CHECK_INT(cg("guichet=; guichet=b", "guichet", v, sizeof(v)),
              AC_ERR_INVALID);
}


TEST(cookie_format)
{
    char  out[AC_SET_COOKIE_MAX], v[AC_COOKIE_VALUE_MAX + 2];

    CHECK_INT(ac_cookie_format("guichet", "abc", -1, 0, out, sizeof(out)),
              AC_OK);
    CHECK_STR(out, "guichet=abc; Path=/; HttpOnly; SameSite=Lax");

    CHECK_INT(ac_cookie_format("__Host-guichet", "Zm9v_-", 3600, 1, out,
                               sizeof(out)), AC_OK);
    CHECK_STR(out, "__Host-guichet=Zm9v_-; Path=/; HttpOnly; SameSite=Lax;"
                   " Secure; Max-Age=3600");

    /* clearing */
    CHECK_INT(ac_cookie_format("guichet", "", 0, 0, out, sizeof(out)),
              AC_OK);
    CHECK_STR(out, "guichet=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    CHECK(strstr(out, "Domain") == NULL);

    /* what is formatted parses back */
    CHECK_INT(ac_cookie_format("guichet", "v.1-2_3", -1, 1, out,
                               sizeof(out)), AC_OK);
    CHECK_INT(cg(out, "guichet", v, sizeof(v)), AC_OK);
    CHECK_STR(v, "v.1-2_3");

    /* browsers drop a __Host- cookie without Secure */
    CHECK_INT(ac_cookie_format("__Host-guichet", "a", -1, 0, out,
                               sizeof(out)), AC_ERR_INVALID);
    CHECK_STR(out, "");

    CHECK_INT(ac_cookie_format("guichet", "a\r\nSet-Cookie: x=1", -1, 0,
                               out, sizeof(out)), AC_ERR_INVALID);
    CHECK_STR(out, "");
    CHECK_INT(ac_cookie_format("guichet", "a; Domain=evil.com", -1, 0, out,
                               sizeof(out)), AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("guichet", "a b", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("guichet", "\"a\"", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("gui chet", "a", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("a=b", "a", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("a;b", "a", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format("", "a", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);
    CHECK_INT(ac_cookie_format(NULL, "a", -1, 0, out, sizeof(out)),
              AC_ERR_INVALID);

    memset(v, 'a', AC_COOKIE_VALUE_MAX + 1);
    v[AC_COOKIE_VALUE_MAX + 1] = '\0';
    CHECK_INT(ac_cookie_format("guichet", v, -1, 1, out, sizeof(out)),
              AC_ERR_TOO_LONG);
    v[AC_COOKIE_VALUE_MAX] = '\0';
    CHECK_INT(ac_cookie_format("guichet", v, 31536000, 1, out, sizeof(out)),
              AC_OK);
    CHECK_INT(ac_cookie_format("guichet", "abc", -1, 0, out, 20),
              AC_ERR_TOO_LONG);
    CHECK_STR(out, "");
}


TEST(security_headers)
{
    size_t              i, n;
    const ac_header_t  *h;
    int                 csp, nosniff, referrer, cache;

    h = ac_security_headers(&n);
    CHECK(h != NULL);
    CHECK_INT(n, 4);

    csp = nosniff = referrer = cache = 0;

    for (i = 0; h != NULL && i < n; i++) {
        if (strcmp(h[i].name, "Content-Security-Policy") == 0) {
            CHECK_STR(h[i].value,
                      "default-src 'self'; frame-ancestors 'none'");
            csp++;
        } else if (strcmp(h[i].name, "X-Content-Type-Options") == 0) {
            CHECK_STR(h[i].value, "nosniff");
            nosniff++;
        } else if (strcmp(h[i].name, "Referrer-Policy") == 0) {
            CHECK_STR(h[i].value, "no-referrer");
            referrer++;
        } else if (strcmp(h[i].name, "Cache-Control") == 0) {
            CHECK_STR(h[i].value, "no-store");
            cache++;
        }
    }

    CHECK(csp == 1 && nosniff == 1 && referrer == 1 && cache == 1);
}


static ac_keys_t *
test_keys(unsigned char fill)
{
    unsigned char  secret[AC_SECRET_MIN];
    ac_keys_t     *keys;

    memset(secret, fill, sizeof(secret));
    keys = NULL;
    CHECK_INT(ac_keys_from_secret(secret, sizeof(secret), &keys), AC_OK);

    return keys;
}


TEST(csrf_cookie)
{
    char    a[AC_TOKEN_LEN + 1], b[AC_TOKEN_LEN + 1];
    size_t  i;

    CHECK_INT(ac_csrf_cookie_new(a), AC_OK);
    CHECK_INT(ac_csrf_cookie_new(b), AC_OK);
    CHECK_INT(strlen(a), AC_TOKEN_LEN);
    CHECK(strcmp(a, b) != 0);

    for (i = 0; i < AC_TOKEN_LEN; i++) {
        CHECK(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-_", a[i]) != NULL);
    }
}


TEST(csrf_token)
{
    ac_keys_t      *keys, *other;
    char            cookie[AC_TOKEN_LEN + 1], cookie2[AC_TOKEN_LEN + 1];
    char            tok[AC_CSRF_TOKEN_MAX + 1], bad[AC_CSRF_TOKEN_MAX + 8];
    char            data[256], want[AC_CSRF_TOKEN_MAX + 1];
    unsigned char   mac[AC_MAC_LEN];
    time_t          now;
    size_t          len;

    keys = test_keys(0x42);
    other = test_keys(0x43);
    if (keys == NULL || other == NULL) {
        ac_keys_free(keys);
        ac_keys_free(other);
        return;
    }

    now = 1800000000;
    CHECK_INT(ac_csrf_cookie_new(cookie), AC_OK);
    CHECK_INT(ac_csrf_cookie_new(cookie2), AC_OK);

    CHECK_INT(ac_csrf_token(keys, cookie, "login", now, tok), AC_OK);
    len = strlen(tok);

    /* the documented shape: base64url(HMAC(binding|form|expiry)).expiry */
    snprintf(data, sizeof(data), "%s|login|%lld", cookie,
             (long long) now + AC_CSRF_TTL);
    CHECK_INT(ac_mac(keys, AC_PURPOSE_CSRF, data, strlen(data), mac), AC_OK);
    ac_b64url_encode(mac, sizeof(mac), want);
    snprintf(want + strlen(want), sizeof(want) - strlen(want), ".%lld",
             (long long) now + AC_CSRF_TTL);
    CHECK_STR(tok, want);

    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len, now), AC_OK);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len,
                             now + AC_CSRF_TTL - 1), AC_OK);

    /* expired, or minted too far ahead of this clock */
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len,
                             now + AC_CSRF_TTL), AC_ERR_MISMATCH);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len,
                             now + 100000), AC_ERR_MISMATCH);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len, now - 3600),
              AC_ERR_MISMATCH);

    /* another browser, another form, another key */
    CHECK_INT(ac_csrf_verify(keys, cookie2, "login", tok, len, now),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_csrf_verify(keys, cookie, "logout", tok, len, now),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_csrf_verify(other, cookie, "login", tok, len, now),
              AC_ERR_MISMATCH);

    /* a later expiry with the old MAC */
    memcpy(bad, tok, len + 1);
    bad[len - 1] = (char) (bad[len - 1] == '9' ? '8' : bad[len - 1] + 1);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, len, now),
              AC_ERR_MISMATCH);

    /* one MAC character changed */
    memcpy(bad, tok, len + 1);
    bad[5] = (char) (bad[5] == 'A' ? 'B' : 'A');
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, len, now),
              AC_ERR_MISMATCH);

    /* truncated or malformed */
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, len - 1, now),
              AC_ERR_MISMATCH);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, 43, now),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", tok, 44, now),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", "", 0, now),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", NULL, 0, now),
              AC_ERR_INVALID);
    snprintf(bad, sizeof(bad), "%.43s.0%lld", tok,
             (long long) now + AC_CSRF_TTL);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, strlen(bad), now),
              AC_ERR_INVALID);
    snprintf(bad, sizeof(bad), "%.43s.+%lld", tok,
             (long long) now + AC_CSRF_TTL);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, strlen(bad), now),
              AC_ERR_INVALID);
    snprintf(bad, sizeof(bad), "%.43s.99999999999999999999", tok);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, strlen(bad), now),
              AC_ERR_INVALID);
    snprintf(bad, sizeof(bad), "%.43s|%lld", tok,
             (long long) now + AC_CSRF_TTL);
    CHECK_INT(ac_csrf_verify(keys, cookie, "login", bad, strlen(bad), now),
              AC_ERR_INVALID);

    /* bindings and form names are checked, so "|" cannot shift fields */
    CHECK_INT(ac_csrf_token(keys, "abcdefghijklmnop|login", "x", now, tok),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, cookie, "log|in", now, tok),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, cookie, "Login", now, tok),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, cookie, "", now, tok), AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, "short", "login", now, tok),
              AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, "", "login", now, tok), AC_ERR_INVALID);
    CHECK_INT(ac_csrf_token(keys, cookie, "login", 0, tok), AC_ERR_INVALID);
    CHECK_INT(ac_csrf_verify(keys, "not a cookie value!!", "login", want,
                             strlen(want), now), AC_ERR_INVALID);

    /* bound to a session digest once logged in */
    CHECK_INT(ac_csrf_token(keys, "AAAAAAAAAAAAAAAAAAAAAA", "logout", now,
                            tok), AC_OK);
    CHECK_INT(ac_csrf_verify(keys, "AAAAAAAAAAAAAAAAAAAAAA", "logout", tok,
                             strlen(tok), now + 60), AC_OK);
    CHECK_INT(ac_csrf_verify(keys, "AAAAAAAAAAAAAAAAAAAAAB", "logout", tok,
                             strlen(tok), now + 60), AC_ERR_MISMATCH);

    ac_keys_free(keys);
    ac_keys_free(other);
}


int
main(void)
{
    cfg.allowed_redirect_hosts = (char **) allowed;
    cfg.nallowed_redirect_hosts = sizeof(allowed) / sizeof(allowed[0]);

    if (ac_init() != AC_OK) {
        printf("ac_init failed\n");
        return 1;
    }

    RUN(return_to_paths);
    RUN(return_to_hostile_paths);
    RUN(return_to_schemes);
    RUN(return_to_absolute);
    RUN(return_to_hostile_absolute);
    RUN(return_to_limits);
    RUN(origin_normalize_canonical_form);
    RUN(origin_normalize_hostile_entries);
    RUN(return_to_agrees_with_allow_list);
    RUN(form_get);
    RUN(form_get_hostile);
    RUN(cookie_get);
    RUN(cookie_get_hostile);
    RUN(cookie_format);
    RUN(security_headers);
    RUN(csrf_cookie);
    RUN(csrf_token);

    ac_done();

    return CHECK_DONE();
}
