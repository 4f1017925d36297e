/*
 * guichetctl's entries in the connection log: every change it makes to
 * an account or a partner is appended to the hash-chained stream, with
 * "guichetctl" as the user agent so the security team can tell them from
 * the gateway's.
 */

#include <string.h>
#include <sys/time.h>

#include "guichetctl.h"


#define CTL_LOG_UA  "guichetctl"


static int ctl_log_as(ctl_t *ctl, ac_event_t *ev, const char *account);
static int ctl_log_key(ctl_t *ctl, const char *account,
    unsigned char key[AC_LOG_KEY_LEN]);


/*
 * Appends one event. A failure is reported but does not undo the change
 * already made: the caller returns a failure status so that scripts
 * notice the missing log entry.
 */
int
ctl_log_event(ctl_t *ctl, ac_event_kind_t kind, const char *account,
    const char *email, const char *partner)
{
    ac_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;

    if (email != NULL) {
        ev.email = email;
        ev.email_len = strlen(email);
    }

    if (partner != NULL) {
        ev.partner = partner;
        ev.partner_len = strlen(partner);
    }

    return ctl_log_as(ctl, &ev, account);
}


/* Appends ev as guichetctl's, about "account" (may be NULL) under its
 * log key, made on first use. */
static int
ctl_log_as(ctl_t *ctl, ac_event_t *ev, const char *account)
{
    int             status;
    unsigned char   key[AC_LOG_KEY_LEN];

    ev->ua = CTL_LOG_UA;
    ev->ua_len = sizeof(CTL_LOG_UA) - 1;

    if (account != NULL) {
        if (ctl_log_key(ctl, account, key) != CTL_EXIT_OK) {
            return CTL_EXIT_FAIL;
        }

        ev->account = account;
        ev->account_len = strlen(account);
        ev->log_key = key;
    }

    status = ctl_log_append(ctl, ev);

    ac_cleanse(key, sizeof(key));
    ev->log_key = NULL;

    return status;
}


/* Appends a prepared event after the log's head, retrying on conflict. */
int
ctl_log_append(ctl_t *ctl, const ac_event_t *ev)
{
    int             rc, i;
    int64_t         now_ms;
    uint64_t        seq;
    ac_cmd_t        cmd;
    redisReply     *r;
    struct timeval  tv;
    unsigned char   hash[AC_MAC_LEN];

    rc = ac_cmd_log_head(&cmd, ctl->cfg);
    if (rc != AC_OK) {
        goto failed;
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_log_head_parse(r, &seq, hash);
    freeReplyObject(r);

    if (rc != AC_OK) {
        goto failed;
    }

    for (i = 0; i < AC_LOG_RETRIES; i++) {
        gettimeofday(&tv, NULL);
        now_ms = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;

        rc = ac_cmd_log_append(&cmd, ctl->cfg, ctl->keys, ev, seq, hash,
                               now_ms, NULL);
        if (rc != AC_OK) {
            goto failed;
        }

        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            ac_cleanse(&cmd, sizeof(cmd));
            return CTL_EXIT_FAIL;
        }

        rc = ac_log_append_reply(r, &seq, hash);
        freeReplyObject(r);

        if (rc != AC_LOG_CONFLICT) {
            break;
        }
    }

    if (rc == AC_OK) {
        ac_cleanse(&cmd, sizeof(cmd));
        return CTL_EXIT_OK;
    }

failed:

    ac_cleanse(&cmd, sizeof(cmd));

    return ctl_fail(CTL_EXIT_FAIL, "done, but the connection log entry"
                    " could not be written: %s",
                    rc == AC_LOG_CONFLICT ? "the log is too busy"
                                          : ac_strerror(rc));
}


/* The account's log key, made and stored on first use. */
static int
ctl_log_key(ctl_t *ctl, const char *account,
    unsigned char key[AC_LOG_KEY_LEN])
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;
    char         sealed[AC_LOG_KEY_SEALED_MAX];

    rc = ac_cmd_log_key_get(&cmd, ctl->cfg, account);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);

        rc = ac_log_key_new(ctl->keys, account, key, sealed);
        if (rc == AC_OK) {
            rc = ac_cmd_log_key_init(&cmd, ctl->cfg, account, sealed);
        }

        ac_cleanse(key, AC_LOG_KEY_LEN);

        if (rc != AC_OK) {
            return ctl_fail(CTL_EXIT_FAIL, "log key: %s", ac_strerror(rc));
        }

        /* the stored key wins if another writer was first */
        r = ctl_redis_run(ctl, &cmd);
        if (r == NULL) {
            return CTL_EXIT_FAIL;
        }
    }

    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return ctl_fail(CTL_EXIT_FAIL, "log key: the account is gone");
    }

    rc = ac_log_key_unseal(ctl->keys, account, r->str, r->len, key);
    freeReplyObject(r);

    if (rc != AC_OK) {
        ac_cleanse(key, AC_LOG_KEY_LEN);
        return ctl_fail(CTL_EXIT_FAIL, "log key: %s", ac_strerror(rc));
    }

    return CTL_EXIT_OK;
}


/* An event with a reason, about an account when "account" is set (its
 * log key made on first use), else about the email. */
int
ctl_log_reason(ctl_t *ctl, ac_event_kind_t kind, const char *reason,
    const char *account, const char *email)
{
    ac_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = kind;
    ev.reason = reason;
    ev.reason_len = reason ? strlen(reason) : 0;

    if (account != NULL && account[0] != '\0') {
        return ctl_log_as(ctl, &ev, account);
    }

    if (email != NULL) {
        ev.email = email;
        ev.email_len = strlen(email);
    }

    return ctl_log_as(ctl, &ev, NULL);
}
