/*
 * guichet.conf parsing: defaults, every key, units, and the errors a
 * careless or hostile file must produce (file, line and key named).
 */

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authcore.h"
#include "check.h"


static char  tmpdir[64];
static char  conf_path[128];


static void
write_file(const char *path, const char *text, mode_t mode)
{
    FILE  *f;

    unlink(path);
    f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }

    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}


/* Loads text as a config file; on failure *msg gets err.msg. */

static int
load(const char *text, ac_config_t **cfg, ac_error_t *err)
{
    write_file(conf_path, text, 0644);
    memset(err, 0, sizeof(ac_error_t));
    *cfg = NULL;

    return ac_config_load(conf_path, cfg, err);
}


/* The file must be refused, the message naming line and key. */

static int
refused(const char *text, int line, const char *needle)
{
    int           rc, ok;
    char          where[160];
    ac_error_t    err;
    ac_config_t  *cfg;

    rc = load(text, &cfg, &err);
    ok = 1;

    if (rc != AC_ERR_CONFIG || cfg != NULL || err.code != AC_ERR_CONFIG) {
        printf("    accepted or wrong code %d: %s", rc, text);
        ok = 0;
    }

    snprintf(where, sizeof(where), "%s:%d: ", conf_path, line);

    if (line > 0 && strncmp(err.msg, where, strlen(where)) != 0) {
        printf("    message \"%s\" does not start with \"%s\"\n", err.msg,
               where);
        ok = 0;
    }

    if (strstr(err.msg, needle) == NULL) {
        printf("    message \"%s\" lacks \"%s\"\n", err.msg, needle);
        ok = 0;
    }

    ac_config_free(cfg);
    return ok;
}


