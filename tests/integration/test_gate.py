"""The access-phase gate of "guichet on" locations, against a real nginx
and a real Redis."""

import os
import socket
import subprocess
import threading
import time
import urllib.parse

import requests

from conftest import (PREFIX, Gateway, b64url, check_error_log, nginx_env,
                      session_delete, session_get, session_put_raw,
                      session_set, wait_until)

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def get(gw, path, cookie=None, headers=None, **kw):
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = "other=1; guichet=" + cookie
    return requests.get(gw.url + path, headers=h, allow_redirects=False,
                        timeout=kw.pop("timeout", 5), **kw)


def check_security_headers(r):
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Content-Security-Policy"] == \
        "default-src 'self'; frame-ancestors 'none'"


# ----------------------------------------------------------- no session

def test_ungated_location_needs_no_session(gateway):
    r = get(gateway, "/open")
    assert r.status_code == 200
    assert r.text == "open\n"


def test_no_cookie_api_client_gets_401_json(gateway):
    r = get(gateway, "/app/page", headers=JSON)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/json")
    check_security_headers(r)
    body = r.json()
    assert body["error"] == "unauthenticated"
    assert body["message"]
    assert "user=" not in r.text


def test_no_cookie_browser_is_redirected_with_return_to(gateway):
    r = get(gateway, "/app/a b?x=1&y=%2F", headers=HTML)
    assert r.status_code == 302
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert loc.path == "/guichet/login"
    q = urllib.parse.parse_qs(loc.query)
    assert q == {"return_to": ["/app/a%20b?x=1&y=%2F"]}
    check_security_headers(r)


def test_refusal_of_a_request_with_a_body_keeps_the_connection(gateway):
    with requests.Session() as s:
        r = s.post(gateway.url + "/app/upload", data=b"x" * 100000,
                   headers=JSON, timeout=5)
        assert r.status_code == 401
        r = s.get(gateway.url + "/open", timeout=5)
        assert r.status_code == 200
    r = requests.head(gateway.url + "/app/", headers=JSON, timeout=5)
    assert r.status_code == 401
    assert r.text == ""


def test_unknown_and_malformed_cookies_are_refused(gateway):
    for value in ["A" * 43, "short", "A" * 44, "A" * 42 + "=", "",
                  "A" * 4000, "../../etc/passwd" + "A" * 27]:
        r = get(gateway, "/app/", cookie=value, headers=JSON)
        assert r.status_code == 401, value
    # the session cookie name matters, not just any cookie holding a token
    cookie = gateway.session()
    r = requests.get(gateway.url + "/app/", headers={
        "Cookie": "guichetx=" + cookie, **JSON}, timeout=5)
    assert r.status_code == 401


def test_gated_static_file_without_session(gateway):
    assert get(gateway, "/files/hello.txt", headers=JSON).status_code == 401


def test_cookie_name_depends_on_tls(gateway):
    cookie = gateway.session()
    host = {"Cookie": "__Host-guichet=" + cookie, **JSON}
    plain = {"Cookie": "guichet=" + cookie, **JSON}
    ca = os.path.join(gateway.tmp, "tls.crt")
    r = requests.get(gateway.tls_url + "/app/", headers=host, verify=ca,
                     timeout=5)
    assert r.status_code == 200
    assert "email=alice@example.com" in r.text
    # over TLS only the __Host- cookie counts, over plain HTTP only the other
    assert requests.get(gateway.tls_url + "/app/", headers=plain,
                        verify=ca, timeout=5).status_code == 401
    assert requests.get(gateway.url + "/app/", headers=host,
                        timeout=5).status_code == 401
    assert requests.get(gateway.url + "/app/", headers=plain,
                        timeout=5).status_code == 200


# -------------------------------------------------------- valid session

def test_valid_session_passes_identity_headers(gateway):
    account = gateway.account(email="bob@example.com")
    cookie = gateway.session(account_id=account, email="bob@example.com",
                             amr="pwd otp")
    r = get(gateway, "/app/page", cookie=cookie)
    assert r.status_code == 200
    assert r.text == ("user=%s email=bob@example.com amr=pwd otp roles=user\n"
                      % account)
    r = get(gateway, "/files/hello.txt", cookie=cookie)
    assert r.status_code == 200
    assert r.text == "hello\n"


