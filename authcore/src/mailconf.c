/*
 * The mail keys of guichet.conf (SPEC 10): where links point, how the
 * mail worker reaches its SMTP server, who mails come from, and which
 * security notices are sent. config.c reads the lines and calls
 * ac_mail_conf_set() for each of these keys.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authcore.h"
#include "internal.h"


static int ac_mail_conf_url(ac_config_t *cfg, const char *value,
    char *reason, size_t size);
static int ac_mail_conf_smtp(ac_config_t *cfg, const char *value,
    char *reason, size_t size);
static int ac_mail_conf_notify(ac_config_t *cfg, const char *value,
    char *reason, size_t size);
static int ac_mail_conf_string(char **field, const char *value);


static const struct {
    const char  *name;
    unsigned     bit;
} ac_notify_names[] = {
    { "new_device", AC_NOTIFY_NEW_DEVICE },
    { "password", AC_NOTIFY_PASSWORD },
    { "second_factor", AC_NOTIFY_SECOND_FACTOR },
    { "email", AC_NOTIFY_EMAIL },
    { "erasure", AC_NOTIFY_ERASURE },
};


int
ac_mail_conf_set(ac_config_t *cfg, const char *key, const char *value,
    char *reason, size_t size)
{
    size_t  i, len;
    char    norm[AC_EMAIL_MAX + 1];

    if (cfg == NULL || key == NULL || value == NULL) {
        return AC_ERR_INVALID;
    }

    len = strlen(value);

    for (i = 0; i < len; i++) {
        if (iscntrl((unsigned char) value[i])) {
            snprintf(reason, size, "control characters are not allowed");
            return AC_ERR_CONFIG;
        }
    }

    if (strcmp(key, "public_url") == 0) {
        return ac_mail_conf_url(cfg, value, reason, size);
    }

    if (strcmp(key, "smtp") == 0) {
        return ac_mail_conf_smtp(cfg, value, reason, size);
    }

    if (strcmp(key, "smtp_tls") == 0) {
        if (strcmp(value, "starttls") == 0) {
            cfg->smtp_tls = AC_SMTP_TLS_STARTTLS;
        } else if (strcmp(value, "tls") == 0) {
            cfg->smtp_tls = AC_SMTP_TLS_TLS;
        } else if (strcmp(value, "off") == 0) {
            cfg->smtp_tls = AC_SMTP_TLS_OFF;
        } else {
            snprintf(reason, size, "expected starttls, tls or off");
            return AC_ERR_CONFIG;
        }

        return AC_OK;
    }

    if (strcmp(key, "smtp_user") == 0) {
        if (len > 255 || strpbrk(value, " \t") != NULL) {
            snprintf(reason, size, "a user name of at most 255 bytes, "
                     "without blanks");
            return AC_ERR_CONFIG;
        }

        return ac_mail_conf_string(&cfg->smtp_user, value);
    }

    if (strcmp(key, "mail_from") == 0) {
        /* an address only: the display name is the totp_issuer */
        if (ac_email_normalize(value, len, norm) != AC_OK) {
            snprintf(reason, size, "not a valid address");
            return AC_ERR_CONFIG;
        }

        return ac_mail_conf_string(&cfg->mail_from, value);
    }

    if (strcmp(key, "notify") == 0) {
        return ac_mail_conf_notify(cfg, value, reason, size);
    }

    if (strcmp(key, "invitation_mail") == 0) {
        if (strcmp(value, "on") == 0) {
            cfg->invitation_mail = 1;
        } else if (strcmp(value, "off") == 0) {
            cfg->invitation_mail = 0;
        } else {
            snprintf(reason, size, "expected on or off");
            return AC_ERR_CONFIG;
        }

        return AC_OK;
    }

    snprintf(reason, size, "not a mail key");
    return AC_ERR_CONFIG;
}


/*
 * "https://host[:port][/path]": the origin people reach, where links of
 * mails point; a trailing '/' is dropped so that "/guichet/..." follows.
 */
