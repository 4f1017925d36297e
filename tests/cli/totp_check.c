/*
 * Test helper: checks a TOTP code against an account's sealed secret the
 * way the gateway does (ac_unseal with the account id, ac_totp_verify).
 *
 *   totp_check CONFIG ACCOUNT_ID SEALED CODE
 *
 * Exit 0 when the code is accepted now, 1 when refused, 2 on error.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <authcore.h>


int
main(int argc, char **argv)
{
    int            rc, status;
    size_t         len;
    int64_t        step;
    ac_error_t     err;
    ac_keys_t     *keys;
    ac_config_t   *cfg;
    unsigned char  secret[64];

    if (argc != 5) {
        fprintf(stderr, "usage: totp_check CONFIG ID SEALED CODE\n");
        return 2;
    }

    keys = NULL;
    cfg = NULL;
    status = 2;

    if (ac_init() != AC_OK
        || ac_config_load(argv[1], &cfg, &err) != AC_OK
        || ac_keys_load(cfg->secret_file, &keys, &err) != AC_OK)
    {
        fprintf(stderr, "totp_check: cannot load the configuration\n");
        goto done;
    }

    rc = ac_unseal(keys, argv[3], argv[2], secret, sizeof(secret), &len);
    if (rc != AC_OK) {
        fprintf(stderr, "totp_check: unseal: %s\n", ac_strerror(rc));
        goto done;
    }

    rc = ac_totp_verify(secret, len, argv[4], strlen(argv[4]), time(NULL),
                        AC_TOTP_WINDOW, -1, &step);
    status = (rc == AC_OK) ? 0 : 1;

    ac_cleanse(secret, sizeof(secret));

done:

    ac_keys_free(keys);
    ac_config_free(cfg);

    return status;
}
