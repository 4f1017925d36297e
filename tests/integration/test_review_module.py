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


SECURITY_HEADERS = {
    "Content-Security-Policy":
        "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assert_security_headers(r):
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name, "").startswith(value), (name, r.headers)


def test_framework_refusals_carry_the_security_headers(gateway):
    u = gateway.url + "/guichet/"
    for r, status in ((requests.get(u + "nope", timeout=5), 404),
                      (requests.get(u + "../guichet/x", timeout=5), 404),
                      (requests.put(u + "login", data="x", timeout=5), 405),
                      (requests.post(u + "guichet.css", timeout=5), 405),
                      (requests.post(u + "login", data="a" * 9000,
                                     timeout=5), 413)):
        assert r.status_code == status, (r.url, r.status_code)
        assert_security_headers(r)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "<script" not in r.text


def test_json_routes_refuse_in_json(gateway):
    u = gateway.url + "/guichet/"
    r = requests.post(u + "session", timeout=5)
    assert r.status_code == 405
    assert_security_headers(r)
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"] == "method_not_allowed"
    assert set(r.json()) == {"error", "message"}

    big = '{"emails":["' + "a" * 40000 + '"]}'
    r = requests.post(u + "partner/invitations", data=big,
                      headers={"Content-Type": "application/json",
                               "Authorization": "Bearer x"}, timeout=5)
    assert r.status_code == 413
    assert r.json()["error"] == "too_large"

    # chunked: no length to refuse early, refused once read
    def chunks():
        for _ in range(5):
            yield b"a" * 8000
    r = requests.post(u + "partner/invitations", data=chunks(),
                      headers={"Content-Type": "application/json"},
                      timeout=5)
    assert r.status_code == 413
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["error"] == "too_large"


def test_server_wide_gate_leaves_the_endpoints_open(tmp_path, redis_server):
    from conftest import Gateway, check_error_log
    g = Gateway(str(tmp_path), redis_server)
    conf = os.path.join(g.tmp, "nginx.conf")
    with open(conf) as f:
        text = f.read()
    listen = "listen 127.0.0.1:%d;" % g.port
    assert text.count(listen) == 1
    with open(conf, "w") as f:
        f.write(text.replace(listen, listen + "\n        guichet on;"))
    g.start()
    try:
        r = requests.get(g.url + "/guichet/login",
                         headers={"Accept": "text/html"},
                         allow_redirects=False, timeout=5)
        assert r.status_code == 200, r.headers
        assert 'name="csrf"' in r.text
        # the rest of the server is gated
        r = requests.get(g.url + "/files/hello.txt",
                         headers={"Accept": "text/html"},
                         allow_redirects=False, timeout=5)
        assert r.status_code == 302
    finally:
        g.stop()
    check_error_log(g)
