/*
 * Guichet nginx module: the access-phase gate of "guichet on" places.
 *
 * The session is read from Redis without blocking: the handler sends the
 * command and returns NGX_AGAIN; the reply stores a verdict in the
 * request's ctx and runs the phases again, which calls the handler once
 * more to apply it. A session read less than a second ago may come from
 * the worker's session cache instead (ngx_http_guichet_cache.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_cache.h"


typedef enum {
    NGX_HTTP_GUICHET_PASS = 0,
    NGX_HTTP_GUICHET_UNAUTHENTICATED,
    NGX_HTTP_GUICHET_LOCKED,
    NGX_HTTP_GUICHET_NEED_2FA,
    NGX_HTTP_GUICHET_NO_ROLE,
    NGX_HTTP_GUICHET_UNAVAILABLE,
    NGX_HTTP_GUICHET_ERROR
} ngx_http_guichet_verdict_e;


typedef struct {
    ngx_uint_t                   done;
    ngx_http_guichet_verdict_e   verdict;
    ngx_uint_t                   epoch;      /* of the cache, at sending */
    ngx_msec_t                   sent;
    ngx_str_t                    cookie;     /* in token */
    u_char                       token[AC_TOKEN_LEN + 1];
    char                         digest[AC_DIGEST_LEN + 1];
    ac_session_t                 session;    /* the identity headers' */
} ngx_http_guichet_gate_ctx_t;


typedef struct {
    ngx_str_t                    key;
    ngx_str_t                    lowcase_key;
    ngx_uint_t                   hash;
} ngx_http_guichet_gate_header_t;


static ngx_int_t ngx_http_guichet_gate_cookie(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx);
static void ngx_http_guichet_gate_reply(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_http_guichet_verdict_e ngx_http_guichet_gate_judge(
    ngx_http_request_t *r, ngx_http_guichet_gate_ctx_t *ctx,
    redisReply *reply, ngx_int_t rc);
static ngx_http_guichet_verdict_e ngx_http_guichet_gate_check(
    ngx_http_request_t *r, ac_session_t *s);
static ngx_int_t ngx_http_guichet_gate_finish(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_gate_pass(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx);
static ngx_int_t ngx_http_guichet_gate_set(ngx_http_request_t *r,
    ngx_http_guichet_gate_header_t *hd, u_char *value, size_t len);
static ngx_int_t ngx_http_guichet_gate_redirect(ngx_http_request_t *r,
    const char *route);
static ngx_int_t ngx_http_guichet_gate_json(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);


/* the hashes are computed on first use */
static ngx_http_guichet_gate_header_t  ngx_http_guichet_user = {
    ngx_string("X-Guichet-User"), ngx_string("x-guichet-user"), 0
};
static ngx_http_guichet_gate_header_t  ngx_http_guichet_email = {
    ngx_string("X-Guichet-Email"), ngx_string("x-guichet-email"), 0
};
static ngx_http_guichet_gate_header_t  ngx_http_guichet_amr = {
    ngx_string("X-Guichet-Amr"), ngx_string("x-guichet-amr"), 0
};
static ngx_http_guichet_gate_header_t  ngx_http_guichet_roles = {
    ngx_string("X-Guichet-Roles"), ngx_string("x-guichet-roles"), 0
};


ngx_int_t
ngx_http_guichet_gate_handler(ngx_http_request_t *r)
{
    char                           account[AC_ID_LEN + 1];
    ac_cmd_t                       cmd;
    ngx_http_guichet_gate_ctx_t   *ctx;
    ngx_http_guichet_loc_conf_t   *glcf;
    ngx_http_guichet_main_conf_t  *gmcf;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_guichet_module);

    if (!glcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_guichet_module);

    if (ctx) {
        if (!ctx->done) {
            return NGX_AGAIN;
        }

        return ngx_http_guichet_gate_finish(r, ctx);
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_guichet_gate_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_guichet_module);

    /*
     * The post-read phase removed the client's copies; after an internal
     * redirect this removes those an earlier pass of the gate set.
     */
    if (ngx_http_guichet_identity_remove(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->done = 1;
    ctx->verdict = NGX_HTTP_GUICHET_UNAUTHENTICATED;

    switch (ngx_http_guichet_gate_cookie(r, ctx)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_guichet_gate_finish(r, ctx);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * A hit needs no digest: the cache is keyed by the cookie value, the
     * canonical one that the endpoints read too (exact name, one copy).
     * Fail closed: no cached pass while Redis is known to be down.
     */

    if (ngx_http_guichet_redis_ready()
        && ngx_http_guichet_cache_get(&ctx->cookie, ctx->digest,
                                      &ctx->session)
           == NGX_OK)
    {
        ctx->verdict = ngx_http_guichet_gate_check(r, &ctx->session);
        return ngx_http_guichet_gate_finish(r, ctx);
    }

    if (ac_session_digest(gmcf->keys, (char *) ctx->cookie.data,
                          ctx->cookie.len, ctx->digest)
        != AC_OK)
    {
        return ngx_http_guichet_gate_finish(r, ctx);
    }

    /*
     * A cookie of the previous layout names no account: no session, as
     * Redis would have answered; while Redis is down, 503 as before.
     */
    if (ac_session_account((char *) ctx->cookie.data, ctx->cookie.len,
                           account)
        != AC_OK)
    {
        if (!ngx_http_guichet_redis_ready()) {
            if (ngx_http_guichet_redis_refusal()) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "guichet: redis unavailable, answering 503");
            }

            ctx->verdict = NGX_HTTP_GUICHET_UNAVAILABLE;
        }

        return ngx_http_guichet_gate_finish(r, ctx);
    }

    if (ac_cmd_session_get(&cmd, gmcf->ac, account, ctx->digest) != AC_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "guichet: cannot build the session command");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->epoch = ngx_http_guichet_cache_epoch();
    ctx->sent = ngx_current_msec;

    if (ngx_http_guichet_redis_send(r, &cmd, ngx_http_guichet_gate_reply,
                                    ctx)
        != NGX_OK)
    {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis unavailable, answering 503");
        }

        ctx->verdict = NGX_HTTP_GUICHET_UNAVAILABLE;
        return ngx_http_guichet_gate_finish(r, ctx);
    }

    ctx->done = 0;

    /* notice a client that goes away while Redis answers */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_AGAIN;
}


/* Only refusals need it: browsers get a page or a redirect, others JSON. */

ngx_uint_t
ngx_http_guichet_browser(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               sizeof("Accept") - 1)
               == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "text/html",
                                sizeof("text/html") - 2)
               != NULL)
        {
            return 1;
        }
    }

    return 0;
}


