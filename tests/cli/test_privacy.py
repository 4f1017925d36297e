"""guichetctl user erase|export|restrict|unrestrict|rename, retention run."""

import json
import time

PASSWORD = "correct horse battery"
IP = "203.0.113.77"


def seed_session(ctl, account, email, digest):
    exp = int(time.time()) + 3600
    now = int(time.time())
    # the account's field s:DIGEST holding the one value of
    # authcore/include/authcore/session.h (no email: the account's)
    ctl.redis.hset(ctl.key("acct:" + account), "s:" + digest,
                   "2|%s|user|pwd||%d|%d|%d||%s|Firefox||"
                   % (account, now, exp, now, IP))


def everything(ctl):
    """Every key name, field, member, value and stream entry, as text."""
    out = []
    r = ctl.redis
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


def log_fields_holding(ctl, needle):
    """(seq, field) of every stream entry field whose value holds needle."""
    return [(fields.get("s"), f) for _, fields in
            ctl.redis.xrange(ctl.key("log"))
            for f, v in fields.items() if needle in v]


def json_rows(p):
    return [json.loads(line) for line in p.stdout.splitlines() if line]


def log_events(ctl):
    """(event, account id) of the entries: living accounts' pseudonyms
    resolved through the index."""
    index = ctl.redis.hgetall(ctl.key("log:pseudo"))
    return [(f.get("v"), index.get(f.get("a"), f.get("a"))) for _, f in
            ctl.redis.xrange(ctl.key("log"))]


# ------------------------------------------------------------ erase

def test_erase_requires_yes(ctl):
    ctl.add_user("alice@example.com")
    p = ctl.fails(2, "user", "erase", "alice@example.com")
    assert "--yes" in p.stderr
    assert ctl.account_id("alice@example.com")


def test_erase_leaves_nothing_readable(ctl):
    ctl.add_user("alice@example.com")
    ctl.add_user("bob@example.com")
    uid = ctl.account_id("alice@example.com")
    seed_session(ctl, uid, "alice@example.com", "S" * 22)
    ctl.ok("recovery-codes", "alice@example.com")
    ctl.ok("user", "lock", "alice@example.com")
    assert "alice@example.com" in everything(ctl)
    pseudo = ctl.redis.hget(ctl.key("acct:" + uid), "lp")
    assert pseudo and pseudo != uid
    assert ctl.redis.hget(ctl.key("log:pseudo"), pseudo) == uid

    p = ctl.ok("user", "erase", "ALICE@example.com", "--yes")
    assert uid in p.stdout
    assert "alice@example.com" not in p.stdout

    text = everything(ctl)
    assert "alice@example.com" not in text
    assert uid not in text
    assert IP not in text
    assert not [k for k in ctl.redis.keys("*")
                if "S" * 22 in k or any("S" * 22 in f
                                        for f in (ctl.redis.hkeys(k)
                                                  if ctl.redis.type(k)
                                                  == "hash" else []))]
    ctl.fails(1, "user", "show", "alice@example.com")
    assert ctl.account_id("bob@example.com")

    # the erasure is logged under her pseudonym only, no personal field
    last = ctl.redis.xrevrange(ctl.key("log"), count=1)[0][1]
    assert last["v"] == "account.erased" and last["a"] == pseudo
    assert not set(last) & {"e", "i", "u", "x"}

    # her earlier entries are there, under the pseudonym, unreadable; her
    # id finds nothing any more
    assert json_rows(ctl.ok("logs", "--account", uid, "--json")) == []
    rows = json_rows(ctl.ok("logs", "--account", pseudo, "--json"))
    assert len(rows) >= 4
    assert all(row["account"] == pseudo for row in rows)
    assert all("alice" not in json.dumps(row) for row in rows)
    ctl.ok("logs", "verify")

    ctl.fails(1, "user", "erase", "alice@example.com", "--yes")


