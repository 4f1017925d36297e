"""The security team's day, end to end: a scripted mix of good and bad
logins from several addresses, throttling, good and bad partner SSO, then
what `guichetctl logs`, `logs anomalies`, `logs verify` and the admin page
say about it."""

import json
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from conftest import PREFIX
from login_helpers import post_code, post_login, stop_gateway, totp
from sso_helpers import Partner, SsoGateway

PASSWORD = "a long enough password"

EXTRA = """
argon2_t = 1
argon2_m = 8m
argon2_p = 1
throttle_free = 3
throttle_window = 1m
throttle_max_delay = 30s
anomaly_window = 10m
anomaly_ip_failures = 5
anomaly_account_failures = 3
anomaly_ip_accounts = 4
anomaly_partner_failures = 2
"""


class FromAddress(HTTPAdapter):
    """Connects from another loopback address, as another client would."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address, user_agent):
    s = requests.Session()
    s.mount("http://", FromAddress(address))
    s.headers["User-Agent"] = user_agent
    return s


@pytest.fixture
def g(tmp_path, redis_server):
    gw = SsoGateway(str(tmp_path), redis_server, EXTRA)
    gw.start()
    yield gw
    stop_gateway(gw)


def ctl_json_lines(g, *args):
    p = g.ctl(*args)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def test_scripted_mix_is_fully_visible_and_verifiable(g):
    alice = g.add_user("alice@example.com", PASSWORD)
    sam = g.add_user("sam@example.com", PASSWORD, role="security")
    sam_secret = g.enroll_totp("sam@example.com")
    acme = g.add_partner(Partner("acme", "ES256"))

    # alice logs in from her usual browser, then from a new place
    home = client("127.0.0.1", "Firefox/128 home")
    _, r = post_login(g, "alice@example.com", PASSWORD, session=home)
    assert r.status_code == 303
    away = client("127.0.0.2", "Chromium/140 travel")
    _, r = post_login(g, "alice@example.com", PASSWORD, session=away)
    assert r.status_code == 303

    # an attacker at 127.0.0.3 tries many accounts, then hammers alice's
    attacker = client("127.0.0.3", "stuffer/1.0")
    targets = ["bob@example.com", "carol@example.com", "dave@example.com",
               "erin@example.com", "Frank@Example.com"]
    for email in targets:
        _, r = post_login(g, email, "guess", session=attacker)
        assert r.status_code == 401
    statuses = []
    for _ in range(5):
        _, r = post_login(g, "alice@example.com", "guess", session=attacker)
        statuses.append(r.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert 429 in statuses
    assert int(r.headers.get("Retry-After", "0")) >= 1

    # a partner signs alice in (her account is linked to it, as after
    # its invitation: a partner opens only its own people's accounts);
    # a stale assertion is refused
    g.redis.client().hset(PREFIX + "acct:%s:partners" % alice, "acme",
                          int(time.time()))
    r = g.sso(acme.token("alice@example.com"))
    assert r.status_code == 303
    old = int(time.time()) - 600
    r = g.sso(acme.token("alice@example.com", iat=old, exp=old + 60))
    assert r.status_code == 401
    r = g.sso(acme.token("alice@example.com", iat=old, exp=old + 60))
    assert r.status_code == 401

    # --- the CLI shows every event with its fields
    entries = ctl_json_lines(g, "logs", "--json", "--since", "1h")
    by_event = {}
    for e in entries:
        by_event.setdefault(e["event"], []).append(e)

    ok = [e for e in by_event["login.success"] if e.get("account") == alice]
    assert {(e["ip"], e["user_agent"]) for e in ok} == {
        ("127.0.0.1", "Firefox/128 home"), ("127.0.0.2", "Chromium/140 travel")}
    failed = by_event["login.failure"]
    typed = {e["email"] for e in failed if e["ip"] == "127.0.0.3"}
    assert {"bob@example.com", "carol@example.com", "dave@example.com",
            "erin@example.com", "alice@example.com"} <= {t.lower()
                                                          for t in typed}
    assert all(e["result"] == "fail" and e["reason"] for e in failed)
    assert all(e["user_agent"] == "stuffer/1.0" for e in failed
               if e["ip"] == "127.0.0.3")
    assert by_event["throttled"][0]["ip"] == "127.0.0.3"
    sso_ok = by_event["sso.success"]
    assert len(sso_ok) == 1 and sso_ok[0]["partner"] == "acme"
    assert sso_ok[0]["account"] == alice
    sso_bad = by_event["sso.failure"]
    assert [e["reason"] for e in sso_bad] == ["expired", "expired"]
    assert all(e["partner"] == "acme" for e in sso_bad)

    # filters narrow it down
    only = ctl_json_lines(g, "logs", "--json", "--ip", "127.0.0.0/30",
                          "--result", "fail")
    assert only and all(e["ip"] in ("127.0.0.1", "127.0.0.2", "127.0.0.3")
                        and e["result"] == "fail" for e in only)

    # --- the anomalies report names the attacker and the targets
    p = g.ctl("logs", "anomalies", "--since", "1h", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)["anomalies"]
    rules = {}
    for a in report:
        rules.setdefault(a["rule"], []).append(a)
    assert any(a.get("ip") == "127.0.0.3" for a in rules["ip_failures"])
    stuffing = [a for a in rules["credential_stuffing"]
                if a.get("ip") == "127.0.0.3"]
    assert stuffing
    named = {x.lower() for x in stuffing[0]["accounts"]}
    assert {"bob@example.com", "carol@example.com"} <= named | {alice}
    assert any(a.get("ip") == "127.0.0.3" for a in rules["throttled"])
    assert any(a.get("ip") == "127.0.0.2" for a in rules.get("new_ip", []))
    assert any(a.get("partner") == "acme"
               for a in rules["partner_sso_failures"])

    # --- the security team's page shows the same, to a security account
    #     with a second factor
    s = requests.Session()
    _, r = post_login(g, "sam@example.com", PASSWORD, session=s,
                      return_to="/guichet/admin/logs")
    assert r.status_code == 303
    r = post_code(g, s, totp(sam_secret))
    assert r.status_code == 303
    r = s.get(g.url + "/guichet/admin/logs", params={"ip": "127.0.0.3"},
              timeout=10)
    assert r.status_code == 200
    assert "carol@example.com" in r.text and "stuffer/1.0" in r.text
    assert "credential_stuffing" in r.text
    # sam's own successful login is not from the filtered address
    assert sam not in r.text

    # --- the chain verifies, and an edit is found
    p = g.ctl("logs", "verify")
    assert p.returncode == 0, p.stderr
    assert "chain intact" in p.stdout
    rd = g.redis.client()
    ids = [i for i, _ in rd.xrange(PREFIX + "log")]
    rd.xdel(PREFIX + "log", ids[len(ids) // 2])
    p = g.ctl("logs", "verify", "--json")
    assert p.returncode == 1
    bad = json.loads(p.stdout)
    assert bad["intact"] is False
    assert bad["first_bad"]["seq"] in (len(ids) // 2 + 1, len(ids) // 2 + 2)
