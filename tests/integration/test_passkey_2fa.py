"""A passkey as the second factor, without a browser: an account whose
only second factor is a passkey is asked for it after the password and
after a partner's assertion; the 2fa page offers the passkey and the
code field for the factors the account has; passkey answers count on
the account's second-factor limit before they are checked, and a
pending state whose account generation moved on takes none. (The
ceremony itself, with a real authenticator, is in
test_browser_passkey.py.)"""

import base64
import json
import os
import time

import pytest
import requests

from conftest import PREFIX
from login_helpers import (DEFAULT_EXTRA, hidden, make_gateway,
                           post_code, post_login, stop_gateway, totp)
from sso_helpers import Partner, start_gateway

EMAIL = "pia@example.com"
PASSWORD = "a long passkey password"


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


@pytest.fixture
def pgw(tmp_path, redis_server):
    g = make_gateway(tmp_path, redis_server, DEFAULT_EXTRA)
    port = g.url.rsplit(":", 1)[1]
    with open(g.conf, "a") as f:
        f.write("webauthn_rp_id = localhost\n"
                "webauthn_origins = http://localhost:%s\n" % port)
    g.stop()
    g.start()
    g.origin = "http://localhost:%s" % port
    yield g
    stop_gateway(g)


def with_passkey(gw, email=EMAIL):
    """An account that holds a passkey, as the account's "pk" count
    tells the sign-in (the registration itself is a browser test)."""
    account = gw.add_user(email, PASSWORD)
    gw.redis.client().hset(PREFIX + "acct:" + account, "pk", 1)
    return account


def password_step(gw, email=EMAIL):
    s, r = post_login(gw, email, PASSWORD)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/2fa"
    return s


