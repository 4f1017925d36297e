/*
 * Page templates (ac_template_check, ac_template_render) and their
 * escaping. Templates come from the operator's files, values from
 * users (emails, device labels, error text): the input is a template,
 * then a NUL byte, then a value given to variable "v"; "n" is NULL
 * (an absent value, which renders as empty). A rendered value must
 * never bring a raw < > " ' or & into the page.
 */

#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           rc;
    size_t        tlen, i;
    ac_buf_t      b;
    ac_error_t    err;
    ac_tvar_t     vars[3];
    const char   *nul, *tpl;
    const char   *names[] = { "v", "n", "e" };

    tpl = (const char *) data;
    nul = memchr(data, '\0', size);
    tlen = (nul != NULL) ? (size_t) (nul - tpl) : size;

    vars[0].name = "v";
    vars[0].value = (nul != NULL) ? nul + 1 : NULL;
    vars[0].len = (nul != NULL) ? size - tlen - 1 : 0;
    vars[1].name = "n";
    vars[1].value = NULL;
    vars[1].len = 7;
    vars[2].name = "e";
    vars[2].value = "";
    vars[2].len = 0;

    rc = ac_template_check(tpl, tlen, names, 3, &err);

    ac_buf_init(&b);

    if (ac_template_render(tpl, tlen, vars, 3, &b) == AC_OK) {
        if (rc != AC_OK || (b.data == NULL && b.len != 0)) {
            abort();
        }

    } else if (rc == AC_OK && ac_buf_status(&b) == AC_OK) {
        abort();
    }

    ac_buf_reset(&b);

    /* the value alone, escaped */
    vars[0].value = tpl;
    vars[0].len = size;
    if (ac_template_render("<{{v}}>", 7, vars, 3, &b) == AC_OK) {
        if (b.len < 2 || b.data[0] != '<' || b.data[b.len - 1] != '>') {
            abort();
        }

        for (i = 1; i + 1 < b.len; i++) {
            if (strchr("<>\"'", b.data[i]) != NULL && b.data[i] != '\0') {
                abort();
            }

            if (b.data[i] == '&'
                && strncmp(b.data + i, "&amp;", 5) != 0
                && strncmp(b.data + i, "&lt;", 4) != 0
                && strncmp(b.data + i, "&gt;", 4) != 0
                && strncmp(b.data + i, "&quot;", 6) != 0
                && strncmp(b.data + i, "&#39;", 5) != 0)
            {
                abort();
            }
        }
    }

    ac_buf_free(&b);

    return 0;
}
