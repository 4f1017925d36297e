"""The login, logout and session endpoints against a real nginx and a real
Redis: statuses, pages, cookies, CSRF, redirects, throttling, what Redis
holds and what the connection log records."""

import json
import os
import re
import subprocess
import threading
import time

import requests

from conftest import (NGINX, PREFIX, nginx_env, session_exists, session_get,
                      session_names)
from login_helpers import (gw, hidden, login_form, make_gateway,  # noqa: F401
                           post_login, set_cookies, stop_gateway)

PASSWORD = "correct horse battery"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assert_security_headers(r):
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get(name) == value, (name, r.headers)


def session_cookie(r):
    for c in set_cookies(r):
        m = re.match(r"guichet=([^;]*);", c)
        if m:
            return m.group(1), c
    return None, None


def events(gw, name=None):
    return [e for e in gw.log_entries() if name is None or e["v"] == name]


def all_redis_text(gw):
    r = gw.redis.client()
    out = []
    for k in r.scan_iter("*"):
        out.append(k)
        t = r.type(k)
        if t == "hash":
            out += [str(x) for kv in r.hgetall(k).items() for x in kv]
        elif t == "string":
            out.append(r.get(k))
        elif t == "zset":
            out += r.zrange(k, 0, -1)
        elif t == "set":
            out += list(r.smembers(k))
        elif t == "stream":
            for _, f in r.xrange(k):
                out += [str(x) for kv in f.items() for x in kv]
    return "\n".join(out)


def test_login_form(gw):
    s, token, r = login_form(gw, return_to="/app/x?y=1")
    assert_security_headers(r)
    assert r.headers["Content-Type"].startswith("text/html")
    assert hidden(r.text, "return_to") == "/app/x?y=1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.\d+", token)
    (c,) = set_cookies(r)
    assert c.startswith("guichet_csrf=")
    for flag in ("Path=/", "HttpOnly", "SameSite=Lax"):
        assert flag in c
    assert "Domain" not in c and "Secure" not in c
    # the same browser keeps its CSRF cookie
    r2 = s.get(gw.url + "/guichet/login", timeout=5)
    assert set_cookies(r2) == []
    # the stylesheet the page links to is served
    css = requests.get(gw.url + "/guichet/guichet.css", timeout=5)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert requests.get(gw.url + "/guichet/nope", timeout=5).status_code \
        == 404


def test_login_success_without_totp(gw):
    account = gw.add_user("alice@example.com", PASSWORD)
    s, r = post_login(gw, "Alice@Example.com", PASSWORD,
                      return_to="/app/page")
    assert r.status_code == 303
    assert r.headers["Location"] == "/app/page"
    assert_security_headers(r)
    cookie, raw = session_cookie(r)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie)
    for flag in ("Path=/", "HttpOnly", "SameSite=Lax"):
        assert flag in raw
    assert "Domain" not in raw and "Secure" not in raw
    assert "Max-Age" not in raw

    rd = gw.redis.client()
    digest = gw.digest(cookie)
    sess = session_get(rd, PREFIX + "sess:" + digest)
    assert sess["a"] == account and sess["m"] == "pwd"
    assert sess["e"] == "alice@example.com"
    # the account hash's field s:DIGEST, no key of its own; the cookie
    # begins with the account id
    assert cookie.startswith(account)
    assert rd.hget(PREFIX + "acct:" + account, "s:" + digest).startswith(
        "2|" + account + "|")
    assert rd.keys(PREFIX + "sess:*") == []
    assert 0 <= time.time() - int(sess["t"]) < 60
    # Redis holds the digest only, never the token or the password
    text = all_redis_text(gw)
    assert cookie not in text and PASSWORD not in text

    app = s.get(gw.url + "/app/", timeout=5)
    assert app.status_code == 200
    assert "user=%s" % account in app.text and "amr=pwd" in app.text

    ev = events(gw, "login.success")
    assert len(ev) == 1 and ev[0]["r"] == "ok"
    assert gw.account_of(ev[0]) == account != ev[0]["a"]
    assert ev[0]["d"] == digest[:8]


