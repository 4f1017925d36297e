"""guichetctl writes its changes to the connection log."""

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def entries(ctl):
    return [fields for _id, fields in ctl.redis.xrange(ctl.key("log"))]


def test_admin_actions_are_logged_in_a_chain(ctl, tmp_path):
    ctl.add_user("alice@example.com")
    ctl.ok("user", "passwd", "alice@example.com", "--password-stdin",
           input="another long password\n")
    ctl.ok("totp", "enroll", "alice@example.com", "--json")
    ctl.ok("user", "lock", "alice@example.com")
    ctl.ok("user", "unlock", "alice@example.com")
    ctl.ok("user", "role", "alice@example.com", "--add", "admin")
    ctl.ok("recovery-codes", "alice@example.com", "--json")
    ctl.ok("totp", "disable", "alice@example.com")
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    f = tmp_path / "k.pem"
    f.write_bytes(key.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo))
    ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file", str(f))
    ctl.ok("partner", "remove", "acme")

    log = entries(ctl)
    assert len(log) == 10
    events = [e["v"] for e in log]
    assert events[0] == "account.created"
    assert events[1] == "password.changed"
    assert events[2] == "totp.enrolled"
    assert len(set(events)) == 10
    assert [int(e["s"]) for e in log] == list(range(1, 11))
    uid = ctl.account_id("alice@example.com")
    pseudo = ctl.redis.hget(ctl.key("acct:" + uid), "lp")
    for e in log[:8]:
        # named by the pseudonym only its log key links to the account
        assert e["a"] == pseudo != uid
        assert e["r"] == "ok"
        # personal data of an account's entries is sealed, never plain
        assert "alice@example.com" not in json.dumps(e)
    for e in log[8:]:
        assert e["p"] == "acme"
        assert e.get("u") == "guichetctl"
    head = ctl.redis.get(ctl.key("log:head"))
    assert head.split()[0] == "10"
    assert head.split()[1] == log[-1]["h"]


def test_failed_actions_are_not_logged(ctl):
    ctl.add_user("alice@example.com")
    ctl.fails(1, "user", "add", "alice@example.com", "--password-stdin",
              input="correct horse battery\n")
    ctl.fails(1, "user", "lock", "ghost@example.com")
    assert len(entries(ctl)) == 1
