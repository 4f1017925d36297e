/*
 * Mail messages (SPEC 10): what a queued message becomes once its
 * templates are rendered. Headers are built here only, from values
 * that may not hold a CR, LF or any other control character; bodies are
 * quoted-printable UTF-8, so that no line is too long for SMTP and no
 * value can end the message or start a header.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "authcore.h"
#include "internal.h"


#define AC_MAIL_QP_LINE   76


static int ac_mail_header_ok(const char *s);
static void ac_mail_header_words(ac_buf_t *b, const char *s, size_t len);
static void ac_mail_qp(ac_buf_t *b, const char *s, size_t len);
static void ac_mail_time(int64_t t, char *out, size_t size);
static int ac_mail_copy(char *out, size_t size, const redisReply *v);


static const char  *ac_mail_kinds[AC_MAIL_COUNT] = {
    "reset",
    "invitation",
    "email-confirm",
    "new-device",
    "password",
    "second-factor",
    "email-change",
    "erased",
};


const char *const  ac_mail_tvars[AC_MAIL_NTVARS] = {
    "to", "when", "ip", "device", "link", "help", "partner", "detail",
    "site", "until", "issuer"
};


const char *
ac_mail_kind_name(ac_mail_kind_t kind)
{
    if ((unsigned) kind >= AC_MAIL_COUNT) {
        return NULL;
    }

    return ac_mail_kinds[kind];
}


int
ac_mail_kind_parse(const char *name, size_t len, ac_mail_kind_t *kind)
{
    size_t  i;

    for (i = 0; i < AC_MAIL_COUNT; i++) {
        if (strlen(ac_mail_kinds[i]) == len
            && memcmp(ac_mail_kinds[i], name, len) == 0)
        {
            *kind = (ac_mail_kind_t) i;
            return AC_OK;
        }
    }

    return AC_ERR_INVALID;
}


/* -------------------------------------------------------- device words */

/* ------------------------------------------------------------ messages */

/* no control character: nothing can end a header line early */
static int
ac_mail_header_ok(const char *s)
{
    for ( ; *s; s++) {
        if ((unsigned char) *s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* ASCII as is; anything else as one RFC 2047 encoded word per chunk */
static void
ac_mail_header_words(ac_buf_t *b, const char *s, size_t len)
{
    size_t  i, n;
    char    enc[AC_B64URL_LEN(45) + 4];
    int     ascii;

    ascii = 1;

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] >= 0x80) {
            ascii = 0;
        }
    }

    if (ascii) {
        ac_buf_add(b, s, len);
        return;
    }

    /* base64 of whole UTF-8 characters, 45 bytes at most per word */
    while (len > 0) {
        n = len > 45 ? 45 : len;

        while (n < len && n > 1 && ((unsigned char) s[n] & 0xc0) == 0x80) {
            n--;
        }

        ac_b64url_encode(s, n, enc);

        /* base64url to base64, with padding */
        for (i = 0; enc[i]; i++) {
            if (enc[i] == '-') {
                enc[i] = '+';
            } else if (enc[i] == '_') {
                enc[i] = '/';
            }
        }

        while (i % 4) {
            enc[i++] = '=';
        }

        enc[i] = '\0';

        ac_buf_printf(b, "=?UTF-8?B?%s?=", enc);

        s += n;
        len -= n;

        if (len > 0) {
            ac_buf_str(b, "\r\n ");
        }
    }
}


/* quoted-printable (RFC 2045), lines ended by CRLF */
static void
ac_mail_qp(ac_buf_t *b, const char *s, size_t len)
{
    size_t         i, col;
    unsigned char  c;

    col = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c == '\r') {
            continue;
        }

        if (c == '\n') {
            ac_buf_str(b, "\r\n");
            col = 0;
            continue;
        }

        if (col >= AC_MAIL_QP_LINE - 3) {
            ac_buf_str(b, "=\r\n");
            col = 0;
        }

        /* '.' first on a line and blanks before a line end are encoded
         * as well: no SMTP or transport can change them */
        if ((c >= 33 && c <= 126 && c != '=' && !(c == '.' && col == 0))
            || ((c == ' ' || c == '\t') && i + 1 < len
                && s[i + 1] != '\n' && s[i + 1] != '\r'))
        {
            ac_buf_add(b, (char *) &c, 1);
            col++;

        } else {
            ac_buf_printf(b, "=%02X", c);
            col += 3;
        }
    }

    if (col != 0) {
        ac_buf_str(b, "\r\n");
    }
}


static void
ac_mail_time(int64_t t, char *out, size_t size)
{
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        out[0] = '\0';
        return;
    }

    strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}


