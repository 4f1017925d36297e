"""guichetctl: configuration discovery, init, usage and Redis connection."""

import json
import os
import stat

import pytest
import redis

from conftest import GUICHETCTL, Ctl, RedisServer, free_port, write_conf


# ------------------------------------------------------------ usage

def test_help_lists_every_command(ctl):
    p = ctl.ok("--help", config=False)
    for c in ("init", "user add", "user list", "user show", "user lock",
              "user unlock", "user passwd", "user role", "totp enroll",
              "totp disable", "recovery-codes", "partner add",
              "partner list", "partner show", "partner remove"):
        assert c in p.stdout


def test_no_command_is_bad_usage(ctl):
    p = ctl.run()
    assert p.returncode == 2
    assert "usage:" in p.stderr


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["user"],
    ["user", "destroy", "a@example.com"],
    ["user", "show"],
    ["user", "show", "a@example.com", "b@example.com"],
    ["user", "show", "a@example.com", "--bogus"],
    ["user", "lock", "a@example.com", "--json"],
    ["partner", "add", "acme"],
    ["user", "list", "--json=yes"],
])
def test_bad_usage_exits_2(ctl, args):
    ctl.fails(2, *args)


def test_unknown_command_is_not_echoed(ctl):
    p = ctl.fails(2, "s3cr3t-looking-word")
    assert "s3cr3t" not in p.stderr


# ------------------------------------------------------------ discovery

