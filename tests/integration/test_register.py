"""/guichet/register?token=... against the real nginx module and Redis: the
link of a partner's invitation sets a password once, creates (or completes)
the invited account, links it to the partner; reused, expired, forged and
hostile links change nothing. The link's token leaves the URL on first use
(a short-lived cookie, then a clean URL), so that nothing an access log or
a Referer keeps can still be redeemed; guesses are throttled."""

import json
import os
import re
import secrets
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import PREFIX, wait_until
from login_helpers import (DEFAULT_EXTRA, hidden, post_login, set_cookies,
                           wait_words)
from login_helpers import stop_gateway
from sso_helpers import Partner, SsoGateway
from test_limits import from_address, parallel

FREE = 3                    # throttle_free of DEFAULT_EXTRA
IP_FREE = 4 * FREE          # AC_THROTTLE_IP_FACTOR times as many
COOKIE = "guichet_register"
TLS_COOKIE = "__Host-guichet_register"


def start_logged_gateway(tmp_path, redis_server):
    """The test gateway with an access log, and the endpoints on its TLS
    server too."""
    g = SsoGateway(str(tmp_path), redis_server, DEFAULT_EXTRA)
    g.access_log = os.path.join(g.tmp, "access.log")
    path = os.path.join(g.tmp, "nginx.conf")
    with open(path) as f:
        conf = f.read()
    conf = conf.replace("access_log off;", "access_log %s;" % g.access_log,
                        1)
    key = "ssl_certificate_key %s/tls.key;" % g.tmp
    assert key in conf
    conf = conf.replace(key, key + """
        location /guichet/ {
            guichet_endpoints;
        }""", 1)
    with open(path, "w") as f:
        f.write(conf)
    g.start()
    return g


@pytest.fixture
def reg(tmp_path, redis_server):
    g = start_logged_gateway(tmp_path, redis_server)
    g.a = g.add_partner(Partner("part-a", "ES256"))
    g.b = g.add_partner(Partner("part-b", "HS256"))
    yield g
    stop_gateway(g)


def invite(g, partner, emails):
    r = g.api("POST", "invitations", partner.token(api=True),
              {"emails": emails})
    assert r.status_code == 202, r.text
    return r


def link_token(g, email, partner="part-a"):
    p = g.ctl("invitations", "list", "--json", "--partner", partner,
              "--base-url", g.url)
    assert p.returncode == 0, p.stderr
    rows = [x for x in json.loads(p.stdout) if x["email"] == email]
    assert len(rows) == 1, p.stdout
    q = parse_qs(urlparse(rows[0]["link"]).query)
    return q["token"][0]


def form(g, token, session=None):
    """Opens the link as a browser does: the 303 is followed."""
    s = session or requests.Session()
    r = s.get(g.url + "/guichet/register", params={"token": token},
              timeout=5)
    return s, r


def submit(g, s, password, csrf=None, page=None, data=None, params=None):
    """POSTs the set-password form as the page has it: no token, the
    browser's cookie names it."""
    if csrf is None:
        csrf = hidden(page.text, "csrf")
    body = {"password": password, "csrf": csrf}
    body.update(data or {})
    return s.post(g.url + "/guichet/register", data=body, params=params,
                  allow_redirects=False, timeout=30)


def cookie_attrs(line):
    """'n=v; A; B=c' -> ('n', 'v', {'a': '', 'b': 'c'})"""
    parts = [p.strip() for p in line.split(";")]
    name, value = parts[0].split("=", 1)
    attrs = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return name, value, attrs


def register_cookies(r, name=COOKIE):
    return [cookie_attrs(c) for c in set_cookies(r)
            if c.startswith(name + "=")]


def drop_cookie(s, name=COOKIE):
    for c in list(s.cookies):
        if c.name == name:
            s.cookies.clear(c.domain, c.path, c.name)


def new_token():
    """A token of the right shape that no invitation made."""
    return secrets.token_urlsafe(32)


def expire_invitations(g, partner):
    """What 15 days do: the links' keys expire, the invitations age."""
    r = g.redis.client()
    for k in r.keys(PREFIX + "regtok:*"):
        r.delete(k)
    inv = PREFIX + "inv:" + partner
    for field, value in r.hgetall(inv).items():
        since, sealed = value.split(" ", 1)
        r.hset(inv, field, "%d %s" % (int(since) - 15 * 86400, sealed))


