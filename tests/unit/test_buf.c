/*
 * The growable buffer and its JSON and HTML escaping.
 */

#include "authcore.h"
#include "check.h"


TEST(test_append)
{
    int       i;
    ac_buf_t  b;

    ac_buf_init(&b);
    CHECK_STR(b.data, "");
    CHECK_INT(b.len, 0);
    CHECK_INT(ac_buf_status(&b), AC_OK);

    ac_buf_str(&b, "abc");
    ac_buf_add(&b, "defgh", 2);
    ac_buf_add(&b, NULL, 0);
    ac_buf_printf(&b, "-%d-%s", 42, "x");
    CHECK_STR(b.data, "abcde-42-x");
    CHECK_INT(b.len, 10);

    /* Growth across many reallocations keeps every byte. */
    for (i = 0; i < 1000; i++) {
        ac_buf_printf(&b, "%03d", i);
    }
    CHECK_INT(b.len, 10 + 3000);
    CHECK(memcmp(b.data + 10, "000001002", 9) == 0);
    CHECK(memcmp(b.data + b.len - 3, "999", 3) == 0);
    CHECK_INT(strlen(b.data), b.len);
    CHECK_INT(ac_buf_status(&b), AC_OK);

    ac_buf_reset(&b);
    CHECK_STR(b.data, "");
    CHECK_INT(b.len, 0);
    ac_buf_str(&b, "again");
    CHECK_STR(b.data, "again");

    ac_buf_free(&b);
    CHECK_STR(b.data, "");
    CHECK_INT(b.len, 0);

    /* Free and reset of a never-used buffer. */
    ac_buf_reset(&b);
    ac_buf_free(&b);
}


TEST(test_oom_sticks)
{
    ac_buf_t  b;

    ac_buf_init(&b);
    ac_buf_str(&b, "abc");

    /* A length no allocator can give. */
    ac_buf_add(&b, "x", (size_t) -1 / 2);
    CHECK_INT(ac_buf_status(&b), AC_ERR_NOMEM);
    ac_buf_str(&b, "more");
    CHECK_STR(b.data, "abc");
    CHECK_INT(ac_buf_status(&b), AC_ERR_NOMEM);

    ac_buf_reset(&b);
    CHECK_INT(ac_buf_status(&b), AC_OK);
    ac_buf_free(&b);
}


TEST(test_json)
{
    ac_buf_t  b;

    ac_buf_init(&b);
    ac_buf_json_str(&b, "plain", 5);
    CHECK_STR(b.data, "\"plain\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "a\"b\\c\nd\re\tf\x01g\x7f", 14);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007f\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "nul\0x", 5);
    CHECK_INT(b.len, 12);
    CHECK(memcmp(b.data, "\"nul\\u0000x\"", 12) == 0);

    /* Valid UTF-8 kept, invalid bytes replaced one by one. */
    ac_buf_reset(&b);
    ac_buf_json_str(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    CHECK_STR(b.data, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "\xff", 1);
    CHECK_STR(b.data, "\"\xef\xbf\xbd\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "a\xc3", 2);                /* truncated */
    CHECK_STR(b.data, "\"a\xef\xbf\xbd\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "\xc0\xaf", 2);             /* overlong '/' */
    CHECK_STR(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "\xed\xa0\x80", 3);         /* surrogate */
    CHECK_STR(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "\xf4\x90\x80\x80", 4);     /* > U+10FFFF */
    CHECK_STR(b.data, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
              "\xef\xbf\xbd\"");

    ac_buf_reset(&b);
    ac_buf_json_str(&b, "", 0);
    CHECK_STR(b.data, "\"\"");

    ac_buf_free(&b);
}


TEST(test_html)
{
    ac_buf_t  b;

    ac_buf_init(&b);
    ac_buf_html(&b, "<script>alert('x\")</script>&amp;", 33);
    CHECK_STR(b.data, "&lt;script&gt;alert(&#39;x&quot;)&lt;/script&gt;"
              "&amp;amp;");

    ac_buf_reset(&b);
    ac_buf_html(&b, "plain text", 10);
    CHECK_STR(b.data, "plain text");

    ac_buf_reset(&b);
    ac_buf_html(&b, "<<>>", 2);
    CHECK_STR(b.data, "&lt;&lt;");

    ac_buf_free(&b);
}


int
main(void)
{
    RUN(test_append);
    RUN(test_oom_sticks);
    RUN(test_json);
    RUN(test_html);

    return CHECK_DONE();
}