/* Only a token of the right length can name a session. */

static ngx_int_t
ngx_http_guichet_gate_cookie(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx)
{
    size_t     len;
    ngx_int_t  rc;
    char       value[AC_COOKIE_VALUE_MAX + 1];

    rc = ngx_http_guichet_cookie(r, NGX_HTTP_GUICHET_COOKIE_SESSION, value,
                                 sizeof(value), &len);

    if (rc == NGX_OK && len != AC_TOKEN_LEN) {
        rc = NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        ngx_memcpy(ctx->token, value, AC_TOKEN_LEN + 1);
        ctx->cookie.data = ctx->token;
        ctx->cookie.len = AC_TOKEN_LEN;
    }

    ngx_explicit_memzero(value, sizeof(value));

    return rc;
}


static void
ngx_http_guichet_gate_reply(ngx_http_request_t *r, void *data,
    redisReply *reply, ngx_int_t rc)
{
    ngx_connection_t             *c;
    ngx_http_guichet_gate_ctx_t  *ctx = data;

    c = r->connection;

    ctx->verdict = ngx_http_guichet_gate_judge(r, ctx, reply, rc);
    ctx->done = 1;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static ngx_http_guichet_verdict_e
ngx_http_guichet_gate_judge(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx, redisReply *reply, ngx_int_t rc)
{
    int            arc;
    ac_session_t  *s;

    if (rc != NGX_OK || reply == NULL) {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis did not answer, answering 503");
        }
        return NGX_HTTP_GUICHET_UNAVAILABLE;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        if (ngx_http_guichet_redis_refusal()) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "guichet: redis error \"%*s\", answering 503",
                          (int) ngx_min(reply->len, 200), reply->str);
        }
        return NGX_HTTP_GUICHET_UNAVAILABLE;
    }

    s = &ctx->session;

    arc = ac_session_parse(reply, s);

    if (arc == AC_ERR_NOT_FOUND) {
        return NGX_HTTP_GUICHET_UNAUTHENTICATED;
    }

    /* the session must name the account its cookie and hash name */
    if (arc == AC_OK
        && (ngx_strlen(s->account) != AC_ID_LEN
            || ngx_strncmp(s->account, ctx->cookie.data, AC_ID_LEN) != 0))
    {
        arc = AC_ERR_REDIS;
    }

    if (arc != AC_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "guichet: malformed session %*s: %s",
                      (int) 6, ctx->digest, ac_strerror(arc));
        return NGX_HTTP_GUICHET_UNAUTHENTICATED;
    }

    ngx_http_guichet_cache_put(&ctx->cookie, ctx->digest, s, ctx->epoch,
                               ctx->sent);

    return ngx_http_guichet_gate_check(r, s);
}


