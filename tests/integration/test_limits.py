"""Limits on guessing, as an attacker tries them: second-factor guesses
spread over many sign-ins from many addresses, and bursts of parallel
requests that race the counters. Every limit is counted before the check,
so N parallel attempts never get more checks than N sequential ones."""

import re
import threading

import requests
from requests.adapters import HTTPAdapter

from conftest import PREFIX
from login_helpers import (DEFAULT_EXTRA, gw, hidden,  # noqa: F401
                           make_gateway, post_code, post_login,
                           stop_gateway, totp, wait_words)

PASSWORD = "correct horse battery"
FREE = 3          # throttle_free of DEFAULT_EXTRA


class SourceAdapter(HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8)."""

    def __init__(self, address, **kw):
        self.address = address
        super().__init__(**kw)

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kw)


def from_address(address):
    s = requests.Session()
    adapter = SourceAdapter(address)
    s.mount("http://", adapter)
    return s


def wrong_code(secret):
    right = {totp(secret, t) for t in (0,)} | {totp(secret)}
    for c in ("000000", "111111", "222222", "333333"):
        if c not in right:
            return c
    raise AssertionError("unreachable")


def parallel(n, fn):
    """Runs fn(i) in n threads released at once; returns the results."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


SLOW = DEFAULT_EXTRA.replace("throttle_max_delay = 2s",
                             "throttle_max_delay = 1m")


def test_second_factor_guesses_count_across_sign_ins(tmp_path,
                                                     redis_server):
    """Log in, try codes, log in again from another address: the account's
    second-factor counter is never reset by a correct password."""
    g = make_gateway(tmp_path, redis_server, SLOW)
    try:
        guesses_across_sign_ins(g)
    finally:
        stop_gateway(g)


def guesses_across_sign_ins(gw):
    gw.add_user("tina@example.com", PASSWORD)
    secret = gw.enroll_totp("tina@example.com")
    wrong = wrong_code(secret)

    checked = throttled = 0
    for i in range(6):
        s = from_address("127.0.0.%d" % (20 + i))
        s, r = post_login(gw, "tina@example.com", PASSWORD, session=s)
        assert r.status_code == 303, r.text
        assert r.headers["Location"] == "/guichet/2fa"
        for _ in range(3):
            r = post_code(gw, s, wrong)
            if r.status_code == 429:
                throttled += 1
                assert int(r.headers["Retry-After"]) >= 1
                assert "Try again in %s" % wait_words(
                    int(r.headers["Retry-After"])) in r.text
            else:
                assert r.status_code == 401, r.status_code
                checked += 1
            if r.status_code == 401 and "sign in again" in r.text:
                break

    # FREE checks, one that sets the first delay (2 s, then 3, 5...);
    # only a very slow run could see a delay end and get one more
    assert checked <= FREE + 2, checked
    assert throttled >= 10, throttled

    rd = gw.redis.client()
    keys = list(rd.scan_iter(PREFIX + "thr:2f:*"))
    assert len(keys) == 1
    assert int(rd.hget(keys[0], "n")) == checked

    failures = [e for e in gw.log_entries() if e["v"] == "2fa.failure"]
    assert len(failures) == checked
    assert any(e["v"] == "throttled" and e["c"] == "2fa"
               for e in gw.log_entries())


def test_correct_code_resets_the_second_factor_counter(gw):
    gw.add_user("una@example.com", PASSWORD)
    secret = gw.enroll_totp("una@example.com")
    s, r = post_login(gw, "una@example.com", PASSWORD)
    assert r.status_code == 303
    for _ in range(2):
        assert post_code(gw, s, wrong_code(secret)).status_code == 401
    rd = gw.redis.client()
    assert len(list(rd.scan_iter(PREFIX + "thr:2f:*"))) == 1
    r = post_code(gw, s, totp(secret))
    assert r.status_code == 303, r.text
    assert list(rd.scan_iter(PREFIX + "thr:2f:*")) == []


def test_parallel_wrong_passwords_get_no_more_checks(tmp_path,
                                                     redis_server):
    g = make_gateway(tmp_path, redis_server, SLOW)
    try:
        g.add_user("vic@example.com", PASSWORD)

        def attempt(i):
            s = from_address("127.0.0.%d" % (40 + i))
            _, r = post_login(g, "vic@example.com", "wrong %d" % i,
                              session=s)
            return r.status_code

        statuses = parallel(16, attempt)
        assert set(statuses) <= {401, 429}, statuses
        # sequentially: FREE checks, one more that sets the delay
        assert statuses.count(401) <= FREE + 1, statuses
        failures = [e for e in g.log_entries()
                    if e["v"] == "login.failure"]
        assert len(failures) == statuses.count(401)
    finally:
        stop_gateway(g)


