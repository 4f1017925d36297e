/*
 * Anomaly rules: bursts per IP, account and partner, credential
 * stuffing, throttling, new IP and new device, fed in either order.
 */

#include <stdlib.h>

#include "authcore.h"
#include "check.h"


static ac_config_t    cfg;
static uint64_t       seq;


static void
cfg_init(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.anomaly_window = 600;
    cfg.anomaly_ip_failures = 20;
    cfg.anomaly_account_failures = 5;
    cfg.anomaly_ip_accounts = 5;
    cfg.anomaly_partner_failures = 10;
    seq = 0;
}


static void
entry(ac_log_entry_t *e, int64_t t, const char *event, int failed,
    const char *account, const char *email, const char *ip, const char *ua)
{
    memset(e, 0, sizeof(*e));
    e->seq = ++seq;
    e->time_ms = t;
    snprintf(e->event, sizeof(e->event), "%s", event);
    e->failed = failed;
    snprintf(e->account, sizeof(e->account), "%s", account);
    snprintf(e->email, sizeof(e->email), "%s", email);
    snprintf(e->ip, sizeof(e->ip), "%s", ip);
    snprintf(e->ua, sizeof(e->ua), "%s", ua);
}


static int
find(ac_anomaly_t *an, const char *rule, const char *subject,
    ac_anomaly_finding_t *f)
{
    size_t  i;

    for (i = 0; ac_anomaly_get(an, i, f) == AC_OK; i++) {
        if (strcmp(f->rule, rule) == 0 && strcmp(f->subject, subject) == 0) {
            return 1;
        }
    }

    return 0;
}


