/*
 * authcore: QR codes as SVG images (libqrencode), so that a browser can
 * show the TOTP enrolment URI without any script.
 */

#include <errno.h>
#include <string.h>

#include <qrencode.h>

#include "internal.h"


int
ac_qr_svg(const char *text, ac_buf_t *out)
{
    int      x, y, run, size;
    size_t   len;
    QRcode  *qr;

    if (text == NULL || out == NULL) {
        return AC_ERR_INVALID;
    }

    len = strlen(text);
    if (len == 0) {
        return AC_ERR_INVALID;
    }

    if (len > AC_QR_TEXT_MAX) {
        return AC_ERR_TOO_LONG;
    }

    errno = 0;
    qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
    if (qr == NULL) {
        if (errno == ERANGE) {
            return AC_ERR_TOO_LONG;
        }

        return errno == EINVAL ? AC_ERR_INVALID : AC_ERR_NOMEM;
    }

    size = qr->width + 2 * AC_QR_QUIET;

    ac_buf_printf(out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
        "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
        "shape-rendering=\"crispEdges\">"
        "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
        "<path fill=\"#000\" d=\"",
        size, size, size * 6, size * 6, size, size);

    /* one horizontal run of dark modules per subpath keeps it small */
    for (y = 0; y < qr->width; y++) {
        x = 0;

        while (x < qr->width) {
            if (!(qr->data[y * qr->width + x] & 1)) {
                x++;
                continue;
            }

            run = 0;
            while (x + run < qr->width
                   && (qr->data[y * qr->width + x + run] & 1))
            {
                run++;
            }

            ac_buf_printf(out, "M%d %dh%dv1h-%dz", x + AC_QR_QUIET,
                y + AC_QR_QUIET, run, run);
            x += run;
        }
    }

    ac_buf_str(out, "\"/></svg>\n");

    QRcode_free(qr);

    return ac_buf_status(out);
}
