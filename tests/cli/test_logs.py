"""guichetctl logs, logs verify and logs anomalies against real entries."""

import csv
import io
import json
import signal
import subprocess
import time

import pytest

from conftest import GUICHETCTL, build_helper


@pytest.fixture(scope="session")
def log_append(tmp_path_factory):
    """Builds tests/cli/log_append.c against the library under test."""
    return build_helper(tmp_path_factory, "log_append")


def append(ctl, helper, *events):
    """events: (event, failed, account, email, ip, ua, partner, reason)"""
    lines = "".join("\t".join(str(f) for f in e) + "\n" for e in events)
    subprocess.run([helper, ctl.conf], input=lines, text=True, check=True)


def fail(email, ip, account="", ua="curl/8", event="login.failure"):
    return (event, 1, account, email, ip, ua, "", "bad_credentials")


def ok(account, email, ip, ua="Firefox", event="login.success"):
    return (event, 0, account, email, ip, ua, "", "")


def lines(p):
    return [json.loads(x) for x in p.stdout.splitlines()]


def test_filters_formats_and_decryption(ctl, log_append):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    append(ctl, log_append,
           fail("Bob@Example.com", "10.0.0.9"),
           ok(uid, "alice@example.com", "2001:db8::5"),
           fail("carol@example.com", "192.0.2.1", ua='=cmd|" /C calc"!A0'))
    p = ctl.ok("logs", "--json")
    log = lines(p)
    # newest first, every entry, alice's sealed fields opened
    assert [e["seq"] for e in log] == [4, 3, 2, 1]
    assert log[1]["ip"] == "2001:db8::5" and log[1]["account"] == uid
    assert log[1]["email"] == "alice@example.com"
    assert "2001:db8::5" not in json.dumps(ctl.redis.xrange(ctl.key("log")))
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--email", "bob@example.com"))] == [2]
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--ip", "2001:db8::/32"))] == [3]
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--ip", "10.0.0.0/8"))] == [2]
    assert lines(ctl.ok("logs", "--json", "--ip", "10.0.0.8/32")) == []
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--result", "fail"))] == [4, 2]
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--account", "Alice@example.com"))] == [3, 1]
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--event", "login.success", "--event",
        "account.created"))] == [3, 1]
    assert [e["seq"] for e in lines(ctl.ok(
        "logs", "--json", "--limit", "1"))] == [4]
    # CSV: RFC 4180 quoting, formula neutralised
    p = ctl.ok("logs", "--csv", "--result", "fail")
    rows = list(csv.reader(io.StringIO(p.stdout)))
    assert rows[0][:5] == ["id", "seq", "time", "event", "result"]
    assert rows[1][9] == "'" + '=cmd|" /C calc"!A0'
    # table: header, one line per entry, user agent shown
    p = ctl.ok("logs")
    out = p.stdout.splitlines()
    assert out[0].split()[:3] == ["TIME", "EVENT", "RESULT"]
    assert len(out) == 5 and "Firefox" in out[2]


