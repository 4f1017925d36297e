"""Helpers of the login and 2FA tests: a gateway whose guichet.conf takes
extra settings (tiny throttling, argon2 cost), accounts made with
guichetctl, TOTP codes computed here (RFC 6238), and form parsing."""

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import subprocess
import time

import pytest
import requests

from conftest import BUILD, PREFIX, Gateway

GUICHETCTL = os.path.join(BUILD, "guichetctl")

# light hashing keeps the suite fast; throttling tiny so that it can be seen
DEFAULT_EXTRA = """
argon2_t = 1
argon2_m = 8m
argon2_p = 1
throttle_free = 3
throttle_window = 1m
throttle_max_delay = 2s
pending_ttl = 5m
"""


class LoginGateway(Gateway):
    def __init__(self, tmp, redis, extra=DEFAULT_EXTRA):
        super().__init__(tmp, redis)
        with open(os.path.join(tmp, "guichet.conf"), "a") as f:
            f.write(extra)
        self.conf = os.path.join(tmp, "guichet.conf")

    def ctl(self, *args, stdin=None):
        env = dict(os.environ, GUICHET_CONFIG=self.conf)
        return subprocess.run([GUICHETCTL] + list(args), input=stdin,
                              capture_output=True, text=True, env=env,
                              timeout=60)

    def add_user(self, email, password, role=None):
        args = ["user", "add", email, "--password-stdin"]
        if role:
            args += ["--role", role]
        p = self.ctl(*args, stdin=password + "\n")
        assert p.returncode == 0, p.stderr
        m = re.search(r"created account ([a-z2-7]{16})", p.stdout)
        assert m, p.stdout
        return m.group(1)

    def enroll_totp(self, email):
        p = self.ctl("totp", "enroll", email, "--json")
        assert p.returncode == 0, p.stderr
        return base64.b32decode(json.loads(p.stdout)["secret"])

    def recovery_codes(self, email):
        p = self.ctl("recovery-codes", email, "--json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["codes"]

    def log_entries(self):
        r = self.redis.client()
        return [fields for _, fields in r.xrange(PREFIX + "log")]

    def account_of(self, entry):
        """The account id an entry names: its pseudonym ("a") resolved
        through the index of living accounts; None without one."""
        a = entry.get("a")
        if not a:
            return None
        return self.redis.client().hget(PREFIX + "log:pseudo", a) or a


def make_gateway(tmp_path, redis_server, extra=DEFAULT_EXTRA):
    g = LoginGateway(str(tmp_path), redis_server, extra)
    g.start()
    return g


def stop_gateway(g):
    g.stop()
    log = g.error_log()
    bad = [line for line in log.splitlines()
           if re.search(r"\[(alert|crit|emerg)\]", line)
           and not any(e in line for e in g.expect_in_log)]
    assert not bad, "unexpected lines in nginx's error log:\n" + "\n".join(bad)
    assert "exited on signal" not in log, log


@pytest.fixture
def gw(tmp_path, redis_server):
    g = make_gateway(tmp_path, redis_server)
    yield g
    stop_gateway(g)


def totp(secret, t=None, step=30, digits=6):
    counter = int((time.time() if t is None else t) // step)
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF)
    return str(code % 10 ** digits).zfill(digits)


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    return m.group(1) if m else None


def login_form(gw, session=None, return_to=None):
    """GET the login page; returns (session, csrf token)."""
    s = session or requests.Session()
    params = {"return_to": return_to} if return_to is not None else None
    r = s.get(gw.url + "/guichet/login", params=params, timeout=5)
    assert r.status_code == 200, r.text
    token = hidden(r.text, "csrf")
    assert token
    return s, token, r


def post_login(gw, email, password, session=None, return_to="/app/",
               csrf=None):
    s, token, _ = login_form(gw, session)
    data = {"email": email, "password": password,
            "csrf": token if csrf is None else csrf}
    if return_to is not None:
        data["return_to"] = return_to
    r = s.post(gw.url + "/guichet/login", data=data, allow_redirects=False,
               timeout=30)
    return s, r


def two_fa_form(gw, s):
    r = s.get(gw.url + "/guichet/2fa", allow_redirects=False, timeout=5)
    assert r.status_code == 200, r.status_code
    return hidden(r.text, "csrf")


def post_code(gw, s, code):
    token = two_fa_form(gw, s)
    return s.post(gw.url + "/guichet/2fa", data={"code": code, "csrf": token},
                  allow_redirects=False, timeout=10)


def set_cookies(r):
    """Every Set-Cookie header of a response, raw."""
    return r.raw.headers.getlist("Set-Cookie")


def wait_words(seconds):
    """Retry-After in the words a throttled page uses ("2 seconds",
    "3 minutes"), rounded up as the module does."""
    s = max(seconds, 1)
    if s < 60:
        n, unit = s, "second"
    elif s < 3600:
        n, unit = -(-s // 60), "minute"
    elif s < 86400:
        n, unit = -(-s // 3600), "hour"
    else:
        n, unit = -(-s // 86400), "day"
    if (n, unit) == (60, "minute"):
        n, unit = 1, "hour"
    elif (n, unit) == (24, "hour"):
        n, unit = 1, "day"
    return "%d %s%s" % (n, unit, "" if n == 1 else "s")
