/*
 * Guichet nginx module: directives, configuration and worker lifecycle.
 * The access-phase gate is in ngx_http_guichet_gate.c, the Redis adapter
 * in ngx_http_guichet_redis.c.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_guichet_module.h"
#include "ngx_http_guichet_redis.h"
#include "ngx_http_guichet_cache.h"


static void *ngx_http_guichet_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_guichet_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_guichet_create_srv_conf(ngx_conf_t *cf);
static void *ngx_http_guichet_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_guichet_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_flag_t ngx_http_guichet_directive_set(
    ngx_http_guichet_loc_conf_t *glcf);
static char *ngx_http_guichet_config(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_guichet_endpoints(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_guichet_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_guichet_threads(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_guichet_templates(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void ngx_http_guichet_cleanup_config(void *data);
static ngx_int_t ngx_http_guichet_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_guichet_init_process(ngx_cycle_t *cycle);
static void ngx_http_guichet_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_guichet_commands[] = {

    { ngx_string("guichet_config"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_guichet_config,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("guichet"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_guichet_loc_conf_t, enable),
      NULL },

    { ngx_string("guichet_endpoints"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_guichet_endpoints,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("guichet_require_2fa"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_guichet_loc_conf_t, require_2fa),
      NULL },

    { ngx_string("guichet_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_guichet_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("guichet_templates"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_guichet_templates,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("guichet_threads"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_guichet_threads,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("guichet_session_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_guichet_session_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_guichet_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_guichet_init,                 /* postconfiguration */

    ngx_http_guichet_create_main_conf,     /* create main configuration */
    ngx_http_guichet_init_main_conf,       /* init main configuration */

    ngx_http_guichet_create_srv_conf,      /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_guichet_create_loc_conf,      /* create location configuration */
    ngx_http_guichet_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_guichet_module = {
    NGX_MODULE_V1,
    &ngx_http_guichet_module_ctx,          /* module context */
    ngx_http_guichet_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_guichet_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_guichet_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_guichet_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_guichet_main_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->config_file = { 0, NULL };
     *     gmcf->ac = NULL;
     *     gmcf->keys = NULL;
     *     gmcf->thread_pool = NULL;
     *     gmcf->templates = { 0, NULL };
     */

    gmcf->session_cache = NGX_CONF_UNSET_UINT;
    gmcf->session_cache_valid = NGX_CONF_UNSET_MSEC;

    return gmcf;
}


/* The http block is read: defaults once, and the metrics zone. */

static char *
ngx_http_guichet_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_guichet_main_conf_t *gmcf = conf;

    if (gmcf->templates.data == NULL) {
        ngx_str_set(&gmcf->templates, NGX_HTTP_GUICHET_TEMPLATES);
    }

    ngx_conf_init_uint_value(gmcf->session_cache,
                             NGX_HTTP_GUICHET_CACHE_SIZE);
    ngx_conf_init_msec_value(gmcf->session_cache_valid,
                             NGX_HTTP_GUICHET_CACHE_VALID);

    if (gmcf->ac == NULL) {
        return NGX_CONF_OK;
    }

    return ngx_http_guichet_metrics_zone(cf);
}


static void *
ngx_http_guichet_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_guichet_srv_conf_t  *gscf;

    gscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_guichet_srv_conf_t));
    if (gscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gscf->strip_identity = 0;
     *     gscf->endpoints_base = { 0, NULL };
     */

    return gscf;
}


static void *
ngx_http_guichet_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_guichet_loc_conf_t  *glcf;

    glcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_guichet_loc_conf_t));
    if (glcf == NULL) {
        return NULL;
    }

    glcf->enable = NGX_CONF_UNSET;
    glcf->require_2fa = NGX_CONF_UNSET;
    glcf->role = NGX_CONF_UNSET_UINT;
    glcf->used = NGX_CONF_UNSET;

    return glcf;
}


static char *
ngx_http_guichet_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_guichet_loc_conf_t *prev = parent;
    ngx_http_guichet_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_guichet_srv_conf_t   *gscf;
    ngx_http_guichet_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * A server uses Guichet when one of its places, or the server or the
     * http block above them, has a directive of the module: all its
     * requests then lose their client-sent identity headers. The http
     * block's conf is never merged itself: its "used" is worked out here.
     */

    if (prev->used == NGX_CONF_UNSET) {
        prev->used = ngx_http_guichet_directive_set(prev);
    }

    if (ngx_http_guichet_directive_set(conf)
        || clcf->handler == ngx_http_guichet_endpoints_handler)
    {
        conf->used = 1;
    }

    ngx_conf_merge_value(conf->used, prev->used, 0);

    if (conf->used) {
        gscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_guichet_module);
        gscf->strip_identity = 1;
    }

    /*
     * The endpoints check sessions themselves: a "guichet on" inherited
     * from the server would gate the login page and loop on it.
     */

    if (conf->enable == NGX_CONF_UNSET
        && clcf->handler == ngx_http_guichet_endpoints_handler)
    {
        conf->enable = 0;
    }

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->require_2fa, prev->require_2fa, 0);
    ngx_conf_merge_uint_value(conf->role, prev->role, 0);

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_guichet_module);

    if (conf->enable && gmcf->ac == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"guichet on\" needs \"guichet_config\" "
                           "in the http block");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Before the merge: a directive of the module is written at this level. */