def registrations(g, partner):
    r = g.api("GET", "registrations", partner.token(api=True))
    assert r.status_code == 200, r.text
    return {x["email"]: x["status"] for x in r.json()["registrations"]}


def test_register_creates_linked_account(reg):
    invite(reg, reg.a, ["Newbie@Example.org"])
    token = link_token(reg, "newbie@example.org")
    s, page = form(reg, token)
    assert page.status_code == 200
    assert "newbie@example.org" in page.text
    # the token left the URL and is not in the page
    assert page.url == reg.url + "/guichet/register"
    assert token not in page.text
    assert hidden(page.text, "token") is None
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]
    r = submit(reg, s, "a brand new password", page=page)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/login?registered=1"
    assert "Your password is set" in s.get(
        reg.url + r.headers["Location"], timeout=5).text
    assert not any(c.startswith("guichet=") for c in
                   r.raw.headers.getlist("Set-Cookie"))
    # the link's cookie is cleared once used
    assert [(v, a.get("max-age")) for _, v, a in register_cookies(r)] == [
        ("", "0")]
    assert COOKIE not in s.cookies
    created = reg.events("account.created")
    assert len(created) == 1
    assert created[0].get("c") == "registration"
    assert created[0].get("p") == "part-a"
    # the password works, the partner sees "registered", the other
    # partner sees nothing of it
    _, r = post_login(reg, "newbie@example.org", "a brand new password")
    assert r.status_code == 303 and r.headers["Location"] == "/app/"
    assert registrations(reg, reg.a) == {"newbie@example.org": "registered"}
    assert registrations(reg, reg.b) == {}
    # the token is stored only as a digest, and is gone now
    keys = reg.redis.client().keys(PREFIX + "*")
    assert not any(token in k for k in keys)
    assert not any(k.startswith(PREFIX + "regtok:") for k in keys)


def test_token_is_single_use(reg):
    invite(reg, reg.a, ["once@example.org"])
    token = link_token(reg, "once@example.org")
    s, page = form(reg, token)
    assert submit(reg, s, "first password 123",
                  page=page).status_code == 303
    # the same form again, and the link again
    r = submit(reg, s, "second password 123", page=page)
    assert r.status_code == 410
    assert form(reg, token)[1].status_code == 410
    assert len(reg.events("account.created")) == 1
    assert post_login(reg, "once@example.org",
                      "second password 123")[1].status_code == 401
    assert post_login(reg, "once@example.org",
                      "first password 123")[1].status_code == 303


def test_expired_token(reg):
    invite(reg, reg.a, ["late@example.org"])
    token = link_token(reg, "late@example.org")
    s, page = form(reg, token)
    assert page.status_code == 200
    r = reg.redis.client()
    for k in r.keys(PREFIX + "regtok:*"):
        r.delete(k)          # what the 14-day TTL does
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 410
    assert form(reg, token)[1].status_code == 410
    assert reg.events("account.created") == []


@pytest.mark.parametrize("token", [
    "", "x", "A" * 43, "A" * 44, "A" * 200, "../../etc/passwd",
    "%00" * 43, "<script>alert(1)</script>", "A" * 42 + "\u00e9",
])
def test_forged_tokens(reg, token):
    s, page = form(reg, token)
    assert page.status_code == 410
    assert "<script>" not in page.text
    r = s.post(reg.url + "/guichet/register",
               data={"token": token, "password": "a good password 1",
                     "csrf": "x"}, allow_redirects=False, timeout=5)
    assert r.status_code in (403, 410)
    assert reg.events("account.created") == []
    assert reg.redis.client().keys(PREFIX + "email:*") == []


def test_csrf_and_policy(reg):
    invite(reg, reg.a, ["careful@example.org"])
    token = link_token(reg, "careful@example.org")
    s, page = form(reg, token)
    # no CSRF token, or one from another browser
    assert submit(reg, s, "a good password 1",
                  csrf="").status_code == 403
    other, other_page = form(reg, token)
    assert submit(reg, s, "a good password 1",
                  csrf=hidden(other_page.text, "csrf")).status_code == 403
    # policy: too short, too long; the form comes back, the link stays
    for bad in ["short", "x" * 1025]:
        r = submit(reg, s, bad, page=page)
        assert r.status_code == 400
        assert 'id="register-error"' in r.text
        assert bad not in r.text
    assert reg.events("account.created") == []
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 303


