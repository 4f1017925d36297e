"""One reading of a cookie (SPEC 9): the gate and the endpoints read the
session cookie the same way; client-sent identity headers never reach a
backend of a server that uses Guichet; an outage of Redis under load
writes a few lines to the error log, not one per request."""

import http.client
import os
import re

import requests

from conftest import (PREFIX, Gateway, check_error_log, session_exists,
                      wait_until)

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def raw_get(gw, path, cookies=(), headers=None):
    """A GET with one "Cookie:" line per item of cookies (requests would
    fold them into one)."""
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    try:
        c.putrequest("GET", path)
        for line in cookies:
            c.putheader("Cookie", line)
        for k, v in (headers or JSON).items():
            c.putheader(k, v)
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def gate(gw, cookies, headers=None):
    return raw_get(gw, "/app/", cookies, headers)[0]


def session_status(gw, cookies):
    return raw_get(gw, "/guichet/session", cookies)[0]


def log_lines(gw, since=0):
    return gw.error_log()[since:].splitlines()


# ------------------------------------------------------- cookie names

def test_cookie_name_is_exact_and_case_sensitive(gateway):
    cookie = gateway.session()
    # the canonical spelling passes both
    assert gate(gateway, ["guichet=" + cookie]) == 200
    assert session_status(gateway, ["guichet=" + cookie]) == 200
    for name in ("GUICHET", "Guichet", "guichET", "guichet_", "xguichet"):
        line = name + "=" + cookie
        assert gate(gateway, [line]) == 401, line
        assert session_status(gateway, [line]) == 401, line
    # a browser is sent to the login page, not let through
    assert gate(gateway, ["GUICHET=" + cookie], HTML) == 302


def test_spaces_around_the_cookie_are_read_alike(gateway):
    cookie = gateway.session()
    for line in ("a=1;guichet=" + cookie, "a=1 ;  guichet = " + cookie,
                 "guichet=" + cookie + " ; b=2"):
        assert gate(gateway, [line]) == session_status(gateway, [line]) \
            == 200, line


# ------------------------------------------------------- duplicates

def test_duplicated_session_cookie_is_refused_everywhere(gateway):
    cookie = gateway.session()
    junk = "A" * 43
    cases = [
        ["guichet=%s; guichet=%s" % (cookie, junk)],
        ["guichet=%s; guichet=%s" % (junk, cookie)],
        ["guichet=%s; guichet=%s" % (cookie, cookie)],
        ["guichet=" + cookie, "guichet=" + junk],
        ["guichet=" + junk, "guichet=" + cookie],
        ["a=1; guichet=" + cookie, "b=2", "guichet=" + cookie],
        # an empty copy is a copy too, on one line or two
        ["guichet=; guichet=" + cookie],
        ["guichet=", "guichet=" + cookie],
        ["guichet=" + cookie, "guichet="],
    ]
    for lines in cases:
        assert gate(gateway, lines) == 401, lines
        assert gate(gateway, lines, HTML) == 302, lines
        assert session_status(gateway, lines) == 401, lines
    # the session itself is fine, read alone
    assert gate(gateway, ["guichet=" + cookie]) == 200
    # and over two lines without a duplicate, it is read
    lines = ["a=1", "guichet=" + cookie]
    assert gate(gateway, lines) == session_status(gateway, lines) == 200


def test_cached_session_is_not_reached_by_another_spelling(gateway):
    cookie = gateway.session()
    # fills the worker's session cache with the canonical reading
    assert gate(gateway, ["guichet=" + cookie]) == 200
    assert gate(gateway, ["guichet=" + cookie]) == 200
    for lines in (["GUICHET=" + cookie],
                  ["guichet=" + cookie, "guichet=" + cookie],
                  ["guichet=" + cookie + "; guichet=x"]):
        assert gate(gateway, lines) == 401, lines


def test_logout_with_a_duplicate_never_pretends(gateway):
    cookie = gateway.session()
    digest = gateway.digest(cookie)
    r = gateway.redis.client()
    key = PREFIX + "sess:" + digest
    assert session_exists(r, key)
    for lines in (["guichet=%s; guichet=%s" % (cookie, "A" * 43)],
                  ["guichet=" + "A" * 43, "guichet=" + cookie]):
        c = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
        try:
            c.putrequest("POST", "/guichet/logout")
            for line in lines:
                c.putheader("Cookie", line)
            body = b"csrf=x"
            c.putheader("Content-Type", "application/x-www-form-urlencoded")
            c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            resp = c.getresponse()
            resp.read()
            status = resp.status
        finally:
            c.close()
        assert status in (303, 400, 401, 403), status
        # whatever logout did, the gate and Redis tell the same story:
        # the browser's cookies open nothing, and the session is either
        # gone or still accepted when its cookie is sent alone
        assert gate(gateway, lines) == 401
        assert session_status(gateway, lines) == 401
        alone = gate(gateway, ["guichet=" + cookie])
        assert alone == (200 if session_exists(r, key) else 401)


