"""Changing the address of an account from the account page (SPEC 10):
the identity check first, a confirmation link to the new address and a
notice to the old one, the change only once the link is opened (its
token traded for a cookie at once, single use), the same answer when
the new address is another account's."""

import os

import requests

from account_helpers import (EMAIL, PASSWORD, form, login, page, post,
                             reauth, stale_proof)
from login_helpers import PREFIX, post_login, stop_gateway
from mail_helpers import (MailGateway, link_in, smtp,  # noqa: F401
                          text_of, wait_for_mail)

NEW = "alice.new@example.com"
BOB = "bob@example.com"
FIREFOX = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
           "Firefox/128.0")


def gateway(tmp_path, redis_server, smtp):
    g = MailGateway(str(tmp_path), redis_server, smtp)
    conf = os.path.join(g.tmp, "nginx.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("access_log off;", "access_log %s;"
                             % os.path.join(g.tmp, "access.log")))
    g.start()
    g.uid = g.add_user(EMAIL, PASSWORD)
    g.add_user(BOB, PASSWORD)
    return g


def ask(g, s, address):
    f = form(page(g, s).text, "account/email")
    assert f and f.get("csrf")
    return post(g, s, "account/email", {"csrf": f["csrf"], "email": address})


def whoami(g, s):
    r = s.get(g.url + "/guichet/session", timeout=5)
    assert r.status_code == 200, r.text
    return r.json()["email"]


def events(g, name):
    return [e for e in g.log_entries() if e.get("v") == name]


def confirm_page(g, b):
    return b.get(g.url + "/guichet/account/email/confirm",
                 allow_redirects=False, timeout=5)


def confirm_post(g, b, html, **extra):
    f = form(html, "account/email/confirm")
    assert f and f.get("csrf"), html
    f.update(extra)
    return b.post(g.url + "/guichet/account/email/confirm", data=f,
                  allow_redirects=False, timeout=5)


def opened(g, smtp):
    """A browser that opened the confirmation link mailed to NEW."""
    [confirm] = wait_for_mail(smtp, NEW)
    b = requests.Session()
    r = b.get(link_in(confirm, "account/email/confirm"),
              allow_redirects=False, timeout=5)
    assert r.status_code == 303, r.text
    return b


def test_opening_the_link_asks_before_changing(tmp_path, redis_server,
                                               smtp):
    """A link opened by a mail scanner, or by a stranger whose address was
    mistyped, changes nothing: the page asks, a form with its token
    confirms, and it shows the new address only."""
    g = gateway(tmp_path, redis_server, smtp)
    try:
        r0 = g.redis.client()
        s = login(g)
        assert reauth(g, s).status_code == 303
        assert ask(g, s, NEW).status_code == 200
        g.worker()
        b = opened(g, smtp)

        for _ in range(2):
            r = confirm_page(g, b)
            assert r.status_code == 200, r.text
            assert NEW in r.text and EMAIL not in r.text
            assert r0.hget(PREFIX + "acct:" + g.uid, "email") == EMAIL
        assert not events(g, "email.changed")

        # a form without its token, or from another browser: nothing
        r = b.post(g.url + "/guichet/account/email/confirm",
                   data={"csrf": "x" * 43}, allow_redirects=False,
                   timeout=5)
        assert r.status_code == 403
        html = confirm_page(g, b).text
        other = requests.Session()
        other.cookies.set("guichet_email", b.cookies.get("guichet_email"))
        assert confirm_post(g, other, html).status_code == 403
        assert r0.hget(PREFIX + "acct:" + g.uid, "email") == EMAIL

        r = confirm_post(g, b, html)
        assert r.status_code == 200 and "Address changed" in r.text
        assert r0.hget(PREFIX + "acct:" + g.uid, "email") == NEW
        assert len(events(g, "email.changed")) == 1
        # the same form again: used up
        assert confirm_post(g, b, html).status_code == 410
    finally:
        stop_gateway(g)


