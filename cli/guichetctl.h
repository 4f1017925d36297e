/*
 * guichetctl: shared declarations of the admin tool's files.
 */

#ifndef GUICHETCTL_H
#define GUICHETCTL_H

#include <stdio.h>
#include <authcore.h>
#include <hiredis/hiredis.h>

#define CTL_EXIT_OK      0
#define CTL_EXIT_FAIL    1
#define CTL_EXIT_USAGE   2

#define CTL_ARGS_MAX     32
#define CTL_OPT_VALUES   16


/* One option a command accepts: "--name" or "--name VALUE". */
typedef struct {
    const char   *name;
    int           has_value;
} ctl_opt_spec_t;

typedef struct {
    const char   *name;
    int           count;
    const char   *values[CTL_OPT_VALUES];
} ctl_opt_t;

typedef struct {
    int           npos;
    const char   *pos[CTL_ARGS_MAX];
    size_t        nopts;
    ctl_opt_t     opts[CTL_ARGS_MAX];
} ctl_args_t;

typedef struct {
    const char    *config_path;
    ac_config_t   *cfg;
    ac_keys_t     *keys;
    redisContext  *redis;
    ctl_args_t     args;
    int            json;
} ctl_t;

typedef struct {
    const char            *group;      /* "user", or the command itself */
    const char            *name;       /* "add", or NULL */
    const char            *usage;
    const ctl_opt_spec_t  *opts;
    int                    npos;       /* positional arguments expected */
    unsigned               needs;
    int                  (*run)(ctl_t *ctl);
} ctl_command_t;

#define CTL_NEED_KEYS    0x01
#define CTL_NEED_REDIS   0x02     /* connected on first use */


/* args.c */
int ctl_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ctl_has_opt(const ctl_t *ctl, const char *name);
const ctl_opt_t *ctl_opt(const ctl_t *ctl, const char *name);
int ctl_email_arg(const char *arg, char email[AC_EMAIL_MAX + 1]);
int ctl_read_password(char *buf, size_t size, size_t *len);

/* redis.c */
int ctl_redis_connect(ctl_t *ctl);
void ctl_redis_close(ctl_t *ctl);
redisReply *ctl_redis_run(ctl_t *ctl, ac_cmd_t *cmd);
/* Runs a command whose reply is not needed. */
int ctl_redis_exec(ctl_t *ctl, ac_cmd_t *cmd);
/* Runs a command whose reply is an integer; "rc" is what its builder
 * returned: anything but AC_OK is reported and nothing is sent. */
int ctl_redis_integer(ctl_t *ctl, int rc, ac_cmd_t *cmd, int64_t *n);
/* A pipeline on the open connection: each command queued, then each
 * reply read (NULL: the failure has been reported). */
int ctl_redis_append(ctl_t *ctl, ac_cmd_t *cmd);
redisReply *ctl_redis_get(ctl_t *ctl);

/* accounts.c */
int ctl_account_find(ctl_t *ctl, const char *email, ac_account_t *a);
int ctl_account_arg(ctl_t *ctl, char email[AC_EMAIL_MAX + 1],
    ac_account_t *a);
int ctl_sessions_end(ctl_t *ctl, const char *id, int64_t *ended);

/* mail_notice.c: a notice of this kind to "to" when "notify" has bit */
int ctl_mail_notice(ctl_t *ctl, ac_mail_kind_t kind, unsigned bit,
    const char *to, const char *account, const char *detail);

/* log.c */
int ctl_log_event(ctl_t *ctl, ac_event_kind_t kind, const char *account,
    const char *email, const char *partner);
int ctl_log_append(ctl_t *ctl, const ac_event_t *ev);
int ctl_log_reason(ctl_t *ctl, ac_event_kind_t kind, const char *reason,
    const char *account, const char *email);

/*
 * logkeys.c: the log's account references (pseudonyms, or the ids of
 * entries written before them) resolved once per run to the living
 * account's id and log key.
 */
typedef struct {
    char           a[AC_LOG_PSEUDO_LEN + 1];    /* as the entry has it */
    char           id[AC_ID_LEN + 1];
    int            state;
    unsigned char  key[AC_LOG_KEY_LEN];
} ctl_lk_t;

