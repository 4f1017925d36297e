/*
 * Guichet nginx module: the one page renderer. The templates (their
 * files, content types and variables) are read and checked when nginx
 * reads its configuration; every answer of the endpoints -- a page, a
 * JSON body, a redirect -- is built here and sent with the security
 * headers, the cookies set by the route and Retry-After when throttled.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_endpoints.h"


#define NGX_HTTP_GUICHET_TEMPLATE_MAX  (1024 * 1024)


#define NGX_HTTP_GUICHET_VARS(...)  ((const char *[]) { __VA_ARGS__, NULL })


typedef struct {
    const char                  *file;
    const char                  *content_type;
    /* NULL-terminated; NULL: served as is */
    const char                 **vars;
} ngx_http_guichet_template_t;


static ngx_int_t ngx_http_guichet_ep_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_buf_t *out);
static ngx_int_t ngx_http_guichet_ep_header(ngx_http_request_t *r,
    const char *name, u_char *value, size_t len);
static ngx_int_t ngx_http_guichet_ep_wait(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_template_load(ngx_conf_t *cf,
    ngx_str_t *dir, ngx_http_guichet_template_t *t, ngx_str_t *out);


/*
 * The templates, one line each: the file under "guichet_templates", its
 * content type, and the variables it may use ("base" always is one).
 * Every template is read and checked when nginx reads its configuration.
 */

static ngx_http_guichet_template_t  ngx_http_guichet_templates[] = {

    { "error.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "title", "message", "status") },

    { "login.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "notice", "csrf", "return_to",
          "email") },

    { "2fa.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "return_to", "passkey",
          "code") },

    { "logout.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "csrf") },

    { "account.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "email", "notice", "totp", "recovery_left",
          "csrf", "csrf_logout", "last_login", "download", "device", "ip",
          "when", "current", "handle", "agent", "others", "passkeys") },

    { "totp.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "email", "secret") },

    { "recovery.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "notice", "code") },

    { "reauth.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "why", "csrf", "return_to",
          "email", "totp", "passkey", "code") },

    { "goodbye.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base") },

    { "register.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "token", "email") },

    { "link.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "partner", "email") },

    { "reset.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "email", "sent",
          "done") },

    { "email_confirm.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "csrf", "email") },

    { "reset_confirm.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "error", "csrf", "email", "totp",
          "passkey", "code") },

    { "passkeys.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "email", "notice", "csrf", "csrf_logout",
          "none", "enabled", "full", "name", "alg", "created", "used",
          "handle", "synced") },

    /* the security team's page: rendered part by part, the parts chosen
     * by the names "head", "row", "foot"... set to "1" */
    { "admin_logs.html", "text/html; charset=utf-8",
      NGX_HTTP_GUICHET_VARS("base", "head", "user", "account", "email", "ip",
          "event", "result", "partner", "since", "until", "error",
          "scanned", "scan_max", "events", "no_anomaly", "anomaly_head",
          "anomaly", "rule", "subject", "count", "first", "last",
          "details", "anomaly_foot", "entries_head", "row", "id", "time",
          "reason", "session", "ua", "foot", "none", "rows", "newer",
          "older", "query", "filters", "result_ok", "result_fail",
          "chart_range", "chart_foot", "chart_read") },

    { "guichet.css", "text/css", NULL },

    { "guichet.js", "text/javascript; charset=utf-8", NULL },

    { "passkey.js", "text/javascript; charset=utf-8", NULL },

    { "favicon.svg", "image/svg+xml", NULL },

    { NULL, NULL, NULL }
};


/* ------------------------------------------------------------- answers */

void
ngx_http_guichet_ep_page(ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status,
    const char *name)
{
    ngx_uint_t  i;

    ctx->status = status;
    ctx->answer = NGX_HTTP_GUICHET_ANSWER_PAGE;
    ctx->nvars = 0;
    ctx->vars_overflow = 0;

    for (i = 0; ngx_http_guichet_templates[i].file; i++) {
        if (ngx_strcmp(ngx_http_guichet_templates[i].file, name) == 0) {
            ctx->page = i;
            return;
        }
    }

    /* a route's bug: refused at rendering */
    ctx->page = i;
}


