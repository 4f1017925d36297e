"""Invitations mailed with their registration link, and the notice of a
sign-in from a device not seen for the account."""

import requests

from conftest import PREFIX
from login_helpers import hidden, post_login, stop_gateway
from mail_helpers import (MailGateway, link_in, smtp,  # noqa: F401
                          text_of, wait_for_mail)
from sso_helpers import Partner, SsoGateway

PW = "correct horse battery"


class MailSsoGateway(MailGateway, SsoGateway):
    pass


def test_invitation_mail_to_registration(tmp_path, redis_server, smtp):
    g = MailSsoGateway(str(tmp_path), redis_server, smtp)
    g.start()
    try:
        p = g.add_partner(Partner("part-a", "ES256"))
        r = g.api("POST", "invitations", p.token(api=True),
                  {"emails": ["new@example.com"]})
        assert r.status_code == 202, r.text
        g.worker()
        [msg] = wait_for_mail(smtp, "new@example.com")
        assert "part-a" in text_of(msg)
        link = link_in(msg, "register")
        s = requests.Session()
        page = s.get(link, timeout=5)
        assert page.status_code == 200, page.text
        assert "new@example.com" in page.text
        r = s.post(g.url + "/guichet/register",
                   data={"password": PW, "csrf": hidden(page.text, "csrf")},
                   allow_redirects=False, timeout=30)
        assert r.status_code == 303, r.text
        assert post_login(g, "new@example.com", PW)[1].status_code == 303
        # invited again: nothing new, no second mail
        g.api("POST", "invitations", p.token(api=True),
              {"emails": ["new@example.com"]})
        g.worker()
        assert len(smtp.to("new@example.com")) == 1
    finally:
        stop_gateway(g)


def test_invitation_mail_off(tmp_path, redis_server, smtp):
    g = MailSsoGateway(str(tmp_path), redis_server, smtp,
                       extra="invitation_mail = off\n")
    g.start()
    try:
        p = g.add_partner(Partner("part-a", "ES256"))
        r = g.api("POST", "invitations", p.token(api=True),
                  {"emails": ["quiet@example.com"]})
        assert r.status_code == 202
        assert g.redis.client().xlen(PREFIX + "mail") == 0
    finally:
        stop_gateway(g)


def login_as(g, ua):
    s = requests.Session()
    s.headers["User-Agent"] = ua
    return post_login(g, "dee@example.com", PW, session=s)[1]


FIREFOX = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
           "Firefox/128.0")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/126.0 Safari/537.36")


def test_new_device_notice(tmp_path, redis_server, smtp):
    g = MailGateway(str(tmp_path), redis_server, smtp)
    g.start()
    try:
        g.add_user("dee@example.com", PW)
        assert login_as(g, FIREFOX).status_code == 303   # the first
        assert login_as(g, FIREFOX).status_code == 303   # known
        g.worker()
        assert smtp.to("dee@example.com") == []
        assert login_as(g, CHROME).status_code == 303    # new
        g.worker()
        [msg] = wait_for_mail(smtp, "dee@example.com")
        body = text_of(msg)
        assert "Chrome on Windows" in body
        assert "127.0.0.1" in body
        assert "/guichet/reset" in body and "/guichet/account" in body
        # the devices are fields of the account: erasure takes them
        aid = g.redis.client().get(
            [k for k in g.redis.client().keys(PREFIX + "email:*")][0])
        fields = g.redis.client().hkeys(PREFIX + "acct:" + aid)
        assert len([f for f in fields if f.startswith("n:")]) == 2
    finally:
        stop_gateway(g)
