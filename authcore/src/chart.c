/*
 * authcore: the security team's chart of sign-ins. Attempts are counted
 * per hour (per several hours over a long range) as successes, failures
 * and throttled attempts, and drawn as stacked bars in an inline SVG:
 * no script, nothing fetched, every text escaped.
 */

#include <string.h>
#include <time.h>

#include "internal.h"


#define AC_CHART_W       720
#define AC_CHART_H       200
#define AC_CHART_LEFT    40
#define AC_CHART_RIGHT   8
#define AC_CHART_TOP     10
#define AC_CHART_BOTTOM  26
#define AC_HOUR_MS       3600000LL


static const char  *ac_chart_colors[AC_CHART_KINDS] = {
    "#15803d", "#c2410c", "#7c3aed"
};

static const char  *ac_chart_words[AC_CHART_KINDS][2] = {
    { "success", "successes" },
    { "failure", "failures" },
    { "throttled", "throttled" }
};


static void ac_chart_time(ac_buf_t *b, int64_t ms, int date);


int
ac_chart_init(ac_chart_t *c, int64_t from_ms, int64_t to_ms)
{
    int64_t  hours, span;

    if (c == NULL || from_ms < 0 || to_ms <= from_ms) {
        return AC_ERR_INVALID;
    }

    memset(c, 0, sizeof(ac_chart_t));

    c->start_ms = from_ms - from_ms % AC_HOUR_MS;
    span = to_ms - c->start_ms;
    hours = (span + AC_HOUR_MS - 1) / AC_HOUR_MS;

    c->step_ms = AC_HOUR_MS * ((hours + AC_CHART_BARS_MAX - 1)
                               / AC_CHART_BARS_MAX);
    c->n = (size_t) ((span + c->step_ms - 1) / c->step_ms);
    c->end_ms = to_ms;

    return AC_OK;
}


int
ac_chart_kind(const char *event, int failed)
{
    if (event == NULL) {
        return -1;
    }

    if (strcmp(event, "throttled") == 0) {
        return AC_CHART_THROTTLED;
    }

    if (strcmp(event, "login.failure") == 0
        || strcmp(event, "2fa.failure") == 0
        || strcmp(event, "sso.failure") == 0)
    {
        return AC_CHART_FAILURE;
    }

    if ((strcmp(event, "login.success") == 0
         || strcmp(event, "sso.success") == 0)
        && !failed)
    {
        return AC_CHART_SUCCESS;
    }

    return -1;
}


void
ac_chart_add(ac_chart_t *c, int64_t time_ms, int kind)
{
    size_t  i;

    if (c == NULL || kind < 0 || kind >= AC_CHART_KINDS
        || time_ms < c->start_ms || time_ms >= c->end_ms || c->n == 0)
    {
        return;
    }

    i = (size_t) ((time_ms - c->start_ms) / c->step_ms);

    if (i < c->n && c->count[kind][i] < UINT32_MAX) {
        c->count[kind][i]++;
        c->total[kind]++;
    }
}


/* "2026-11-23 10:00" (date) or "10:00", UTC */
static void
ac_chart_time(ac_buf_t *b, int64_t ms, int date)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL) {
        ac_buf_str(b, "?");
        return;
    }

    if (date) {
        ac_buf_printf(b, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);

    } else {
        ac_buf_printf(b, "%02d:%02d", tm.tm_hour, tm.tm_min);
    }
}