def test_erase_leaves_no_clear_id_in_the_log(ctl):
    """Once erased, no log entry holds the account id in any field (the
    gated application knows it from X-Guichet-User); a living account's
    entries are still found by id and exported; the chain verifies."""
    ctl.add_user("alice@example.com")
    ctl.add_user("bob@example.com")
    uid = ctl.account_id("alice@example.com")
    bob = ctl.account_id("bob@example.com")
    ctl.ok("recovery-codes", "alice@example.com")
    ctl.ok("user", "lock", "bob@example.com")
    ctl.ok("user", "unlock", "bob@example.com")

    assert len(json_rows(ctl.ok("logs", "--account", uid, "--json"))) == 2

    ctl.ok("user", "erase", "alice@example.com", "--yes")

    assert log_fields_holding(ctl, uid) == []
    assert uid not in everything(ctl)
    ctl.ok("logs", "verify")

    # bob lives: his entries are found by his id or email, named by his
    # id, opened, and they are in his export
    rows = json_rows(ctl.ok("logs", "--account", bob, "--json"))
    assert [r["event"] for r in rows] == ["account.unlocked",
                                         "account.locked",
                                         "account.created"]
    assert all(r["account"] == bob for r in rows)
    assert all(r["email"] == "bob@example.com" for r in rows)
    by_email = json_rows(ctl.ok("logs", "--account", "bob@example.com",
                                "--json"))
    assert by_email == rows
    assert bob not in [r["account"] for r in
                       json_rows(ctl.ok("logs", "--account", uid, "--json"))]
    doc = json.loads(ctl.ok("user", "export", "bob@example.com").stdout)
    assert [e["event"] for e in doc["log"]] == ["account.created",
                                                "account.locked",
                                                "account.unlocked"]
    assert all(e["email"] == "bob@example.com" for e in doc["log"])

    # the unfiltered view names bob by his id and alice by a pseudonym
    accounts = {r["account"] for r in json_rows(ctl.ok("logs", "--json"))}
    assert bob in accounts and uid not in accounts


# ----------------------------------------------------------- export

def test_export_shape_and_no_secrets(ctl):
    ctl.add_user("alice@example.com", PASSWORD, "security")
    ctl.add_user("bob@example.com")
    uid = ctl.account_id("alice@example.com")
    seed_session(ctl, uid, "alice@example.com", "S" * 22)
    ctl.ok("totp", "enroll", "alice@example.com")
    ctl.ok("recovery-codes", "alice@example.com")
    ctl.redis.hset(ctl.key(f"acct:{uid}:partners"), "acme", 1700000000)

    p = ctl.ok("user", "export", "alice@example.com")
    doc = json.loads(p.stdout)
    assert doc["format"] == "guichet-export"
    assert doc["version"] == 1
    assert set(doc) == {"format", "version", "exported_at", "account",
                        "second_factor", "partners", "invitations",
                        "sessions", "passkeys", "log"}
    assert doc["passkeys"] == []
    a = doc["account"]
    assert a["id"] == uid and a["email"] == "alice@example.com"
    assert a["roles"] == ["security"]
    assert a["status"] == "active" and a["restricted"] is False
    assert doc["second_factor"] == {"totp": True,
                                    "recovery_codes_left": 10}
    assert doc["partners"] == [{"partner": "acme",
                                "since": "2023-11-14T22:13:20Z"}]
    assert doc["invitations"] == []
    [s] = doc["sessions"]
    assert s["ip"] == IP and s["device"] == "Firefox"
    assert s["method"] == "pwd" and s["partner"] is None
    events = [e["event"] for e in doc["log"]]
    assert events[:3] == ["account.created", "totp.enrolled",
                          "recovery.generated"]
    assert all(e["user_agent"] == "guichetctl" for e in doc["log"])

    acct = ctl.redis.hgetall(ctl.key("acct:" + uid))
    for secret in (acct["pw"], acct["totp"], acct["lk"], "S" * 22,
                   "$argon2id", "bob@example.com"):
        assert secret not in p.stdout
    for code in ctl.redis.smembers(ctl.key(f"acct:{uid}:rc")):
        assert code not in p.stdout

    # the export is logged
    assert log_events(ctl)[-1] == ("export", uid)


def test_export_unknown(ctl):
    ctl.fails(1, "user", "export", "nobody@example.com")
    ctl.fails(2, "user", "export", "not an email")


# ------------------------------------------------ restrict, rename