void
ngx_http_guichet_ep_var(ngx_http_guichet_ep_ctx_t *ctx, const char *name,
    const char *value)
{
    ngx_uint_t  i;

    for (i = 0; i < ctx->nvars; i++) {
        if (ngx_strcmp(ctx->vars[i].name, name) == 0) {
            break;
        }
    }

    if (i == NGX_HTTP_GUICHET_TVARS) {
        ctx->vars_overflow = 1;
        return;
    }

    ctx->vars[i].name = name;
    ctx->vars[i].value = value;
    ctx->vars[i].len = value ? ngx_strlen(value) : 0;

    if (i == ctx->nvars) {
        ctx->nvars++;
    }
}


void
ngx_http_guichet_ep_error(ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status,
    const char *title, const char *message)
{
    ngx_http_guichet_ep_page(ctx, status, "error.html");

    *ngx_sprintf(ctx->status_text, "%ui", status) = '\0';

    ngx_http_guichet_ep_var(ctx, "title", title);
    ngx_http_guichet_ep_var(ctx, "message", message);
    ngx_http_guichet_ep_var(ctx, "status", (char *) ctx->status_text);
}


void
ngx_http_guichet_ep_json(ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status)
{
    ctx->status = status;
    ctx->answer = NGX_HTTP_GUICHET_ANSWER_JSON;
}


void
ngx_http_guichet_ep_body(ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t status,
    const char *content_type)
{
    ctx->status = status;
    ctx->answer = NGX_HTTP_GUICHET_ANSWER_BODY;
    ctx->content_type = content_type;
}


/* ------------------------------------------- templates a route renders */

static ngx_int_t
ngx_http_guichet_tpl_make(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_uint_t page,
    ngx_http_guichet_tpl_t *t)
{
    ngx_uint_t                     n;
    const char                   **names;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);
    names = ngx_http_guichet_templates[page].vars;

    for (n = 0; names && names[n]; n++) {
        /* void */
    }

    t->text = ((ngx_str_t *) gmcf->pages)[page];
    t->nvars = n;
    t->vars = ngx_palloc(r->pool, (n + 1) * sizeof(ac_tvar_t));
    if (t->vars == NULL) {
        return NGX_ERROR;
    }

    for (n = 0; n < t->nvars; n++) {
        t->vars[n].name = names[n];
    }

    ngx_http_guichet_tpl_clear(t);
    ngx_http_guichet_tpl_set(t, "base", (char *) ctx->base.data,
                             ctx->base.len);

    return NGX_OK;
}


ngx_int_t
ngx_http_guichet_tpl_get(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *name,
    ngx_http_guichet_tpl_t *t)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_guichet_templates[i].file; i++) {
        if (ngx_strcmp(ngx_http_guichet_templates[i].file, name) == 0) {
            return ngx_http_guichet_tpl_make(r, ctx, i, t);
        }
    }

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "guichet: no template \"%s\"", name);

    return NGX_ERROR;
}


void
ngx_http_guichet_tpl_clear(ngx_http_guichet_tpl_t *t)
{
    ngx_uint_t  i;

    for (i = 0; i < t->nvars; i++) {
        if (ngx_strcmp(t->vars[i].name, "base") != 0) {
            t->vars[i].value = NULL;
            t->vars[i].len = 0;
        }
    }
}


void
ngx_http_guichet_tpl_set(ngx_http_guichet_tpl_t *t, const char *name,
    const char *value, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < t->nvars; i++) {
        if (ngx_strcmp(t->vars[i].name, name) == 0) {
            t->vars[i].value = value;
            t->vars[i].len = value ? len : 0;
            return;
        }
    }
}


void
ngx_http_guichet_tpl_str(ngx_http_guichet_tpl_t *t, const char *name,
    const char *value)
{
    ngx_http_guichet_tpl_set(t, name, value, value ? ngx_strlen(value) : 0);
}


