/*
 * guichetctl's blocking Redis connection: TCP to an IP literal or a unix
 * socket, found through Sentinel when redis_sentinels is set, then AUTH
 * and SELECT as configured.
 */

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "guichetctl.h"


/* An admin tool may wait longer than a worker on a busy server. */
#define CTL_REDIS_TIMEOUT_MIN  2000


static redisContext *ctl_redis_open(const ac_endpoint_t *ep,
    struct timeval tv, const char *what, char *errbuf, size_t errsize);
static int ctl_redis_master(ctl_t *ctl, struct timeval tv,
    char *host, size_t hostsize, int *port);
static int ctl_redis_simple(redisContext *c, int argc, const char **argv,
    const char *what);


int
ctl_redis_connect(ctl_t *ctl)
{
    int             port;
    char            host[256];
    uint32_t        ms;
    const char     *argv[2];
    ac_endpoint_t   ep;
    struct timeval  tv;
    char            db[16], errbuf[512];

    ms = ctl->cfg->redis_timeout_ms;
    if (ms < CTL_REDIS_TIMEOUT_MIN) {
        ms = CTL_REDIS_TIMEOUT_MIN;
    }

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    if (ctl->cfg->nredis_sentinels > 0) {
        if (ctl_redis_master(ctl, tv, host, sizeof(host), &port) != AC_OK) {
            return AC_ERR_REDIS;
        }

        ep.host = host;
        ep.port = port;
        ep.unix_path = NULL;
        ctl->redis = ctl_redis_open(&ep, tv, "the Redis master", errbuf,
                                    sizeof(errbuf));

    } else {
        ctl->redis = ctl_redis_open(&ctl->cfg->redis, tv, "Redis", errbuf,
                                    sizeof(errbuf));
    }

    if (ctl->redis == NULL) {
        ctl_fail(CTL_EXIT_FAIL, "%s", errbuf);
        return AC_ERR_REDIS;
    }


    if (ctl->cfg->redis_password != NULL) {
        argv[0] = "AUTH";
        argv[1] = ctl->cfg->redis_password;
        if (ctl_redis_simple(ctl->redis, 2, argv, "AUTH") != AC_OK) {
            ctl_redis_close(ctl);
            return AC_ERR_REDIS;
        }
    }

    if (ctl->cfg->redis_db != 0) {
        snprintf(db, sizeof(db), "%d", ctl->cfg->redis_db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (ctl_redis_simple(ctl->redis, 2, argv, "SELECT") != AC_OK) {
            ctl_redis_close(ctl);
            return AC_ERR_REDIS;
        }
    }

    return AC_OK;
}


void
ctl_redis_close(ctl_t *ctl)
{
    if (ctl->redis != NULL) {
        redisFree(ctl->redis);
        ctl->redis = NULL;
    }
}


static redisContext *
ctl_redis_open(const ac_endpoint_t *ep, struct timeval tv, const char *what,
    char *errbuf, size_t errsize)
{
    redisContext  *c;

    if (ep->unix_path != NULL) {
        c = redisConnectUnixWithTimeout(ep->unix_path, tv);

    } else {
        c = redisConnectWithTimeout(ep->host, ep->port, tv);
    }

    if (c == NULL) {
        snprintf(errbuf, errsize, "out of memory");
        return NULL;
    }

    if (c->err) {
        if (ep->unix_path != NULL) {
            snprintf(errbuf, errsize, "cannot connect to %s at unix:%s: %s",
                     what, ep->unix_path, c->errstr);

        } else {
            snprintf(errbuf, errsize, "cannot connect to %s at %s:%d: %s",
                     what, ep->host, ep->port, c->errstr);
        }

        redisFree(c);
        return NULL;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(errbuf, errsize, "cannot set the Redis timeout");
        redisFree(c);
        return NULL;
    }

    return c;
}


/*
 * Asks each sentinel in turn until one names the master; only the last
 * failure is reported, and only when none answered.
 */
static int
ctl_redis_master(ctl_t *ctl, struct timeval tv, char *host, size_t hostsize,
    int *port)
{
    size_t          i;
    long            p;
    char           *end;
    const char     *argv[3];
    redisReply     *r;
    redisContext   *c;
    ac_endpoint_t  *s;
    char            errbuf[512];

    if (ctl->cfg->redis_master == NULL) {
        ctl_fail(CTL_EXIT_USAGE, "redis_sentinels needs redis_master");
        return AC_ERR_CONFIG;
    }

    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = ctl->cfg->redis_master;
    errbuf[0] = '\0';

    for (i = 0; i < ctl->cfg->nredis_sentinels; i++) {
        s = &ctl->cfg->redis_sentinels[i];

        c = ctl_redis_open(s, tv, "Sentinel", errbuf, sizeof(errbuf));
        if (c == NULL) {
            continue;
        }

        r = redisCommandArgv(c, 3, argv, NULL);

        if (r == NULL) {
            snprintf(errbuf, sizeof(errbuf), "Sentinel %s:%d: %s", s->host,
                     s->port, c->errstr);
            redisFree(c);
            continue;
        }

        redisFree(c);

        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
            && r->element[0]->type == REDIS_REPLY_STRING
            && r->element[1]->type == REDIS_REPLY_STRING
            && r->element[0]->len < hostsize)
        {
            p = strtol(r->element[1]->str, &end, 10);
            if (*end == '\0' && p > 0 && p < 65536) {
                memcpy(host, r->element[0]->str, r->element[0]->len + 1);
                *port = (int) p;
                freeReplyObject(r);
                return AC_OK;
            }
        }

        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(errbuf, sizeof(errbuf), "Sentinel %s:%d: %s", s->host,
                     s->port, r->str);

        } else {
            snprintf(errbuf, sizeof(errbuf), "Sentinel %s:%d does not know"
                     " master \"%s\"", s->host, s->port,
                     ctl->cfg->redis_master);
        }

        freeReplyObject(r);
    }

    ctl_fail(CTL_EXIT_FAIL, "no Sentinel named the Redis master (%s)",
             errbuf[0] ? errbuf : "no sentinels");

    return AC_ERR_REDIS;
}