int
ac_chart_svg(const ac_chart_t *c, ac_buf_t *out)
{
    int       k;
    size_t    i, every;
    int64_t   at;
    uint64_t  top, sum, y0, m;
    double    bw, plot_h, x, h, y;

    if (c == NULL || out == NULL || c->n == 0 || c->n > AC_CHART_BARS_MAX) {
        return AC_ERR_INVALID;
    }

    top = 0;

    for (i = 0; i < c->n; i++) {
        sum = (uint64_t) c->count[0][i] + c->count[1][i] + c->count[2][i];
        if (sum > top) {
            top = sum;
        }
    }

    /* a round scale: 1, 2, 5, 10, 20, 50... at least the tallest bar */
    for (m = 1, y0 = 1; y0 < top; m *= 10) {
        y0 = m * 2 >= top ? m * 2 : m * 5 >= top ? m * 5 : m * 10;
    }

    top = y0;
    plot_h = AC_CHART_H - AC_CHART_TOP - AC_CHART_BOTTOM;
    bw = (double) (AC_CHART_W - AC_CHART_LEFT - AC_CHART_RIGHT) / c->n;

    ac_buf_printf(out, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" "
                  "height=\"%d\" role=\"img\" "
                  "aria-labelledby=\"chart-title chart-desc\" "
                  "id=\"chart-svg\">\n", AC_CHART_W, AC_CHART_H, AC_CHART_W,
                  AC_CHART_H);
    ac_buf_str(out, "<title id=\"chart-title\">Sign-in attempts per ");
    if (c->step_ms == AC_HOUR_MS) {
        ac_buf_str(out, "hour");
    } else {
        ac_buf_printf(out, "%lld hours",
                      (long long) (c->step_ms / AC_HOUR_MS));
    }
    ac_buf_str(out, ", UTC</title>\n<desc id=\"chart-desc\">");

    for (k = 0; k < AC_CHART_KINDS; k++) {
        ac_buf_printf(out, "%s%llu %s", k ? ", " : "",
                      (unsigned long long) c->total[k],
                      ac_chart_words[k][c->total[k] != 1]);
    }

    ac_buf_str(out, " from ");
    ac_chart_time(out, c->start_ms, 1);
    ac_buf_str(out, " to ");
    ac_chart_time(out, c->end_ms, 1);
    ac_buf_str(out, " UTC.</desc>\n");

    /* the scale: 0, half, top */
    ac_buf_printf(out, "<g class=\"axis\" fill=\"currentColor\" "
                  "font-size=\"11\" text-anchor=\"end\">\n");

    for (k = 0; k <= 2; k++) {
        y = AC_CHART_TOP + plot_h - plot_h * k / 2;
        ac_buf_printf(out, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"currentColor\" "
                      "stroke-opacity=\"0.2\"/>", AC_CHART_LEFT,
                      AC_CHART_W - AC_CHART_RIGHT, y, y);
        if (k == 1 && top % 2 != 0) {
            ac_buf_str(out, "\n");
            continue;
        }
        ac_buf_printf(out, "<text x=\"%d\" y=\"%.1f\">%llu</text>\n",
                      AC_CHART_LEFT - 6, y + 4,
                      (unsigned long long) (top * k / 2));
    }

    /* times under the bars: about eight of them */
    every = (c->n + 7) / 8;

    for (i = 0; i < c->n; i += every) {
        x = AC_CHART_LEFT + bw * i;
        ac_buf_printf(out, "<text x=\"%.1f\" y=\"%d\" "
                      "text-anchor=\"start\">", x,
                      AC_CHART_H - AC_CHART_BOTTOM + 16);
        ac_chart_time(out, c->start_ms + (int64_t) i * c->step_ms,
                      c->step_ms >= 24 * AC_HOUR_MS);
        ac_buf_str(out, "</text>\n");
    }

    ac_buf_str(out, "</g>\n<g class=\"bars\">\n");

    for (i = 0; i < c->n; i++) {
        at = c->start_ms + (int64_t) i * c->step_ms;
        x = AC_CHART_LEFT + bw * i;
        y = AC_CHART_TOP + plot_h;

        sum = (uint64_t) c->count[0][i] + c->count[1][i] + c->count[2][i];
        if (sum == 0) {
            continue;
        }

        ac_buf_str(out, "<g><title>");
        ac_chart_time(out, at, 1);
        ac_buf_str(out, " UTC: ");

        for (k = 0; k < AC_CHART_KINDS; k++) {
            ac_buf_printf(out, "%s%u %s", k ? ", " : "", c->count[k][i],
                          ac_chart_words[k][c->count[k][i] != 1]);
        }

        ac_buf_str(out, "</title>");

        for (k = 0; k < AC_CHART_KINDS; k++) {
            if (c->count[k][i] == 0) {
                continue;
            }

            h = plot_h * c->count[k][i] / top;
            y -= h;
            ac_buf_printf(out, "<rect class=\"k%d\" x=\"%.1f\" y=\"%.1f\" "
                          "width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>",
                          k, x + bw * 0.1, y, bw * 0.8, h,
                          ac_chart_colors[k]);
        }

        ac_buf_str(out, "</g>\n");
    }

    ac_buf_str(out, "</g>\n</svg>\n");

    return ac_buf_status(out);
}
