"""A partner vouches only for its own people (SPEC 6): an assertion opens
only the accounts linked to its partner; an existing account is linked
only after its owner proves it once on /guichet/link; an enrolled second
factor is always asked; SSO sessions never carry security or admin; and
removing a partner or unlinking an account ends that partner's
sessions on every worker. Real nginx, real Redis, real signed
assertions."""

import time

import pytest
import requests

from conftest import PREFIX
from login_helpers import (hidden, post_code, post_login, set_cookies,
                           stop_gateway, totp)
from sso_helpers import Partner, start_gateway

PASSWORD = "a good password 1"


@pytest.fixture
def g(tmp_path, redis_server):
    gw = start_gateway(tmp_path, redis_server)
    gw.acme = gw.add_partner(Partner("acme", "ES256"))
    gw.beta = gw.add_partner(Partner("beta", "HS256"))
    yield gw
    stop_gateway(gw)


def session_value(r):
    for c in set_cookies(r):
        if c.startswith("guichet=") and not c.startswith("guichet=;"):
            return c.split(";")[0].split("=", 1)[1]
    return None


def linked(g, account, partner):
    return g.redis.client().hexists(
        PREFIX + "acct:%s:partners" % account, partner)


def link(g, account, partner):
    g.redis.client().hset(PREFIX + "acct:%s:partners" % account, partner,
                          int(time.time()))


def sso_in(g, s, token, return_to="/app/"):
    return s.post(g.url + "/guichet/sso",
                  data={"assertion": token, "return_to": return_to},
                  headers={"Accept": "text/html"}, allow_redirects=False,
                  timeout=10)


def gate(g, value, path="/app/"):
    return requests.get(g.url + path, cookies={"guichet": value},
                        headers={"Accept": "application/json"},
                        allow_redirects=False, timeout=5)


