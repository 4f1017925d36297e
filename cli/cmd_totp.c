/*
 * guichetctl totp enroll|disable, recovery-codes
 */

#include <stdlib.h>
#include <string.h>

#include "guichetctl.h"


int
ctl_cmd_totp_enroll(ctl_t *ctl)
{
    int            rc, status;
    char          *uri;
    ac_buf_t       b;
    ac_cmd_t       cmd;
    ac_account_t   a;
    unsigned char  secret[AC_TOTP_SECRET_LEN];
    char           b32[AC_BASE32_LEN(AC_TOTP_SECRET_LEN) + 1];
    char           sealed[AC_SEALED_LEN(AC_TOTP_SECRET_LEN) + 1];
    char           email[AC_EMAIL_MAX + 1];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    uri = NULL;

    if (a.totp[0] != '\0') {
        /* replacing it would silently break the user's authenticator */
        status = ctl_fail(CTL_EXIT_FAIL, "%s already has TOTP; \"totp"
                          " disable\" it first", email);
        goto done;
    }

    status = CTL_EXIT_FAIL;

    rc = ac_totp_secret_new(secret);
    if (rc == AC_OK) {
        rc = ac_base32_encode(secret, sizeof(secret), b32, sizeof(b32));
    }
    if (rc == AC_OK) {
        rc = ac_seal(ctl->keys, secret, sizeof(secret), a.id, sealed,
                     sizeof(sealed));
    }
    if (rc == AC_OK) {
        rc = ac_otpauth_uri(ctl->cfg->totp_issuer, email, b32, &uri);
    }
    if (rc == AC_OK) {
        rc = ac_cmd_account_set_totp(&cmd, ctl->cfg, a.id, sealed);
    }

    if (rc != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "cannot make a TOTP secret: %s",
                 ac_strerror(rc));
        goto done;
    }

    if (ctl_redis_exec(ctl, &cmd) != CTL_EXIT_OK) {
        goto done;
    }

    if (ctl->json) {
        ac_buf_init(&b);
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "secret", 1);
        ctl_json_str(&b, b32);
        ctl_json_key(&b, "uri", 0);
        ctl_json_str(&b, uri);
        ac_buf_str(&b, "}");
        status = ctl_print_buf(&b);
        ac_buf_free(&b);

    } else {
        printf("TOTP enrolled for %s. Scan this code with an authenticator"
               " app:\n\n", email);

        if (ctl_qr_print(uri, stdout) != AC_OK) {
            printf("(the QR code could not be drawn)\n");
        }

        printf("\nor enter the secret by hand: %s\n"
               "otpauth URI: %s\n", b32, uri);

        status = CTL_EXIT_OK;
    }

    if (status == CTL_EXIT_OK) {
        status = ctl_log_event(ctl, AC_EV_TOTP_ENROLLED, a.id, email, NULL);
    }

done:

    if (uri != NULL) {
        ac_cleanse(uri, strlen(uri));
        free(uri);
    }

    ac_cleanse(secret, sizeof(secret));
    ac_cleanse(b32, sizeof(b32));
    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_totp_disable(ctl_t *ctl)
{
    int           rc, status, had;
    ac_cmd_t      cmd;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    had = (a.totp[0] != '\0');
    status = CTL_EXIT_FAIL;

    /* one step for the secret and the recovery codes, as on the page */
    rc = ac_cmd_totp_disable(&cmd, ctl->cfg, a.id);
    if (rc != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
        goto done;
    }

    if (ctl_redis_exec(ctl, &cmd) != CTL_EXIT_OK) {
        goto done;
    }

    printf("%s %s; recovery codes deleted\n",
           had ? "TOTP disabled for" : "no TOTP was enrolled for", email);

    status = ctl_log_event(ctl, AC_EV_TOTP_DISABLED, a.id, email, NULL);

done:

    ac_cleanse(&a, sizeof(a));

    return status;
}


int
ctl_cmd_recovery_codes(ctl_t *ctl)
{
    int           rc, i, status;
    ac_buf_t      b;
    ac_cmd_t      cmd;
    ac_account_t  a;
    char          email[AC_EMAIL_MAX + 1];
    char          codes[AC_RECOVERY_COUNT][AC_RECOVERY_CODE_LEN + 1];
    char          digests[AC_RECOVERY_COUNT][AC_DIGEST_LEN + 1];

    status = ctl_account_arg(ctl, email, &a);
    if (status != CTL_EXIT_OK) {
        return status;
    }

    status = CTL_EXIT_FAIL;

    rc = ac_recovery_generate(ctl->keys, codes, digests);
    if (rc == AC_OK) {
        rc = ac_cmd_recovery_replace(&cmd, ctl->cfg, a.id, digests);
    }

    if (rc != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "cannot make recovery codes: %s",
                 ac_strerror(rc));
        goto done;
    }

    if (ctl_redis_exec(ctl, &cmd) != CTL_EXIT_OK) {
        goto done;
    }

    if (ctl->json) {
        ac_buf_init(&b);
        ac_buf_str(&b, "{");
        ctl_json_key(&b, "codes", 1);
        ac_buf_str(&b, "[");
        for (i = 0; i < AC_RECOVERY_COUNT; i++) {
            if (i > 0) {
                ac_buf_str(&b, ",");
            }
            ctl_json_str(&b, codes[i]);
        }
        ac_buf_str(&b, "]}");
        status = ctl_print_buf(&b);
        ac_buf_free(&b);

    } else {
        printf("new recovery codes for %s (each works once, the old ones"
               " no longer do;\nthey are not stored and cannot be shown"
               " again):\n\n", email);

        for (i = 0; i < AC_RECOVERY_COUNT; i++) {
            printf("  %s\n", codes[i]);
        }

        status = CTL_EXIT_OK;
    }

    if (status == CTL_EXIT_OK) {
        status = ctl_log_event(ctl, AC_EV_RECOVERY_GENERATED, a.id, email,
                               NULL);
    }

done:

    ac_cleanse(codes, sizeof(codes));
    ac_cleanse(&a, sizeof(a));

    return status;
}
