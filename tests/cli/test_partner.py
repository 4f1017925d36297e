"""guichetctl partner add|list|show|remove."""

import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def pub_pem(key):
    return key.public_key().public_bytes(PEM, SPKI)


def fingerprint(key):
    return hashlib.sha256(key.public_key().public_bytes(DER, SPKI)
                          ).hexdigest()


@pytest.fixture(scope="module")
def keys():
    return {
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "ec384": ec.generate_private_key(ec.SECP384R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537,
                                        key_size=2048),
        "rsa1024": rsa.generate_private_key(public_exponent=65537,
                                            key_size=1024),
    }


def keyfile(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def show(ctl, pid):
    return json.loads(ctl.ok("partner", "show", pid, "--json").stdout)


def test_add_es256_and_show(ctl, tmp_path, keys):
    f = keyfile(tmp_path, "ec.pem", pub_pem(keys["ec"]))
    p = ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file", f)
    assert "acme" in p.stdout
    s = show(ctl, "acme")
    assert set(s) == {"id", "alg", "fingerprint", "provision",
                      "require_2fa", "created"}
    assert s["id"] == "acme" and s["alg"] == "ES256"
    assert s["fingerprint"] == fingerprint(keys["ec"])
    assert s["provision"] is True and s["require_2fa"] is False
    text = ctl.ok("partner", "show", "acme").stdout
    assert fingerprint(keys["ec"]) in text and "ES256" in text


def test_add_rs256_with_options(ctl, tmp_path, keys):
    f = keyfile(tmp_path, "rsa.pem", pub_pem(keys["rsa"]))
    ctl.ok("partner", "add", "bank.example", "--alg", "RS256", "--key-file",
           f, "--no-provision", "--require-2fa")
    s = show(ctl, "bank.example")
    assert s["alg"] == "RS256"
    assert s["fingerprint"] == fingerprint(keys["rsa"])
    assert s["provision"] is False and s["require_2fa"] is True


def test_hs256_secret_is_never_shown(ctl, tmp_path):
    secret = os.urandom(24).hex()          # 48 characters
    f = keyfile(tmp_path, "hs.key", (secret + "\n").encode())
    p = ctl.ok("partner", "add", "intra", "--alg", "HS256", "--key-file", f)
    assert secret not in p.stdout + p.stderr
    s = show(ctl, "intra")
    assert s["alg"] == "HS256"
    # the trailing newline is not part of the secret
    assert s["fingerprint"] == hashlib.sha256(secret.encode()).hexdigest()
    outputs = [ctl.ok("partner", "show", "intra").stdout,
               ctl.ok("partner", "show", "intra", "--json").stdout,
               ctl.ok("partner", "list").stdout,
               ctl.ok("partner", "list", "--json").stdout]
    for out in outputs:
        assert secret not in out
        assert secret[:16] not in out
    # and Redis holds it sealed
    stored = ctl.redis.hgetall(ctl.key("partner:intra"))
    assert stored
    assert all(secret[:16] not in v for v in stored.values())


def test_list_sorted_table_and_json(ctl, tmp_path, keys):
    ec_f = keyfile(tmp_path, "ec.pem", pub_pem(keys["ec"]))
    rsa_f = keyfile(tmp_path, "rsa.pem", pub_pem(keys["rsa"]))
    ctl.ok("partner", "add", "zeta", "--alg", "ES256", "--key-file", ec_f)
    ctl.ok("partner", "add", "alpha", "--alg", "RS256", "--key-file", rsa_f)
    lst = json.loads(ctl.ok("partner", "list", "--json").stdout)
    assert [x["id"] for x in lst] == ["alpha", "zeta"]
    assert lst[0]["fingerprint"] == fingerprint(keys["rsa"])
    lines = ctl.ok("partner", "list").stdout.splitlines()
    assert lines[0].startswith("ID")
    assert lines[1].split()[0] == "alpha" and lines[2].split()[0] == "zeta"
    assert json.loads(ctl.ok("partner", "list", "--json",
                             "--config", ctl.conf).stdout) == lst


def test_list_empty(ctl):
    assert json.loads(ctl.ok("partner", "list", "--json").stdout) == []


@pytest.mark.parametrize("alg,what", [
    ("RS256", "ec"),            # EC key for RS256
    ("ES256", "rsa"),           # RSA key for ES256
    ("HS256", "rsa"),           # RSA public PEM for HS256
    ("HS256", "ec"),
    ("RS256", "rsa1024"),       # too short
    ("ES256", "ec384"),         # not P-256
    ("HS256", "short"),         # short HS256 secret
    ("ES256", "garbage"),
    ("ES256", "empty"),
])
def test_wrong_key_for_alg_fails(ctl, tmp_path, keys, alg, what):
    if what == "short":
        data = b"only-31-bytes-of-shared-secret!"
        assert len(data) == 31
    elif what == "garbage":
        data = b"-----BEGIN PUBLIC KEY-----\nnot base64\n" \
               b"-----END PUBLIC KEY-----\n"
    elif what == "empty":
        data = b""
    else:
        data = pub_pem(keys[what])
    f = keyfile(tmp_path, "k", data)
    ctl.fails(1, "partner", "add", "acme", "--alg", alg, "--key-file", f)
    assert ctl.redis.dbsize() == 0


def test_private_key_file_is_not_stored_as_is(ctl, tmp_path, keys):
    priv = keys["ec"].private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    f = keyfile(tmp_path, "priv.pem", priv)
    p = ctl.run("partner", "add", "acme", "--alg", "ES256", "--key-file", f)
    if p.returncode == 0:
        stored = json.dumps(ctl.redis.hgetall(ctl.key("partner:acme")))
        assert "PRIVATE KEY" not in stored
    else:
        assert p.returncode == 1


def test_add_errors(ctl, tmp_path, keys):
    f = keyfile(tmp_path, "ec.pem", pub_pem(keys["ec"]))
    ctl.fails(2, "partner", "add", "acme", "--key-file", f)
    ctl.fails(2, "partner", "add", "acme", "--alg", "ES256")
    ctl.fails(2, "partner", "add", "acme", "--alg", "none", "--key-file", f)
    ctl.fails(2, "partner", "add", "acme", "--alg", "HS512", "--key-file", f)
    ctl.fails(2, "partner", "add", "Acme!", "--alg", "ES256", "--key-file",
              f)
    ctl.fails(2, "partner", "add", "a" * 65, "--alg", "ES256", "--key-file",
              f)
    ctl.fails(1, "partner", "add", "acme", "--alg", "ES256", "--key-file",
              str(tmp_path / "missing.pem"))
    big = keyfile(tmp_path, "big", b"x" * 5000)
    ctl.fails(1, "partner", "add", "acme", "--alg", "HS256", "--key-file",
              big)
    assert ctl.redis.dbsize() == 0


def test_duplicate_show_missing_and_remove(ctl, tmp_path, keys):
    f = keyfile(tmp_path, "ec.pem", pub_pem(keys["ec"]))
    ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file", f)
    p = ctl.fails(1, "partner", "add", "acme", "--alg", "ES256",
                  "--key-file", f)
    assert "exists" in p.stderr
    ctl.fails(1, "partner", "show", "ghost")
    ctl.fails(2, "partner", "show", "../etc")
    ctl.ok("partner", "remove", "acme")
    ctl.fails(1, "partner", "show", "acme")
    ctl.fails(1, "partner", "remove", "acme")
    assert json.loads(ctl.ok("partner", "list", "--json").stdout) == []


def test_add_and_rotate_report_and_log(ctl, tmp_path, keys):
    ec_file = keyfile(tmp_path, "ec.pem", pub_pem(keys["ec"]))
    rsa_file = keyfile(tmp_path, "rsa.pem", pub_pem(keys["rsa"]))
    p = ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file",
               ec_file)
    assert p.stdout == ("added partner acme (ES256, key sha256 %s)\n"
                        % fingerprint(keys["ec"]))
    p = ctl.fails(1, "partner", "add", "acme", "--alg", "ES256",
                  "--key-file", ec_file)
    assert p.stderr == "guichetctl: partner acme already exists\n"

    p = ctl.ok("partner", "rotate", "acme", "--alg", "RS256", "--key-file",
               rsa_file)
    assert p.stdout == ("rotated key of partner acme (RS256, key sha256 %s)\n"
                        % fingerprint(keys["rsa"]))
    s = show(ctl, "acme")
    assert s["alg"] == "RS256" and s["fingerprint"] == fingerprint(keys["rsa"])

    # without --alg the algorithm is kept
    p = ctl.ok("partner", "rotate", "acme", "--key-file", rsa_file)
    assert "(RS256, " in p.stdout
    p = ctl.fails(1, "partner", "rotate", "ghost", "--key-file", rsa_file)
    assert p.stderr == "guichetctl: no partner ghost\n"

    events = [json.loads(line)
              for line in ctl.ok("logs", "--json").stdout.splitlines()]
    # newest first
    assert [(e["event"], e["partner"]) for e in events] == [
        ("partner.rotated", "acme"), ("partner.rotated", "acme"),
        ("partner.added", "acme")]