def test_session_json(gw):
    r = requests.get(gw.url + "/guichet/session", timeout=5)
    assert r.status_code == 401
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] == "unauthenticated"
    assert_security_headers(r)

    account = gw.add_user("bob@example.com", PASSWORD, role="user,security")
    before = int(time.time())
    s, r = post_login(gw, "bob@example.com", PASSWORD)
    assert r.status_code == 303
    j = s.get(gw.url + "/guichet/session", timeout=5).json()
    assert j["user"] == account and j["email"] == "bob@example.com"
    assert j["roles"] == ["user", "security"] and j["amr"] == ["pwd"]
    assert j["partner"] is None
    assert before <= j["created_at"] <= before + 5
    assert j["expires_at"] == j["created_at"] + 12 * 3600

    forged = requests.get(gw.url + "/guichet/session", timeout=5,
                          cookies={"guichet": "A" * 43})
    assert forged.status_code == 401


def test_csrf_missing_or_wrong(gw):
    gw.add_user("carol@example.com", PASSWORD)
    for csrf in ("", "x" * 43 + ".99999999999", None):
        s = requests.Session()
        s.get(gw.url + "/guichet/login", timeout=5)
        data = {"email": "carol@example.com", "password": PASSWORD}
        if csrf is not None:
            data["csrf"] = csrf
        r = s.post(gw.url + "/guichet/login", data=data,
                   allow_redirects=False, timeout=10)
        assert r.status_code == 403
        assert session_cookie(r) == (None, None)
        assert_security_headers(r)

    # a token from another browser (bound to another CSRF cookie)
    _, other_token, _ = login_form(gw)
    s, r = post_login(gw, "carol@example.com", PASSWORD, csrf=other_token)
    assert r.status_code == 403

    assert session_names(gw.redis.client()) == []
    ev = events(gw, "login.failure")
    assert len(ev) == 4 and all(e["c"] == "csrf" for e in ev)
    assert ev[0]["e"] == "carol@example.com"


def test_unknown_and_wrong_password_look_the_same(gw):
    gw.add_user("dave@example.com", PASSWORD)
    s = requests.Session()
    _, wrong = post_login(gw, "dave@example.com", "not the password",
                          session=s, return_to="/")
    _, unknown = post_login(gw, "nobody@example.com", "not the password",
                            session=s, return_to="/")
    assert wrong.status_code == unknown.status_code == 401

    def normal(text):
        text = re.sub(r'name="csrf" value="[^"]*"', "", text)
        return re.sub(r'name="email" value="[^"]*"', "", text)

    assert normal(wrong.text) == normal(unknown.text)
    assert "Incorrect email address or password." in wrong.text
    assert set_cookies(wrong) == set_cookies(unknown) == []
    reasons = [e["c"] for e in events(gw, "login.failure")]
    assert reasons == ["bad_credentials", "bad_credentials"]
    # an unknown account's failure keeps the email as typed
    assert events(gw, "login.failure")[1]["e"] == "nobody@example.com"


def test_locked_account_gets_the_same_401(gw):
    gw.add_user("erin@example.com", PASSWORD)
    assert gw.ctl("user", "lock", "erin@example.com").returncode == 0
    _, r = post_login(gw, "erin@example.com", PASSWORD)
    assert r.status_code == 401
    assert "Incorrect email address or password." in r.text
    assert session_cookie(r) == (None, None)
    assert events(gw, "login.failure")[-1]["c"] == "locked"


