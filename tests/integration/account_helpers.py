"""Helpers of the account self-service tests: logged-in sessions, the
forms of the account page, re-authentication, and a scan of everything
Redis holds."""

import base64
import re

import requests

from conftest import session_get, session_names, session_set
from login_helpers import PREFIX, hidden, post_code, post_login, totp

PASSWORD = "correct horse battery"
EMAIL = "alice@example.com"


def login(gw, email=EMAIL, password=PASSWORD, secret=None, ua=None):
    """A requests.Session logged in (with a TOTP code when secret)."""
    s = requests.Session()
    if ua:
        s.headers["User-Agent"] = ua
    s, r = post_login(gw, email, password, session=s)
    assert r.status_code == 303, r.text
    if secret is not None:
        r = post_code(gw, s, totp(secret))
        assert r.status_code == 303, r.text
    return s


def stale_proof(gw, s):
    """Forgets the session's proof of identity, as if the sign-in was
    longer ago than reauth_window."""
    session_set(gw.redis.client(), PREFIX + "sess:"
                + gw.digest(cookie_of(s)), f="")
    return s


def cookie_of(s):
    return s.cookies.get("guichet")


def page(gw, s, route="account", **kw):
    return s.get(gw.url + "/guichet/" + route, allow_redirects=False,
                 timeout=10, **kw)


def form(html, action):
    """The fields of the form posting to "action" (hidden ones)."""
    for m in re.finditer(r'<form method="post" action="([^"]*)">(.*?)</form>',
                         html, re.S):
        if m.group(1).endswith("/" + action):
            return dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"',
                                   m.group(2)))
    return None


def csrf(gw, s, action="account/delete"):
    r = page(gw, s)
    assert r.status_code == 200, r.status_code
    f = form(r.text, action)
    assert f and f.get("csrf"), action
    return f["csrf"]


def post(gw, s, route, data):
    return s.post(gw.url + "/guichet/" + route, data=data,
                  allow_redirects=False, timeout=30)


def reauth(gw, s, password=PASSWORD, secret=None, return_to=None):
    r = page(gw, s, "account/reauth",
             params={"return_to": return_to} if return_to else None)
    assert r.status_code == 200, r.status_code
    data = {"csrf": hidden(r.text, "csrf"), "password": password,
            "return_to": hidden(r.text, "return_to")}
    if secret is not None:
        data["code"] = totp(secret)
    return post(gw, s, "account/reauth", data)


def enrol_start(gw, s):
    """Starts a TOTP enrolment: (secret, csrf token of the form)."""
    r = page(gw, s, "account/totp")
    assert r.status_code == 200, r.status_code
    m = re.search(r'id="totp-secret">([A-Z2-7 =]+)<', r.text)
    assert m, r.text
    secret = base64.b32decode(m.group(1).replace(" ", ""))
    return secret, hidden(r.text, "csrf")


def session_keys(gw):
    return session_names(gw.redis.client())


def session_of(gw, s):
    return session_get(gw.redis.client(), PREFIX + "sess:"
                       + gw.digest(cookie_of(s)))


def everything(gw):
    """Every key name, field, member, value and stream entry (every
    field), as text."""
    out = []
    r = gw.redis.client()
    for k in r.keys("*"):
        out.append(k)
        t = r.type(k)
        if t == "hash":
            for f, v in r.hgetall(k).items():
                out += [f, v]
        elif t == "set":
            out += list(r.smembers(k))
        elif t == "zset":
            out += r.zrange(k, 0, -1)
        elif t == "string":
            out.append(r.get(k))
        elif t == "stream":
            for _, fields in r.xrange(k):
                for f, v in fields.items():
                    out += [f, v]
    return "\n".join(out)


def events(gw):
    return [(e.get("v"), e.get("r"), gw.account_of(e))
            for e in gw.log_entries()]