def me(g, value):
    r = requests.get(g.url + "/guichet/session", cookies={"guichet": value},
                     timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def words(v):
    return v if isinstance(v, list) else v.split()


def test_unlinked_admin_with_totp_gets_the_link_page(g):
    acct = g.add_user("op@example.org", PASSWORD, role="admin")
    g.enroll_totp("op@example.org")
    s = requests.Session()
    r = sso_in(g, s, g.acme.token("op@example.org"))
    assert r.status_code == 303, r.text
    assert r.headers["Location"].endswith("/guichet/link")
    assert session_value(r) is None
    assert g.sessions() == []
    assert not linked(g, acct, "acme")
    fail = g.events("sso.failure")
    assert [e.get("c") for e in fail] == ["not_linked"], fail
    assert fail[0].get("p") == "acme" and g.account_of(fail[0]) == acct
    assert g.events("sso.success") == []
    # the page says who asks; the pending state opens nothing
    page = s.get(g.url + "/guichet/link", timeout=5)
    assert page.status_code == 200
    assert "acme asks to link your Guichet account" in page.text
    assert hidden(page.text, "csrf")
    assert s.get(g.url + "/app/", headers={"Accept": "text/html"},
                 allow_redirects=False, timeout=5).status_code == 302


def test_account_of_another_partner_is_refused(g):
    r = g.sso(g.beta.token("bea@example.org"))
    assert r.status_code == 303 and session_value(r)
    acct = g.events("sso.success")[0]["a"]
    before = set(g.sessions())
    r = g.sso(g.acme.token("bea@example.org"))
    # no password to prove ownership with: refused outright
    assert r.status_code == 401, r.text
    assert session_value(r) is None
    assert set(g.sessions()) == before
    assert not linked(g, acct, "acme")
    assert [e.get("c") for e in g.events("sso.failure")] == ["not_linked"]


def test_linked_account_with_totp_goes_through_2fa(g):
    acct = g.add_user("tia@example.org", PASSWORD)
    secret = g.enroll_totp("tia@example.org")
    link(g, acct, "acme")
    s = requests.Session()
    # acme does not require 2FA: the account's own factor is asked anyway
    r = sso_in(g, s, g.acme.token("tia@example.org"))
    assert r.status_code == 303, r.text
    assert r.headers["Location"].endswith("/guichet/2fa")
    assert session_value(r) is None
    assert g.sessions() == []
    r = post_code(g, s, totp(secret))
    assert r.status_code == 303, r.text
    body = me(g, session_value(r))
    assert sorted(words(body["amr"])) == ["otp", "sso"]
    assert body["partner"] == "acme"


def test_sso_session_never_carries_admin_or_security(g):
    p = g.ctl("user", "add", "boss@example.org", "--role", "user", "--role",
              "admin", "--role", "security", "--password-stdin",
              stdin=PASSWORD + "\n")
    assert p.returncode == 0, p.stderr
    acct = p.stdout.split("created account ")[1].split()[0]
    link(g, acct, "acme")
    r = g.sso(g.acme.token("boss@example.org"))
    assert r.status_code == 303, r.text
    value = session_value(r)
    assert words(me(g, value)["roles"]) == ["user"]
    assert gate(g, value, "/security/").status_code in (401, 403)
    assert gate(g, value).status_code == 200
    # the account keeps its roles, a password session has them
    roles = g.redis.client().hget(PREFIX + "acct:" + acct, "roles")
    assert "admin" in roles and "security" in roles
    s, r = post_login(g, "boss@example.org", PASSWORD)
    assert r.status_code == 303
    assert "admin" in words(s.get(g.url + "/guichet/session",
                                  timeout=5).json()["roles"])


def link_page_post(g, s, password):
    page = s.get(g.url + "/guichet/link", timeout=5)
    assert page.status_code == 200, page.text
    return s.post(g.url + "/guichet/link",
                  data={"password": password,
                        "csrf": hidden(page.text, "csrf")},
                  allow_redirects=False, timeout=30)


def test_link_flow_with_password(g):
    acct = g.add_user("lea@example.org", PASSWORD)
    s = requests.Session()
    assert sso_in(g, s, g.acme.token("lea@example.org"),
                  "/app/x").status_code == 303
    r = link_page_post(g, s, "wrong password 1")
    assert r.status_code == 401
    assert session_value(r) is None
    assert not linked(g, acct, "acme")
    assert g.sessions() == []
    # a forged form is refused
    r = s.post(g.url + "/guichet/link",
               data={"password": PASSWORD, "csrf": "x.1"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 403 and not linked(g, acct, "acme")
    r = link_page_post(g, s, PASSWORD)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/app/x"
    value = session_value(r)
    assert value
    assert linked(g, acct, "acme")
    body = me(g, value)
    assert body["partner"] == "acme" and words(body["amr"]) == ["sso"]
    ev = g.events("partner.linked")
    assert len(ev) == 1 and ev[0].get("p") == "acme" \
        and g.account_of(ev[0]) == acct
    # the link state is used up
    assert s.get(g.url + "/guichet/link", allow_redirects=False,
                 timeout=5).status_code != 200
    # from now on acme's word opens the account directly
    r = g.sso(g.acme.token("lea@example.org"))
    assert r.status_code == 303 and session_value(r)
    # beta still is not trusted for it
    assert g.sso(g.beta.token("lea@example.org")).status_code == 303
    assert not linked(g, acct, "beta")


def test_link_flow_with_totp(g):
    acct = g.add_user("max@example.org", PASSWORD)
    secret = g.enroll_totp("max@example.org")
    s = requests.Session()
    assert sso_in(g, s, g.acme.token("max@example.org")).status_code == 303
    r = link_page_post(g, s, PASSWORD)
    assert r.status_code == 303, r.text
    assert r.headers["Location"].endswith("/guichet/2fa")
    assert session_value(r) is None
    assert not linked(g, acct, "acme")
    assert post_code(g, s, "000000" if totp(secret) != "000000"
                     else "111111").status_code == 401
    assert not linked(g, acct, "acme")
    r = post_code(g, s, totp(secret))
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/app/"
    assert linked(g, acct, "acme")
    body = me(g, session_value(r))
    assert sorted(words(body["amr"])) == ["otp", "sso"]
    assert body["partner"] == "acme"
    assert len(g.events("partner.linked")) == 1
    # linked now: the next assertion goes to the second factor
    r = sso_in(g, requests.Session(), g.acme.token("max@example.org"))
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/guichet/2fa")


def test_link_password_failures_are_throttled(g):
    g.add_user("tom@example.org", PASSWORD)
    s = requests.Session()
    assert sso_in(g, s, g.acme.token("tom@example.org")).status_code == 303
    # throttle_free = 3: the fourth failure sets a delay
    statuses = [link_page_post(g, s, "wrong password %d" % i).status_code
                for i in range(5)]
    assert statuses[:4] == [401] * 4, statuses
    assert statuses[4] == 429, statuses
    assert g.events("throttled")


def two_sessions(g, email):
    """A linked account with an acme session, a beta session and a
    password session."""
    acct = g.add_user(email, PASSWORD)
    link(g, acct, "acme")
    link(g, acct, "beta")
    a = session_value(g.sso(g.acme.token(email)))
    b = session_value(g.sso(g.beta.token(email)))
    s, r = post_login(g, email, PASSWORD)
    assert r.status_code == 303
    pw = s.cookies.get("guichet")
    for v in (a, b, pw):
        assert v and gate(g, v).status_code == 200
    return acct, a, b, pw


def wait_refused(g, value, limit=2.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if gate(g, value).status_code in (401, 302):
            return True
        time.sleep(0.05)
    return False


def test_partner_remove_ends_its_sessions(g):
    acct, a, b, pw = two_sessions(g, "rex@example.org")
    p = g.ctl("partner", "remove", "acme")
    assert p.returncode == 0, p.stderr
    assert wait_refused(g, a), "acme's session still open"
    assert gate(g, b).status_code == 200
    assert gate(g, pw).status_code == 200
    assert me(g, b)["partner"] == "beta"
    # gone from Redis and from the account's index
    keys = g.redis.client().hkeys(PREFIX + "acct:" + acct)
    assert len([k for k in keys if k.startswith("s:")]) == 2
    assert g.sso(g.acme.token("rex@example.org")).status_code == 401


def test_user_unlink_ends_its_sessions(g):
    acct, a, b, pw = two_sessions(g, "sam@example.org")
    p = g.ctl("user", "unlink", "sam@example.org", "acme")
    assert p.returncode == 0, p.stderr
    assert "1 session" in p.stdout
    assert wait_refused(g, a), "acme's session still open"
    assert gate(g, b).status_code == 200
    assert gate(g, pw).status_code == 200
    assert not linked(g, acct, "acme") and linked(g, acct, "beta")
    ev = g.events("partner.unlinked")
    assert len(ev) == 1 and ev[0].get("p") == "acme"
    # acme's word no longer opens it: back to the link page
    r = g.sso(g.acme.token("sam@example.org"))
    assert r.status_code == 303 and session_value(r) is None
    assert r.headers["Location"].endswith("/guichet/link")
    # unlinking again is an error
    p = g.ctl("user", "unlink", "sam@example.org", "acme")
    assert p.returncode != 0