def test_client_sent_identity_headers_are_removed(gateway):
    forged = {"X-Guichet-User": "admin", "x-guichet-email": "evil@x",
              "X-GUICHET-AMR": "pwd otp", "X-Guichet-Roles": "admin"}
    # without a session: refused, and nothing forged goes anywhere
    r = get(gateway, "/app/", headers={**forged, **JSON})
    assert r.status_code == 401
    # with a session: the gate's values, never the client's
    account = gateway.account()
    cookie = gateway.session(account_id=account)
    r = get(gateway, "/app/", cookie=cookie, headers=forged)
    assert r.status_code == 200
    assert r.text == ("user=%s email=alice@example.com amr=pwd roles=user\n"
                      % account)


def test_underscore_spellings_of_identity_headers_are_removed(
        tmp_path, redis_server):
    # with underscores_in_headers on, "X_Guichet_User" reaches a CGI or
    # PHP backend as HTTP_X_GUICHET_USER: the same as the gate's header
    g = Gateway(str(tmp_path), redis_server)
    path = os.path.join(g.tmp, "nginx.conf")
    with open(path) as f:
        conf = f.read()
    with open(path, "w") as f:
        f.write(conf.replace(
            "http {\n", "http {\n    underscores_in_headers on;\n", 1))
    g.start()
    try:
        account = g.account()
        cookie = g.session(account_id=account)
        forged = {"X_Guichet_User": "admin", "x-guichet_email": "evil@x",
                  "X_GUICHET-AMR": "pwd otp"}
        r = get(g, "/app/", cookie=cookie, headers=forged)
        assert r.status_code == 200
        assert r.text == ("user=%s email=alice@example.com amr=pwd roles=user\n"
                          % account)
    finally:
        g.stop()
        check_error_log(g)


def test_expired_sessions_are_refused(gateway):
    # absolute expiry passed, though the session is still in Redis
    cookie = gateway.session(expires_in=-5)
    assert get(gateway, "/app/", cookie=cookie, headers=JSON).status_code \
        == 401
    # idle expiry: last used more than session_idle (30 min) ago
    cookie = gateway.session(last_seen_ago=1795)
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    cookie = gateway.session(last_seen_ago=1801)
    r = get(gateway, "/app/", cookie=cookie, headers=HTML)
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/guichet/login?return_to=/app/")
    assert get(gateway, "/guichet/session", cookie=cookie,
               headers=JSON).status_code == 401


def test_locked_or_erased_account_is_refused(gateway):
    """The gate reads the session alone: a lock or an erasure ends the
    account's sessions (authcore's scripts; driven through guichetctl on
    two workers in test_cache.py), and "account ID" empties the caches."""
    account = gateway.account()
    cookie = gateway.session(account_id=account)
    digest = gateway.digest(cookie)
    rd = gateway.redis.client()
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    # what a lock does: status, then ac_cmd_sessions_end_all()
    rd.hset(PREFIX + "acct:" + account, "status", "1")
    rd.hdel(PREFIX + "acct:" + account, "s:" + digest)
    rd.publish(PREFIX + "events", "revoke " + digest)
    rd.publish(PREFIX + "events", "account " + account)
    r = get(gateway, "/app/", cookie=cookie, headers=JSON)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthenticated"


def test_deleted_session_is_refused_at_once(gateway):
    cookie = gateway.session()
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    # as ac_cmd_session_delete() does: HDEL, then "revoke DIGEST"
    session_delete(gateway.redis.client(),
                   PREFIX + "sess:" + gateway.digest(cookie))
    gateway.redis.client().publish(PREFIX + "events",
                                   "revoke " + gateway.digest(cookie))
    assert get(gateway, "/app/", cookie=cookie,
               headers=JSON).status_code == 401


def test_malformed_session_in_redis_is_refused(gateway):
    cookie = gateway.session()
    key = PREFIX + "sess:" + gateway.digest(cookie)
    session_set(gateway.redis.client(), key, x="soon")
    assert get(gateway, "/app/", cookie=cookie,
               headers=JSON).status_code == 401
    session_put_raw(gateway.redis.client(), key, "2|not a session")
    assert get(gateway, "/app/", cookie=cookie,
               headers=JSON).status_code == 401
    assert "malformed session" in gateway.error_log()


