/*
 * authcore: words for people. A session's device named from its user
 * agent ("Chrome on Linux"), and a wait in seconds said as a person
 * would ("3 minutes"). A handful of markers, no user-agent database:
 * the label helps a person recognise a device, it proves nothing.
 */

#include <stdio.h>
#include <string.h>

#include "internal.h"


typedef struct {
    const char  *marker;
    const char  *name;
} ac_device_rule_t;


/* the first marker found names the browser: the order matters */
static const ac_device_rule_t  ac_device_browsers[] = {
    { "EdgiOS/", "Edge" },
    { "EdgA/", "Edge" },
    { "Edg/", "Edge" },
    { "Edge/", "Edge" },
    { "OPR/", "Opera" },
    { "Opera", "Opera" },
    { "SamsungBrowser/", "Samsung Internet" },
    { "YaBrowser/", "Yandex Browser" },
    { "Vivaldi/", "Vivaldi" },
    { "FxiOS/", "Firefox" },
    { "Firefox/", "Firefox" },
    { "CriOS/", "Chrome" },
    { "Chromium/", "Chromium" },
    { "HeadlessChrome/", "Chrome" },
    { "Chrome/", "Chrome" },
    { "Trident/", "Internet Explorer" },
    { "MSIE ", "Internet Explorer" },
    { "Version/", "Safari" },          /* with "Safari/", checked below */
    { "curl/", "curl" },
    { "Wget/", "Wget" },
    { NULL, NULL }
};

static const ac_device_rule_t  ac_device_systems[] = {
    { "iPhone", "iPhone" },
    { "iPad", "iPad" },
    { "iPod", "iPod" },
    { "Android", "Android" },
    { "CrOS", "ChromeOS" },
    { "Windows Phone", "Windows Phone" },
    { "Windows", "Windows" },
    { "Macintosh", "macOS" },
    { "Mac OS X", "macOS" },
    { "FreeBSD", "FreeBSD" },
    { "OpenBSD", "OpenBSD" },
    { "Linux", "Linux" },
    { "X11", "Linux" },
    { NULL, NULL }
};


static const char *ac_device_find(const char *ua, size_t len,
    const char *marker);
static size_t ac_device_token(const char *ua, size_t len, char *out,
    size_t size);
static int ac_device_plain(const char *ua, size_t len);


static const char *
ac_device_find(const char *ua, size_t len, const char *marker)
{
    size_t  i, m;

    m = strlen(marker);

    for (i = 0; i + m <= len; i++) {
        if (memcmp(ua + i, marker, m) == 0) {
            return ua + i;
        }
    }

    return NULL;
}


/*
 * The first product token ("GuichetPhone/1.0 (...)" gives
 * "GuichetPhone"), letters, digits and " .-_" only, at most 24 bytes;
 * 0 when there is none.
 */
static size_t
ac_device_token(const char *ua, size_t len, char *out, size_t size)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < len && n < 24 && n + 1 < size; i++) {
        char  c = ua[i];

        if (c == '/' || c == '(' || c == ';') {
            break;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == ' ' || c == '.'
              || c == '-' || c == '_'))
        {
            return 0;
        }

        out[n++] = c;
    }

    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }

    out[n] = '\0';

    return n;
}


/* printable words without '/' or '(': not a user agent, a label */
static int
ac_device_plain(const char *ua, size_t len)
{
    size_t  i;

    if (len == 0 || len > AC_DEVICE_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) ua[i] < 0x20 || (unsigned char) ua[i] > 0x7e
            || ua[i] == '/' || ua[i] == '(' || ua[i] == '<' || ua[i] == '>')
        {
            return 0;
        }
    }

    return 1;
}


size_t
ac_device_label(const char *ua, size_t len, char *out, size_t size)
{
    size_t                   i, n;
    const char              *browser, *system;
    char                     token[32];
    const ac_device_rule_t  *r;

    if (out == NULL || size == 0) {
        return 0;
    }

    out[0] = '\0';

    if (ua == NULL) {
        len = 0;
    }

    if (ac_device_plain(ua, len)) {
        /* a label already ("Chrome on Linux"): kept as it is */
        n = len < size - 1 ? len : size - 1;
        memcpy(out, ua, n);
        out[n] = '\0';
        return n;
    }

    browser = NULL;
    system = NULL;

    for (r = ac_device_browsers; r->marker; r++) {
        if (ac_device_find(ua, len, r->marker) == NULL) {
            continue;
        }

        if (strcmp(r->marker, "Version/") == 0
            && ac_device_find(ua, len, "Safari/") == NULL)
        {
            continue;
        }

        browser = r->name;
        break;
    }

    for (r = ac_device_systems; r->marker; r++) {
        if (ac_device_find(ua, len, r->marker) != NULL) {
            system = r->name;
            break;
        }
    }

    if (browser == NULL && system == NULL) {
        /* a program's own name ("curl/8.5.0" is known above) */
        if (ac_device_token(ua, len, token, sizeof(token)) == 0) {
            browser = "Unknown device";

        } else {
            browser = token;
        }
    }

    if (browser == NULL) {
        browser = "Browser";
    }

    for (i = 0, n = 0; browser[i] && n + 1 < size; i++) {
        out[n++] = browser[i];
    }

    if (system != NULL) {
        static const char  on[] = " on ";

        for (i = 0; on[i] && n + 1 < size; i++) {
            out[n++] = on[i];
        }

        for (i = 0; system[i] && n + 1 < size; i++) {
            out[n++] = system[i];
        }
    }

    out[n] = '\0';

    return n;
}


int
ac_wait_words(int64_t seconds, char *out, size_t size)
{
    int64_t      n;
    const char  *unit;
    char         tmp[48];
    int          len;

    if (out == NULL || size == 0) {
        return AC_ERR_INVALID;
    }

    out[0] = '\0';

    if (seconds < 1) {
        seconds = 1;
    }

    /* rounded up: a person who waits as told is not refused again */
    if (seconds < 60) {
        n = seconds;
        unit = "second";

    } else if (seconds < 3600) {
        n = (seconds + 59) / 60;
        unit = "minute";

    } else if (seconds < 86400) {
        n = (seconds + 3599) / 3600;
        unit = "hour";

    } else {
        n = (seconds + 86399) / 86400;
        unit = "day";
    }

    if (n == 60 && unit[0] == 'm') {
        n = 1;
        unit = "hour";

    } else if (n == 24 && unit[0] == 'h') {
        n = 1;
        unit = "day";
    }

    len = snprintf(tmp, sizeof(tmp), "%lld %s%s", (long long) n, unit,
                   n == 1 ? "" : "s");

    if (len < 0 || (size_t) len >= size) {
        return AC_ERR_TOO_LONG;
    }

    memcpy(out, tmp, (size_t) len + 1);

    return AC_OK;
}