def answer(gw, s, challenge=None):
    """A well-formed passkey answer that no passkey signed."""
    r = s.get(gw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 200, r.status_code
    cdj = json.dumps({"type": "webauthn.get",
                      "challenge": b64url(challenge or os.urandom(32)),
                      "origin": gw.origin}).encode()
    return s.post(gw.url + "/guichet/2fa",
                  data={"csrf": hidden(r.text, "csrf"),
                        "credential": b64url(os.urandom(16)),
                        "auth_data": b64url(os.urandom(37)),
                        "client_data": b64url(cdj),
                        "signature": b64url(os.urandom(70)),
                        "user_handle": ""},
                  allow_redirects=False, timeout=10)


def entries(gw, name):
    return [e for e in gw.log_entries() if e["v"] == name]


def test_a_passkey_alone_is_a_second_factor(pgw):
    with_passkey(pgw)
    s = password_step(pgw)
    r = s.get(pgw.url + "/guichet/2fa", timeout=5)
    assert r.status_code == 200
    assert 'id="passkey-2fa"' in r.text
    assert 'data-options="/guichet/2fa/options"' in r.text
    assert 'src="/guichet/passkey.js"' in r.text
    assert 'id="code"' not in r.text
    assert not [c for c in s.cookies if c.name == "guichet" and c.value]
    # a password alone opens nothing
    assert s.get(pgw.url + "/app/", headers={"Accept": "text/html"},
                 allow_redirects=False, timeout=5).status_code == 302


def test_totp_and_passkey_are_both_offered(pgw):
    with_passkey(pgw)
    secret = pgw.enroll_totp(EMAIL)
    s = password_step(pgw)
    r = s.get(pgw.url + "/guichet/2fa", timeout=5)
    assert 'id="passkey-2fa"' in r.text and 'id="code"' in r.text
    r = post_code(pgw, s, totp(secret))
    assert r.status_code == 303 and r.headers["Location"] == "/app/"
    amr = s.get(pgw.url + "/guichet/session", timeout=5).json()["amr"]
    amr = amr.split() if isinstance(amr, str) else amr
    assert sorted(amr) == ["otp", "pwd"]


def test_totp_alone_offers_no_passkey(pgw):
    pgw.add_user(EMAIL, PASSWORD)
    pgw.enroll_totp(EMAIL)
    s = password_step(pgw)
    r = s.get(pgw.url + "/guichet/2fa", timeout=5)
    assert 'id="code"' in r.text
    assert "passkey-2fa" not in r.text and "passkey.js" not in r.text


def test_passkey_options_need_the_pending_state(pgw):
    with_passkey(pgw)
    r = requests.post(pgw.url + "/guichet/2fa/options", data={"csrf": "x"},
                      timeout=5)
    assert r.status_code == 401
    assert r.json()["error"] == "expired"
    s = password_step(pgw)
    r = s.post(pgw.url + "/guichet/2fa/options", data={"csrf": "x"},
               timeout=5)
    assert r.status_code == 403 and r.json()["error"] == "csrf"
    csrf = hidden(s.get(pgw.url + "/guichet/2fa", timeout=5).text, "csrf")
    r = s.post(pgw.url + "/guichet/2fa/options", data={"csrf": csrf},
               timeout=5)
    # the count says one, the account holds none to offer
    assert r.status_code == 404 and r.json()["error"] == "none"
    assert pgw.redis.client().keys(PREFIX + "wac:*") == []


def test_passkey_failures_count_on_the_second_factor_limit(pgw):
    account = with_passkey(pgw)
    secret = pgw.enroll_totp(EMAIL)
    thr = [k for k in pgw.redis.client().keys(PREFIX + "thr:*")]
    s = password_step(pgw)
    # throttle_free = 3: the fourth counted failure waits
    for _ in range(3):
        r = answer(pgw, s)
        assert r.status_code == 401, r.text
        assert "passkey was not accepted" in r.text
    fails = entries(pgw, "passkey.failure")
    assert [e.get("c") for e in fails] == ["challenge"] * 3
    assert {pgw.account_of(e) for e in fails} == {account}
    # counted on the account, whatever the sign-in: a new password step
    # does not reset it, and a TOTP code then waits as well
    s = password_step(pgw)
    r = answer(pgw, s)
    assert r.status_code in (401, 429)
    r = post_code(pgw, s, totp(secret))
    assert r.status_code == 429, r.status_code
    assert int(r.headers["Retry-After"]) >= 1
    assert entries(pgw, "throttled")[-1]["c"] == "2fa"
    assert set(pgw.redis.client().keys(PREFIX + "thr:*")) > set(thr)


def test_passkey_answer_of_a_stale_pending_state_takes_nothing(pgw):
    with_passkey(pgw)
    s = password_step(pgw)
    r = s.get(pgw.url + "/guichet/2fa", timeout=5)
    csrf = hidden(r.text, "csrf")
    p = pgw.ctl("user", "lock", EMAIL)
    assert p.returncode == 0, p.stderr
    before = pgw.redis.client().keys(PREFIX + "thr:*")
    cdj = json.dumps({"type": "webauthn.get",
                      "challenge": b64url(os.urandom(32)),
                      "origin": pgw.origin}).encode()
    r = s.post(pgw.url + "/guichet/2fa",
               data={"csrf": csrf, "credential": b64url(os.urandom(16)),
                     "auth_data": b64url(os.urandom(37)),
                     "client_data": b64url(cdj),
                     "signature": b64url(os.urandom(70))},
               allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login"
    assert pgw.redis.client().keys(PREFIX + "pending:*") == []
    assert pgw.redis.client().keys(PREFIX + "thr:*") == before
    # the 2fa page itself sends back to the password
    r = s.get(pgw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 303


def test_malformed_passkey_answer_is_a_400_that_takes_no_try(pgw):
    with_passkey(pgw)
    s = password_step(pgw)
    csrf = hidden(s.get(pgw.url + "/guichet/2fa", timeout=5).text, "csrf")
    r = s.post(pgw.url + "/guichet/2fa",
               data={"csrf": csrf, "credential": "!!", "auth_data": "x",
                     "client_data": "not json", "signature": "x"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 400
    n = pgw.redis.client().hget(
        pgw.redis.client().keys(PREFIX + "pending:*")[0], "n")
    assert n == "0"


def test_sso_asks_for_the_passkey(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
    try:
        p = g.add_partner(Partner("acme", "ES256"))
        account = with_passkey(g, "sam@example.org")
        g.redis.client().hset(PREFIX + "acct:%s:partners" % account, "acme",
                              int(time.time()))
        s = requests.Session()
        r = s.post(g.url + "/guichet/sso",
                   data={"assertion": p.token("sam@example.org"),
                         "return_to": "/app/"},
                   headers={"Accept": "text/html"}, allow_redirects=False,
                   timeout=10)
        assert r.status_code == 303
        assert r.headers["Location"].endswith("/guichet/2fa")
        assert g.sessions() == []
        assert [e.get("c") for e in g.events("sso.success")] \
            == ["2fa_required"]
    finally:
        stop_gateway(g)