def test_parallel_wrong_codes_on_one_pending_state(tmp_path, redis_server):
    # the account counter out of the way: the pending state's own limit
    g = make_gateway(tmp_path, redis_server,
                     DEFAULT_EXTRA.replace("throttle_free = 3",
                                           "throttle_free = 50"))
    try:
        g.add_user("wes@example.com", PASSWORD)
        secret = g.enroll_totp("wes@example.com")
        s, r = post_login(g, "wes@example.com", PASSWORD)
        assert r.status_code == 303
        page = s.get(g.url + "/guichet/2fa", timeout=5)
        token = hidden(page.text, "csrf")
        jar = s.cookies.get_dict()
        wrong = wrong_code(secret)

        def attempt(i):
            r = requests.post(g.url + "/guichet/2fa", cookies=jar,
                              data={"code": wrong, "csrf": token},
                              allow_redirects=False, timeout=10)
            return r.status_code

        statuses = parallel(16, attempt)
        failures = [e for e in g.log_entries()
                    if e["v"] == "2fa.failure" and e["c"] == "bad_code"]
        # five tries per pending state, however the requests interleave
        assert len(failures) <= 4, statuses
        assert not list(g.redis.client().scan_iter(PREFIX + "pending:*"))
    finally:
        stop_gateway(g)


def test_parallel_wrong_codes_across_pending_states(tmp_path,
                                                   redis_server):
    g = make_gateway(tmp_path, redis_server, SLOW)
    try:
        codes_across_pending_states(g)
    finally:
        stop_gateway(g)


def codes_across_pending_states(gw):
    gw.add_user("xia@example.com", PASSWORD)
    secret = gw.enroll_totp("xia@example.com")
    wrong = wrong_code(secret)
    sessions = []
    for i in range(12):
        s, r = post_login(gw, "xia@example.com", PASSWORD,
                          session=from_address("127.0.0.%d" % (60 + i)))
        assert r.status_code == 303
        sessions.append(s)

    def attempt(i):
        return post_code(gw, sessions[i], wrong).status_code

    statuses = parallel(12, attempt)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= FREE + 1, statuses


def test_reauth_guesses_are_reserved(tmp_path, redis_server):
    g = make_gateway(tmp_path, redis_server, SLOW)
    try:
        g.add_user("yan@example.com", PASSWORD)
        s, r = post_login(g, "yan@example.com", PASSWORD)
        assert r.status_code == 303
        page = s.get(g.url + "/guichet/account/reauth", timeout=5)
        assert page.status_code == 200, page.status_code
        token = hidden(page.text, "csrf")
        jar = s.cookies.get_dict()

        def attempt(i):
            r = requests.post(g.url + "/guichet/account/reauth",
                              cookies=jar,
                              data={"password": "wrong %d" % i,
                                    "csrf": token},
                              allow_redirects=False, timeout=30)
            return r.status_code

        statuses = parallel(12, attempt)
        assert set(statuses) <= {401, 429}, statuses
        assert statuses.count(401) <= FREE + 1, statuses
    finally:
        stop_gateway(g)


def test_anomalies_report_second_factor_burst(gw):
    gw.add_user("zoe@example.com", PASSWORD)
    secret = gw.enroll_totp("zoe@example.com")
    wrong = wrong_code(secret)
    for i in range(3):
        s, r = post_login(gw, "zoe@example.com", PASSWORD,
                          session=from_address("127.0.0.%d" % (80 + i)))
        assert r.status_code == 303
        for _ in range(2):
            post_code(gw, s, wrong)
    p = gw.ctl("logs", "anomalies", "--json")
    assert p.returncode == 0, p.stderr
    assert re.search(r'"rule":\s*"second_factor_burst"', p.stdout), p.stdout


def test_parallel_enrolment_codes_are_reserved(tmp_path, redis_server):
    from account_helpers import enrol_start, login, reauth
    g = make_gateway(tmp_path, redis_server, SLOW)
    try:
        g.add_user("alice@example.com", PASSWORD)
        s = login(g)
        assert reauth(g, s).status_code == 303
        secret, token = enrol_start(g, s)
        jar = s.cookies.get_dict()
        wrong = wrong_code(secret)

        def attempt(i):
            r = requests.post(g.url + "/guichet/account/totp", cookies=jar,
                              data={"csrf": token, "action": "enable",
                                    "code": wrong},
                              allow_redirects=False, timeout=30)
            return r.status_code

        statuses = parallel(12, attempt)
        assert set(statuses) <= {401, 429}, statuses
        assert statuses.count(401) <= FREE + 1, statuses
        assert any(e["v"] == "throttled" and e["c"] == "totp_enrol"
                   for e in g.log_entries())
    finally:
        stop_gateway(g)