def test_time_bounds(ctl, log_append):
    append(ctl, log_append, fail("a@example.com", "10.0.0.1"))
    time.sleep(0.05)
    sec, usec = ctl.redis.time()
    mid = sec * 1000 + usec // 1000
    time.sleep(0.05)
    append(ctl, log_append, fail("b@example.com", "10.0.0.2"))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(mid // 1000)) \
        + ".%03dZ" % (mid % 1000)
    assert [e["email"] for e in lines(ctl.ok(
        "logs", "--json", "--since", iso))] == ["b@example.com"]
    assert [e["email"] for e in lines(ctl.ok(
        "logs", "--json", "--until", iso))] == ["a@example.com"]
    assert len(lines(ctl.ok("logs", "--json", "--since", "1h"))) == 2
    assert lines(ctl.ok("logs", "--json", "--since", "2099-01-01")) == []
    assert lines(ctl.ok("logs", "--json", "--until", "2000-01-01")) == []
    for bad in ("2026-02-30", "yesterday", "2026-11-23T25:00:00Z",
                "2026-11-23T10:00:00+01:00"):
        ctl.fails(2, "logs", "--since", bad)
    # times are UTC, with or without the "Z" (as date-time fields send)
    assert lines(ctl.ok("logs", "--json", "--since", iso[:-1])) == \
        lines(ctl.ok("logs", "--json", "--since", iso))
    ctl.fails(2, "logs", "--event", "login.whatever")
    ctl.fails(2, "logs", "--ip", "10.0.0.0/33")
    ctl.fails(2, "logs", "--result", "maybe")
    ctl.fails(2, "logs", "--json", "--csv")
    ctl.fails(1, "logs", "--account", "ghost@example.com")


def test_erased_account_reads_erased(ctl, log_append):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    append(ctl, log_append, ok(uid, "alice@example.com", "10.1.1.1"))
    pseudo = ctl.redis.hget(ctl.key("acct:" + uid), "lp")
    ctl.redis.hdel(ctl.key("acct:" + uid), "lk")
    # without the key the id no longer leads to the entries, the
    # pseudonym they hold does
    assert lines(ctl.ok("logs", "--json", "--account", uid)) == []
    log = lines(ctl.ok("logs", "--json", "--account", pseudo))
    assert log and all(e["erased"] and e["ip"] == "[erased]" for e in log)
    assert all(e["account"] == pseudo for e in log)
    assert lines(ctl.ok("logs", "--json", "--ip", "10.1.1.1")) == []
    assert "10.1.1.1" not in ctl.ok("logs").stdout


def test_many_entries_filtered(ctl):
    """100k entries written straight to the stream; only reading matters."""
    pipe = ctl.redis.pipeline(transaction=False)
    for i in range(100000):
        pipe.xadd(ctl.key("log"), {
            "s": i + 1, "t": 1, "v": "login.failure" if i % 7 else
            "login.success", "r": "fail" if i % 7 else "ok",
            "e": "u%d@example.com" % (i % 1000),
            "i": "10.0.%d.%d" % (i % 3, i % 250), "h": "x" * 43})
        if i % 10000 == 9999:
            pipe.execute()
    pipe.execute()
    p = ctl.ok("logs", "--json", "--ip", "10.0.2.0/24", "--result", "ok",
               timeout=120)
    got = lines(p)
    want = [i for i in range(100000) if i % 7 == 0 and i % 3 == 2]
    assert [e["seq"] for e in got] == [i + 1 for i in reversed(want)]


def test_follow_streams_new_entries_until_sigint(ctl, log_append):
    append(ctl, log_append, fail("old@example.com", "10.0.0.1"))
    proc = subprocess.Popen([GUICHETCTL, "--config", ctl.conf, "logs",
                             "--follow", "--json", "--result", "fail"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(0.7)
    append(ctl, log_append, fail("new@example.com", "10.0.0.2"),
           ok("", "", "10.0.0.3"))
    line = proc.stdout.readline()
    assert json.loads(line)["email"] == "new@example.com"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "old@example.com" not in out and "Sanitizer" not in err


# ------------------------------------------------------------ verify

def chained(ctl, log_append, n=6):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    append(ctl, log_append, *[ok(uid, "alice@example.com", "10.0.0.%d" % i)
                              for i in range(n - 1)])
    return ctl.redis.xrange(ctl.key("log"))


def rewrite(ctl, entries):
    """Rebuilds the stream with these fields, in this order, under new
    increasing ids (returned); the head is left as it was."""
    ctl.redis.delete(ctl.key("log"))
    return [ctl.redis.xadd(ctl.key("log"), f, id="1-%d" % (k + 1))
            for k, (_i, f) in enumerate(entries)]


def verify(ctl):
    p = ctl.run("logs", "verify", "--json")
    return p.returncode, json.loads(p.stdout)


def test_verify_intact(ctl, log_append):
    log = chained(ctl, log_append)
    p = ctl.ok("logs", "verify")
    assert p.stdout.startswith("6 entries, chain intact")
    assert ctl.redis.get(ctl.key("log:head")) in p.stdout
    rc, v = verify(ctl)
    assert rc == 0 and v["intact"] is True and v["entries"] == len(log) == 6


def test_verify_edit(ctl, log_append):
    log = chained(ctl, log_append)
    log[2][1]["r"] = "fail"
    ids = rewrite(ctl, log)
    rc, v = verify(ctl)
    assert rc == 1 and not v["intact"]
    assert v["first_bad"]["seq"] == 3 and v["first_bad"]["id"] == ids[2]
    p = ctl.run("logs", "verify")
    assert p.returncode == 1 and "seq 3" in p.stdout and ids[2] in p.stdout


def test_verify_field_added_to_last(ctl, log_append):
    log = chained(ctl, log_append)
    log[-1][1]["c"] = "nothing_to_see"
    rewrite(ctl, log)
    rc, v = verify(ctl)
    assert rc == 1 and v["first_bad"]["seq"] == 6


def test_verify_insert(ctl, log_append):
    log = chained(ctl, log_append)
    forged = dict(log[2][1])
    forged["s"] = "4"
    log.insert(3, (None, forged))
    ids = rewrite(ctl, log)
    rc, v = verify(ctl)
    assert rc == 1 and v["first_bad"]["id"] == ids[3]


def test_verify_delete(ctl, log_append):
    log = chained(ctl, log_append)
    ctl.redis.xdel(ctl.key("log"), log[3][0])
    rc, v = verify(ctl)
    assert rc == 1 and v["first_bad"]["id"] == log[4][0]
    assert v["first_bad"]["seq"] == 5


def test_verify_reorder(ctl, log_append):
    log = chained(ctl, log_append)
    (a, fa), (b, fb) = log[1], log[2]
    log[1], log[2] = (a, fb), (b, fa)
    ids = rewrite(ctl, log)
    rc, v = verify(ctl)
    assert rc == 1 and v["first_bad"]["id"] == ids[1]


def test_verify_truncated_tail(ctl, log_append):
    log = chained(ctl, log_append)
    ctl.redis.xdel(ctl.key("log"), log[-1][0], log[-2][0])
    rc, v = verify(ctl)
    assert rc == 1 and v["first_bad"]["seq"] == 5
    assert "removed from the end" in v["first_bad"]["problem"]


# --------------------------------------------------------- anomalies

def test_anomalies_name_attacker_and_targets(ctl, log_append):
    ids = {}
    for name in ("alice", "bob", "carol"):
        ctl.add_user(name + "@example.com")
        ids[name] = ctl.account_id(name + "@example.com")
    events = [ok(ids["alice"], "alice@example.com", "192.0.2.10", "Firefox")]
    # stuffing: one IP, many emails, one hit
    for i in range(6):
        events.append(fail("victim%d@example.com" % i, "203.0.113.66"))
    events.append(fail("bob@example.com", "203.0.113.66", ids["bob"]))
    # a burst against carol from several IPs
    for i in range(5):
        events.append(fail("carol@example.com", "198.51.100.%d" % i,
                           ids["carol"]))
    # alice from a new IP, then from her IP with a new browser
    events.append(ok(ids["alice"], "alice@example.com", "203.0.113.66",
                     "Firefox"))
    events.append(ok(ids["alice"], "alice@example.com", "192.0.2.10",
                     "Lynx"))
    events.append(("throttled", 1, "", "victim0@example.com",
                   "203.0.113.66", "", "", "ip"))
    events += [("sso.failure", 1, "", "", "192.0.2.99", "", "acme",
                "bad_signature")] * 3
    # noise below every threshold
    events.append(fail("dave@example.com", "192.0.2.200"))
    append(ctl, log_append, *events)
    p = ctl.ok("--config", ctl.conf, "logs", "anomalies", "--json",
               config=False)
    rep = json.loads(p.stdout)
    by = {}
    for a in rep["anomalies"]:
        by.setdefault(a["rule"], []).append(a)
    stuffing = by["credential_stuffing"]
    assert [a["ip"] for a in stuffing] == ["203.0.113.66"]
    # alice's login from that IP is among them: the attacker got in
    assert set(stuffing[0]["accounts"]) == {
        "victim%d@example.com" % i for i in range(6)} | {ids["bob"],
                                                         ids["alice"]}
    assert [a["account"] for a in by["account_failures"]] == [ids["carol"]]
    assert len(by["account_failures"][0]["ips"]) == 5
    assert [(a["account"], a["ip"]) for a in by["new_ip"]] == [
        (ids["alice"], "203.0.113.66")]
    assert [(a["account"], a["user_agent"]) for a in by["new_device"]] == [
        (ids["alice"], "Lynx")]
    assert [a["ip"] for a in by["throttled"]] == ["203.0.113.66"]
    assert "ip_failures" not in by and "partner_sso_failures" not in by
    assert "192.0.2.200" not in p.stdout
    table = ctl.ok("logs", "anomalies").stdout
    assert "203.0.113.66" in table and ids["carol"] in table


def test_anomaly_thresholds_from_config(tmp_path, redis_server, log_append):
    from conftest import Ctl
    import redis as redislib
    redislib.Redis(port=redis_server.port).flushall()
    c = Ctl(tmp_path, redis_server.port, extra="anomaly_ip_failures = 3\n"
            "anomaly_partner_failures = 3\nanomaly_window = 1m\n")
    c.ok("init")
    append(c, log_append, *[fail("x@example.com", "192.0.2.7")] * 3,
           *[("sso.failure", 1, "", "", "192.0.2.99", "", "acme",
              "expired")] * 3)
    rep = json.loads(c.ok("logs", "anomalies", "--json").stdout)
    rules = {(a["rule"], a.get("ip") or a.get("partner"))
             for a in rep["anomalies"]}
    assert ("ip_failures", "192.0.2.7") in rules
    assert ("partner_sso_failures", "acme") in rules
    assert rep["thresholds"]["window_seconds"] == 60
