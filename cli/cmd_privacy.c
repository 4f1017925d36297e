/*
 * guichetctl's privacy commands (SPEC 8, docs/PRIVACY.md): user erase,
 * export, restrict, unrestrict, rename, and retention run. The logic is
 * authcore's (account.c); this file sends its commands and reports.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guichetctl.h"


typedef struct {
    ac_idle_account_t  *items;
    size_t              n;
    size_t              cap;
} ctl_idle_list_t;


static int ctl_privacy_log_anon(ctl_t *ctl, ac_event_kind_t kind,
    const char *account);
static int ctl_privacy_erase(ctl_t *ctl, const char *id, const char *email,
    int64_t cutoff, int64_t *sessions);
static int ctl_privacy_restrict(ctl_t *ctl, int on);
static int ctl_privacy_date(const char *s, int64_t *t);
static int ctl_privacy_collect(const ac_idle_account_t *a, void *data);


/*
 * An entry that names the account by its pseudonym ("" when it never had
 * a log key: nobody) and holds no personal field: after erasure there is
 * no log key left to seal them under, nor to link the pseudonym back.
 */
static int
ctl_privacy_log_anon(ctl_t *ctl, ac_event_kind_t kind, const char *account)
{
    ac_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.account = account;
    ev.account_len = strlen(account);

    return ctl_log_append(ctl, &ev);
}


/* Erases one account and logs it; CTL_EXIT_OK also when the account was
 * kept (rc in *sessions is then -1) or already gone (-2). */
static int
ctl_privacy_erase(ctl_t *ctl, const char *id, const char *email,
    int64_t cutoff, int64_t *sessions)
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;
    char         pseudo[AC_LOG_PSEUDO_LEN + 1];

    rc = ac_cmd_account_erase_idle(&cmd, ctl->cfg, ctl->keys, id, email,
                                   cutoff);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "erase %s: %s", id,
                        ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    ac_cleanse(&cmd, sizeof(cmd));

    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_account_erase_reply(r, sessions);

    if (rc == AC_OK
        && ac_account_erase_pseudonym(ctl->keys, id, r, pseudo) != AC_OK)
    {
        pseudo[0] = '\0';
    }

    freeReplyObject(r);

    switch (rc) {
    case AC_OK:
        /* the last message to the address, which nothing else keeps */
        (void) ctl_mail_notice(ctl, AC_MAIL_ERASED, AC_NOTIFY_ERASURE, email,
                               NULL, NULL);
        return ctl_privacy_log_anon(ctl, AC_EV_ACCOUNT_ERASED, pseudo);
    case AC_ERR_EXISTS:
        *sessions = -1;
        return CTL_EXIT_OK;
    case AC_ERR_NOT_FOUND:
        *sessions = -2;
        return CTL_EXIT_OK;
    default:
        return ctl_fail(CTL_EXIT_FAIL, "erase %s: %s", id,
                        ac_strerror(rc));
    }
}


int
ctl_cmd_user_erase(ctl_t *ctl)
{
    int           status;
    int64_t       sessions;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];

    status = ctl_email_arg(ctl->args.pos[0], email);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    if (!ctl_has_opt(ctl, "yes")) {
        return ctl_fail(CTL_EXIT_USAGE, "user erase destroys the account"
                        " and cannot be undone; add --yes");
    }

    status = ctl_account_find(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    status = ctl_privacy_erase(ctl, a.id, a.email, 0, &sessions);

    if (status == CTL_EXIT_OK) {
        if (sessions < 0) {
            status = ctl_fail(CTL_EXIT_FAIL, "no account %s", email);

        } else {
            printf("erased account %s; %lld session(s) ended\n", a.id,
                   (long long) sessions);
        }
    }

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_user_export(ctl_t *ctl)
{
    int                rc, status, i;
    ac_buf_t           b;
    ac_cmd_t          *cmds;
    ac_account_t       a;
    redisReply        *replies[AC_EXPORT_NCMDS];
    char               email[AC_EMAIL_MAX + 1];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    memset(replies, 0, sizeof(replies));
    ac_buf_init(&b);

    cmds = calloc(AC_EXPORT_NCMDS, sizeof(ac_cmd_t));
    if (cmds == NULL) {
        status = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    rc = ac_cmd_account_export(cmds, ctl->cfg, ctl->keys, a.id, a.email);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
        goto done;
    }

    /* one round trip for the lot */
    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        status = ctl_redis_append(ctl, &cmds[i]);
        if (status != CTL_EXIT_OK) {
            goto done;
        }
    }

    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        replies[i] = ctl_redis_get(ctl);
        if (replies[i] == NULL) {
            status = CTL_EXIT_FAIL;
            goto done;
        }
    }

    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            status = ctl_fail(CTL_EXIT_FAIL, "Redis: %s", replies[i]->str);
            goto done;
        }
    }

    rc = ac_account_export(ctl->keys, a.id,
                           (const redisReply *const *) replies,
                           (int64_t) time(NULL), &b);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "export of %s: %s", email,
                          ac_strerror(rc));
        goto done;
    }

    status = ctl_print_buf(&b);
    if (status == CTL_EXIT_OK) {
        status = ctl_log_event(ctl, AC_EV_EXPORT, a.id, email, NULL);
    }

