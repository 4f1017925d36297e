/*
 * The log filter: options read as an operator types them, and entries
 * matched against them.
 */

#include <stdio.h>
#include <string.h>

#include "authcore.h"
#include "check.h"


/* 2026-11-23T10:00:00Z */
#define T0  1795428000000LL
#define NOW (T0 + 3600 * 1000)


static int
set(ac_log_filter_t *f, const char *name, const char *value)
{
    return ac_log_filter_set(f, name, value, strlen(value), NOW);
}


static void
entry(ac_log_entry_t *e)
{
    memset(e, 0, sizeof(ac_log_entry_t));
    e->time_ms = T0 + 500;
    snprintf(e->event, sizeof(e->event), "login.failure");
    e->failed = 1;
    snprintf(e->account, sizeof(e->account), "abcdefghijklmnop");
    snprintf(e->partner, sizeof(e->partner), "acme");
    snprintf(e->email, sizeof(e->email), "Alice@Example.com");
    snprintf(e->ip, sizeof(e->ip), "10.1.2.3");
}


TEST(filter_empty_matches_every_entry)
{
    ac_log_filter_t  f;
    ac_log_entry_t   e;

    ac_log_filter_init(&f);
    entry(&e);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    e.erased = 1;
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
}


TEST(filter_each_option_selects)
{
    ac_log_filter_t  f;
    ac_log_entry_t   e;

    entry(&e);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "account", "abcdefghijklmnop"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "account", "ABCDEFGHIJKLMNOP"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "email", "ALICE@example.COM"), AC_OK);
    CHECK_STR(f.email, "alice@example.com");
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    e.erased = 1;
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
    e.erased = 0;

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "result", "fail"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "result", "ok"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "partner", "acme"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "partner", "other"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
}


TEST(filter_several_events)
{
    ac_log_filter_t  f;
    ac_log_entry_t   e;

    entry(&e);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "event", "login.success"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
    CHECK_INT(set(&f, "event", "login.failure"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "event", "2fa.failure,login.failure"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "event", "login.whatever"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "event", "login.failure,"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "event", ",login.failure"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "event", "login.failure,,logout"), AC_ERR_INVALID);
    CHECK_INT((int) f.events, 0);
}


TEST(filter_ip_and_cidr)
{
    ac_log_filter_t  f;
    ac_log_entry_t   e;

    entry(&e);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "10.1.2.3"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "10.0.0.0/8"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "10.1.2.0/31"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "10.1.2.2/31"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "2001:db8::/32"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
    snprintf(e.ip, sizeof(e.ip), "2001:db8::7");
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    e.erased = 1;
    CHECK_INT(ac_log_filter_match(&f, &e), 0);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "0.0.0.0/0"), AC_OK);
    CHECK_INT(set(&f, "ip", "10.0.0.1"), AC_ERR_EXISTS);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "ip", "10.0.0.0/33"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "2001:db8::/129"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "10.0.0.0/"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "10.0.0.0/+8"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "10.0.0.0/0008"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "/8"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "10.0.0"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "ip", "example.com"), AC_ERR_INVALID);
    CHECK_INT(f.family, 0);
}


TEST(filter_time_range_with_milliseconds)
{
    int64_t          ms;
    ac_log_filter_t  f;
    ac_log_entry_t   e;

    entry(&e);

    CHECK_INT(ac_log_time_parse("2026-11-23", 10, NOW, &ms), AC_OK);
    CHECK_INT(ms, T0 - 10 * 3600 * 1000LL);
    CHECK_INT(ac_log_time_parse("2026-11-23T10:00Z", 17, NOW, &ms), AC_OK);
    CHECK_INT(ms, T0);
    CHECK_INT(ac_log_time_parse("2026-11-23T10:00:00.5Z", 22, NOW, &ms),
              AC_OK);
    CHECK_INT(ms, T0 + 500);
    CHECK_INT(ac_log_time_parse("1h", 2, NOW, &ms), AC_OK);
    CHECK_INT(ms, T0);

    /* since is inclusive, until exclusive, to the millisecond */
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00.500Z"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00.501Z"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "until", "2026-11-23T10:00:00.500Z"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "until", "2026-11-23T10:00:00.501Z"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    CHECK_INT(set(&f, "until", "1h"), AC_ERR_EXISTS);

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "since", "2026-02-30"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "yesterday"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "2026-11-23T25:00:00Z"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00+01:00"),
              AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00.Z"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00.1234Z"),
              AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "1969-12-31"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "100y"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "since", "2026-11-2"), AC_ERR_INVALID);
    CHECK_INT((int) f.since_ms, -1);

    /* always UTC: the "Z" may be left out (date-time fields send none) */
    CHECK_INT(set(&f, "since", "2026-11-23T10:00:00"), AC_OK);
    CHECK_INT(ac_log_filter_match(&f, &e), 1);
    e.time_ms = T0 - 1;
    CHECK_INT(ac_log_filter_match(&f, &e), 0);
}


TEST(filter_refuses_bad_options)
{
    ac_log_filter_t  f;

    ac_log_filter_init(&f);
    CHECK_INT(set(&f, "account", "abc"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "account", "abcdefghijklmno-"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "account", "abcdefghijklmnopq"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "account", "abcdefghijklmnop"), AC_OK);
    CHECK_INT(set(&f, "account", "abcdefghijklmnop"), AC_ERR_EXISTS);
    CHECK_INT(set(&f, "email", "not an email"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "result", "maybe"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "partner", "Bad Partner"), AC_ERR_INVALID);
    CHECK_INT(set(&f, "colour", "red"), AC_ERR_NOT_FOUND);
    CHECK_INT(ac_log_filter_set(&f, "email", "a\0b@c.d", 7, NOW),
              AC_ERR_INVALID);
    CHECK_INT(ac_log_filter_set(&f, "email", "", 0, NOW), AC_ERR_INVALID);
}


int
main(void)
{
    RUN(filter_empty_matches_every_entry);
    RUN(filter_each_option_selects);
    RUN(filter_several_events);
    RUN(filter_ip_and_cidr);
    RUN(filter_time_range_with_milliseconds);
    RUN(filter_refuses_bad_options);

    return CHECK_DONE();
}