/* What this location asks of a session, read from Redis or the cache. */

static ngx_http_guichet_verdict_e
ngx_http_guichet_gate_check(ngx_http_request_t *r, ac_session_t *s)
{
    ngx_http_guichet_loc_conf_t   *glcf;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    /* past its absolute expiry, or idle too long */
    if (!ac_session_live(s, gmcf->ac, (int64_t) ngx_time())) {
        return NGX_HTTP_GUICHET_UNAUTHENTICATED;
    }

    if (s->account_status != AC_STATUS_ACTIVE) {
        return NGX_HTTP_GUICHET_LOCKED;
    }

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_guichet_module);

    if (glcf->require_2fa && !(s->amr & AC_AMR_SECOND)) {
        return NGX_HTTP_GUICHET_NEED_2FA;
    }

    if (glcf->role && !(s->roles & glcf->role)) {
        return NGX_HTTP_GUICHET_NO_ROLE;
    }

    return NGX_HTTP_GUICHET_PASS;
}


static ngx_int_t
ngx_http_guichet_gate_finish(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx)
{
    ngx_int_t  rc;

    switch (ctx->verdict) {

    case NGX_HTTP_GUICHET_PASS:
        ngx_http_guichet_metric_gate(NGX_HTTP_OK);
        return ngx_http_guichet_gate_pass(r, ctx);

    case NGX_HTTP_GUICHET_UNAUTHENTICATED:
        if (ngx_http_guichet_browser(r)) {
            return ngx_http_guichet_gate_redirect(r, "login");
        }

        rc = ngx_http_guichet_gate_json(r, NGX_HTTP_UNAUTHORIZED,
                                        "unauthenticated",
                                        "a valid session is required");
        break;

    case NGX_HTTP_GUICHET_LOCKED:
        rc = ngx_http_guichet_gate_json(r, NGX_HTTP_FORBIDDEN,
                                        "account_locked",
                                        "this account is locked");
        break;

    case NGX_HTTP_GUICHET_NEED_2FA:
        if (ngx_http_guichet_browser(r)) {
            return ngx_http_guichet_gate_redirect(r, "2fa");
        }

        rc = ngx_http_guichet_gate_json(r, NGX_HTTP_FORBIDDEN,
                                        "second_factor_required",
                                        "this place needs a second factor");
        break;

    case NGX_HTTP_GUICHET_NO_ROLE:
        rc = ngx_http_guichet_gate_json(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                        "this session lacks the role "
                                        "this place needs (a role given "
                                        "since it began: sign in again)");
        break;

    case NGX_HTTP_GUICHET_UNAVAILABLE:
        rc = ngx_http_guichet_gate_json(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                 "unavailable", "the session store cannot be reached");
        break;

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_guichet_gate_pass(ngx_http_request_t *r,
    ngx_http_guichet_gate_ctx_t *ctx)
{
    int64_t                        now;
    ac_cmd_t                       cmd;
    const char                    *amr;
    ac_session_t                  *s;
    char                          *roles;
    ngx_http_guichet_main_conf_t  *gmcf;

    s = &ctx->session;
    amr = ac_amr_name(s->amr);

    /* the header keeps a pointer to its value: in the request's pool */
    roles = ngx_pnalloc(r->pool, AC_ROLES_MAX);
    if (roles == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ac_roles_format(s->roles, roles);

    if (ngx_http_guichet_gate_set(r, &ngx_http_guichet_user,
                                  (u_char *) s->account,
                                  ngx_strlen(s->account))
        != NGX_OK
        || ngx_http_guichet_gate_set(r, &ngx_http_guichet_email,
                                     (u_char *) s->email,
                                     ngx_strlen(s->email))
           != NGX_OK
        || ngx_http_guichet_gate_set(r, &ngx_http_guichet_amr,
                                     (u_char *) amr, ngx_strlen(amr))
           != NGX_OK
        || ngx_http_guichet_gate_set(r, &ngx_http_guichet_roles,
                                     (u_char *) roles, ngx_strlen(roles))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* renew the idle TTL at most once a minute, without waiting for it */

    now = (int64_t) ngx_time();

    if (now - s->last_seen >= AC_SESSION_TOUCH) {
        gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

        if (ac_cmd_session_touch(&cmd, gmcf->ac, s->account, ctx->digest,
                                 now)
            == AC_OK
            && ngx_http_guichet_redis_send_detached(r->connection->log, &cmd)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "guichet: session touch not sent");
        }

        s->last_seen = now;
        ngx_http_guichet_cache_touched(&ctx->cookie, now);
    }

    return NGX_OK;
}


/* "value" must live as long as the request: it is not copied. */

static ngx_int_t
ngx_http_guichet_gate_set(ngx_http_request_t *r,
    ngx_http_guichet_gate_header_t *hd, u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (hd->hash == 0) {
        hd->hash = ngx_hash_key(hd->lowcase_key.data, hd->lowcase_key.len);
    }

    h->key = hd->key;
    h->lowcase_key = hd->lowcase_key.data;
    h->hash = hd->hash;
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_gate_redirect(ngx_http_request_t *r, const char *route)
{
    u_char           *p;
    size_t            len;
    ngx_str_t         base;
    uintptr_t         escape;
    ngx_table_elt_t  *location;

    ngx_http_guichet_metric_gate(NGX_HTTP_MOVED_TEMPORARILY);

    ngx_http_guichet_endpoints_base(r, &base);

    escape = 2 * ngx_escape_uri(NULL, r->unparsed_uri.data,
                                r->unparsed_uri.len, NGX_ESCAPE_ARGS);

    len = base.len + ngx_strlen(route) + sizeof("?return_to=") - 1
          + r->unparsed_uri.len + escape;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location->hash = 1;
    ngx_str_set(&location->key, "Location");
    location->value.data = p;

    p = ngx_cpymem(p, base.data, base.len);
    p = ngx_cpymem(p, route, ngx_strlen(route));
    p = ngx_cpymem(p, "?return_to=", sizeof("?return_to=") - 1);

    if (escape) {
        p = (u_char *) ngx_escape_uri(p, r->unparsed_uri.data,
                                      r->unparsed_uri.len, NGX_ESCAPE_ARGS);

    } else {
        p = ngx_cpymem(p, r->unparsed_uri.data, r->unparsed_uri.len);
    }

    location->value.len = p - location->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    if (ngx_http_guichet_security_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_MOVED_TEMPORARILY;
}


void
ngx_http_guichet_endpoints_base(ngx_http_request_t *r, ngx_str_t *base)
{
    ngx_http_guichet_srv_conf_t   *gscf;
    ngx_http_guichet_main_conf_t  *gmcf;

    gscf = ngx_http_get_module_srv_conf(r, ngx_http_guichet_module);

    if (gscf->endpoints_base.len) {
        *base = gscf->endpoints_base;
        return;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->endpoints_base.len) {
        *base = gmcf->endpoints_base;
        return;
    }

    ngx_str_set(base, "/guichet/");
}


/* authcore's one list, on every answer of the gate and the endpoints */

ngx_int_t
ngx_http_guichet_security_headers(ngx_http_request_t *r)
{
    size_t              i, n;
    ngx_table_elt_t    *h;
    const ac_header_t  *sh;

    sh = ac_security_headers(&n);

    for (i = 0; i < n; i++) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key.data = (u_char *) sh[i].name;
        h->key.len = ngx_strlen(sh[i].name);
        h->value.data = (u_char *) sh[i].value;
        h->value.len = ngx_strlen(sh[i].value);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_guichet_gate_json(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_http_guichet_metric_gate(status);

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof("{\"error\":\"\",\"message\":\"\"}\n") - 1
          + ngx_strlen(code) + ngx_strlen(message);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* code and message are constants without characters to escape */
    b->last = ngx_sprintf(b->last, "{\"error\":\"%s\",\"message\":\"%s\"}\n",
                          code, message);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_guichet_security_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
