/*
 * authcore: email addresses (SPEC 6) and role names.
 */

#include <string.h>

#include "internal.h"

static int ac_email_byte_ok(unsigned char c);

static const struct {
    const char  *name;
    size_t       len;
    unsigned     bit;
} ac_roles[] = {
    { "user", 4, AC_ROLE_USER },
    { "security", 8, AC_ROLE_SECURITY },
    { "admin", 5, AC_ROLE_ADMIN }
};

#define AC_NROLES  (sizeof(ac_roles) / sizeof(ac_roles[0]))


/*
 * Besides control characters, spaces and angle brackets, the characters
 * that only a quoted local part or an address literal may hold are
 * refused: such an address would need quoting wherever it is shown
 * (headers, CSV, the log), and real mailboxes do not use them.
 */
static int
ac_email_byte_ok(unsigned char c)
{
    if (c <= 0x20 || c == 0x7f) {
        return 0;
    }

    return strchr("<>()[]\\,;:\"", c) == NULL;
}


int
ac_email_normalize(const char *in, size_t len, char out[AC_EMAIL_MAX + 1])
{
    size_t          i, at;
    unsigned char   c;

    if (in == NULL || out == NULL || len == 0 || len > AC_EMAIL_MAX) {
        goto failed;
    }

    at = len;

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];

        if (c == '@') {
            if (at != len) {
                goto failed;
            }
            at = i;
            continue;
        }

        if (!ac_email_byte_ok(c)) {
            goto failed;
        }

        /* C1 control characters, U+0080..U+009F, in UTF-8. */
        if (c == 0xc2 && i + 1 < len
            && (unsigned char) in[i + 1] >= 0x80
            && (unsigned char) in[i + 1] <= 0x9f)
        {
            goto failed;
        }
    }

    /* One '@', a local part, and a domain without empty labels. */
    if (at == len || at == 0 || at == len - 1 || in[at + 1] == '.'
        || in[len - 1] == '.')
    {
        goto failed;
    }

    for (i = at + 1; i + 1 < len; i++) {
        if (in[i] == '.' && in[i + 1] == '.') {
            goto failed;
        }
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : (char) c;
    }

    out[len] = '\0';

    return AC_OK;

failed:

    if (out != NULL) {
        out[0] = '\0';
    }

    return AC_ERR_BAD_EMAIL;
}


int
ac_role_parse(const char *name, size_t len, unsigned *role)
{
    size_t  i;

    if (name == NULL || role == NULL) {
        return AC_ERR_INVALID;
    }

    for (i = 0; i < AC_NROLES; i++) {
        if (len == ac_roles[i].len
            && memcmp(name, ac_roles[i].name, len) == 0)
        {
            *role = ac_roles[i].bit;
            return AC_OK;
        }
    }

    return AC_ERR_INVALID;
}


/* "" is no role; spaces around names are tolerated, empty names are not. */
int
ac_roles_parse(const char *list, size_t len, unsigned *roles)
{
    size_t       b, e, end;
    unsigned     role, all;

    if (list == NULL || roles == NULL) {
        return AC_ERR_INVALID;
    }

    all = 0;
    b = 0;

    while (b < len && list[b] == ' ') {
        b++;
    }

    if (b == len) {
        *roles = 0;
        return AC_OK;
    }

    for ( ;; ) {
        end = b;
        while (end < len && list[end] != ',') {
            end++;
        }

        e = end;
        while (e > b && list[e - 1] == ' ') {
            e--;
        }
        while (b < e && list[b] == ' ') {
            b++;
        }

        if (ac_role_parse(list + b, e - b, &role) != AC_OK) {
            return AC_ERR_INVALID;
        }

        all |= role;

        if (end == len) {
            break;
        }

        b = end + 1;
    }

    *roles = all;

    return AC_OK;
}


void
ac_roles_format(unsigned roles, char out[AC_ROLES_MAX])
{
    size_t  i, n, len;

    n = 0;

    for (i = 0; i < AC_NROLES; i++) {
        if (!(roles & ac_roles[i].bit)) {
            continue;
        }

        len = ac_roles[i].len;

        if (n != 0) {
            out[n++] = ',';
        }

        memcpy(out + n, ac_roles[i].name, len);
        n += len;
    }

    out[n] = '\0';
}
