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
