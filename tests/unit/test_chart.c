/*
 * The security team's chart: buckets, kinds, and the SVG it draws.
 */

#include <stdlib.h>

#include "authcore.h"
#include "check.h"


#define H  3600000LL
/* 2026-11-23T00:00:00Z */
#define T0 1795392000000LL


static size_t
count_of(const char *s, const char *what)
{
    size_t       n;
    const char  *p;

    for (n = 0, p = s; (p = strstr(p, what)) != NULL; p++) {
        n++;
    }

    return n;
}


TEST(buckets)
{
    ac_chart_t  c;

    CHECK_INT(ac_chart_init(&c, T0 + 30 * 60000, T0 + 24 * H), AC_OK);
    CHECK_INT(c.start_ms, T0);              /* on the hour */
    CHECK_INT(c.step_ms, H);
    CHECK_INT(c.n, 24);

    ac_chart_add(&c, T0 + 10 * 60000, AC_CHART_SUCCESS);     /* bar 0 */
    ac_chart_add(&c, T0 + 5 * H + 1, AC_CHART_FAILURE);      /* bar 5 */
    ac_chart_add(&c, T0 + 5 * H + 2, AC_CHART_FAILURE);
    ac_chart_add(&c, T0 + 23 * H + 59 * 60000, AC_CHART_THROTTLED);
    ac_chart_add(&c, T0 + 24 * H, AC_CHART_SUCCESS);         /* the end */
    ac_chart_add(&c, T0 - 1, AC_CHART_SUCCESS);              /* before */
    ac_chart_add(&c, T0 + H, 7);                             /* no kind */
    ac_chart_add(&c, T0 + H, -1);

    CHECK_INT(c.count[AC_CHART_SUCCESS][0], 1);
    CHECK_INT(c.count[AC_CHART_FAILURE][5], 2);
    CHECK_INT(c.count[AC_CHART_THROTTLED][23], 1);
    CHECK_INT(c.total[AC_CHART_SUCCESS], 1);
    CHECK_INT(c.total[AC_CHART_FAILURE], 2);
    CHECK_INT(c.total[AC_CHART_THROTTLED], 1);

    /* a month: bars of several hours, never more than the maximum */
    CHECK_INT(ac_chart_init(&c, T0, T0 + 30 * 24 * H), AC_OK);
    CHECK_INT(c.step_ms, 5 * H);
    CHECK(c.n <= AC_CHART_BARS_MAX);
    CHECK_INT(c.n, 144);

    /* one minute still makes one bar */
    CHECK_INT(ac_chart_init(&c, T0 + 60000, T0 + 120000), AC_OK);
    CHECK_INT(c.n, 1);

    CHECK_INT(ac_chart_init(&c, T0, T0), AC_ERR_INVALID);
    CHECK_INT(ac_chart_init(&c, T0, T0 - 1), AC_ERR_INVALID);
    CHECK_INT(ac_chart_init(&c, -5, T0), AC_ERR_INVALID);
    CHECK_INT(ac_chart_init(NULL, T0, T0 + H), AC_ERR_INVALID);
}


TEST(kinds)
{
    CHECK_INT(ac_chart_kind("login.success", 0), AC_CHART_SUCCESS);
    CHECK_INT(ac_chart_kind("sso.success", 0), AC_CHART_SUCCESS);
    CHECK_INT(ac_chart_kind("login.failure", 1), AC_CHART_FAILURE);
    CHECK_INT(ac_chart_kind("2fa.failure", 1), AC_CHART_FAILURE);
    CHECK_INT(ac_chart_kind("sso.failure", 1), AC_CHART_FAILURE);
    CHECK_INT(ac_chart_kind("throttled", 1), AC_CHART_THROTTLED);
    /* a second step is not a second sign-in */
    CHECK_INT(ac_chart_kind("2fa.success", 0), -1);
    CHECK_INT(ac_chart_kind("logout", 0), -1);
    CHECK_INT(ac_chart_kind("export", 0), -1);
    CHECK_INT(ac_chart_kind(NULL, 0), -1);
}


TEST(svg)
{
    ac_chart_t  c;
    ac_buf_t    b;
    size_t      i;

    ac_buf_init(&b);

    CHECK_INT(ac_chart_init(&c, T0, T0 + 24 * H), AC_OK);
    for (i = 0; i < 7; i++) {
        ac_chart_add(&c, T0 + 2 * H, AC_CHART_FAILURE);
    }
    ac_chart_add(&c, T0 + 2 * H, AC_CHART_SUCCESS);
    ac_chart_add(&c, T0 + 2 * H, AC_CHART_THROTTLED);
    ac_chart_add(&c, T0 + 9 * H, AC_CHART_SUCCESS);

    CHECK_INT(ac_chart_svg(&c, &b), AC_OK);
    CHECK(b.data != NULL);
    if (b.data == NULL) {
        return;
    }

    CHECK(strncmp(b.data, "<svg viewBox=\"0 0 720 200\"", 26) == 0);
    CHECK(strstr(b.data, "role=\"img\"") != NULL);
    CHECK(strstr(b.data, "<title id=\"chart-title\">Sign-in attempts per "
                         "hour, UTC</title>") != NULL);
    CHECK(strstr(b.data, "<desc id=\"chart-desc\">2 successes, 7 failures, "
                         "1 throttled from 2026-11-23 00:00 to 2026-11-24 "
                         "00:00 UTC.</desc>") != NULL);
    /* one group per bar with attempts, its counts on hover */
    CHECK_INT(count_of(b.data, "<g><title>"), 2);
    CHECK(strstr(b.data, "<g><title>2026-11-23 02:00 UTC: 1 success, "
                         "7 failures, 1 throttled</title>") != NULL);
    CHECK(strstr(b.data, "<g><title>2026-11-23 09:00 UTC: 1 success, "
                         "0 failures, 0 throttled</title>") != NULL);
    CHECK_INT(count_of(b.data, "<rect "), 4);
    /* the scale rounds 9 up to 10 */
    CHECK(strstr(b.data, ">10</text>") != NULL);
    CHECK(strstr(b.data, ">5</text>") != NULL);
    CHECK(strstr(b.data, "<text x=\"40.0\" y=\"190\" text-anchor=\"start\">"
                         "00:00</text>") != NULL);
    /* nothing a browser would run or fetch */
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(strstr(b.data, "href") == NULL);
    CHECK(strcmp(b.data + b.len - 7, "</svg>\n") == 0);

    /* an empty range draws the axes and says so */
    ac_buf_reset(&b);
    CHECK_INT(ac_chart_init(&c, T0, T0 + 3 * H), AC_OK);
    CHECK_INT(ac_chart_svg(&c, &b), AC_OK);
    CHECK(strstr(b.data, "0 successes, 0 failures, 0 throttled") != NULL);
    CHECK_INT(count_of(b.data, "<rect "), 0);
    CHECK(strstr(b.data, ">1</text>") != NULL);

    /* a long range says its step */
    ac_buf_reset(&b);
    CHECK_INT(ac_chart_init(&c, T0, T0 + 30 * 24 * H), AC_OK);
    CHECK_INT(ac_chart_svg(&c, &b), AC_OK);
    CHECK(strstr(b.data, "per 5 hours, UTC") != NULL);

    memset(&c, 0, sizeof(c));
    CHECK_INT(ac_chart_svg(&c, &b), AC_ERR_INVALID);
    CHECK_INT(ac_chart_svg(NULL, &b), AC_ERR_INVALID);

    ac_buf_free(&b);
}


int
main(void)
{
    RUN(buckets);
    RUN(kinds);
    RUN(svg);

    return CHECK_DONE();
}
