/*
 * guichetctl: security notices queued by admin commands (SPEC 10), as
 * the module queues those of the account pages: one message appended
 * to the mail queue, delivered by "guichetctl mail run". Without
 * public_url, or when "notify" leaves the kind out, nothing is queued.
 */

#include <string.h>
#include <time.h>

#include "guichetctl.h"


#define CTL_MAIL_DEVICE  "guichetctl (the service's administrators)"


int
ctl_mail_notice(ctl_t *ctl, ac_mail_kind_t kind, unsigned bit,
    const char *to, const char *account, const char *detail)
{
    int          rc;
    ac_cmd_t     cmd;
    ac_mail_t    m;
    redisReply  *r;

    if (ctl->cfg->public_url == NULL || !(ctl->cfg->notify & bit)) {
        return CTL_EXIT_OK;
    }

    memset(&m, 0, sizeof(m));
    m.kind = kind;
    m.when = (int64_t) time(NULL);
    snprintf(m.to, sizeof(m.to), "%s", to);
    snprintf(m.device, sizeof(m.device), "%s", CTL_MAIL_DEVICE);

    if (account != NULL) {
        snprintf(m.account, sizeof(m.account), "%s", account);
    }

    if (detail != NULL) {
        snprintf(m.detail, sizeof(m.detail), "%s", detail);
    }

    rc = ac_cmd_mail_enqueue(&cmd, ctl->cfg, &m);
    if (rc != AC_OK) {
        ac_cleanse(&m, sizeof(m));
        return ctl_fail(CTL_EXIT_FAIL, "notice not queued: %s",
                        ac_strerror(rc));
    }

    /* cmd points into m: m is wiped once it is sent */
    r = ctl_redis_run(ctl, &cmd);
    ac_cleanse(&cmd, sizeof(cmd));
    ac_cleanse(&m, sizeof(m));

    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    freeReplyObject(r);

    return CTL_EXIT_OK;
}