/* A command whose reply is only checked for an error. */
static int
ctl_redis_simple(redisContext *c, int argc, const char **argv,
    const char *what)
{
    int          rc;
    redisReply  *r;

    r = redisCommandArgv(c, argc, argv, NULL);
    if (r == NULL) {
        ctl_fail(CTL_EXIT_FAIL, "Redis %s: %s", what, c->errstr);
        return AC_ERR_REDIS;
    }

    rc = AC_OK;

    if (r->type == REDIS_REPLY_ERROR) {
        ctl_fail(CTL_EXIT_FAIL, "Redis %s failed: %s", what, r->str);
        rc = AC_ERR_REDIS;
    }

    freeReplyObject(r);

    return rc;
}


/*
 * Runs one command, connecting first if needed, so that bad arguments
 * are reported before any network I/O. NULL after a connection failure
 * or an error reply, which have been reported.
 */
redisReply *
ctl_redis_run(ctl_t *ctl, ac_cmd_t *cmd)
{
    redisReply  *r;

    if (ctl->redis == NULL && ctl_redis_connect(ctl) != AC_OK) {
        return NULL;
    }

    if (ac_cmd_status(cmd) != AC_OK) {
        ctl_fail(CTL_EXIT_FAIL, "Redis command too long");
        return NULL;
    }

    r = redisCommandArgv(ctl->redis, cmd->argc, cmd->argv, cmd->argvlen);
    if (r == NULL) {
        ctl_fail(CTL_EXIT_FAIL, "Redis: %s", ctl->redis->errstr);
        return NULL;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        ctl_fail(CTL_EXIT_FAIL, "Redis: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }

    return r;
}


int
ctl_redis_exec(ctl_t *ctl, ac_cmd_t *cmd)
{
    redisReply  *r;

    r = ctl_redis_run(ctl, cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    freeReplyObject(r);

    return CTL_EXIT_OK;
}


int
ctl_redis_integer(ctl_t *ctl, int rc, ac_cmd_t *cmd, int64_t *n)
{
    redisReply  *r;

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "%s", ac_strerror(rc));
    }

    r = ctl_redis_run(ctl, cmd);
    if (r == NULL) {
        return CTL_EXIT_FAIL;
    }

    rc = ac_reply_integer(r, n);
    freeReplyObject(r);

    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "unexpected Redis reply");
    }

    return CTL_EXIT_OK;
}


int
ctl_redis_append(ctl_t *ctl, ac_cmd_t *cmd)
{
    if (redisAppendCommandArgv(ctl->redis, cmd->argc, cmd->argv,
                               cmd->argvlen)
        != REDIS_OK)
    {
        return ctl_fail(CTL_EXIT_FAIL, "out of memory");
    }

    return CTL_EXIT_OK;
}


redisReply *
ctl_redis_get(ctl_t *ctl)
{
    void  *reply;

    if (redisGetReply(ctl->redis, &reply) != REDIS_OK) {
        ctl_fail(CTL_EXIT_FAIL, "Redis: %s", ctl->redis->errstr);
        return NULL;
    }

    return reply;
}