def test_open_redirects_become_root(gw):
    gw.add_user("frank@example.com", PASSWORD)
    hostile = ["//evil.example", "/\\evil.example", "https://evil.example/",
               "%2F%2Fevil.example", "/ok\r\nSet-Cookie: x=1",
               "javascript:alert(1)", "/%0d%0aX: y", "\\\\evil"]
    s = requests.Session()
    for target in hostile:
        _, r = post_login(gw, "frank@example.com", PASSWORD, session=s,
                          return_to=target)
        assert r.status_code == 303, target
        assert r.headers["Location"] == "/", target
        assert "x=1" not in r.headers.get("Set-Cookie", "")
    # and the login page does not echo them either
    _, _, page = login_form(gw, return_to="//evil.example")
    assert hidden(page.text, "return_to") == "/"


def test_throttling_kicks_in_and_lifts(gw):
    gina = gw.add_user("gina@example.com", PASSWORD)
    s = requests.Session()
    # throttle_free = 3: the 4th failure sets a 1 s delay
    for _ in range(4):
        _, r = post_login(gw, "gina@example.com", "wrong password",
                          session=s)
        assert r.status_code == 401
    _, r = post_login(gw, "gina@example.com", PASSWORD, session=s)
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 2
    assert session_cookie(r) == (None, None)
    # the same for another spelling of the same identifier
    _, r = post_login(gw, "GINA@example.com", PASSWORD, session=s)
    assert r.status_code == 429
    # an unknown account is throttled the same way
    for _ in range(4):
        _, r = post_login(gw, "ghost@example.com", "wrong", session=s)
        assert r.status_code == 401
    _, r = post_login(gw, "ghost@example.com", "wrong", session=s)
    assert r.status_code == 429

    th = events(gw, "throttled")
    assert len(th) == 3 and th[0]["r"] == "fail"
    # a known address's entries name its account, its email sealed
    assert gw.account_of(th[0]) == gw.account_of(th[1]) == gina
    assert th[2]["e"] == "ghost@example.com"

    time.sleep(wait + 0.2)
    _, r = post_login(gw, "gina@example.com", PASSWORD, session=s)
    assert r.status_code == 303
    # success reset the identifier's counter
    rd = gw.redis.client()
    keys = list(rd.scan_iter(PREFIX + "thr:id:*"))
    assert len(keys) == 1        # only ghost's is left
    # the counters hold no address or email in clear
    thr = list(rd.scan_iter(PREFIX + "thr:*"))
    assert len(thr) == 2         # ghost's identifier, the IP
    text = "".join(thr + [str(rd.hgetall(k)) for k in thr])
    assert "127.0.0.1" not in text and "ghost" not in text


def test_throttled_entries_name_the_account(gw):
    """A throttled login attempt on a known address is logged for its
    account (guichetctl logs --account finds it), while the answer is
    the same as for an unknown address."""
    hana = gw.add_user("hana@example.com", PASSWORD)
    answers = {}
    for email in ("hana@example.com", "nobody@example.com"):
        s = requests.Session()
        for _ in range(4):
            _, r = post_login(gw, email, "wrong password", session=s)
            assert r.status_code == 401
        _, r = post_login(gw, email, PASSWORD, session=s)
        assert r.status_code == 429
        body = re.sub(r'name="csrf" value="[^"]*"', "", r.text)
        # the wait left may round to another second on a slow machine
        body = re.sub(r"Try again in [^.<]*\.", "", body)
        answers[email] = (r.status_code, "Retry-After" in r.headers,
                          body.replace(email, "E"), session_cookie(r))
    assert answers["hana@example.com"] == answers["nobody@example.com"]

    th = events(gw, "throttled")
    assert [e["c"] for e in th] == ["login", "login"]
    # hana's names her account (her email sealed with it); the unknown
    # address is kept as typed, as before
    assert gw.account_of(th[0]) == hana
    assert "x" in th[0] and "e" not in th[0]
    assert "a" not in th[1] and th[1]["e"] == "nobody@example.com"

    p = gw.ctl("logs", "--account", "hana@example.com", "--event",
               "throttled", "--json")
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["account"] == hana
    assert rows[0]["email"] == "hana@example.com"