ngx_int_t
ngx_http_guichet_tpl_render(ngx_http_guichet_tpl_t *t, ac_buf_t *out)
{
    return ac_template_render((char *) t->text.data, t->text.len, t->vars,
                              t->nvars, out)
           == AC_OK ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_guichet_tpl_rows(ngx_http_guichet_tpl_t *t, const char *marker,
    ngx_int_t (*row)(void *data, ngx_uint_t i, ngx_http_guichet_tpl_t *t),
    void *data, ngx_uint_t n, ac_buf_t *out)
{
    u_char      *open, *close, *end, *text;
    size_t       olen, clen;
    ngx_uint_t   i;
    u_char       om[64], cm[64];

    text = t->text.data;
    end = text + t->text.len;

    olen = ngx_snprintf(om, sizeof(om), "<!-- %s -->\n", marker) - om;
    clen = ngx_snprintf(cm, sizeof(cm), "<!-- /%s -->\n", marker) - cm;

    open = ngx_strlcasestrn(text, end, om, olen - 1);
    close = open ? ngx_strlcasestrn(open, end, cm, clen - 1) : NULL;
    if (open == NULL || close == NULL) {
        return NGX_ERROR;
    }

    if (ac_template_render((char *) text, open - text, t->vars, t->nvars,
                           out)
        != AC_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (row(data, i, t) != NGX_OK
            || ac_template_render((char *) open + olen, close - open - olen,
                                  t->vars, t->nvars, out)
               != AC_OK)
        {
            return NGX_ERROR;
        }
    }

    return ac_template_render((char *) close + clen, end - close - clen,
                              t->vars, t->nvars, out)
           == AC_OK ? NGX_OK : NGX_ERROR;
}


void
ngx_http_guichet_ep_json_error(ngx_http_guichet_ep_ctx_t *ctx,
    ngx_uint_t status, const char *code, const char *message)
{
    ac_buf_t  *b;

    b = &ctx->json;

    ac_buf_reset(b);
    ac_buf_str(b, "{\"error\":");
    ac_buf_json_str(b, code, ngx_strlen(code));
    ac_buf_str(b, ",\"message\":");
    ac_buf_json_str(b, message, ngx_strlen(message));
    ac_buf_str(b, "}\n");

    ngx_http_guichet_ep_json(ctx, status);
}


void
ngx_http_guichet_ep_redirect(ngx_http_guichet_ep_ctx_t *ctx,
    const char *location)
{
    ctx->status = NGX_HTTP_SEE_OTHER;
    ctx->answer = NGX_HTTP_GUICHET_ANSWER_NONE;
    ctx->location = location;
}


ngx_int_t
ngx_http_guichet_ep_redirect_return_to(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, const char *value, size_t len)
{
    char                          *to;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    to = ngx_pnalloc(r->pool, AC_RETURN_TO_MAX + 1);
    if (to == NULL) {
        return NGX_ERROR;
    }

    (void) ac_return_to(gmcf->ac, value, len, to, AC_RETURN_TO_MAX + 1);

    ngx_http_guichet_ep_redirect(ctx, to);

    return NGX_OK;
}


void
ngx_http_guichet_ep_finish(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    ngx_http_finalize_request(r, ngx_http_guichet_ep_send(r, ctx));
}


void
ngx_http_guichet_ep_hash_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ngx_int_t rc)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "guichet: password hashing %s, answering 503",
                  rc == NGX_DECLINED ? "queue is full" : "failed to start");

    ngx_http_guichet_ep_unavailable(r, ctx);
}


ngx_int_t
ngx_http_guichet_ep_wait_reply(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, redisReply *reply, ngx_int_t rc,
    int64_t *wait)
{
    if (ngx_http_guichet_ep_reply(r, ctx, reply, rc) != NGX_OK) {
        return NGX_DONE;
    }

    if (ac_throttle_parse(reply, wait) != AC_OK) {
        ngx_http_guichet_ep_unavailable(r, ctx);
        return NGX_DONE;
    }

    return NGX_OK;
}


static void
ngx_http_guichet_ep_hashed(ngx_http_request_t *r, void *data, int rc)
{
    ngx_http_guichet_ep_ctx_t *ctx = data;

    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "guichet: password hashing failed: %s",
                      ac_strerror(rc));
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->hashed(r, ctx);
}


void
ngx_http_guichet_ep_hash(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, char *pw, size_t size, size_t len,
    char *phc, ngx_http_guichet_ep_handler_pt next)
{
    ngx_int_t  rc;

    ctx->hashed = next;

    rc = ngx_http_guichet_password_hash(r, (u_char *) pw, len, phc,
                                        ngx_http_guichet_ep_hashed, ctx);
    ac_cleanse(pw, size);

    if (rc != NGX_OK) {
        ngx_http_guichet_ep_hash_unavailable(r, ctx, rc);
    }
}


