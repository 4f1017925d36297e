/*
 * Mail messages, the mail keys of guichet.conf and queue commands
 * (authcore/src/mail.c, mailconf.c, mailqueue.c): headers safe against
 * injection, Date, Message-ID, Auto-Submitted, text and HTML escaping.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authcore.h"
#include "check.h"


static const char  txt[] =
    "Subject: Reset for {{to}}\n\nOpen {{link}} from {{device}}.\n";
static const char  html[] = "<p>{{device}}</p>";


static void
config(ac_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->key_prefix = "p:";
    cfg->mail_from = "noreply@example.com";
    cfg->totp_issuer = "Guichet \"demo\"";
    cfg->public_url = "https://example.com";
}


static void
message(ac_mail_t *m)
{
    memset(m, 0, sizeof(*m));
    m->kind = AC_MAIL_RESET;
    strcpy(m->to, "ann@example.com");
    strcpy(m->link, "https://example.com/guichet/reset/confirm?token=x");
    strcpy(m->device, "Firefox <on> Linux & co");
    m->when = 1700000000;
}


TEST(test_format)
{
    ac_config_t  cfg;
    ac_mail_t    m;
    ac_buf_t     out;

    config(&cfg);
    message(&m);
    ac_buf_init(&out);

    CHECK_INT(ac_mail_format(&cfg, &m, txt, sizeof(txt) - 1, html,
                             sizeof(html) - 1, 1700000000, &out, NULL),
              AC_OK);
    CHECK(strstr(out.data, "From: \"Guichet \\\"demo\\\"\" "
                 "<noreply@example.com>\r\n") != NULL);
    CHECK(strstr(out.data, "To: <ann@example.com>\r\n") != NULL);
    CHECK(strstr(out.data, "Subject: Reset for ann@example.com\r\n")
          != NULL);
    CHECK(strstr(out.data, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n")
          != NULL);
    CHECK(strstr(out.data, "Message-ID: <") != NULL);
    CHECK(strstr(out.data, "@example.com>\r\n") != NULL);
    CHECK(strstr(out.data, "Auto-Submitted: auto-generated\r\n") != NULL);
    CHECK(strstr(out.data, "multipart/alternative") != NULL);
    /* text as is (quoted-printable), HTML escaped */
    CHECK(strstr(out.data, "Firefox <on") != NULL);
    CHECK(strstr(out.data, "Firefox &lt;on&gt; Linux &amp; co") != NULL);
    CHECK(strstr(out.data, "token=3Dx") != NULL);
    ac_buf_free(&out);
}


TEST(test_header_injection)
{
    ac_config_t  cfg;
    ac_mail_t    m;
    ac_buf_t     out;
    ac_cmd_t     cmd;

    config(&cfg);

    /* a recipient with CR LF */
    message(&m);
    strcpy(m.to, "ann@example.com\r\nBcc: evil@example.com");
    ac_buf_init(&out);
    CHECK_INT(ac_mail_format(&cfg, &m, txt, sizeof(txt) - 1, NULL, 0, 1,
                             &out, NULL), AC_ERR_INVALID);
    ac_buf_free(&out);
    CHECK_INT(ac_cmd_mail_enqueue(&cmd, &cfg, &m), AC_ERR_INVALID);

    /* a value that reaches the subject */
    message(&m);
    strcpy(m.link, "x\r\nBcc: evil@example.com");
    ac_buf_init(&out);
    CHECK_INT(ac_mail_format(&cfg, &m,
                             "Subject: {{link}}\n\nbody\n", 25, NULL, 0, 1,
                             &out, NULL), AC_ERR_INVALID);
    ac_buf_free(&out);
    CHECK_INT(ac_cmd_mail_enqueue(&cmd, &cfg, &m), AC_ERR_INVALID);

    /* a bare LF in a body value */
    message(&m);
    strcpy(m.device, "a\nb");
    CHECK_INT(ac_cmd_mail_enqueue(&cmd, &cfg, &m), AC_ERR_INVALID);

    /* the template's first line must be the subject */
    message(&m);
    ac_buf_init(&out);
    CHECK_INT(ac_mail_format(&cfg, &m, "Hello\n", 6, NULL, 0, 1, &out,
                             NULL), AC_ERR_INVALID);
    ac_buf_free(&out);
}


