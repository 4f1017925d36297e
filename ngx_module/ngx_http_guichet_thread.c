/*
 * Guichet nginx module: password verification and hashing in the thread
 * pool named by "guichet_threads", so that argon2 never runs on the
 * event loop.
 *
 * The task context holds copies of everything the hash needs; the task
 * handler touches nothing else (no pool, no request, no log) and wipes
 * the password. While the task runs the request is pinned with
 * r->main->blocked, as nginx's file cache does: a client that goes away
 * meanwhile only marks the request, which is closed when the task
 * completes.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"

#include <sched.h>


#if (NGX_THREADS)

typedef struct {
    ac_argon2_params_t                  params;
    ngx_uint_t                          dummy;        /* no stored hash */
    ngx_uint_t                          hash;         /* hash, not verify */
    int                                 rc;
    size_t                              len;
    char                                phc[AC_PHC_MAX];
    u_char                              pw[AC_PASSWORD_MAX];

    /* used on the event loop only */
    char                               *out;          /* hash: the PHC */
    ngx_http_request_t                 *request;
    ngx_http_guichet_hash_handler_pt    handler;
    void                               *data;
} ngx_http_guichet_hash_ctx_t;


static ngx_int_t ngx_http_guichet_hash_post(ngx_http_request_t *r,
    const char *phc, char *out, const u_char *pw, size_t len,
    ngx_http_guichet_hash_handler_pt handler, void *data);
static void ngx_http_guichet_hash_thread(void *data, ngx_log_t *log);
static void ngx_http_guichet_hash_done(ngx_event_t *ev);


ngx_int_t
ngx_http_guichet_password_verify(ngx_http_request_t *r, const char *phc,
    const u_char *pw, size_t len, ngx_http_guichet_hash_handler_pt handler,
    void *data)
{
    return ngx_http_guichet_hash_post(r, phc, NULL, pw, len, handler, data);
}


ngx_int_t
ngx_http_guichet_password_hash(ngx_http_request_t *r, const u_char *pw,
    size_t len, char *phc, ngx_http_guichet_hash_handler_pt handler,
    void *data)
{
    return ngx_http_guichet_hash_post(r, NULL, phc, pw, len, handler, data);
}


/* Verifies pw against phc, or with out set hashes pw into it. */

static ngx_int_t
ngx_http_guichet_hash_post(ngx_http_request_t *r, const char *phc,
    char *out, const u_char *pw, size_t len,
    ngx_http_guichet_hash_handler_pt handler, void *data)
{
    size_t                         n;
    ngx_thread_task_t             *task;
    ngx_http_guichet_hash_ctx_t   *hc;
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_guichet_module);

    if (gmcf->thread_pool == NULL || len > AC_PASSWORD_MAX) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_guichet_hash_ctx_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    hc = task->ctx;

    ac_argon2_params_from_config(gmcf->ac, &hc->params);

    if (out != NULL) {
        hc->hash = 1;
        hc->rc = AC_ERR_CRYPTO;
        hc->out = out;

    } else if (phc == NULL || phc[0] == '\0') {
        hc->dummy = 1;
        hc->rc = AC_ERR_MISMATCH;

    } else {
        n = ngx_strlen(phc);
        if (n >= AC_PHC_MAX) {
            return NGX_ERROR;
        }

        ngx_memcpy(hc->phc, phc, n + 1);
        hc->rc = AC_ERR_MISMATCH;
    }

    ngx_memcpy(hc->pw, pw, len);
    hc->len = len;
    hc->request = r;
    hc->handler = handler;
    hc->data = data;

    task->handler = ngx_http_guichet_hash_thread;
    task->event.handler = ngx_http_guichet_hash_done;
    task->event.data = hc;

    if (ngx_thread_task_post(gmcf->thread_pool, task) != NGX_OK) {
        /* the queue is full: the caller answers 503 */
        ac_cleanse(hc->pw, sizeof(hc->pw));
        ngx_http_guichet_metric_inc(NGX_HTTP_GUICHET_M_THREAD_REJECTED);
        return NGX_DECLINED;
    }

    r->main->blocked++;

    return NGX_OK;
}


static void
ngx_http_guichet_hash_thread(void *data, ngx_log_t *log)
{
    ngx_http_guichet_hash_ctx_t  *hc = data;

    static _Thread_local ngx_uint_t  lowered;

    /*
     * The pool's threads hash under SCHED_IDLE (this thread only): when
     * CPUs are short, the workers' event loops go first, and gated
     * requests keep their latency while logins wait in the queue.
     */

    if (!lowered) {
        struct sched_param  sp;

        ngx_memzero(&sp, sizeof(struct sched_param));
        (void) sched_setscheduler(0, SCHED_IDLE, &sp);
        lowered = 1;
    }

    if (hc->hash) {
        hc->rc = ac_password_hash(&hc->params, (const char *) hc->pw,
                                  hc->len, hc->phc);

    } else {
        hc->rc = ac_password_verify(&hc->params,
                                    hc->dummy ? NULL : hc->phc,
                                    (const char *) hc->pw, hc->len);
    }

    ac_cleanse(hc->pw, sizeof(hc->pw));
}


static void
ngx_http_guichet_hash_done(ngx_event_t *ev)
{
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_guichet_hash_ctx_t  *hc = ev->data;

    r = hc->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    if (c->error) {
        /*
         * the client went away while the task ran: the request was kept
         * only for the task, finish closing it
         */
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (hc->hash && hc->rc == AC_OK) {
        ngx_memcpy(hc->out, hc->phc, AC_PHC_MAX);
    }

    ac_cleanse(hc->phc, sizeof(hc->phc));

    hc->handler(r, hc->data, hc->dummy ? AC_ERR_MISMATCH : hc->rc);

    ngx_http_run_posted_requests(c);
}


#else

ngx_int_t
ngx_http_guichet_password_verify(ngx_http_request_t *r, const char *phc,
    const u_char *pw, size_t len, ngx_http_guichet_hash_handler_pt handler,
    void *data)
{
    return NGX_ERROR;
}


ngx_int_t
ngx_http_guichet_password_hash(ngx_http_request_t *r, const u_char *pw,
    size_t len, char *phc, ngx_http_guichet_hash_handler_pt handler,
    void *data)
{
    return NGX_ERROR;
}

#endif
