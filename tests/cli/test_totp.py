"""guichetctl totp enroll|disable and recovery-codes."""

import base64
import hashlib
import hmac
import json
import re
import struct
import subprocess
import time
import urllib.parse

import pytest

from conftest import build_helper


def totp(secret, t, digits=6, step=30):
    """RFC 6238 with SHA-1."""
    counter = struct.pack(">Q", int(t) // step)
    mac = hmac.new(secret, counter, hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


def test_python_totp_matches_rfc6238():
    secret = b"12345678901234567890"
    assert totp(secret, 59, 8) == "94287082"
    assert totp(secret, 1111111109, 8) == "07081804"
    assert totp(secret, 2000000000, 8) == "69279037"


@pytest.fixture(scope="session")
def totp_check(tmp_path_factory):
    """Builds tests/cli/totp_check.c against the library under test."""
    return build_helper(tmp_path_factory, "totp_check")


def enroll(ctl, email):
    p = ctl.ok("totp", "enroll", email, "--json")
    return json.loads(p.stdout)


def test_enroll_json_and_uri(ctl):
    ctl.add_user("alice@example.com")
    e = enroll(ctl, "Alice@Example.com")
    assert set(e) == {"secret", "uri"}
    assert re.fullmatch(r"[A-Z2-7]+=*", e["secret"])
    secret = base64.b32decode(e["secret"])
    assert len(secret) >= 16

    u = urllib.parse.urlparse(e["uri"])
    assert u.scheme == "otpauth" and u.netloc == "totp"
    label = urllib.parse.unquote(u.path)
    assert label == "/Guichet Test:alice@example.com"
    q = urllib.parse.parse_qs(u.query)
    assert q["secret"] == [e["secret"].rstrip("=")] or \
        q["secret"] == [e["secret"]]
    assert q["issuer"] == ["Guichet Test"]
    assert q.get("digits", ["6"]) == ["6"]
    assert q.get("period", ["30"]) == ["30"]
    assert q.get("algorithm", ["SHA1"]) == ["SHA1"]

    u = json.loads(ctl.ok("user", "show", "alice@example.com",
                          "--json").stdout)
    assert u["totp"] is True


def test_redis_holds_only_a_sealed_secret_that_verifies(ctl, totp_check):
    ctl.add_user("alice@example.com")
    e = enroll(ctl, "alice@example.com")
    uid = ctl.account_id("alice@example.com")
    secret = base64.b32decode(e["secret"])

    sealed = ctl.redis.hget(ctl.key("acct:" + uid), "totp")
    assert sealed.startswith("v1.")
    dump = "".join(ctl.redis.dump(k).hex() for k in ctl.redis.keys("*"))
    for form in (secret, e["secret"].encode(),
                 e["secret"].rstrip("=").encode(),
                 e["secret"].lower().encode()):
        assert form.hex() not in dump

    code = totp(secret, time.time())
    assert subprocess.run([totp_check, ctl.conf, uid, sealed, code]
                          ).returncode == 0
    wrong = str((int(code) + 1) % 1000000).zfill(6)
    assert subprocess.run([totp_check, ctl.conf, uid, sealed, wrong]
                          ).returncode == 1
    # bound to the account: another id cannot unseal it
    assert subprocess.run([totp_check, ctl.conf, "a" * 16, sealed, code],
                          stderr=subprocess.DEVNULL).returncode == 2


def test_enroll_text_has_a_qr_code_with_quiet_zone(ctl):
    ctl.add_user("alice@example.com")
    p = ctl.ok("totp", "enroll", "alice@example.com")
    blocks = set("\u2580\u2584\u2588 ")
    qr = [l for l in p.stdout.splitlines() if l and set(l) <= blocks
          and len(l) > 20]
    assert qr, p.stdout
    width = len(qr[0])
    assert all(len(l) == width for l in qr)
    # width = modules + 2 x 4 quiet modules; two module rows per line
    assert (width - 8 - 17) % 4 == 0 and width >= 21 + 8
    assert len(qr) == (width + 1) // 2
    # the quiet zone is light: full blocks all around
    assert set(qr[0]) == {"\u2588"} and set(qr[1]) == {"\u2588"}
    for l in qr[:-1]:
        assert l[:4] == "\u2588" * 4 and l[-4:] == "\u2588" * 4
    assert "otpauth://totp/" in p.stdout
    secret = re.search(r"otpauth://\S*[?&]secret=([A-Z2-7=]+)", p.stdout)
    assert secret and secret.group(1).rstrip("=") in p.stdout.replace(
        secret.group(0), "")


def test_enroll_twice_refused(ctl):
    ctl.add_user("alice@example.com")
    e = enroll(ctl, "alice@example.com")
    uid = ctl.account_id("alice@example.com")
    sealed = ctl.redis.hget(ctl.key("acct:" + uid), "totp")
    p = ctl.fails(1, "totp", "enroll", "alice@example.com")
    assert "disable" in p.stderr
    assert ctl.redis.hget(ctl.key("acct:" + uid), "totp") == sealed
    assert e["secret"] not in p.stdout


def test_disable_removes_secret_and_recovery_codes(ctl):
    ctl.add_user("alice@example.com")
    enroll(ctl, "alice@example.com")
    ctl.ok("recovery-codes", "alice@example.com")
    uid = ctl.account_id("alice@example.com")
    assert ctl.redis.scard(ctl.key(f"acct:{uid}:rc")) == 10
    ctl.ok("totp", "disable", "alice@example.com")
    assert not ctl.redis.hget(ctl.key("acct:" + uid), "totp")
    assert not ctl.redis.exists(ctl.key(f"acct:{uid}:rc"))
    u = json.loads(ctl.ok("user", "show", "alice@example.com",
                          "--json").stdout)
    assert u["totp"] is False and u["recovery_codes"] == 0
    # enrolling again is allowed and gives a new secret
    enroll(ctl, "alice@example.com")


CODE_RE = re.compile(r"^[a-z2-7]{5}-[a-z2-7]{5}$")


def test_recovery_codes_store_ten_digests_never_codes(ctl):
    ctl.add_user("alice@example.com")
    uid = ctl.account_id("alice@example.com")
    codes = json.loads(ctl.ok("recovery-codes", "alice@example.com",
                              "--json").stdout)["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(CODE_RE.match(c) for c in codes)

    stored = ctl.redis.smembers(ctl.key(f"acct:{uid}:rc"))
    assert len(stored) == 10
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", d) for d in stored)
    everything = json.dumps({k: ctl.redis.dump(k).hex()
                             for k in ctl.redis.keys("*")})
    readable = " ".join(stored) + " ".join(ctl.redis.keys("*"))
    for c in codes:
        for form in (c, c.replace("-", ""), c.upper(),
                     c.replace("-", "").upper()):
            assert form not in readable
            assert form.encode().hex() not in everything

    u = json.loads(ctl.ok("user", "show", "alice@example.com",
                          "--json").stdout)
    assert u["recovery_codes"] == 10

    # a new set replaces the old one
    again = json.loads(ctl.ok("recovery-codes", "alice@example.com",
                              "--json").stdout)["codes"]
    assert not set(again) & set(codes)
    new = ctl.redis.smembers(ctl.key(f"acct:{uid}:rc"))
    assert len(new) == 10 and not new & stored


def test_recovery_codes_text(ctl):
    ctl.add_user("alice@example.com")
    p = ctl.ok("recovery-codes", "alice@example.com")
    codes = [l.strip() for l in p.stdout.splitlines()
             if CODE_RE.match(l.strip())]
    assert len(codes) == 10
