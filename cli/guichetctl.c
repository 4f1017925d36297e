/*
 * guichetctl: Guichet's admin tool. main() finds the configuration,
 * picks a command from the table below, parses its options, loads what
 * it needs (keys, a Redis connection) and runs it.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guichetctl.h"


static int ctl_cmd_init(ctl_t *ctl);
static const ctl_command_t *ctl_find(int argc, char **argv, int *used);
static int ctl_parse(const ctl_command_t *c, int argc, char **argv,
    ctl_args_t *args);
static void ctl_usage(FILE *out);


static const ctl_opt_spec_t  ctl_opts_none[] = {
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_json[] = {
    { "json", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_user_add[] = {
    { "role", 1 },
    { "password-stdin", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_passwd[] = {
    { "password-stdin", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_role[] = {
    { "add", 1 },
    { "remove", 1 },
    { "set", 1 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_erase[] = {
    { "yes", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_retention[] = {
    { "as-of", 1 },
    { "dry-run", 0 },
    { "json", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_mail_run[] = {
    { "once", 0 },
    { "consumer", 1 },
    { "claim-idle", 1 },
    { "ca-file", 1 },
    { "tls-name", 1 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_partner_add[] = {
    { "alg", 1 },
    { "key-file", 1 },
    { "no-provision", 0 },
    { "require-2fa", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_partner_rotate[] = {
    { "alg", 1 },
    { "key-file", 1 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_partner_try[] = {
    { "key-file", 1 },
    { "email", 1 },
    { "base-url", 1 },
    { "json", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_invitations[] = {
    { "partner", 1 },
    { "base-url", 1 },
    { "json", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_logs[] = {
    { "account", 1 },
    { "email", 1 },
    { "ip", 1 },
    { "event", 1 },
    { "result", 1 },
    { "partner", 1 },
    { "since", 1 },
    { "until", 1 },
    { "limit", 1 },
    { "json", 0 },
    { "csv", 0 },
    { "follow", 0 },
    { NULL, 0 }
};

static const ctl_opt_spec_t  ctl_opts_anomalies[] = {
    { "since", 1 },
    { "json", 0 },
    { NULL, 0 }
};


#define KR  (CTL_NEED_KEYS | CTL_NEED_REDIS)

static const ctl_command_t  ctl_commands[] = {
    { "init", NULL, "init", ctl_opts_none, 0, 0, ctl_cmd_init },

    { "user", "add",
      "user add EMAIL [--role ROLE]... --password-stdin",
      ctl_opts_user_add, 1, KR, ctl_cmd_user_add },
    { "user", "list", "user list [--json]",
      ctl_opts_json, 0, KR, ctl_cmd_user_list },
    { "user", "show", "user show EMAIL [--json]",
      ctl_opts_json, 1, KR, ctl_cmd_user_show },
    { "user", "lock", "user lock EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_user_lock },
    { "user", "unlock", "user unlock EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_user_unlock },
    { "user", "passwd", "user passwd EMAIL --password-stdin",
      ctl_opts_passwd, 1, KR, ctl_cmd_user_passwd },
    { "user", "role",
      "user role EMAIL [--add ROLE] [--remove ROLE] [--set ROLE,ROLE]",
      ctl_opts_role, 1, KR, ctl_cmd_user_role },
    { "user", "unlink", "user unlink EMAIL PARTNER",
      ctl_opts_none, 2, KR, ctl_cmd_user_unlink },
    { "user", "erase", "user erase EMAIL --yes",
      ctl_opts_erase, 1, KR, ctl_cmd_user_erase },
    { "user", "export", "user export EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_user_export },
    { "user", "restrict", "user restrict EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_user_restrict },
    { "user", "unrestrict", "user unrestrict EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_user_unrestrict },
    { "user", "rename", "user rename OLD_EMAIL NEW_EMAIL",
      ctl_opts_none, 2, KR, ctl_cmd_user_rename },
    { "retention", "run",
      "retention run [--as-of DATE] [--dry-run] [--json]",
      ctl_opts_retention, 0, KR, ctl_cmd_retention_run },

    { "totp", "enroll", "totp enroll EMAIL [--json]",
      ctl_opts_json, 1, KR, ctl_cmd_totp_enroll },
    { "totp", "disable", "totp disable EMAIL",
      ctl_opts_none, 1, KR, ctl_cmd_totp_disable },
    { "recovery-codes", NULL, "recovery-codes EMAIL [--json]",
      ctl_opts_json, 1, KR, ctl_cmd_recovery_codes },

    { "partner", "add",
      "partner add ID --alg ES256|RS256|HS256 --key-file FILE"
      " [--no-provision] [--require-2fa]",
      ctl_opts_partner_add, 1, KR, ctl_cmd_partner_add },
    { "partner", "list", "partner list [--json]",
      ctl_opts_json, 0, KR, ctl_cmd_partner_list },
    { "partner", "show", "partner show ID [--json]",
      ctl_opts_json, 1, KR, ctl_cmd_partner_show },
    { "partner", "remove", "partner remove ID",
      ctl_opts_none, 1, KR, ctl_cmd_partner_remove },
    { "partner", "rotate",
      "partner rotate ID --key-file FILE [--alg ES256|RS256|HS256]",
      ctl_opts_partner_rotate, 1, KR, ctl_cmd_partner_rotate },
    { "partner", "try",
      "partner try ID --key-file PRIVATE_KEY --email ADDRESS"
      " [--base-url URL] [--json]",
      ctl_opts_partner_try, 1, KR, ctl_cmd_partner_try },
    { "invitations", "list",
      "invitations list [--partner ID] [--base-url URL] [--json]",
      ctl_opts_invitations, 0, KR, ctl_cmd_invitations_list },

    { "mail", "run",
      "mail run [--once] [--consumer NAME] [--claim-idle SECONDS]"
      " [--ca-file FILE] [--tls-name NAME]",
      ctl_opts_mail_run, 0, KR, ctl_cmd_mail_run },
    { "mail", "failed", "mail failed [--json]",
      ctl_opts_json, 0, KR, ctl_cmd_mail_failed },
    { "mail", "retry", "mail retry ID|all",
      ctl_opts_none, 1, KR, ctl_cmd_mail_retry },

    /* the subcommands first: "logs" alone is a command too */
    { "logs", "verify", "logs verify [--json]",
      ctl_opts_json, 0, KR, ctl_cmd_logs_verify },
    { "logs", "anomalies", "logs anomalies [--since T] [--json]",
      ctl_opts_anomalies, 0, KR, ctl_cmd_logs_anomalies },
    { "logs", NULL,
      "logs [--account ID|EMAIL] [--email E] [--ip IP|CIDR]"
      " [--event NAME]... [--result ok|fail] [--partner ID] [--since T]"
      " [--until T] [--limit N] [--json|--csv] [--follow]",
      ctl_opts_logs, 0, KR, ctl_cmd_logs },

    { NULL, NULL, NULL, NULL, 0, 0, NULL }
};


