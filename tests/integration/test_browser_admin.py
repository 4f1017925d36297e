"""The security team's page in headless Chromium: sign in with password
and TOTP, read and filter the log; what an attacker typed shows as text.
Screenshots: build/test-artifacts/admin-logs*.png."""

from admin_helpers import (SECURITY_EMAIL, SECURITY_PASSWORD,  # noqa: F401
                           agw, failed_login)
from login_helpers import totp
from test_browser_login import browser


def test_security_team_reads_the_log_in_a_browser(agw):  # noqa: F811
    hostile = "<script>alert(1)</script>@evil.example"
    for i in range(6):
        failed_login(agw, hostile if i == 0 else "v%d@example.org" % i,
                     ua="<b>bot</b>")
    agw.add_user(SECURITY_EMAIL, SECURITY_PASSWORD, role="security")
    secret = agw.enroll_totp(SECURITY_EMAIL)
    out = browser("admin_logs.mjs", url=agw.url, email=SECURITY_EMAIL,
                  password=SECURITY_PASSWORD, code=totp(secret),
                  hostile=hostile)
    assert out["events"] and set(out["events"]) == {"login.failure"}
    assert out["hostile_shown"], out["emails"]
    assert out["scripts"] == 0
    assert "ip_failures" in out["anomalies"]
    assert "127.0.0.1" in out["anomalies"]
    assert out["console_errors"] == []
