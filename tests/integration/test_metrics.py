"""/guichet/metrics: Prometheus text format 0.0.4, counters shared by the
workers of one nginx (two workers here, connections spread over both
with reuseport), moving with logins, 2FA and gate decisions."""

import requests

from admin_helpers import (agw2, failed_login, metric,  # noqa: F401
                           parse_prometheus, security_member, unique_email)
from login_helpers import post_code, post_login


FAMILIES = ("guichet_logins_total", "guichet_2fa_total",
            "guichet_sso_total", "guichet_throttled_total",
            "guichet_gate_decisions_total", "guichet_redis_errors_total",
            "guichet_redis_reconnects_total",
            "guichet_thread_queue_rejections_total")


def scrape(g):
    # a fresh connection each time: any of the workers may answer
    r = requests.get(g.url + "/guichet/metrics", timeout=5,
                     headers={"Connection": "close"})
    assert r.status_code == 200
    assert r.headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    return r.text, parse_prometheus(r.text)


def test_format_and_families(agw2):  # noqa: F811
    assert len(agw2.workers()) == 2
    text, samples = scrape(agw2)
    for name in FAMILIES:
        assert "# TYPE %s counter\n" % name in text
        assert "# HELP %s " % name in text
    for d in ("allow", "redirect", "unauthorized", "forbidden",
              "unavailable"):
        assert ("guichet_gate_decisions_total", (("decision", d),)) \
            in samples
    for res in ("success", "failure"):
        assert metric(samples, "guichet_logins_total", result=res) == 0
    # only GET and HEAD
    r = requests.post(agw2.url + "/guichet/metrics", timeout=5)
    assert r.status_code in (404, 405)


def test_counters_move_across_workers(agw2):  # noqa: F811
    _, before = scrape(agw2)

    for _ in range(6):
        failed_login(agw2, unique_email())
    s = security_member(agw2)                    # a login, a 2FA
    bad = post_code(agw2, *_pending(agw2))       # a login, a wrong code
    assert bad.status_code == 401

    for _ in range(10):
        r = requests.get(agw2.url + "/app/x", timeout=5,
                         headers={"Connection": "close"})
        assert r.status_code == 401
    for _ in range(4):
        r = requests.get(agw2.url + "/app/x", allow_redirects=False,
                         timeout=5, headers={"Accept": "text/html",
                                             "Connection": "close"})
        assert r.status_code == 302
    for _ in range(3):
        r = s.get(agw2.url + "/app/x", timeout=5)
        assert r.status_code == 200
        r = s.get(agw2.url + "/security/x", timeout=5)
        assert r.status_code == 200

    # every worker answers the same totals
    seen = set()
    for _ in range(12):
        _, after = scrape(agw2)

        def moved(name, **labels):
            return metric(after, name, **labels) \
                - metric(before, name, **labels)

        assert moved("guichet_logins_total", result="failure") == 6
        # the password step of both members (one stopped at 2FA)
        assert moved("guichet_logins_total", result="success") == 2
        assert moved("guichet_2fa_total", result="success") == 1
        assert moved("guichet_2fa_total", result="failure") == 1
        assert moved("guichet_gate_decisions_total",
                     decision="unauthorized") == 10
        assert moved("guichet_gate_decisions_total",
                     decision="redirect") == 4
        assert moved("guichet_gate_decisions_total", decision="allow") == 6
        assert moved("guichet_redis_errors_total") == 0
        seen.add(tuple(sorted(after.items())))
    assert len(seen) == 1


def _pending(g):
    """A second member stopped at the 2FA step; returns (session, code)
    with a code that is wrong."""
    email = unique_email()
    g.add_user(email, "a long enough password")
    g.enroll_totp(email)
    s, r = post_login(g, email, "a long enough password")
    assert r.status_code == 303
    return s, "000000"


def test_throttled_and_forbidden(agw2):  # noqa: F811
    _, before = scrape(agw2)
    email = unique_email()
    codes = [failed_login(agw2, email).status_code for _ in range(6)]
    assert 429 in codes
    plain = agw2.session(roles="user")
    r = requests.get(agw2.url + "/security/x", cookies={"guichet": plain},
                     timeout=5)
    assert r.status_code == 403
    _, after = scrape(agw2)
    assert metric(after, "guichet_throttled_total") \
        - metric(before, "guichet_throttled_total") == codes.count(429)
    assert metric(after, "guichet_gate_decisions_total",
                  decision="forbidden") \
        - metric(before, "guichet_gate_decisions_total",
                 decision="forbidden") == 1
