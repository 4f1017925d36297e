"""State follows the account: a pending second-factor state does not
outlive a lock, a password change or a logout everywhere; a fresh proof
and a second-factor enrolment move the session to a new id."""

import requests

from account_helpers import (EMAIL, PASSWORD, cookie_of, enrol_start,
                             login, page, post, reauth, session_keys)
from conftest import PREFIX, session_exists, session_get, wait_until
from login_helpers import (gw, hidden, post_login,  # noqa: F401
                           totp)


def pending_keys(gw):
    return list(gw.redis.client().scan_iter(PREFIX + "pending:*"))


def password_step(gw):
    s, r = post_login(gw, EMAIL, PASSWORD)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/2fa"
    assert len(pending_keys(gw)) == 1
    r = s.get(gw.url + "/guichet/2fa", timeout=5)
    assert r.status_code == 200
    s.csrf_2fa = hidden(r.text, "csrf")
    return s


def refused(gw, s, secret):
    """The right code, on the form shown before, no longer opens a
    session; the 2fa page sends back to the password."""
    before = session_keys(gw)
    r = s.post(gw.url + "/guichet/2fa",
               data={"code": totp(secret), "csrf": s.csrf_2fa},
               allow_redirects=False, timeout=10)
    assert r.status_code in (303, 401), r.status_code
    if r.status_code == 303:
        assert r.headers["Location"] == "/guichet/login"
    assert "guichet" not in {c.name for c in s.cookies if c.value}
    assert session_keys(gw) == before
    assert pending_keys(gw) == []
    r = s.get(gw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login"


def test_lock_ends_a_pending_second_factor(gw):
    gw.add_user(EMAIL, PASSWORD)
    secret = gw.enroll_totp(EMAIL)
    s = password_step(gw)
    p = gw.ctl("user", "lock", EMAIL)
    assert p.returncode == 0, p.stderr
    refused(gw, s, secret)


def test_password_change_ends_a_pending_second_factor(gw):
    gw.add_user(EMAIL, PASSWORD)
    secret = gw.enroll_totp(EMAIL)
    s = password_step(gw)
    p = gw.ctl("user", "passwd", EMAIL, "--password-stdin",
               stdin="another long password\n")
    assert p.returncode == 0, p.stderr
    refused(gw, s, secret)


def test_logout_everywhere_ends_a_pending_second_factor(gw):
    account = gw.add_user(EMAIL, PASSWORD)
    secret = gw.enroll_totp(EMAIL)
    owner = login(gw, secret=secret)
    thief = password_step(gw)
    r = owner.get(gw.url + "/guichet/logout", timeout=5)
    r = post(gw, owner, "logout", {"csrf": hidden(r.text, "csrf"),
                                   "all": "1"})
    assert r.status_code == 303
    assert session_keys(gw) == []
    # the owner's code took this TOTP step: make it fresh again, so that
    # only the logout can stop the thief's code
    gw.redis.client().hset(PREFIX + "acct:" + account, "totp_step", "0")
    refused(gw, thief, secret)


def test_reauth_moves_the_session_to_a_new_id(gw):
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    old = cookie_of(s)
    r = reauth(gw, s)
    assert r.status_code == 303, r.text
    new = cookie_of(s)
    assert new and new != old
    assert page(gw, s, "session").status_code == 200
    assert not session_exists(gw.redis.client(),
                              PREFIX + "sess:" + gw.digest(old))
    sess = session_get(gw.redis.client(), PREFIX + "sess:" + gw.digest(new))
    assert sess.get("f")

    # the old id opens nothing, at the gate or the endpoints
    assert wait_until(lambda: requests.get(
        gw.url + "/app/", cookies={"guichet": old}, allow_redirects=False,
        timeout=5).status_code == 401, timeout=3)
    r = requests.get(gw.url + "/guichet/session",
                     cookies={"guichet": old}, timeout=5)
    assert r.status_code == 401
    # the new one carries the fresh proof: the export needs nothing more
    r = page(gw, s, "account/export")
    assert r.status_code == 200, r.status_code


def test_totp_enrolment_moves_the_session_to_a_new_id(gw):
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    assert reauth(gw, s).status_code == 303
    old = cookie_of(s)
    secret, token = enrol_start(gw, s)
    r = post(gw, s, "account/totp", {"csrf": token, "action": "enable",
                                    "code": totp(secret)})
    assert r.status_code == 200, r.text
    new = cookie_of(s)
    assert new and new != old
    assert not session_exists(gw.redis.client(),
                              PREFIX + "sess:" + gw.digest(old))
    assert page(gw, s, "account").status_code == 200
    r = requests.get(gw.url + "/guichet/session",
                     cookies={"guichet": old}, timeout=5)
    assert r.status_code == 401


def test_removed_role_ends_its_sessions_at_once(gw):
    gw.add_user(EMAIL, PASSWORD)
    assert gw.ctl("user", "role", EMAIL, "--add", "security").returncode == 0
    s = login(gw)
    r = s.get(gw.url + "/security/logs", timeout=5, allow_redirects=False)
    assert r.status_code == 200
    p = gw.ctl("user", "role", EMAIL, "--remove", "security")
    assert p.returncode == 0, p.stderr
    # in force on every worker within a second (the cache's bound)
    assert wait_until(lambda: s.get(gw.url + "/security/logs", timeout=5,
                                    allow_redirects=False).status_code
                      in (302, 401), timeout=1.5)


def test_added_role_asks_to_sign_in_again(gw):
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    p = gw.ctl("user", "role", EMAIL, "--add", "security")
    assert p.returncode == 0, p.stderr
    r = s.get(gw.url + "/security/logs", timeout=5, allow_redirects=False,
              headers={"Accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    assert "sign in again" in r.json()["message"]
    s = login(gw)
    r = s.get(gw.url + "/security/logs", timeout=5, allow_redirects=False)
    assert r.status_code == 200
