"""guichetctl partner try: a sample assertion signed with libjwt, checked
by authcore's own verifier as the gateway would check it."""

import json
import os
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import build_helper

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS8 = serialization.PrivateFormat.PKCS8
NOENC = serialization.NoEncryption()


@pytest.fixture(scope="module")
def check(tmp_path_factory):
    return build_helper(tmp_path_factory, "assertion_check")


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def pair(tmp_path, key):
    pub = write(tmp_path, "pub.pem", key.public_key().public_bytes(PEM, SPKI))
    priv = write(tmp_path, "priv.pem",
                 key.private_bytes(PEM, PKCS8, NOENC))
    return pub, priv


def verify(ctl, check, alg, keyfile, token):
    return subprocess.run([check, ctl.conf, alg, keyfile, token],
                          capture_output=True, text=True)


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_try_signs_an_assertion_the_verifier_accepts(ctl, tmp_path, check,
                                                     alg):
    key = (ec.generate_private_key(ec.SECP256R1()) if alg == "ES256"
           else rsa.generate_private_key(public_exponent=65537,
                                         key_size=2048))
    pub, priv = pair(tmp_path, key)
    ctl.ok("partner", "add", "acme", "--alg", alg, "--key-file", pub)
    out = ctl.ok("partner", "try", "acme", "--key-file", priv,
                 "--email", "Alice@Example.com").stdout.splitlines()
    assert out[0].startswith("assertion: ")
    token = out[0].split(" ", 1)[1]
    assert out[1] == ("http://127.0.0.1:8080/guichet/sso?assertion="
                      + token)
    v = verify(ctl, check, alg, pub, token)
    assert v.returncode == 0, v.stdout
    ok, partner, email, iat, exp = v.stdout.split()
    assert (ok, partner, email) == ("ok", "acme", "alice@example.com")
    assert int(exp) - int(iat) == 120
    # a fresh jti each time: two tries are two assertions
    again = ctl.ok("partner", "try", "acme", "--key-file", priv, "--email",
                   "alice@example.com").stdout.splitlines()[0]
    assert again.split(" ", 1)[1] != token


def test_try_hs256_and_json(ctl, tmp_path, check):
    secret = write(tmp_path, "hs.key", os.urandom(48).hex().encode())
    ctl.ok("partner", "add", "hsp", "--alg", "HS256", "--key-file", secret)
    doc = json.loads(ctl.ok("partner", "try", "hsp", "--key-file", secret,
                            "--email", "bob@example.com", "--base-url",
                            "https://gw.example.org", "--json").stdout)
    assert doc["url"] == ("https://gw.example.org/guichet/sso?assertion="
                          + doc["assertion"])
    v = verify(ctl, check, "HS256", secret, doc["assertion"])
    assert v.returncode == 0 and v.stdout.split()[:3] == [
        "ok", "hsp", "bob@example.com"], v.stdout


def test_try_with_the_wrong_key_is_refused_by_the_verifier(ctl, tmp_path,
                                                          check):
    pub, _ = pair(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    other = ec.generate_private_key(ec.SECP256R1())
    wrong = write(tmp_path, "wrong.pem",
                  other.private_bytes(PEM, PKCS8, NOENC))
    ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file", pub)
    token = ctl.ok("partner", "try", "acme", "--key-file", wrong, "--email",
                   "a@example.com").stdout.split()[1]
    v = verify(ctl, check, "ES256", pub, token)
    assert v.returncode == 1 and v.stdout.strip() == "refused bad_signature"


def test_try_errors(ctl, tmp_path):
    pub, priv = pair(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    ctl.fails(1, "partner", "try", "ghost", "--key-file", priv, "--email",
              "a@example.com")
    ctl.ok("partner", "add", "acme", "--alg", "ES256", "--key-file", pub)
    ctl.fails(2, "partner", "try", "acme", "--key-file", priv)
    ctl.fails(2, "partner", "try", "acme", "--key-file", priv, "--email",
              "not an email")
    ctl.fails(2, "partner", "try", "acme", "--key-file", priv, "--email",
              "a@example.com", "--base-url", "ftp://x")
    ctl.fails(1, "partner", "try", "acme", "--key-file",
              str(tmp_path / "missing.pem"), "--email", "a@example.com")
    # a public key cannot sign
    ctl.fails(1, "partner", "try", "acme", "--key-file", pub, "--email",
              "a@example.com")
