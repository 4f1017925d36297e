/*
 * guichetctl user add|list|show|lock|unlock|passwd|role|unlink
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guichetctl.h"


static int ctl_user_set(ctl_t *ctl, const ac_account_t *a,
    const char *field, const char *value);
static int ctl_user_new_password(ctl_t *ctl, char phc[AC_PHC_MAX]);
static const char *ctl_status_name(int status);


int
ctl_cmd_user_add(ctl_t *ctl)
{
    int                  rc, status;
    size_t               i;
    int64_t              created;
    unsigned             roles, r;
    ac_cmd_t             cmd;
    const ctl_opt_t     *o;
    char                 email[AC_EMAIL_MAX + 1];
    char                 list[AC_ROLES_MAX];
    ac_account_t         a;

    status = ctl_email_arg(ctl->args.pos[0], email);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    roles = 0;
    o = ctl_opt(ctl, "role");

    for (i = 0; o != NULL && i < (size_t) o->count; i++) {
        if (ac_roles_parse(o->values[i], strlen(o->values[i]), &r) != AC_OK
            || r == 0)
        {
            return ctl_fail(CTL_EXIT_USAGE, "unknown role (roles are user,"
                            " security, admin)");
        }
        roles |= r;
    }

    if (roles == 0) {
        roles = AC_ROLE_USER;
    }

    if (!ctl_has_opt(ctl, "password-stdin")) {
        return ctl_fail(CTL_EXIT_USAGE, "user add needs --password-stdin");
    }

    memset(&a, 0, sizeof(a));

    status = ctl_user_new_password(ctl, a.pw);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    if (ac_account_id_new(a.id) != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "cannot make an account id");
    }

    memcpy(a.email, email, sizeof(email));
    a.roles = roles;
    a.status = AC_STATUS_ACTIVE;
    created = (int64_t) time(NULL);
    a.created = created;
    a.pw_changed = created;

    rc = ac_cmd_account_create(&cmd, ctl->cfg, ctl->keys, &a);
    status = ctl_redis_integer(ctl, rc, &cmd, &created);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (created != 1) {
        status = ctl_fail(CTL_EXIT_FAIL, "account %s already exists", email);
        goto done;
    }

    ac_roles_format(roles, list);
    printf("created account %s %s (%s)\n", a.id, email, list);

    status = ctl_log_event(ctl, AC_EV_ACCOUNT_CREATED, a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_user_list(ctl_t *ctl)
{
    int           rc, status;
    size_t        i;
    ac_buf_t      b;
    ac_cmd_t      cmd;
    redisReply   *ids, *r;
    ctl_table_t   t;
    ac_account_t  a;
    char          roles[AC_ROLES_MAX], created[32], last[32];
    const char   *cells[7];
    static const char  *head[] = {
        "ID", "EMAIL", "ROLES", "STATUS", "TOTP", "CREATED", "LAST LOGIN"
    };

    rc = ac_cmd_accounts_list(&cmd, ctl->cfg);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    ids = ctl_redis_run(ctl, &cmd);
    if (ids == NULL) {
        return CTL_EXIT_FAIL;
    }

    if (ids->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(ids);
        return ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
    }

    ac_buf_init(&b);
    ctl_table_init(&t, head, 7);
    status = CTL_EXIT_FAIL;

    /* one round trip for all accounts */
    for (i = 0; i < ids->elements; i++) {
        if (ids->element[i]->type != REDIS_REPLY_STRING) {
            ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
            goto failed;
        }

        rc = ac_cmd_account_get(&cmd, ctl->cfg, ids->element[i]->str);
        if (rc != AC_OK || ac_cmd_status(&cmd) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
            goto failed;
        }

        if (ctl_redis_append(ctl, &cmd) != CTL_EXIT_OK) {
            goto failed;
        }
    }

    ac_buf_str(&b, "[");

    for (i = 0; i < ids->elements; i++) {
        r = ctl_redis_get(ctl);
        if (r == NULL) {
            goto failed;
        }

        rc = ac_account_parse(r, ids->element[i]->str, &a);
        freeReplyObject(r);

        if (rc == AC_ERR_NOT_FOUND) {
            /* removed while we listed */
            continue;
        }

        if (rc != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "account %s: %s", ids->element[i]->str,
                     ac_strerror(rc));
            goto failed;
        }

        if (ctl->json) {
            ac_buf_str(&b, b.len > 1 ? ",{" : "{");
            ctl_json_key(&b, "id", 1);
            ctl_json_str(&b, a.id);
            ctl_json_key(&b, "email", 0);
            ctl_json_str(&b, a.email);
            ctl_json_key(&b, "roles", 0);
            ctl_json_roles(&b, a.roles);
            ctl_json_key(&b, "status", 0);
            ctl_json_str(&b, ctl_status_name(a.status));
            ctl_json_key(&b, "totp", 0);
            ac_buf_str(&b, a.totp[0] ? "true" : "false");
            ctl_json_key(&b, "created", 0);
            ctl_time_json(&b, a.created);
            ctl_json_key(&b, "last_login", 0);
            ctl_time_json(&b, a.last_login);
            ac_buf_str(&b, "}");
            continue;
        }

        ac_roles_format(a.roles, roles);
        ctl_time_text(a.created, created, sizeof(created));
        ctl_time_text(a.last_login, last, sizeof(last));

        cells[0] = a.id;
        cells[1] = a.email;
        cells[2] = roles;
        cells[3] = ctl_status_name(a.status);
        cells[4] = a.totp[0] ? "yes" : "no";
        cells[5] = created;
        cells[6] = last;

        if (ctl_table_row(&t, cells) != AC_OK) {
            ctl_fail(CTL_EXIT_FAIL, "out of memory");
            goto failed;
        }
    }

    status = ctl_list_print(ctl, &b, &t);

