"""Forgot password by mail (SPEC 10): the request page, the mailed link
read out of a real SMTP server's mailbox, the token's trade for a cookie,
the second factor, single use, and the notice."""

import os
import time

import requests

from conftest import PREFIX
from login_helpers import hidden, post_login, totp
from mail_helpers import (MailGateway, Smtp, link_in, mgw, smtp,  # noqa
                          text_of, wait_for_mail)
from login_helpers import stop_gateway

PW = "correct horse battery"
NEW = "a brand new password"


def ask_reset(g, address, s=None):
    s = s or requests.Session()
    r = s.get(g.url + "/guichet/reset", timeout=5)
    assert r.status_code == 200
    return s, s.post(g.url + "/guichet/reset",
                     data={"email": address, "csrf": hidden(r.text, "csrf")},
                     allow_redirects=False, timeout=10)


def open_link(g, link):
    s = requests.Session()
    r = s.get(link, allow_redirects=False, timeout=5)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/guichet/reset/confirm"
    assert "guichet_reset" in s.cookies
    page = s.get(g.url + "/guichet/reset/confirm", timeout=5)
    assert page.status_code == 200, page.text
    return s, page


def set_password(g, s, page, password=NEW, code=None):
    data = {"password": password, "csrf": hidden(page.text, "csrf")}
    if code is not None:
        data["code"] = code
    return s.post(g.url + "/guichet/reset/confirm", data=data,
                  allow_redirects=False, timeout=30)


def events(g, name):
    return [e for e in g.log_entries() if e.get("v") == name]


def test_login_page_links_to_reset(mgw):
    r = requests.get(mgw.url + "/guichet/login", timeout=5)
    assert 'href="/guichet/reset"' in r.text


def test_reset_end_to_end(mgw):
    aid = mgw.add_user("ann@example.com", PW)
    old, r = post_login(mgw, "ann@example.com", PW)
    assert r.status_code == 303

    s, r = ask_reset(mgw, "ann@example.com")
    assert r.status_code == 200 and 'id="reset-sent"' in r.text
    assert events(mgw, "password.reset.requested")[-1]["c"] == "mail"

    mgw.worker()
    [msg] = wait_for_mail(mgw.smtp, "ann@example.com")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["Date"]
    assert "reset" in msg["Subject"].lower()
    link = link_in(msg, "reset/confirm")

    s, page = open_link(mgw, link)
    assert "ann@example.com" in page.text
    assert 'name="code"' not in page.text

    # the link's token was traded: the URL (as an access log keeps it)
    # opens nothing any more
    again = requests.get(link, allow_redirects=False, timeout=5)
    assert again.status_code == 410

    r = set_password(mgw, s, page)
    assert r.status_code == 200, r.text
    assert 'id="reset-done"' in r.text
    assert events(mgw, "password.reset")[-1]["c"] == "mail"

    # every session ended; the new password works, the old one not
    assert old.get(mgw.url + "/app/", allow_redirects=False,
                   timeout=5).status_code == 401
    assert post_login(mgw, "ann@example.com", PW)[1].status_code == 401
    assert post_login(mgw, "ann@example.com", NEW)[1].status_code == 303

    # single use
    page2 = s.get(mgw.url + "/guichet/reset/confirm", timeout=5)
    assert page2.status_code == 410

    # the notice, once delivered; the queue keeps nothing delivered
    mgw.worker()
    msgs = wait_for_mail(mgw.smtp, "ann@example.com", 2)
    assert "password was changed" in msgs[1]["Subject"]
    assert "/guichet/reset" in text_of(msgs[1])
    r = mgw.redis.client()
    assert r.xlen(PREFIX + "mail") == 0
    assert [e for e in events(mgw, "mail.sent")
            if mgw.account_of(e) == aid]


def test_unknown_address_same_page_no_mail(mgw):
    mgw.add_user("known@example.com", PW)
    _, known = ask_reset(mgw, "known@example.com")
    _, unknown = ask_reset(mgw, "nobody@example.com")
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody", "known") == known.text.replace(
        hidden(known.text, "csrf") or "", hidden(unknown.text, "csrf") or "")
    mgw.worker()
    assert mgw.smtp.to("nobody@example.com") == []
    assert len(mgw.smtp.to("known@example.com")) == 1
    assert events(mgw, "password.reset.requested")[-1]["c"] == "unknown"


def test_locked_account_gets_no_link(mgw):
    mgw.add_user("locked@example.com", PW)
    assert mgw.ctl("user", "lock", "locked@example.com").returncode == 0
    _, r = ask_reset(mgw, "locked@example.com")
    assert r.status_code == 200 and 'id="reset-sent"' in r.text
    mgw.worker()
    assert mgw.smtp.to("locked@example.com") == []


def test_reset_with_totp_and_recovery_code(mgw):
    mgw.add_user("tom@example.com", PW)
    secret = mgw.enroll_totp("tom@example.com")
    codes = mgw.recovery_codes("tom@example.com")

    ask_reset(mgw, "tom@example.com")
    mgw.worker()
    link = link_in(wait_for_mail(mgw.smtp, "tom@example.com")[0],
                   "reset/confirm")
    s, page = open_link(mgw, link)
    assert 'name="code"' in page.text

    r = set_password(mgw, s, page, code="000000" if totp(secret) != "000000"
                     else "111111")
    assert r.status_code == 401
    assert events(mgw, "2fa.failure")[-1]["c"] == "reset_bad_code"
    r = set_password(mgw, s, r, code=totp(secret))
    assert r.status_code == 200, r.text
    assert events(mgw, "password.reset")[-1]["c"] == "totp"

    # again, with a recovery code this time
    ask_reset(mgw, "tom@example.com")
    mgw.worker()
    msgs = [m for m in wait_for_mail(mgw.smtp, "tom@example.com", 3)
            if "Reset" in m["Subject"]]
    s, page = open_link(mgw, link_in(msgs[-1], "reset/confirm"))
    r = set_password(mgw, s, page, password="third password here",
                     code=codes[0])
    assert r.status_code == 200, r.text
    assert events(mgw, "password.reset")[-1]["c"] == "recovery"
    assert post_login(mgw, "tom@example.com",
                      "third password here")[1].status_code == 303


