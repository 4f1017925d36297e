/*
 * guichetctl logs: declarations shared by its files. logs_read.c reads
 * the stream (shared by "logs", "logs verify" and "logs anomalies"),
 * cmd_logs.c lists it, logs_format.c writes a listing as a table, JSON
 * or CSV, cmd_logs_verify.c checks the hash chain and
 * cmd_logs_anomalies.c applies the anomaly rules.
 */

#ifndef GUICHETCTL_LOGS_H
#define GUICHETCTL_LOGS_H

#include "guichetctl.h"


#define CTL_LOGS_BATCH     1000
#define CTL_LOGS_BLOCK_MS  1000
#define CTL_LOGS_UA_COLS   32
#define CTL_LOGS_COLS      10
#define CTL_LOGS_TIME_MAX  32
#define CTL_ANOM_SINCE     (24 * 3600)

#define CTL_FMT_TABLE      0
#define CTL_FMT_JSON       1
#define CTL_FMT_CSV        2


typedef int (*ctl_logs_each_pt)(ctl_t *ctl, void *data,
    const redisReply *entry);

typedef struct {
    ac_log_filter_t     f;
    uint64_t            limit;              /* 0: none */
    ctl_lk_cache_t      cache;
    int                 format;
    int                 follow;
    uint64_t            count;
    uint64_t            malformed;
    ac_log_entry_t      e;
    ac_buf_t            out;                /* table cells, or a line */
    size_t              width[CTL_LOGS_COLS];
    uint64_t            rows;
    char                last_id[AC_LOG_ID_MAX];
} ctl_logs_t;


/* logs_read.c */

/*
 * Calls each() for every entry with an id between lo and hi, oldest
 * first or, when reverse, newest first, until it returns non-zero
 * (negative: failure). The log keys of the accounts a batch names are
 * fetched into "cache" (may be NULL) first.
 */
int ctl_logs_walk(ctl_t *ctl, int reverse, const char *lo, const char *hi,
    ctl_lk_cache_t *cache, ctl_logs_each_pt each, void *data);
int64_t ctl_now_ms(void);
/* "2026-11-23T10:00:00.123Z" */
void ctl_time_ms(int64_t ms, char *out, size_t size);

/* logs_format.c */
extern const char  *ctl_logs_head[CTL_LOGS_COLS];
extern const size_t  ctl_logs_follow_width[CTL_LOGS_COLS];

void ctl_logs_table_add(ctl_logs_t *lg);
int ctl_logs_table_print(ctl_logs_t *lg);
void ctl_logs_table_line(ac_buf_t *b, const char **cells,
    const size_t *width);
void ctl_logs_json(ac_buf_t *b, const ac_log_entry_t *e);
void ctl_logs_csv_head(ac_buf_t *b);
void ctl_logs_csv(ac_buf_t *b, const ac_log_entry_t *e);
int ctl_logs_flush(ctl_logs_t *lg);

#endif /* GUICHETCTL_LOGS_H */
