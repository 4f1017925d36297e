"""The partner API against the real nginx module and Redis: invitations,
registrations read back by the inviting partner only, token checks, and
guichetctl invitations list."""

import json

import jwt
import pytest

from login_helpers import stop_gateway
from sso_helpers import Partner, start_gateway


@pytest.fixture
def api(tmp_path, redis_server):
    g = start_gateway(tmp_path, redis_server)
    g.a = g.add_partner(Partner("part-a", "ES256"))
    g.b = g.add_partner(Partner("part-b", "HS256"))
    yield g
    stop_gateway(g)


def invite(g, partner, emails):
    return g.api("POST", "invitations", partner.token(api=True),
                 {"emails": emails})


def registrations(g, partner):
    r = g.api("GET", "registrations", partner.token(api=True))
    assert r.status_code == 200, r.text
    return r.json()["registrations"]


def test_invite_and_read_back(api):
    r = invite(api, api.a, ["Alice@Example.org", "bob@example.org"])
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2}
    regs = registrations(api, api.a)
    assert sorted(x["email"] for x in regs) == ["alice@example.org",
                                                "bob@example.org"]
    assert {x["status"] for x in regs} == {"invited"}
    assert all(x["since"].endswith("Z") for x in regs)
    assert all(set(x) == {"email", "status", "since"} for x in regs)
    assert len(api.events("partner.invitation")) == 1

    # alice comes through partner A's SSO: registered for A
    assert api.sso(api.a.token("alice@example.org")).status_code == 303
    regs = {x["email"]: x["status"] for x in registrations(api, api.a)}
    assert regs == {"alice@example.org": "registered",
                    "bob@example.org": "invited"}


def test_isolation_between_partners(api):
    assert invite(api, api.a, ["alice@example.org"]).status_code == 202
    assert invite(api, api.b, ["zoe@example.org"]).status_code == 202
    assert [x["email"] for x in registrations(api, api.b)] == [
        "zoe@example.org"]
    assert [x["email"] for x in registrations(api, api.a)] == [
        "alice@example.org"]
    # an account made elsewhere is not "registered" for a partner that
    # only invited it: a partner cannot probe who has an account
    api.add_user("zoe@example.org", "a good password 1")
    assert registrations(api, api.b)[0]["status"] == "invited"


def test_token_of_a_claiming_b_fails(api):
    claims = api.a.claims(api=True, iss="part-b")
    token = api.a.raw_token({"alg": "ES256", "typ": "JWT"}, claims)
    r = api.api("GET", "registrations", token)
    assert r.status_code == 401
    assert r.json()["error"] in ("alg_mismatch", "bad_signature")
    assert token not in api.error_log()


@pytest.mark.parametrize("case", ["sso_token", "sso_audience", "no_token",
                                  "replay", "email_claim"])
def test_bad_tokens(api, case):
    if case == "sso_token":
        # a whole SSO assertion: its email claim is refused before its aud
        token = api.a.token()
    elif case == "sso_audience":
        token = api.a.token(email=None)
    elif case == "email_claim":
        claims = api.a.claims(api=True)
        claims["email"] = "x@example.org"
        token = jwt.encode(claims, api.a.signing_key(), algorithm="ES256")
    else:
        token = api.a.token(api=True)
    if case == "replay":
        assert api.api("GET", "registrations", token).status_code == 200
    if case == "no_token":
        import requests
        r = requests.get(api.url + "/guichet/partner/registrations",
                         timeout=5)
    else:
        r = api.api("GET", "registrations", token)
    assert r.status_code == 401
    body = r.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == {"sso_token": "extra_claims",
                             "sso_audience": "wrong_audience",
                             "no_token": "missing_token",
                             "replay": "replay",
                             "email_claim": "extra_claims"}[case]
    assert "registrations" not in body
    assert [e["c"] for e in api.events("sso.failure")] == [body["error"]]


def test_invalid_bodies_store_nothing(api):
    r = invite(api, api.a, ["ok@example.org", "bad@@example.org",
                            "x@example.org"])
    assert r.status_code == 400
    assert "emails[1]" in r.json()["message"]
    r = invite(api, api.a, ["ok@example.org", "crlf@example.org\r\n"])
    assert r.status_code == 400
    r = invite(api, api.a, ["u%d@example.org" % i for i in range(101)])
    assert r.status_code == 400
    for body in ['{"emails": "a@b.c"}', '{"emails": [], "x": 1}',
                 '{"emails": ["a@b.c"], "emails": ["d@e.f"]}', "[]", "{"]:
        r = api.api("POST", "invitations", api.a.token(api=True), body)
        assert r.status_code == 400, body
    assert registrations(api, api.a) == []


def test_invitations_list_cli(api):
    assert invite(api, api.a, ["alice@example.org"]).status_code == 202
    assert invite(api, api.b, ["bob@example.org"]).status_code == 202
    p = api.ctl("invitations", "list", "--json", "--base-url",
                "https://gw.example.org")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [(x["partner"], x["email"]) for x in rows] == [
        ("part-a", "alice@example.org"), ("part-b", "bob@example.org")]
    assert all(x["link"].startswith(
        "https://gw.example.org/guichet/register?token=") for x in rows)
    p = api.ctl("invitations", "list", "--partner", "part-b")
    assert p.returncode == 0
    assert "bob@example.org" in p.stdout
    assert "alice@example.org" not in p.stdout
    # once registered through SSO, no link is pending
    assert api.sso(api.a.token("alice@example.org")).status_code == 303
    p = api.ctl("invitations", "list", "--json", "--partner", "part-a")
    assert json.loads(p.stdout) == []


def test_large_body_is_read_in_memory_never_spooled(api):
    # ~30 KiB, under the partner API's 32 KiB: nginx keeps it in memory
    # (the endpoints raise client_body_buffer_size), so it is never
    # written to a temporary file and read back with blocking I/O
    body = ('{"emails": ["carol@example.org", "dave@example.org"]'
            + " " * 30000 + "}")
    r = api.api("POST", "invitations", api.a.token(api=True), body)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2}
    assert "buffered to a temporary file" not in api.error_log()
    assert sorted(x["email"] for x in registrations(api, api.a)) == [
        "carol@example.org", "dave@example.org"]
