"""Fixtures that run the real nginx with the Guichet module and a real
redis-server, both on free 127.0.0.1 ports in a temporary directory, and
stop them by pid."""

import base64
import hashlib
import hmac
import os
import re
import secrets
import signal
import socket
import subprocess
import time

import pytest
import redis as redis_lib
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GUICHET_BUILD", os.path.join(ROOT, "build"))
MODULE = os.environ.get("GUICHET_MODULE",
                        os.path.join(BUILD, "ngx_http_guichet_module.so"))
NGINX = "/usr/sbin/nginx"
REDIS_SERVER = "/usr/bin/redis-server"
PREFIX = "gt:"

# A session (authcore/include/authcore/session.h) is the field "s:DIGEST"
# of its account hash, valued "2|" and these fields in this order,
# '|'-separated; the email (e) is stored empty: the account's stands for
# it. A session cookie begins with the account id.
SESSION_FIELDS = "armpcxtfiuke"
SESS = PREFIX + "sess:"     # the tests' name of a session: SESS + DIGEST
ID_LEN = 16


def session_value(fields):
    """The value authcore writes for these fields (absent ones empty)."""
    return "2|" + "|".join(str(fields.get(f, ""))
                           for f in SESSION_FIELDS[:-1]) + "|"


def session_fields(value, email=None):
    """The non-empty fields of a session value, as a dict ({} for none:
    the old HGETALL shape the tests compare with); "e" is the account's
    email."""
    if not value or not value.startswith("2|"):
        return {}
    parts = value[2:].split("|", len(SESSION_FIELDS) - 1)
    out = {f: v for f, v in zip(SESSION_FIELDS, parts) if v != ""}
    out.pop("e", None)
    if email:
        out["e"] = email
    return out


def _digest_of(key):
    assert key.startswith(SESS), key
    return key[len(SESS):]


def session_where(client, key):
    """The account hash holding the session SESS + DIGEST, or None."""
    field = "s:" + _digest_of(key)
    for k in client.scan_iter(PREFIX + "acct:*", count=1000):
        rest = k[len(PREFIX + "acct:"):]
        if len(rest) == ID_LEN and ":" not in rest \
                and client.type(k) == "hash" and client.hexists(k, field):
            return k
    return None


def session_exists(client, key):
    return session_where(client, key) is not None


def session_delete(client, key):
    akey = session_where(client, key)
    if akey:
        client.hdel(akey, "s:" + _digest_of(key))


def session_names(client):
    """SESS + DIGEST of every session in Redis."""
    out = []
    for k in client.scan_iter(PREFIX + "acct:*", count=1000):
        rest = k[len(PREFIX + "acct:"):]
        if len(rest) != ID_LEN or ":" in rest or client.type(k) != "hash":
            continue
        out += [SESS + f[2:] for f in client.hkeys(k) if f.startswith("s:")]
    return sorted(out)


def session_raw(client, key):
    """The stored value of a session, or None."""
    akey = session_where(client, key)
    return client.hget(akey, "s:" + _digest_of(key)) if akey else None


def session_get(client, key):
    akey = session_where(client, key)
    if akey is None:
        return {}
    return session_fields(client.hget(akey, "s:" + _digest_of(key)),
                          client.hget(akey, "email"))


def session_set(client, key, **changes):
    """Changes fields of a live session ("" empties)."""
    akey = session_where(client, key)
    assert akey, key
    fields = session_get(client, key)
    fields.update(changes)
    client.hset(akey, "s:" + _digest_of(key), session_value(fields))


def session_put_raw(client, key, value):
    """Writes a session's stored value as it is (a malformed one)."""
    akey = session_where(client, key)
    assert akey, key
    client.hset(akey, "s:" + _digest_of(key), value)


_GIVEN = set()


def free_port():
    """A loopback port free now and not handed out before in this run: two
    calls in a row may otherwise get the same port (one gateway's HTTP and
    TLS listeners on one port fail to start)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def wait_until(check, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


# ------------------------------------------------------------- key schema

def _crypto_source():
    with open(os.path.join(ROOT, "authcore", "src", "crypto.c")) as f:
        return f.read()


def _hkdf(secret, salt, info, length=32):
    """RFC 5869 HKDF-SHA256."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    okm, block, i = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([i]),
                         hashlib.sha256).digest()
        okm += block
        i += 1
    return okm[:length]


