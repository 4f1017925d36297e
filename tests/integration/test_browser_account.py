"""The account page in headless Chromium, as a person uses it: two-step
verification set up from the QR code's key, sessions on two devices,
export and deletion. Screenshots land in build/test-artifacts/."""

from account_helpers import events
from login_helpers import PREFIX, gw  # noqa: F401  (fixture)
from test_browser_login import browser

EMAIL = "browser@example.com"
PASSWORD = "a long browser password"

def test_enrol_totp_then_sign_in_with_it(gw):  # noqa: F811
    uid = gw.add_user(EMAIL, PASSWORD)
    out = browser("account.mjs", url=gw.url, email=EMAIL, password=PASSWORD)

    assert "off" in out["before"]
    assert out["secret_len"] == 20
    assert out["qr"]["w"] > 0
    assert len(out["codes"]) == 10 and len(set(out["codes"])) == 10
    assert "on" in out["after"] and "10" in out["left"]
    assert "/guichet/login" in out["logged_out"]
    assert "user=%s" % uid in out["app"]
    assert "amr=pwd otp" in out["app"]
    assert out["console_errors"] == []

    acct = gw.redis.client().hgetall(PREFIX + "acct:" + uid)
    assert acct["totp"].startswith("v1.")
    assert out["shown"].replace(" ", "") not in acct["totp"]
    kinds = [e[0] for e in events(gw)]
    assert "totp.enrolled" in kinds and "2fa.success" in kinds


def test_sessions_export_and_delete(gw):  # noqa: F811
    uid = gw.add_user(EMAIL, PASSWORD)
    out = browser("account_sessions.mjs", url=gw.url, email=EMAIL,
                  password=PASSWORD)

    assert len(out["rows"]) == 2
    assert sum("This browser" in r for r in out["rows"]) == 1
    # devices named in words, from their user agents
    assert any("GuichetPhone" in r for r in out["rows"])
    assert any("Chrome on Linux" in r for r in out["rows"])
    assert out["rows_after"] == 1
    assert "/guichet/login" in out["phone_after"]

    assert out["filename"] == "guichet-export.json"
    doc = out["exported"]
    assert doc["format"] == "guichet-export"
    assert doc["account"]["id"] == uid and doc["account"]["email"] == EMAIL
    assert len(doc["sessions"]) == 1

    assert "deleted" in out["goodbye"]
    assert "/guichet/login" in out["after_delete"]
    assert out["console_errors"] == []
    assert gw.ctl("user", "show", EMAIL).returncode != 0
    kinds = [e[0] for e in events(gw)]
    assert "session.revoked" in kinds and "export" in kinds
    assert kinds[-1] == "account.erased"