def test_session_of_the_previous_layouts_is_refused(gateway):
    """Sessions written before the account-hash layout read as no
    session: sign in again, never a 503. A cookie of the previous layout
    does not begin with an account id; its session was a key of its own
    (a "1|..." string, or a hash before that) with an "s:DIGEST" index
    field valued with its expiry; and a "1|" value in the account's
    field is not of this layout either."""
    account = gateway.account()
    r = gateway.redis.client()
    now = int(time.time())
    old = "_" + b64url(os.urandom(32))[:42]      # random, no account id
    d = gateway.digest(old)
    r.set(PREFIX + "sess:" + d, "1|%s|user|pwd||%d|%d|%d||127.0.0.1|x||"
          "alice@example.com" % (account, now, now + 600, now), ex=600)
    r.hset(PREFIX + "acct:" + account, "s:" + d, now + 600)
    for cookie in (old, account + old[16:]):
        resp = get(gateway, "/app/", cookie=cookie, headers=JSON)
        assert resp.status_code == 401
        assert resp.json()["error"] == "unauthenticated"
        resp = get(gateway, "/guichet/session", cookie=cookie, headers=JSON)
        assert resp.status_code == 401
    # an "s:" field of the previous layout with this layout's cookie
    cookie = account + old[16:]
    r.hset(PREFIX + "acct:" + account, "s:" + gateway.digest(cookie),
           "1|%s|user|pwd||%d|%d|%d||127.0.0.1|x||alice@example.com"
           % (account, now, now + 600, now))
    resp = get(gateway, "/app/", cookie=cookie, headers=JSON)
    assert resp.status_code == 401
    assert "answering 503" not in gateway.error_log()


def test_session_is_a_field_of_its_account(gateway):
    """No key per session: the cookie names the account, and the session
    is that account hash's field "s:DIGEST" (docs/ARCHITECTURE.md)."""
    account = gateway.account(email="carol@example.com")
    cookie = gateway.session(account_id=account)
    assert cookie.startswith(account) and len(cookie) == 43
    r = gateway.redis.client()
    assert r.keys(PREFIX + "sess:*") == []
    assert r.hget(PREFIX + "acct:" + account, "s:" + gateway.digest(cookie))
    resp = get(gateway, "/app/", cookie=cookie)
    assert resp.status_code == 200
    assert "email=carol@example.com" in resp.text
    # the same random part under another account's id opens nothing
    other = gateway.account()
    resp = get(gateway, "/app/", cookie=other + cookie[16:], headers=JSON)
    assert resp.status_code == 401
    # nor does a value naming another account than its hash and cookie
    forged = other + cookie[16:]
    r.hset(PREFIX + "acct:" + other, "s:" + gateway.digest(forged),
           r.hget(PREFIX + "acct:" + account, "s:" + gateway.digest(cookie)))
    resp = get(gateway, "/app/", cookie=forged, headers=JSON)
    assert resp.status_code == 401
    assert get(gateway, "/guichet/session", cookie=forged,
               headers=JSON).status_code == 401
    assert "malformed session" in gateway.error_log()


def test_require_2fa(gateway):
    pwd = gateway.session(amr="pwd")
    otp = gateway.session(amr="pwd otp")
    sso = gateway.session(amr="sso")
    r = get(gateway, "/strong/x", cookie=pwd, headers=JSON)
    assert r.status_code == 403
    assert r.json()["error"] == "second_factor_required"
    r = get(gateway, "/strong/x", cookie=pwd, headers=HTML)
    assert r.status_code == 302
    assert "/guichet/2fa?return_to=/strong/x" in r.headers["Location"]
    assert get(gateway, "/strong/x", cookie=sso,
               headers=JSON).status_code == 403
    r = get(gateway, "/strong/x", cookie=otp)
    assert r.status_code == 200
    assert "amr=pwd otp" in r.text
    # the same session is enough where no second factor is asked for
    assert get(gateway, "/app/x", cookie=pwd).status_code == 200


def test_role(gateway):
    user = gateway.session(roles="user")
    sec = gateway.session(roles="user,security")
    r = get(gateway, "/security/logs", cookie=user, headers=JSON)
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    r = get(gateway, "/security/logs", cookie=sec)
    assert r.status_code == 200
    assert r.text.endswith(" roles=user,security\n")


def test_touch_at_most_once_a_minute(gateway):
    cookie = gateway.session(last_seen_ago=10)
    key = PREFIX + "sess:" + gateway.digest(cookie)
    r = gateway.redis.client()
    t0 = session_get(r, key)["t"]
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    time.sleep(0.2)
    assert session_get(r, key)["t"] == t0  # seen 10 s ago: no write
    # seen two minutes ago: last seen now, so idle again from now
    cookie = gateway.session(last_seen_ago=120)
    key = PREFIX + "sess:" + gateway.digest(cookie)
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    assert wait_until(lambda: abs(int(session_get(r, key)["t"])
                                  - time.time()) < 5, timeout=2)


