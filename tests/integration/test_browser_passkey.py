"""Passkeys in headless Chromium with the DevTools virtual authenticator:
registration, passwordless sign-in, removal, a refused ceremony. WebAuthn
needs a domain: the page is opened at http://localhost:PORT, the
gateway's webauthn_rp_id is localhost."""

import json

import pytest

from account_helpers import events
from login_helpers import DEFAULT_EXTRA, PREFIX, make_gateway, stop_gateway
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
    assert "user=%s" % uid in out["app"]
    assert "amr=pwd hwk" in out["app"]
    assert out["console_errors"] == []

    evs = [(e.get("v"), e.get("c")) for e in pgw.log_entries()]
    assert ("login.success", "2fa_required") in evs
    assert ("2fa.success", "passkey") in evs
    assert "passkey.failure" not in [v for v, _ in evs]
    r = pgw.redis.client()
    assert r.hget(PREFIX + "acct:" + uid, "pk") == "1"

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
