"""The security team's page, /guichet/admin/logs, against real nginx and
Redis: who may read it, the filters of guichetctl logs, paging by stream
id, escaping of what attackers type, decrypted personal fields, and the
anomaly summary."""

import re

import requests

from admin_helpers import (admin_page, agw, anomalies,  # noqa: F401
                           failed_login, link, rows, security_member,
                           unique_email)
from conftest import PREFIX


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# ------------------------------------------------------------- access

def test_anonymous_goes_to_login(agw):  # noqa: F811
    r = requests.get(agw.url + "/guichet/admin/logs", allow_redirects=False,
                     timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/guichet/login?return_to=")
    assert "admin%2Flogs" in r.headers["Location"] \
        or "admin/logs" in r.headers["Location"]
    assert "Connection log" not in r.text


def test_user_without_security_role_is_refused(agw):  # noqa: F811
    # a full password + TOTP session, but only the "user" role
    s = security_member(agw, email="plain@example.com", role=None)
    r = admin_page(agw, s)
    assert r.status_code == 403
    assert "security team" in r.text
    assert 'id="log-table"' not in r.text
    # even a forged cookie-less header or query does not help
    r = admin_page(agw, s, role="security")
    assert r.status_code == 403


def test_security_role_without_second_factor_is_refused(agw):  # noqa: F811
    s = security_member(agw, otp=False)
    r = admin_page(agw, s)
    assert r.status_code == 403
    assert "second factor" in r.text
    assert 'id="log-table"' not in r.text


def test_forged_session_amr_and_roles(agw):  # noqa: F811
    # sessions as authcore stores them: the page reads roles and amr
    ok = agw.session(roles="user,security", amr="pwd otp")
    r = requests.get(agw.url + "/guichet/admin/logs", allow_redirects=False,
                     cookies={"guichet": ok}, timeout=5)
    assert r.status_code == 200
    for k, v in SECURITY_HEADERS.items():
        assert r.headers[k] == v
    assert r.headers["Content-Type"].startswith("text/html")
    # no inline script or style
    assert "<script" not in r.text and "<style" not in r.text
    assert " style=" not in r.text

    sso_only = agw.session(roles="security", amr="sso")
    r = requests.get(agw.url + "/guichet/admin/logs", allow_redirects=False,
                     cookies={"guichet": sso_only}, timeout=5)
    assert r.status_code == 403


# ------------------------------------------------------------ filters

def test_filters_and_escaping(agw):  # noqa: F811
    hostile = "<script>alert(1)</script>@evil.example"
    ua = 'Mozilla/5.0 <script>alert("ua")</script> & co'
    failed_login(agw, hostile, ua=ua)
    other = unique_email()
    failed_login(agw, other)
    s = security_member(agw)

    page = admin_page(agw, s).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in page
    got = rows(page)
    mine = [r for r in got if r["email"] == hostile]
    assert len(mine) == 1
    assert mine[0]["ua"] == ua
    assert mine[0]["event"] == "login.failure"
    assert mine[0]["result"] == "fail"
    assert mine[0]["ip"] == "127.0.0.1"

    # event and result
    page = admin_page(agw, s, event="login.failure").text
    got = rows(page)
    assert got and all(r["event"] == "login.failure" for r in got)
    assert {hostile, other} <= {r["email"] for r in got}

    got = rows(admin_page(agw, s, result="ok").text)
    assert got and all(r["result"] == "ok" for r in got)
    assert {"login.success", "2fa.success"} <= {r["event"] for r in got}

    # email, case-insensitively
    got = rows(admin_page(agw, s, email=other.upper()).text)
    assert [r["email"] for r in got] == [other]

    # IP and CIDR
    assert len(rows(admin_page(agw, s, ip="127.0.0.0/8").text)) >= 4
    assert len(rows(admin_page(agw, s, ip="127.0.0.1").text)) >= 4
    page = admin_page(agw, s, ip="10.0.0.0/8").text
    assert rows(page) == []
    assert 'id="no-entries"' in page
    assert rows(admin_page(agw, s, ip="::1/128").text) == []

    # the security member's own entries: personal fields decrypted
    account = agw.ctl("user", "show", "sec@example.com", "--json")
    m = re.search(r'"id"\s*:\s*"([a-z2-7]{16})"', account.stdout)
    assert m, account.stdout
    got = rows(admin_page(agw, s, account=m.group(1)).text)
    assert got and all(r["account"] == m.group(1) for r in got)
    assert any(r["email"] == "sec@example.com" for r in got)
    web = [r for r in got if r["event"] in ("login.success", "2fa.success")]
    assert len(web) == 2
    assert all(r["ip"] == "127.0.0.1" and r["ua"].startswith("python-")
               for r in web)

    # time range
    assert rows(admin_page(agw, s, until="2001-01-01").text) == []
    assert len(rows(admin_page(agw, s, since="1h").text)) >= 4
    assert rows(admin_page(agw, s, since="2999-01-01T00:00:00Z").text) == []

    # combined filters keep their values in the form and in links
    page = admin_page(agw, s, event="login.failure", ip="127.0.0.1").text
    assert '<option value="login.failure" selected>' in page
    assert page.count(" selected>") == 2      # the event, any result
    assert 'value="127.0.0.1"' in page

    # the chart of the selected range, drawn without script
    page = admin_page(agw, s, since="2026-01-01T00:00",
                      until="2026-01-02T00:00").text
    assert "Sign-ins, 2026-01-01 00:00 to 2026-01-02 00:00 UTC" in page
    assert '<svg viewBox="0 0 720 200"' in page and "<script" not in page
    page = admin_page(agw, s).text
    assert "Sign-ins, last 24 hours" in page
    m = re.search(r'<desc id="chart-desc">(\d+) success(?:es)?, (\d+) '
                  r'failures?, (\d+) throttled', page)
    assert m and int(m.group(2)) >= 1, page


def test_bad_filters_are_refused(agw):  # noqa: F811
    s = security_member(agw)
    for params in ({"event": "login.bogus"}, {"result": "maybe"},
                   {"ip": "300.1.1.1"}, {"ip": "10.0.0.0/33"},
                   {"since": "yesterday"}, {"until": "2026-13-01"},
                   {"before": "1-2-3"}, {"after": "x"},
                   {"account": "short"}, {"email": "a" * 300},
                   {"event": "<script>"}):
        r = admin_page(agw, s, **params)
        assert r.status_code == 400, params
        assert "<script>" not in r.text
    r = s.get(agw.url + "/guichet/admin/logs?event=%zz", timeout=5)
    assert r.status_code == 400


def test_erased_account_reads_erased(agw):  # noqa: F811
    agw.add_user("gone@example.com", "a long enough password")
    failed_login(agw, "gone@example.com")
    p = agw.ctl("user", "erase", "gone@example.com", "--yes")
    assert p.returncode == 0, p.stderr + p.stdout
    s = security_member(agw)
    got = rows(admin_page(agw, s, event="login.failure").text)
    erased = [r for r in got if r["account"] and r["email"] == "[erased]"]
    assert erased, got
    assert all(r["ip"] == "[erased]" for r in erased)
    assert "gone@example.com" not in admin_page(agw, s).text


# ------------------------------------------------------------- paging

def test_paging_by_stream_id(agw):  # noqa: F811
    for _ in range(64):
        failed_login(agw, unique_email())
    s = security_member(agw)
    r = agw.redis.client()
    all_ids = [i for i, _ in r.xrevrange(PREFIX + "log")]
    assert len(all_ids) >= 66

    page1 = admin_page(agw, s).text
    first = rows(page1)
    assert len(first) == 50
    assert [x["id"] for x in first] == all_ids[:50]
    assert link(page1, "newer") is None
    older = link(page1, "older")
    assert older and "before=" + first[-1]["id"] in older

    page2 = s.get(agw.url + older, timeout=10).text
    second = rows(page2)
    assert [x["id"] for x in second] == all_ids[50:100]
    newer = link(page2, "newer")
    assert newer and "after=" + second[0]["id"] in newer

    back = rows(s.get(agw.url + newer, timeout=10).text)
    assert [x["id"] for x in back] == all_ids[:50]

    # paging keeps the filters
    page = admin_page(agw, s, event="login.failure").text
    older = link(page, "older")
    if older:
        assert "event=login.failure" in older
        assert all(x["event"] == "login.failure"
                   for x in rows(s.get(agw.url + older, timeout=10).text))


# ---------------------------------------------------------- anomalies

def test_anomaly_summary_names_the_attacker(agw):  # noqa: F811
    # a scripted burst: failed logins over many emails from one address
    for i in range(8):
        failed_login(agw, "victim%d@example.org" % i,
                     ua="attack-bot/1.0")
    s = security_member(agw)
    page = admin_page(agw, s).text
    assert "most recent entries of the" in page
    assert "at most 5000" in page
    found = anomalies(page)
    rules = {(a[0], a[1]) for a in found}
    assert ("ip_failures", "127.0.0.1") in rules, found
    assert ("credential_stuffing", "127.0.0.1") in rules, found
    burst = [a for a in found if a[0] == "ip_failures"][0]
    assert int(burst[2]) >= 5
    assert "victim0@example.org" in burst[5]


def test_no_anomaly_on_a_quiet_log(agw):  # noqa: F811
    s = security_member(agw)
    page = admin_page(agw, s).text
    assert 'id="no-anomalies"' in page
    assert anomalies(page) == []
