/*
 * Templates: rendering, escaping, NULL values, errors, and the shipped
 * pages (every tag known, no inline script or style, labelled fields).
 */

#include <stdio.h>
#include <stdlib.h>

#include "authcore.h"
#include "internal.h"
#include "check.h"


static int
render(const char *tpl, const ac_tvar_t *vars, size_t n, ac_buf_t *b)
{
    ac_buf_reset(b);
    return ac_template_render(tpl, strlen(tpl), vars, n, b);
}


TEST(template_render)
{
    ac_buf_t   b;
    ac_tvar_t  vars[] = {
        { "name", "Ann", 3 },
        { "error", "", 0 },
        { "msg", "bad <b>", 7 },
        { "none", NULL, 0 },
    };

    ac_buf_init(&b);

    CHECK_INT(render("Hello {{name}}!", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "Hello Ann!");
    CHECK_INT(b.len, 10);
    CHECK_INT(render("", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "");
    CHECK_INT(render("no tags { } }} {", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "no tags { } }} {");
    CHECK_INT(render("{{name}}{{name}}", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "AnnAnn");
    CHECK_INT(render("[{{none}}]", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "[]");

    /* sections */
    CHECK_INT(render("a{{#error}}E={{error}}{{/error}}b", vars, 4, &b),
              AC_OK);
    CHECK_STR(b.data, "ab");
    CHECK_INT(render("a{{^error}}fine{{/error}}b", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "afineb");
    CHECK_INT(render("a{{#name}}<{{name}}>{{/name}}b", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "a<Ann>b");
    CHECK_INT(render("{{#name}}1{{#error}}2{{/error}}3{{^none}}4{{/none}}"
                     "{{/name}}{{#none}}5{{#name}}6{{/name}}{{/none}}",
                     vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "134");

    /* only len bytes of a value, and of the template */
    vars[0].len = 2;
    CHECK_INT(render("{{name}}", vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "An");
    vars[0].len = 3;
    ac_buf_reset(&b);
    CHECK_INT(ac_template_render("ok{{name}}", 2, vars, 4, &b), AC_OK);
    CHECK_STR(b.data, "ok");

    ac_buf_free(&b);
}


TEST(template_null_value)
{
    ac_buf_t   b;
    ac_tvar_t  vars[] = {
        { "x", NULL, 0 },
        { "y", NULL, 5 },
    };

    /* NULL counts as empty, whatever len says; under UBSan a NULL that
     * reached ac_buf_html() was "applying zero offset to null pointer" */
    ac_buf_init(&b);

    CHECK_INT(render("{{x}}", vars, 2, &b), AC_OK);
    CHECK_INT(b.len, 0);
    CHECK_INT(render("<{{x}}|{{y}}>", vars, 2, &b), AC_OK);
    CHECK_STR(b.data, "<|>");
    CHECK_INT(render("{{#y}}no{{/y}}{{^y}}yes{{/y}}", vars, 2, &b), AC_OK);
    CHECK_STR(b.data, "yes");

    /* and so does a NULL template of length 0 */
    ac_buf_reset(&b);
    CHECK_INT(ac_template_render(NULL, 0, vars, 2, &b), AC_OK);
    CHECK_INT(b.len, 0);
    CHECK_INT(ac_template_check(NULL, 0, NULL, 0, NULL), AC_OK);

    ac_buf_free(&b);
}


TEST(template_escapes)
{
    ac_buf_t     b;
    const char  *xss = "<script>alert(1)</script>";
    const char  *attr = "\" onfocus=\"alert(1)\" x='";
    ac_tvar_t    vars[2];

    ac_buf_init(&b);

    vars[0].name = "v";
    vars[0].value = xss;
    vars[0].len = strlen(xss);
    vars[1].name = "w";
    vars[1].value = "a&b";
    vars[1].len = 3;

    CHECK_INT(render("<p>{{v}}</p>", vars, 2, &b), AC_OK);
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(strstr(b.data, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
    CHECK_INT(render("{{w}}", vars, 2, &b), AC_OK);
    CHECK_STR(b.data, "a&amp;b");

    vars[0].value = attr;
    vars[0].len = strlen(attr);
    CHECK_INT(render("<input value=\"{{v}}\">", vars, 2, &b), AC_OK);
    CHECK(strncmp(b.data, "<input value=\"", 14) == 0);
    /* the only quotes left are the template's own two */
    CHECK(strchr(b.data + 14, '"') == b.data + b.len - 2);
    CHECK(strchr(b.data, '\'') == NULL);
    CHECK(strstr(b.data, "&quot; onfocus=&quot;alert(1)&quot;") != NULL);

    /* a value that looks like a tag is not expanded again */
    vars[0].value = "{{w}}";
    vars[0].len = 5;
    CHECK_INT(render("{{v}}", vars, 2, &b), AC_OK);
    CHECK_STR(b.data, "{{w}}");

    ac_buf_free(&b);
}


TEST(template_errors)
{
    ac_buf_t     b;
    ac_error_t   err;
    ac_tvar_t    vars[] = { { "a", "1", 1 }, { "b", "", 0 } };
    const char  *names[] = { "a", "b" };
    const char  *bad[] = {
        "{{{a}}}", "{{ a }}", "{{A}}", "{{a-b}}", "{{}}", "{{#}}", "{{a}",
        "{{a", "x{{", "{{a}}}", "{{!a}}", "{{&a}}", "{{>a}}", "{{c}}",
        "{{#c}}{{/c}}", "{{#a}}", "{{/a}}", "{{#a}}{{/b}}",
        "{{#a}}{{#b}}{{/a}}{{/b}}", "{{^a}}x", "{{#a}}{{/a}}{{/a}}",
        "{{a\n}}", "{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}",
        ("{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}"
         "{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}"),
    };
    size_t       i;

    ac_buf_init(&b);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (render(bad[i], vars, 2, &b) != AC_ERR_INVALID) {
            printf("    rendered: %s\n", bad[i]);
            CHECK(0);
        }

        if (ac_template_check(bad[i], strlen(bad[i]), names, 2, NULL)
            != AC_ERR_INVALID)
        {
            printf("    checked: %s\n", bad[i]);
            CHECK(0);
        }
    }

    /* eight levels are fine */
    CHECK_INT(render("{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}x"
                     "{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}",
                     vars, 2, &b), AC_OK);
    CHECK_STR(b.data, "x");

    /* without variables every tag is unknown */
    CHECK_INT(render("plain", NULL, 0, &b), AC_OK);
    CHECK_STR(b.data, "plain");
    CHECK_INT(render("{{a}}", NULL, 0, &b), AC_ERR_INVALID);

    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_template_check("x {{{a}}}", 9, names, 2, &err),
              AC_ERR_INVALID);
    CHECK(strstr(err.msg, "raw") != NULL);

    /* the message points at the line */
    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_template_check("<p>\n{{a}}\n<p>{{nope}}", 21, names, 2,
                                &err), AC_ERR_INVALID);
    CHECK_INT(err.code, AC_ERR_INVALID);
    CHECK(strstr(err.msg, "line 3") != NULL);
    CHECK(strstr(err.msg, "\"nope\"") != NULL);

    memset(&err, 0, sizeof(err));
    CHECK_INT(ac_template_check("{{#a}}\n\n", 8, names, 2, &err),
              AC_ERR_INVALID);
    CHECK(strstr(err.msg, "line 1") != NULL);
    CHECK(strstr(err.msg, "unclosed") != NULL);

    CHECK_INT(ac_template_check("{{a}}{{#b}}{{/b}}", 17, names, 2, NULL),
              AC_OK);
    CHECK_INT(ac_template_check("{{a}}", 5, names, 1, NULL), AC_OK);
    CHECK_INT(ac_template_check("{{b}}", 5, names, 1, NULL),
              AC_ERR_INVALID);

    ac_buf_free(&b);
}


static char *
slurp(const char *path, size_t *len)
{
    FILE    *f;
    char    *s;
    long     n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    s = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0 && (s = malloc(n + 1)) != NULL)
    {
        *len = fread(s, 1, n, f);
        s[*len] = '\0';
    }

    fclose(f);

    return s;
}


static size_t
count(const char *s, char c)
{
    size_t  n;

    for (n = 0; s != NULL && *s != '\0'; s++) {
        n += (*s == c);
    }

    return n;
}


static size_t
count_str(const char *s, const char *w)
{
    size_t  n;

    for (n = 0; (s = strstr(s, w)) != NULL; s++) {
        n++;
    }

    return n;
}


/* The shipped pages: every tag known, no inline script or style (the CSP
 * would block them), labelled fields with autocomplete hints. */
TEST(template_files)
{
    static const struct {
        const char  *file;
        const char  *names[6];
        size_t       n;
        const char  *must[6];
    } pages[] = {
        { "config/templates/login.html",
          { "base", "csrf", "return_to", "email", "error", "notice" }, 6,
          { "name=\"csrf\"", "name=\"return_to\"",
            "autocomplete=\"username\"",
            "autocomplete=\"current-password\"", "<label for=\"email\"",
            "<label for=\"password\"" } },
        { "config/templates/2fa.html",
          { "base", "csrf", "return_to", "error", "passkey", "code" }, 6,
          { "name=\"csrf\"", "name=\"return_to\"",
            "autocomplete=\"one-time-code\"", "<label for=\"code\"",
            "name=\"code\"", "method=\"post\"" } },
        { "config/templates/error.html",
          { "base", "status", "title", "message" }, 4,
          { "{{message}}", "lang=", "guichet.css", NULL, NULL, NULL } },
    };
    static const char  *inline_code[] = {
        "<style", "style=", "javascript:", "onclick=",
        "onload=", "onsubmit=", "onfocus=", "onerror=", "http://",
        "https://", "{{{",
    };
    size_t       i, j, k, m, len, plain_lt, plain_gt, plain_q;
    const char  *fewer[6];
    char        *s;
    ac_error_t   err;
    ac_buf_t     b;
    ac_tvar_t    vars[6];
    const char  *hostile = "\"><script>alert(1)</script>";
    const char  *script_tag =
        "<script src=\"{{base}}passkey.js\" defer></script>";

    ac_buf_init(&b);

    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        s = slurp(pages[i].file, &len);
        CHECK(s != NULL);
        if (s == NULL) {
            printf("    cannot read %s\n", pages[i].file);
            continue;
        }

        memset(&err, 0, sizeof(err));
        if (ac_template_check(s, len, pages[i].names, pages[i].n, &err)
            != AC_OK)
        {
            printf("    %s: %s\n", pages[i].file, err.msg);
            CHECK(0);
        }

        /* every name is used: leaving any one out is noticed */
        for (j = 0; j < pages[i].n; j++) {
            for (k = 0, m = 0; k < pages[i].n; k++) {
                if (k != j) {
                    fewer[m++] = pages[i].names[k];
                }
            }

            CHECK_INT(ac_template_check(s, len, fewer, m, NULL),
                      AC_ERR_INVALID);
        }

        /* a script only as the module's own file: no inline code */
        if (count_str(s, "<script") != count_str(s, script_tag)) {
            printf("    %s has <script other than %s\n", pages[i].file,
                   script_tag);
            CHECK(0);
        }

        for (k = 0; k < sizeof(inline_code) / sizeof(inline_code[0]); k++) {
            if (strstr(s, inline_code[k]) != NULL) {
                printf("    %s has %s\n", pages[i].file, inline_code[k]);
                CHECK(0);
            }
        }

        for (k = 0; k < 6 && pages[i].must[k] != NULL; k++) {
            if (strstr(s, pages[i].must[k]) == NULL) {
                printf("    %s lacks %s\n", pages[i].file, pages[i].must[k]);
                CHECK(0);
            }
        }

        /* rendered with hostile values, the markup has exactly the tags
         * and quotes it has with harmless ones */
        for (k = 0; k < pages[i].n; k++) {
            vars[k].name = pages[i].names[k];
            vars[k].value = "x";
            vars[k].len = 1;
        }

        ac_buf_reset(&b);
        CHECK_INT(ac_template_render(s, len, vars, pages[i].n, &b), AC_OK);
        plain_lt = count(b.data, '<');
        plain_gt = count(b.data, '>');
        plain_q = count(b.data, '"');

        for (k = 0; k < pages[i].n; k++) {
            vars[k].value = hostile;
            vars[k].len = strlen(hostile);
        }

        ac_buf_reset(&b);
        CHECK_INT(ac_template_render(s, len, vars, pages[i].n, &b), AC_OK);
        CHECK(strstr(b.data, "<script>") == NULL);
        CHECK(strstr(b.data, "&lt;script&gt;") != NULL);
        CHECK_INT(count(b.data, '<'), plain_lt);
        CHECK_INT(count(b.data, '>'), plain_gt);
        CHECK_INT(count(b.data, '"'), plain_q);

        free(s);
    }

    ac_buf_free(&b);
}


int
main(void)
{
    if (ac_init() != AC_OK) {
        printf("ac_init failed\n");
        return 1;
    }

    RUN(template_render);
    RUN(template_null_value);
    RUN(template_escapes);
    RUN(template_errors);
    RUN(template_files);

    ac_done();

    return CHECK_DONE();
}
