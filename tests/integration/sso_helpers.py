"""Helpers of the partner SSO and partner API tests: partner keys made
here (python3-cryptography), assertions signed with PyJWT or by hand
(for the hostile ones), and a gateway with partners registered through
guichetctl."""

import base64
import json
import os
import time
import uuid

import jwt
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from conftest import PREFIX, session_names
from login_helpers import LoginGateway

AUDIENCE = "guichet-test"
API_AUDIENCE = AUDIENCE + "/partner-api"


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Partner:
    """A partner's signing key and the material the operator registers."""

    def __init__(self, pid, alg):
        self.id = pid
        self.alg = alg
        self.new_key()

    def new_key(self):
        if self.alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif self.alg == "RS256":
            self.private = rsa.generate_private_key(65537, 2048)
        else:
            self.private = None
            self.secret = base64.b64encode(os.urandom(48)).decode()
        if self.private is not None:
            self.private_pem = self.private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption())
            self.public_pem = self.private.public_key().public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo)

    def key_file(self, tmp):
        path = os.path.join(tmp, "%s-%d.key" % (self.id, time.monotonic_ns()))
        with open(path, "wb") as f:
            f.write(self.public_pem if self.private is not None
                    else self.secret.encode() + b"\n")
        return path

    def signing_key(self):
        return self.private_pem if self.private is not None else self.secret

    def claims(self, email="alice@example.org", api=False, **extra):
        now = int(time.time())
        c = {"iss": self.id, "aud": API_AUDIENCE if api else AUDIENCE,
             "iat": now, "exp": now + 120, "jti": uuid.uuid4().hex}
        if not api:
            c["email"] = email
        c.update(extra)
        return {k: v for k, v in c.items() if v is not None}

    def token(self, email="alice@example.org", api=False, headers=None,
              **extra):
        return jwt.encode(self.claims(email, api, **extra),
                          self.signing_key(), algorithm=self.alg,
                          headers=headers or {"typ": "JWT"})

    def raw_token(self, header, claims, alg=None, key=None):
        """Signs exactly the given header and claims, bypassing PyJWT's
        checks: for the hostile cases."""
        signing_input = (b64url(json.dumps(header)) + "."
                         + b64url(json.dumps(claims)))
        alg = alg or self.alg
        data = signing_input.encode()
        if alg == "none":
            sig = b""
        elif alg == "HS256":
            k = key if key is not None else self.secret.encode()
            h = hmac.HMAC(k, hashes.SHA256())
            h.update(data)
            sig = h.finalize()
        elif alg == "RS256":
            sig = self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            from cryptography.hazmat.primitives.asymmetric.utils import \
                decode_dss_signature
            der = self.private.sign(data, ec.ECDSA(hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + b64url(sig)


class SsoGateway(LoginGateway):
    def add_partner(self, partner, *flags):
        p = self.ctl("partner", "add", partner.id, "--alg", partner.alg,
                     "--key-file", partner.key_file(self.tmp), *flags)
        assert p.returncode == 0, p.stderr
        return partner

    def rotate(self, partner):
        p = self.ctl("partner", "rotate", partner.id, "--key-file",
                     partner.key_file(self.tmp))
        assert p.returncode == 0, p.stderr

    def events(self, event=None):
        out = []
        for fields in self.log_entries():
            if event is None or fields.get("v") == event:
                out.append(fields)
        return out

    def sessions(self):
        return session_names(self.redis.client())

    def sso(self, token, method="post", return_to=None, html=True):
        import requests
        data = {"assertion": token}
        if return_to is not None:
            data["return_to"] = return_to
        headers = {"Accept": "text/html"} if html else {
            "Accept": "application/json"}
        if method == "post":
            return requests.post(self.url + "/guichet/sso", data=data,
                                 headers=headers, allow_redirects=False,
                                 timeout=10)
        return requests.get(self.url + "/guichet/sso", params=data,
                            headers=headers, allow_redirects=False,
                            timeout=10)

    def api(self, method, route, token, body=None):
        import requests
        headers = {"Authorization": "Bearer " + token}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return requests.request(method, self.url + "/guichet/partner/" + route,
                                headers=headers, data=body,
                                allow_redirects=False, timeout=10)


def start_gateway(tmp_path, redis_server, extra=None):
    from login_helpers import DEFAULT_EXTRA
    g = SsoGateway(str(tmp_path), redis_server,
                   DEFAULT_EXTRA if extra is None else extra)
    g.start()
    return g
