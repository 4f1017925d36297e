"""A sign-in is a proof: signing in with every factor the account has
counts as the proof of identity of the re-authentication window; the
proof page says why it is asked, in words that fit the action."""

from account_helpers import EMAIL, PASSWORD, login, page
from login_helpers import gw  # noqa: F401


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
