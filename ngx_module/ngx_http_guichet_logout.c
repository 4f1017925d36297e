/*
 * Guichet nginx module: logout (here or everywhere) and the session
 * JSON (GET /guichet/session).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_login.h"


static void ngx_http_guichet_logout_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_logout_done(ngx_http_request_t *r,
    void *data, redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static void ngx_http_guichet_json_words(ac_buf_t *b, const char *list,
    char sep);
static void ngx_http_guichet_session_got(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);


/* -------------------------------------------------------------- logout */

void
ngx_http_guichet_logout_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_SESSION)
        != NGX_OK)
    {
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    ngx_http_guichet_ep_page(ctx, NGX_HTTP_OK, "logout.html");

    if (ngx_http_guichet_ep_csrf_var(r, ctx, ctx->digest, "logout")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


void
ngx_http_guichet_logout_post(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    char                           all[4];
    ngx_http_guichet_login_ctx_t  *lc;

    lc = ngx_http_guichet_login_data(r, ctx);
    if (lc == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->event_session = ctx->digest;

    if (ngx_http_guichet_ep_digest(r, ctx, NGX_HTTP_GUICHET_COOKIE_SESSION)
        != NGX_OK)
    {
        /* no session to end: nothing a forged form could do */
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_csrf_check(r, ctx, ctx->digest, "logout")
        != NGX_OK)
    {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_FORBIDDEN, "Form expired",
                                  "This form has expired or was not sent "
                                  "by this site. Please try again.");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    if (ngx_http_guichet_ep_field(ctx, "all", all, sizeof(all), NULL)
        == NGX_OK
        && ngx_strcmp(all, "1") == 0)
    {
        lc->all = 1;
    }

    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_logout_session);
}


static void
ngx_http_guichet_logout_session(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    int                            arc;
    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (!ctx->session_found) {
        /* already over */
        if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    lc = ctx->route_data;

    if (lc->all) {
        arc = ac_cmd_sessions_end_all(&cmd, gmcf->ac, ctx->session.account);

    } else {
        arc = ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                    ctx->session.account);
    }

    if (arc != AC_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    (void) ngx_http_guichet_ep_redis(r, ctx, &cmd,
                                     ngx_http_guichet_logout_done);
}


static void
ngx_http_guichet_logout_done(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    ac_cmd_t                       cmd;
    ngx_http_guichet_login_ctx_t  *lc;
    ngx_http_guichet_main_conf_t  *gmcf;

    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return;
    }

    lc = ctx->route_data;

    if (lc->all) {
        /* the session in use may predate the index entry: end it too */
        gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

        if (ac_cmd_session_delete(&cmd, gmcf->ac, ctx->digest,
                                  ctx->session.account)
            == AC_OK)
        {
            ngx_http_guichet_ep_detached(r, &cmd);
        }
    }

    if (ngx_http_guichet_logout_answer(r, ctx) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_guichet_ep_log(r, ctx, AC_EV_LOGOUT, lc->all ? "all" : NULL,
                            1);
}


static ngx_int_t
ngx_http_guichet_logout_answer(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char                        *p;
    ngx_http_guichet_login_ctx_t  *lc = ctx->route_data;

    /* the login page then says "You have signed out" */
    p = ngx_http_guichet_ep_url(r, ctx, lc != NULL && lc->all
                                        ? "login?signed_out=all"
                                        : "login?signed_out=1");

    if (p == NULL
        || ngx_http_guichet_ep_set_cookie(ctx,
                                          NGX_HTTP_GUICHET_COOKIE_SESSION,
                                          "", 0)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_guichet_ep_redirect(ctx, (char *) p);

    return NGX_OK;
}


/* "user,security" as ["user","security"]: the lists of the session JSON */

static void
ngx_http_guichet_json_words(ac_buf_t *b, const char *list, char sep)
{
    ngx_uint_t   first;
    const char  *p, *end;

    ac_buf_str(b, "[");
    first = 1;

    for (p = list; *p; p = end) {
        end = strchr(p, sep);
        if (end == NULL) {
            end = p + strlen(p);
        }

        if (end > p) {
            ac_buf_str(b, first ? "" : ",");
            ac_buf_json_str(b, p, end - p);
            first = 0;
        }

        if (*end) {
            end++;
        }
    }

    ac_buf_str(b, "]");
}


/* ------------------------------------------------------------- session */

void
ngx_http_guichet_session_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_guichet_ep_current_session(r, ctx,
                                        ngx_http_guichet_session_got);
}


static void
ngx_http_guichet_session_got(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ac_buf_t      *b;
    const char    *amr;
    ac_session_t  *s;
    char           roles[AC_ROLES_MAX];

    if (!ctx->session_valid) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_UNAUTHORIZED,
                                       "unauthenticated",
                                       "no valid session");
        ngx_http_guichet_ep_finish(r, ctx);
        return;
    }

    s = &ctx->session;

    ac_roles_format(s->roles, roles);
    amr = ac_amr_name(s->amr);

    b = &ctx->json;

    ac_buf_str(b, "{\"user\":");
    ac_buf_json_str(b, s->account, ngx_strlen(s->account));
    ac_buf_str(b, ",\"email\":");
    ac_buf_json_str(b, s->email, ngx_strlen(s->email));
    ac_buf_str(b, ",\"roles\":");
    ngx_http_guichet_json_words(b, roles, ',');
    ac_buf_str(b, ",\"amr\":");
    ngx_http_guichet_json_words(b, amr, ' ');
    ac_buf_str(b, ",\"partner\":");

    if (s->partner[0]) {
        ac_buf_json_str(b, s->partner, ngx_strlen(s->partner));

    } else {
        ac_buf_str(b, "null");
    }

    ac_buf_printf(b, ",\"created_at\":%lld,\"expires_at\":%lld}\n",
                  (long long) s->created, (long long) s->expires);

    ngx_http_guichet_ep_json(ctx, NGX_HTTP_OK);
    ngx_http_guichet_ep_finish(r, ctx);
}