int
main(int argc, char **argv)
{
    int                   i, n, used, rc, status;
    char                 *rest[CTL_ARGS_MAX * 2];
    const char           *env;
    ac_error_t            err;
    ctl_t                 ctl;
    const ctl_command_t  *c;

    memset(&ctl, 0, sizeof(ctl));
    n = 0;

    /* --config may come anywhere before "--"; everything else is left
     * for the command's own parser. */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            for ( /* void */ ; i < argc; i++) {
                if (n == CTL_ARGS_MAX * 2) {
                    return ctl_fail(CTL_EXIT_USAGE, "too many arguments");
                }
                rest[n++] = argv[i];
            }
            break;
        }

        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 == argc) {
                return ctl_fail(CTL_EXIT_USAGE, "--config needs a file");
            }
            ctl.config_path = argv[++i];
            continue;
        }

        if (strncmp(argv[i], "--config=", 9) == 0) {
            ctl.config_path = argv[i] + 9;
            continue;
        }

        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0
            || (n == 0 && strcmp(argv[i], "help") == 0))
        {
            ctl_usage(stdout);
            return CTL_EXIT_OK;
        }

        if (n == CTL_ARGS_MAX * 2) {
            return ctl_fail(CTL_EXIT_USAGE, "too many arguments");
        }
        rest[n++] = argv[i];
    }

    if (n == 0) {
        ctl_usage(stderr);
        return CTL_EXIT_USAGE;
    }

    c = ctl_find(n, rest, &used);
    if (c == NULL) {
        return CTL_EXIT_USAGE;
    }

    rc = ctl_parse(c, n - used, rest + used, &ctl.args);
    if (rc != CTL_EXIT_OK) {
        fprintf(stderr, "usage: guichetctl [--config FILE] %s\n", c->usage);
        return rc;
    }

    ctl.json = ctl_has_opt(&ctl, "json");

    if (ctl.config_path == NULL) {
        env = getenv("GUICHET_CONFIG");
        ctl.config_path = (env != NULL && env[0] != '\0')
                          ? env : AC_CONFIG_DEFAULT_PATH;
    }

    if (ac_init() != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "cannot initialise authcore");
    }

    memset(&err, 0, sizeof(err));
    rc = ac_config_load(ctl.config_path, &ctl.cfg, &err);
    if (rc != AC_OK) {
        status = ctl_fail(CTL_EXIT_USAGE, "%s",
                          err.msg[0] ? err.msg : ac_strerror(rc));
        goto done;
    }

    if (c->needs & CTL_NEED_KEYS) {
        memset(&err, 0, sizeof(err));
        rc = ac_keys_load(ctl.cfg->secret_file, &ctl.keys, &err);
        if (rc != AC_OK) {
            status = ctl_fail(CTL_EXIT_USAGE,
                              "cannot load secret_file: %s"
                              " (\"guichetctl init\" creates it)",
                              err.msg[0] ? err.msg : ac_strerror(rc));
            goto done;
        }
    }

    status = c->run(&ctl);

