"""The identity check of an account whose second factor is a passkey
(SPEC 8): the password alone is no proof; the reauth page asks for the
password and the passkey (the ceremony itself is a browser test in
test_browser_passkey.py)."""

import pytest

from account_helpers import (EMAIL, PASSWORD, hidden, login, page, post,
                             reauth, stale_proof)
from conftest import PREFIX
from login_helpers import DEFAULT_EXTRA, make_gateway, stop_gateway


@pytest.fixture
def pgw(tmp_path, redis_server):
    g = make_gateway(tmp_path, redis_server, DEFAULT_EXTRA)
    port = g.url.rsplit(":", 1)[1]
    with open(g.conf, "a") as f:
        f.write("webauthn_rp_id = localhost\n"
                "webauthn_origins = http://localhost:%s\n" % port)
    g.stop()
    g.start()
    yield g
    stop_gateway(g)


def passkey_account(gw):
    """Signed in before the passkey was registered, the proof since
    gone stale."""
    account = gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    gw.redis.client().hset(PREFIX + "acct:" + account, "pk", 1)
    return account, stale_proof(gw, s)


def test_a_password_alone_is_no_proof_for_a_passkey_account(pgw):
    account, s = passkey_account(pgw)
    r = reauth(pgw, s, return_to="/guichet/account/export")
    assert r.status_code == 401, r.status_code
    assert "passkey" in r.text
    fails = [(e.get("v"), e.get("c")) for e in pgw.log_entries()
             if e.get("r") == "fail"]
    assert fails == [("login.failure", "reauth")]
    # still no proof: the export asks for one
    r = page(pgw, s, "account/export")
    assert r.status_code == 303
    assert "/guichet/account/reauth" in r.headers["Location"]


def test_the_reauth_page_offers_the_passkey(pgw):
    _, s = passkey_account(pgw)
    r = page(pgw, s, "account/reauth")
    assert r.status_code == 200
    assert 'id="passkey-reauth"' in r.text
    assert 'data-options="/guichet/account/reauth/options"' in r.text
    assert 'src="/guichet/passkey.js"' in r.text


def test_reauth_options_give_a_challenge_for_this_session(pgw):
    _, s = passkey_account(pgw)
    r = page(pgw, s, "account/reauth")
    token = hidden(r.text, "csrf")
    r = post(pgw, s, "account/reauth/options", {"csrf": "x" * 43})
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    r = post(pgw, s, "account/reauth/options", {"csrf": token})
    # the count says one, the account holds none to offer
    assert r.status_code == 404 and r.json()["error"] == "none"
    assert pgw.redis.client().keys(PREFIX + "wac:*") == []


def test_the_account_page_says_a_passkey_is_a_second_step(pgw):
    _, s = passkey_account(pgw)
    r = page(pgw, s, "account")
    assert r.status_code == 200
    state = r.text.split('id="totp-state">', 1)[1].split("</p>", 1)[0]
    assert 'class="state on"' in state and "passkeys" in state
    assert 'id="totp-setup"' in r.text
