"""A sign-in is a proof: signing in with every factor the account has
counts as the proof of identity of the re-authentication window; the
proof page says why it is asked, in words that fit the action."""

from account_helpers import EMAIL, PASSWORD, login, page, stale_proof
from login_helpers import (gw, hidden, post_code, post_login,  # noqa: F401
                           totp)


def test_password_sign_in_is_a_fresh_proof(gw):
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    r = page(gw, s, "account/export")
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))
    assert r.json()["account"]["email"] == EMAIL
    assert page(gw, s, "account/totp").status_code == 200


def test_password_and_code_sign_in_is_a_fresh_proof(gw):
    gw.add_user(EMAIL, PASSWORD)
    secret = gw.enroll_totp(EMAIL)
    s = login(gw, secret=secret)
    r = page(gw, s, "account/export")
    assert r.status_code == 200, (r.status_code, r.headers.get("Location"))


def test_proof_page_says_why_and_export_comes_back(gw):
    gw.add_user(EMAIL, PASSWORD)
    s = stale_proof(gw, login(gw))
    r = page(gw, s, "account/export")
    assert r.status_code == 303
    r = page(gw, s, r.headers["Location"].split("/guichet/", 1)[1])
    assert r.status_code == 200
    assert "Downloading your data needs your password" in r.text
    assert "change" not in r.text.lower()
    r = s.post(gw.url + "/guichet/account/reauth",
               data={"csrf": hidden(r.text, "csrf"), "password": PASSWORD,
                     "return_to": hidden(r.text, "return_to")},
               allow_redirects=False, timeout=30)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/account?download=1"
    r = page(gw, s, "account?download=1")
    assert r.status_code == 200
    assert 'http-equiv="refresh" content="0;url=/guichet/account/export"' \
        in r.text
    assert "download of your data starts" in r.text
    assert page(gw, s, "account/export").status_code == 200

    s = stale_proof(gw, s)
    r = page(gw, s, "account/reauth",
             params={"return_to": "/guichet/account/delete"})
    assert "Deleting your account needs your password" in r.text


def test_a_used_code_says_so(gw):
    gw.add_user(EMAIL, PASSWORD)
    secret = gw.enroll_totp(EMAIL)
    login(gw, secret=secret)              # takes this step's code
    s, r = post_login(gw, EMAIL, PASSWORD)
    r = post_code(gw, s, totp(secret))
    assert r.status_code == 401
    assert "already used" in r.text and "next code" in r.text