done:

    ctl_redis_close(&ctl);
    ac_keys_free(ctl.keys);
    ac_config_free(ctl.cfg);
    ac_done();

    if (fflush(stdout) != 0 && status == CTL_EXIT_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "cannot write output: %s",
                        strerror(errno));
    }

    return status;
}


static const ctl_command_t *
ctl_find(int argc, char **argv, int *used)
{
    int                   group;
    const ctl_command_t  *c;

    group = 0;

    for (c = ctl_commands; c->group != NULL; c++) {
        if (strcmp(c->group, argv[0]) != 0) {
            continue;
        }

        group = 1;

        if (c->name == NULL) {
            *used = 1;
            return c;
        }

        if (argc > 1 && strcmp(c->name, argv[1]) == 0) {
            *used = 2;
            return c;
        }
    }

    if (group) {
        fprintf(stderr, "guichetctl: %s needs a subcommand:\n", argv[0]);
        for (c = ctl_commands; c->group != NULL; c++) {
            if (strcmp(c->group, argv[0]) == 0) {
                fprintf(stderr, "  guichetctl %s\n", c->usage);
            }
        }
        return NULL;
    }

    /* never echo arguments back: one of them could be a secret */
    fprintf(stderr, "guichetctl: unknown command"
            " (\"guichetctl --help\" lists them)\n");

    return NULL;
}


