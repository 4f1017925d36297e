/*
 * Guichet nginx module: what the module trusts in a request's headers,
 * read in one place (SPEC 9, "one reading of a cookie").
 *
 * Cookies: the gate and every endpoint find their cookies with
 * ngx_http_guichet_cookie(), which hands all the request's Cookie lines,
 * joined as one list the way nginx joins HTTP/2's cookie fields, to
 * authcore's ac_cookie_get(). The name is exact and case-sensitive; a
 * name present twice, on one line or on two, is refused, since another
 * site of the domain can plant a second copy and two readers that picked
 * different copies would disagree about the session.
 *
 * Identity headers: X-Guichet-* (and X_Guichet_*) sent by a client are
 * removed in the post-read phase of every request of a server that uses
 * Guichet, gated or not, so that no phase, variable or proxied backend
 * ever sees a forged identity; the gate then adds its own.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"


static ngx_uint_t ngx_http_guichet_identity_forged(ngx_table_elt_t *h);


/* "__Host-" names over TLS: no other site of the domain can set them */

const char *
ngx_http_guichet_cookie_name(ngx_uint_t secure,
    ngx_http_guichet_cookie_e kind)
{
    switch (kind) {

    case NGX_HTTP_GUICHET_COOKIE_SESSION:
        return secure ? "__Host-guichet" : "guichet";

    case NGX_HTTP_GUICHET_COOKIE_PENDING:
        return secure ? "__Host-guichet_pending" : "guichet_pending";

    case NGX_HTTP_GUICHET_COOKIE_REGISTER:
        return secure ? "__Host-guichet_register" : "guichet_register";

    case NGX_HTTP_GUICHET_COOKIE_RESET:
        return secure ? "__Host-guichet_reset" : "guichet_reset";

    case NGX_HTTP_GUICHET_COOKIE_EMAIL:
        return secure ? "__Host-guichet_email" : "guichet_email";

    default: /* NGX_HTTP_GUICHET_COOKIE_CSRF */
        return secure ? "__Host-guichet_csrf" : "guichet_csrf";
    }
}


ngx_int_t
ngx_http_guichet_cookie(ngx_http_request_t *r,
    ngx_http_guichet_cookie_e kind, char *out, size_t outsize,
    size_t *outlen)
{
    int                rc;
    u_char            *p;
    size_t             len;
    ngx_uint_t         i, n, secure;
    ngx_str_t          list;
    ngx_table_elt_t  **h;

    out[0] = '\0';

    if (outlen) {
        *outlen = 0;
    }

    h = r->headers_in.cookies.elts;
    n = r->headers_in.cookies.nelts;

    if (n == 0) {
        return NGX_DECLINED;
    }

    if (n == 1) {
        list = h[0]->value;

    } else {
        /* several lines are one list: "a=1" + "b=2" reads "a=1; b=2" */

        len = 0;

        for (i = 0; i < n; i++) {
            len += h[i]->value.len + sizeof("; ") - 1;
        }

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        list.data = p;

        for (i = 0; i < n; i++) {
            if (i > 0) {
                *p++ = ';';
                *p++ = ' ';
            }

            p = ngx_cpymem(p, h[i]->value.data, h[i]->value.len);
        }

        list.len = p - list.data;
    }

    secure = 0;

#if (NGX_HTTP_SSL)
    secure = (r->connection->ssl != NULL);
#endif

    rc = ac_cookie_get((char *) list.data, list.len,
                       ngx_http_guichet_cookie_name(secure, kind), out,
                       outsize, &len);

    if (rc != AC_OK) {
        return NGX_DECLINED;
    }

    if (outlen) {
        *outlen = len;
    }

    return NGX_OK;
}


/*
 * The post-read phase runs once per request, before the server's
 * rewrites, before any access handler ("satisfy any" may skip those) and
 * before subrequests copy the headers: the one place where every request
 * of a server passes.
 */

ngx_int_t
ngx_http_guichet_identity_handler(ngx_http_request_t *r)
{
    ngx_http_guichet_srv_conf_t  *gscf;

    gscf = ngx_http_get_module_srv_conf(r, ngx_http_guichet_module);

    if (!gscf->strip_identity) {
        return NGX_DECLINED;
    }

    if (ngx_http_guichet_identity_remove(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_guichet_identity_remove(ngx_http_request_t *r)
{
    ngx_uint_t        i, forged;
    ngx_list_part_t  *part, first;
    ngx_table_elt_t  *h, *nh;

    forged = 0;
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

        if (ngx_http_guichet_identity_forged(&h[i])) {
            forged = 1;
            break;
        }
    }

    if (!forged) {
        return NGX_OK;
    }

    /*
     * The list is rebuilt rather than compacted: the old elements stay
     * where they are, so the pointers nginx keeps to known headers
     * (Host, Cookie, ...) stay valid. The first part lives inside the
     * list: keep a copy of it to walk.
     */

    first = r->headers_in.headers.part;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &first;
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

        if (ngx_http_guichet_identity_forged(&h[i])) {
            continue;
        }

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_guichet_identity_forged(ngx_table_elt_t *h)
{
    ngx_uint_t   i;
    u_char       c, *p;

    static u_char  prefix[] = "x-guichet-";

    /*
     * "X_Guichet_User" too: with underscores_in_headers on, a CGI or PHP
     * backend reads it as HTTP_X_GUICHET_USER, the same as ours.
     */

    if (h->key.len < sizeof(prefix) - 1
        || (h->key.data[0] | 0x20) != 'x')
    {
        return 0;
    }

    p = h->key.data;

    for (i = 1; i < sizeof(prefix) - 1; i++) {
        c = ngx_tolower(p[i]);

        if (c == '_') {
            c = '-';
        }

        if (c != prefix[i]) {
            return 0;
        }
    }

    return 1;
}
