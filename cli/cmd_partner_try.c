/*
 * guichetctl partner try ID --key-file PRIVATE.pem --email ADDRESS: signs
 * a sample SSO assertion as the partner would (libjwt; claims as SPEC 6)
 * and prints the sign-in URL, so that an operator can check a partner's
 * set-up end to end. The assertion is signed with the partner's
 * algorithm as stored, with the private key (or HS256 secret) given.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "guichetctl.h"


#define CTL_TRY_LIFETIME   120
#define CTL_TRY_KEY_MAX    16384
#define CTL_TRY_BASE       "http://127.0.0.1:8080"


static int ctl_try_read(const char *path, unsigned char *buf, size_t size,
    size_t *len);


int
ctl_cmd_partner_try(ctl_t *ctl)
{
    int               status;
    char              email[AC_EMAIL_MAX + 1], jti[AC_TOKEN_LEN + 1];
    char             *token;
    size_t            keylen;
    jwt_t            *jwt;
    int64_t           now;
    jwt_alg_t         alg;
    ac_partner_t     *p;
    unsigned char    *key;
    const char       *id, *base;
    const ctl_opt_t  *file, *addr, *url;

    id = ctl->args.pos[0];
    file = ctl_opt(ctl, "key-file");
    addr = ctl_opt(ctl, "email");
    url = ctl_opt(ctl, "base-url");

    if (file == NULL || addr == NULL || file->count > 1 || addr->count > 1
        || (url != NULL && url->count > 1))
    {
        return ctl_fail(CTL_EXIT_USAGE, "partner try needs one --key-file"
                        " and one --email");
    }

    if (ac_partner_id_check(id) != AC_OK) {
        return ctl_fail(CTL_EXIT_USAGE, "invalid partner id");
    }

    if (ctl_email_arg(addr->values[0], email) != CTL_EXIT_OK) {
        return CTL_EXIT_USAGE;
    }

    base = url != NULL ? url->values[0] : CTL_TRY_BASE;

    if ((strncmp(base, "https://", 8) != 0
         && strncmp(base, "http://", 7) != 0)
        || base[strlen(base) - 1] == '/' || strlen(base) > 512)
    {
        return ctl_fail(CTL_EXIT_USAGE, "--base-url is http(s)://HOST"
                        "[:PORT] without a final '/'");
    }

    status = CTL_EXIT_FAIL;
    jwt = NULL;
    token = NULL;
    keylen = 0;

    p = calloc(1, sizeof(ac_partner_t));
    key = malloc(CTL_TRY_KEY_MAX);

    if (p == NULL || key == NULL) {
        status = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    status = ctl_partner_get(ctl, id, p);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    alg = p->alg == AC_ALG_ES256 ? JWT_ALG_ES256
          : p->alg == AC_ALG_RS256 ? JWT_ALG_RS256 : JWT_ALG_HS256;

    status = ctl_try_read(file->values[0], key, CTL_TRY_KEY_MAX, &keylen);
    if (status != CTL_EXIT_OK) {
        goto done;
    }

    status = CTL_EXIT_FAIL;
    now = (int64_t) time(NULL);

    if (ac_token_new(jti) != AC_OK) {
        status = ctl_fail(CTL_EXIT_FAIL, "no random bytes");
        goto done;
    }

    if (jwt_new(&jwt) != 0
        || jwt_add_grant(jwt, "iss", p->id) != 0
        || jwt_add_grant(jwt, "aud", ctl->cfg->audience) != 0
        || jwt_add_grant(jwt, "email", email) != 0
        || jwt_add_grant_int(jwt, "iat", (long) now) != 0
        || jwt_add_grant_int(jwt, "exp", (long) (now + CTL_TRY_LIFETIME))
           != 0
        || jwt_add_grant(jwt, "jti", jti) != 0)
    {
        status = ctl_fail(CTL_EXIT_FAIL, "out of memory");
        goto done;
    }

    if (jwt_set_alg(jwt, alg, key, (int) keylen) != 0) {
        status = ctl_fail(CTL_EXIT_FAIL, "%s: not a %s key", file->values[0],
                          ac_alg_name(p->alg));
        goto done;
    }

    token = jwt_encode_str(jwt);
    if (token == NULL) {
        status = ctl_fail(CTL_EXIT_FAIL, "cannot sign with %s (a %s private"
                          " key is needed)", file->values[0],
                          ac_alg_name(p->alg));
        goto done;
    }

    if (ctl->json) {
        printf("{\"assertion\":\"%s\",\"url\":\"%s/guichet/sso?assertion=%s\""
               "}\n", token, base, token);

    } else {
        printf("assertion: %s\n%s/guichet/sso?assertion=%s\n", token, base,
               token);
    }

    status = CTL_EXIT_OK;

done:

    if (token != NULL) {
        ac_cleanse(token, strlen(token));
        free(token);
    }

    if (jwt != NULL) {
        jwt_free(jwt);
    }

    if (key != NULL) {
        ac_cleanse(key, CTL_TRY_KEY_MAX);
        free(key);
    }

    if (p != NULL) {
        ac_cleanse(p, sizeof(ac_partner_t));
        free(p);
    }

    return status;
}


static int
ctl_try_read(const char *path, unsigned char *buf, size_t size,
    size_t *len)
{
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return ctl_fail(CTL_EXIT_FAIL, "%s: %s", path, strerror(errno));
    }

    *len = fread(buf, 1, size, f);

    if (ferror(f) || *len == 0 || *len == size) {
        fclose(f);
        return ctl_fail(CTL_EXIT_FAIL, "%s: unreadable, empty or too large",
                        path);
    }

    fclose(f);

    /* a secret or PEM file usually ends with a newline: HS256 secrets
     * are taken as stored by "partner add", which keeps the bytes */
    return CTL_EXIT_OK;
}
