/*
 * Guichet nginx module: what partner SSO (ngx_http_guichet_sso.c) and the
 * partner API (ngx_http_guichet_partner_api.c) share: the route data, and
 * the verification of a partner's token.
 */

#ifndef NGX_HTTP_GUICHET_SSO_H
#define NGX_HTTP_GUICHET_SSO_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


typedef struct {
    char                 id[AC_PARTNER_ID_MAX + 1];
    ac_partner_key_t    *key;
    ngx_uint_t           provision;
    ngx_uint_t           require_2fa;
    ngx_msec_t           fetched;
} ngx_http_guichet_partner_t;


typedef struct {
    ac_assertion_kind_t           kind;
    ngx_http_guichet_partner_t   *partner;       /* valid within a step */
    ngx_uint_t                    provision;
    ngx_uint_t                    require_2fa;
    char                          iss[AC_PARTNER_ID_MAX + 1];
    char                          return_to[AC_RETURN_TO_MAX + 1];
    char                          pending[AC_TOKEN_LEN + 1];
    ac_assertion_t                assertion;
    ac_account_t                  account;
    ngx_uint_t                    created;
    char                         *token;
    size_t                        token_len;
    char                        (*emails)[AC_EMAIL_MAX + 1];
    size_t                        nemails;
    size_t                        next_email;
    char                          scratch[AC_INVITE_MAX];
    ngx_http_guichet_ep_handler_pt  verified;
} ngx_http_guichet_sso_ctx_t;


/* the route data, wiped with the request */
ngx_http_guichet_sso_ctx_t *ngx_http_guichet_sso_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);
/* verifies sc->token (of sc->kind) against its partner's key, then calls
 * sc->verified with sc->assertion; every refusal is answered */
void ngx_http_guichet_sso_start(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* 400 for a token that is not an assertion, 401 else, logged */
void ngx_http_guichet_sso_fail(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_assertion_reason_t reason,
    const char *code);

#endif /* NGX_HTTP_GUICHET_SSO_H */
