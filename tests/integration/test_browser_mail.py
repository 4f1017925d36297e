"""The mailed links followed in headless Chromium: a forgotten password
reset from the sign-in page (the link read out of a real SMTP server's
mailbox, the second factor, a sign-in with the new password), then an
invitation's link to registration. Every page at 1280 and 390 pixels
wide, checked with axe-core; screenshots in
build/test-artifacts/mail-PAGE-WIDTH.png (tests/browser/mail_links.mjs).
"""

import base64
import json
import os
import subprocess
import tempfile
import threading

from login_helpers import stop_gateway
from mail_helpers import link_in, smtp, wait_for_mail  # noqa: F401
from sso_helpers import Partner
from test_browser_login import ROOT
from test_mail_notices import MailSsoGateway

EMAIL = "ann@example.com"
OLD = "correct horse battery"
NEW = "a brand new password"
INVITED = "newbie@example.com"
FIRST = "a first password here"
MOVED = "newbie.moved@example.com"
DEADLINE = 180


def browser_with_mail(script, mail_link, **args):
    """Runs a scenario that asks for the links of its mails on stdout
    ({"ask": {...}}) and reads each answer, mail_link(ask), on stdin; the
    last line is its report. Killed after DEADLINE seconds."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(["node", os.path.join(ROOT, "tests", "browser",
                                                   script), json.dumps(args)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=err, text=True)
        timer = threading.Timer(DEADLINE, p.kill)
        timer.start()
        try:
            out, asked = None, []
            for line in p.stdout:
                msg = json.loads(line)
                if "ask" not in msg:
                    out = msg
                    break
                asked.append(msg["ask"])
                p.stdin.write(mail_link(msg["ask"]) + "\n")
                p.stdin.flush()
            p.stdin.close()
            p.wait(30)
        finally:
            timer.cancel()
            if p.poll() is None:
                p.kill()
                p.wait()
        err.seek(0)
        assert out is not None, err.read()
        assert out["ok"], out.get("error")
        assert p.returncode == 0
        out["asked"] = asked
        return out


def test_mailed_links_in_a_browser(tmp_path, redis_server, smtp):  # noqa
    g = MailSsoGateway(str(tmp_path), redis_server, smtp)
    g.start()
    try:
        aid = g.add_user(EMAIL, OLD)
        secret = g.enroll_totp(EMAIL)
        p = g.add_partner(Partner("part-a", "ES256"))
        r = g.api("POST", "invitations", p.token(api=True),
                  {"emails": [INVITED]})
        assert r.status_code == 202, r.text

        def mail_link(ask):
            g.worker()
            msgs = wait_for_mail(smtp, ask["to"])
            return link_in(msgs[-1], ask["route"])

        out = browser_with_mail(
            "mail_links.mjs", mail_link, url=g.url, email=EMAIL,
            password=NEW, secret=base64.b32encode(secret).decode(),
            invited=INVITED, first=FIRST, moved=MOVED)

        assert out["asked"] == [{"to": EMAIL, "route": "reset/confirm"},
                                {"to": INVITED, "route": "register"},
                                {"to": MOVED,
                                 "route": "account/email/confirm"}]
        assert out["violations"] == {}, out["violations"]
        assert out["overflow"] == {}, out["overflow"]
        assert out["console_errors"] == []

        # the reset: the mailed link, cleaned out of the address bar
        assert EMAIL in out["sent"]
        assert "token=" in out["link"]
        assert out["address"] == g.url + "/guichet/reset/confirm"
        assert out["reset_for"] == EMAIL
        assert "every session" in out["done"]
        assert "/guichet/login" in out["signed_out"]
        assert "user=%s" % aid in out["app"]
        assert "amr=pwd otp" in out["app"]

        # the invitation: its link, cleaned too, then a first sign-in
        assert "token=" in out["invitation"]
        assert out["register_address"] == g.url + "/guichet/register"
        assert out["register_for"] == INVITED
        assert "email=%s" % INVITED in out["invited_app"]

        resets = [e for e in g.log_entries() if e.get("v") == "password.reset"]
        assert [e["c"] for e in resets] == ["totp"]
        # the address change: asked, then confirmed by the person
        assert out["confirm_for"] == MOVED
        assert "Address changed" in out["changed"]
        assert g.ctl("user", "show", MOVED).returncode == 0
        assert g.ctl("user", "show", INVITED).returncode != 0
    finally:
        stop_gateway(g)
