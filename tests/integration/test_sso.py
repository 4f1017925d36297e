"""/guichet/sso against the real nginx module and Redis: valid ES256,
RS256 and HS256 assertions from partners registered side by side, every
kind of hostile assertion, provisioning, the partner's 2FA requirement,
and key rotation without a reload."""

import time

import pytest
import requests

from conftest import PREFIX
from login_helpers import post_code, set_cookies, stop_gateway, totp
from sso_helpers import AUDIENCE, Partner, start_gateway


@pytest.fixture
def sso(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
    g.acme = g.add_partner(Partner("acme", "ES256"))
    g.rsa = g.add_partner(Partner("rsa-corp", "RS256"))
    g.hs = g.add_partner(Partner("hs.org", "HS256"))
    yield g
    stop_gateway(g)


def link_account(g, account, partner):
    """As a link made before (provisioning, invitation, link page)."""
    g.redis.client().hset(PREFIX + "acct:%s:partners" % account, partner,
                          int(time.time()))


def session_cookie(r):
    return [c for c in set_cookies(r)
            if c.startswith("guichet=") and not c.startswith("guichet=;")]


def assert_refused(g, r, reason, token, status=401, before=0):
    assert r.status_code == status, (r.status_code, r.text)
    assert not session_cookie(r)
    assert g.sessions() == []
    failures = g.events("sso.failure")
    assert len(failures) == before + 1, failures
    assert failures[-1].get("c") == reason, failures[-1]
    # the token never reaches a log
    sig = token.split(".")[-1] if "." in token else token
    for fields in g.log_entries():
        assert all(token not in v for v in fields.values())
        if len(sig) > 16:
            assert all(sig not in v for v in fields.values())
    assert token not in g.error_log()
    assert token not in r.text


@pytest.mark.parametrize("which", ["acme", "rsa", "hs"])
def test_valid_assertion_logs_in(sso, which):
    partner = getattr(sso, which)
    r = sso.sso(partner.token("Alice@Example.org"), return_to="/app/x")
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/app/x"
    cookie = session_cookie(r)
    assert len(cookie) == 1
    value = cookie[0].split(";")[0].split("=", 1)[1]
    me = __import__("requests").get(sso.url + "/guichet/session",
                                    cookies={"guichet": value}, timeout=5)
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "alice@example.org"
    assert body["partner"] == partner.id
    assert "sso" in str(body["amr"])
    ok = sso.events("sso.success")
    assert len(ok) == 1 and ok[0]["p"] == partner.id
    # provisioned, linked to the partner, no password
    acct = sso.account_of(ok[0])
    r2 = sso.redis.client()
    assert r2.hget(PREFIX + "acct:" + acct, "pw") in (None, "")
    assert r2.hexists(PREFIX + "acct:%s:partners" % acct, partner.id)
    assert len(sso.events("account.created")) == 1


def test_get_with_query_and_bad_return_to(sso):
    r = sso.sso(sso.acme.token(), method="get", return_to="//evil.example/")
    assert r.status_code == 303
    assert r.headers["Location"] == "/"
    assert session_cookie(r)


def test_same_account_second_partner(sso):
    # a partner vouches only for its own people: bob's account, made by
    # acme's SSO, has no password to prove a link to hs.org with
    assert sso.sso(sso.acme.token("bob@example.org")).status_code == 303
    r = sso.sso(sso.hs.token("BOB@example.org"))
    assert r.status_code == 401 and not session_cookie(r)
    assert [e["c"] for e in sso.events("sso.failure")] == ["not_linked"]
    assert len(sso.events("account.created")) == 1


def hostile_cases(g):
    a = g.acme
    now = int(time.time())
    base = a.claims()
    pem = g.rsa.public_pem
    return [
        ("alg_none", a.raw_token({"alg": "none", "typ": "JWT"}, base,
                                 alg="none"), 401),
        ("alg_mismatch", a.raw_token({"alg": "HS256", "typ": "JWT"}, base,
                                     alg="HS256",
                                     key=a.public_pem), 401),
        ("alg_mismatch", g.rsa.raw_token({"alg": "HS256", "typ": "JWT"},
                                         g.rsa.claims(), alg="HS256",
                                         key=pem), 401),
        ("alg_mismatch", g.rsa.raw_token({"alg": "ES256"}, g.rsa.claims(),
                                         alg="RS256"), 401),
        ("bad_signature", Partner("acme", "ES256").token(), 401),
        ("expired", a.token(iat=now - 400, exp=now - 200), 401),
        ("not_yet_valid", a.token(nbf=now + 200), 401),
        ("lifetime_too_long", a.token(exp=now + 301), 401),
        ("wrong_audience", a.token(aud=AUDIENCE + "x"), 401),
        ("wrong_audience", a.token(aud=AUDIENCE + "/partner-api"), 401),
        ("unknown_partner", Partner("nobody", "ES256").token(), 401),
        ("extra_claims", a.token(name="Alice"), 401),
        ("extra_claims", a.token(sub="1234"), 401),
        ("extra_claims", a.token(phone_number="+33100000000"), 401),
        ("extra_claims", a.token(groups=["staff"]), 401),
        ("bad_header", a.token(headers={"jku": "https://evil/k"}), 400),
        ("bad_header", a.token(headers={"x5u": "https://evil/c"}), 400),
        ("bad_header", a.token(headers={"jwk": {"kty": "EC"}}), 400),
        ("too_large", a.token(email="a" * 9000 + "@example.org"), 400),
        ("malformed", ".".join(a.token().split(".")[:2]), 400),
        ("malformed", a.token()[:-10] + "!!!!", 400),
        ("malformed", "not-a-token", 400),
        ("bad_email", a.token(email="alice@example.org\r\nX: y"), 401),
        ("bad_email", a.token(email="alice@x@example.org"), 401),
    ]


def test_hostile_assertions(sso):
    for n, (reason, token, status) in enumerate(hostile_cases(sso)):
        r = sso.sso(token)
        assert_refused(sso, r, reason, token, status=status, before=n)
    # the answer to a browser is the generic page, to others JSON
    r = sso.sso("x.y.z", html=False)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] == "sso_refused"