failed:

    ac_cleanse(&a, sizeof(a));
    ctl_table_free(&t);
    ac_buf_free(&b);
    freeReplyObject(ids);

    return status;
}


int
ctl_cmd_user_show(ctl_t *ctl)
{
    int           rc, status;
    int64_t       codes, sessions;
    ac_buf_t      b;
    ac_cmd_t      cmd;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];
    char          roles[AC_ROLES_MAX], created[32], last[32], pwc[32];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    rc = ac_cmd_recovery_count(&cmd, ctl->cfg, a.id);
    status = ctl_redis_integer(ctl, rc, &cmd, &codes);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    rc = ac_cmd_sessions_count(&cmd, ctl->cfg, a.id, (int64_t) time(NULL));
    status = ctl_redis_integer(ctl, rc, &cmd, &sessions);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (ctl->json) {
        ac_buf_init(&b);
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "id", 1);
        ctl_json_str(&b, a.id);
        ctl_json_key(&b, "email", 0);
        ctl_json_str(&b, a.email);
        ctl_json_key(&b, "roles", 0);
        ctl_json_roles(&b, a.roles);
        ctl_json_key(&b, "status", 0);
        ctl_json_str(&b, ctl_status_name(a.status));
        ctl_json_key(&b, "restricted", 0);
        ac_buf_str(&b, a.restricted ? "true" : "false");
        ctl_json_key(&b, "password", 0);
        ac_buf_str(&b, a.pw[0] ? "true" : "false");
        ctl_json_key(&b, "totp", 0);
        ac_buf_str(&b, a.totp[0] ? "true" : "false");
        ctl_json_key(&b, "passkeys", 0);
        ac_buf_printf(&b, "%lld", (long long) a.passkeys);
        ctl_json_key(&b, "recovery_codes", 0);
        ac_buf_printf(&b, "%lld", (long long) codes);
        ctl_json_key(&b, "sessions", 0);
        ac_buf_printf(&b, "%lld", (long long) sessions);
        ctl_json_key(&b, "created", 0);
        ctl_time_json(&b, a.created);
        ctl_json_key(&b, "last_login", 0);
        ctl_time_json(&b, a.last_login);
        ctl_json_key(&b, "password_changed", 0);
        ctl_time_json(&b, a.pw_changed);
        ac_buf_str(&b, "}");

        status = ctl_print_buf(&b);
        ac_buf_free(&b);
        goto done;
    }

    ac_roles_format(a.roles, roles);
    ctl_time_text(a.created, created, sizeof(created));
    ctl_time_text(a.last_login, last, sizeof(last));
    ctl_time_text(a.pw_changed, pwc, sizeof(pwc));

    printf("id:                %s\n"
           "email:             %s\n"
           "roles:             %s\n"
           "status:            %s\n"
           "restricted:        %s\n"
           "password:          %s\n"
           "totp:              %s\n"
           "passkeys:          %lld\n"
           "recovery codes:    %lld\n"
           "sessions:          %lld\n"
           "created:           %s\n"
           "last login:        %s\n"
           "password changed:  %s\n",
           a.id, a.email, roles, ctl_status_name(a.status),
           a.restricted ? "yes" : "no",
           a.pw[0] ? "set" : "none (single sign-on only)",
           a.totp[0] ? "enrolled" : "no", (long long) a.passkeys,
           (long long) codes,
           (long long) sessions, created, last, pwc);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


