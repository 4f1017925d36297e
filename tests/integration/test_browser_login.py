"""The login page in headless Chromium, as a person uses it."""

import json
import os
import subprocess

from login_helpers import gw  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def browser(script, **args):
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", script),
                        json.dumps(args)],
                       capture_output=True, text=True, timeout=120)
    lines = p.stdout.strip().splitlines()
    assert lines, p.stderr
    out = json.loads(lines[-1])
    assert out["ok"], out.get("error")
    assert p.returncode == 0
    return out


def test_login_and_logout_in_a_browser(gw):  # noqa: F811
    account = gw.add_user("browser@example.com", "a long browser password")
    out = browser("login.mjs", url=gw.url, email="browser@example.com",
                  password="a long browser password")
    assert "user=%s" % account in out["app"]
    assert "email=browser@example.com" in out["app"]
    assert "amr=pwd" in out["app"]
    assert "/guichet/login" in out["after_logout"]
    assert out["console_errors"] == []
