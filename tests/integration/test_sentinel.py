"""The gate finds the Redis master through Sentinel and follows a
failover without a reload."""

import os
import subprocess

import pytest
import requests

from conftest import (Gateway, Redis, check_error_log, free_port,
                      wait_until)

MASTER = "guichet-master"


class Sentinel:
    def __init__(self, tmp, master_port):
        self.dir = os.path.join(tmp, "sentinel")
        os.makedirs(self.dir)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("bind 127.0.0.1\nport %d\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 1\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 5000\n"
                    % (self.port, self.dir, MASTER, master_port, MASTER,
                       MASTER))
        self.proc = subprocess.Popen(
            ["/usr/bin/redis-server", self.conf, "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port,
                           decode_responses=True, socket_timeout=5)

    def master_port(self):
        return int(self.client().execute_command(
            "SENTINEL", "get-master-addr-by-name", MASTER)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def cluster(tmp_path):
    tmp = str(tmp_path)
    a = Redis(tmp, name="a")
    a.start()
    b = Redis(tmp, name="b",
              extra_args=["--replicaof", "127.0.0.1", str(a.port)])
    b.start()
    s = Sentinel(tmp, a.port)
    yield a, b, s
    s.stop()
    b.stop()
    a.stop()


def client_commands(redis):
    return redis.client().execute_command("CLIENT", "LIST")


def test_sentinel_discovery_and_failover(tmp_path, cluster):
    a, b, s = cluster
    assert wait_until(lambda: s.master_port() == a.port, timeout=10)
    assert wait_until(lambda: b.client().info("replication")
                      ["master_link_status"] == "up", timeout=10)
    assert wait_until(lambda: len(s.client().execute_command(
        "SENTINEL", "replicas", MASTER)) == 1, timeout=15)

    # the first sentinel listed does not answer: the next one is asked
    dead = free_port()
    tmp = os.path.join(str(tmp_path), "gw")
    os.makedirs(tmp)
    gw = Gateway(tmp, a, redis_conf="redis_sentinels = 127.0.0.1:%d, "
                 "127.0.0.1:%d\nredis_master = %s\n" % (dead, s.port, MASTER))
    gw.expect_in_log.update(["cannot connect to redis",
                             "redis connection lost"])
    gw.start()
    try:
        cookie = gw.session()
        a.client().execute_command("WAIT", 1, 2000)

        def status():
            return requests.get(gw.url + "/app/",
                                headers={"Cookie": "guichet=" + cookie},
                                timeout=5).status_code

        assert wait_until(lambda: status() == 200, timeout=10)

        s.client().execute_command("SENTINEL", "FAILOVER", MASTER)
        assert wait_until(lambda: s.master_port() == b.port, timeout=20)
        assert wait_until(lambda: b.client().info("replication")["role"]
                          == "master", timeout=20)

        # the gate follows the new master without a reload
        assert wait_until(lambda: status() == 200
                          and "cmd=hmget" in client_commands(b), timeout=20)
        assert status() == 200
    finally:
        gw.stop()
    print(gw.error_log())
    check_error_log(gw)
