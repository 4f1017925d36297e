/*
 * Guichet nginx module: what the sign-in route files share (login,
 * second factor, logout and session): the route data and its helpers.
 */

#ifndef NGX_HTTP_GUICHET_LOGIN_H
#define NGX_HTTP_GUICHET_LOGIN_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_2FA_TRIES  5
#define NGX_HTTP_GUICHET_CODE_MAX   32


typedef struct {
    char                         password[AC_PASSWORD_MAX + 1];
    size_t                       password_len;
    char                         code[NGX_HTTP_GUICHET_CODE_MAX];
    size_t                       code_len;
    char                         return_to[AC_RETURN_TO_MAX + 1];
    ngx_uint_t                   all;
    char                         token[AC_TOKEN_LEN + 1];  /* pending */
    char                         phc[AC_PHC_MAX];          /* rehash */
    ac_throttle_t                throttle;
    ac_account_t                 account;
    const char                  *method;     /* "totp", "recovery" */
    int64_t                      tries;      /* of the pending state */
    char                         partner[AC_PARTNER_ID_MAX + 1];  /* SSO */
    ngx_uint_t                   link;       /* success links partner */
    unsigned                     second;     /* AC_AMR_OTP or _HWK */
    void                        *pk;         /* a passkey's answer */
} ngx_http_guichet_login_ctx_t;


/* the page of a CSRF token that does not hold */
extern const char  ngx_http_guichet_form_expired[];

/* the route data of this request, made on first use (NULL: no memory) */
ngx_http_guichet_login_ctx_t *ngx_http_guichet_login_data(
    ngx_http_request_t *r, ngx_http_guichet_ep_ctx_t *ctx);


/* ngx_http_guichet_2fa.c: the end of a second factor, right or wrong */
void ngx_http_guichet_2fa_success(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_2fa_failure(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);
/* the 2fa page of the pending state whose account is lc->account */
ngx_int_t ngx_http_guichet_2fa_page(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status, const char *error);

/*
 * ngx_http_guichet_2fa_passkey.c: a passkey as the second factor. _read
 * takes the browser's answer from the 2fa form (NGX_DECLINED: the form
 * holds none; NGX_ERROR: answered, 400 or 500); _check verifies it once
 * the pending state's try and the account's counter are taken, and ends
 * in _success or _failure.
 */
ngx_int_t ngx_http_guichet_2fa_passkey_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_2fa_passkey_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


#endif /* NGX_HTTP_GUICHET_LOGIN_H */
