"""guichetctl user add|list|show|lock|unlock|passwd|role."""

import json
import re
import time

import pytest

PASSWORD = "correct horse battery"


def show(ctl, email):
    return json.loads(ctl.ok("user", "show", email, "--json").stdout)


def seed_session(ctl, account, digest="A" * 22):
    """A session as the module would write it: the account's field
    s:DIGEST holding its one value (authcore/include/authcore/session.h).
    Returns (the session as (account key, field), the account key)."""
    exp = int(time.time()) + 3600
    ikey = ctl.key("acct:" + account)
    now = int(time.time())
    ctl.redis.hset(ikey, "s:" + digest, "2|%s|user|pwd||%d|%d|%d|||||"
                   % (account, now, exp, now))
    return (ikey, "s:" + digest), ikey


def indexed(ctl, akey):
    """The session digests indexed in an account hash."""
    return [f[2:] for f in ctl.redis.hkeys(akey) if f.startswith("s:")]


# ------------------------------------------------------------ add

def test_add_then_show(ctl):
    p = ctl.add_user("alice@example.com")
    assert "alice@example.com" in p.stdout
    u = show(ctl, "alice@example.com")
    assert set(u) >= {"id", "email", "roles", "status", "totp", "created",
                      "last_login", "recovery_codes", "sessions"}
    assert u["email"] == "alice@example.com"
    assert u["roles"] == ["user"]
    assert u["status"] == "active"
    assert u["totp"] is False
    assert u["last_login"] is None
    assert u["recovery_codes"] == 0
    assert u["passkeys"] == 0
    assert u["sessions"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", u["created"])
    assert re.fullmatch(r"[a-z2-7]{16}", u["id"])


def test_add_stores_only_an_argon2id_hash(ctl):
    ctl.add_user("alice@example.com", "a very secret phrase")
    uid = ctl.account_id("alice@example.com")
    acct = ctl.redis.hgetall(ctl.key("acct:" + uid))
    assert acct["pw"].startswith("$argon2id$")
    assert "m=8192,t=1,p=1" in acct["pw"]
    for k in ctl.redis.keys("*"):
        if ctl.redis.type(k) == "hash":
            for v in ctl.redis.hvals(k):
                assert "a very secret phrase" not in v


def test_add_with_roles(ctl):
    ctl.add_user("root@example.com", PASSWORD, "admin", "security")
    assert sorted(show(ctl, "root@example.com")["roles"]) == \
        ["admin", "security"]


def test_add_bad_role_is_usage_error(ctl):
    ctl.fails(2, "user", "add", "a@example.com", "--role", "root",
              "--password-stdin", input=PASSWORD + "\n")
    assert ctl.redis.dbsize() == 0


def test_duplicate_user_fails(ctl):
    ctl.add_user("alice@example.com")
    p = ctl.fails(1, "user", "add", "alice@example.com", "--password-stdin",
                  input=PASSWORD + "\n")
    assert "exists" in p.stderr
    p = ctl.fails(1, "user", "add", "ALICE@Example.com", "--password-stdin",
                  input=PASSWORD + "\n")
    assert len(json.loads(ctl.ok("user", "list", "--json").stdout)) == 1


def test_email_lookup_is_case_insensitive(ctl):
    ctl.add_user("Bob.Smith@Example.COM")
    u = show(ctl, "bob.smith@example.com")
    assert u["email"] == "bob.smith@example.com"
    assert show(ctl, "BOB.SMITH@EXAMPLE.COM")["id"] == u["id"]


@pytest.mark.parametrize("email", [
    "no-at-sign", "two@@example.com", "a@b@example.com", "@example.com",
    "alice@", "al ice@example.com", "alice\x01@example.com",
    "<alice@example.com>", "a" * 250 + "@example.com",
])
def test_bad_email_is_usage_error(ctl, email):
    p = ctl.fails(2, "user", "add", email, "--password-stdin",
                  input=PASSWORD + "\n")
    assert "\x01" not in p.stderr
    assert ctl.redis.dbsize() == 0


@pytest.mark.parametrize("args", [
    ["--password", "hunter2hunter2"],
    ["--password=hunter2hunter2"],
    ["--passwd=hunter2hunter2"],
    ["-p", "hunter2hunter2"],
])
def test_password_never_accepted_in_argv(ctl, args):
    p = ctl.run("user", "add", "alice@example.com", *args)
    assert p.returncode == 2
    assert "hunter2" not in p.stderr + p.stdout
    assert ctl.redis.dbsize() == 0
    ctl.add_user("bob@example.com")
    p = ctl.run("user", "passwd", "bob@example.com", *args)
    assert p.returncode == 2
    assert "hunter2" not in p.stderr + p.stdout


def test_password_stdin_is_required(ctl):
    p = ctl.fails(2, "user", "add", "alice@example.com", input=PASSWORD)
    assert "--password-stdin" in p.stderr
    assert ctl.redis.dbsize() == 0


@pytest.mark.parametrize("pw", ["", "short", "1234567", "x" * 1025,
                                "abc\x00defghij"])
def test_password_policy(ctl, pw):
    p = ctl.fails(1, "user", "add", "alice@example.com", "--password-stdin",
                  input=pw + "\n")
    assert ctl.redis.dbsize() == 0


def test_password_of_eight_characters_is_enough(ctl):
    ctl.add_user("alice@example.com", "12345678")
    ctl.fails(1, "user", "add", "bob@example.com", "--password-stdin",
              input="1234567\n")


# ------------------------------------------------------------ list

def test_list_table_and_json(ctl):
    ctl.add_user("alice@example.com")
    ctl.add_user("bob@example.com", PASSWORD, "admin")
    p = ctl.ok("user", "list")
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "ROLES", "STATUS", "TOTP",
                                "CREATED", "LAST", "LOGIN"]
    body = "\n".join(lines[1:])
    assert "alice@example.com" in body and "bob@example.com" in body
    assert len(lines) == 3
    users = json.loads(ctl.ok("user", "list", "--json").stdout)
    assert sorted(u["email"] for u in users) == ["alice@example.com",
                                                 "bob@example.com"]
    for u in users:
        assert set(u) == {"id", "email", "roles", "status", "totp",
                          "created", "last_login"}
    bob = [u for u in users if u["email"] == "bob@example.com"][0]
    assert bob["roles"] == ["admin"]


