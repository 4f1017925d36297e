"""The mail worker against a real SMTP server on loopback: STARTTLS and
AUTH, the server down then back (nothing lost, nothing twice), a worker
killed mid-delivery, refusals to the dead letters and back."""

import json
import os
import time

from conftest import PREFIX, wait_until
from login_helpers import stop_gateway
from mail_helpers import MailGateway, Smtp, mgw, smtp  # noqa: F401
from test_mail_reset import PW, ask_reset


def queue(g, n, prefix="q"):
    for i in range(n):
        g.add_user("%s%d@example.com" % (prefix, i), PW)
        ask_reset(g, "%s%d@example.com" % (prefix, i))


def test_starttls_and_auth(tmp_path, redis_server):
    smtp = Smtp(str(tmp_path), tls=True, auth="mailer:s3cret")
    g = MailGateway(str(tmp_path), redis_server, smtp, tls="starttls",
                    user="mailer")
    with open(os.path.join(g.tmp, "smtp.password"), "w") as f:
        f.write("s3cret\n")
    smtp.start()
    g.start()
    try:
        queue(g, 1)
        p = g.worker()
        assert "1 sent" in p.stdout, p.stderr
        assert len(smtp.to("q0@example.com")) == 1
        # a certificate this worker does not trust: nothing sent, kept
        queue(g, 1, "u")
        p = g.ctl("mail", "run", "--once")
        assert "0 sent" in p.stdout
        assert smtp.to("u0@example.com") == []
        r = g.redis.client()
        assert r.zcard(PREFIX + "mail:retry") == 1
    finally:
        stop_gateway(g)
        smtp.stop()


def test_plain_server_refused_when_starttls_required(tmp_path,
                                                     redis_server, smtp):
    g = MailGateway(str(tmp_path), redis_server, smtp, tls="starttls")
    g.start()
    try:
        queue(g, 1)
        g.worker()
        assert smtp.messages() == []
    finally:
        stop_gateway(g)


def make_due(g):
    r = g.redis.client()
    for m in r.zrange(PREFIX + "mail:retry", 0, -1):
        r.zadd(PREFIX + "mail:retry", {m: 0})


def test_smtp_down_then_back_loses_nothing(mgw):
    mgw.smtp.stop()
    queue(mgw, 3)
    mgw.worker()
    r = mgw.redis.client()
    assert r.zcard(PREFIX + "mail:retry") == 3
    assert [e["c"] for e in mgw.log_entries()
            if e["v"] == "mail.failed"] == ["smtp_error"] * 3
    mgw.smtp.start()
    make_due(mgw)
    mgw.worker()
    for i in range(3):
        assert len(mgw.smtp.to("q%d@example.com" % i)) == 1
    assert r.zcard(PREFIX + "mail:retry") == 0
    assert r.xlen(PREFIX + "mail") == 0
    mgw.worker()
    assert len(mgw.smtp.messages()) == 3


def test_worker_killed_mid_delivery(tmp_path, redis_server):
    smtp = Smtp(str(tmp_path), slow=["q0@example.com:4"])
    g = MailGateway(str(tmp_path), redis_server, smtp)
    smtp.start()
    g.start()
    try:
        queue(g, 1)
        first = g.worker_bg("--consumer", "first")
        r = g.redis.client()
        assert wait_until(lambda: r.xpending(PREFIX + "mail", "workers")
                          ["pending"] == 1)
        time.sleep(0.5)
        first.kill()
        first.wait(5)
        assert smtp.messages() == []
        time.sleep(1.2)
        g.worker("--consumer", "second", "--claim-idle", "1")
        assert wait_until(lambda: len(smtp.to("q0@example.com")) >= 1,
                          timeout=10)
        assert r.xlen(PREFIX + "mail") == 0
    finally:
        stop_gateway(g)
        smtp.stop()


def test_rejected_goes_to_dead_letters_and_back(tmp_path, redis_server):
    smtp = Smtp(str(tmp_path), reject=["q0@example.com"])
    g = MailGateway(str(tmp_path), redis_server, smtp)
    smtp.start()
    g.start()
    try:
        queue(g, 1)
        g.worker()
        p = g.ctl("mail", "failed", "--json")
        assert p.returncode == 0, p.stderr
        [dead] = json.loads(p.stdout)
        assert dead["to"] == "q0@example.com"
        assert dead["error"] == "rejected"
        assert dead["kind"] == "reset"
        p = g.ctl("mail", "retry", dead["id"])
        assert p.returncode == 0 and "1 message" in p.stdout
        assert json.loads(g.ctl("mail", "failed", "--json").stdout) == []
        assert g.redis.client().xlen(PREFIX + "mail") == 1
        assert g.ctl("mail", "retry", "1-1").returncode != 0
    finally:
        stop_gateway(g)
        smtp.stop()


def test_failed_mails_are_deleted_after_seven_days(tmp_path, redis_server):
    """A dead letter holds an address and a live link: the daily retention
    run deletes it once it is 7 days old (docs/PRIVACY.md), and only
    then."""
    smtp = Smtp(str(tmp_path), reject=["q0@example.com", "q1@example.com"])
    g = MailGateway(str(tmp_path), redis_server, smtp)
    smtp.start()
    g.start()
    try:
        queue(g, 2)
        g.worker()
        r = g.redis.client()
        assert r.xlen(PREFIX + "mail:dead") == 2
        # one of them failed 8 days ago
        [old, new] = r.xrange(PREFIX + "mail:dead")
        r.delete(PREFIX + "mail:dead")
        r.xadd(PREFIX + "mail:dead", old[1],
               id="%d-0" % ((time.time() - 8 * 86400) * 1000))
        r.xadd(PREFIX + "mail:dead", new[1], id=new[0])

        p = g.ctl("retention", "run", "--dry-run")
        assert p.returncode == 0, p.stderr
        assert r.xlen(PREFIX + "mail:dead") == 2
        p = g.ctl("retention", "run", "--json")
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["failed_mails_deleted"] == 1
        [left] = json.loads(g.ctl("mail", "failed", "--json").stdout)
        assert left["id"] == new[0]
        # six more days: the other one is not due yet; eight: it is
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 6 * 86400))
        assert g.ctl("retention", "run", "--as-of", day).returncode == 0
        assert r.xlen(PREFIX + "mail:dead") == 1
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 86400))
        p = g.ctl("retention", "run", "--as-of", day)
        assert p.returncode == 0, p.stderr
        assert "1 failed mail deleted" in p.stdout, p.stdout
        assert r.xlen(PREFIX + "mail:dead") == 0
    finally:
        stop_gateway(g)
        smtp.stop()
