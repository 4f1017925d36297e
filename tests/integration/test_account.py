"""The account self-service routes against real nginx and Redis: the
page, sessions, re-authentication, TOTP enrolment, recovery codes,
password change, export and erasure."""

import base64
import re
import time

import requests

from conftest import session_set
from account_helpers import (EMAIL, PASSWORD, cookie_of, csrf, enrol_start,
                             events, everything, form, login, page, post,
                             reauth, session_keys, session_of, stale_proof)
from login_helpers import (PREFIX, gw, hidden, post_code, post_login,  # noqa
                           set_cookies, totp)

def account_id(gw):
    return gw.add_user(EMAIL, PASSWORD)


# ------------------------------------------------------------- the page

def test_no_session_goes_to_login(gw):
    r = page(gw, requests.Session())
    assert r.status_code in (302, 303)
    assert r.headers["Location"].startswith("/guichet/login?return_to=")
    assert "account" in r.headers["Location"]

    r = post(gw, requests.Session(), "account/delete",
             {"csrf": "x", "confirm": "1"})
    assert r.status_code in (302, 303, 401, 403)


def test_page_lists_sessions_without_their_digests(gw):
    account_id(gw)
    a = login(gw, ua="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    login(gw, ua="Mozilla/5.0 (iPhone) Safari/604.1")
    r = page(gw, a)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert EMAIL in r.text
    assert r.text.count("This browser</span>") == 1
    assert len(re.findall(r'name="session" value="[^"]+"', r.text)) == 1
    for key in session_keys(gw):
        digest = key[len(PREFIX + "sess:"):]
        assert digest not in r.text
    assert cookie_of(a) not in r.text
    assert "<script" not in r.text
    assert "style=" not in r.text


# ------------------------------------------------------------- sessions

def test_revoke_one_session(gw):
    uid = account_id(gw)
    a = login(gw)
    b = login(gw)
    f = form(page(gw, a).text, "account/sessions/revoke")
    assert f["session"] and f["csrf"]

    r = post(gw, a, "account/sessions/revoke", {"csrf": f["csrf"]})
    assert r.status_code == 400             # neither a session nor all
    r = post(gw, a, "account/sessions/revoke", {"session": f["session"]})
    assert r.status_code == 403             # no CSRF token
    assert len(session_keys(gw)) == 2

    r = post(gw, a, "account/sessions/revoke", f)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/account"
    assert session_keys(gw) == [PREFIX + "sess:" + gw.digest(cookie_of(a))]
    assert page(gw, b).status_code in (302, 303)
    assert page(gw, a).status_code == 200
    assert ("session.revoked", "ok", uid) in events(gw)

    # the same handle again, and a forged one
    r = post(gw, a, "account/sessions/revoke", f)
    assert r.status_code == 404
    r = post(gw, a, "account/sessions/revoke",
             {"csrf": f["csrf"], "session": "<script>"})
    assert r.status_code == 400


def test_csrf_token_of_another_session_is_refused(gw):
    account_id(gw)
    a = login(gw)
    b = login(gw)
    f = form(page(gw, b).text, "account/sessions/revoke")
    r = post(gw, a, "account/sessions/revoke", dict(f, all="1"))
    assert r.status_code == 403
    assert len(session_keys(gw)) == 2


def test_revoke_all_others(gw):
    account_id(gw)
    a = login(gw)
    others = [login(gw) for _ in range(3)]
    gw.add_user("bob@example.com", PASSWORD)
    bob = login(gw, "bob@example.com")
    r = post(gw, a, "account/sessions/revoke",
             {"csrf": csrf(gw, a), "all": "1"})
    assert r.status_code == 303
    left = session_keys(gw)
    assert PREFIX + "sess:" + gw.digest(cookie_of(a)) in left
    assert PREFIX + "sess:" + gw.digest(cookie_of(bob)) in left
    assert len(left) == 2
    for s in others:
        assert page(gw, s).status_code in (302, 303)


# ---------------------------------------------------- re-authentication

def test_stale_proof_asks_for_reauth(gw):
    account_id(gw)
    s = stale_proof(gw, login(gw))
    r = post(gw, s, "account/delete", {"csrf": csrf(gw, s), "confirm": "1"})
    assert r.status_code == 303
    assert r.headers["Location"].startswith("/guichet/account/reauth?")
    r = page(gw, s, "account/export")
    assert r.status_code == 303
    assert r.headers["Location"] == \
        "/guichet/account/reauth?return_to=%2Fguichet%2Faccount%2Fexport"
    assert gw.ctl("user", "show", EMAIL).returncode == 0

    r = reauth(gw, s, password="wrong password!")
    assert r.status_code == 401
    assert "f" not in session_of(gw, s)

    # a proof for the export comes back to the account page, which starts
    # the download
    r = reauth(gw, s, return_to="/guichet/account/export")
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/account?download=1"
    assert abs(int(session_of(gw, s)["f"]) - time.time()) < 5
    assert page(gw, s, "account/export").status_code == 200

    # an old proof no longer counts
    session_set(gw.redis.client(), PREFIX + "sess:" + gw.digest(cookie_of(s)),
                f=int(time.time()) - 301)
    assert page(gw, s, "account/export").status_code == 303


def test_reauth_refuses_foreign_return_to_and_missing_csrf(gw):
    account_id(gw)
    s = login(gw)
    r = reauth(gw, s, return_to="//evil.example/")
    assert r.status_code == 303
    assert r.headers["Location"] == "/"
    r = post(gw, s, "account/reauth", {"password": PASSWORD})
    assert r.status_code == 403


def test_reauth_with_totp_needs_the_code(gw):
    account_id(gw)
    secret = gw.enroll_totp(EMAIL)
    s = login(gw, secret=secret)
    r = reauth(gw, s)                          # no code
    assert r.status_code == 401
    r = page(gw, s, "account/reauth")
    data = {"csrf": hidden(r.text, "csrf"), "password": PASSWORD,
            "code": "000000" if totp(secret) != "000000" else "111111"}
    assert post(gw, s, "account/reauth", data).status_code == 401
    # the login already used this step's code: wait for the next one
    time.sleep(30 - time.time() % 30 + 0.5)
    assert reauth(gw, s, secret=secret).status_code == 303


# ---------------------------------------------------------------- TOTP

def test_totp_enrolment(gw):
    uid = account_id(gw)
    s = stale_proof(gw, login(gw))
    assert page(gw, s, "account/totp").status_code == 303   # stale proof
    assert reauth(gw, s).status_code == 303
    secret, token = enrol_start(gw, s)
    assert len(secret) == 20

    # the pending secret is sealed in the session, not in the clear
    pending = session_of(gw, s).get("k", "")
    assert pending and base64.b32encode(secret).decode() not in pending

    r = page(gw, s, "account/totp/qr.svg")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/svg+xml"
    assert r.text.startswith("<svg ") and "<script" not in r.text

    r = post(gw, s, "account/totp", {"csrf": token, "action": "enable",
                                    "code": "12345"})
    assert r.status_code == 400
    wrong = "%06d" % ((int(totp(secret)) + 1) % 1000000)
    r = post(gw, s, "account/totp", {"csrf": token, "action": "enable",
                                    "code": wrong})
    assert r.status_code == 401
    assert not gw.redis.client().hget(PREFIX + "acct:" + uid, "totp")

    r = post(gw, s, "account/totp", {"csrf": token, "action": "enable",
                                    "code": totp(secret)})
    assert r.status_code == 200
    codes = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", r.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    acct = gw.redis.client().hgetall(PREFIX + "acct:" + uid)
    assert acct["totp"].startswith("v1.")
    assert gw.redis.client().scard(PREFIX + "acct:%s:rc" % uid) == 10
    assert "k" not in session_of(gw, s)
    # the codes made with the second factor are logged, as guichetctl
    # logs them: right after totp.enrolled, for the account, sealed
    ev = events(gw)
    assert ev[-2:] == [("totp.enrolled", "ok", uid),
                       ("recovery.generated", "ok", uid)]
    last = gw.log_entries()[-1]
    assert "x" in last and not set(last) & {"e", "i", "u", "c"}
    assert last["d"] == gw.log_entries()[-2]["d"]

    # the next login asks for the second factor, and a recovery code works
    s2, r = post_login(gw, EMAIL, PASSWORD)
    assert r.headers["Location"].endswith("/guichet/2fa")
    assert post_code(gw, s2, codes[0]).status_code == 303

    # turning it off
    assert reauth(gw, s, secret=None).status_code in (303, 401)
    r = page(gw, s)
    assert 'id="totp-disable"' in r.text


def test_totp_disable_and_recovery_codes(gw):
    uid = account_id(gw)
    secret = gw.enroll_totp(EMAIL)
    old = gw.recovery_codes(EMAIL)
    s = login(gw, secret=secret)
    time.sleep(30 - time.time() % 30 + 0.5)
    assert reauth(gw, s, secret=secret).status_code == 303

    r = post(gw, s, "account/recovery-codes",
             {"csrf": csrf(gw, s, "account/recovery-codes")})
    assert r.status_code == 200
    new = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", r.text)
    assert len(new) == 10 and not set(new) & set(old)
    s2, _ = post_login(gw, EMAIL, PASSWORD)
    assert post_code(gw, s2, old[1]).status_code == 401
    assert ("recovery.generated", "ok", uid) in events(gw)

    r = post(gw, s, "account/totp", {"csrf": csrf(gw, s, "account/totp"),
                                    "action": "disable"})
    assert r.status_code == 303
    acct = gw.redis.client().hgetall(PREFIX + "acct:" + uid)
    assert not acct.get("totp")
    assert gw.redis.client().scard(PREFIX + "acct:%s:rc" % uid) == 0
    assert ("totp.disabled", "ok", uid) in events(gw)
    _, r = post_login(gw, EMAIL, PASSWORD)
    assert r.headers["Location"] == "/app/"


# ------------------------------------------------------------ password

def test_password_change(gw):
    uid = account_id(gw)
    s = login(gw)
    other = login(gw)
    old_hash = gw.redis.client().hget(PREFIX + "acct:" + uid, "pw")
    assert reauth(gw, s).status_code == 303
    token = csrf(gw, s, "account/password")
    new = "a brand new passphrase"

    def change(current, password, confirm, tok=token):
        return post(gw, s, "account/password",
                    {"csrf": tok, "current_password": current,
                     "new_password": password, "confirm_password": confirm})

    assert change(PASSWORD, new, new, tok="").status_code == 403
    assert change(PASSWORD, new, new + "x").status_code == 400
    assert change(PASSWORD, "short", "short").status_code == 400
    assert change("not my password", new, new).status_code == 401
    assert gw.redis.client().hget(PREFIX + "acct:" + uid, "pw") == old_hash

    old_cookie = cookie_of(s)
    r = change(PASSWORD, new, new)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/account"
    assert cookie_of(s) != old_cookie            # rotated
    assert session_keys(gw) == [PREFIX + "sess:" + gw.digest(cookie_of(s))]
    assert page(gw, other).status_code in (302, 303)
    assert page(gw, s).status_code == 200
    assert gw.redis.client().hget(PREFIX + "acct:" + uid, "pw") != old_hash
    assert ("password.changed", "ok", uid) in events(gw)

    _, r = post_login(gw, EMAIL, PASSWORD)
    assert r.status_code == 401
    _, r = post_login(gw, EMAIL, new)
    assert r.status_code == 303


# -------------------------------------------------------------- export

def test_export(gw):
    uid = account_id(gw)
    s = login(gw)
    assert reauth(gw, s).status_code == 303
    r = page(gw, s, "account/export")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Content-Disposition"].startswith("attachment;")
    doc = r.json()
    assert doc["format"] == "guichet-export" and doc["version"] == 1
    assert doc["account"]["id"] == uid
    assert doc["account"]["email"] == EMAIL
    assert len(doc["sessions"]) == 1
    text = r.text
    assert "$argon2" not in text
    assert gw.digest(cookie_of(s)) not in text
    assert cookie_of(s) not in text
    # the log part: the account's entries, named and opened
    assert "login.success" in [e["event"] for e in doc["log"]]
    assert all(e["email"] == EMAIL for e in doc["log"])
    assert ("export", "ok", uid) in events(gw)


# -------------------------------------------------------------- delete

def test_delete_erases_everything(gw):
    uid = account_id(gw)
    secret = gw.enroll_totp(EMAIL)
    gw.recovery_codes(EMAIL)
    gw.add_user("bob@example.com", PASSWORD)
    s = login(gw, secret=secret)
    assert EMAIL in everything(gw)
    time.sleep(30 - time.time() % 30 + 0.5)
    assert reauth(gw, s, secret=secret).status_code == 303

    pseudo = gw.redis.client().hget(PREFIX + "acct:" + uid, "lp")
    assert pseudo and pseudo != uid
    token = csrf(gw, s)
    r = post(gw, s, "account/delete", {"csrf": token})
    assert r.status_code == 400                  # not confirmed
    r = post(gw, s, "account/delete", {"csrf": token, "confirm": "1"})
    assert r.status_code == 200
    assert 'id="goodbye"' in r.text
    assert any(c.startswith("guichet=;") and "Max-Age=0" in c
               for c in set_cookies(r))

    text = everything(gw)
    assert EMAIL not in text
    assert uid not in text
    assert "127.0.0.1" not in text.replace("bob", "")
    assert not session_keys(gw)
    assert page(gw, s).status_code in (302, 303)
    assert gw.ctl("user", "show", EMAIL).returncode != 0
    assert gw.ctl("user", "show", "bob@example.com").returncode == 0

    # no entry names her id: the erasure is logged under her pseudonym,
    # which nothing links back to her any more
    assert not [(e["s"], f) for e in gw.log_entries()
                for f, v in e.items() if uid in v]
    assert not gw.redis.client().hexists(PREFIX + "log:pseudo", pseudo)
    last = gw.log_entries()[-1]
    assert last["v"] == "account.erased" and last["a"] == pseudo
    assert not set(last) & {"e", "i", "u", "x"}
    p = gw.ctl("logs", "verify")
    assert p.returncode == 0, p.stdout + p.stderr


# ---------------------------------------------------------- restricted

def test_restricted_account_reads_but_cannot_change(gw):
    uid = account_id(gw)
    assert gw.ctl("user", "restrict", EMAIL).returncode == 0
    s = login(gw)
    r = page(gw, s)
    assert r.status_code == 200 and "restricted" in r.text
    assert reauth(gw, s).status_code == 303
    assert page(gw, s, "account/export").status_code == 200
    assert page(gw, s, "account/totp").status_code == 403
    r = post(gw, s, "account/delete", {"csrf": csrf(gw, s), "confirm": "1"})
    assert r.status_code == 403
    r = post(gw, s, "account/password",
             {"csrf": csrf(gw, s, "account/password"),
              "current_password": PASSWORD, "new_password": "x" * 12,
              "confirm_password": "x" * 12})
    assert r.status_code == 403
    assert gw.redis.client().exists(PREFIX + "acct:" + uid)


# ---------------------------------------------------------- bad input

def test_hostile_input(gw):
    account_id(gw)
    s = login(gw)
    token = csrf(gw, s)
    r = post(gw, s, "account/delete", {"csrf": token, "confirm": "1",
                                       "pad": "x" * 10000})
    assert r.status_code == 413
    r = post(gw, s, "account/sessions/revoke",
             "csrf=%s&all=1&all=1" % token)
    assert r.status_code in (400, 403)
    assert len(session_keys(gw)) == 1
    r = s.put(gw.url + "/guichet/account", timeout=5)
    assert r.status_code == 405
    assert page(gw, s).status_code == 200


# ---------------------------------------------------------- throttling

def test_failed_proofs_are_throttled_like_logins(gw):
    uid = account_id(gw)
    s = stale_proof(gw, login(gw))
    statuses = [reauth(gw, s, password="wrong password!").status_code
                for _ in range(3)]
    assert statuses == [401, 401, 401]
    # past throttle_free failures each one sets a delay (here at most 2 s)
    failures = 3
    while failures < 5:
        r = reauth(gw, s, password="wrong password!")
        assert r.status_code in (401, 429)
        if r.status_code == 429:
            time.sleep(int(r.headers["Retry-After"]))
        else:
            failures += 1
    # during which even the right password waits
    r = reauth(gw, s)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "f" not in session_of(gw, s)
    log = events(gw)
    assert ("login.failure", "fail", uid) in log
    assert any(e[0] == "throttled" for e in log)
    # the login form counts the same failures
    _, r = post_login(gw, EMAIL, PASSWORD)
    assert r.status_code == 429


def test_qr_image_needs_an_enrolment_in_progress(gw):
    account_id(gw)
    s = login(gw)
    assert reauth(gw, s).status_code == 303
    r = page(gw, s, "account/totp/qr.svg")
    assert r.status_code == 404
    assert "<svg" not in r.text
    # a pending secret sealed for another session does not open here
    enrol_start(gw, s)
    pending = session_of(gw, s)["k"]
    t = login(gw)
    session_set(gw.redis.client(), PREFIX + "sess:" + gw.digest(cookie_of(t)),
                k=pending, f=int(time.time()))
    assert page(gw, t, "account/totp/qr.svg").status_code == 404
    assert page(gw, s, "account/totp/qr.svg").status_code == 200
