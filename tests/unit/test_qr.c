/*
 * QR codes as SVG: the image is read back into a module matrix and
 * checked against the structure ISO/IEC 18004 fixes (size per version,
 * finder and timing patterns, quiet zone) and against libqrencode's own
 * matrix; hostile text never reaches the markup.
 */

#include <stdlib.h>

#include <qrencode.h>

#include "authcore.h"
#include "check.h"

#define QR_MAX_SIZE  (177 + 2 * AC_QR_QUIET)

static unsigned char  grid[QR_MAX_SIZE][QR_MAX_SIZE];


/* Reads the SVG back; returns the side in modules, or -1 if malformed. */
static int
svg_read(const char *svg)
{
    int          n, n2, x, y, w, w2, used;
    const char  *p;

    memset(grid, 0, sizeof(grid));

    p = strstr(svg, "viewBox=\"0 0 ");
    if (p == NULL || sscanf(p, "viewBox=\"0 0 %d %d\"", &n, &n2) != 2
        || n != n2 || n < 21 + 2 * AC_QR_QUIET || n > QR_MAX_SIZE)
    {
        return -1;
    }

    p = strstr(svg, " d=\"");
    if (p == NULL) {
        return -1;
    }

    p += 4;
    while (*p == 'M') {
        if (sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &used) != 4
            || w != w2 || w < 1 || x < 0 || y < 0 || x + w > n || y >= n)
        {
            return -1;
        }

        while (w-- > 0) {
            if (grid[y][x]) {
                return -1;              /* overlapping runs */
            }

            grid[y][x++] = 1;
        }

        p += used;
    }

    return strncmp(p, "\"/></svg>", 9) == 0 ? n : -1;
}


/* A finder pattern's 7x7 square whose top left module is (x0, y0), with
 * its light separator where it lies inside the symbol. */
static int
finder_ok(int x0, int y0, int side)
{
    int  dx, dy, ring, want, x, y;

    for (dy = -1; dy <= 7; dy++) {
        for (dx = -1; dx <= 7; dx++) {
            x = x0 + dx;
            y = y0 + dy;
            if (x < 0 || y < 0 || x >= side || y >= side) {
                continue;
            }

            ring = abs(dx - 3) > abs(dy - 3) ? abs(dx - 3) : abs(dy - 3);
            want = (ring <= 1 || ring == 3);
            if (grid[y + AC_QR_QUIET][x + AC_QR_QUIET] != want) {
                return 0;
            }
        }
    }

    return 1;
}


static int side_of(int version);


static int
symbol_ok(int n)
{
    int  side, i;

    if (n < side_of(1) || n > QR_MAX_SIZE) {
        return 0;
    }

    side = n - 2 * AC_QR_QUIET;

    for (i = 0; i < n; i++) {
        if (grid[i][0] || grid[0][i] || grid[i][AC_QR_QUIET - 1]
            || grid[AC_QR_QUIET - 1][i] || grid[i][n - 1] || grid[n - 1][i]
            || grid[i][n - AC_QR_QUIET] || grid[n - AC_QR_QUIET][i])
        {
            return 0;                   /* quiet zone */
        }
    }

    if (!finder_ok(0, 0, side) || !finder_ok(side - 7, 0, side)
        || !finder_ok(0, side - 7, side))
    {
        return 0;
    }

    for (i = 8; i < side - 8; i++) {
        if (grid[AC_QR_QUIET + 6][AC_QR_QUIET + i] != !(i & 1)
            || grid[AC_QR_QUIET + i][AC_QR_QUIET + 6] != !(i & 1))
        {
            return 0;                   /* timing patterns */
        }
    }

    return 1;
}


/* The side in modules (quiet zone included) of version v. */
static int
side_of(int version)
{
    return 17 + 4 * version + 2 * AC_QR_QUIET;
}


TEST(test_versions)
{
    /* byte mode, level M capacities: v1 14, v2 26, v3 42, v4 62, v5 84 */
    static const struct {
        size_t  len;
        int     version;
    } cases[] = {
        { 1, 1 }, { 14, 1 }, { 15, 2 }, { 26, 2 }, { 42, 3 }, { 43, 4 },
        { 62, 4 }, { 63, 5 }, { 84, 5 }
    };
    char      text[128];
    size_t    i;
    ac_buf_t  b;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(text, 'a' + (int) i, cases[i].len);
        text[cases[i].len] = '\0';

        ac_buf_init(&b);
        CHECK_INT(ac_qr_svg(text, &b), AC_OK);
        CHECK_INT(svg_read(b.data), side_of(cases[i].version));
        CHECK(symbol_ok(side_of(cases[i].version)));
        ac_buf_free(&b);
    }
}


