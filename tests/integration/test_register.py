"""/guichet/register?token=... against the real nginx module and Redis: the
link of a partner's invitation sets a password once, creates (or completes)
the invited account, links it to the partner; reused, expired, forged and
hostile links change nothing."""

import json
import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import PREFIX
from login_helpers import hidden, post_login, stop_gateway
from sso_helpers import Partner, start_gateway


@pytest.fixture
def reg(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
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
    s = session or requests.Session()
    r = s.get(g.url + "/guichet/register", params={"token": token},
              timeout=5)
    return s, r


def submit(g, s, token, password, csrf=None, page=None):
    if csrf is None:
        csrf = hidden(page.text, "csrf")
    return s.post(g.url + "/guichet/register",
                  data={"token": token, "password": password, "csrf": csrf},
                  allow_redirects=False, timeout=30)


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
    assert hidden(page.text, "token") == token
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers[
        "Content-Security-Policy"]
    r = submit(reg, s, token, "a brand new password", page=page)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/login"
    assert not any(c.startswith("guichet=") for c in
                   r.raw.headers.getlist("Set-Cookie"))
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
    assert submit(reg, s, token, "first password 123",
                  page=page).status_code == 303
    # the same form again, and the link again
    r = submit(reg, s, token, "second password 123", page=page)
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
    assert submit(reg, s, token, "a good password 1",
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
    assert submit(reg, s, token, "a good password 1",
                  csrf="").status_code == 403
    other, other_page = form(reg, token)
    assert submit(reg, s, token, "a good password 1",
                  csrf=hidden(other_page.text, "csrf")).status_code == 403
    # policy: too short, too long; the form comes back, the link stays
    for bad in ["short", "x" * 1025]:
        r = submit(reg, s, token, bad, page=page)
        assert r.status_code == 400
        assert 'id="register-error"' in r.text
        assert bad not in r.text
    assert reg.events("account.created") == []
    assert submit(reg, s, token, "a good password 1",
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
    r = submit(reg, s, token, "now with a password", page=page)
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
    r = submit(reg, s, token, "an attacker's password", page=page)
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
    assert submit(reg, s, new, "a good password 1",
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
    assert submit(reg, s, token, "a good password 1",
                  page=page).status_code == 303
    assert token not in reg.error_log()
    for fields in reg.log_entries():
        assert all(token not in v for v in fields.values())