static int
ac_mail_conf_url(ac_config_t *cfg, const char *value, char *reason,
    size_t size)
{
    size_t       i, len;
    const char  *host;
    char         buf[AC_PUBLIC_URL_MAX + 1];

    len = strlen(value);

    if (len > AC_PUBLIC_URL_MAX) {
        snprintf(reason, size, "longer than %d bytes", AC_PUBLIC_URL_MAX);
        return AC_ERR_CONFIG;
    }

    if (strncmp(value, "https://", 8) == 0) {
        host = value + 8;
    } else if (strncmp(value, "http://", 7) == 0) {
        host = value + 7;
    } else {
        snprintf(reason, size, "expected http:// or https:// and a host");
        return AC_ERR_CONFIG;
    }

    if (*host == '\0' || *host == '/' || *host == ':') {
        snprintf(reason, size, "no host");
        return AC_ERR_CONFIG;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) value[i] <= ' ' || (unsigned char) value[i] >= 0x7f
            || strchr("\"'<>\\^`{|}?#@%&", value[i]) != NULL)
        {
            snprintf(reason, size, "a base URL without query, fragment, "
                     "user, escapes or special characters");
            return AC_ERR_CONFIG;
        }
    }

    memcpy(buf, value, len + 1);

    while (len > (size_t) (host - value) && buf[len - 1] == '/') {
        buf[--len] = '\0';
    }

    return ac_mail_conf_string(&cfg->public_url, buf);
}


/* "IP:port" (an IP literal: no DNS at run time), "[v6]:port" */
static int
ac_mail_conf_smtp(ac_config_t *cfg, const char *value, char *reason,
    size_t size)
{
    long           port;
    char          *end;
    size_t         hlen;
    const char    *colon, *host;
    unsigned char  addr[16];
    char           buf[64];

    host = value;

    if (value[0] == '[') {
        end = strchr(value, ']');
        if (end == NULL || end[1] != ':') {
            goto bad;
        }

        host = value + 1;
        hlen = end - host;
        colon = end + 1;

    } else {
        colon = strrchr(value, ':');
        if (colon == NULL) {
            goto bad;
        }

        hlen = colon - value;
    }

    if (hlen == 0 || hlen >= sizeof(buf)) {
        goto bad;
    }

    memcpy(buf, host, hlen);
    buf[hlen] = '\0';

    if (inet_pton(AF_INET, buf, addr) != 1
        && inet_pton(AF_INET6, buf, addr) != 1)
    {
        goto bad;
    }

    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || port < 1
        || port > 65535)
    {
        goto bad;
    }

    if (ac_mail_conf_string(&cfg->smtp.host, buf) != AC_OK) {
        return AC_ERR_NOMEM;
    }

    cfg->smtp.port = (int) port;

    return AC_OK;

bad:

    snprintf(reason, size, "expected IP:port (an IP literal)");
    return AC_ERR_CONFIG;
}


/* "new_device,password,second_factor,email,erasure" or "none" */
static int
ac_mail_conf_notify(ac_config_t *cfg, const char *value, char *reason,
    size_t size)
{
    size_t       i, n;
    unsigned     bits;
    const char  *p;

    if (strcmp(value, "none") == 0) {
        cfg->notify = 0;
        return AC_OK;
    }

    bits = 0;
    p = value;

    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }

        n = strcspn(p, " ,");
        if (n == 0) {
            break;
        }

        for (i = 0; i < sizeof(ac_notify_names) / sizeof(ac_notify_names[0]);
             i++)
        {
            if (strlen(ac_notify_names[i].name) == n
                && strncmp(ac_notify_names[i].name, p, n) == 0)
            {
                break;
            }
        }

        if (i == sizeof(ac_notify_names) / sizeof(ac_notify_names[0])) {
            snprintf(reason, size, "unknown notice \"%.*s\" (expected "
                     "new_device, password, second_factor, email, erasure "
                     "or none)", (int) (n > 32 ? 32 : n), p);
            return AC_ERR_CONFIG;
        }

        bits |= ac_notify_names[i].bit;
        p += n;
    }

    if (bits == 0) {
        snprintf(reason, size, "empty list (use none)");
        return AC_ERR_CONFIG;
    }

    cfg->notify = bits;

    return AC_OK;
}


static int
ac_mail_conf_string(char **field, const char *value)
{
    char  *s;

    s = strdup(value);
    if (s == NULL) {
        return AC_ERR_NOMEM;
    }

    free(*field);
    *field = s;

    return AC_OK;
}


void
ac_mail_conf_free(ac_config_t *cfg)
{
    free(cfg->public_url);
    free(cfg->smtp.host);
    free(cfg->smtp.unix_path);
    free(cfg->smtp_user);
    free(cfg->smtp_password_file);
    free(cfg->mail_from);
    free(cfg->mail_templates);
}