int
ac_mail_format(const ac_config_t *cfg, const ac_mail_t *m, const char *txt,
    size_t txtlen, const char *html, size_t htmllen, time_t now,
    ac_buf_t *out, ac_error_t *err)
{
    int            rc;
    size_t         i, slen;
    char          *nl;
    const char    *subject, *body, *domain, *issuer;
    ac_buf_t       text, page;
    ac_tvar_t      vars[AC_MAIL_NTVARS];
    char           when[32], until[32], date[64], mid[AC_TOKEN_LEN + 1];
    struct tm      tm;
    const char    *values[AC_MAIL_NTVARS];

    if (cfg == NULL || m == NULL || txt == NULL || out == NULL
        || cfg->mail_from == NULL)
    {
        ac_error_set(err, AC_ERR_INVALID, "no mail_from or template");
        return AC_ERR_INVALID;
    }

    issuer = cfg->totp_issuer ? cfg->totp_issuer : "Guichet";

    if (!ac_mail_header_ok(m->to) || !ac_mail_header_ok(cfg->mail_from)
        || !ac_mail_header_ok(issuer))
    {
        ac_error_set(err, AC_ERR_INVALID, "control character in a header");
        return AC_ERR_INVALID;
    }

    {
        char  norm[AC_EMAIL_MAX + 1];

        if (ac_email_normalize(m->to, strlen(m->to), norm) != AC_OK) {
            ac_error_set(err, AC_ERR_INVALID, "bad recipient");
            return AC_ERR_INVALID;
        }
    }

    ac_mail_time(m->when, when, sizeof(when));
    ac_mail_time(m->expires, until, sizeof(until));

    values[0] = m->to;
    values[1] = when;
    values[2] = m->ip;
    values[3] = m->device;
    values[4] = m->link;
    values[5] = m->help;
    values[6] = m->partner;
    values[7] = m->detail;
    values[8] = cfg->public_url ? cfg->public_url : "";
    values[9] = until;
    values[10] = issuer;

    for (i = 0; i < AC_MAIL_NTVARS; i++) {
        vars[i].name = ac_mail_tvars[i];
        vars[i].value = values[i];
        vars[i].len = strlen(values[i]);
    }

    ac_buf_init(&text);
    ac_buf_init(&page);

    rc = ac_template_render_text(txt, txtlen, vars, AC_MAIL_NTVARS, &text);
    if (rc != AC_OK) {
        ac_error_set(err, rc, "text template or value refused");
        goto done;
    }

    if (html != NULL) {
        rc = ac_template_render(html, htmllen, vars, AC_MAIL_NTVARS, &page);
        if (rc != AC_OK) {
            ac_error_set(err, rc, "HTML template refused");
            goto done;
        }
    }

    /* "Subject: ..." first, then the body after its line */
    if (text.len < 9 || strncmp(text.data, "Subject: ", 9) != 0) {
        ac_error_set(err, AC_ERR_INVALID, "the text template does not "
                     "start with \"Subject: \"");
        rc = AC_ERR_INVALID;
        goto done;
    }

    subject = text.data + 9;
    nl = memchr(subject, '\n', text.len - 9);
    if (nl == NULL) {
        ac_error_set(err, AC_ERR_INVALID, "the text template has no body");
        rc = AC_ERR_INVALID;
        goto done;
    }

    slen = nl - subject;
    if (slen > 0 && subject[slen - 1] == '\r') {
        slen--;
    }

    body = nl + 1;
    if (*body == '\n') {
        body++;
    } else if (body[0] == '\r' && body[1] == '\n') {
        body += 2;
    }

    for (i = 0; i < slen; i++) {
        if ((unsigned char) subject[i] < 0x20 || subject[i] == 0x7f) {
            ac_error_set(err, AC_ERR_INVALID, "control character in the "
                         "subject");
            rc = AC_ERR_INVALID;
            goto done;
        }
    }

    {
        time_t  tt = now;

        if (gmtime_r(&tt, &tm) == NULL
            || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
                        &tm) == 0)
        {
            rc = AC_ERR_INVALID;
            goto done;
        }
    }

    rc = ac_token_new(mid);
    if (rc != AC_OK) {
        goto done;
    }

    domain = strrchr(cfg->mail_from, '@') + 1;

    ac_buf_str(out, "From: ");
    ac_buf_str(out, "\"");
    for (i = 0; issuer[i]; i++) {
        if (issuer[i] == '"' || issuer[i] == '\\') {
            ac_buf_add(out, "\\", 1);
        }
        ac_buf_add(out, &issuer[i], 1);
    }
    ac_buf_printf(out, "\" <%s>\r\n", cfg->mail_from);
    ac_buf_printf(out, "To: <%s>\r\n", m->to);
    ac_buf_str(out, "Subject: ");
    ac_mail_header_words(out, subject, slen);
    ac_buf_str(out, "\r\n");
    ac_buf_printf(out, "Date: %s\r\n", date);
    ac_buf_printf(out, "Message-ID: <%s@%s>\r\n", mid, domain);
    ac_buf_str(out, "MIME-Version: 1.0\r\n"
                    "Auto-Submitted: auto-generated\r\n");

    if (html == NULL) {
        ac_buf_str(out, "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: quoted-printable\r\n"
                        "\r\n");
        ac_mail_qp(out, body, text.len - (body - text.data));

    } else {
        /* the boundary is random: no rendered line can be equal to it */
        ac_buf_printf(out, "Content-Type: multipart/alternative; "
                      "boundary=\"=_%s\"\r\n\r\n", mid);
        ac_buf_printf(out, "--=_%s\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n", mid);
        ac_mail_qp(out, body, text.len - (body - text.data));
        ac_buf_printf(out, "--=_%s\r\n"
                      "Content-Type: text/html; charset=utf-8\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n", mid);
        ac_mail_qp(out, page.data ? page.data : "", page.len);
        ac_buf_printf(out, "--=_%s--\r\n", mid);
    }

    rc = ac_buf_status(out);

