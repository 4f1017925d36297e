/*
 * guichetctl invitations list: the registration links of pending
 * invitations, for the operator's mailer to send.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guichetctl.h"


#define CTL_REGISTER_PATH  "/guichet/register?token="


static int ctl_inv_partner(ctl_t *ctl, const char *partner,
    const char *base, ctl_table_t *t, ac_buf_t *b);


int
ctl_cmd_invitations_list(ctl_t *ctl)
{
    int               status;
    size_t            i, n;
    ac_buf_t          b;
    ctl_table_t       t;
    redisReply       *ids;
    const char      **sorted, *base;
    const ctl_opt_t  *partner, *url;
    static const char  *head[] = {
        "PARTNER", "EMAIL", "INVITED", "EXPIRES", "LINK"
    };

    partner = ctl_opt(ctl, "partner");
    url = ctl_opt(ctl, "base-url");

    if ((partner != NULL && partner->count > 1)
        || (url != NULL && url->count > 1))
    {
        return ctl_fail(CTL_EXIT_USAGE, "--partner and --base-url are given"
                        " once");
    }

    base = "";

    if (url != NULL) {
        base = url->values[0];
        n = strlen(base);

        if (n > 512 || (strncmp(base, "https://", 8) != 0
                        && strncmp(base, "http://", 7) != 0)
            || base[n - 1] == '/')
        {
            return ctl_fail(CTL_EXIT_USAGE, "--base-url is http(s)://HOST"
                            "[:PORT] without a final '/'");
        }
    }

    if (partner != NULL
        && ac_partner_id_check(partner->values[0]) != AC_OK)
    {
        return ctl_fail(CTL_EXIT_USAGE, "invalid partner id");
    }

    status = CTL_EXIT_FAIL;
    ids = NULL;
    sorted = NULL;
    ac_buf_init(&b);
    ctl_table_init(&t, head, 5);
    ac_buf_str(&b, "[");

    if (partner != NULL) {
        if (ctl_inv_partner(ctl, partner->values[0], base, &t, &b)
            != CTL_EXIT_OK)
        {
            goto failed;
        }

    } else {
        if (ctl_partner_ids(ctl, &ids, &sorted) != CTL_EXIT_OK) {
            goto failed;
        }

        n = ids->elements;

        for (i = 0; i < n; i++) {
            if (ac_partner_id_check(sorted[i]) != AC_OK) {
                ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
                goto failed;
            }
        }

        for (i = 0; i < n; i++) {
            if (ctl_inv_partner(ctl, sorted[i], base, &t, &b)
                != CTL_EXIT_OK)
            {
                goto failed;
            }
        }
    }

    status = ctl_list_print(ctl, &b, &t);

failed:

    free(sorted);

    if (ids != NULL) {
        freeReplyObject(ids);
    }

    ctl_table_free(&t);
    ac_buf_free(&b);

    return status;
}


/* One partner's pending invitations, as table rows and JSON objects. */
static int
ctl_inv_partner(ctl_t *ctl, const char *partner, const char *base,
    ctl_table_t *t, ac_buf_t *b)
{
    int                     rc, status;
    size_t                  i;
    int64_t                 ttl, now;
    ac_cmd_t                cmd;
    ac_buf_t                link;
    redisReply             *r;
    ac_registration_list_t  l;
    const char             *cells[5];
    char                    token[AC_TOKEN_LEN + 1];
    char                    invited[32], expires[32];

    memset(&l, 0, sizeof(l));
    ac_buf_init(&link);
    status = CTL_EXIT_FAIL;

    rc = ac_cmd_registrations(&cmd, ctl->cfg, ctl->keys, partner);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_registrations_list(r, ctl->keys, partner, &l);
    freeReplyObject(r);

    if (rc != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "invitations of %s: %s", partner,
                 ac_strerror(rc));
        goto failed;
    }

    now = (int64_t) time(NULL);

    for (i = 0; i < l.n; i++) {
        if (l.regs[i].registered) {
            continue;
        }

        rc = ac_regtok_derive(ctl->keys, partner, l.regs[i].email,
                              l.regs[i].invited, token);
        if (rc == AC_OK) {
            rc = ac_cmd_regtok_ttl(&cmd, ctl->cfg, ctl->keys, token,
                                   AC_TOKEN_LEN);
        }

        if (ctl_redis_integer(ctl, rc, &cmd, &ttl) != CTL_EXIT_OK) {
            goto failed;
        }

        /* used or expired: no link to send */
        if (ttl <= 0) {
            continue;
        }

        ac_buf_reset(&link);
        ac_buf_printf(&link, "%s" CTL_REGISTER_PATH "%s", base, token);

        if (ac_buf_status(&link) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "out of memory");
            goto failed;
        }

        if (ctl->json) {
            ac_buf_str(b, b->len > 1 ? ",{" : "{");
            ctl_json_key(b, "partner", 1);
            ctl_json_str(b, partner);
            ctl_json_key(b, "email", 0);
            ctl_json_str(b, l.regs[i].email);
            ctl_json_key(b, "invited", 0);
            ctl_time_json(b, l.regs[i].invited);
            ctl_json_key(b, "expires", 0);
            ctl_time_json(b, now + ttl);
            ctl_json_key(b, "link", 0);
            ctl_json_str(b, link.data);
            ac_buf_str(b, "}");
            continue;
        }

        ctl_time_text(l.regs[i].invited, invited, sizeof(invited));
        ctl_time_text(now + ttl, expires, sizeof(expires));

        cells[0] = partner;
        cells[1] = l.regs[i].email;
        cells[2] = invited;
        cells[3] = expires;
        cells[4] = link.data;

        if (ctl_table_row(t, cells) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "out of memory");
            goto failed;
        }
    }

    status = (ac_buf_status(b) == AC_OK) ? CTL_EXIT_OK
                                         : ctl_fail(CTL_EXIT_FAIL,
                                                    "out of memory");

failed:

    ac_cleanse(token, sizeof(token));
    ac_buf_free(&link);
    ac_registrations_free(&l);

    return status;
}