def test_sso_only_account_gets_password(reg):
    # SSO first provisions an account without a password
    assert reg.sso(reg.a.token("hybrid@example.org")).status_code == 303
    assert len(reg.events("account.created")) == 1
    invite(reg, reg.a, ["hybrid@example.org"])
    # registered through SSO: no link is pending for it any more
    p = reg.ctl("invitations", "list", "--json", "--partner", "part-a")
    assert json.loads(p.stdout) == []
    invite(reg, reg.b, ["hybrid@example.org"])
    token = link_token(reg, "hybrid@example.org", "part-b")
    s, page = form(reg, token)
    r = submit(reg, s, "now with a password", page=page)
    assert r.status_code == 303, r.text
    # no second account, a password change logged for the same one
    assert len(reg.events("account.created")) == 1
    changed = reg.events("password.changed")
    assert len(changed) == 1 and changed[0].get("p") == "part-b"
    assert changed[0].get("a") == reg.events("account.created")[0].get("a")
    assert post_login(reg, "hybrid@example.org",
                      "now with a password")[1].status_code == 303
    assert registrations(reg, reg.b) == {"hybrid@example.org": "registered"}


def test_existing_password_is_not_replaced(reg):
    reg.add_user("taken@example.org", "the owner's password")
    invite(reg, reg.a, ["taken@example.org"])
    token = link_token(reg, "taken@example.org")
    s, page = form(reg, token)
    r = submit(reg, s, "an attacker's password", page=page)
    assert r.status_code == 409
    assert post_login(reg, "taken@example.org",
                      "the owner's password")[1].status_code == 303
    assert post_login(reg, "taken@example.org",
                      "an attacker's password")[1].status_code == 401
    assert reg.events("password.changed") == []


def test_reinvite_after_expiry_gives_a_fresh_link(reg):
    invite(reg, reg.a, ["again@example.org"])
    old = link_token(reg, "again@example.org")
    # still pending: inviting again changes nothing
    invite(reg, reg.a, ["again@example.org"])
    assert link_token(reg, "again@example.org") == old
    expire_invitations(reg, "part-a")
    p = reg.ctl("invitations", "list", "--json", "--partner", "part-a")
    assert json.loads(p.stdout) == []
    time.sleep(1.1)     # a link is made from the invitation's second
    invite(reg, reg.a, ["again@example.org"])
    new = link_token(reg, "again@example.org")
    assert new != old
    assert form(reg, old)[1].status_code == 410
    s, page = form(reg, new)
    assert page.status_code == 200
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 303
    # registered: a later invitation makes no new link
    invite(reg, reg.a, ["again@example.org"])
    p = reg.ctl("invitations", "list", "--json", "--partner", "part-a")
    assert json.loads(p.stdout) == []


def test_page_escapes_and_no_token_in_logs(reg):
    invite(reg, reg.a, ["o'hara+x@example.org"])
    token = link_token(reg, "o'hara+x@example.org")
    s, page = form(reg, token)
    assert "o&#39;hara" in page.text or "o&#x27;hara" in page.text
    assert re.search(r"o'hara", page.text) is None
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 303
    assert token not in reg.error_log()
    for fields in reg.log_entries():
        assert all(token not in v for v in fields.values())


# ------------------------------------------------- nothing reusable in URLs

def test_link_trades_its_token_for_a_cookie(reg):
    invite(reg, reg.a, ["clean@example.org"])
    token = link_token(reg, "clean@example.org")
    r = requests.get(reg.url + "/guichet/register", params={"token": token},
                     allow_redirects=False, timeout=5)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/register"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"
    assert token not in r.text
    cookies = register_cookies(r)
    assert len(cookies) == 1, set_cookies(r)
    _, value, attrs = cookies[0]
    assert value == token
    assert "httponly" in attrs and "secure" not in attrs
    assert attrs["samesite"] == "Lax"
    assert attrs["path"] == "/"
    assert attrs["max-age"] == "900"
    assert "domain" not in attrs and "expires" not in attrs
    # the clean URL shows the form, from the cookie, without the token
    page = requests.get(reg.url + "/guichet/register",
                        cookies={COOKIE: token}, allow_redirects=False,
                        timeout=5)
    assert page.status_code == 200, page.text
    assert "clean@example.org" in page.text
    assert token not in page.text
    assert hidden(page.text, "token") is None
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    # the link was only looked at: it still works
    assert reg.redis.client().keys(PREFIX + "regtok:*")
    # no cookie, a forged one, a malformed one: the expired-link page
    for cookies in [{}, {COOKIE: new_token()}, {COOKIE: "x"}]:
        r = requests.get(reg.url + "/guichet/register", cookies=cookies,
                         allow_redirects=False, timeout=5)
        assert r.status_code == 410, (cookies, r.status_code)
        # a cookie that names nothing is cleared
        assert [(v, a.get("max-age")) for _, v, a in register_cookies(r)] \
            == ([("", "0")] if cookies else [])
    # a malformed token gets no cookie
    r = requests.get(reg.url + "/guichet/register",
                     params={"token": "<script>"}, allow_redirects=False,
                     timeout=5)
    assert r.status_code == 410
    assert register_cookies(r) == []