done:

    ac_buf_free(&text);
    ac_buf_free(&page);

    return rc;
}


/* ------------------------------------------------------- queue entries */

static int
ac_mail_copy(char *out, size_t size, const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len >= size) {
        return AC_ERR_REDIS;
    }

    memcpy(out, v->str, v->len);
    out[v->len] = '\0';

    return AC_OK;
}


int
ac_mail_parse(const redisReply *entry, ac_mail_t *m)
{
    int                rc;
    size_t             i;
    char               num[24];
    const redisReply  *f, *v, *fields;

    if (entry == NULL || m == NULL || entry->type != REDIS_REPLY_ARRAY
        || entry->elements != 2)
    {
        return AC_ERR_REDIS;
    }

    memset(m, 0, sizeof(ac_mail_t));
    m->kind = AC_MAIL_COUNT;

    if (ac_mail_copy(m->id, sizeof(m->id), entry->element[0]) != AC_OK) {
        return AC_ERR_REDIS;
    }

    fields = entry->element[1];

    if (fields->type != REDIS_REPLY_ARRAY || fields->elements % 2) {
        return AC_ERR_REDIS;
    }

    for (i = 0; i < fields->elements; i += 2) {
        f = fields->element[i];
        v = fields->element[i + 1];

        if (f->type != REDIS_REPLY_STRING || f->len != 1
            || v->type != REDIS_REPLY_STRING)
        {
            return AC_ERR_REDIS;
        }

        rc = AC_OK;

        switch (f->str[0]) {
        case 'k':
            rc = ac_mail_kind_parse(v->str, v->len, &m->kind);
            break;
        case 't':
            rc = ac_mail_copy(m->to, sizeof(m->to), v);
            break;
        case 'a':
            rc = ac_mail_copy(m->account, sizeof(m->account), v);
            break;
        case 'i':
            rc = ac_mail_copy(m->ip, sizeof(m->ip), v);
            break;
        case 'd':
            rc = ac_mail_copy(m->device, sizeof(m->device), v);
            break;
        case 'l':
            rc = ac_mail_copy(m->link, sizeof(m->link), v);
            break;
        case 'h':
            rc = ac_mail_copy(m->help, sizeof(m->help), v);
            break;
        case 'p':
            rc = ac_mail_copy(m->partner, sizeof(m->partner), v);
            break;
        case 'v':
            rc = ac_mail_copy(m->detail, sizeof(m->detail), v);
            break;
        case 'e':
            rc = ac_mail_copy(m->error, sizeof(m->error), v);
            break;
        case 'w':
        case 'x':
        case 'n':
        case 'f':
            rc = ac_mail_copy(num, sizeof(num), v);
            if (rc == AC_OK) {
                char     *end;
                long long n = strtoll(num, &end, 10);

                if (*end != '\0' || num[0] == '\0' || n < 0) {
                    rc = AC_ERR_REDIS;
                } else if (f->str[0] == 'w') {
                    m->when = n;
                } else if (f->str[0] == 'x') {
                    m->expires = n;
                } else if (f->str[0] == 'n') {
                    m->attempts = n;
                }
            }
            break;
        default:
            break;
        }

        if (rc != AC_OK) {
            return AC_ERR_REDIS;
        }
    }

    if (m->kind == AC_MAIL_COUNT || m->to[0] == '\0') {
        return AC_ERR_REDIS;
    }

    return AC_OK;
}
