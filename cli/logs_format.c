/*
 * guichetctl logs: a listing written as an aligned table, JSON lines or
 * CSV (cells that a spreadsheet would run as a formula are quoted).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "logs.h"


static void ctl_logs_cells(const ac_log_entry_t *e,
    const char *cells[CTL_LOGS_COLS], char *time, size_t size, char *ua);
static size_t ctl_utf8_width(const char *s);
static void ctl_csv_cell(ac_buf_t *b, const char *s, int last);


const char  *ctl_logs_head[CTL_LOGS_COLS] = {
    "TIME", "EVENT", "RESULT", "REASON", "ACCOUNT", "EMAIL", "IP",
    "PARTNER", "SESSION", "USER AGENT"
};

/* column widths while following, when rows cannot be measured first */
const size_t  ctl_logs_follow_width[CTL_LOGS_COLS] = {
    24, 16, 6, 16, 16, 24, 15, 8, 8, 0
};


static void
ctl_logs_cells(const ac_log_entry_t *e, const char *cells[CTL_LOGS_COLS],
    char *time, size_t size, char *ua)
{
    size_t       i, n, chars;
    const char  *s;

    ctl_time_ms(e->time_ms, time, size);

    /* the user agent is cut to CTL_LOGS_UA_COLS characters */
    chars = 0;
    n = 0;
    for (s = e->ua; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xc0) != 0x80 && ++chars > CTL_LOGS_UA_COLS)
        {
            break;
        }
        n++;
    }

    memcpy(ua, e->ua, n);
    if (*s != '\0') {
        memcpy(ua + n, "...", 4);
    } else {
        ua[n] = '\0';
    }

    cells[0] = time;
    cells[1] = e->event;
    cells[2] = e->failed ? "fail" : "ok";
    cells[3] = e->reason;
    cells[4] = e->account;
    cells[5] = e->email;
    cells[6] = e->ip;
    cells[7] = e->partner;
    cells[8] = e->session;
    cells[9] = ua;

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        if (cells[i][0] == '\0') {
            cells[i] = "-";
        }
    }
}


/* Rows are kept as NUL-terminated cells in one buffer. */
void
ctl_logs_table_add(ctl_logs_t *lg)
{
    size_t       i, w;
    const char  *cells[CTL_LOGS_COLS];
    char         time[CTL_LOGS_TIME_MAX], ua[AC_LOG_UA_MAX + 4];

    ctl_logs_cells(&lg->e, cells, time, sizeof(time), ua);

    if (lg->follow) {
        ctl_logs_table_line(&lg->out, cells, ctl_logs_follow_width);
        return;
    }

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        w = ctl_utf8_width(cells[i]);
        if (w > lg->width[i]) {
            lg->width[i] = w;
        }
        ac_buf_add(&lg->out, cells[i], strlen(cells[i]) + 1);
    }

    lg->rows++;
}


int
ctl_logs_table_print(ctl_logs_t *lg)
{
    size_t       i, r;
    ac_buf_t     line;
    const char  *cells[CTL_LOGS_COLS], *p;

    if (lg->rows == 0) {
        return CTL_EXIT_OK;
    }

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        if (strlen(ctl_logs_head[i]) > lg->width[i]) {
            lg->width[i] = strlen(ctl_logs_head[i]);
        }
    }

    ac_buf_init(&line);
    ctl_logs_table_line(&line, ctl_logs_head, lg->width);
    fputs(line.data != NULL ? line.data : "", stdout);

    p = lg->out.data;

    for (r = 0; r < lg->rows; r++) {
        for (i = 0; i < CTL_LOGS_COLS; i++) {
            cells[i] = p;
            p += strlen(p) + 1;
        }

        ac_buf_reset(&line);
        ctl_logs_table_line(&line, cells, lg->width);

        if (ac_buf_status(&line) != AC_OK) {
            ac_buf_free(&line);
            return ctl_fail(CTL_EXIT_FAIL, "out of memory");
        }

        fwrite(line.data, 1, line.len, stdout);
    }

    ac_buf_free(&line);

    return CTL_EXIT_OK;
}


void
ctl_logs_table_line(ac_buf_t *b, const char **cells, const size_t *width)
{
    size_t  i, w;

    for (i = 0; i < CTL_LOGS_COLS; i++) {
        ac_buf_str(b, cells[i]);

        if (i + 1 == CTL_LOGS_COLS) {
            break;
        }

        for (w = ctl_utf8_width(cells[i]); w < width[i] + 2; w++) {
            ac_buf_add(b, " ", 1);
        }
    }

    ac_buf_add(b, "\n", 1);
}