def session_key(secret):
    """The AC_PURPOSE_SESSION key, derived the way authcore derives it:
    the HKDF salt and info strings are read from authcore/src/crypto.c."""
    src = _crypto_source()
    info = re.search(r'"([^"]*v1 session)"', src)
    salt = re.search(r'ac_hkdf_salt\[\]\s*=\s*"([^"]*)"', src)
    assert info and salt, "HKDF strings not found in crypto.c"
    return _hkdf(secret, salt.group(1).encode(), info.group(1).encode())


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- servers

def write_self_signed(tmp):
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(key, hashes.SHA256()))
    with open(os.path.join(tmp, "tls.crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(tmp, "tls.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


class Redis:
    def __init__(self, tmp, password=None, unix=False, name="redis",
                 extra_args=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.unix = os.path.join(self.dir, "redis.sock") if unix else None
        self.extra_args = extra_args
        self.proc = None

    def start(self):
        args = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", self.dir, "--save", "", "--appendonly", "no",
                "--loglevel", "warning", "--enable-debug-command", "local"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.unix:
            args += ["--unixsocket", self.unix, "--unixsocketperm", "700"]
        args += list(self.extra_args)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_until(lambda: self.client().ping()), "redis did not start"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("password", self.password)
        return redis_lib.Redis(host="127.0.0.1", port=self.port,
                               decode_responses=True, **kw)

    def address(self):
        if self.unix:
            return "unix:" + self.unix
        return "127.0.0.1:%d" % self.port


NGINX_CONF = """
load_module {module};
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;

thread_pool guichet_pool threads=2;

events {{ worker_connections 256; }}

http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    guichet_config {tmp}/guichet.conf;
    guichet_threads guichet_pool;

    server {{
        listen 127.0.0.1:{port};

        location = /open {{
            return 200 "open\\n";
        }}

        location /guichet/ {{
            guichet_endpoints;
        }}

        location /app/ {{
            guichet on;
            proxy_pass http://127.0.0.1:{upstream}/;
        }}

        location /strong/ {{
            guichet on;
            guichet_require_2fa on;
            proxy_pass http://127.0.0.1:{upstream}/;
        }}

        location /security/ {{
            guichet on;
            guichet_role security;
            proxy_pass http://127.0.0.1:{upstream}/;
        }}

        location /files/ {{
            guichet on;
            alias {tmp}/files/;
        }}
    }}

    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {tmp}/tls.crt;
        ssl_certificate_key {tmp}/tls.key;

        location /app/ {{
            guichet on;
            proxy_pass http://127.0.0.1:{upstream}/;
        }}
    }}

    # the application behind the gate: echoes what the gate passed on
    server {{
        listen 127.0.0.1:{upstream};

        location / {{
            return 200 "user=$http_x_guichet_user email=$http_x_guichet_email amr=$http_x_guichet_amr roles=$http_x_guichet_roles\\n";
        }}
    }}
}}
"""

GUICHET_CONF = """
{redis}
key_prefix = {prefix}
secret_file = {tmp}/secret.key
audience = guichet-test
session_idle = 30m
session_max = 12h
redis_timeout = 500ms
"""


class Gateway:
    def __init__(self, tmp, redis, extra_conf="", db=0, redis_conf=None):
        self.tmp = tmp
        self.redis = redis
        self.db = db
        self.port = free_port()
        self.upstream = free_port()
        self.tls_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.tls_url = "https://127.0.0.1:%d" % self.tls_port
        write_self_signed(tmp)
        self.proc = None
        self.log_offset = 0
        self.expect_in_log = set()

        self.secret = secrets.token_bytes(64)
        path = os.path.join(tmp, "secret.key")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, self.secret)
        os.close(fd)

        os.makedirs(os.path.join(tmp, "files"))
        with open(os.path.join(tmp, "files", "hello.txt"), "w") as f:
            f.write("hello\n")
        with open(os.path.join(tmp, "guichet.conf"), "w") as f:
            f.write(GUICHET_CONF.format(
                redis=redis_conf or "redis = " + redis.address(),
                prefix=PREFIX, tmp=tmp) + extra_conf)
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            # workers must read the temporary directory, private to us
            user = "user root root;" if os.geteuid() == 0 else ""
            f.write(NGINX_CONF.format(module=MODULE, tmp=tmp, port=self.port,
                                      upstream=self.upstream, user=user,
                                      tls_port=self.tls_port))

    def nginx_cmd(self, *extra):
        return [NGINX, "-p", self.tmp, "-c",
                os.path.join(self.tmp, "nginx.conf"),
                "-e", os.path.join(self.tmp, "error.log")] + list(extra)

    def start(self):
        self.proc = subprocess.Popen(self.nginx_cmd(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     env=nginx_env(self.tmp))
        ok = wait_until(lambda: requests.get(self.url + "/open",
                                             timeout=1).status_code == 200)
        if not ok:
            self.stop()
            raise AssertionError("nginx did not start:\n" + self.error_log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def workers(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid",
                              str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return sorted(int(p) for p in out.split())

    def error_log(self):
        try:
            with open(os.path.join(self.tmp, "error.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # ---------------------------------------------------------- sessions

    def account(self, email="alice@example.com", status="0",
                roles="user"):
        account_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567")
                             for _ in range(16))
        self.redis.client(db=self.db).hset(PREFIX + "acct:" + account_id,
                                 mapping={"email": email, "status": status,
                                          "roles": roles})
        return account_id

    def digest(self, cookie):
        mac = hmac.new(session_key(self.secret), cookie.encode(),
                       hashlib.sha256).digest()
        return b64url(mac[:16])

    def session(self, account_id=None, email="alice@example.com",
                roles="user", amr="pwd", expires_in=43200,
                last_seen_ago=0):
        """Writes a session into Redis the way authcore does, and returns
        its cookie value (the account id, then 27 random characters)."""
        if account_id is None:
            account_id = self.account(email=email, roles=roles)
        cookie = account_id + b64url(secrets.token_bytes(32))[:27]
        now = int(time.time())
        r = self.redis.client(db=self.db)
        r.hset(PREFIX + "acct:" + account_id, "s:" + self.digest(cookie),
               session_value({"a": account_id, "r": roles, "m": amr,
                              "c": now, "x": now + expires_in,
                              "t": now - last_seen_ago,
                              "i": "127.0.0.1", "u": "pytest"}))
        return cookie


def nginx_env(tmp):
    """A sanitizer build of the module (SANITIZE=1) needs its runtime
    loaded first into Debian's plain nginx."""
    env = dict(os.environ)
    if os.environ.get("SANITIZE") == "1" or "/asan/" in MODULE:
        libs = []
        for lib in ("libasan.so", "libubsan.so"):
            path = subprocess.run(["gcc", "-print-file-name=" + lib],
                                  capture_output=True, text=True).stdout
            libs.append(os.path.realpath(path.strip()))
        env["LD_PRELOAD"] = " ".join(libs)
        # nginx's master and pools keep memory until exit by design
        env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=1:log_path="
                               + os.path.join(tmp, "asan"))
        env["UBSAN_OPTIONS"] = ("halt_on_error=1:print_stacktrace=1:"
                                "log_path=" + os.path.join(tmp, "ubsan"))
    return env


def check_error_log(g):
    log = g.error_log()
    bad = [line for line in log.splitlines()
           if re.search(r"\[(alert|crit|emerg)\]", line)
           and not any(e in line for e in g.expect_in_log)]
    assert not bad, "unexpected lines in nginx's error log:\n" + "\n".join(bad)
    assert "exited on signal" not in log, log
    reports = [f for f in os.listdir(g.tmp) if f.startswith(("asan", "ubsan"))]
    for f in reports:
        with open(os.path.join(g.tmp, f)) as fh:
            print(fh.read())
    assert not reports, "sanitizer reports: %s" % reports


@pytest.fixture
def redis_server(tmp_path):
    r = Redis(str(tmp_path))
    r.start()
    yield r
    r.stop()


@pytest.fixture
def gateway(tmp_path, redis_server):
    g = Gateway(str(tmp_path), redis_server)
    g.start()
    yield g
    g.stop()
    check_error_log(g)


@pytest.fixture
def make_gateway(tmp_path):
    """Builds a gateway with its own Redis options: make_gateway(
    password=..., unix=..., db=..., extra_conf=...)."""
    made = []

    def make(password=None, unix=False, db=0, extra_conf=""):
        tmp = os.path.join(str(tmp_path), "g%d" % len(made))
        os.makedirs(tmp)
        r = Redis(tmp, password=password, unix=unix)
        r.start()
        g = Gateway(tmp, r, extra_conf=extra_conf, db=db)
        made.append(g)
        g.start()
        return g

    yield make
    for g in made:
        g.stop()
        g.redis.stop()
    for g in made:
        check_error_log(g)