TEST(test_duration)
{
    int64_t  s;

    CHECK_INT(ac_parse_duration("30m", &s), AC_OK);
    CHECK_INT(s, 1800);
    CHECK_INT(ac_parse_duration("12h", &s), AC_OK);
    CHECK_INT(s, 43200);
    CHECK_INT(ac_parse_duration("365d", &s), AC_OK);
    CHECK_INT(s, 31536000);
    CHECK_INT(ac_parse_duration("3y", &s), AC_OK);
    CHECK_INT(s, 3 * 31536000);
    CHECK_INT(ac_parse_duration("2w", &s), AC_OK);
    CHECK_INT(s, 14 * 86400);
    CHECK_INT(ac_parse_duration("45s", &s), AC_OK);
    CHECK_INT(s, 45);
    CHECK_INT(ac_parse_duration("1h30m", &s), AC_OK);
    CHECK_INT(s, 5400);
    CHECK_INT(ac_parse_duration("2000ms", &s), AC_OK);
    CHECK_INT(s, 2);
    CHECK_INT(ac_parse_duration("0s", &s), AC_OK);
    CHECK_INT(s, 0);

    s = 77;
    CHECK_INT(ac_parse_duration("1500ms", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("30", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("m", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("-5m", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("+5m", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("5 m", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("5M", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("5min", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("1.5h", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("5mm", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("99999999999999999999s", &s),
              AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration("999999999999y", &s), AC_ERR_INVALID);
    CHECK_INT(ac_parse_duration(NULL, &s), AC_ERR_INVALID);
    CHECK_INT(s, 77);
}


TEST(test_defaults)
{
    int                 rc;
    char                want[256];
    ac_error_t          err;
    ac_config_t        *cfg;
    ac_argon2_params_t  ap;

    rc = load("secret_file = secret.key\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg == NULL) {
        printf("    %s\n", err.msg);
        return;
    }

    CHECK_STR(cfg->file, conf_path);
    CHECK_STR(cfg->redis.host, "127.0.0.1");
    CHECK_INT(cfg->redis.port, 6379);
    CHECK(cfg->redis.unix_path == NULL);
    CHECK(cfg->redis_password_file == NULL);
    CHECK(cfg->redis_password == NULL);
    CHECK_INT(cfg->redis_db, 0);
    CHECK_INT(cfg->nredis_sentinels, 0);
    CHECK(cfg->redis_master == NULL);
    CHECK_INT(cfg->redis_timeout_ms, 500);
    CHECK_STR(cfg->key_prefix, "guichet:");
    CHECK_STR(cfg->audience, "guichet");
    CHECK_INT(cfg->session_idle, 30 * 60);
    CHECK_INT(cfg->session_max, 12 * 3600);
    CHECK_INT(cfg->pending_ttl, 300);
    CHECK_INT(cfg->reauth_window, 300);
    CHECK_INT(cfg->argon2_t, 2);
    CHECK_INT(cfg->argon2_m, 19456);
    CHECK_INT(cfg->argon2_p, 1);
    CHECK_STR(cfg->totp_issuer, "Guichet");
    CHECK_INT(cfg->nallowed_redirect_hosts, 0);
    CHECK_INT(cfg->throttle_free, 5);
    CHECK_INT(cfg->throttle_window, 900);
    CHECK_INT(cfg->throttle_max_delay, 900);
    CHECK_INT(cfg->log_retention, 365 * 86400);
    CHECK_INT(cfg->inactive_account_retention, 3 * 365 * 86400);

    /* relative to the directory of the file, whatever the cwd */
    snprintf(want, sizeof(want), "%s/secret.key", tmpdir);
    CHECK_STR(cfg->secret_file, want);

    ac_argon2_params_from_config(cfg, &ap);
    CHECK_INT(ap.t, 2);
    CHECK_INT(ap.m, 19456);
    CHECK_INT(ap.p, 1);

    ac_config_free(cfg);
}


TEST(test_every_key)
{
    int           rc;
    char          text[2048], pwfile[160];
    ac_error_t    err;
    ac_config_t  *cfg;

    snprintf(pwfile, sizeof(pwfile), "%s/redis.pw", tmpdir);
    write_file(pwfile, "s3cret pass\r\nsecond line\n", 0640);

    snprintf(text, sizeof(text),
             "# a comment\n"
             "\n"
             "   # an indented comment\n"
             "redis = [::1]:6380\n"
             "redis_password_file = redis.pw\n"
             "redis_db = 3\n"
             "redis_sentinels = 10.0.0.1:26379, 10.0.0.2 ,[2001:db8::7]:1\n"
             "redis_master = mymaster\n"
             "redis_timeout = 250ms\n"
             "key_prefix = app1:\n"
             "secret_file = /etc/guichet/secret.key\n"
             "audience = https://auth.example.org\n"
             "session_idle = 20m\n"
             "session_max = 8h\n"
             "pending_ttl = 3m\n"
             "reauth_window = 10m\n"
             "argon2_t = 3\n"
             "argon2_m = 64m\n"
             "argon2_p = 2\n"
             "totp_issuer = Caisse d'aide sociale\n"
             "allowed_redirect_hosts = HTTPS://App.Example.ORG:443/, "
             "http://10.1.2.3:8080 https://[2001:DB8::1]:8443\n"
             "throttle_free = 3\n"
             "throttle_window = 1h\n"
             "throttle_max_delay = 5m\n"
             "log_retention = 180d\n"
             "inactive_account_retention = 2y\n");

    rc = load(text, &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg == NULL) {
        printf("    %s\n", err.msg);
        return;
    }

    CHECK_STR(cfg->redis.host, "::1");
    CHECK_INT(cfg->redis.port, 6380);
    CHECK_STR(cfg->redis_password, "s3cret pass");
    CHECK_STR(cfg->redis_password_file, pwfile);
    CHECK_INT(cfg->redis_db, 3);
    CHECK_INT(cfg->nredis_sentinels, 3);
    if (cfg->nredis_sentinels == 3) {
        CHECK_STR(cfg->redis_sentinels[0].host, "10.0.0.1");
        CHECK_INT(cfg->redis_sentinels[0].port, 26379);
        CHECK_STR(cfg->redis_sentinels[1].host, "10.0.0.2");
        CHECK_INT(cfg->redis_sentinels[1].port, 26379);
        CHECK_STR(cfg->redis_sentinels[2].host, "2001:db8::7");
        CHECK_INT(cfg->redis_sentinels[2].port, 1);
    }
    CHECK_STR(cfg->redis_master, "mymaster");
    CHECK_INT(cfg->redis_timeout_ms, 250);
    CHECK_STR(cfg->key_prefix, "app1:");
    CHECK_STR(cfg->secret_file, "/etc/guichet/secret.key");
    CHECK_STR(cfg->audience, "https://auth.example.org");
    CHECK_INT(cfg->session_idle, 1200);
    CHECK_INT(cfg->session_max, 8 * 3600);
    CHECK_INT(cfg->pending_ttl, 180);
    CHECK_INT(cfg->reauth_window, 600);
    CHECK_INT(cfg->argon2_t, 3);
    CHECK_INT(cfg->argon2_m, 65536);
    CHECK_INT(cfg->argon2_p, 2);
    CHECK_STR(cfg->totp_issuer, "Caisse d'aide sociale");
    CHECK_INT(cfg->nallowed_redirect_hosts, 3);
    if (cfg->nallowed_redirect_hosts == 3) {
        CHECK_STR(cfg->allowed_redirect_hosts[0], "https://app.example.org");
        CHECK_STR(cfg->allowed_redirect_hosts[1], "http://10.1.2.3:8080");
        CHECK_STR(cfg->allowed_redirect_hosts[2],
                  "https://[2001:db8::1]:8443");
    }
    CHECK_INT(cfg->throttle_free, 3);
    CHECK_INT(cfg->throttle_window, 3600);
    CHECK_INT(cfg->throttle_max_delay, 300);
    CHECK_INT(cfg->log_retention, 180 * 86400);
    CHECK_INT(cfg->inactive_account_retention, 2 * 365 * 86400);

    ac_config_free(cfg);
    unlink(pwfile);
}


TEST(test_redis_endpoints)
{
    int           rc;
    char          want[256];
    ac_error_t    err;
    ac_config_t  *cfg;

    rc = load("secret_file = s\nredis = unix:run/redis.sock\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        snprintf(want, sizeof(want), "%s/run/redis.sock", tmpdir);
        CHECK_STR(cfg->redis.unix_path, want);
        CHECK(cfg->redis.host == NULL);
        ac_config_free(cfg);
    }

    rc = load("secret_file = s\nredis = unix:/var/run/r.sock\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        CHECK_STR(cfg->redis.unix_path, "/var/run/r.sock");
        ac_config_free(cfg);
    }

    rc = load("secret_file = s\nredis = 192.168.1.9\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        CHECK_STR(cfg->redis.host, "192.168.1.9");
        CHECK_INT(cfg->redis.port, 6379);
        ac_config_free(cfg);
    }

    /* a name would need DNS at request time */
    CHECK(refused("secret_file = s\nredis = localhost:6379\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = redis.internal:6379\n", 2,
                  "host names are not allowed"));
    CHECK(refused("secret_file = s\nredis = ::1:6379\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = [::1:6379\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = [::1]x\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 127.0.0.1:0\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 127.0.0.1:65536\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 127.0.0.1:\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 127.0.0.1:+80\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 127.1:6379\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = 300.0.0.1:6379\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis = unix:\n", 2, "redis"));
    CHECK(refused("secret_file = s\nredis_sentinels = 10.0.0.1:1,"
                  "sentinel.local:26379\nredis_master = m\n", 2,
                  "redis_sentinels"));
    CHECK(refused("secret_file = s\nredis_sentinels = 10.0.0.1:1,,\n"
                  "redis_master = m\n", 2, "redis_sentinels"));
    CHECK(refused("secret_file = s\nredis_sentinels = unix:/x\n"
                  "redis_master = m\n", 2, "redis_sentinels"));
    CHECK(refused("secret_file = s\nredis_sentinels = 10.0.0.1:1\n", 2,
                  "redis_master is required"));
    CHECK(refused("secret_file = s\nredis_master = m\n", 2,
                  "redis_sentinels is required"));
}


TEST(test_password_file)
{
    char  text[256], pwfile[160];

    snprintf(pwfile, sizeof(pwfile), "%s/open.pw", tmpdir);
    snprintf(text, sizeof(text),
             "secret_file = s\n\nredis_password_file = %s\n", pwfile);

    write_file(pwfile, "hunter2hunter2\n", 0644);
    CHECK(refused(text, 3, "world-readable"));

    write_file(pwfile, "\nhunter2\n", 0600);
    CHECK(refused(text, 3, "empty first line"));

    unlink(pwfile);
    CHECK(refused(text, 3, "redis_password_file"));

    CHECK(refused("secret_file = s\nredis_password_file = /\n", 2,
                  "not a regular file"));
}


TEST(test_redirect_hosts)
{
    int           rc;
    ac_error_t    err;
    ac_config_t  *cfg;

    rc = load("secret_file = s\nallowed_redirect_hosts = "
              "https://a.example:443 https://a.example http://b.example:80 "
              "https://c.example:8443/\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        /* same origin written twice is kept once */
        CHECK_INT(cfg->nallowed_redirect_hosts, 3);
        if (cfg->nallowed_redirect_hosts == 3) {
            CHECK_STR(cfg->allowed_redirect_hosts[0], "https://a.example");
            CHECK_STR(cfg->allowed_redirect_hosts[1], "http://b.example");
            CHECK_STR(cfg->allowed_redirect_hosts[2],
                      "https://c.example:8443");
        }
        ac_config_free(cfg);
    }

#define BAD_ORIGIN(o)                                                        \
    CHECK(refused("secret_file = s\nallowed_redirect_hosts = " o "\n", 2,    \
                  "allowed_redirect_hosts"))

    BAD_ORIGIN("a.example");
    BAD_ORIGIN("//a.example");
    BAD_ORIGIN("ftp://a.example");
    BAD_ORIGIN("javascript://a.example");
    BAD_ORIGIN("https://");
    BAD_ORIGIN("https://a.example/path");
    BAD_ORIGIN("https://a.example?x=1");
    BAD_ORIGIN("https://user@a.example");
    BAD_ORIGIN("https://a.example:0");
    BAD_ORIGIN("https://a.example:99999");
    BAD_ORIGIN("https://a.example:");
    BAD_ORIGIN("https://a..example");
    BAD_ORIGIN("https://a.example.");
    BAD_ORIGIN("https://a_b.example");
    BAD_ORIGIN("https://[::1");
    BAD_ORIGIN("https://[zz::1]");
    BAD_ORIGIN("https://a.example https://evil\\@b.example");

#undef BAD_ORIGIN
}


TEST(test_syntax_errors)
{
    CHECK(refused("secret_file = s\nsession_idel = 30m\n", 2,
                  "unknown key \"session_idel\""));
    CHECK(refused("secret_file = s\nredis 127.0.0.1:6379\n", 2,
                  "redis: missing '='"));
    CHECK(refused("secret_file = s\nsession_idle\n", 2,
                  "session_idle: missing '='"));
    CHECK(refused("secret_file = s\nsession_idle = 20m\n\n"
                  "session_idle = 40m\n", 4,
                  "session_idle: duplicate key (first set on line 2)"));
    CHECK(refused("secret_file = s\nsecret_file = t\n", 2,
                  "secret_file: duplicate"));
    CHECK(refused("secret_file = s\naudience =\n", 2,
                  "audience: missing value"));
    CHECK(refused("secret_file = s\n= value\n", 2, "expected"));
    CHECK(refused("secret_file = s\nkey_prefix = a\001b\n", 2,
                  "control character"));
    CHECK(refused("secret_file = s\naudience = two words\n", 2,
                  "audience"));
    CHECK(refused("secret_file = s\ntotp_issuer = Evil:Issuer\n", 2,
                  "totp_issuer"));
    CHECK(refused("# nothing\n", 0, "secret_file is required"));
    CHECK(refused("", 0, "secret_file is required"));
}


TEST(test_value_errors)
{
    CHECK(refused("secret_file = s\nsession_idle = 30\n", 2,
                  "session_idle: invalid duration"));
    CHECK(refused("secret_file = s\nsession_idle = thirty\n", 2,
                  "session_idle"));
    CHECK(refused("secret_file = s\nsession_idle = 10s\n", 2,
                  "session_idle: \"10s\" is out of range"));
    CHECK(refused("secret_file = s\nsession_max = 1y\n", 2,
                  "session_max: \"1y\" is out of range"));
    /* the bounds in the unit of the value: seconds, or milliseconds */
    CHECK(refused("secret_file = s\nsession_idle = 10s\n", 2,
                  "session_idle: \"10s\" is out of range (60s to 604800s)"));
    CHECK(refused("secret_file = s\nredis_timeout = 5ms\n", 2,
                  "redis_timeout: \"5ms\" is out of range (10ms to 60000ms)"));
    CHECK(refused("secret_file = s\nredis_timeout = soon\n", 2,
                  "redis_timeout: invalid duration \"soon\" (a number and a"
                  " unit: ms, s, m, h, d, w, y)"));
    CHECK(refused("secret_file = s\nsession_idle = 2h\nsession_max = 1h\n",
                  2, "session_idle must not exceed session_max"));
    CHECK(refused("secret_file = s\nlog_retention = 1h\n", 2,
                  "log_retention"));
    CHECK(refused("secret_file = s\ninactive_account_retention = 999y\n", 2,
                  "inactive_account_retention"));
    CHECK(refused("secret_file = s\nredis_timeout = 1ms\n", 2,
                  "redis_timeout"));
    CHECK(refused("secret_file = s\nredis_timeout = 2m\n", 2,
                  "redis_timeout"));
    CHECK(refused("secret_file = s\nredis_db = -1\n", 2,
                  "redis_db: invalid number"));
    CHECK(refused("secret_file = s\nredis_db = 1024\n", 2,
                  "redis_db: 1024 is out of range"));
    CHECK(refused("secret_file = s\nredis_db = 0x10\n", 2, "redis_db"));
    CHECK(refused("secret_file = s\nargon2_t = 0\n", 2, "argon2_t"));
    CHECK(refused("secret_file = s\nargon2_t = 99999999999999999999\n", 2,
                  "argon2_t"));
    CHECK(refused("secret_file = s\nargon2_p = 17\n", 2, "argon2_p"));
    CHECK(refused("secret_file = s\nargon2_m = 512\n", 2,
                  "argon2_m: \"512\" is out of range"));
    CHECK(refused("secret_file = s\nargon2_m = 5g\n", 2, "argon2_m"));
    CHECK(refused("secret_file = s\nargon2_m = 64mb\n", 2,
                  "argon2_m: invalid size"));
    CHECK(refused("secret_file = s\nargon2_m = m\n", 2, "argon2_m"));
    CHECK(refused("secret_file = s\nthrottle_free = 1001\n", 2,
                  "throttle_free"));
    CHECK(refused("secret_file = s\nthrottle_window = 2d\n", 2,
                  "throttle_window"));
    CHECK(refused("secret_file = s\npending_ttl = 1h\n", 2, "pending_ttl"));
    CHECK(refused("secret_file = s\nreauth_window = 1d\n", 2,
                  "reauth_window"));
    CHECK(refused("secret_file = s\nkey_prefix = \n", 2, "key_prefix"));
}


TEST(test_sizes_and_blanks)
{
    int           rc;
    ac_error_t    err;
    ac_config_t  *cfg;

    rc = load("\tsecret_file\t=\t s \r\nargon2_m = 1g\r\n"
              "session_idle=1h\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        CHECK_INT(cfg->argon2_m, 1024 * 1024);
        CHECK_INT(cfg->session_idle, 3600);
        ac_config_free(cfg);
    }

    rc = load("secret_file = s\nargon2_m = 20000k\n", &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg != NULL) {
        CHECK_INT(cfg->argon2_m, 20000);
        ac_config_free(cfg);
    }
}


TEST(test_hostile_files)
{
    int           rc;
    char         *big;
    size_t        i;
    ac_error_t    err;
    ac_config_t  *cfg;
    FILE         *f;

    /* a NUL byte must not hide the rest of the line */
    f = fopen(conf_path, "w");
    if (f != NULL) {
        fwrite("secret_file = s\nredis_db = 1\0garbage\n", 1, 37, f);
        fclose(f);
    }
    memset(&err, 0, sizeof(err));
    cfg = NULL;
    rc = ac_config_load(conf_path, &cfg, &err);
    CHECK_INT(rc, AC_ERR_CONFIG);
    CHECK(cfg == NULL);
    CHECK(strstr(err.msg, ":2: NUL byte") != NULL);

    big = malloc(20000);
    if (big != NULL) {
        strcpy(big, "secret_file = s\naudience = ");
        for (i = strlen(big); i < 19000; i++) {
            big[i] = 'a';
        }
        big[i] = '\n';
        big[i + 1] = '\0';
        CHECK(refused(big, 2, "longer than"));
        free(big);
    }

    memset(&err, 0, sizeof(err));
    rc = ac_config_load("/nonexistent/guichet.conf", &cfg, &err);
    CHECK_INT(rc, AC_ERR_IO);
    CHECK(cfg == NULL);
    CHECK(strstr(err.msg, "/nonexistent/guichet.conf") != NULL);

    rc = ac_config_load(NULL, &cfg, NULL);
    CHECK_INT(rc, AC_ERR_INVALID);

    ac_config_free(NULL);
}


/* The shipped example loads, and so does every key it shows commented
 * out; the values it shows are the real defaults. */

TEST(test_example_file)
{
    int           rc;
    char          path[512], line[512], *slash;
    FILE         *in, *out;
    ac_error_t    err;
    ac_config_t  *cfg;

    snprintf(path, sizeof(path), "%s", __FILE__);
    slash = strstr(path, "tests/unit/");
    if (slash == NULL) {
        CHECK(0);
        return;
    }
    strcpy(slash, "config/guichet.conf.example");

    memset(&err, 0, sizeof(err));
    cfg = NULL;
    rc = ac_config_load(path, &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (rc != AC_OK) {
        printf("    %s\n", err.msg);
    }
    ac_config_free(cfg);

    in = fopen(path, "r");
    out = fopen(conf_path, "w");
    CHECK(in != NULL && out != NULL);
    if (in == NULL || out == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), in) != NULL) {
        if (line[0] == '#' && line[1] >= 'a' && line[1] <= 'z'
            && strstr(line, " = ") != NULL
            && strncmp(line, "#redis_password_file", 20) != 0)
        {
            fputs(line + 1, out);
        } else {
            fputs(line, out);
        }
    }

    fclose(in);
    fclose(out);

    memset(&err, 0, sizeof(err));
    cfg = NULL;
    rc = ac_config_load(conf_path, &cfg, &err);
    CHECK_INT(rc, AC_OK);
    if (cfg == NULL) {
        printf("    %s\n", err.msg);
        return;
    }

    CHECK_STR(cfg->redis.host, "127.0.0.1");
    CHECK_INT(cfg->redis.port, 6379);
    CHECK_INT(cfg->redis_timeout_ms, 500);
    CHECK_INT(cfg->nredis_sentinels, 3);
    CHECK_STR(cfg->key_prefix, "guichet:");
    CHECK_STR(cfg->audience, "guichet");
    CHECK_STR(cfg->totp_issuer, "Guichet");
    CHECK_INT(cfg->session_idle, 1800);
    CHECK_INT(cfg->session_max, 43200);
    CHECK_INT(cfg->pending_ttl, 300);
    CHECK_INT(cfg->reauth_window, 300);
    CHECK_INT(cfg->nallowed_redirect_hosts, 2);
    CHECK_INT(cfg->argon2_t, 2);
    CHECK_INT(cfg->argon2_m, 19456);
    CHECK_INT(cfg->argon2_p, 1);
    CHECK_INT(cfg->throttle_free, 5);
    CHECK_INT(cfg->throttle_window, 900);
    CHECK_INT(cfg->throttle_max_delay, 900);
    CHECK_INT(cfg->log_retention, 365 * 86400);
    CHECK_INT(cfg->inactive_account_retention, 3 * 365 * 86400);

    ac_config_free(cfg);
}


int
main(void)
{
    strcpy(tmpdir, "/tmp/guichet-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }

    snprintf(conf_path, sizeof(conf_path), "%s/guichet.conf", tmpdir);

    RUN(test_duration);
    RUN(test_defaults);
    RUN(test_every_key);
    RUN(test_redis_endpoints);
    RUN(test_password_file);
    RUN(test_redirect_hosts);
    RUN(test_syntax_errors);
    RUN(test_value_errors);
    RUN(test_sizes_and_blanks);
    RUN(test_hostile_files);
    RUN(test_example_file);

    unlink(conf_path);
    rmdir(tmpdir);

    return CHECK_DONE();
}
