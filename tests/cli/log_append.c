/*
 * Test helper: appends connection log events the way the gateway does
 * (ac_cmd_log_append on the current head, the account's log key from
 * its "lk" field), so that the CLI's readers see real, chained entries.
 *
 *   log_append CONFIG < EVENTS
 *
 * One event per line, tab-separated, empty for absent:
 *   EVENT FAILED(0|1) ACCOUNT_ID EMAIL IP USER_AGENT PARTNER REASON
 * Exit 0 when every event was appended, 2 otherwise.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <authcore.h>
#include <hiredis/hiredis.h>


#define NFIELDS  8


static redisReply *
run(redisContext *c, ac_cmd_t *cmd)
{
    redisReply  *r;

    r = redisCommandArgv(c, cmd->argc, cmd->argv, cmd->argvlen);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "log_append: redis: %s\n",
                r ? r->str : c->errstr);
        if (r != NULL) {
            freeReplyObject(r);
        }
        return NULL;
    }

    return r;
}


static int
log_key(redisContext *c, const ac_config_t *cfg, const ac_keys_t *keys,
    const char *account, unsigned char key[AC_LOG_KEY_LEN])
{
    int          rc;
    ac_cmd_t     cmd;
    redisReply  *r;
    char         sealed[AC_LOG_KEY_SEALED_MAX];

    if (ac_cmd_log_key_get(&cmd, cfg, account) != AC_OK
        || (r = run(c, &cmd)) == NULL)
    {
        return -1;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);

        if (ac_log_key_new(keys, account, key, sealed) != AC_OK
            || ac_cmd_log_key_init(&cmd, cfg, account, sealed) != AC_OK
            || (r = run(c, &cmd)) == NULL)
        {
            return -1;
        }
    }

    rc = -1;

    if (r->type == REDIS_REPLY_STRING
        && ac_log_key_unseal(keys, account, r->str, r->len, key) == AC_OK)
    {
        rc = 0;
    }

    freeReplyObject(r);

    return rc;
}


int
main(int argc, char **argv)
{
    int             rc, i, status, n;
    char            line[4096], *f[NFIELDS], *p, *tab;
    uint64_t        seq;
    ac_cmd_t        cmd;
    ac_error_t      err;
    ac_keys_t      *keys;
    ac_event_t      ev;
    ac_config_t    *cfg;
    redisReply     *r;
    redisContext   *c;
    struct timeval  tv;
    unsigned char   hash[AC_MAC_LEN], key[AC_LOG_KEY_LEN];

    if (argc != 2) {
        fprintf(stderr, "usage: log_append CONFIG < EVENTS\n");
        return 2;
    }

    keys = NULL;
    cfg = NULL;
    c = NULL;
    status = 2;
    memset(&err, 0, sizeof(err));

    if (ac_init() != AC_OK
        || ac_config_load(argv[1], &cfg, &err) != AC_OK
        || ac_keys_load(cfg->secret_file, &keys, &err) != AC_OK)
    {
        fprintf(stderr, "log_append: %s\n", err.msg);
        goto done;
    }

    c = redisConnect(cfg->redis.host, cfg->redis.port);
    if (c == NULL || c->err) {
        fprintf(stderr, "log_append: cannot connect\n");
        goto done;
    }

    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0') {
            continue;
        }

        p = line;
        for (n = 0; n < NFIELDS; n++) {
            f[n] = p;
            tab = p ? strchr(p, '\t') : NULL;
            if (tab != NULL) {
                *tab = '\0';
                p = tab + 1;
            } else {
                p = NULL;
            }
            if (f[n] == NULL) {
                f[n] = "";
            }
        }

        memset(&ev, 0, sizeof(ev));

        if (ac_event_parse(f[0], strlen(f[0]), &ev.kind) != AC_OK) {
            fprintf(stderr, "log_append: unknown event\n");
            goto done;
        }

        ev.failed = f[1][0] == '1';
        ev.account = f[2];
        ev.account_len = strlen(f[2]);
        ev.email = f[3];
        ev.email_len = strlen(f[3]);
        ev.ip = f[4];
        ev.ip_len = strlen(f[4]);
        ev.ua = f[5];
        ev.ua_len = strlen(f[5]);
        ev.partner = f[6];
        ev.partner_len = strlen(f[6]);
        ev.reason = f[7];
        ev.reason_len = strlen(f[7]);

        if (ev.account_len > 0) {
            if (log_key(c, cfg, keys, f[2], key) != 0) {
                fprintf(stderr, "log_append: no log key for %s\n", f[2]);
                goto done;
            }
            ev.log_key = key;
        }

        if (ac_cmd_log_head(&cmd, cfg) != AC_OK
            || (r = run(c, &cmd)) == NULL)
        {
            goto done;
        }

        rc = ac_log_head_parse(r, &seq, hash);
        freeReplyObject(r);

        for (i = 0; rc == AC_OK && i < AC_LOG_RETRIES; i++) {
            gettimeofday(&tv, NULL);

            rc = ac_cmd_log_append(&cmd, cfg, keys, &ev, seq, hash,
                                   (int64_t) tv.tv_sec * 1000
                                   + tv.tv_usec / 1000, NULL);
            if (rc != AC_OK || (r = run(c, &cmd)) == NULL) {
                rc = AC_ERR_REDIS;
                break;
            }

            rc = ac_log_append_reply(r, &seq, hash);
            freeReplyObject(r);

            if (rc != AC_LOG_CONFLICT) {
                break;
            }
        }

        if (rc != AC_OK) {
            fprintf(stderr, "log_append: %s\n", ac_strerror(rc));
            goto done;
        }
    }

    status = 0;

done:

    ac_cleanse(key, sizeof(key));

    if (c != NULL) {
        redisFree(c);
    }

    ac_keys_free(keys);
    ac_config_free(cfg);

    return status;
}