typedef struct {
    ctl_lk_t      *slots;
    size_t         size;
    size_t         used;
    int            only;        /* the one account of ctl_lk_account() */
} ctl_lk_cache_t;

/* Resolves, in one pipelined round trip, the references of a batch of
 * entries not resolved yet (none when "only" is set). */
int ctl_lk_prefetch(ctl_t *ctl, ctl_lk_cache_t *cache,
    const redisReply *batch);
/* For --account: resolves "ref" (an account id or a pseudonym) and keeps
 * only that account; "filter" receives what its entries will name: the
 * id of a living account, else ref itself. */
int ctl_lk_account(ctl_t *ctl, ctl_lk_cache_t *cache, const char *ref,
    char filter[AC_ID_LEN + 1]);
/* ac_log_entry_parse() with the entry's account key, and its account
 * named by its id when it resolved to a living account. */
int ctl_lk_parse(ctl_lk_cache_t *cache, const redisReply *entry,
    ac_log_entry_t *e);
void ctl_lk_free(ctl_lk_cache_t *cache);

/* output.c */
void ctl_time_text(int64_t t, char *out, size_t size);
void ctl_time_json(ac_buf_t *b, int64_t t);
void ctl_json_key(ac_buf_t *b, const char *key, int first);
void ctl_json_str(ac_buf_t *b, const char *s);
void ctl_json_roles(ac_buf_t *b, unsigned roles);
int ctl_print_buf(ac_buf_t *b);

typedef struct {
    size_t        ncols;
    size_t        nrows;
    size_t        cap;
    const char  **head;
    char        **cells;
} ctl_table_t;

int ctl_table_init(ctl_table_t *t, const char **head, size_t ncols);
int ctl_table_row(ctl_table_t *t, const char **cells);
int ctl_table_print(ctl_table_t *t, FILE *out);
void ctl_table_free(ctl_table_t *t);
int ctl_list_print(ctl_t *ctl, ac_buf_t *b, ctl_table_t *t);

int ctl_qr_print(const char *text, FILE *out);

/* cmd_partner.c */
int ctl_partner_ids(ctl_t *ctl, redisReply **ids, const char ***sorted);
int ctl_partner_get(ctl_t *ctl, const char *id, ac_partner_t *p);

/* commands */
int ctl_cmd_user_add(ctl_t *ctl);
int ctl_cmd_user_list(ctl_t *ctl);
int ctl_cmd_user_show(ctl_t *ctl);
int ctl_cmd_user_lock(ctl_t *ctl);
int ctl_cmd_user_unlock(ctl_t *ctl);
int ctl_cmd_user_passwd(ctl_t *ctl);
int ctl_cmd_user_role(ctl_t *ctl);
int ctl_cmd_user_unlink(ctl_t *ctl);
int ctl_cmd_totp_enroll(ctl_t *ctl);
int ctl_cmd_totp_disable(ctl_t *ctl);
int ctl_cmd_recovery_codes(ctl_t *ctl);
int ctl_cmd_partner_add(ctl_t *ctl);
int ctl_cmd_partner_list(ctl_t *ctl);
int ctl_cmd_partner_show(ctl_t *ctl);
int ctl_cmd_partner_remove(ctl_t *ctl);
int ctl_cmd_partner_rotate(ctl_t *ctl);
int ctl_cmd_partner_try(ctl_t *ctl);
int ctl_cmd_invitations_list(ctl_t *ctl);
int ctl_cmd_user_erase(ctl_t *ctl);
int ctl_cmd_user_export(ctl_t *ctl);
int ctl_cmd_user_restrict(ctl_t *ctl);
int ctl_cmd_user_unrestrict(ctl_t *ctl);
int ctl_cmd_user_rename(ctl_t *ctl);
int ctl_cmd_retention_run(ctl_t *ctl);
int ctl_cmd_logs(ctl_t *ctl);
int ctl_cmd_logs_verify(ctl_t *ctl);
int ctl_cmd_logs_anomalies(ctl_t *ctl);

/* cmd_mail.c: the mail worker and its dead letters */
int ctl_cmd_mail_run(ctl_t *ctl);
int ctl_cmd_mail_failed(ctl_t *ctl);
int ctl_cmd_mail_retry(ctl_t *ctl);

#endif /* GUICHETCTL_H */