def test_replayed_jti(sso):
    token = sso.acme.token()
    assert sso.sso(token).status_code == 303
    before = set(sso.sessions())
    r = sso.sso(token)
    assert r.status_code == 401
    assert not session_cookie(r)
    assert set(sso.sessions()) == before
    assert [e["c"] for e in sso.events("sso.failure")] == ["replay"]


def test_provisioning_off(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
    try:
        p = g.add_partner(Partner("closed", "ES256"), "--no-provision")
        token = p.token("nobody@example.org")
        r = g.sso(token)
        assert_refused(g, r, "provisioning_disabled", token)
        # an existing account not linked to the partner: the link page,
        # nothing opened (test_partner_trust.py)
        g.add_user("known@example.org", "a good password 1")
        r = g.sso(p.token("known@example.org"))
        assert r.status_code == 303 and not session_cookie(r)
        assert r.headers["Location"].endswith("/guichet/link")
    finally:
        stop_gateway(g)


def test_locked_account(sso):
    sso.add_user("locked@example.org", "a good password 1")
    assert sso.ctl("user", "lock", "locked@example.org").returncode == 0
    token = sso.acme.token("locked@example.org")
    assert_refused(sso, sso.sso(token), "account_locked", token)


def test_partner_requiring_2fa(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
    try:
        p = g.add_partner(Partner("strict", "ES256"), "--require-2fa")
        carol = g.add_user("carol@example.org", "a good password 1")
        secret = g.enroll_totp("carol@example.org")
        link_account(g, carol, "strict")
        s = requests.Session()
        r = s.post(g.url + "/guichet/sso",
                   data={"assertion": p.token("carol@example.org"),
                         "return_to": "/app/"},
                   headers={"Accept": "text/html"}, allow_redirects=False,
                   timeout=10)
        assert r.status_code == 303
        assert r.headers["Location"].endswith("/guichet/2fa")
        assert not session_cookie(r)
        assert any(c.startswith("guichet_pending=")
                   for c in set_cookies(r))
        assert g.sessions() == []
        # the pending state opens nothing
        assert s.get(g.url + "/app/", headers={"Accept": "text/html"},
                     allow_redirects=False, timeout=5).status_code == 302
        ok = g.events("sso.success")
        assert [e.get("c") for e in ok] == ["2fa_required"]
        # a wrong code first, then the right one
        assert post_code(g, s, "000000" if totp(secret) != "000000"
                         else "111111").status_code == 401
        r = post_code(g, s, totp(secret))
        assert r.status_code == 303, r.text
        assert r.headers["Location"] == "/app/"
        assert session_cookie(r)
        body = s.get(g.url + "/guichet/session", timeout=5).json()
        assert body["email"] == "carol@example.org"
        assert body["partner"] == "strict"
        amr = body["amr"] if isinstance(body["amr"], list) \
            else body["amr"].split()
        assert sorted(amr) == ["otp", "sso"], body
        assert "pwd" not in amr
        done = g.events("2fa.success")
        assert len(done) == 1 and done[0].get("p") == "strict", done
        # without TOTP enrolled, the partner's word is enough
        dave = g.add_user("dave@example.org", "a good password 1")
        link_account(g, dave, "strict")
        assert session_cookie(g.sso(p.token("dave@example.org")))
    finally:
        stop_gateway(g)


def test_key_rotation_without_reload(sso):
    old = sso.acme.token()
    assert sso.sso(old).status_code == 303
    previous = sso.acme.private_pem
    sso.acme.new_key()
    sso.rotate(sso.acme)
    rotated = sso.events("partner.rotated")
    assert [e.get("p") for e in rotated] == ["acme"], rotated
    # within the documented delay (10 s) the new key is in force
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        if sso.sso(sso.acme.token()).status_code == 303:
            break
        time.sleep(1)
    else:
        pytest.fail("rotated key not in force after 12 s")
    # and the old one no longer is
    import jwt as pyjwt
    stale = pyjwt.encode(sso.acme.claims(), previous, algorithm="ES256")
    assert sso.sso(stale).status_code == 401
    assert sso.events("sso.failure")[-1]["c"] == "bad_signature"