TEST(test_subject_encoded)
{
    ac_config_t  cfg;
    ac_mail_t    m;
    ac_buf_t     out;
    const char   t[] = "Subject: R\xc3\xa9initialiser\n\nx\n";

    config(&cfg);
    message(&m);
    ac_buf_init(&out);
    CHECK_INT(ac_mail_format(&cfg, &m, t, sizeof(t) - 1, NULL, 0, 1, &out,
                             NULL), AC_OK);
    CHECK(strstr(out.data, "Subject: =?UTF-8?B?") != NULL);
    ac_buf_free(&out);
}


TEST(test_enqueue)
{
    ac_config_t  cfg;
    ac_mail_t    m;
    ac_cmd_t     cmd;

    config(&cfg);
    message(&m);
    CHECK_INT(ac_cmd_mail_enqueue(&cmd, &cfg, &m), AC_OK);
    CHECK_STR(cmd.argv[0], "XADD");
    CHECK(cmd.argvlen[1] == 6 && memcmp(cmd.argv[1], "p:mail", 6) == 0);
    CHECK_STR(cmd.argv[4], "reset");
    m.kind = AC_MAIL_COUNT;
    CHECK_INT(ac_cmd_mail_enqueue(&cmd, &cfg, &m), AC_ERR_INVALID);
}


TEST(test_conf)
{
    ac_config_t  cfg;
    char         reason[AC_ERRMSG_MAX];

    memset(&cfg, 0, sizeof(cfg));
    CHECK_INT(ac_mail_conf_set(&cfg, "public_url", "https://ex.org/",
                               reason, sizeof(reason)), AC_OK);
    CHECK_STR(cfg.public_url, "https://ex.org");
    CHECK_INT(ac_mail_conf_set(&cfg, "public_url", "https://ex.org/?a=1",
                               reason, sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "public_url", "ftp://ex.org",
                               reason, sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "smtp", "127.0.0.1:2525", reason,
                               sizeof(reason)), AC_OK);
    CHECK_STR(cfg.smtp.host, "127.0.0.1");
    CHECK_INT(cfg.smtp.port, 2525);
    CHECK_INT(ac_mail_conf_set(&cfg, "smtp", "[::1]:25", reason,
                               sizeof(reason)), AC_OK);
    CHECK_INT(ac_mail_conf_set(&cfg, "smtp", "mail.example.org:25", reason,
                               sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "smtp_tls", "tls", reason,
                               sizeof(reason)), AC_OK);
    CHECK_INT(cfg.smtp_tls, AC_SMTP_TLS_TLS);
    CHECK_INT(ac_mail_conf_set(&cfg, "smtp_tls", "maybe", reason,
                               sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "notify", "password, email", reason,
                               sizeof(reason)), AC_OK);
    CHECK_INT(cfg.notify, AC_NOTIFY_PASSWORD | AC_NOTIFY_EMAIL);
    CHECK_INT(ac_mail_conf_set(&cfg, "notify", "none", reason,
                               sizeof(reason)), AC_OK);
    CHECK_INT(cfg.notify, 0);
    CHECK_INT(ac_mail_conf_set(&cfg, "notify", "sms", reason,
                               sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "mail_from", "not an address", reason,
                               sizeof(reason)), AC_ERR_CONFIG);
    CHECK_INT(ac_mail_conf_set(&cfg, "invitation_mail", "off", reason,
                               sizeof(reason)), AC_OK);
    CHECK_INT(cfg.invitation_mail, 0);
    ac_mail_conf_free(&cfg);
}


TEST(test_backoff)
{
    CHECK(ac_mail_backoff(1) == 30);
    CHECK(ac_mail_backoff(2) == 60);
    CHECK(ac_mail_backoff(20) == 3600);
}


int
main(void)
{
    RUN(test_format);
    RUN(test_header_injection);
    RUN(test_subject_encoded);
    RUN(test_enqueue);
    RUN(test_conf);
    RUN(test_backoff);

    return CHECK_DONE();
}