TEST(test_ip_burst_threshold)
{
    int                    i;
    char                   email[64];
    ac_anomaly_t          *an;
    ac_log_entry_t         e;
    ac_anomaly_finding_t   f;

    cfg_init();
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

    /* 20 failures in 19 s from one IP over 20 typed emails */
    for (i = 0; i < 20; i++) {
        snprintf(email, sizeof(email), "V%d@Example.org", i);
        entry(&e, 1000000 + i * 1000, "login.failure", 1, "", email,
              "203.0.113.7", "curl/8");
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    /* 19 from another IP: one short of the threshold */
    for (i = 0; i < 19; i++) {
        entry(&e, 1000000 + i * 1000, "login.failure", 1, "", "x@y.z",
              "198.51.100.2", "ua");
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK_INT(ac_anomaly_events(an), 39);

    CHECK(find(an, "ip_failures", "203.0.113.7", &f));
    CHECK_INT(f.count, 20);
    CHECK_STR(f.subject_kind, "ip");
    CHECK_STR(f.details_kind, "account");
    CHECK_INT(f.ndetails, AC_ANOMALY_DETAILS);
    CHECK_INT(f.more, 0);
    CHECK_STR(f.details[0], "v0@example.org");
    CHECK_INT(f.first_ms, 1000000);
    CHECK_INT(f.last_ms, 1019000);

    CHECK(!find(an, "ip_failures", "198.51.100.2", &f));
    CHECK(find(an, "credential_stuffing", "203.0.113.7", &f));
    CHECK_INT(f.count, 20);

    /* the other IP tried one email 19 times */
    CHECK(find(an, "account_failures", "x@y.z", &f));
    CHECK_INT(f.count, 19);
    CHECK(!find(an, "credential_stuffing", "198.51.100.2", &f));

    /* adding after the run is refused */
    CHECK_INT(ac_anomaly_add(an, &e), AC_ERR_INVALID);
    CHECK_INT(ac_anomaly_get(an, ac_anomaly_count(an), &f),
              AC_ERR_NOT_FOUND);

    ac_anomaly_free(an);
}


TEST(test_window_splits_burst)
{
    int                    i;
    ac_anomaly_t          *an;
    ac_log_entry_t         e;
    ac_anomaly_finding_t   f;

    cfg_init();
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

    /* 4 failures on one account, 11 minutes, then 4 more: never 5 in
     * any 10-minute window */
    for (i = 0; i < 8; i++) {
        entry(&e, (int64_t) i * 1000 + (i >= 4 ? 660000 : 0),
              "2fa.failure", 1, "aaaaaaaaaaaaaaaa", "", "192.0.2.1", "");
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK(!find(an, "account_failures", "aaaaaaaaaaaaaaaa", &f));
    ac_anomaly_free(an);

    cfg_init();
    cfg.anomaly_account_failures = 4;
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

    for (i = 0; i < 8; i++) {
        entry(&e, (int64_t) i * 1000 + (i >= 4 ? 660000 : 0),
              "2fa.failure", 1, "aaaaaaaaaaaaaaaa", "", "192.0.2.1", "");
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK(find(an, "account_failures", "aaaaaaaaaaaaaaaa", &f));
    CHECK_INT(f.count, 4);
    CHECK_INT(f.ndetails, 1);
    CHECK_STR(f.details[0], "192.0.2.1");
    ac_anomaly_free(an);
}


/* Newest first, as a reverse stream read gives them: same findings. */
TEST(test_new_ip_and_device_any_order)
{
    int                    i;
    ac_anomaly_t          *an;
    ac_log_entry_t         e[4];
    ac_anomaly_finding_t   f;

    for (i = 0; i < 2; i++) {
        cfg_init();
        entry(&e[0], 1000, "login.success", 0, "bbbbbbbbbbbbbbbb", "",
              "192.0.2.1", "Firefox");
        entry(&e[1], 2000, "login.success", 0, "bbbbbbbbbbbbbbbb", "",
              "192.0.2.1", "Firefox");
        entry(&e[2], 3000, "login.success", 0, "bbbbbbbbbbbbbbbb", "",
              "192.0.2.1", "<script>Chrome");
        entry(&e[3], 3000, "login.success", 0, "bbbbbbbbbbbbbbbb", "",
              "2001:db8::1", "Firefox");

        CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

        if (i == 0) {
            CHECK_INT(ac_anomaly_add(an, &e[0]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[1]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[2]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[3]), AC_OK);

        } else {
            CHECK_INT(ac_anomaly_add(an, &e[3]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[2]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[1]), AC_OK);
            CHECK_INT(ac_anomaly_add(an, &e[0]), AC_OK);
        }

        CHECK_INT(ac_anomaly_run(an), AC_OK);
        CHECK_INT(ac_anomaly_count(an), 2);

        CHECK(find(an, "new_device", "bbbbbbbbbbbbbbbb", &f));
        CHECK_STR(f.ip, "192.0.2.1");
        CHECK_STR(f.ua, "<script>Chrome");
        CHECK_INT(f.first_ms, 3000);

        CHECK(find(an, "new_ip", "bbbbbbbbbbbbbbbb", &f));
        CHECK_STR(f.ip, "2001:db8::1");
        CHECK_STR(f.subject_kind, "account");

        ac_anomaly_free(an);
    }
}


TEST(test_erased_and_other_events)
{
    int                    i;
    ac_anomaly_t          *an;
    ac_log_entry_t         e;
    ac_anomaly_finding_t   f;

    cfg_init();
    cfg.anomaly_ip_failures = 2;
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

    /* erased entries have no IP to group by */
    for (i = 0; i < 5; i++) {
        entry(&e, i, "login.failure", 1, "cccccccccccccccc", AC_LOG_ERASED,
              AC_LOG_ERASED, AC_LOG_ERASED);
        e.sealed = e.erased = 1;
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    /* not authentication attempts, or not events at all */
    entry(&e, 10, "logout", 0, "cccccccccccccccc", "", "192.0.2.9", "");
    CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    entry(&e, 10, "password.changed", 0, "", "", "192.0.2.9", "");
    CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    entry(&e, 10, "login.bogus", 1, "", "", "192.0.2.9", "");
    CHECK_INT(ac_anomaly_add(an, &e), AC_OK);

    /* one throttled event is reported */
    entry(&e, 20, "throttled", 1, "", "t@example.org", "192.0.2.5", "");
    CHECK_INT(ac_anomaly_add(an, &e), AC_OK);

    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK_INT(ac_anomaly_events(an), 6);
    CHECK(!find(an, "ip_failures", AC_LOG_ERASED, &f));
    CHECK(find(an, "account_failures", "cccccccccccccccc", &f));
    CHECK_INT(f.ndetails, 0);
    CHECK(find(an, "throttled", "192.0.2.5", &f));
    CHECK_STR(f.details[0], "t@example.org");
    CHECK_INT(ac_anomaly_count(an), 2);
    CHECK_INT(ac_anomaly_run(an), AC_ERR_INVALID);

    ac_anomaly_free(an);
}


TEST(test_partner_sso_and_many_details)
{
    int                    i;
    char                   ip[32];
    ac_anomaly_t          *an;
    ac_log_entry_t         e;
    ac_anomaly_finding_t   f;

    cfg_init();
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);

    for (i = 0; i < 1000; i++) {
        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
        entry(&e, 5000 + i, "sso.failure", 1, "", "", ip, "");
        snprintf(e.partner, sizeof(e.partner), "acme");
        CHECK_INT(ac_anomaly_add(an, &e), AC_OK);
    }

    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK(find(an, "partner_sso_failures", "acme", &f));
    CHECK_INT(f.count, 1000);
    CHECK_STR(f.subject_kind, "partner");
    CHECK_INT(f.ndetails, AC_ANOMALY_DETAILS);
    CHECK_INT(f.more, 1000 - AC_ANOMALY_DETAILS);
    CHECK_STR(f.details[0], "10.0.0.0");

    ac_anomaly_free(an);
    ac_anomaly_free(NULL);
}


TEST(test_empty)
{
    ac_anomaly_t          *an;
    ac_anomaly_finding_t   f;

    cfg_init();
    CHECK_INT(ac_anomaly_new(NULL, &an), AC_ERR_INVALID);
    CHECK(an == NULL);
    CHECK_INT(ac_anomaly_new(&cfg, &an), AC_OK);
    CHECK_INT(ac_anomaly_run(an), AC_OK);
    CHECK_INT(ac_anomaly_events(an), 0);
    CHECK_INT(ac_anomaly_count(an), 0);
    CHECK_INT(ac_anomaly_get(an, 0, &f), AC_ERR_NOT_FOUND);
    ac_anomaly_free(an);
}


int
main(void)
{
    RUN(test_empty);
    RUN(test_ip_burst_threshold);
    RUN(test_window_splits_burst);
    RUN(test_new_ip_and_device_any_order);
    RUN(test_erased_and_other_events);
    RUN(test_partner_sso_and_many_details);

    return CHECK_DONE();
}
