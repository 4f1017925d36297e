"""Every page in headless Chromium at 1280 and 390 pixels wide, checked
with axe-core: no serious or critical accessibility violation, nothing
wider than the screen. Screenshots: build/test-artifacts/PAGE-WIDTH.png
(tests/browser/pages.mjs)."""

import base64

import requests

from test_browser_login import browser
from test_register import invite, link_token, reg  # noqa: F401

PASSWORD = "a long browser password"
SECURITY = "security@example.org"
FRESH = "fresh@example.org"


def test_every_page_at_two_widths(reg):  # noqa: F811
    reg.add_user(SECURITY, PASSWORD, role="security")
    secret = reg.enroll_totp(SECURITY)
    reg.add_user(FRESH, PASSWORD)

    invite(reg, reg.a, ["newbie@example.org"])
    register = "%s/guichet/register?token=%s" % (
        reg.url, link_token(reg, "newbie@example.org"))

    # a partner asks to link an account it does not vouch for yet
    reg.add_user("linkme@example.org", PASSWORD)
    s = requests.Session()
    r = s.post(reg.url + "/guichet/sso",
               data={"assertion": reg.a.token("linkme@example.org")},
               headers={"Accept": "text/html"}, allow_redirects=False,
               timeout=10)
    assert r.status_code == 303 and r.headers["Location"].endswith("/link")
    cookies = [{"name": c.name, "value": c.value, "url": reg.url}
               for c in s.cookies]

    out = browser("pages.mjs", url=reg.url, email=SECURITY,
                  password=PASSWORD, fresh=FRESH,
                  secret=base64.b32encode(secret).decode(),
                  register=register, link={"cookies": cookies})

    assert out["violations"] == {}, out["violations"]
    assert out["overflow"] == {}, out["overflow"]
    # the error pages' own statuses (401, 403, 404, 429) and nothing else
    assert [e for e in out["console_errors"] if not e.startswith(
        "Failed to load resource: the server responded with a status of 4")
    ] == []

    # the cursor lands where the person must type
    assert out["focus_first"] == "email"
    assert out["focus_error"] == "password"
    assert out["focus_totp"] == "code" and out["focus_2fa"] == "code"
    assert "Try again in" in out["throttled"]

    assert out["alone"] == 1 and out["folded"] is True
    assert "earlier" not in out["first"]
    assert out["filename"] == "guichet-recovery-codes.txt"
    assert all(c in out["download"] for c in out["codes"])
    assert all(c in out["copied"] for c in out["codes"])
    assert out["print_hidden"] is True
    assert out["chart"] == 1
    assert out["notice"] == "You have signed out."
