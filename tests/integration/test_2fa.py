"""The second factor: the pending state after the password, TOTP codes
(RFC 6238, computed here), replay refusal, recovery codes used once, the
limit of wrong codes, and session rotation."""

import re
import time

import requests

from conftest import PREFIX, session_get, session_names
from login_helpers import (DEFAULT_EXTRA, gw, make_gateway,  # noqa: F401
                           post_code, post_login, set_cookies, stop_gateway,
                           totp)

PASSWORD = "correct horse battery"


def cookie_value(r, name):
    for c in set_cookies(r):
        m = re.match(r"%s=([^;]*);(.*)" % re.escape(name), c)
        if m:
            return m.group(1), c
    return None, None


def events(gw, name):
    return [e for e in gw.log_entries() if e["v"] == name]


def enrolled(gw, email="tina@example.com"):
    account = gw.add_user(email, PASSWORD)
    secret = gw.enroll_totp(email)
    return account, secret


def password_step(gw, email="tina@example.com", return_to="/strong/x"):
    s, r = post_login(gw, email, PASSWORD, return_to=return_to)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/2fa"
    return s, r


def test_totp_login_rotates_into_a_new_session(gw):
    account, secret = enrolled(gw)
    s, r = password_step(gw)
    pending, raw = cookie_value(r, "guichet_pending")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", pending)
    assert "HttpOnly" in raw and "SameSite=Lax" in raw and "Max-Age=" in raw
    assert cookie_value(r, "guichet") == (None, None)

    rd = gw.redis.client()
    assert session_names(rd) == []
    state = rd.hgetall(PREFIX + "pending:" + gw.digest(pending))
    assert state["a"] == account and state["r"] == "/strong/x"
    assert 0 < rd.ttl(PREFIX + "pending:" + gw.digest(pending)) <= 300

    # the pending cookie opens nothing, under either name
    for jar in ({"guichet_pending": pending}, {"guichet": pending}):
        for path in ("/app/", "/strong/"):
            g = requests.get(gw.url + path, cookies=jar, timeout=5,
                             allow_redirects=False)
            assert g.status_code == 401, (jar, path)
    j = requests.get(gw.url + "/guichet/session", timeout=5,
                     cookies={"guichet": pending})
    assert j.status_code == 401

    page = s.get(gw.url + "/guichet/2fa", timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"]
    r = post_code(gw, s, totp(secret))
    assert r.status_code == 303
    assert r.headers["Location"] == "/strong/x"
    session, raw = cookie_value(r, "guichet")
    assert session and session != pending
    cleared, raw_p = cookie_value(r, "guichet_pending")
    assert cleared == "" and "Max-Age=0" in raw_p

    assert not rd.exists(PREFIX + "pending:" + gw.digest(pending))
    sess = session_get(rd, PREFIX + "sess:" + gw.digest(session))
    assert sess["a"] == account and sess["m"] == "pwd otp"
    strong = s.get(gw.url + "/strong/", timeout=5)
    assert strong.status_code == 200 and "amr=pwd otp" in strong.text
    assert s.get(gw.url + "/guichet/session", timeout=5).json()["amr"] \
        == ["pwd", "otp"]

    # the password step and the second factor are both in the log
    assert events(gw, "login.success")[0]["c"] == "2fa_required"
    ok = events(gw, "2fa.success")
    assert len(ok) == 1 and ok[0]["c"] == "totp"
    assert gw.account_of(ok[0]) == account
    assert ok[0]["d"] == gw.digest(session)[:8]


def test_totp_replay_is_refused(gw):
    _, secret = enrolled(gw)
    code = totp(secret)
    s, _ = password_step(gw)
    assert post_code(gw, s, code).status_code == 303

    s2, _ = password_step(gw)
    r = post_code(gw, s2, code)
    assert r.status_code == 401
    assert cookie_value(r, "guichet") == (None, None)
    assert "already used" in r.text
    assert events(gw, "2fa.failure")[-1]["c"] == "replay"


def test_bad_codes_then_too_many(tmp_path, redis_server):
    # throttling out of the way: the pending state's own limit is tested
    gw = make_gateway(tmp_path, redis_server,
                      DEFAULT_EXTRA.replace("throttle_free = 3",
                                            "throttle_free = 50"))
    try:
        bad_codes_then_too_many(gw)
    finally:
        stop_gateway(gw)


def bad_codes_then_too_many(gw):
    _, secret = enrolled(gw)
    s, _ = password_step(gw)
    wrong = "000000" if totp(secret) != "000000" else "111111"
    for _ in range(4):
        r = post_code(gw, s, wrong)
        assert r.status_code == 401
        assert cookie_value(r, "guichet") == (None, None)
    r = post_code(gw, s, wrong)
    assert r.status_code == 401
    cleared, _ = cookie_value(r, "guichet_pending")
    assert cleared == ""
    assert list(gw.redis.client().scan_iter(PREFIX + "pending:*")) == []

    # the state is gone: even the right code leads back to the login page
    r = s.get(gw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login"

    reasons = [e["c"] for e in events(gw, "2fa.failure")]
    assert reasons == ["bad_code"] * 4 + ["too_many"]


def test_recovery_code_works_once(gw):
    account, _ = enrolled(gw)
    codes = gw.recovery_codes("tina@example.com")
    assert len(codes) == 10

    s, _ = password_step(gw)
    r = post_code(gw, s, codes[0].upper())
    assert r.status_code == 303
    session, _ = cookie_value(r, "guichet")
    assert session_get(gw.redis.client(), PREFIX + "sess:"
                       + gw.digest(session))["m"] == "pwd otp"
    assert gw.redis.client().scard(PREFIX + "acct:%s:rc" % account) == 9

    s2, _ = password_step(gw)
    r = post_code(gw, s2, codes[0])
    assert r.status_code == 401
    assert [e["c"] for e in events(gw, "2fa.success")] == ["recovery"]
    assert events(gw, "2fa.failure")[-1]["c"] == "bad_code"
    # the codes are kept as digests only
    members = gw.redis.client().smembers(PREFIX + "acct:%s:rc" % account)
    assert not any(c.replace("-", "") in m for c in codes for m in members)


def test_2fa_csrf_and_hostile_codes(gw):
    _, secret = enrolled(gw)
    s, _ = password_step(gw)
    r = s.post(gw.url + "/guichet/2fa", data={"code": totp(secret)},
               allow_redirects=False, timeout=5)
    assert r.status_code == 403
    assert events(gw, "2fa.failure")[-1]["c"] == "csrf"

    for code in ("", "12345", "1234567", "12345a", "' OR 1=1", "x" * 31):
        r = post_code(gw, s, code)
        assert r.status_code == 401, code
        if code == "1234567":
            break
    assert session_names(gw.redis.client()) == []

    # without a pending cookie there is nothing to complete
    r = requests.post(gw.url + "/guichet/2fa", data={"code": "123456"},
                      allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login"


def test_2fa_attempts_are_throttled(gw):
    _, secret = enrolled(gw)
    wrong = "000000" if totp(secret) != "000000" else "111111"
    # throttle_free = 3; each pending state allows 4 wrong codes here
    s, _ = password_step(gw)
    for _ in range(4):
        assert post_code(gw, s, wrong).status_code == 401
    r = post_code(gw, s, totp(secret))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert events(gw, "throttled")[-1]["c"] == "2fa"
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    # that was the pending state's fifth and last try: the 2fa page now
    # sends back to the password, and the next sign-in may go on
    r = s.get(gw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login"
    s, _ = password_step(gw)
    r = post_code(gw, s, totp(secret))
    assert r.status_code == 303
    assert r.headers["Location"] == "/strong/x"