static ngx_flag_t
ngx_http_guichet_directive_set(ngx_http_guichet_loc_conf_t *glcf)
{
    return glcf->enable != NGX_CONF_UNSET
           || glcf->require_2fa != NGX_CONF_UNSET
           || glcf->role != NGX_CONF_UNSET_UINT;
}


static char *
ngx_http_guichet_config(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_guichet_main_conf_t *gmcf = conf;

    int                  rc;
    ngx_str_t           *value;
    ac_error_t           err;
    ngx_pool_cleanup_t  *cln;

    if (gmcf->config_file.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->config_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &gmcf->config_file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_guichet_cleanup_config;
    cln->data = gmcf;

    ngx_memzero(&err, sizeof(ac_error_t));

    rc = ac_init();
    if (rc != AC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "authcore: %s",
                           ac_strerror(rc));
        return NGX_CONF_ERROR;
    }

    rc = ac_config_load((char *) gmcf->config_file.data, &gmcf->ac, &err);
    if (rc != AC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s",
                           err.msg[0] ? err.msg : ac_strerror(rc));
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&err, sizeof(ac_error_t));

    rc = ac_keys_load(gmcf->ac->secret_file, &gmcf->keys, &err);
    if (rc != AC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s: %s",
                           gmcf->ac->secret_file,
                           err.msg[0] ? err.msg : ac_strerror(rc));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_guichet_cleanup_config(void *data)
{
    ngx_http_guichet_main_conf_t *gmcf = data;

    if (gmcf->keys) {
        ac_keys_free(gmcf->keys);
        gmcf->keys = NULL;
    }

    if (gmcf->ac) {
        ac_config_free(gmcf->ac);
        gmcf->ac = NULL;
    }
}


static char *
ngx_http_guichet_endpoints(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t      *clcf, **clcfp;
    ngx_http_guichet_srv_conf_t   *gscf;
    ngx_http_guichet_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_guichet_endpoints_handler;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_guichet_module);
    gmcf->endpoints = 1;

    /* recorded for the gate's redirects to the login page */
    if (clcf->name.len > 0 && clcf->name.data[0] == '/'
        && clcf->name.data[clcf->name.len - 1] == '/')
    {
        gscf = ngx_http_conf_get_module_srv_conf(cf,
                                                 ngx_http_guichet_module);

        if (gscf->endpoints_base.len == 0) {
            gscf->endpoints_base = clcf->name;
        }

        if (gmcf->endpoints_base.len == 0) {
            gmcf->endpoints_base = clcf->name;
        }
    }

    if (gmcf->endpoint_clcfs == NULL) {
        gmcf->endpoint_clcfs = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_http_core_loc_conf_t *));
        if (gmcf->endpoint_clcfs == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    clcfp = ngx_array_push(gmcf->endpoint_clcfs);
    if (clcfp == NULL) {
        return NGX_CONF_ERROR;
    }

    *clcfp = clcf;

    return NGX_CONF_OK;
}


static char *
ngx_http_guichet_role(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_guichet_loc_conf_t *glcf = conf;

    unsigned    role;
    ngx_str_t  *value;

    if (glcf->role != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ac_role_parse((char *) value[1].data, value[1].len, &role) != AC_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown role \"%V\" (user, security or admin)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    glcf->role = role;

    return NGX_CONF_OK;
}


static char *
ngx_http_guichet_threads(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_THREADS)
    ngx_http_guichet_main_conf_t *gmcf = conf;

    ngx_str_t  *value;

    if (gmcf->thread_pool != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    gmcf->thread_pool = ngx_thread_pool_add(cf, &value[1]);
    if (gmcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"guichet_threads\" needs nginx built with threads");
    return NGX_CONF_ERROR;

#endif
}


static char *
ngx_http_guichet_templates(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_guichet_main_conf_t *gmcf = conf;

    ngx_str_t  *value;

    if (gmcf->templates.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    gmcf->templates = value[1];

    /* a trailing '/' would double in "DIR/login.html" */
    while (gmcf->templates.len > 1
           && gmcf->templates.data[gmcf->templates.len - 1] == '/')
    {
        gmcf->templates.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &gmcf->templates, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_guichet_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_guichet_identity_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_guichet_gate_handler;

    return ngx_http_guichet_endpoints_init(cf);
}


static ngx_int_t
ngx_http_guichet_init_process(ngx_cycle_t *cycle)
{
    ngx_http_guichet_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_guichet_module);

    if (gmcf == NULL || gmcf->ac == NULL) {
        return NGX_OK;
    }

    if (ngx_http_guichet_redis_init(cycle, gmcf->ac) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_guichet_cache_init(cycle);
}


static void
ngx_http_guichet_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_guichet_redis_done(cycle);
    ngx_http_guichet_cache_done(cycle);
}
