"""Passkeys in headless Chromium with the DevTools virtual authenticator:
registration, passwordless sign-in, removal, a refused ceremony, a
passkey as the second factor, the export and erasure, a replayed answer
and a cloned key. WebAuthn
needs a domain: the page is opened at http://localhost:PORT, the
gateway's webauthn_rp_id is localhost."""

import json

import pytest
import requests

from account_helpers import events
from conftest import session_set
from login_helpers import DEFAULT_EXTRA, PREFIX, make_gateway, stop_gateway
from mail_helpers import smtp  # noqa: F401  (fixture)
from test_browser_login import browser

EMAIL = "passkey@example.com"
PASSWORD = "a long passkey password"


@pytest.fixture
def pgw(tmp_path, redis_server):
    from login_helpers import LoginGateway  # noqa: F401
    g = make_gateway(tmp_path, redis_server, DEFAULT_EXTRA)
    port = g.url.rsplit(":", 1)[1]
    with open(g.conf, "a") as f:
        f.write("webauthn_rp_id = localhost\n"
                "webauthn_origins = http://localhost:%s\n" % port)
    g.stop()
    g.start()
    g.local_url = "http://localhost:%s" % port
    yield g
    stop_gateway(g)


def test_register_sign_in_and_remove_a_passkey(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    out = browser("passkey.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD)

    assert "no passkey yet" in out["before"]
    assert len(out["rows"]) == 1 and "Laptop" in out["rows"][0]
    assert "user=%s" % uid in out["app"]
    assert "amr=hwk" in out["app"]
    assert out["none"] == 1
    assert "cancelled" in out["cancelled"]
    assert out["console_errors"] == []

    kinds = [e[0] for e in events(pgw)]
    assert "passkey.registered" in kinds
    assert "passkey.success" in kinds
    assert "passkey.removed" in kinds
    r = pgw.redis.client()
    assert r.hgetall(PREFIX + "acct:" + uid + ":pk") == {}
    assert r.keys(PREFIX + "cred:*") == []
    # no passkey left: no longer a second factor of the account
    assert r.hget(PREFIX + "acct:" + uid, "pk") is None


def test_a_passkey_is_the_second_factor_after_the_password(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    out = browser("passkey_2fa.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD)

    assert out["codeFields"] == 0
    assert "passkey" in out["lead"]
    assert out["violations"] == {}, out["violations"]
    assert out["overflow"] == {}, out["overflow"]
    assert "user=%s" % uid in out["app"]
    assert "amr=pwd hwk" in out["app"]
    assert out["console_errors"] == []

    evs = [(e.get("v"), e.get("c")) for e in pgw.log_entries()]
    assert ("login.success", "2fa_required") in evs
    assert ("2fa.success", "passkey") in evs
    assert "passkey.failure" not in [v for v, _ in evs]
    r = pgw.redis.client()
    assert r.hget(PREFIX + "acct:" + uid, "pk") == "1"
    p = pgw.ctl("user", "show", EMAIL, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["passkeys"] == 1

    # the export lists the passkey: never its key or credential id
    assert out["exported"]["status"] == 200
    doc = json.loads(out["exported"]["body"])
    [pk] = doc["passkeys"]
    assert set(pk) == {"name", "algorithm", "transports", "backup_eligible",
                       "backed_up", "created", "last_used"}
    assert pk["name"] == "Security key" and pk["algorithm"] == "ES256"
    assert pk["transports"] == "usb"
    assert pk["backup_eligible"] is False and pk["backed_up"] is False
    assert pk["last_used"] >= pk["created"] > 0
    [record] = [v for k, v in r.hgetall(PREFIX + "acct:" + uid + ":pk")
                .items() if k.startswith("r:")]
    stored = json.loads(record)
    assert stored["id"] not in out["exported"]["body"]
    assert stored["pk"] not in out["exported"]["body"]

    # erasure leaves nothing of the passkey, or of the account, in Redis
    p = pgw.ctl("user", "erase", EMAIL, "--yes")
    assert p.returncode == 0, p.stderr
    assert r.keys(PREFIX + "cred:*") == []
    assert [k for k in r.keys("*") if uid in k] == []
    for k in r.keys("*"):
        if r.type(k) == "string":
            assert r.get(k) != uid, k


def test_a_replayed_answer_and_a_cloned_key_are_refused(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    out = browser("passkey_clone.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD)
    assert out["signCount"] >= 1

    # the passwordless sign-in's request sent again: its challenge was
    # taken by the first one
    r = requests.post(pgw.local_url + "/guichet/passkey",
                      data=out["sent"]["body"],
                      headers={"Cookie": out["sent"]["cookie"],
                               "Content-Type":
                               "application/x-www-form-urlencoded"},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 401, r.text
    assert "Passkey not accepted" in r.text
    assert "guichet=" not in r.headers.get("Set-Cookie", "")

    # the copy of the key, its counter back at zero: refused, passwordless
    # and as the second factor, and logged
    assert out["cloned"]["path"] == "/guichet/passkey"
    assert "Passkey not accepted" in out["cloned"]["body"]
    assert "That passkey was not accepted" in out["second"]

    fails = [(e.get("c"), pgw.account_of(e))
             for e in pgw.log_entries() if e["v"] == "passkey.failure"]
    # (the replay was sent last; its challenge is checked before the
    # passkey is looked up, so before its account is known)
    assert fails == [("counter", uid), ("counter", uid),
                     ("challenge", None)], fails
    log = pgw.error_log()
    assert log.count("counter did not increase (a cloned "
                     "authenticator?)") == 2
    assert len([e for e in pgw.log_entries()
                if e["v"] == "passkey.success"]) == 1


def test_another_accounts_passkey_is_not_a_second_factor(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    other = pgw.add_user("other@example.com", PASSWORD)
    out = browser("passkey_other.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD, other="other@example.com",
                  otherId=other)
    assert out["status"] == 401
    assert "That passkey was not accepted" in out["body"]
    fails = [(e.get("c"), pgw.account_of(e))
             for e in pgw.log_entries() if e["v"] == "passkey.failure"]
    assert fails == [("unknown_credential", uid)]
    assert [e for e in pgw.log_entries() if e["v"] == "2fa.success"] == []


def test_a_passwordless_sign_in_needs_user_verification(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    out = browser("passkey_uv.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD)
    assert out["status"] == 401
    assert "Passkey not accepted" in out["body"]
    fails = [(e.get("c"), pgw.account_of(e))
             for e in pgw.log_entries() if e["v"] == "passkey.failure"]
    assert fails == [("user_verification", uid)]
    assert [e for e in pgw.log_entries()
            if e["v"] == "passkey.success"] == []


def test_the_identity_check_asks_for_the_password_and_the_passkey(pgw):
    uid = pgw.add_user(EMAIL, PASSWORD)
    first = browser("passkey_reauth.mjs", url=pgw.local_url, email=EMAIL,
                    password=PASSWORD, mode="register")
    [cookie] = [c["value"] for c in first["cookies"]
                if c["name"] == "guichet"]
    session_set(pgw.redis.client(),
                PREFIX + "sess:" + pgw.digest(cookie), f="")

    out = browser("passkey_reauth.mjs", url=pgw.local_url, email=EMAIL,
                  password=PASSWORD, mode="reauth",
                  cookies=first["cookies"], credential=first["credential"])
    assert out["asked"] == "/guichet/account/reauth"
    assert out["violations"] == {}, out["violations"]
    assert out["overflow"] == {}, out["overflow"]
    assert out["codeFields"] == 0
    assert "password" in out["lead"] and "passkey" in out["lead"]
    assert out["wrong"] == 401
    assert "Incorrect password" in out["wrongText"]
    assert out["right"] == 303
    assert out["exported"]["status"] == 200
    assert json.loads(out["exported"]["body"])["account"]["id"] == uid

    fails = [(e["v"], e.get("c")) for e in pgw.log_entries()
             if e.get("r") == "fail"]
    assert fails == [("login.failure", "reauth")]


def test_a_reset_asks_for_the_passkey(tmp_path, redis_server, smtp):
    """The account's second factor is a passkey: the mailed reset link
    and a new password are not enough, the passkey completes it."""
    from mail_helpers import MailGateway, link_in, wait_for_mail
    from test_mail_reset import ask_reset

    g = MailGateway(str(tmp_path), redis_server, smtp)
    port = g.url.rsplit(":", 1)[1]
    with open(g.conf, "a") as f:
        f.write("webauthn_rp_id = localhost\n"
                "webauthn_origins = http://localhost:%s\n" % port)
    g.start()
    try:
        local = "http://localhost:%s" % port
        uid = g.add_user(EMAIL, PASSWORD)
        first = browser("passkey_reauth.mjs", url=local, email=EMAIL,
                        password=PASSWORD, mode="register")
        pw = g.redis.client().hget(PREFIX + "acct:" + uid, "pw")

        ask_reset(g, EMAIL)
        g.worker()
        link = link_in(wait_for_mail(smtp, EMAIL)[-1], "reset/confirm")
        link = link.replace(g.url, local)

        out = browser("passkey_reset.mjs", link=link,
                      password="a new password with a key",
                      credential=first["credential"])
        assert out["violations"] == {}, out["violations"]
        assert out["overflow"] == {}, out["overflow"]
        assert out["codeFields"] == 0
        assert out["status"] == 200, out["text"]
        assert g.redis.client().hget(PREFIX + "acct:" + uid, "pw") != pw
        resets = [e for e in g.log_entries() if e["v"] == "password.reset"]
        assert [e["c"] for e in resets] == ["passkey"]
    finally:
        stop_gateway(g)
