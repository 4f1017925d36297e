/*
 * authcore: guichet.conf's passkey keys (SPEC 11). webauthn_rp_id is the
 * WebAuthn relying party id, a host name such as "example.org" (unset:
 * passkeys are off); webauthn_origins lists the origins whose pages may
 * run a ceremony for it, each on that host or below it (default:
 * "https://" + webauthn_rp_id).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_read.h"


static int ac_wa_conf_origins(ac_config_t *cfg, const char *value,
    char *reason, size_t reason_size);
static int ac_wa_conf_add(ac_config_t *cfg, const char *origin);


int
ac_conf_set_webauthn(ac_conf_ctx_t *ctx, const ac_conf_key_t *k,
    const char *value)
{
    int   rc;
    char  reason[AC_ERRMSG_MAX];

    reason[0] = '\0';

    rc = ac_wa_conf_set(ctx->cfg, k->name, value, reason, sizeof(reason));
    if (rc == AC_ERR_CONFIG) {
        return ac_conf_fail(ctx, "%s: %s", k->name, reason);
    }

    if (rc != AC_OK) {
        ac_error_set(ctx->err, rc, "%s: out of memory", ctx->file);
    }

    return rc;
}


int
ac_wa_conf_set(ac_config_t *cfg, const char *key, const char *value,
    char *reason, size_t reason_size)
{
    size_t       i, len;
    const char  *p;

    if (strcmp(key, "webauthn_origins") == 0) {
        return ac_wa_conf_origins(cfg, value, reason, reason_size);
    }

    if (strcmp(key, "webauthn_rp_id") != 0) {
        snprintf(reason, reason_size, "unknown key");
        return AC_ERR_CONFIG;
    }

    /* a host name: labels of letters, digits and '-', lower-case */
    len = strlen(value);
    if (len == 0 || len > 253 || value[0] == '.' || value[len - 1] == '.') {
        snprintf(reason, reason_size, "not a host name");
        return AC_ERR_CONFIG;
    }

    for (p = value, i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '-' || (p[i] == '.' && p[i + 1] != '.')))
        {
            snprintf(reason, reason_size,
                     "not a lower-case host name (no scheme, no port)");
            return AC_ERR_CONFIG;
        }
    }

    free(cfg->webauthn_rp_id);
    cfg->webauthn_rp_id = strdup(value);

    return cfg->webauthn_rp_id != NULL ? AC_OK : AC_ERR_NOMEM;
}


int
ac_wa_conf_check(ac_config_t *cfg, char *reason, size_t reason_size)
{
    int           rc;
    size_t        i, hl, rl;
    ac_origin_t   o;
    char          origin[AC_ORIGIN_MAX];

    if (cfg->webauthn_rp_id == NULL) {
        if (cfg->nwebauthn_origins > 0) {
            snprintf(reason, reason_size,
                     "webauthn_origins: webauthn_rp_id is required");
            return AC_ERR_CONFIG;
        }

        return AC_OK;
    }

    if (cfg->nwebauthn_origins == 0) {
        snprintf(origin, sizeof(origin), "https://%s", cfg->webauthn_rp_id);
        rc = ac_wa_conf_add(cfg, origin);
        if (rc != AC_OK) {
            return rc;
        }
    }

    /* WebAuthn 5.1.4: the RP ID is the origin's host or a suffix of it */
    rl = strlen(cfg->webauthn_rp_id);

    for (i = 0; i < cfg->nwebauthn_origins; i++) {
        const char  *s = cfg->webauthn_origins[i];

        if (ac_origin_parse(s, strlen(s), &o) != AC_OK) {
            snprintf(reason, reason_size, "webauthn_origins: \"%s\"", s);
            return AC_ERR_CONFIG;
        }

        hl = strlen(o.host);

        if (!(hl == rl && strcmp(o.host, cfg->webauthn_rp_id) == 0)
            && !(hl > rl + 1 && o.host[hl - rl - 1] == '.'
                 && strcmp(o.host + hl - rl, cfg->webauthn_rp_id) == 0))
        {
            snprintf(reason, reason_size, "webauthn_origins: \"%s\" is not "
                     "on webauthn_rp_id \"%s\" or below it", s,
                     cfg->webauthn_rp_id);
            return AC_ERR_CONFIG;
        }
    }

    return AC_OK;
}


void
ac_wa_conf_free(ac_config_t *cfg)
{
    size_t  i;

    for (i = 0; i < cfg->nwebauthn_origins; i++) {
        free(cfg->webauthn_origins[i]);
    }

    free(cfg->webauthn_origins);
    free(cfg->webauthn_rp_id);
    cfg->webauthn_origins = NULL;
    cfg->nwebauthn_origins = 0;
    cfg->webauthn_rp_id = NULL;
}


static int
ac_wa_conf_origins(ac_config_t *cfg, const char *value, char *reason,
    size_t reason_size)
{
    int          rc;
    size_t       len;
    const char  *p;
    char         origin[AC_ORIGIN_MAX];

    for (p = value; *p; p += len) {
        p += strspn(p, " \t,");
        len = strcspn(p, " \t,");
        if (len == 0) {
            continue;
        }

        if (ac_origin_normalize(p, len, origin) != AC_OK) {
            snprintf(reason, reason_size, "\"%.*s\" is not an origin like "
                     "https://host[:port]", (int) (len > 100 ? 100 : len),
                     p);
            return AC_ERR_CONFIG;
        }

        rc = ac_wa_conf_add(cfg, origin);
        if (rc != AC_OK) {
            return rc;
        }
    }

    if (cfg->nwebauthn_origins == 0) {
        snprintf(reason, reason_size, "missing value");
        return AC_ERR_CONFIG;
    }

    return AC_OK;
}


static int
ac_wa_conf_add(ac_config_t *cfg, const char *origin)
{
    size_t   i;
    char   **list, *s;

    for (i = 0; i < cfg->nwebauthn_origins; i++) {
        if (strcmp(cfg->webauthn_origins[i], origin) == 0) {
            return AC_OK;
        }
    }

    list = realloc(cfg->webauthn_origins,
                   (cfg->nwebauthn_origins + 1) * sizeof(char *));
    if (list == NULL) {
        return AC_ERR_NOMEM;
    }

    cfg->webauthn_origins = list;

    s = strdup(origin);
    if (s == NULL) {
        return AC_ERR_NOMEM;
    }

    list[cfg->nwebauthn_origins++] = s;

    return AC_OK;
}