done:

    for (i = 0; i < AC_EXPORT_NCMDS; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
        }
    }

    if (cmds != NULL) {
        ac_cleanse(cmds, AC_EXPORT_NCMDS * sizeof(ac_cmd_t));
        free(cmds);
    }

    ac_buf_free(&b);
    ac_cleanse(&a, sizeof(a));

    return status;
}


static int
ctl_privacy_restrict(ctl_t *ctl, int on)
{
    int           rc, status;
    int64_t       v;
    ac_cmd_t      cmd;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    rc = ac_cmd_account_restrict(&cmd, ctl->cfg, a.id, on);
    status = ctl_redis_integer(ctl, rc, &cmd, &v);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (v != 1) {
        status = ctl_fail(CTL_EXIT_FAIL, "no account %s", email);
        goto done;
    }

    printf("%s %s\n", on ? "restricted" : "unrestricted", email);

    status = ctl_log_event(ctl, on ? AC_EV_ACCOUNT_RESTRICTED
                                   : AC_EV_ACCOUNT_UNRESTRICTED,
                           a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_user_restrict(ctl_t *ctl)
{
    return ctl_privacy_restrict(ctl, 1);
}


int
ctl_cmd_user_unrestrict(ctl_t *ctl)
{
    return ctl_privacy_restrict(ctl, 0);
}


int
ctl_cmd_user_rename(ctl_t *ctl)
{
    int           rc, status;
    ac_cmd_t      cmd;
    redisReply   *r;
    ac_account_t  a;
    char          old[AC_EMAIL_MAX + 1], new[AC_EMAIL_MAX + 1];

    status = ctl_email_arg(ctl->args.pos[0], old);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    status = ctl_email_arg(ctl->args.pos[1], new);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    if (strcmp(old, new) == 0) {
        return ctl_fail(CTL_EXIT_USAGE, "the new email is the old one");
    }

    status = ctl_account_find(ctl, old, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    rc = ac_cmd_account_rename(&cmd, ctl->cfg, ctl->keys, a.id, a.email,
                               new);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
        goto done;
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        status = CTL_EXIT_FAIL;
        goto done;
    }

    rc = ac_account_rename_reply(r);
    freeReplyObject(r);

    switch (rc) {
    case AC_OK:
        break;
    case AC_ERR_EXISTS:
        status = ctl_fail(CTL_EXIT_FAIL, "%s belongs to another account",
                          new);
        goto done;
    case AC_ERR_NOT_FOUND:
        status = ctl_fail(CTL_EXIT_FAIL, "no account %s", old);
        goto done;
    default:
        status = ctl_fail(CTL_EXIT_FAIL, "rename: %s", ac_strerror(rc));
        goto done;
    }

    printf("renamed %s to %s\n", old, new);

    status = ctl_log_event(ctl, AC_EV_EMAIL_CHANGED, a.id, new, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ", UTC. */
static int
ctl_privacy_date(const char *s, int64_t *t)
{
    char       *end;
    struct tm   tm;

    memset(&tm, 0, sizeof(tm));

    end = strptime(s, "%Y-%m-%d", &tm);
    if (end == NULL) {
        return CTL_EXIT_USAGE;
    }

    if (*end == 'T') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end == NULL || strcmp(end, "Z") != 0) {
            return CTL_EXIT_USAGE;
        }

    } else if (*end != '\0') {
        return CTL_EXIT_USAGE;
    }

    *t = (int64_t) timegm(&tm);

    return *t > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
}


static int
ctl_privacy_collect(const ac_idle_account_t *a, void *data)
{
    size_t              cap;
    ctl_idle_list_t    *l;
    ac_idle_account_t  *p;

    l = data;

    if (l->n == l->cap) {
        cap = l->cap ? l->cap * 2 : 64;
        p = realloc(l->items, cap * sizeof(ac_idle_account_t));
        if (p == NULL) {
            return AC_ERR_NOMEM;
        }
        l->items = p;
        l->cap = cap;
    }

    l->items[l->n++] = *a;

    return AC_OK;
}


int
ctl_cmd_retention_run(ctl_t *ctl)
{
    int               rc, status, dry, first;
    size_t            i, nerased, nkept;
    int64_t           now, cutoff, before_ms, offset, next, trimmed, sess;
    int64_t           mails;
    ac_buf_t          b;
    ac_cmd_t          cmd;
    redisReply       *r;
    const ctl_opt_t  *o;
    ctl_idle_list_t   l;
    char              text[32], last[32], end[32];

    dry = ctl_has_opt(ctl, "dry-run");
    now = (int64_t) time(NULL);

    o = ctl_opt(ctl, "as-of");
    if (o != NULL && ctl_privacy_date(o->values[o->count - 1], &now)
                     != CTL_EXIT_OK)
    {
        return ctl_fail(CTL_EXIT_USAGE, "--as-of takes YYYY-MM-DD or"
                        " YYYY-MM-DDTHH:MM:SSZ");
    }

    cutoff = now - ctl->cfg->inactive_account_retention;
    before_ms = (now - ctl->cfg->log_retention) * 1000;

    if (cutoff <= 0 || before_ms <= 0) {
        return ctl_fail(CTL_EXIT_USAGE, "--as-of is too early");
    }

    memset(&l, 0, sizeof(l));
    ac_buf_init(&b);
    status = CTL_EXIT_OK;
    nerased = 0;
    nkept = 0;
    trimmed = 0;

    /* the list first, then the erasures, which shift the ranks */
    offset = 0;

    do {
        rc = ac_cmd_retention_scan(&cmd, ctl->cfg, cutoff, offset,
                                   AC_RETENTION_BATCH);
        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            status = CTL_EXIT_FAIL;
            goto done;
        }

        next = 0;
        rc = ac_retention_scan_parse(r, &next, ctl_privacy_collect, &l);
        freeReplyObject(r);

        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_FAIL, "retention: %s",
                              ac_strerror(rc));
            goto done;
        }

        offset = next;

    } while (offset > 0);

    /* the log first: "account.erased" entries written now must not be
     * trimmed by a run "as of" a later date */
    if (dry) {
        snprintf(end, sizeof(end), "(%lld", (long long) before_ms);

        rc = ac_cmd_log_range(&cmd, ctl->cfg, 0, "-", end, INT64_MAX);
        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            status = CTL_EXIT_FAIL;
            goto done;
        }

        trimmed = (r->type == REDIS_REPLY_ARRAY) ? (int64_t) r->elements
                                                 : 0;
        freeReplyObject(r);

    } else {
        rc = ac_cmd_log_trim(&cmd, ctl->cfg, before_ms);
        status = ctl_redis_integer(ctl, rc, &cmd, &trimmed);
        if (status != CTL_EXIT_OK) {
            goto done;
        }
    }

    /* failed mails hold an address and a live link: 7 days at most */
    rc = ac_cmd_mail_dead_trim(&cmd, ctl->cfg,
                               (now - AC_MAIL_DEAD_KEEP) * 1000, dry);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
        goto done;
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        status = CTL_EXIT_FAIL;
        goto done;
    }

    mails = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        mails = (int64_t) r->elements;

    } else if (ac_reply_integer(r, &mails) != AC_OK) {
        freeReplyObject(r);
        status = ctl_fail(CTL_EXIT_FAIL, "unexpected reply trimming the "
                          "failed mails");
        goto done;
    }

    freeReplyObject(r);

    /* the sessions past their expiry, at the real time (an "as of" date
     * never ends a live one) */
    offset = 0;

    while (!dry) {
        rc = ac_cmd_sessions_sweep(&cmd, ctl->cfg, offset,
                                   AC_RETENTION_BATCH, (int64_t) time(NULL));
        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
            goto done;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            status = CTL_EXIT_FAIL;
            goto done;
        }

        rc = ac_sessions_sweep_reply(r, &offset, &sess);
        freeReplyObject(r);

        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_FAIL, "unexpected reply sweeping"
                              " the sessions");
            goto done;
        }

        if (offset == 0) {
            break;
        }
    }

    ctl_time_text(now, text, sizeof(text));

    if (ctl->json) {
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "as_of", 1);
        ctl_time_json(&b, now);
        ctl_json_key(&b, "dry_run", 0);
        ac_buf_str(&b, dry ? "true" : "false");
        ctl_json_key(&b, "inactive_before", 0);
        ctl_time_json(&b, cutoff);
        ctl_json_key(&b, "accounts", 0);
        ac_buf_str(&b, "[");

    } else {
        printf("retention %sas of %s\n", dry ? "(dry run) " : "", text);
    }

    first = 1;

    for (i = 0; i < l.n; i++) {
        sess = 0;

        if (l.items[i].restricted) {
            nkept++;

        } else if (!dry) {
            status = ctl_privacy_erase(ctl, l.items[i].id,
                                       l.items[i].email, cutoff, &sess);
            if (status != CTL_EXIT_OK) {
                goto done;
            }

            if (sess >= 0) {
                nerased++;
            }

        } else {
            nerased++;
        }

        ctl_time_text(l.items[i].last, last, sizeof(last));

        if (ctl->json) {
            ac_buf_str(&b, first ? "{" : ",{");
            first = 0;
            ctl_json_key(&b, "id", 1);
            ctl_json_str(&b, l.items[i].id);
            ctl_json_key(&b, "email", 0);
            ctl_json_str(&b, l.items[i].email);
            ctl_json_key(&b, "last_activity", 0);
            ctl_time_json(&b, l.items[i].last);
            ctl_json_key(&b, "action", 0);
            ctl_json_str(&b, l.items[i].restricted ? "kept_restricted"
                             : sess == -1 ? "kept_active"
                             : sess == -2 ? "gone"
                             : dry ? "would_erase" : "erased");
            ac_buf_str(&b, "}");

        } else {
            printf("  %s %s %s (last activity %s)\n",
                   l.items[i].restricted ? "kept (restricted)"
                   : sess == -1 ? "kept (active again)"
                   : sess == -2 ? "already gone"
                   : dry ? "would erase" : "erased",
                   l.items[i].id, l.items[i].email, last);
        }
    }

    if (ctl->json) {
        ac_buf_str(&b, "]");
        ctl_json_key(&b, "log_before", 0);
        ctl_time_json(&b, before_ms / 1000);
        ctl_json_key(&b, dry ? "log_entries_to_trim" : "log_entries_trimmed",
                     0);
        ac_buf_printf(&b, "%lld", (long long) trimmed);
        ctl_json_key(&b, dry ? "failed_mails_to_delete"
                             : "failed_mails_deleted", 0);
        ac_buf_printf(&b, "%lld", (long long) mails);
        ac_buf_str(&b, "}");
        status = ctl_print_buf(&b);

    } else {
        ctl_time_text(before_ms / 1000, last, sizeof(last));
        printf("accounts: %zu %s, %zu kept (restricted)\n", nerased,
               dry ? "to erase" : "erased", nkept);
        printf("log: %lld entr%s before %s %s\n", (long long) trimmed,
               trimmed == 1 ? "y" : "ies", last,
               dry ? "to trim" : "trimmed");
        printf("mail: %lld failed mail%s %s (older than 7 days)\n",
               (long long) mails, mails == 1 ? "" : "s",
               dry ? "to delete" : "deleted");
    }

done:

    if (l.items != NULL) {
        ac_cleanse(l.items, l.cap * sizeof(ac_idle_account_t));
        free(l.items);
    }

    ac_buf_free(&b);

    return status;
}
