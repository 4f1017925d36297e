"""What the route table promises for every account route, route by route:
no session goes to the login page, a form without its token is refused,
a restricted account changes nothing, a change needs a fresh proof. Each
refusal leaves Redis as it was."""

import pytest
import requests

from account_helpers import (EMAIL, PASSWORD, csrf, everything, login, page,
                             post, stale_proof)
from login_helpers import gw  # noqa: F401

# (route, method, is a change, needs a fresh proof)
ROUTES = [
    ("account", "GET", False, False),
    ("account/reauth", "GET", False, False),
    ("account/sessions/revoke", "POST", False, False),
    ("account/reauth", "POST", False, False),
    ("account/totp", "GET", True, True),
    ("account/totp/qr.svg", "GET", True, True),
    ("account/totp", "POST", True, True),
    ("account/recovery-codes", "POST", True, True),
    ("account/password", "POST", True, True),
    ("account/email", "POST", True, True),
    ("account/export", "GET", False, True),
    ("account/delete", "POST", True, True),
    ("account/passkeys", "GET", False, True),
    ("account/passkeys", "POST", True, True),
]

FORMS = [(r, c, f) for r, m, c, f in ROUTES if m == "POST"]


def ask(gw, s, route, method, data=None):
    if method == "GET":
        return page(gw, s, route)
    return post(gw, s, route, data or {})


@pytest.mark.parametrize("route,method", [(r, m) for r, m, _, _ in ROUTES])
def test_no_session_goes_to_the_login_page(gw, route, method):
    gw.add_user(EMAIL, PASSWORD)
    r = ask(gw, requests.Session(), route, method)
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/guichet/login?return_to=")


@pytest.mark.parametrize("route,change,fresh", FORMS)
def test_a_form_without_its_token_is_refused(gw, route, change, fresh):
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    before = sorted(everything(gw))
    r = ask(gw, s, route, "POST", {"csrf": "x" * 43, "confirm": "1",
                                   "all": "1", "password": PASSWORD})
    assert r.status_code == 403
    assert "Form expired" in r.text
    assert sorted(everything(gw)) == before


@pytest.mark.parametrize("route,method", [(r, m) for r, m, c, _ in ROUTES
                                          if c])
def test_a_restricted_account_changes_nothing(gw, route, method):
    gw.add_user(EMAIL, PASSWORD)
    assert gw.ctl("user", "restrict", EMAIL).returncode == 0
    s = login(gw)
    token = csrf(gw, s)
    before = sorted(everything(gw))
    r = ask(gw, s, route, method, {"csrf": token, "confirm": "1"})
    assert r.status_code == 403
    assert "restricted" in r.text
    assert sorted(everything(gw)) == before


@pytest.mark.parametrize("route,method", [(r, m) for r, m, _, f in ROUTES
                                          if f])
def test_a_change_needs_a_fresh_proof(gw, route, method):
    gw.add_user(EMAIL, PASSWORD)
    s = stale_proof(gw, login(gw))
    token = csrf(gw, s)
    before = sorted(everything(gw))
    r = ask(gw, s, route, method, {"csrf": token, "confirm": "1"})
    assert r.status_code == 303
    back = "account" if method == "POST" else route
    assert r.headers["Location"] == (
        "/guichet/account/reauth?return_to=%2Fguichet%2F"
        + back.replace("/", "%2F"))
    assert sorted(everything(gw)) == before


@pytest.mark.parametrize("route,method", [(r, m) for r, m, c, f in ROUTES
                                          if not c and not f])
def test_a_page_or_form_without_those_flags_is_served(gw, route, method):
    gw.add_user(EMAIL, PASSWORD)
    assert gw.ctl("user", "restrict", EMAIL).returncode == 0
    s = stale_proof(gw, login(gw))
    r = ask(gw, s, route, method, {"csrf": csrf(gw, s)})
    assert r.status_code in (200, 303, 400, 401)
    if r.status_code == 303:
        assert "/reauth" not in r.headers["Location"]
