/*
 * Guichet nginx module: messages queued by routes that are not about
 * mail themselves (SPEC 10): the invitation of the partner API, and the
 * notice of a sign-in from a new device or address. Each is one command
 * appended to Redis without waiting (the mail worker of guichetctl
 * delivers it); nothing here talks SMTP.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_endpoints.h"


/* public_url + base + route [+ "?token=" token] into out */
static ngx_int_t
ngx_http_guichet_mail_url(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *route, const char *token,
    char *out, size_t size)
{
    u_char                        *p;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    p = ngx_snprintf((u_char *) out, size - 1, "%s%V%s%s%s",
                     gmcf->ac->public_url, &ctx->base, route,
                     token ? "?token=" : "", token ? token : "");
    *p = '\0';

    return ((size_t) (p - (u_char *) out) < size - 1) ? NGX_OK : NGX_ERROR;
}


void
ngx_http_guichet_mail_invitation(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *partner, const char *email,
    int64_t since)
{
    ac_cmd_t                       cmd;
    ac_mail_t                      m;
    char                           token[AC_TOKEN_LEN + 1];
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url == NULL || !gmcf->ac->invitation_mail) {
        return;
    }

    ngx_memzero(&m, sizeof(ac_mail_t));
    m.kind = AC_MAIL_INVITATION;
    m.when = since;
    m.expires = since + AC_REGTOK_TTL;
    ngx_cpystrn((u_char *) m.to, (u_char *) email, sizeof(m.to));
    ngx_cpystrn((u_char *) m.partner, (u_char *) partner, sizeof(m.partner));

    if (ac_regtok_derive(gmcf->keys, partner, email, since, token) != AC_OK
        || ngx_http_guichet_mail_url(r, ctx, "register", token, m.link,
                                     sizeof(m.link))
           != NGX_OK
        || ac_cmd_mail_enqueue(&cmd, gmcf->ac, &m) != AC_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: invitation mail not queued");

    } else {
        ngx_http_guichet_ep_detached(r, &cmd);
    }

    ac_cleanse(token, sizeof(token));
    ac_cleanse(m.link, sizeof(m.link));
}


void
ngx_http_guichet_mail_seen(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const ac_session_t *s)
{
    ac_cmd_t                       cmd;
    ac_mail_t                      m;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url == NULL
        || !(gmcf->ac->notify & AC_NOTIFY_NEW_DEVICE))
    {
        return;
    }

    ngx_memzero(&m, sizeof(ac_mail_t));
    m.kind = AC_MAIL_NEW_DEVICE;
    m.when = ctx->now;
    ngx_cpystrn((u_char *) m.ip, (u_char *) s->ip, sizeof(m.ip));

    if (r->headers_in.user_agent) {
        (void) ac_device_label((char *) r->headers_in.user_agent->value.data,
                               r->headers_in.user_agent->value.len,
                               m.device, sizeof(m.device));
    } else {
        (void) ac_device_label("", 0, m.device, sizeof(m.device));
    }

    if (ngx_http_guichet_mail_url(r, ctx, "account", NULL, m.link,
                                  sizeof(m.link))
        != NGX_OK
        || ngx_http_guichet_mail_url(r, ctx, "reset", NULL, m.help,
                                     sizeof(m.help))
           != NGX_OK
        || ac_cmd_seen_device(&cmd, gmcf->ac, gmcf->keys, s->account, s->ip,
                              m.device, ctx->now, 1, &m)
           != AC_OK)
    {
        return;
    }

    ngx_http_guichet_ep_detached(r, &cmd);
}


/* which "notify" bit sends a notice of this kind */
static unsigned
ngx_http_guichet_mail_bit(ac_mail_kind_t kind)
{
    switch (kind) {
    case AC_MAIL_PASSWORD:
        return AC_NOTIFY_PASSWORD;
    case AC_MAIL_SECOND_FACTOR:
        return AC_NOTIFY_SECOND_FACTOR;
    case AC_MAIL_EMAIL_CHANGE:
        return AC_NOTIFY_EMAIL;
    case AC_MAIL_ERASED:
        return AC_NOTIFY_ERASURE;
    default:
        return 0;
    }
}


ngx_int_t
ngx_http_guichet_mail_fill(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_t *m, ac_mail_kind_t kind)
{
    size_t  len;

    ngx_memzero(m, sizeof(ac_mail_t));
    m->kind = kind;
    m->when = ctx->now;

    len = ngx_min(r->connection->addr_text.len, sizeof(m->ip) - 1);
    ngx_memcpy(m->ip, r->connection->addr_text.data, len);

    if (r->headers_in.user_agent) {
        (void) ac_device_label((char *) r->headers_in.user_agent->value.data,
                               r->headers_in.user_agent->value.len,
                               m->device, sizeof(m->device));
    } else {
        (void) ac_device_label("", 0, m->device, sizeof(m->device));
    }

    if (kind == AC_MAIL_ERASED) {
        /* nothing to sign in to any more */
        return NGX_OK;
    }

    if (ngx_http_guichet_mail_url(r, ctx, "account", NULL, m->link,
                                  sizeof(m->link))
        != NGX_OK
        || ngx_http_guichet_mail_url(r, ctx, "reset", NULL, m->help,
                                     sizeof(m->help))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_guichet_mail_notice(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_mail_kind_t kind, const char *to,
    const char *account, const char *detail)
{
    ac_cmd_t                       cmd;
    ac_mail_t                      m;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->ac->public_url == NULL
        || !(gmcf->ac->notify & ngx_http_guichet_mail_bit(kind)))
    {
        return;
    }

    if (ngx_http_guichet_mail_fill(r, ctx, &m, kind) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: notice not queued: link too long");
        return;
    }

    ngx_cpystrn((u_char *) m.to, (u_char *) to, sizeof(m.to));

    /* an erased account's notice names no account: nothing links it */
    if (account != NULL && kind != AC_MAIL_ERASED) {
        ngx_cpystrn((u_char *) m.account, (u_char *) account,
                    sizeof(m.account));
    }

    if (detail != NULL) {
        ngx_cpystrn((u_char *) m.detail, (u_char *) detail,
                    sizeof(m.detail));
    }

    if (ac_cmd_mail_enqueue(&cmd, gmcf->ac, &m) != AC_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: notice not queued");
        ac_cleanse(&m, sizeof(m));
        return;
    }

    ngx_http_guichet_ep_detached(r, &cmd);
    ac_cleanse(&m, sizeof(m));
}
