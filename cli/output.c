/*
 * guichetctl's output: aligned tables, JSON pieces, times and QR codes.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <qrencode.h>

#include "guichetctl.h"


#define CTL_QR_QUIET  4                     /* modules of light margin */

#define CTL_UPPER     "\xe2\x96\x80"        /* U+2580 upper half block */
#define CTL_LOWER     "\xe2\x96\x84"        /* U+2584 lower half block */
#define CTL_FULL      "\xe2\x96\x88"        /* U+2588 full block */


void
ctl_time_text(int64_t t, char *out, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(out, size, "-");
    }
}


/* An ISO 8601 UTC string, or null for "never". */
void
ctl_time_json(ac_buf_t *b, int64_t t)
{
    char  text[32];

    if (t <= 0) {
        ac_buf_str(b, "null");
        return;
    }

    ctl_time_text(t, text, sizeof(text));
    ac_buf_json_str(b, text, strlen(text));
}


void
ctl_json_key(ac_buf_t *b, const char *key, int first)
{
    if (!first) {
        ac_buf_str(b, ",");
    }

    ac_buf_json_str(b, key, strlen(key));
    ac_buf_str(b, ":");
}


void
ctl_json_str(ac_buf_t *b, const char *s)
{
    ac_buf_json_str(b, s, strlen(s));
}


void
ctl_json_roles(ac_buf_t *b, unsigned roles)
{
    char        list[AC_ROLES_MAX];
    const char *p, *comma;
    int         first;

    ac_roles_format(roles, list);

    ac_buf_str(b, "[");
    first = 1;

    for (p = list; *p != '\0'; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma == NULL) {
            comma = p + strlen(p);
        }

        if (!first) {
            ac_buf_str(b, ",");
        }
        ac_buf_json_str(b, p, (size_t) (comma - p));
        first = 0;

        if (*comma == '\0') {
            break;
        }
    }

    ac_buf_str(b, "]");
}


/* Prints the buffer and a newline to stdout. */
int
ctl_print_buf(ac_buf_t *b)
{
    if (ac_buf_status(b) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    if (fwrite(b->data, 1, b->len, stdout) != b->len
        || fputc('\n', stdout) == EOF)
    {
        return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                        strerror(errno));
    }

    return CTL_EXIT_OK;
}


/*
 * Ends a list command: the JSON array whose elements are in b, or the
 * table, whichever was asked for.
 */
int
ctl_list_print(ctl_t *ctl, ac_buf_t *b, ctl_table_t *t)
{
    ac_buf_str(b, "]");

    if (ctl->json) {
        return ctl_print_buf(b);
    }

    if (ctl_table_print(t, stdout) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    return CTL_EXIT_OK;
}


int
ctl_table_init(ctl_table_t *t, const char **head, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->head = head;
    t->ncols = ncols;

    return AC_OK;
}


int
ctl_table_row(ctl_table_t *t, const char **cells)
{
    size_t   i, cap;
    char   **p;

    if (t->nrows == t->cap) {
        cap = t->cap ? t->cap * 2 : 16;
        p = realloc(t->cells, cap * t->ncols * sizeof(char *));
        if (p == NULL) {
            return AC_ERR_NOMEM;
        }
        t->cells = p;
        t->cap = cap;
    }

    p = &t->cells[t->nrows * t->ncols];

    for (i = 0; i < t->ncols; i++) {
        p[i] = strdup(cells[i] ? cells[i] : "");
        if (p[i] == NULL) {
            while (i-- > 0) {
                free(p[i]);
            }
            return AC_ERR_NOMEM;
        }
    }

    t->nrows++;

    return AC_OK;
}


int
ctl_table_print(ctl_table_t *t, FILE *out)
{
    size_t   i, r, len, *width;
    const char  *s;

    width = calloc(t->ncols, sizeof(size_t));
    if (width == NULL) {
        return AC_ERR_NOMEM;
    }

    for (i = 0; i < t->ncols; i++) {
        width[i] = strlen(t->head[i]);
        for (r = 0; r < t->nrows; r++) {
            len = strlen(t->cells[r * t->ncols + i]);
            if (len > width[i]) {
                width[i] = len;
            }
        }
    }

    for (r = 0; r <= t->nrows; r++) {
        for (i = 0; i < t->ncols; i++) {
            s = (r == 0) ? t->head[i] : t->cells[(r - 1) * t->ncols + i];

            if (i + 1 == t->ncols) {
                fprintf(out, "%s\n", s);

            } else {
                fprintf(out, "%-*s  ", (int) width[i], s);
            }
        }
    }

    free(width);

    return AC_OK;
}


void
ctl_table_free(ctl_table_t *t)
{
    size_t  i;

    for (i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }

    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
    t->cap = 0;
}


static int
ctl_qr_light(const QRcode *qr, int x, int y)
{
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width) {
        return 1;
    }

    return !(qr->data[y * qr->width + x] & 1);
}


/*
 * Draws the code with half blocks, two module rows per text line, light
 * modules as blocks and dark modules as the background, with a quiet
 * zone around. On a terminal the colours are forced (white on black) so
 * that the code scans whatever the terminal's own colours are.
 */
int
ctl_qr_print(const char *text, FILE *out)
{
    int      x, y, top, bottom, color, size;
    QRcode  *qr;

    qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        return AC_ERR_NOMEM;
    }

    color = isatty(fileno(out));
    size = qr->width + CTL_QR_QUIET;

    for (y = -CTL_QR_QUIET; y < size; y += 2) {
        if (color) {
            fputs("\033[97;40m", out);
        }

        for (x = -CTL_QR_QUIET; x < size; x++) {
            top = ctl_qr_light(qr, x, y);
            bottom = (y + 1 < size) && ctl_qr_light(qr, x, y + 1);

            if (top && bottom) {
                fputs(CTL_FULL, out);

            } else if (top) {
                fputs(CTL_UPPER, out);

            } else if (bottom) {
                fputs(CTL_LOWER, out);

            } else {
                fputc(' ', out);
            }
        }

        if (color) {
            fputs("\033[0m", out);
        }

        fputc('\n', out);
    }

    QRcode_free(qr);

    return AC_OK;
}