def test_link_over_tls_uses_a_host_cookie(reg):
    invite(reg, reg.a, ["tls@example.org"])
    token = link_token(reg, "tls@example.org")
    s = requests.Session()
    ca = os.path.join(reg.tmp, "tls.crt")    # the environment's CA
    r = s.get(reg.tls_url + "/guichet/register", params={"token": token},
              allow_redirects=False, verify=ca, timeout=5)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/register"
    assert register_cookies(r) == []
    cookies = register_cookies(r, TLS_COOKIE)
    assert len(cookies) == 1, set_cookies(r)
    _, value, attrs = cookies[0]
    assert value == token
    assert "secure" in attrs and "httponly" in attrs
    assert attrs["path"] == "/" and attrs["samesite"] == "Lax"
    assert "domain" not in attrs
    page = s.get(reg.tls_url + "/guichet/register", verify=ca, timeout=5)
    assert page.status_code == 200, page.text
    assert token not in page.text
    r = s.post(reg.tls_url + "/guichet/register",
               data={"password": "a good password 1",
                     "csrf": hidden(page.text, "csrf")},
               allow_redirects=False, verify=ca, timeout=30)
    assert r.status_code == 303, r.text
    assert [(v, a.get("max-age"))
            for _, v, a in register_cookies(r, TLS_COOKIE)] == [("", "0")]
    assert len(reg.events("account.created")) == 1


def test_access_log_holds_nothing_redeemable(reg):
    invite(reg, reg.a, ["logged@example.org", "other@example.org"])
    token = link_token(reg, "logged@example.org")
    s, page = form(reg, token)
    assert page.status_code == 200
    assert len(page.history) == 1 and page.history[0].status_code == 303
    r = submit(reg, s, "a good password 1", page=page)
    assert r.status_code == 303, r.text
    # the access log (written once the answer is out): the token only on
    # the line of the link itself
    lines = access_log(reg, '"POST /guichet/register HTTP/1.1" 303 ')
    holding = [x for x in lines if token in x]
    assert len(holding) == 1, holding
    assert '"GET /guichet/register?token=%s HTTP/1.1" 303 ' % token \
        in holding[0]
    assert any('"GET /guichet/register HTTP/1.1" 200 ' in x for x in lines)
    # whoever replays that URL later, with a valid CSRF pair of their
    # own (from another invitation's form), gets the expired-link page
    other = link_token(reg, "other@example.org")
    s2, page2 = form(reg, other)
    assert page2.status_code == 200
    s2, r = form(reg, token, session=s2)
    assert r.status_code == 410
    assert r.history[0].status_code == 303
    r = submit(reg, s2, "the thief's password", page=page2)
    assert r.status_code == 410, r.text
    r = submit(reg, s2, "the thief's password", page=page2,
               data={"token": token}, params={"token": token})
    assert r.status_code == 410, r.text
    assert len(reg.events("account.created")) == 1
    assert reg.events("password.changed") == []
    assert post_login(reg, "logged@example.org",
                      "the thief's password")[1].status_code == 401
    assert post_login(reg, "logged@example.org",
                      "a good password 1")[1].status_code == 303


def access_log(g, until):
    """The access log's lines once one holds "until"."""
    def lines():
        with open(g.access_log) as f:
            return f.read().splitlines()
    assert wait_until(lambda: any(until in x for x in lines()), 5)
    return lines()


