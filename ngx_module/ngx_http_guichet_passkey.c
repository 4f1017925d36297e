/*
 * Guichet nginx module: passkeys at sign-in (SPEC 11): the pages' script.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"


/* ------------------------------------------------------------- script */

void
ngx_http_guichet_passkey_js(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "passkey.js");
    ngx_http_guichet_ep_finish(r, ctx);
}