def test_address_change_end_to_end(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        r0 = g.redis.client()
        uid = g.uid
        s = login(g, ua=FIREFOX)
        other = login(g)
        # the identity check first
        stale_proof(g, s)
        queued = r0.xlen(PREFIX + "mail")
        r = ask(g, s, NEW)
        assert r.status_code == 303 and "reauth" in r.headers["Location"]
        assert r0.xlen(PREFIX + "mail") == queued
        assert reauth(g, s).status_code == 303

        r = ask(g, s, NEW)
        assert r.status_code == 200, r.text
        assert NEW not in r.text
        g.worker()
        [confirm] = wait_for_mail(smtp, NEW)
        [notice] = [m for m in wait_for_mail(smtp, EMAIL)
                    if "address" in m["Subject"]]
        body = text_of(notice)
        assert "change its" in body and NEW not in body
        assert "127.0.0.1" in body and "Firefox on Linux" in body
        assert g.url + "/guichet/reset" in body
        link = link_in(confirm, "account/email/confirm")

        # nothing changes before the link is opened
        assert post_login(g, EMAIL, PASSWORD)[1].status_code == 303
        assert post_login(g, NEW, PASSWORD)[1].status_code == 401
        assert whoami(g, s) == EMAIL
        assert len(events(g, "email.change.requested")) == 1
        assert not events(g, "email.changed")

        # the link: its token leaves the URL at once for a cookie
        b = requests.Session()
        r = b.get(link, allow_redirects=False, timeout=5)
        assert r.status_code == 303, r.text
        assert r.headers["Location"] == "/guichet/account/email/confirm"
        assert b.cookies.get("guichet_email")
        assert link.split("token=")[1] not in b.cookies.get("guichet_email")
        r = confirm_page(g, b)
        assert r.status_code == 200, r.text
        r = confirm_post(g, b, r.text)
        assert r.status_code == 200, r.text
        assert "Address changed" in r.text
        assert not b.cookies.get("guichet_email")

        # single use, in the link and in the cookie
        assert requests.get(link, allow_redirects=False,
                            timeout=5).status_code == 410
        assert b.get(g.url + "/guichet/account/email/confirm",
                     allow_redirects=False, timeout=5).status_code == 410

        # effective: the index, the account, the sessions
        assert r0.hget(PREFIX + "acct:" + uid, "email") == NEW
        assert post_login(g, EMAIL, PASSWORD)[1].status_code == 401
        assert post_login(g, NEW, PASSWORD)[1].status_code == 303
        assert whoami(g, s) == NEW
        assert whoami(g, other) == NEW
        assert page(g, s).status_code == 200
        assert events(g, "email.changed")
        assert g.ctl("user", "show", NEW).returncode == 0
        assert g.ctl("user", "show", EMAIL).returncode != 0

        # the access log holds no live token
        with open(os.path.join(g.tmp, "access.log")) as f:
            log = f.read()
        assert b.cookies.get("guichet_email") is None
        for line in log.splitlines():
            if "token=" in line:
                t = line.split("token=")[1].split()[0]
                assert requests.get(
                    g.url + "/guichet/account/email/confirm?token=" + t,
                    allow_redirects=False, timeout=5).status_code == 410
        # no token kept in the clear in Redis
        assert not r0.keys(PREFIX + "emailchg:*")
    finally:
        stop_gateway(g)


def test_address_of_another_account_same_answer(tmp_path, redis_server,
                                                smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        r0 = g.redis.client()
        s = login(g)
        assert reauth(g, s).status_code == 303
        taken = ask(g, s, BOB)
        free = ask(g, s, NEW)
        assert taken.status_code == free.status_code == 200
        assert taken.text == free.text
        g.worker()
        wait_for_mail(smtp, NEW)
        assert smtp.to(BOB) == []
        assert len(smtp.to(EMAIL)) == 1
        assert post_login(g, BOB, PASSWORD)[1].status_code == 303
        assert post_login(g, EMAIL, PASSWORD)[1].status_code == 303
        reasons = [e.get("c") for e in events(g, "email.change.requested")]
        assert reasons == ["taken", "mail"]
    finally:
        stop_gateway(g)


def test_bad_addresses_and_unknown_links(tmp_path, redis_server, smtp):
    g = gateway(tmp_path, redis_server, smtp)
    try:
        s = login(g)
        assert reauth(g, s).status_code == 303
        assert ask(g, s, "not an address").status_code == 400
        assert ask(g, s, "x@example.com\r\nBcc: y@example.com") \
            .status_code == 400
        assert ask(g, s, EMAIL).status_code == 400
        assert g.redis.client().xlen(PREFIX + "mail") == 0
        for q in ("?token=" + "A" * 43, "?token=short", ""):
            assert requests.get(g.url + "/guichet/account/email/confirm" + q,
                                allow_redirects=False,
                                timeout=5).status_code == 410
    finally:
        stop_gateway(g)
