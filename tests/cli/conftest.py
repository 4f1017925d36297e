"""Harness for guichetctl's tests.

A real redis-server is started on a free 127.0.0.1 port in a temporary
directory and stopped by its pid. Each test gets a fresh database, a
guichet.conf and a secret made by "guichetctl init". The binary is
$GUICHETCTL, else build/guichetctl.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GUICHETCTL = os.path.abspath(os.environ.get(
    "GUICHETCTL", os.path.join(ROOT, "build", "guichetctl")))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def build_helper(tmp_path_factory, name):
    """Builds tests/cli/NAME.c against the library under test."""
    build = os.path.dirname(GUICHETCTL)
    out = str(tmp_path_factory.mktemp("helper") / name)
    flags = []
    if os.path.basename(build) == "asan":
        flags = ["-fsanitize=address,undefined"]
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", *flags,
                    "-I", os.path.join(ROOT, "authcore", "include"),
                    "-o", out, os.path.join(ROOT, "tests", "cli",
                                            name + ".c"),
                    os.path.join(build, "libauthcore.a"),
                    "-lhiredis", "-loath", "-ljwt", "-ljansson", "-lssl",
                    "-lcrypto", "-largon2", "-lqrencode"], check=True)
    return out


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


class RedisServer:
    """One redis-server (or Sentinel) process, stopped by its pid."""

    def __init__(self, directory, *extra, port=None, sentinel=False):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.log = os.path.join(self.dir, "redis.log")
        args = [REDIS_SERVER]
        if sentinel:
            conf = os.path.join(self.dir, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("\n".join(extra) + "\n")
            args += [conf, "--sentinel"]
            extra = ()
        args += ["--bind", "127.0.0.1", "--port", str(self.port),
                 "--dir", self.dir, "--save", "", "--appendonly", "no",
                 "--logfile", self.log]
        for item in extra:
            args += item.split(" ", 1)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited, see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, 9)
                self.proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def write_conf(path, port=None, secret=None, extra="", prefix="guichet:"):
    lines = []
    if port is not None:
        lines.append(f"redis = 127.0.0.1:{port}")
    lines += [
        f"secret_file = {secret}",
        f"key_prefix = {prefix}",
        "audience = guichet-test",
        "argon2_t = 1",
        "argon2_m = 8192",
        "argon2_p = 1",
        "totp_issuer = Guichet Test",
    ]
    with open(path, "w") as f:
        f.write("# written by the guichetctl tests\n")
        f.write("\n".join(lines) + "\n" + extra)
    return str(path)


class Ctl:
    """Runs guichetctl against one configuration."""

    def __init__(self, tmp_path, port, extra="", prefix="guichet:", db=0):
        self.tmp = tmp_path
        self.port = port
        self.secret = str(tmp_path / "secret.key")
        self.conf = write_conf(tmp_path / "guichet.conf", port, self.secret,
                               extra, prefix)
        self.prefix = prefix
        self.redis = redis.Redis(host="127.0.0.1", port=port, db=db,
                                 decode_responses=True)

    def run(self, *args, input=None, config=True, env=None, timeout=30):
        argv = [GUICHETCTL]
        if config:
            argv += ["--config", self.conf]
        argv += list(args)
        full_env = dict(os.environ)
        full_env.pop("GUICHET_CONFIG", None)
        full_env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
        full_env["UBSAN_OPTIONS"] = "print_stacktrace=1"
        if env:
            full_env.update(env)
        p = subprocess.run(argv, input=input, capture_output=True,
                           text=True, env=full_env, timeout=timeout)
        # A sanitizer report is a failure whatever the exit status.
        assert "Sanitizer" not in p.stderr, p.stderr
        assert "runtime error" not in p.stderr, p.stderr
        return p

    def ok(self, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        return p

    def fails(self, status, *args, **kw):
        p = self.run(*args, **kw)
        assert p.returncode == status, (p.returncode, p.stdout, p.stderr)
        # one line, prefixed, on stderr
        assert p.stderr.startswith("guichetctl: "), p.stderr
        return p

    def add_user(self, email, password="correct horse battery", *roles):
        args = ["user", "add", email]
        for r in roles:
            args += ["--role", r]
        return self.ok(*args, "--password-stdin", input=password + "\n")

    def account_id(self, email):
        import json
        p = self.ok("user", "show", email, "--json")
        return json.loads(p.stdout)["id"]

    def key(self, rest):
        return self.prefix + rest


@pytest.fixture
def ctl(tmp_path, redis_server):
    r = redis.Redis(host="127.0.0.1", port=redis_server.port)
    r.flushall()
    c = Ctl(tmp_path, redis_server.port)
    c.ok("init")
    return c