def test_oversized_cookie_is_refused_without_trouble(gateway):
    cookie = gateway.session()
    before = len(gateway.error_log())
    for lines in (["guichet=" + "A" * 8192],
                  ["guichet=" + cookie + "; pad=" + "B" * 8192],
                  ["guichet=" + "A" * 4000],
                  ["guichet=" + cookie, "guichet=" + "A" * 4000]):
        status = gate(gateway, lines)
        assert 400 <= status < 500, (status, len(lines[0]))
        assert 400 <= session_status(gateway, lines) < 500
    # the worker is alive and well
    assert gate(gateway, ["guichet=" + cookie]) == 200
    new = gateway.error_log()[before:]
    assert not re.search(r"\[(alert|crit|emerg)\]", new), new


# --------------------------------------------- forged identity headers

FORGED = {"X-Guichet-User": "admin", "x-guichet-email": "evil@x",
          "X_Guichet_Amr": "pwd otp"}


def forged_gateway(tmp_path, redis_server):
    g = Gateway(str(tmp_path), redis_server)
    path = os.path.join(g.tmp, "nginx.conf")
    with open(path) as f:
        conf = f.read()
    conf = conf.replace("http {\n",
                        "http {\n    underscores_in_headers on;\n", 1)
    conf = conf.replace(
        "        location /guichet/ {\n",
        "        location /off/ {\n"
        "            guichet off;\n"
        "            proxy_pass http://127.0.0.1:%d/;\n"
        "        }\n\n"
        "        location /plain/ {\n"
        "            proxy_pass http://127.0.0.1:%d/;\n"
        "        }\n\n"
        "        location /guichet/ {\n" % (g.upstream, g.upstream), 1)
    with open(path, "w") as f:
        f.write(conf)
    g.start()
    return g


def test_forged_identity_headers_never_reach_an_ungated_backend(
        tmp_path, redis_server):
    g = forged_gateway(tmp_path, redis_server)
    try:
        for path in ("/off/page", "/plain/page"):
            r = requests.get(g.url + path, headers=FORGED, timeout=5)
            assert r.status_code == 200
            assert r.text == "user= email= amr= roles=\n", (path, r.text)
            # the same with a valid session: an ungated place sets nothing
            cookie = g.session()
            r = requests.get(g.url + path, headers={
                **FORGED, "Cookie": "guichet=" + cookie}, timeout=5)
            assert r.text == "user= email= amr= roles=\n", (path, r.text)
        # the gated place still passes the gate's own values
        account = g.account()
        cookie = g.session(account_id=account)
        r = requests.get(g.url + "/app/", headers={
            **FORGED, "Cookie": "guichet=" + cookie}, timeout=5)
        assert r.status_code == 200
        assert r.text == ("user=%s email=alice@example.com amr=pwd roles=user\n"
                          % account)
    finally:
        g.stop()
        check_error_log(g)


# ------------------------------------------------ Redis down, quietly

def test_redis_outage_is_logged_once_not_per_request(gateway):
    gateway.expect_in_log.update(["redis connection lost",
                                  "cannot connect to redis"])
    cookie = gateway.session()
    assert gate(gateway, ["guichet=" + cookie]) == 200
    gateway.redis.stop()
    polls = []

    def down():
        polls.append(1)
        return gate(gateway, ["guichet=" + cookie]) == 503

    assert wait_until(down)
    start = len(gateway.error_log())

    n = 300
    with requests.Session() as s:
        for _ in range(n):
            r = s.get(gateway.url + "/app/", headers={
                **JSON, "Cookie": "guichet=" + cookie}, timeout=5)
            assert r.status_code == 503

    # every refusal is accounted for, in a handful of lines
    def counted():
        lines = log_lines(gateway, start)
        one = [x for x in lines if "answering 503" in x]
        more = [int(m.group(1)) for m in
                (re.search(r"(\d+) more requests refused", x)
                 for x in lines) if m]
        return len(one) + sum(more), lines, more

    assert wait_until(lambda: counted()[0] >= n, timeout=10), \
        "\n".join(counted()[1])
    total, lines, more = counted()
    # (the refusals of the polls above may be summed up with them)
    assert n <= total <= n + len(polls)
    others = [x for x in lines if "more requests refused" not in x]
    assert len(others) <= 10, "\n".join(lines)
    assert len(more) <= 20, "\n".join(lines)

    gateway.redis.start()     # same port, empty data
    cookie = gateway.session()
    assert wait_until(lambda: gate(gateway, ["guichet=" + cookie]) == 200,
                      timeout=10)
    log = gateway.error_log()[start:]
    assert "redis connection is back" in log
    # the good news is as visible as the bad one
    assert re.search(r"\[(error|crit)\] .*redis connection is back", log)
