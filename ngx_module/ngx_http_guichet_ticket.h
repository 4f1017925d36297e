/*
 * Guichet nginx module: the single-use tokens of mailed and partner links
 * (invitation, password reset, address change), one flow for the three:
 *
 * - the link's token (GET with "?token=") leaves the URL at once: it is
 *   traded for a fresh one kept in a cookie (or, for an invitation whose
 *   token the partner holds, moved to the cookie as it is), then 303 to
 *   the bare page;
 * - every later request reads the token from that cookie only;
 * - every try is counted on the token and on the client's address
 *   before the token is looked at (429 with the kind's message and a
 *   "throttled" entry when over), and a token that proves good gets its
 *   counters back;
 * - an unknown, used or expired token, or one of the wrong shape, gets
 *   the same 410 page, and its cookie is cleared.
 *
 * The route's data starts with an ngx_http_guichet_ticket_t, so that
 * these functions find it as ctx->route_data.
 */

#ifndef NGX_HTTP_GUICHET_TICKET_H
#define NGX_HTTP_GUICHET_TICKET_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_GONE  410   /* nginx has no name for it */


typedef struct {
    ngx_http_guichet_cookie_e  cookie;
    const char          *page;        /* the bare page the link leads to */
    time_t               cookie_age;  /* 0: reset_token_ttl */
    const char          *reason;      /* of a throttled try, in the log */
    const char          *too_many;    /* the 429's message */
    const char          *gone;        /* the 410's message */
    const char          *form;        /* the CSRF name of the page's form */
    const char          *expired;     /* the 403's, its token refused */

    /* the command that reads the token's record */
    int                (*lookup)(ac_cmd_t *cmd, const ac_config_t *cfg,
                                 const ac_keys_t *keys, const char *token,
                                 size_t len);
    /* the command that trades it for "fresh" (replies 1, 0 unknown);
     * NULL: the link's token moves to the cookie as it is, uncounted */
    int                (*exchange)(ac_cmd_t *cmd, const ac_config_t *cfg,
                                   const ac_keys_t *keys, const char *token,
                                   size_t len, const char *fresh);
} ngx_http_guichet_ticket_kind_t;


typedef struct {
    const ngx_http_guichet_ticket_kind_t  *kind;
    char                 token[AC_TOKEN_LEN + 2];
    size_t               token_len;
    char                 fresh[AC_TOKEN_LEN + 1];
    ngx_uint_t           from_cookie;
    ngx_uint_t           trading;     /* the link's token being traded */
    char                *secret;      /* wiped on every refusal */
    size_t               secret_size;
    ac_throttle_t        throttle;
    ac_cmd_t             cmd;
    ngx_http_guichet_redis_handler_pt  next;
} ngx_http_guichet_ticket_t;


/* GET with a query: the link itself; answers (303, 410 or 429) */
void ngx_http_guichet_ticket_link(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* the token of the kind's cookie, if any */
void ngx_http_guichet_ticket_cookie(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* a POST of the link's page: the token of the kind's cookie, then the
 * form's CSRF token checked against this browser's cookie; NGX_OK, or
 * NGX_DECLINED once answered 403 (in JSON for a JSON route) */
ngx_int_t ngx_http_guichet_ticket_form(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* counts the try, then sends the kind's lookup with "next" as handler */
void ngx_http_guichet_ticket_lookup(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx,
    ngx_http_guichet_redis_handler_pt next);
/* the token proved good: its counters go (not waited for) */
void ngx_http_guichet_ticket_release(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
/* the 410 page, the cookie cleared */
void ngx_http_guichet_ticket_gone(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);

#endif /* NGX_HTTP_GUICHET_TICKET_H */
