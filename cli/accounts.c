/*
 * guichetctl: accounts named on the command line, found in Redis, and
 * their sessions ended.
 */

#include <string.h>

#include "guichetctl.h"


int
ctl_account_find(ctl_t *ctl, const char *email, ac_account_t *a)
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;

    rc = ac_cmd_account_by_email(&cmd, ctl->cfg, ctl->keys, email);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_account_parse(r, NULL, a);
    freeReplyObject(r);

    if (rc == AC_ERR_NOT_FOUND) {
        return ctl_fail(CTL_EXIT_FAIL, "no account %s", email);
    }

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "account %s: %s", email,
                        ac_strerror(rc));
    }

    return CTL_EXIT_OK;
}


/* The account named by the command's first argument. */
int
ctl_account_arg(ctl_t *ctl, char email[AC_EMAIL_MAX + 1], ac_account_t *a)
{
    int  status;

    status = ctl_email_arg(ctl->args.pos[0], email);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    return ctl_account_find(ctl, email, a);
}


int
ctl_sessions_end(ctl_t *ctl, const char *id, int64_t *ended)
{
    int       rc;
    ac_cmd_t  cmd;

    rc = ac_cmd_sessions_end_all(&cmd, ctl->cfg, id);

    return ctl_redis_integer(ctl, rc, &cmd, ended);
}

