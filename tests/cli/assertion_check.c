/*
 * assertion_check CONFIG ALG KEY_FILE TOKEN: verifies an SSO assertion
 * with authcore's verifier (ac_assertion_verify) and the partner's
 * public key (or HS256 secret), as the gateway would; prints
 * "ok PARTNER EMAIL IAT EXP" or "refused REASON". The partner id is the
 * token's own iss. Exit status 0 only when it verifies.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authcore.h"


int
main(int argc, char **argv)
{
    int                rc;
    FILE              *f;
    size_t             n;
    ac_error_t         err;
    ac_config_t       *cfg;
    ac_partner_t       p;
    ac_assertion_t     a;
    ac_partner_key_t  *k;

    if (argc != 5) {
        fprintf(stderr, "usage: assertion_check CONFIG ALG KEY TOKEN\n");
        return 2;
    }

    memset(&p, 0, sizeof(p));

    if (ac_init() != AC_OK || ac_config_load(argv[1], &cfg, &err) != AC_OK
        || ac_alg_parse(argv[2], &p.alg) != AC_OK
        || ac_assertion_peek_issuer(argv[4], strlen(argv[4]), p.id, NULL)
           != AC_OK)
    {
        printf("refused setup\n");
        return 1;
    }

    f = fopen(argv[3], "rb");
    if (f == NULL) {
        ac_config_free(cfg);
        return 2;
    }

    n = fread(p.key, 1, AC_PARTNER_KEY_MAX, f);
    fclose(f);
    p.keylen = n;

    if (ac_partner_key_new(&p, &k, &err) != AC_OK) {
        printf("refused key %s\n", err.msg);
        ac_config_free(cfg);
        return 1;
    }

    rc = ac_assertion_verify(cfg, k, argv[4], strlen(argv[4]), time(NULL),
                             AC_ASSERTION_SSO, &a, &err);
    if (rc != AC_OK) {
        printf("refused %s\n", ac_assertion_reason_name(a.reason));

    } else {
        printf("ok %s %s %lld %lld\n", a.partner, a.email,
               (long long) a.iat, (long long) a.exp);
    }

    /* freed on every path: the sanitized run checks for leaks */
    ac_partner_key_free(k);
    ac_config_free(cfg);
    ac_done();

    return rc == AC_OK ? 0 : 1;
}