static int
ctl_user_lock_set(ctl_t *ctl, int lock)
{
    int           status;
    int64_t       ended;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1], value[16];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    snprintf(value, sizeof(value), "%d",
             lock ? AC_STATUS_LOCKED : AC_STATUS_ACTIVE);

    status = ctl_user_set(ctl, &a, "status", value);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (!lock) {
        printf("unlocked %s\n", email);
        status = ctl_log_event(ctl, AC_EV_ACCOUNT_UNLOCKED, a.id, email,
                               NULL);
        goto done;
    }

    /* a locked account keeps no open door */
    status = ctl_sessions_end(ctl, a.id, &ended);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    printf("locked %s; %lld session(s) ended\n", email, (long long) ended);

    status = ctl_log_event(ctl, AC_EV_ACCOUNT_LOCKED, a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_user_lock(ctl_t *ctl)
{
    return ctl_user_lock_set(ctl, 1);
}


int
ctl_cmd_user_unlock(ctl_t *ctl)
{
    return ctl_user_lock_set(ctl, 0);
}


int
ctl_cmd_user_passwd(ctl_t *ctl)
{
    int           rc, status;
    int64_t       ended;
    ac_cmd_t      cmd;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];

    status = ctl_email_arg(ctl->args.pos[0], email);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    if (!ctl_has_opt(ctl, "password-stdin")) {
        return ctl_fail(CTL_EXIT_USAGE,
                        "user passwd needs --password-stdin");
    }

    status = ctl_account_find(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    status = ctl_user_new_password(ctl, a.pw);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    /* the page's step: the hash and every session ended at once */
    rc = ac_cmd_password_set(&cmd, ctl->cfg, a.id, a.pw,
                             (int64_t) time(NULL));
    status = ctl_redis_integer(ctl, rc, &cmd, &ended);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    printf("password of %s changed; %lld session(s) ended\n", email,
           (long long) ended);

    status = ctl_log_event(ctl, AC_EV_PASSWORD_CHANGED, a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_user_role(ctl_t *ctl)
{
    int               status, i, k;
    int64_t           ended;
    unsigned          roles, r;
    const ctl_opt_t  *add, *del, *set, *o;
    ac_account_t      a;
    char              email[AC_EMAIL_MAX + 1], list[AC_ROLES_MAX];

    status = ctl_email_arg(ctl->args.pos[0], email);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    add = ctl_opt(ctl, "add");
    del = ctl_opt(ctl, "remove");
    set = ctl_opt(ctl, "set");

    if (add == NULL && del == NULL && set == NULL) {
        return ctl_fail(CTL_EXIT_USAGE, "give --add, --remove or --set");
    }

    if (set != NULL && (add != NULL || del != NULL || set->count > 1)) {
        return ctl_fail(CTL_EXIT_USAGE,
                        "--set replaces the roles: give it alone, once");
    }

    for (k = 0; k < 3; k++) {
        o = (k == 0) ? add : (k == 1) ? del : set;

        for (i = 0; o != NULL && i < o->count; i++) {
            if (ac_roles_parse(o->values[i], strlen(o->values[i]), &r)
                != AC_OK || r == 0)
            {
                return ctl_fail(CTL_EXIT_USAGE, "unknown role (roles are"
                                " user, security, admin)");
            }
        }
    }

    status = ctl_account_find(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    roles = a.roles;

    if (set != NULL) {
        (void) ac_roles_parse(set->values[0], strlen(set->values[0]),
                              &roles);
    }

    for (i = 0; add != NULL && i < add->count; i++) {
        (void) ac_roles_parse(add->values[i], strlen(add->values[i]), &r);
        roles |= r;
    }

    for (i = 0; del != NULL && i < del->count; i++) {
        (void) ac_roles_parse(del->values[i], strlen(del->values[i]), &r);
        roles &= ~r;
    }

    if (roles == 0) {
        status = ctl_fail(CTL_EXIT_FAIL, "an account keeps at least one"
                          " role (lock it instead)");
        goto done;
    }

    ac_roles_format(roles, list);

    status = ctl_user_set(ctl, &a, "roles", list);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    /* a lost role must not live on in open sessions */
    if (a.roles & ~roles) {
        status = ctl_sessions_end(ctl, a.id, &ended);
        if (status != CTL_EXIT_OK) {
            goto done;
        }

        printf("roles of %s: %s; %lld session(s) ended\n", email, list,
               (long long) ended);

    } else {
        printf("roles of %s: %s\n", email, list);
    }

    status = ctl_log_event(ctl, AC_EV_ROLE_CHANGED, a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


/*
 * Withdraws a partner's right to open the account (SPEC 6): the link and
 * the sessions that partner opened go in one step, and the per-worker
 * caches drop those sessions within a second. The partner's next
 * assertion for the account leads to the link page again.
 */
int
ctl_cmd_user_unlink(ctl_t *ctl)
{
    int           rc, status;
    int64_t       ended;
    ac_cmd_t      cmd;
    redisReply   *r;
    ac_account_t  a;
    const char   *partner;
    char          email[AC_EMAIL_MAX + 1];

    partner = ctl->args.pos[1];

    if (ac_partner_id_check(partner) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "bad partner id (lower-case"
                        " letters, digits, '.', '_', '-')");
    }

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    rc = ac_cmd_partner_unlink(&cmd, ctl->cfg, a.id, partner);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
        goto done;
    }

    r = ctl_redis_run(ctl, &cmd);
    if (r == NULL) {
        status = CTL_EXIT_FAIL;
        goto done;
    }

    rc = ac_partner_unlink_reply(r, &ended);
    freeReplyObject(r);

    if (rc == AC_ERR_NOT_FOUND) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s is not linked to partner %s"
                          " (%lld session(s) of it ended)", email, partner,
                          (long long) ended);
        goto done;
    }

    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "unexpected reply: %s",
                          ac_strerror(rc));
        goto done;
    }

    printf("unlinked %s from partner %s; %lld session(s) ended\n", email,
           partner, (long long) ended);

    status = ctl_log_event(ctl, AC_EV_PARTNER_UNLINKED, a.id, email,
                           partner);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


static int
ctl_user_set(ctl_t *ctl, const ac_account_t *a, const char *field,
    const char *value)
{
    int       rc;
    ac_cmd_t  cmd;

    rc = ac_cmd_account_set(&cmd, ctl->cfg, a->id, field, value);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    return ctl_redis_exec(ctl, &cmd);
}


/* Reads a password from stdin, checks the policy and hashes it. */
static int
ctl_user_new_password(ctl_t *ctl, char phc[AC_PHC_MAX])
{
    int                 rc, status;
    size_t              len;
    ac_argon2_params_t  params;
    char                pw[AC_PASSWORD_MAX + 2];

    status = ctl_read_password(pw, sizeof(pw), &len);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    if (ac_password_policy(pw, len) != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "password refused: it needs at"
                          " least %d characters, at most %d bytes, and no"
                          " NUL byte", AC_PASSWORD_MIN, AC_PASSWORD_MAX);
        goto done;
    }

    ac_argon2_params_from_config(ctl->cfg, &params);

    rc = ac_password_hash(&params, pw, len, phc);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "cannot hash the password: %s",
                          ac_strerror(rc));
    }

done:

    ac_cleanse(pw, sizeof(pw));

    return status;
}


static const char *
ctl_status_name(int status)
{
    return (status == AC_STATUS_LOCKED) ? "locked" : "active";
}