def test_oversized_body_413(gw):
    _, token, _ = login_form(gw)
    r = requests.post(gw.url + "/guichet/login",
                      data={"email": "a@example.com", "csrf": token,
                            "password": "x" * 9000},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 413

    def chunks():
        for _ in range(10):
            yield b"a" * 1000

    r = requests.post(gw.url + "/guichet/login", data=chunks(),
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 413
    assert events(gw, "login.failure") == []


def test_malformed_forms_change_nothing(gw):
    gw.add_user("hank@example.com", PASSWORD)
    s, token, _ = login_form(gw)
    bodies = ["email=hank%40example.com&password=%zz&csrf=" + token,
              "email=hank%40example.com&email=x&password=a&csrf=" + token,
              "password=" + PASSWORD + "&csrf=" + token,
              "\x00\x01\x02"]
    for body in bodies:
        r = s.post(gw.url + "/guichet/login", data=body,
                   headers={"Content-Type":
                            "application/x-www-form-urlencoded"},
                   allow_redirects=False, timeout=10)
        assert r.status_code in (401, 403), body
        assert session_cookie(r) == (None, None)
    assert session_names(gw.redis.client()) == []


def test_logout_one_and_all(gw):
    account = gw.add_user("ivy@example.com", PASSWORD)
    s1, r = post_login(gw, "ivy@example.com", PASSWORD)
    c1, _ = session_cookie(r)
    s2, r = post_login(gw, "ivy@example.com", PASSWORD)
    c2, _ = session_cookie(r)
    s3, r = post_login(gw, "ivy@example.com", PASSWORD)
    c3, _ = session_cookie(r)
    rd = gw.redis.client()

    page = s1.get(gw.url + "/guichet/logout", timeout=5)
    assert page.status_code == 200
    assert_security_headers(page)
    token = hidden(page.text, "csrf")
    assert token

    # no token, or another session's token: refused, nothing ends
    r = s1.post(gw.url + "/guichet/logout", data={},
                allow_redirects=False, timeout=5)
    assert r.status_code == 403
    tok2 = hidden(s2.get(gw.url + "/guichet/logout", timeout=5).text,
                  "csrf")
    r = s1.post(gw.url + "/guichet/logout", data={"csrf": tok2},
                allow_redirects=False, timeout=5)
    assert r.status_code == 403
    assert s1.get(gw.url + "/app/", timeout=5).status_code == 200

    r = s1.post(gw.url + "/guichet/logout", data={"csrf": token},
                allow_redirects=False, timeout=5)
    assert r.status_code == 303
    assert r.headers["Location"] == "/guichet/login?signed_out=1"
    (cleared,) = set_cookies(r)
    assert cleared.startswith("guichet=;") and "Max-Age=0" in cleared
    assert not session_exists(rd, PREFIX + "sess:" + gw.digest(c1))
    assert not rd.hexists(PREFIX + "acct:" + account, "s:" + gw.digest(c1))
    assert rd.hexists(PREFIX + "acct:" + account, "s:" + gw.digest(c2))
    gone = requests.get(gw.url + "/app/", cookies={"guichet": c1},
                        timeout=5)
    assert gone.status_code == 401
    # the other sessions live on
    assert s2.get(gw.url + "/app/", timeout=5).status_code == 200

    r = s2.post(gw.url + "/guichet/logout", data={"csrf": tok2, "all": "1"},
                allow_redirects=False, timeout=5)
    assert r.status_code == 303
    for c in (c2, c3):
        assert requests.get(gw.url + "/app/", cookies={"guichet": c},
                            timeout=5).status_code == 401
        assert not session_exists(rd, PREFIX + "sess:" + gw.digest(c))
    assert not [f for f in rd.hkeys(PREFIX + "acct:" + account)
                if f.startswith("s:")]
    assert rd.hget(PREFIX + "acct:" + account, "email")

    lo = events(gw, "logout")
    assert [e.get("c", "") for e in lo] == ["", "all"]
    assert all(gw.account_of(e) == account for e in lo)

    # without a session, logout only clears the cookie
    r = requests.post(gw.url + "/guichet/logout", allow_redirects=False,
                      timeout=5)
    assert r.status_code == 303


def test_redis_down_is_503(gw):
    gw.add_user("jay@example.com", PASSWORD)
    s, token, _ = login_form(gw)
    gw.expect_in_log.add("redis")
    gw.redis.stop()
    try:
        r = s.post(gw.url + "/guichet/login",
                   data={"email": "jay@example.com", "password": PASSWORD,
                         "csrf": token},
                   allow_redirects=False, timeout=10)
        assert r.status_code == 503
        assert session_cookie(r) == (None, None)
        r = s.get(gw.url + "/guichet/session", timeout=5,
                  cookies={"guichet": "A" * 43})
        assert r.status_code == 503
    finally:
        gw.redis.start()


def test_ungated_location_answers_while_hashing(tmp_path, redis_server):
    heavy = ("argon2_t = 4\nargon2_m = 512m\nargon2_p = 1\n"
             "throttle_free = 100\n")
    g = make_gateway(tmp_path, redis_server, heavy)
    try:
        g.add_user("kim@example.com", PASSWORD)
        s, token, _ = login_form(g)
        done = {}

        def login():
            t = time.monotonic()
            done["r"] = s.post(g.url + "/guichet/login",
                               data={"email": "kim@example.com",
                                     "password": PASSWORD, "csrf": token},
                               allow_redirects=False, timeout=60)
            done["t"] = time.monotonic() - t

        th = threading.Thread(target=login)
        th.start()
        time.sleep(0.2)
        worst = 0.0
        while th.is_alive():
            t = time.monotonic()
            assert requests.get(g.url + "/open", timeout=5).status_code \
                == 200
            worst = max(worst, time.monotonic() - t)
            time.sleep(0.05)
        th.join()
        assert done["r"].status_code == 303
        # the hash took long; the single worker kept answering meanwhile
        assert done["t"] > 0.5
        assert worst < done["t"] / 2
    finally:
        stop_gateway(g)


def test_endpoints_without_threads_is_a_config_error(tmp_path,
                                                     redis_server):
    g = make_gateway(tmp_path, redis_server)
    stop_gateway(g)
    conf = os.path.join(g.tmp, "nginx.conf")
    with open(conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text.replace("guichet_threads guichet_pool;", ""))
    p = subprocess.run([NGINX, "-t", "-p", g.tmp, "-c", conf,
                        "-e", os.path.join(g.tmp, "error.log")],
                       capture_output=True, text=True, timeout=30,
                       env=nginx_env(g.tmp))
    assert p.returncode != 0
    assert "guichet_threads" in p.stderr


def test_hashing_threads_yield_to_the_event_loop(gw):
    """argon2 runs in the pool's threads under SCHED_IDLE, the worker's
    event loop under the normal policy, so that a CPU shared with hashing
    still serves requests first."""
    gw.add_user("ida@example.com", PASSWORD)
    _, r = post_login(gw, "ida@example.com", PASSWORD)
    assert r.status_code == 303

    def policy(pid, tid):
        with open("/proc/%d/task/%d/sched" % (pid, tid)) as f:
            m = re.search(r"^policy\s*:\s*(\d+)", f.read(), re.M)
        return int(m.group(1))

    (worker,) = gw.workers()
    tids = [int(t) for t in os.listdir("/proc/%d/task" % worker)]
    policies = {tid: policy(worker, tid) for tid in tids}
    assert policies.pop(worker) == 0            # SCHED_OTHER
    assert 5 in policies.values()               # SCHED_IDLE: the hasher