def test_list_empty(ctl):
    assert json.loads(ctl.ok("user", "list", "--json").stdout) == []
    assert ctl.ok("user", "list").stdout.splitlines()[0].startswith("ID")


def test_unknown_user_fails(ctl):
    for cmd in (["user", "show"], ["user", "lock"], ["user", "unlock"],
                ["totp", "enroll"], ["totp", "disable"], ["recovery-codes"]):
        p = ctl.fails(1, *cmd, "ghost@example.com")
        assert "ghost@example.com" in p.stderr
    ctl.fails(1, "user", "passwd", "ghost@example.com", "--password-stdin",
              input=PASSWORD + "\n")
    ctl.fails(1, "user", "role", "ghost@example.com", "--add", "admin")


# ------------------------------------------------------------ lock

def test_lock_ends_sessions_and_unlock(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    skey, ikey = seed_session(ctl, uid, "S" * 22)
    seed_session(ctl, uid, "T" * 22)
    # an index field of the previous layout is not a live session
    ctl.redis.hset(ctl.key("acct:" + uid), "s:" + "E" * 22,
                   int(time.time()) - 5)
    assert show(ctl, "alice@example.com")["sessions"] == 2

    # another account's session must survive
    ctl.add_user("bob@example.com")
    bid = ctl.account_id("bob@example.com")
    bkey, bidx = seed_session(ctl, bid, "B" * 22)

    p = ctl.ok("user", "lock", "ALICE@example.com")
    assert "2 session" in p.stdout
    assert not ctl.redis.hexists(*skey)
    assert not ctl.redis.hexists(ikey, "s:" + "T" * 22)
    assert indexed(ctl, ikey) == []
    u = show(ctl, "alice@example.com")
    assert u["status"] == "locked"
    assert u["sessions"] == 0
    assert ctl.redis.hexists(*bkey) and indexed(ctl, bidx) == ["B" * 22]

    ctl.ok("user", "unlock", "alice@example.com")
    assert show(ctl, "alice@example.com")["status"] == "active"


def test_list_shows_locked(ctl):
    ctl.add_user("alice@example.com")
    ctl.ok("user", "lock", "alice@example.com")
    row = [l for l in ctl.ok("user", "list").stdout.splitlines()
           if "alice@example.com" in l][0]
    assert "locked" in row.split()


# ------------------------------------------------------------ passwd

def test_passwd_changes_hash_and_ends_sessions(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    before = ctl.redis.hget(ctl.key("acct:" + uid), "pw")
    skey, ikey = seed_session(ctl, uid)
    p = ctl.ok("user", "passwd", "alice@example.com", "--password-stdin",
               input="another long password\n")
    assert "1 session" in p.stdout
    after = ctl.redis.hget(ctl.key("acct:" + uid), "pw")
    assert after != before and after.startswith("$argon2id$")
    assert not ctl.redis.hexists(*skey)
    assert indexed(ctl, ikey) == []


def test_passwd_policy_changes_nothing(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    before = ctl.redis.hget(ctl.key("acct:" + uid), "pw")
    skey, _ = seed_session(ctl, uid)
    ctl.fails(1, "user", "passwd", "alice@example.com", "--password-stdin",
              input="short\n")
    assert ctl.redis.hget(ctl.key("acct:" + uid), "pw") == before
    assert ctl.redis.hexists(*skey)


# ------------------------------------------------------------ role

def test_role_add_remove_set(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    skey, _ = seed_session(ctl, uid)

    ctl.ok("user", "role", "alice@example.com", "--add", "admin")
    assert sorted(show(ctl, "alice@example.com")["roles"]) == \
        ["admin", "user"]
    assert ctl.redis.hexists(*skey), "adding a role keeps sessions"

    p = ctl.ok("user", "role", "alice@example.com", "--remove", "admin")
    assert show(ctl, "alice@example.com")["roles"] == ["user"]
    assert not ctl.redis.hexists(*skey), "a removed role ends sessions"

    ctl.ok("user", "role", "alice@example.com", "--set", "security,admin")
    assert sorted(show(ctl, "alice@example.com")["roles"]) == \
        ["admin", "security"]

    ctl.ok("user", "role", "alice@example.com", "--add", "user",
           "--remove", "admin")
    assert sorted(show(ctl, "alice@example.com")["roles"]) == \
        ["security", "user"]


def test_role_errors(ctl):
    ctl.add_user("alice@example.com")
    ctl.fails(2, "user", "role", "alice@example.com")
    ctl.fails(2, "user", "role", "alice@example.com", "--add", "god")
    ctl.fails(2, "user", "role", "alice@example.com", "--set", "user,god")
    ctl.fails(2, "user", "role", "alice@example.com", "--set", "user",
              "--add", "admin")
    ctl.fails(1, "user", "role", "alice@example.com", "--remove", "user")
    assert show(ctl, "alice@example.com")["roles"] == ["user"]
