/*
 * Guichet nginx module: what the account route files share (see
 * ngx_http_guichet_account.c): the route data and its helpers.
 */

#ifndef NGX_HTTP_GUICHET_ACCOUNT_H
#define NGX_HTTP_GUICHET_ACCOUNT_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_ACCT_SESSIONS  64   /* listed at most */
#define NGX_HTTP_GUICHET_ENROL_TTL      600  /* seconds */
#define NGX_HTTP_GUICHET_CODE_MAX       32
#define NGX_HTTP_GUICHET_PENDING_MAX    (NGX_INT64_LEN + 1                  \
                                         + AC_SEALED_LEN(AC_TOTP_SECRET_LEN))


/* what a throttled proof is: its counters, its page, its log reason */
#define NGX_HTTP_GUICHET_PROOF_PASSWORD  0   /* password change */
#define NGX_HTTP_GUICHET_PROOF_REAUTH    1   /* password (+ code) */
#define NGX_HTTP_GUICHET_PROOF_ENROL     2   /* a new TOTP's first code */


typedef struct {
    char                         digest[AC_DIGEST_LEN + 1];
    char                         handle[AC_DIGEST_LEN + 1];
    char                         device[AC_DEVICE_MAX + 1];
    char                         ip[AC_IP_MAX];
    int64_t                      created;
    int64_t                      last_seen;
} ngx_http_guichet_acct_session_t;


typedef struct {
    ngx_http_guichet_ep_handler_pt   next;        /* after a sequence */

    ac_account_t                     account;
    int64_t                          fresh;       /* "f", 0: never */
    char                             pending[NGX_HTTP_GUICHET_PENDING_MAX];
    int64_t                          recovery_left;
    ngx_http_guichet_acct_session_t *sessions;
    ngx_uint_t                       nsessions;

    unsigned char                    secret[AC_TOTP_SECRET_LEN];
    char                             secret_b32[AC_BASE32_LEN(
                                                 AC_TOTP_SECRET_LEN) + 1];
    char                             shown[AC_BASE32_LEN(
                                            AC_TOTP_SECRET_LEN) * 5 / 4 + 1];
    char                             sealed[AC_SEALED_LEN(
                                             AC_TOTP_SECRET_LEN) + 1];
    int64_t                          step;
    char                             codes[AC_RECOVERY_COUNT]
                                          [AC_RECOVERY_CODE_LEN + 1];
    char                             rdigests[AC_RECOVERY_COUNT]
                                             [AC_DIGEST_LEN + 1];
    char                             password[AC_PASSWORD_MAX + 1];
    size_t                           password_len;
    char                             new_password[AC_PASSWORD_MAX + 1];
    size_t                           new_password_len;
    char                             phc[AC_PHC_MAX];
    ngx_uint_t                       reauth;      /* NGX_HTTP_GUICHET_PROOF_* */
    ac_throttle_t                    throttle;
    const char                      *notice;
    char                             code[NGX_HTTP_GUICHET_CODE_MAX];
    size_t                           code_len;
    char                             return_to[AC_RETURN_TO_MAX + 1];
    char                             csrf[AC_CSRF_TOKEN_MAX + 1];
    char                             csrf_logout[AC_CSRF_TOKEN_MAX + 1];
    char                             num[NGX_INT64_LEN + 1];
    char                             last_login[32];
    ngx_uint_t                       download;    /* start the export */
    void                            *ext;         /* a route file's own */

    ac_cmd_t                         cmds[AC_EXPORT_NCMDS];
    redisReply                      *replies[AC_EXPORT_NCMDS];
    ngx_uint_t                       nreplies;
    ngx_uint_t                       ncmds;       /* a sequence of cmds */
} ngx_http_guichet_acct_t;


/* ngx_http_guichet_account.c: the routes flagged
 * NGX_HTTP_GUICHET_EP_SESSION start here: the session and the account
 * are read, the route's flags applied, then its handler is called with
 * the account in ctx->route_data */
void ngx_http_guichet_acct_begin(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* answers: the recovery codes page, back to the account page */
void ngx_http_guichet_acct_codes(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_acct_t *a,
    const char *notice);
void ngx_http_guichet_acct_back(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *notice);
void ngx_http_guichet_back_logged(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
void ngx_http_guichet_acct_reply_done(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
/* sends a->cmds[0..n-1] one after the other, then calls next */
void ngx_http_guichet_acct_seq(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t n,
    ngx_http_guichet_ep_handler_pt next);
/* the session's own fields; a privilege change moves it to a new id */
ngx_int_t ngx_http_guichet_sess_set(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *field, const char *value,
    ngx_http_guichet_redis_handler_pt handler);
ngx_int_t ngx_http_guichet_sess_rotate_cmd(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_cmd_t *cmd, const char *field,
    const char *value);

/* ngx_http_guichet_account_proof.c: a->reauth says which proof; its
 * counters are reserved before "next" checks it, and a success calls
 * acct_proved() */
void ngx_http_guichet_acct_throttle(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_ep_handler_pt next);
void ngx_http_guichet_acct_proved(ngx_http_request_t *r,
    ngx_http_guichet_acct_t *a);

#endif /* NGX_HTTP_GUICHET_ACCOUNT_H */