void
ngx_http_guichet_ep_unavailable(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    /* nothing half-done may reach the browser: no cookie, no redirect */
    ctx->ncookies = 0;
    ctx->location = NULL;
    ctx->retry_after = 0;

    if (ctx->route->flags & NGX_HTTP_GUICHET_EP_JSON) {
        ngx_http_guichet_ep_json_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "unavailable",
                                       "the service is unavailable, try "
                                       "again later");

    } else {
        ngx_http_guichet_ep_error(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                  "Service unavailable",
                                  "The service is unavailable. Please try "
                                  "again in a moment.");
    }

    ngx_http_guichet_ep_finish(r, ctx);
}


ngx_int_t
ngx_http_guichet_ep_send(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    size_t                         i;
    u_char                        *p;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ac_buf_t                       page;
    ngx_chain_t                    out;

    ac_buf_init(&page);

    if (ngx_http_guichet_ep_render(r, ctx, &page) != NGX_OK) {
        ac_buf_free(&page);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ac_buf_free(&page);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (page.len) {
        p = ngx_pnalloc(r->pool, page.len);
        if (p == NULL) {
            ac_buf_free(&page);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, page.data, page.len);
        b->pos = p;
        b->last = p + page.len;
        b->memory = 1;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ac_buf_free(&page);

    if (ngx_http_guichet_security_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ctx->ncookies; i++) {
        if (ngx_http_guichet_ep_header(r, "Set-Cookie",
                                       (u_char *) ctx->set_cookie[i],
                                       ngx_strlen(ctx->set_cookie[i]))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* kept relative: nginx would make r->headers_out.location absolute */
    if (ctx->location
        && ngx_http_guichet_ep_header(r, "Location",
                                      (u_char *) ctx->location,
                                      ngx_strlen(ctx->location))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->retry_after > 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_guichet_ep_header(r, "Retry-After", p,
                                       ngx_sprintf(p, "%L", ctx->retry_after)
                                       - p)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    r->headers_out.status = ctx->status;
    r->headers_out.content_length_n = b->last - b->pos;

    switch (ctx->answer) {

    case NGX_HTTP_GUICHET_ANSWER_JSON:
        ngx_str_set(&r->headers_out.content_type, "application/json");
        break;

    case NGX_HTTP_GUICHET_ANSWER_BODY:
        r->headers_out.content_type.data = (u_char *) ctx->content_type;
        r->headers_out.content_type.len = ngx_strlen(ctx->content_type);
        break;

    case NGX_HTTP_GUICHET_ANSWER_PAGE:
        r->headers_out.content_type.data = (u_char *)
            ngx_http_guichet_templates[ctx->page].content_type;
        r->headers_out.content_type.len =
            ngx_strlen(r->headers_out.content_type.data);
        break;

    default:
        ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
        break;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (b->last == b->pos && !b->last_buf) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * A throttled page says how long to wait, in the words of Retry-After:
 * its message ("error", or "message" on the error page) gets "Try again
 * in 3 minutes." appended.
 */

static ngx_int_t
ngx_http_guichet_ep_wait(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;
    char         words[AC_WAIT_WORDS_MAX];

    if (ac_wait_words(ctx->retry_after, words, sizeof(words)) != AC_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < ctx->nvars; i++) {
        if (ngx_strcmp(ctx->vars[i].name, "error") != 0
            && ngx_strcmp(ctx->vars[i].name, "message") != 0)
        {
            continue;
        }

        len = ctx->vars[i].len;

        p = ngx_pnalloc(r->pool, len + sizeof(" Try again in .")
                                 + sizeof(words));
        if (p == NULL) {
            return NGX_ERROR;
        }

        ctx->vars[i].len = ngx_sprintf(p, "%*s%sTry again in %s.",
                                       len, ctx->vars[i].value,
                                       len ? " " : "", words)
                           - p;
        ctx->vars[i].value = (char *) p;
    }

    return NGX_OK;
}


/*
 * Gives every variable the template may use a value: "base", those the
 * route set, and empty for the others, so that an operator's template
 * may use any of its names.
 */

static ngx_int_t
ngx_http_guichet_ep_render(ngx_http_request_t *r,
    ngx_http_guichet_ep_ctx_t *ctx, ac_buf_t *out)
{
    int                            rc;
    ngx_uint_t                     i, j;
    ngx_http_guichet_tpl_t         tpl;
    ngx_http_guichet_template_t   *t;

    switch (ctx->answer) {

    case NGX_HTTP_GUICHET_ANSWER_NONE:
        return NGX_OK;

    case NGX_HTTP_GUICHET_ANSWER_JSON:
    case NGX_HTTP_GUICHET_ANSWER_BODY:
        if (ac_buf_status(&ctx->json) != AC_OK) {
            return NGX_ERROR;
        }

        ac_buf_add(out, ctx->json.data, ctx->json.len);
        return ac_buf_status(out) == AC_OK ? NGX_OK : NGX_ERROR;

    default: /* NGX_HTTP_GUICHET_ANSWER_PAGE */
        break;
    }

    t = &ngx_http_guichet_templates[ctx->page];

    if (t->file == NULL || ctx->vars_overflow) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: no such page or too many variables");
        return NGX_ERROR;
    }

    if (ctx->retry_after > 0 && ngx_http_guichet_ep_wait(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_guichet_tpl_make(r, ctx, ctx->page, &tpl) != NGX_OK) {
        return NGX_ERROR;
    }

    if (t->vars == NULL) {
        ac_buf_add(out, tpl.text.data, tpl.text.len);
        return ac_buf_status(out) == AC_OK ? NGX_OK : NGX_ERROR;
    }

    for (j = 0; j < ctx->nvars; j++) {
        ngx_http_guichet_tpl_set(&tpl, ctx->vars[j].name, ctx->vars[j].value,
                                 ctx->vars[j].len);
    }

    /* a variable the template cannot show is a route's bug */
    for (j = 0; j < ctx->nvars; j++) {
        for (i = 0; i < tpl.nvars; i++) {
            if (ngx_strcmp(ctx->vars[j].name, t->vars[i]) == 0) {
                break;
            }
        }

        if (i == tpl.nvars) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "guichet: \"%s\" has no variable \"%s\"",
                          t->file, ctx->vars[j].name);
            return NGX_ERROR;
        }
    }

    rc = ac_template_render((char *) tpl.text.data, tpl.text.len, tpl.vars,
                            tpl.nvars, out);

    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: page rendering failed: %s", ac_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_ep_header(ngx_http_request_t *r, const char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


/* ------------------------------------------------------- configuration */

ngx_int_t
ngx_http_guichet_pages_init(ngx_conf_t *cf,
    ngx_http_guichet_main_conf_t *gmcf)
{
    ngx_str_t   *pages, dir;
    ngx_uint_t   i;

    dir = gmcf->templates;

    for (i = 0; ngx_http_guichet_templates[i].file; i++) {
        /* void */
    }

    pages = ngx_pcalloc(cf->pool, i * sizeof(ngx_str_t));
    if (pages == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; ngx_http_guichet_templates[i].file; i++) {
        if (ngx_http_guichet_template_load(cf, &dir,
                                           &ngx_http_guichet_templates[i],
                                           &pages[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    gmcf->pages = pages;

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_template_load(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_http_guichet_template_t *t, ngx_str_t *out)
{
    int              rc;
    u_char          *path;
    size_t           n;
    ssize_t          nread;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ac_error_t       err;
    ngx_file_info_t  fi;

    path = ngx_pnalloc(cf->pool, dir->len + 1 + ngx_strlen(t->file) + 1);
    if (path == NULL) {
        return NGX_ERROR;
    }

    *ngx_sprintf(path, "%V/%s", dir, t->file) = '\0';

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name.data = path;
    file.name.len = ngx_strlen(path);
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_GUICHET_TEMPLATE_MAX)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "\"%s\" is unreadable or too large", path);
        goto failed;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        goto failed;
    }

    nread = ngx_read_file(&file, out->data, out->len, 0);
    if (nread != (ssize_t) out->len) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "\"%s\": short read", path);
        goto failed;
    }

    out->data[out->len] = '\0';

    ngx_close_file(fd);

    if (t->vars == NULL) {
        return NGX_OK;
    }

    for (n = 0; t->vars[n]; n++) {
        /* void */
    }

    ngx_memzero(&err, sizeof(ac_error_t));

    rc = ac_template_check((char *) out->data, out->len, t->vars, n, &err);
    if (rc != AC_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "template \"%s\": %s", path,
                      err.msg[0] ? err.msg : ac_strerror(rc));
        return NGX_ERROR;
    }

    return NGX_OK;

failed:

    ngx_close_file(fd);
    return NGX_ERROR;
}
