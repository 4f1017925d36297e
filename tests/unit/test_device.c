/*
 * Words for people: device labels from user agents, waits in words.
 */

#include "authcore.h"
#include "check.h"


#define LABEL(ua, want)                                                      \
    do {                                                                     \
        char l_[64];                                                         \
        size_t n_ = ac_device_label(ua, strlen(ua), l_, sizeof(l_));         \
        CHECK_STR(l_, want);                                                 \
        CHECK_INT(n_, strlen(want));                                         \
    } while (0)

#define WAIT(s, want)                                                        \
    do {                                                                     \
        char words_[AC_WAIT_WORDS_MAX];                                      \
        CHECK_INT(ac_wait_words(s, words_, sizeof(words_)), AC_OK);          \
        CHECK_STR(words_, want);                                             \
    } while (0)


TEST(desktop_browsers)
{
    LABEL("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, "
          "like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Linux");
    LABEL("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) "
          "Gecko/20100101 Firefox/127.0", "Firefox on Windows");
    LABEL("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15"
          " (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
          "Safari on macOS");
    LABEL("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 "
          "Edg/126.0.2592.68", "Edge on Windows");
    LABEL("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
          "Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0",
          "Opera on Linux");
    LABEL("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
          "Chrome on ChromeOS");
    LABEL("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 "
          "Firefox/127.0", "Firefox on Linux");
    LABEL("Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
          "Internet Explorer on Windows");
    LABEL("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
          "Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
          "Chrome on Linux");
}


TEST(mobile_browsers)
{
    LABEL("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
          "Mobile/15E148 Safari/604.1", "Safari on iPhone");
    LABEL("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
          " (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 "
          "Safari/604.1", "Chrome on iPad");
    LABEL("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 "
          "Mobile/15E148 Safari/605.1.15", "Firefox on iPhone");
    LABEL("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
          "Chrome on Android");
    LABEL("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 "
          "(KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile "
          "Safari/537.36", "Samsung Internet on Android");
    LABEL("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 "
          "Firefox/127.0", "Firefox on Android");
}


TEST(programs_and_unknowns)
{
    LABEL("curl/8.5.0", "curl");
    LABEL("Wget/1.21.4", "Wget");
    LABEL("GuichetPhone/1.0 (second device)", "GuichetPhone");
    LABEL("python-requests/2.31.0", "python-requests");
    LABEL("", "Unknown device");
    LABEL("/", "Unknown device");
    LABEL("<script>/1", "Unknown device");
    LABEL("\x01\x02/3", "Unknown device");
    /* a browser without a known system, a system without a browser */
    LABEL("Mozilla/5.0 Firefox/127.0", "Firefox");
    LABEL("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537",
          "Browser on Linux");
    /* the first 48 bytes of Firefox's agent, as older sessions kept it */
    LABEL("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:12",
          "Browser on Windows");
}


TEST(labels_kept)
{
    LABEL("Chrome on Linux", "Chrome on Linux");
    LABEL("Samsung Internet on Android", "Samsung Internet on Android");
    LABEL("GuichetPhone", "GuichetPhone");
    LABEL("Unknown device", "Unknown device");
}


TEST(label_limits)
{
    char    small[8], one[1];
    size_t  n;

    n = ac_device_label("Mozilla/5.0 (X11; Linux x86_64) Firefox/1", 41,
                        small, sizeof(small));
    CHECK_INT(n, 7);
    CHECK_STR(small, "Firefox");

    n = ac_device_label("curl/8", 6, one, sizeof(one));
    CHECK_INT(n, 0);
    CHECK_STR(one, "");

    CHECK_INT(ac_device_label("curl/8", 6, NULL, 10), 0);

    n = ac_device_label(NULL, 5, small, sizeof(small));
    CHECK_STR(small, "Unknown");
    CHECK_INT(n, 7);

    /* only len bytes are read: "Firefox/" lies beyond them */
    n = ac_device_label("Mozilla/5.0 (X11) Firefox/1", 17, small,
                        sizeof(small));
    CHECK_STR(small, "Browser");
}


TEST(wait_words)
{
    char  tiny[4];

    WAIT(0, "1 second");
    WAIT(-5, "1 second");
    WAIT(1, "1 second");
    WAIT(2, "2 seconds");
    WAIT(59, "59 seconds");
    WAIT(60, "1 minute");
    WAIT(61, "2 minutes");
    WAIT(180, "3 minutes");
    WAIT(3540, "59 minutes");
    WAIT(3541, "1 hour");
    WAIT(3600, "1 hour");
    WAIT(3601, "2 hours");
    WAIT(86399, "1 day");
    WAIT(86400, "1 day");
    WAIT(200000, "3 days");

    CHECK_INT(ac_wait_words(2, tiny, sizeof(tiny)), AC_ERR_TOO_LONG);
    CHECK_STR(tiny, "");
    CHECK_INT(ac_wait_words(2, NULL, 10), AC_ERR_INVALID);
}


int
main(void)
{
    RUN(desktop_browsers);
    RUN(mobile_browsers);
    RUN(programs_and_unknowns);
    RUN(labels_kept);
    RUN(label_limits);
    RUN(wait_words);

    return CHECK_DONE();
}