TEST(test_matrix_is_the_code)
{
    static const char  uri[] = "otpauth://totp/Guichet:alice%40example.org"
        "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Guichet"
        "&algorithm=SHA1&digits=6&period=30";
    int       n, x, y, same;
    QRcode   *qr;
    ac_buf_t  b;

    ac_buf_init(&b);
    CHECK_INT(ac_qr_svg(uri, &b), AC_OK);
    n = svg_read(b.data);
    CHECK(n > 0);
    CHECK(symbol_ok(n));

    qr = QRcode_encodeString8bit(uri, 0, QR_ECLEVEL_M);
    CHECK(qr != NULL);
    if (qr == NULL || n < 0) {
        ac_buf_free(&b);
        QRcode_free(qr);
        return;
    }

    CHECK_INT(n, qr->width + 2 * AC_QR_QUIET);

    same = 1;
    for (y = 0; y < qr->width && same; y++) {
        for (x = 0; x < qr->width; x++) {
            if (grid[y + AC_QR_QUIET][x + AC_QR_QUIET]
                != (qr->data[y * qr->width + x] & 1))
            {
                same = 0;
                break;
            }
        }
    }

    CHECK(same);

    /* the image is a self-contained picture with nothing active in it */
    CHECK(strncmp(b.data, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39)
          == 0);
    CHECK(strstr(b.data, "script") == NULL);
    CHECK(strstr(b.data, "style") == NULL);
    CHECK(strstr(b.data, "href") == NULL);
    CHECK(strstr(b.data, "secret") == NULL);
    CHECK(strstr(b.data, "GEZDGNBV") == NULL);

    QRcode_free(qr);
    ac_buf_free(&b);
}


TEST(test_hostile_text)
{
    ac_buf_t  b;

    ac_buf_init(&b);
    CHECK_INT(ac_qr_svg("\"/><script>alert(1)</script><x a=\"", &b), AC_OK);
    CHECK(strstr(b.data, "<script") == NULL);
    CHECK(strstr(b.data, "alert") == NULL);
    CHECK(svg_read(b.data) == side_of(3));
    ac_buf_free(&b);

    ac_buf_init(&b);
    CHECK_INT(ac_qr_svg("caf\xc3\xa9 \xff\xfe\x01", &b), AC_OK);
    CHECK(svg_read(b.data) == side_of(1));
    ac_buf_free(&b);
}


TEST(test_appends)
{
    ac_buf_t  b;

    ac_buf_init(&b);
    ac_buf_str(&b, "<p>");
    CHECK_INT(ac_qr_svg("x", &b), AC_OK);
    CHECK(strncmp(b.data, "<p><svg ", 8) == 0);
    CHECK(b.len == strlen(b.data));
    CHECK(b.data[b.len - 1] == '\n');
    ac_buf_free(&b);
}


TEST(test_limits)
{
    char      *text;
    ac_buf_t   b;

    ac_buf_init(&b);
    CHECK_INT(ac_qr_svg("", &b), AC_ERR_INVALID);
    CHECK_INT(ac_qr_svg(NULL, &b), AC_ERR_INVALID);
    CHECK_INT(ac_qr_svg("x", NULL), AC_ERR_INVALID);
    CHECK_INT((int) b.len, 0);

    text = malloc(AC_QR_TEXT_MAX + 2);
    CHECK(text != NULL);
    if (text == NULL) {
        return;
    }

    memset(text, 'z', AC_QR_TEXT_MAX + 1);
    text[AC_QR_TEXT_MAX + 1] = '\0';
    CHECK_INT(ac_qr_svg(text, &b), AC_ERR_TOO_LONG);
    CHECK_INT((int) b.len, 0);

    /* the largest accepted text still fits a symbol (version 40 holds
     * 2331 bytes at level M) */
    text[AC_QR_TEXT_MAX] = '\0';
    CHECK_INT(ac_qr_svg(text, &b), AC_OK);
    CHECK(symbol_ok(svg_read(b.data)));

    free(text);
    ac_buf_free(&b);
}


int
main(void)
{
    RUN(test_versions);
    RUN(test_matrix_is_the_code);
    RUN(test_hostile_text);
    RUN(test_appends);
    RUN(test_limits);

    return CHECK_DONE();
}
