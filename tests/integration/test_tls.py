"""TLS as in production: a password sign-in, a partner SSO sign-in and a
logout over HTTPS (the test environment's self-signed certificate). The
session cookie is "__Host-guichet" with Secure, HttpOnly, Path=/ and no
Domain; the plain-HTTP name "guichet" is never set over TLS."""

import os

import pytest
import requests

from login_helpers import DEFAULT_EXTRA, hidden, set_cookies, stop_gateway
from sso_helpers import Partner, SsoGateway

COOKIE = "__Host-guichet"
PASSWORD = "correct horse battery"


def start_tls_gateway(tmp_path, redis_server):
    """The test gateway with the endpoints on its TLS server too."""
    g = SsoGateway(str(tmp_path), redis_server, DEFAULT_EXTRA)
    path = os.path.join(g.tmp, "nginx.conf")
    with open(path) as f:
        conf = f.read()
    key = "ssl_certificate_key %s/tls.key;" % g.tmp
    assert key in conf
    conf = conf.replace(key, key + """
        location /guichet/ {
            guichet_endpoints;
        }""", 1)
    with open(path, "w") as f:
        f.write(conf)
    g.start()
    g.ca = os.path.join(g.tmp, "tls.crt")
    return g


@pytest.fixture
def tls(tmp_path, redis_server):
    g = start_tls_gateway(tmp_path, redis_server)
    g.acme = g.add_partner(Partner("acme", "ES256"))
    yield g
    stop_gateway(g)


def parse(header):
    """name, value and lower-cased attributes of one Set-Cookie."""
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return name, value, attrs


def session_cookies(r):
    return [parse(c) for c in set_cookies(r)
            if parse(c)[0] in (COOKIE, "guichet")]


def assert_host_cookie(r):
    """One __Host-guichet cookie, set with the attributes that keep it
    to this host over TLS; returns its value."""
    cookies = session_cookies(r)
    assert [c[0] for c in cookies] == [COOKIE], set_cookies(r)
    _, value, attrs = cookies[0]
    assert value
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["path"] == "/"
    assert "domain" not in attrs
    assert attrs["samesite"].lower() in ("lax", "strict")
    return value


def gated(g, value, name=COOKIE):
    return requests.get(g.tls_url + "/app/",
                        headers={"Cookie": "%s=%s" % (name, value)},
                        verify=g.ca, allow_redirects=False, timeout=5)


def tls_login(g, email):
    s = requests.Session()
    page = s.get(g.tls_url + "/guichet/login", verify=g.ca, timeout=5)
    assert page.status_code == 200, page.text
    # the pre-login CSRF cookie is a __Host- one too
    assert all(parse(c)[0].startswith("__Host-") for c in set_cookies(page))
    r = s.post(g.tls_url + "/guichet/login",
               data={"email": email, "password": PASSWORD,
                     "csrf": hidden(page.text, "csrf"),
                     "return_to": "/app/"},
               verify=g.ca, allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/app/"
    return s, r


def test_password_sign_in_and_logout_over_tls(tls):
    tls.add_user("tina@example.com", PASSWORD)
    s, r = tls_login(tls, "tina@example.com")
    value = assert_host_cookie(r)

    r = gated(tls, value)
    assert r.status_code == 200, r.text
    assert "email=tina@example.com" in r.text
    # the plain-HTTP name carries nothing over TLS
    assert gated(tls, value, name="guichet").status_code == 401

    # logout over TLS: the session ends, the cookie is cleared with the
    # same attributes (a __Host- cookie is only replaced by one)
    page = s.get(tls.tls_url + "/guichet/logout", verify=tls.ca, timeout=5)
    assert page.status_code == 200, page.text
    r = s.post(tls.tls_url + "/guichet/logout",
               data={"csrf": hidden(page.text, "csrf")},
               verify=tls.ca, allow_redirects=False, timeout=5)
    assert r.status_code == 303, r.text
    cleared = session_cookies(r)
    assert [(n, v) for n, v, _ in cleared] == [(COOKIE, "")], \
        set_cookies(r)
    attrs = cleared[0][2]
    assert "secure" in attrs and attrs["path"] == "/"
    assert "domain" not in attrs
    assert attrs.get("max-age") == "0" or "expires" in attrs
    assert gated(tls, value).status_code == 401
    assert tls.sessions() == []
    assert [e["v"] for e in tls.log_entries()
            if e.get("v") in ("login.success", "logout")] \
        == ["login.success", "logout"]


def test_sso_sign_in_over_tls(tls):
    r = requests.post(tls.tls_url + "/guichet/sso",
                      data={"assertion": tls.acme.token("sam@example.org"),
                            "return_to": "/app/"},
                      headers={"Accept": "text/html"}, verify=tls.ca,
                      allow_redirects=False, timeout=10)
    assert r.status_code == 303, r.text
    value = assert_host_cookie(r)
    r = gated(tls, value)
    assert r.status_code == 200, r.text
    assert "email=sam@example.org" in r.text
    assert len(tls.events("sso.success")) == 1


def test_plain_http_cookie_is_not_secure(tls):
    """The development setup (plain HTTP) keeps the short name, without
    Secure (a browser would drop it): the TLS name is only for TLS."""
    tls.add_user("pat@example.com", PASSWORD)
    s = requests.Session()
    page = s.get(tls.url + "/guichet/login", timeout=5)
    r = s.post(tls.url + "/guichet/login",
               data={"email": "pat@example.com", "password": PASSWORD,
                     "csrf": hidden(page.text, "csrf"), "return_to": "/app/"},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    cookies = session_cookies(r)
    assert [c[0] for c in cookies] == ["guichet"]
    assert "secure" not in cookies[0][2]
