"""Review of the nginx module's request lifetimes and answers: requests
whose client vanished while Redis answered, security headers on the
framework's own refusals."""

import os
import socket
import struct
import threading
import time

import requests

from conftest import wait_until


def worker_fds(g):
    """Open descriptors of the single worker process."""
    (pid,) = g.workers()
    return len(os.listdir("/proc/%d/fd" % pid))


def send_and_reset(g, request):
    """Sends a request, then resets the connection (RST, no FIN) before
    any answer, as a client that crashed would."""
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(request)
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def stall_redis(g, seconds):
    t = threading.Thread(target=lambda: g.redis.client().execute_command(
        "DEBUG", "SLEEP", str(seconds)))
    t.start()
    time.sleep(0.05)
    return t


def test_request_reset_while_redis_answers_is_closed(gateway):
    cookie = gateway.session()
    assert requests.get(gateway.url + "/guichet/session",
                        cookies={"guichet": cookie},
                        timeout=5).status_code == 200
    before = worker_fds(gateway)

    t = stall_redis(gateway, 0.3)
    for _ in range(3):
        send_and_reset(gateway,
                       b"GET /guichet/session HTTP/1.1\r\n"
                       b"Host: x\r\nCookie: guichet=" + cookie.encode()
                       + b"\r\n\r\n")
    t.join()

    # the answers failed on the reset sockets: each request must be closed
    assert wait_until(lambda: worker_fds(gateway) <= before, timeout=3), \
        "connections left open: %d > %d" % (worker_fds(gateway), before)
    assert requests.get(gateway.url + "/guichet/session",
                        cookies={"guichet": cookie},
                        timeout=5).status_code == 200


def test_gate_request_reset_while_redis_answers_is_closed(gateway):
    cookie = gateway.session()
    before = worker_fds(gateway)

    t = stall_redis(gateway, 0.3)
    for _ in range(3):
        send_and_reset(gateway,
                       b"GET /files/hello.txt HTTP/1.1\r\n"
                       b"Host: x\r\nCookie: guichet=" + cookie.encode()
                       + b"\r\n\r\n")
    t.join()

    assert wait_until(lambda: worker_fds(gateway) <= before, timeout=3)