def test_only_reads_on_the_hot_path(gateway):
    r = gateway.redis.client()
    cookie = gateway.session()
    before = r.info("commandstats")
    dirty = r.info("persistence")["rdb_changes_since_last_save"]
    for _ in range(10):
        assert get(gateway, "/app/", cookie=cookie).status_code == 200
    after = r.info("commandstats")
    # at most one plain HMGET per request (the session cache saves most),
    # no script, and no write: a fresh session is not touched

    def calls(name):
        return (after.get("cmdstat_" + name, {"calls": 0})["calls"]
                - before.get("cmdstat_" + name, {"calls": 0})["calls"])
    assert 1 <= calls("hmget") <= 10
    assert calls("eval") == 0 and calls("evalsha") == 0
    assert r.info("persistence")["rdb_changes_since_last_save"] == dirty


# ------------------------------------------------------ Redis trouble

def test_redis_down_fails_closed_and_recovers(gateway):
    gateway.expect_in_log.update(["redis connection lost",
                                  "cannot connect to redis"])
    cookie = gateway.session()
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    gateway.redis.stop()
    r = get(gateway, "/app/", cookie=cookie)
    assert r.status_code == 503
    assert "user=" not in r.text
    assert r.json()["error"] == "unavailable"
    assert r.headers["Content-Security-Policy"] == (
        "default-src 'self'; frame-ancestors 'none'")
    assert r.headers["Cache-Control"] == "no-store"
    assert get(gateway, "/open").status_code == 200
    assert get(gateway, "/app/", cookie=cookie).status_code == 503
    log = gateway.error_log()
    assert "[crit]" in log and "redis connection lost" in log
    assert "answering 503" in log

    gateway.redis.start()     # same port, empty data
    cookie = gateway.session()
    assert wait_until(lambda: get(gateway, "/app/", cookie=cookie)
                      .status_code == 200, timeout=10)
    assert "redis connection is back" in gateway.error_log()


def test_redis_stall_does_not_block_the_worker(gateway):
    """The non-blocking proof: while Redis sleeps 2 s, a gated request
    waits (and gets 503 after redis_timeout), and an ungated location on
    the same single worker still answers at once."""
    gateway.expect_in_log.add("redis connection lost")
    cookie = gateway.session()
    assert len(gateway.workers()) == 1
    assert get(gateway, "/app/", cookie=cookie).status_code == 200
    time.sleep(1.1)     # past the session cache's validity

    sleeper = threading.Thread(
        target=lambda: gateway.redis.client()
        .execute_command("DEBUG", "SLEEP", "2"))
    gated = {}

    def gated_request():
        t = time.monotonic()
        gated["status"] = get(gateway, "/app/", cookie=cookie).status_code
        gated["elapsed"] = time.monotonic() - t

    sleeper.start()
    time.sleep(0.1)
    g = threading.Thread(target=gated_request)
    g.start()
    time.sleep(0.05)

    worst = 0.0
    for _ in range(10):
        t = time.monotonic()
        r = get(gateway, "/open")
        worst = max(worst, time.monotonic() - t)
        assert r.status_code == 200
        time.sleep(0.05)

    g.join()
    sleeper.join()
    assert worst < 0.05, "ungated request took %.3f s" % worst
    assert gated["status"] == 503
    assert 0.3 < gated["elapsed"] < 1.9
    assert wait_until(lambda: get(gateway, "/app/", cookie=cookie)
                      .status_code == 200, timeout=10)


def test_client_gone_while_redis_answers(gateway):
    gateway.expect_in_log.add("redis connection lost")
    cookie = gateway.session()
    workers = gateway.workers()
    sleeper = threading.Thread(
        target=lambda: gateway.redis.client()
        .execute_command("DEBUG", "SLEEP", "0.4"))
    sleeper.start()
    time.sleep(0.05)
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", gateway.port))
        s.sendall(b"GET /app/ HTTP/1.1\r\nHost: x\r\nCookie: guichet="
                  + cookie.encode() + b"\r\n\r\n")
        s.close()
    sleeper.join()
    time.sleep(0.6)
    assert wait_until(lambda: get(gateway, "/app/", cookie=cookie)
                      .status_code == 200, timeout=10)
    assert gateway.workers() == workers


def test_reload_while_requests_flow(gateway):
    cookie = gateway.session()
    statuses = []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                statuses.append(get(gateway, "/app/", cookie=cookie)
                                .status_code)
            except requests.ConnectionError:
                statuses.append("connection error")

    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    old = gateway.workers()
    gateway.reload()
    assert wait_until(lambda: gateway.workers() != old
                      and len(gateway.workers()) == 1, timeout=10)
    time.sleep(0.3)
    stop.set()
    t.join()
    assert len(statuses) > 10
    assert set(statuses) == {200}, statuses
    assert get(gateway, "/app/", cookie=cookie).status_code == 200


