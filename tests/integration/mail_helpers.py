"""Helpers of the mail tests: a real SMTP server on loopback (Debian's
python3-aiosmtpd, through config/demo/smtp_catcher.py) started and
stopped by pid, a gateway whose guichet.conf points at it, and the mail
worker run once."""

import email
import email.policy
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import free_port, wait_until
from login_helpers import DEFAULT_EXTRA, LoginGateway, stop_gateway

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CATCHER = os.path.join(ROOT, "config", "demo", "smtp_catcher.py")
TEMPLATES = os.path.join(ROOT, "config", "templates", "mail")


class Smtp:
    def __init__(self, tmp, tls=False, auth=None, slow=(), reject=()):
        self.dir = os.path.join(tmp, "mail-%d" % free_port())
        self.port = free_port()
        self.tls = tls
        self.auth = auth
        self.slow = slow
        self.reject = reject
        self.tmp = tmp
        self.proc = None

    def start(self):
        args = ["/usr/bin/python3", CATCHER,
                "--listen", "127.0.0.1:%d" % self.port, "--dir", self.dir]
        if self.tls:
            args += ["--tls-cert", os.path.join(self.tmp, "tls.crt"),
                     "--tls-key", os.path.join(self.tmp, "tls.key")]
        if self.auth:
            args += ["--auth", self.auth]
        for s in self.slow:
            args += ["--slow", s]
        for r in self.reject:
            args += ["--reject", r]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        import socket

        def up():
            with socket.create_connection(("127.0.0.1", self.port), 1):
                return True
        assert wait_until(up), "the SMTP server did not start"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def messages(self):
        if not os.path.isdir(self.dir):
            return []
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".eml"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    out.append(email.message_from_binary_file(
                        f, policy=email.policy.default))
        return out

    def to(self, address):
        return [m for m in self.messages()
                if m["To"].addresses[0].addr_spec == address]


def text_of(msg):
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content()


def link_in(msg, route):
    m = re.search(r"(http://\S+/guichet/%s\?token=[A-Za-z0-9_-]+)"
                  % re.escape(route), text_of(msg))
    assert m, text_of(msg)
    return m.group(1)


def mail_conf(smtp, tls="off", user=None, extra=""):
    conf = DEFAULT_EXTRA + """
public_url = {url}
smtp = 127.0.0.1:{port}
smtp_tls = {tls}
mail_from = guichet@example.com
mail_templates = {templates}
reset_token_ttl = 10m
""".format(url="PUBLIC_URL", port=smtp.port, tls=tls, templates=TEMPLATES)
    if user:
        conf += "smtp_user = %s\nsmtp_password_file = smtp.password\n" % user
    return conf + extra


class MailGateway(LoginGateway):
    def __init__(self, tmp, redis, smtp, tls="off", user=None, extra=""):
        super().__init__(tmp, redis, mail_conf(smtp, tls, user, extra))
        with open(self.conf) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(text.replace("PUBLIC_URL", self.url))
        self.smtp = smtp

    def worker(self, *extra, timeout=60):
        p = self.ctl("mail", "run", "--once", "--ca-file",
                     os.path.join(self.tmp, "tls.crt"), *extra)
        assert p.returncode == 0, p.stderr
        return p

    def worker_bg(self, *extra):
        env = dict(os.environ, GUICHET_CONFIG=self.conf)
        from login_helpers import GUICHETCTL
        return subprocess.Popen([GUICHETCTL, "mail", "run", "--ca-file",
                                 os.path.join(self.tmp, "tls.crt")]
                                + list(extra), env=env,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


@pytest.fixture
def smtp(tmp_path):
    s = Smtp(str(tmp_path))
    s.start()
    yield s
    s.stop()


@pytest.fixture
def mgw(tmp_path, redis_server, smtp):
    g = MailGateway(str(tmp_path), redis_server, smtp)
    g.start()
    yield g
    stop_gateway(g)


def wait_for_mail(smtp, address, n=1, timeout=15):
    assert wait_until(lambda: len(smtp.to(address)) >= n, timeout=timeout), \
        [m["To"] for m in smtp.messages()]
    return smtp.to(address)