def test_restrict_unrestrict(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    ctl.ok("user", "restrict", "alice@example.com")
    assert ctl.redis.hget(ctl.key("acct:" + uid), "restricted") == "1"
    doc = json.loads(ctl.ok("user", "export", "alice@example.com").stdout)
    assert doc["account"]["restricted"] is True
    ctl.ok("user", "unrestrict", "alice@example.com")
    assert not ctl.redis.hexists(ctl.key("acct:" + uid), "restricted")
    assert ("account.restricted", uid) in log_events(ctl)
    assert ("account.unrestricted", uid) in log_events(ctl)
    ctl.fails(1, "user", "restrict", "nobody@example.com")


def test_rename(ctl):
    ctl.add_user("alice@example.com")
    ctl.add_user("bob@example.com")
    uid = ctl.account_id("alice@example.com")
    seed_session(ctl, uid, "alice@example.com", "S" * 22)

    p = ctl.fails(1, "user", "rename", "alice@example.com",
                  "BOB@example.com")
    assert "another account" in p.stderr
    ctl.fails(2, "user", "rename", "alice@example.com", "not-an-email")
    ctl.fails(2, "user", "rename", "alice@example.com", "Alice@Example.com")

    ctl.ok("user", "rename", "alice@example.com", "Alice.New@example.com")
    assert ctl.account_id("alice.new@example.com") == uid
    ctl.fails(1, "user", "show", "alice@example.com")
    # the session lives on; the account's new email stands for its own
    assert ctl.redis.hget(ctl.key("acct:" + uid), "s:" + "S" * 22) \
        .startswith("2|" + uid + "|")
    assert ("email.changed", uid) in log_events(ctl)
    assert "alice@example.com" not in everything(ctl)
    # the old email is free again
    ctl.add_user("alice@example.com")


# -------------------------------------------------------- retention

def test_retention(ctl):
    ctl.add_user("idle@example.com")
    ctl.add_user("active@example.com")
    ctl.add_user("kept@example.com")
    idle = ctl.account_id("idle@example.com")
    active = ctl.account_id("active@example.com")
    ctl.ok("user", "restrict", "kept@example.com")
    later = int(time.time()) + 3 * 365 * 86400
    # active logged in "recently" as of the run date
    ctl.redis.hset(ctl.key("acct:" + active), "last_login", later - 86400)
    as_of = time.strftime("%Y-%m-%d", time.gmtime(later + 2 * 86400))
    before = everything(ctl)
    nlog = ctl.redis.xlen(ctl.key("log"))
    idle_pseudo = ctl.redis.hget(ctl.key("acct:" + idle), "lp")

    p = ctl.ok("retention", "run", "--as-of", as_of, "--dry-run", "--json")
    rep = json.loads(p.stdout)
    assert rep["dry_run"] is True
    actions = {a["email"]: a["action"] for a in rep["accounts"]}
    assert actions == {"idle@example.com": "would_erase",
                       "kept@example.com": "kept_restricted"}
    assert rep["log_entries_to_trim"] == nlog
    assert everything(ctl) == before

    p = ctl.ok("retention", "run", "--as-of", as_of, "--json")
    rep = json.loads(p.stdout)
    actions = {a["email"]: a["action"] for a in rep["accounts"]}
    assert actions == {"idle@example.com": "erased",
                       "kept@example.com": "kept_restricted"}
    assert rep["log_entries_trimmed"] == nlog
    ctl.fails(1, "user", "show", "idle@example.com")
    assert ctl.account_id("active@example.com") == active
    assert ctl.account_id("kept@example.com")
    assert "idle@example.com" not in everything(ctl)
    # logged under its pseudonym, which nothing links to it any more
    assert ("account.erased", idle_pseudo) in log_events(ctl)
    assert idle not in everything(ctl)
    ctl.ok("logs", "verify")

    # nothing is due now
    p = ctl.ok("retention", "run")
    assert "0 erased" in p.stdout


def test_retention_bad_date(ctl):
    for bad in ("2030-13-01", "tomorrow", "2030-01-01T00:00", "1970-01-01"):
        ctl.fails(2, "retention", "run", "--as-of", bad, "--dry-run")


def test_retention_sweeps_expired_sessions(ctl):
    """Sessions are fields of their account hash with no expiry of their
    own: the retention run drops those past their absolute expiry or idle
    too long, and the index fields of the previous layout, at the real
    time; a live one stays, and a dry run changes nothing."""
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    akey = ctl.key("acct:" + uid)
    now = int(time.time())
    seed_session(ctl, uid, "alice@example.com", "L" * 22)
    ctl.redis.hset(akey, mapping={
        "s:" + "X" * 22: "2|%s|user|pwd||%d|%d|%d||%s|Firefox||"
                         % (uid, now - 100, now - 1, now - 100, IP),
        "s:" + "I" * 22: "2|%s|user|pwd||%d|%d|%d||%s|Firefox||"
                         % (uid, now - 7200, now + 3600, now - 7200, IP),
        "s:" + "O" * 22: str(now + 3600)})
    before = sorted(everything(ctl).split("\n"))
    ctl.ok("retention", "run", "--dry-run")
    assert sorted(everything(ctl).split("\n")) == before
    ctl.ok("retention", "run")
    assert sorted(f for f in ctl.redis.hkeys(akey) if f.startswith("s:")) \
        == ["s:" + "L" * 22]
    assert ctl.redis.hget(akey, "email") == "alice@example.com"