def two_configs(tmp_path, port):
    """Two configurations on one Redis that see different data."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ca = Ctl(tmp_path / "a", port)
    cb = Ctl(tmp_path / "b", port, prefix="other:")
    ca.ok("init")
    cb.ok("init")
    return ca, cb


def emails(p):
    return [u["email"] for u in json.loads(p.stdout)]


def test_config_option_beats_environment(tmp_path, redis_server):
    redis.Redis(port=redis_server.port).flushall()
    ca, cb = two_configs(tmp_path, redis_server.port)
    ca.add_user("alice@example.com")

    # GUICHET_CONFIG alone is used
    p = ca.ok("user", "list", "--json", config=False,
              env={"GUICHET_CONFIG": ca.conf})
    assert emails(p) == ["alice@example.com"]
    p = ca.ok("user", "list", "--json", config=False,
              env={"GUICHET_CONFIG": cb.conf})
    assert emails(p) == []

    # --config wins over GUICHET_CONFIG, before or after the command
    p = ca.ok("--config", ca.conf, "user", "list", "--json", config=False,
              env={"GUICHET_CONFIG": cb.conf})
    assert emails(p) == ["alice@example.com"]
    p = ca.ok("user", "list", "--json", f"--config={ca.conf}",
              config=False, env={"GUICHET_CONFIG": cb.conf})
    assert emails(p) == ["alice@example.com"]


@pytest.mark.skipif(os.path.exists("/etc/guichet/guichet.conf"),
                    reason="a system configuration is installed")
def test_default_config_path(ctl):
    p = ctl.fails(2, "user", "list", config=False)
    assert "/etc/guichet/guichet.conf" in p.stderr


def test_bad_config_line_names_file_and_line(ctl):
    with open(ctl.conf, "a") as f:
        f.write("session_idle = 30m\nno_such_key = 1\n")
    lines = open(ctl.conf).read().splitlines()
    line = lines.index("no_such_key = 1") + 1
    p = ctl.fails(2, "user", "list")
    assert f"{ctl.conf}:{line}" in p.stderr
    assert len(p.stderr.splitlines()) == 1


def test_bad_config_value_exits_2(ctl):
    with open(ctl.conf, "a") as f:
        f.write("session_idle = soon\n")
    p = ctl.fails(2, "init")
    assert ctl.conf in p.stderr


def test_missing_config_file_exits_2(ctl, tmp_path):
    p = ctl.fails(2, "--config", str(tmp_path / "nope.conf"), "user",
                  "list", config=False)
    assert "nope.conf" in p.stderr


# ------------------------------------------------------------ init

def test_init_creates_a_private_secret(tmp_path, redis_server):
    c = Ctl(tmp_path, redis_server.port)
    assert not os.path.exists(c.secret)
    p = c.ok("init")
    assert c.secret in p.stdout
    st = os.stat(c.secret)
    assert stat.S_IMODE(st.st_mode) & 0o077 == 0
    assert st.st_size >= 32


def test_init_twice_is_harmless(ctl):
    before = open(ctl.secret, "rb").read()
    p = ctl.ok("init")
    assert "already" in p.stdout
    assert open(ctl.secret, "rb").read() == before


def test_init_refuses_to_overwrite_a_bad_secret(tmp_path, redis_server):
    c = Ctl(tmp_path, redis_server.port)
    with open(c.secret, "wb") as f:
        f.write(b"too short")
    os.chmod(c.secret, 0o600)
    c.fails(1, "init")
    assert open(c.secret, "rb").read() == b"too short"


def test_commands_without_secret_fail(tmp_path, redis_server):
    c = Ctl(tmp_path, redis_server.port)
    p = c.fails(2, "user", "list")
    assert "init" in p.stderr


# ------------------------------------------------------------ Redis

def test_redis_unreachable_exits_1(tmp_path):
    port = free_port()
    c = Ctl(tmp_path, port)
    c.ok("init")
    p = c.fails(1, "user", "list")
    assert f"127.0.0.1:{port}" in p.stderr
    assert len(p.stderr.splitlines()) == 1
    c.fails(1, "user", "add", "a@example.com", "--password-stdin",
            input="long enough password\n")


def test_redis_db_password_and_prefix(tmp_path):
    server = RedisServer(tmp_path / "redis", "--requirepass red-pass-1234")
    try:
        pwfile = tmp_path / "redis.pw"
        pwfile.write_text("red-pass-1234\n")
        pwfile.chmod(0o600)
        c = Ctl(tmp_path, server.port,
                extra=f"redis_password_file = {pwfile}\nredis_db = 5\n")
        c.ok("init")
        c.add_user("alice@example.com")
        r5 = redis.Redis(port=server.port, db=5, password="red-pass-1234",
                         decode_responses=True)
        r0 = redis.Redis(port=server.port, db=0, password="red-pass-1234")
        assert r5.zcard("guichet:accounts") == 1
        assert r0.dbsize() == 0

        pwfile.write_text("wrong-password\n")
        p = c.fails(1, "user", "list")
        assert "wrong-password" not in p.stderr
    finally:
        server.stop()


def test_redis_unix_socket(tmp_path):
    sock = str(tmp_path / "redis.sock")
    server = RedisServer(tmp_path / "redis", f"--unixsocket {sock}",
                         "--unixsocketperm 700")
    try:
        c = Ctl(tmp_path, None, extra=f"redis = unix:{sock}\n")
        c.ok("init")
        c.add_user("alice@example.com")
        r = redis.Redis(port=server.port, decode_responses=True)
        assert r.zcard("guichet:accounts") == 1
    finally:
        server.stop()


def test_redis_through_sentinel(tmp_path):
    master = RedisServer(tmp_path / "master")
    sentinel = None
    try:
        sentinel = RedisServer(
            tmp_path / "sentinel",
            f"sentinel monitor gmaster 127.0.0.1 {master.port} 1",
            sentinel=True)
        dead = free_port()
        c = Ctl(tmp_path, None, extra=(
            f"redis_sentinels = 127.0.0.1:{dead}, "
            f"127.0.0.1:{sentinel.port}\n"
            "redis_master = gmaster\n"))
        c.ok("init")
        # the first sentinel is down: the second one must be asked, quietly
        p = c.ok("user", "list")
        assert p.stderr == ""
        c.add_user("alice@example.com")
        r = redis.Redis(port=master.port)
        assert r.zcard("guichet:accounts") == 1

        (tmp_path / "x").mkdir()
        c2 = Ctl(tmp_path / "x", None, extra=(
                     f"redis_sentinels = 127.0.0.1:{sentinel.port}\n"
                     "redis_master = nosuchmaster\n"))
        c2.ok("init")
        p = c2.fails(1, "user", "list")
        assert "nosuchmaster" in p.stderr
        assert len(p.stderr.splitlines()) == 1
    finally:
        if sentinel:
            sentinel.stop()
        master.stop()


def test_binary_exists():
    assert os.access(GUICHETCTL, os.X_OK), GUICHETCTL