# ----------------------------------------------------- configuration

def run_t(gateway, conf_text=None, nginx_text=None):
    if conf_text is not None:
        with open(os.path.join(gateway.tmp, "guichet.conf"), "w") as f:
            f.write(conf_text)
    if nginx_text is not None:
        with open(os.path.join(gateway.tmp, "nginx.conf"), "w") as f:
            f.write(nginx_text)
    return subprocess.run(gateway.nginx_cmd("-t"), capture_output=True,
                          text=True, env=nginx_env(gateway.tmp))


def test_bad_guichet_conf_fails_nginx_t(gateway):
    gateway.expect_in_log.add("guichet.conf")
    path = os.path.join(gateway.tmp, "guichet.conf")
    with open(path) as f:
        good = f.read()
    assert run_t(gateway).returncode == 0
    p = run_t(gateway, conf_text=good + "no_such_key = 1\n")
    assert p.returncode != 0
    assert "[emerg]" in p.stderr
    assert "guichet.conf:%d:" % (good.count("\n") + 1) in p.stderr
    p = run_t(gateway, conf_text=good.replace("127.0.0.1:",
                                              "localhost:"))
    assert p.returncode != 0 and "[emerg]" in p.stderr
    run_t(gateway, conf_text=good)


def test_bad_directives_fail_nginx_t(gateway):
    gateway.expect_in_log.update(["unknown role", "nopool",
                                  "guichet_config"])
    path = os.path.join(gateway.tmp, "nginx.conf")
    with open(path) as f:
        good = f.read()
    p = run_t(gateway, nginx_text=good.replace("guichet_role security",
                                               "guichet_role root"))
    assert p.returncode != 0 and "unknown role" in p.stderr
    p = run_t(gateway, nginx_text=good.replace(
        "guichet_threads guichet_pool;", "guichet_threads nopool;"))
    assert p.returncode != 0 and "nopool" in p.stderr
    p = run_t(gateway, nginx_text=good.replace(
        "    guichet_config", "    # guichet_config"))
    assert p.returncode != 0 and "guichet_config" in p.stderr
    run_t(gateway, nginx_text=good)


# ------------------------------------------------- Redis connection setup

def test_redis_password_and_db(make_gateway, tmp_path):
    pw = tmp_path / "redis.pw"
    pw.write_text("s3cret-redis-password\n")
    pw.chmod(0o600)
    gw = make_gateway(password="s3cret-redis-password", db=3,
                      extra_conf="redis_password_file = %s\nredis_db = 3\n"
                      % pw)
    cookie = gw.session()
    r = get(gw, "/app/", cookie=cookie)
    assert r.status_code == 200
    # the gate reads database 3: the same session in database 0 is unknown
    gw.db = 0
    cookie0 = gw.session()
    assert get(gw, "/app/", cookie=cookie0, headers=JSON).status_code == 401


def test_redis_wrong_password_fails_closed(make_gateway, tmp_path):
    pw = tmp_path / "redis.pw"
    pw.write_text("not-the-password\n")
    pw.chmod(0o600)
    gw = make_gateway(password="s3cret-redis-password",
                      extra_conf="redis_password_file = %s\n" % pw)
    gw.expect_in_log.update(["redis AUTH failed", "redis connection lost"])
    cookie = gw.session()
    assert get(gw, "/app/", cookie=cookie).status_code == 503
    assert "redis AUTH failed" in gw.error_log()
    assert "s3cret" not in gw.error_log()
    assert "not-the-password" not in gw.error_log()


def test_redis_unix_socket(make_gateway):
    gw = make_gateway(unix=True)
    cookie = gw.session()
    r = get(gw, "/app/", cookie=cookie)
    assert r.status_code == 200
    assert "email=alice@example.com" in r.text


def test_redirect_goes_to_the_endpoints_location(tmp_path, redis_server):
    """The login page is where guichet_endpoints is, not a fixed path."""
    g = Gateway(str(tmp_path), redis_server)
    conf = os.path.join(g.tmp, "nginx.conf")
    with open(conf) as f:
        text = f.read()
    assert "location /guichet/ {" in text
    with open(conf, "w") as f:
        f.write(text.replace("location /guichet/ {", "location /auth/ {"))
    g.start()
    try:
        r = get(g, "/app/x", headers=HTML)
        assert r.status_code == 302
        loc = urllib.parse.urlsplit(r.headers["Location"])
        assert (loc.path, loc.query) == ("/auth/login", "return_to=/app/x")
        assert get(g, "/auth/login").status_code == 200
    finally:
        g.stop()
        check_error_log(g)