/* Characters, not bytes, so that accented emails keep columns aligned. */
static size_t
ctl_utf8_width(const char *s)
{
    size_t  n;

    for (n = 0; *s != '\0'; s++) {
        n += ((unsigned char) *s & 0xc0) != 0x80;
    }

    return n;
}


static void
ctl_json_opt(ac_buf_t *b, const char *key, const char *s)
{
    ctl_json_key(b, key, 0);

    if (s[0] == '\0') {
        ac_buf_str(b, "null");

    } else {
        ctl_json_str(b, s);
    }
}


/* One JSON object per line, every field (null when absent). */
void
ctl_logs_json(ac_buf_t *b, const ac_log_entry_t *e)
{
    char  time[CTL_LOGS_TIME_MAX];

    ctl_time_ms(e->time_ms, time, sizeof(time));

    ac_buf_str(b, "{");
    ctl_json_key(b, "id", 1);
    ctl_json_str(b, e->id);
    ctl_json_key(b, "seq", 0);
    ac_buf_printf(b, "%llu", (unsigned long long) e->seq);
    ctl_json_key(b, "time", 0);
    ctl_json_str(b, time);
    ctl_json_key(b, "time_ms", 0);
    ac_buf_printf(b, "%lld", (long long) e->time_ms);
    ctl_json_opt(b, "event", e->event);
    ctl_json_opt(b, "result", e->failed ? "fail" : "ok");
    ctl_json_opt(b, "reason", e->reason);
    ctl_json_opt(b, "account", e->account);
    ctl_json_opt(b, "email", e->email);
    ctl_json_opt(b, "ip", e->ip);
    ctl_json_opt(b, "user_agent", e->ua);
    ctl_json_opt(b, "partner", e->partner);
    ctl_json_opt(b, "session", e->session);
    ctl_json_key(b, "erased", 0);
    ac_buf_str(b, e->erased ? "true" : "false");
    ctl_json_opt(b, "hash", e->hash);
    ac_buf_str(b, "}\n");
}


void
ctl_logs_csv_head(ac_buf_t *b)
{
    ac_buf_str(b, "id,seq,time,event,result,reason,account,email,ip,"
               "user_agent,partner,session,erased\r\n");
}


/* RFC 4180: CRLF line ends, quoted fields, quotes doubled. */
void
ctl_logs_csv(ac_buf_t *b, const ac_log_entry_t *e)
{
    char  time[CTL_LOGS_TIME_MAX], seq[24];

    ctl_time_ms(e->time_ms, time, sizeof(time));
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long) e->seq);

    ctl_csv_cell(b, e->id, 0);
    ctl_csv_cell(b, seq, 0);
    ctl_csv_cell(b, time, 0);
    ctl_csv_cell(b, e->event, 0);
    ctl_csv_cell(b, e->failed ? "fail" : "ok", 0);
    ctl_csv_cell(b, e->reason, 0);
    ctl_csv_cell(b, e->account, 0);
    ctl_csv_cell(b, e->email, 0);
    ctl_csv_cell(b, e->ip, 0);
    ctl_csv_cell(b, e->ua, 0);
    ctl_csv_cell(b, e->partner, 0);
    ctl_csv_cell(b, e->session, 0);
    ctl_csv_cell(b, e->erased ? "true" : "false", 1);
}


static void
ctl_csv_cell(ac_buf_t *b, const char *s, int last)
{
    int          formula;
    const char  *p;

    /*
     * A typed email or user agent starting with = + - @ would run as a
     * formula in a spreadsheet: a leading ' keeps it text.
     */
    formula = s[0] != '\0' && strchr("=+-@", s[0]) != NULL;

    if (formula || strpbrk(s, ",\"\r\n") != NULL) {
        ac_buf_add(b, "\"", 1);

        if (formula) {
            ac_buf_add(b, "'", 1);
        }

        for (p = s; *p != '\0'; p++) {
            ac_buf_add(b, p, 1);
            if (*p == '"') {
                ac_buf_add(b, "\"", 1);
            }
        }

        ac_buf_add(b, "\"", 1);

    } else {
        ac_buf_str(b, s);
    }

    ac_buf_str(b, last ? "\r\n" : ",");
}


int
ctl_logs_flush(ctl_logs_t *lg)
{
    if (ac_buf_status(&lg->out) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    if (lg->out.len > 0
        && fwrite(lg->out.data, 1, lg->out.len, stdout) != lg->out.len)
    {
        return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                        strerror(errno));
    }

    ac_buf_reset(&lg->out);

    return CTL_EXIT_OK;
}