def test_expired_and_unknown_links_are_gone(mgw):
    mgw.add_user("exp@example.com", PW)
    ask_reset(mgw, "exp@example.com")
    mgw.worker()
    link = link_in(wait_for_mail(mgw.smtp, "exp@example.com")[0],
                   "reset/confirm")
    r = mgw.redis.client()
    for k in r.keys(PREFIX + "reset:*"):
        r.delete(k)
    assert requests.get(link, allow_redirects=False,
                        timeout=5).status_code == 410
    bogus = mgw.url + "/guichet/reset/confirm?token=" + "A" * 43
    assert requests.get(bogus, allow_redirects=False,
                        timeout=5).status_code == 410


def test_reset_requests_are_throttled(mgw):
    for i in range(3):
        _, r = ask_reset(mgw, "target@example.com")
        assert r.status_code == 200
    statuses = [ask_reset(mgw, "target@example.com")[1] for _ in range(3)]
    assert any(x.status_code == 429 for x in statuses)
    throttled = [x for x in statuses if x.status_code == 429][0]
    assert int(throttled.headers["Retry-After"]) >= 1


def test_header_injection_in_address_refused(mgw):
    _, r = ask_reset(mgw, "a@example.com\r\nBcc: evil@example.com")
    assert r.status_code == 400
    mgw.worker()
    assert mgw.smtp.messages() == []
    assert mgw.redis.client().xlen(PREFIX + "mail") == 0


def test_token_not_in_access_log(tmp_path, redis_server, smtp):
    """The link's token is in the access log of the one request that
    opens it, and is dead from then on."""
    g = MailGateway(str(tmp_path), redis_server, smtp)
    conf = os.path.join(g.tmp, "nginx.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("access_log off;", "access_log %s;"
                             % os.path.join(g.tmp, "access.log")))
    g.start()
    try:
        g.add_user("log@example.com", PW)
        ask_reset(g, "log@example.com")
        g.worker()
        link = link_in(wait_for_mail(smtp, "log@example.com")[0],
                       "reset/confirm")
        s, page = open_link(g, link)
        assert set_password(g, s, page).status_code == 200
        with open(os.path.join(g.tmp, "access.log")) as f:
            log = f.read()
        for line in log.splitlines():
            if "token=" in line:
                t = line.split("token=")[1].split()[0]
                assert requests.get(g.url + "/guichet/reset/confirm?token="
                                    + t, allow_redirects=False,
                                    timeout=5).status_code == 410
    finally:
        stop_gateway(g)


def test_reset_of_a_passkey_account_needs_the_passkey(mgw):
    """An account whose second factor is a passkey: a reset link alone
    (someone who reads the mailbox) sets no password; the page asks for
    the passkey, and a forged passkey answer counts as a wrong factor."""
    port = mgw.url.rsplit(":", 1)[1]
    with open(mgw.conf, "a") as f:
        f.write("webauthn_rp_id = localhost\n"
                "webauthn_origins = http://localhost:%s\n" % port)
    mgw.stop()
    mgw.start()
    aid = mgw.add_user("pia@example.com", PW)
    rd = mgw.redis.client()
    rd.hset(PREFIX + "acct:" + aid, "pk", 1)
    pw = rd.hget(PREFIX + "acct:" + aid, "pw")

    ask_reset(mgw, "pia@example.com")
    mgw.worker()
    link = link_in(wait_for_mail(mgw.smtp, "pia@example.com")[0],
                   "reset/confirm")
    s, page = open_link(mgw, link)
    assert 'data-options="/guichet/reset/confirm/options"' in page.text
    assert 'name="code"' not in page.text

    r = set_password(mgw, s, page)
    assert r.status_code == 401, r.text
    assert "passkey" in r.text
    assert rd.hget(PREFIX + "acct:" + aid, "pw") == pw

    # the options: a challenge for this link's browser, JSON
    o = s.post(mgw.url + "/guichet/reset/confirm/options",
               data={"csrf": hidden(r.text, "csrf")}, timeout=5)
    assert o.status_code in (200, 404), o.text
    assert o.headers["Content-Type"].startswith("application/json")

    import base64
    import json as _json

    def b64url(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    cdj = _json.dumps({"type": "webauthn.get",
                       "challenge": b64url(os.urandom(32)),
                       "origin": "http://localhost:" + port}).encode()
    r = s.post(mgw.url + "/guichet/reset/confirm",
               data={"csrf": hidden(r.text, "csrf"), "password": NEW,
                     "credential": b64url(os.urandom(16)),
                     "auth_data": b64url(os.urandom(37)),
                     "client_data": b64url(cdj),
                     "signature": b64url(os.urandom(70)),
                     "user_handle": ""},
               allow_redirects=False, timeout=30)
    assert r.status_code == 401, r.text
    assert rd.hget(PREFIX + "acct:" + aid, "pw") == pw
    assert events(mgw, "passkey.failure")
    assert not events(mgw, "password.reset")
    # counted on the account's second-factor counter, as a code would be
    assert rd.keys(PREFIX + "thr:2f:*")