def test_token_in_body_or_query_is_ignored(reg):
    invite(reg, reg.a, ["body@example.org"])
    token = link_token(reg, "body@example.org")
    s, page = form(reg, token)
    assert page.status_code == 200
    drop_cookie(s)
    assert COOKIE not in s.cookies
    # the form as it used to be, the token in the body, then in the URL
    r = submit(reg, s, "a good password 1", page=page,
               data={"token": token})
    assert r.status_code == 410, r.text
    r = submit(reg, s, "a good password 1", page=page,
               params={"token": token})
    assert r.status_code == 410, r.text
    assert reg.events("account.created") == []
    assert reg.redis.client().keys(PREFIX + "email:*") == []
    # a forged cookie is not rescued by the right token in the body
    drop_cookie(s)
    s.cookies.set(COOKIE, new_token())
    r = submit(reg, s, "a good password 1", page=page,
               data={"token": token}, params={"token": token})
    assert r.status_code == 410, r.text
    assert reg.events("account.created") == []
    # the link still works the way a browser uses it
    drop_cookie(s)
    s, page = form(reg, token, session=s)
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 303
    assert len(reg.events("account.created")) == 1


# ------------------------------------------------------------- throttling

def attacker(reg, address):
    """A browser at "address" with a CSRF pair of its own: the form of a
    link it was really sent."""
    email = "bait%s@example.org" % address.replace(".", "-")
    invite(reg, reg.b, [email])
    s = from_address(address)
    s, page = form(reg, link_token(reg, email, "part-b"), session=s)
    assert page.status_code == 200
    return s, hidden(page.text, "csrf")


def guess(reg, s, csrf, token):
    drop_cookie(s)
    s.cookies.set(COOKIE, token)
    return s.post(reg.url + "/guichet/register",
                  data={"password": "a good password 1", "csrf": csrf},
                  allow_redirects=False, timeout=30)


def test_guesses_of_one_token_are_throttled(reg):
    s, csrf = attacker(reg, "127.0.0.70")
    token = new_token()
    statuses = [guess(reg, s, csrf, token).status_code for _ in range(6)]
    # FREE checks, one more that sets the delay, then refusals
    assert statuses == [410] * (FREE + 1) + [429] * 2, statuses
    r = guess(reg, s, csrf, token)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "Try again in %s" % wait_words(int(r.headers["Retry-After"])) \
        in r.text
    assert r.headers["Cache-Control"] == "no-store"
    rd = reg.redis.client()
    keys = list(rd.scan_iter(PREFIX + "thr:tk:*"))
    assert len(keys) == 1
    assert int(rd.hget(keys[0], "n")) == FREE + 1
    throttled = [e for e in reg.events("throttled")
                 if e.get("c") == "register"]
    assert len(throttled) == 3
    assert all(token not in v for e in reg.log_entries()
               for v in e.values())
    assert reg.events("account.created") == []


def test_parallel_guesses_get_no_more_checks(reg):
    s, csrf = attacker(reg, "127.0.0.71")
    token = new_token()
    jar = dict(s.cookies)

    def attempt(i):
        t = from_address("127.0.0.71")
        t.cookies.update(jar)
        return guess(reg, t, csrf, token).status_code

    statuses = parallel(16, attempt)
    assert set(statuses) <= {410, 429}, statuses
    assert statuses.count(410) <= FREE + 1, statuses
    assert reg.events("account.created") == []


def test_guesses_from_one_address_are_throttled(reg):
    """Each guess a different token: the address's own counter."""
    s, csrf = attacker(reg, "127.0.0.72")
    jar = dict(s.cookies)

    def attempt(i):
        t = from_address("127.0.0.72")
        t.cookies.update(jar)
        return guess(reg, t, csrf, new_token()).status_code

    statuses = parallel(IP_FREE + 8, attempt)
    assert set(statuses) <= {410, 429}, statuses
    assert statuses.count(410) <= IP_FREE + 1, statuses
    assert statuses.count(429) >= 7, statuses
    # the address waits, even with a real link; another address does not
    invite(reg, reg.a, ["victim@example.org"])
    token = link_token(reg, "victim@example.org")
    assert guess(reg, s, csrf, token).status_code == 429
    assert reg.events("account.created") == []
    s, page = form(reg, token, session=from_address("127.0.0.73"))
    assert submit(reg, s, "a good password 1",
                  page=page).status_code == 303
    assert len(reg.events("account.created")) == 1
