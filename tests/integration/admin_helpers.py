"""Helpers of the security team's page and metrics tests: a gateway with
low anomaly thresholds, a security-team member signed in with password
and TOTP, failed logins typed by a scripted attacker, the page's rows,
and a Prometheus text format (0.0.4) reader."""

import html
import os
import re
import uuid

import pytest
import requests

from conftest import PREFIX
from login_helpers import (DEFAULT_EXTRA, LoginGateway, login_form,
                           post_code, post_login, stop_gateway, totp)

ADMIN_EXTRA = DEFAULT_EXTRA + """
anomaly_ip_failures = 5
anomaly_account_failures = 3
anomaly_ip_accounts = 4
"""

SECURITY_EMAIL = "sec@example.com"
SECURITY_PASSWORD = "a long security password"


class AdminGateway(LoginGateway):
    """workers: 2 for the metrics tests; "reuseport" lets the kernel
    spread connections over both."""

    def __init__(self, tmp, redis, extra=ADMIN_EXTRA, workers=1):
        super().__init__(tmp, redis, extra)
        if workers != 1:
            path = os.path.join(tmp, "nginx.conf")
            with open(path) as f:
                conf = f.read()
            conf = conf.replace("worker_processes 1;",
                                "worker_processes %d;" % workers)
            conf = conf.replace("listen 127.0.0.1:%d;" % self.port,
                                "listen 127.0.0.1:%d reuseport;" % self.port)
            with open(path, "w") as f:
                f.write(conf)


@pytest.fixture
def agw(tmp_path, redis_server):
    g = AdminGateway(str(tmp_path), redis_server)
    g.start()
    yield g
    stop_gateway(g)


@pytest.fixture
def agw2(tmp_path, redis_server):
    g = AdminGateway(str(tmp_path), redis_server, workers=2)
    g.start()
    yield g
    stop_gateway(g)


def security_member(g, email=SECURITY_EMAIL, otp=True, role="security"):
    """A member of the security team signed in for real: password, then
    TOTP when otp. Returns the requests session."""
    # the team signs in from elsewhere than the attacker, who all come
    # from 127.0.0.1 here: forget the address's failure counter
    r = g.redis.client()
    for key in r.scan_iter(PREFIX + "thr:ip:*"):
        r.delete(key)
    g.add_user(email, SECURITY_PASSWORD, role=role)
    secret = g.enroll_totp(email) if otp else None
    s, r = post_login(g, email, SECURITY_PASSWORD, return_to="/")
    assert r.status_code == 303, r.text
    if otp:
        assert r.headers["Location"].endswith("/guichet/2fa")
        r = post_code(g, s, totp(secret))
        assert r.status_code == 303, r.text
    return s


def failed_login(g, email, ua=None, password="not the password"):
    """One failed login as a scripted attacker types it."""
    s = requests.Session()
    if ua is not None:
        s.headers["User-Agent"] = ua
    s, r = post_login(g, email, password, session=s)
    assert r.status_code in (401, 429), r.status_code
    return r


def admin_page(g, s, **params):
    return s.get(g.url + "/guichet/admin/logs", params=params or None,
                 allow_redirects=False, timeout=10)


ROW = re.compile(r'<tr class="entry" id="e-([0-9]+-[0-9]+)">(.*?)</tr>',
                 re.S)
CELL = re.compile(r"<td(?: [a-z]+=\"[^\"]*\")*>(.*?)</td>", re.S)
COLUMNS = ("time", "event", "result", "reason", "account", "email", "ip",
           "partner", "session", "ua")


def rows(page):
    """The page's entries: dicts of the unescaped cells plus "id"."""
    out = []
    for m in ROW.finditer(page):
        cells = [html.unescape(c) for c in CELL.findall(m.group(2))]
        assert len(cells) == len(COLUMNS), m.group(0)
        d = dict(zip(COLUMNS, cells))
        d["id"] = m.group(1)
        out.append(d)
    return out


def link(page, name):
    m = re.search(r'<a id="%s" href="([^"]*)"' % name, page)
    return html.unescape(m.group(1)) if m else None


def anomalies(page):
    out = []
    for m in re.finditer(r'<tr class="anomaly">(.*?)</tr>', page, re.S):
        out.append([html.unescape(c) for c in CELL.findall(m.group(1))])
    return out


def unique_email():
    return "u%s@example.org" % uuid.uuid4().hex[:10]


# ------------------------------------------------ Prometheus text 0.0.4

METRIC = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? ([0-9]+(?:\.[0-9]+)?)$"
                    % (METRIC, LABEL, LABEL))


def parse_prometheus(text):
    """Checks the text line by line; returns {(name, labels): value}
    where labels is a sorted tuple of (key, value)."""
    assert text.endswith("\n")
    types, helps, samples = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(METRIC, name), line
            assert name not in helps, "HELP twice: " + line
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "untyped"), line
            assert name not in types, "TYPE twice: " + line
            assert not any(k[0] == name for k in samples), \
                "TYPE after samples: " + line
            types[name] = kind
            continue
        assert not line.startswith("#") and line.strip(), repr(line)
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        assert name in types, "sample before its TYPE: " + line
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="'
                                         r'((?:[^"\\]|\\.)*)"',
                                         m.group(2) or "")))
        key = (name, labels)
        assert key not in samples, "sample twice: " + line
        samples[key] = float(m.group(3))
    return samples


def metric(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


__all__ = ["AdminGateway", "agw", "agw2", "security_member",
           "failed_login", "admin_page", "rows", "link", "anomalies",
           "unique_email", "parse_prometheus", "metric", "login_form",
           "stop_gateway", "SECURITY_EMAIL", "SECURITY_PASSWORD"]
