/*
 * Guichet nginx module: a passkey ceremony for an account known in
 * advance (ngx_http_guichet_passkey_check.c), shared by the second factor
 * (2fa) and the identity check (account/reauth). The offer answers the
 * options of navigator.credentials.get: a single-use challenge of "kind"
 * bound to "binding", the account's passkeys allowed. The check reads
 * the browser's answer from the form, takes the challenge, finds the
 * passkey among the account's own, verifies the assertion with authcore
 * and stores its counter; then calls done with NULL, or with the reason
 * of the refusal (ac_wa_reason()) after having logged a clone.
 */

#ifndef NGX_HTTP_GUICHET_PASSKEY_H
#define NGX_HTTP_GUICHET_PASSKEY_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


typedef void (*ngx_http_guichet_pka_done_pt)(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *reason);


#define NGX_HTTP_GUICHET_PKA_B64_MAX  2048

/* the browser's answer to navigator.credentials.get, as the form sends
 * it (base64url), and what is read out of it before any Redis read */
typedef struct {
    unsigned char                challenge[AC_WA_CHALLENGE_LEN];
    unsigned char                id[AC_WA_ID_MAX];
    size_t                       id_len;
    char                         handle[AC_DIGEST_LEN + 1];
    char                         cred_b64[AC_WA_ID_B64_MAX + 1];
    size_t                       cred_len;
    char                         ad[NGX_HTTP_GUICHET_PKA_B64_MAX + 1];
    size_t                       ad_len;
    char                         cdj[NGX_HTTP_GUICHET_PKA_B64_MAX + 1];
    size_t                       cdj_len;
    char                         sig[NGX_HTTP_GUICHET_PKA_B64_MAX + 1];
    size_t                       sig_len;
} ngx_http_guichet_pka_answer_t;


/* NGX_DECLINED: the form holds no answer (no clientDataJSON); NGX_OK:
 * read and decoded; NGX_ERROR: answered 400, logged passkey.failure
 * "malformed" */
ngx_int_t ngx_http_guichet_pka_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_http_guichet_pka_answer_t *a);


/* list: an HGETALL of the account's passkeys (ac_cmd_passkey_list());
 * answers 404 JSON when there is none */
void ngx_http_guichet_pka_offer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const struct redisReply *list,
    const char *kind, const char *binding, ngx_uint_t require_uv);

/* NGX_DECLINED: the form holds no passkey answer (nothing answered);
 * NGX_OK: read into ctx->passkey; NGX_ERROR: answered (400 or 500) */
ngx_int_t ngx_http_guichet_pka_read(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

/* after pka_read(), once the tries are counted */
void ngx_http_guichet_pka_check(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *kind, const char *binding,
    const char *account, ngx_uint_t require_uv,
    ngx_http_guichet_pka_done_pt done);


#endif /* NGX_HTTP_GUICHET_PASSKEY_H */
