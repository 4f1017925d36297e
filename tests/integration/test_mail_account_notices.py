"""Security notices of the account pages and of guichetctl: a password
change, a second-factor change (on, off, new recovery codes), erasure
(the last mail to an address that is then nowhere in Redis)."""

import re
import time

from account_helpers import (EMAIL, PASSWORD, csrf, enrol_start,
                             everything, login, page, post, reauth)
from login_helpers import PREFIX, stop_gateway, totp
from mail_helpers import MailGateway, smtp, text_of  # noqa: F401
from mail_helpers import wait_for_mail

FIREFOX = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
           "Firefox/128.0")
ALL = "notify = new_device,password,second_factor,email,erasure\n"


def gateway(tmp_path, redis_server, smtp, extra=ALL):
    g = MailGateway(str(tmp_path), redis_server, smtp, extra=extra)
    g.start()
    g.add_user(EMAIL, PASSWORD)
    return g


def notices(g, smtp, n):
    g.worker()
    return [text_of(m) for m in wait_for_mail(smtp, EMAIL, n)]


def said_where(g, body):
    """What every notice says: when, from where, what to do."""
    assert "127.0.0.1" in body
    assert "Firefox on Linux" in body
    assert time.strftime("%Y-%m-%d", time.gmtime()) in body
    assert g.url + "/guichet/reset" in body


def test_password_change_notice(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        s = login(g, ua=FIREFOX)
        assert reauth(g, s).status_code == 303
        new = "a brand new passphrase"
        r = post(g, s, "account/password",
                 {"csrf": csrf(g, s, "account/password"),
                  "current_password": PASSWORD, "new_password": new,
                  "confirm_password": new})
        assert r.status_code == 303
        [body] = notices(g, smtp, 1)
        assert "password" in body.lower()
        assert "changed from the account page" in body
        said_where(g, body)
        # a failed change mails nothing
        s2 = login(g, password=new, ua=FIREFOX)
        assert reauth(g, s2, password=new).status_code == 303
        r = post(g, s2, "account/password",
                 {"csrf": csrf(g, s2, "account/password"),
                  "current_password": "wrong one", "new_password": new,
                  "confirm_password": new})
        assert r.status_code == 401
        g.worker()
        assert len(smtp.to(EMAIL)) == 1
    finally:
        stop_gateway(g)


def test_second_factor_notices(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        s = login(g, ua=FIREFOX)
        assert reauth(g, s).status_code == 303
        secret, token = enrol_start(g, s)
        r = post(g, s, "account/totp", {"csrf": token, "action": "enable",
                                        "code": totp(secret)})
        assert r.status_code == 200
        [on] = notices(g, smtp, 1)
        assert "second factor" in on
        assert "two-step verification turned on" in on
        said_where(g, on)

        r = post(g, s, "account/recovery-codes",
                 {"csrf": csrf(g, s, "account/recovery-codes")})
        assert r.status_code == 200
        codes = notices(g, smtp, 2)
        assert "new recovery codes made" in codes[1]
        said_where(g, codes[1])
        # no code is ever in a mail
        new = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", r.text)
        assert new and not [c for c in new if c in codes[1]]

        r = post(g, s, "account/totp", {"csrf": csrf(g, s, "account/totp"),
                                        "action": "disable"})
        assert r.status_code == 303
        off = notices(g, smtp, 3)[2]
        assert "two-step verification turned off" in off
        said_where(g, off)
    finally:
        stop_gateway(g)


def test_notify_leaves_kinds_out(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp, extra="notify = new_device\n")
    try:
        s = login(g, ua=FIREFOX)
        assert reauth(g, s).status_code == 303
        secret, token = enrol_start(g, s)
        assert post(g, s, "account/totp",
                    {"csrf": token, "action": "enable",
                     "code": totp(secret)}).status_code == 200
        assert g.redis.client().xlen(PREFIX + "mail") == 0
    finally:
        stop_gateway(g)


def nothing_of(g, address, uid):
    text = everything(g)
    assert address not in text
    assert uid not in text
    assert g.redis.client().xlen(PREFIX + "mail") == 0
    assert g.redis.client().xlen(PREFIX + "mail:dead") == 0
    assert not g.redis.client().zcard(PREFIX + "mail:retry")
    assert not g.redis.client().hlen(PREFIX + "mail:held")


def test_erasure_notice_then_nothing_left(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        uid = g.redis.client().get(
            g.redis.client().keys(PREFIX + "email:*")[0])
        s = login(g, ua=FIREFOX)
        assert reauth(g, s).status_code == 303
        r = post(g, s, "account/delete",
                 {"csrf": csrf(g, s), "confirm": "1"})
        assert r.status_code == 200
        # queued for the address the account had
        assert g.redis.client().xlen(PREFIX + "mail") == 1
        [body] = notices(g, smtp, 1)
        assert "was deleted" in body and EMAIL in body
        said_where_erased = ("127.0.0.1" in body
                             and "Firefox on Linux" in body)
        assert said_where_erased, body
        nothing_of(g, EMAIL, uid)
        sent = [e for e in g.log_entries() if e.get("v") == "mail.sent"]
        assert sent and sent[-1].get("c") == "erased"
        assert not set(sent[-1]) & {"e", "a", "x"}
        assert page(g, s).status_code in (302, 303)
        p = g.ctl("logs", "verify")
        assert p.returncode == 0, p.stdout + p.stderr
    finally:
        stop_gateway(g)


def test_erasure_notice_from_guichetctl(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        uid = g.redis.client().get(
            g.redis.client().keys(PREFIX + "email:*")[0])
        p = g.ctl("user", "erase", EMAIL, "--yes")
        assert p.returncode == 0, p.stderr
        [body] = notices(g, smtp, 1)
        assert "was deleted" in body and EMAIL in body
        nothing_of(g, EMAIL, uid)
    finally:
        stop_gateway(g)


def test_erasure_notice_off_by_default(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp, extra="")
    try:
        assert g.ctl("user", "erase", EMAIL, "--yes").returncode == 0
        assert g.redis.client().xlen(PREFIX + "mail") == 0
    finally:
        stop_gateway(g)