static int
ctl_parse(const ctl_command_t *c, int argc, char **argv, ctl_args_t *args)
{
    int                    i, opts_done;
    size_t                 namelen, k;
    const char            *a, *value, *eq;
    ctl_opt_t             *o;
    const ctl_opt_spec_t  *s;

    memset(args, 0, sizeof(*args));
    opts_done = 0;

    for (i = 0; i < argc; i++) {
        a = argv[i];

        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
            continue;
        }

        if (opts_done || a[0] != '-' || a[1] == '\0') {
            if (args->npos == CTL_ARGS_MAX) {
                return ctl_fail(CTL_EXIT_USAGE, "too many arguments");
            }
            args->pos[args->npos++] = a;
            continue;
        }

        if (a[1] != '-') {
            return ctl_fail(CTL_EXIT_USAGE, "unknown option");
        }

        a += 2;
        eq = strchr(a, '=');
        namelen = eq ? (size_t) (eq - a) : strlen(a);

        if (namelen >= 8 && strncmp(a, "password", 8) == 0
            && !(namelen == 14 && strncmp(a, "password-stdin", 14) == 0))
        {
            return ctl_fail(CTL_EXIT_USAGE, "passwords are never taken from"
                            " the command line; use --password-stdin");
        }

        for (s = c->opts; s->name != NULL; s++) {
            if (strlen(s->name) == namelen
                && strncmp(s->name, a, namelen) == 0)
            {
                break;
            }
        }

        if (s->name == NULL) {
            return ctl_fail(CTL_EXIT_USAGE, "unknown option --%.*s",
                            (int) (namelen > 40 ? 40 : namelen), a);
        }

        value = NULL;

        if (s->has_value) {
            if (eq != NULL) {
                value = eq + 1;

            } else if (i + 1 < argc) {
                value = argv[++i];

            } else {
                return ctl_fail(CTL_EXIT_USAGE, "--%s needs a value",
                                s->name);
            }

        } else if (eq != NULL) {
            return ctl_fail(CTL_EXIT_USAGE, "--%s takes no value", s->name);
        }

        for (k = 0; k < args->nopts; k++) {
            if (args->opts[k].name == s->name) {
                break;
            }
        }

        o = &args->opts[k];

        if (k == args->nopts) {
            if (args->nopts == CTL_ARGS_MAX) {
                return ctl_fail(CTL_EXIT_USAGE, "too many options");
            }
            args->nopts++;
            o->name = s->name;
        }

        if (o->count == CTL_OPT_VALUES) {
            return ctl_fail(CTL_EXIT_USAGE, "--%s given too often", s->name);
        }

        o->values[o->count++] = value;
    }

    if (args->npos != c->npos) {
        return ctl_fail(CTL_EXIT_USAGE, "%s arguments",
                        args->npos < c->npos ? "missing" : "too many");
    }

    return CTL_EXIT_OK;
}


static void
ctl_usage(FILE *out)
{
    const ctl_command_t  *c;

    fprintf(out, "usage: guichetctl [--config FILE] COMMAND ...\n\n"
            "The configuration is --config FILE, else $GUICHET_CONFIG,"
            " else " AC_CONFIG_DEFAULT_PATH ".\n\ncommands:\n");

    for (c = ctl_commands; c->group != NULL; c++) {
        fprintf(out, "  %s\n", c->usage);
    }

    fprintf(out, "\nexit status: 0 ok, 1 failure, 2 bad usage or bad"
            " configuration\n");
}


static int
ctl_cmd_init(ctl_t *ctl)
{
    int          rc;
    struct stat  st;
    ac_error_t   err;
    ac_keys_t   *keys;
    const char  *path;

    path = ctl->cfg->secret_file;
    memset(&err, 0, sizeof(err));

    if (stat(path, &st) == 0) {
        rc = ac_keys_load(path, &keys, &err);
        if (rc != AC_OK) {
            return ctl_fail(CTL_EXIT_FAIL, "%s exists but is not a usable"
                            " secret (%s); refusing to overwrite it", path,
                            err.msg[0] ? err.msg : ac_strerror(rc));
        }

        ac_keys_free(keys);
        printf("secret file %s already exists and is valid\n", path);
        return CTL_EXIT_OK;
    }

    if (errno != ENOENT) {
        return ctl_fail(CTL_EXIT_FAIL, "%s: %s", path, strerror(errno));
    }

    rc = ac_secret_create(path, &err);
    if (rc != AC_OK) {
        return ctl_fail(CTL_EXIT_FAIL, "cannot create %s: %s", path,
                        err.msg[0] ? err.msg : ac_strerror(rc));
    }

    printf("created secret file %s\n", path);

    return CTL_EXIT_OK;
}
