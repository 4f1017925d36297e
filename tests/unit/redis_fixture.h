/*
 * A real redis-server for a unit test: started on a free 127.0.0.1 port
 * in a fresh mkdtemp directory, with no persistence, waited for until it
 * answers PING, and stopped by its pid. The server dies with the test
 * process even if the test crashes (PR_SET_PDEATHSIG).
 *
 *     redis_fixture_t  rf;
 *     if (redis_fixture_start(&rf) != 0) { ...skip or fail... }
 *     redisContext *c = redis_fixture_connect(&rf);
 *     ...
 *     redis_fixture_stop(&rf);
 */

#ifndef GUICHET_REDIS_FIXTURE_H
#define GUICHET_REDIS_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "authcore.h"

#ifndef REDIS_FIXTURE_SERVER
#define REDIS_FIXTURE_SERVER  "redis-server"
#endif

typedef struct {
    pid_t  pid;
    int    port;
    char   dir[64];
    char   log[96];
} redis_fixture_t;


/* A port the kernel just considered free; racy, hence the retries. */

static int
redis_fixture_free_port(void)
{
    int                 fd, port;
    socklen_t           len;
    struct sockaddr_in  sa;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    len = sizeof(sa);

    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
    {
        close(fd);
        return -1;
    }

    port = ntohs(sa.sin_port);
    close(fd);

    return port;
}


static redisContext *
redis_fixture_connect(const redis_fixture_t *rf)
{
    redisContext    *c;
    struct timeval   tv = { 2, 0 };

    c = redisConnectWithTimeout("127.0.0.1", rf->port, tv);
    if (c == NULL) {
        return NULL;
    }

    if (c->err) {
        redisFree(c);
        return NULL;
    }

    redisSetTimeout(c, tv);
    return c;
}


static int
redis_fixture_ping(const redis_fixture_t *rf)
{
    int            ok;
    redisReply    *r;
    redisContext  *c;

    c = redis_fixture_connect(rf);
    if (c == NULL) {
        return 0;
    }

    r = redisCommand(c, "PING");
    ok = r != NULL && r->type == REDIS_REPLY_STATUS
         && strcmp(r->str, "PONG") == 0;

    if (r != NULL) {
        freeReplyObject(r);
    }

    redisFree(c);
    return ok;
}


static void
redis_fixture_cleanup_dir(redis_fixture_t *rf)
{
    char  path[128];

    unlink(rf->log);
    snprintf(path, sizeof(path), "%s/dump.rdb", rf->dir);
    unlink(path);
    rmdir(rf->dir);
}


static void
redis_fixture_stop(redis_fixture_t *rf)
{
    int  status, i;

    if (rf->pid > 0) {
        kill(rf->pid, SIGTERM);

        for (i = 0; i < 500; i++) {
            if (waitpid(rf->pid, &status, WNOHANG) == rf->pid) {
                break;
            }
            usleep(10000);
        }

        if (i == 500) {
            kill(rf->pid, SIGKILL);
            waitpid(rf->pid, &status, 0);
        }

        rf->pid = 0;
    }

    if (rf->dir[0] != '\0') {
        redis_fixture_cleanup_dir(rf);
        rf->dir[0] = '\0';
    }
}


static int
redis_fixture_try(redis_fixture_t *rf)
{
    int    i, status;
    char   port[16];
    pid_t  pid, parent;

    rf->port = redis_fixture_free_port();
    if (rf->port < 0) {
        return -1;
    }

    snprintf(port, sizeof(port), "%d", rf->port);
    parent = getpid();

    pid = fork();
    if (pid < 0) {
        return -1;
    }

    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }

        execlp(REDIS_FIXTURE_SERVER, REDIS_FIXTURE_SERVER,
               "--port", port, "--bind", "127.0.0.1",
               "--dir", rf->dir, "--logfile", rf->log,
               "--save", "", "--appendonly", "no",
               "--daemonize", "no", "--protected-mode", "yes",
               (char *) NULL);
        _exit(127);
    }

    rf->pid = pid;

    for (i = 0; i < 500; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rf->pid = 0;
            return -1;
        }

        if (redis_fixture_ping(rf)) {
            return 0;
        }

        usleep(10000);
    }

    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    rf->pid = 0;

    return -1;
}


static int
redis_fixture_start(redis_fixture_t *rf)
{
    int  attempt;

    memset(rf, 0, sizeof(redis_fixture_t));

    strcpy(rf->dir, "/tmp/guichet-redis-XXXXXX");
    if (mkdtemp(rf->dir) == NULL) {
        rf->dir[0] = '\0';
        return -1;
    }

    snprintf(rf->log, sizeof(rf->log), "%s/redis.log", rf->dir);

    for (attempt = 0; attempt < 5; attempt++) {
        if (redis_fixture_try(rf) == 0) {
            return 0;
        }
    }

    fprintf(stderr, "redis_fixture: %s did not start (see %s)\n",
            REDIS_FIXTURE_SERVER, rf->log);
    redis_fixture_stop(rf);

    return -1;
}



/* An authcore command sent on c; NULL when the connection failed. */

static __attribute__((unused)) redisReply *
redis_fixture_run(redisContext *c, ac_cmd_t *cmd)
{
    return redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
}


/* Its integer reply, or REDIS_FIXTURE_NO_INT for anything else (a Redis
 * error is printed). */

#define REDIS_FIXTURE_NO_INT  (-1000)

static __attribute__((unused)) int64_t
redis_fixture_int(redisContext *c, ac_cmd_t *cmd)
{
    int64_t      v;
    redisReply  *r;

    r = redis_fixture_run(c, cmd);
    if (r == NULL) {
        return REDIS_FIXTURE_NO_INT;
    }

    if (ac_reply_integer(r, &v) != AC_OK) {
        if (r->type == REDIS_REPLY_ERROR) {
            printf("    redis error: %s\n", r->str);
        }
        v = REDIS_FIXTURE_NO_INT;
    }

    freeReplyObject(r);

    return v;
}


#endif /* GUICHET_REDIS_FIXTURE_H */
