"""Guichet's performance targets (SPEC 9), measured on this machine.

Starts a private redis-server and nginx (one worker, keep-alive,
access_log off, open_file_cache, a thread pool for argon2) on free
127.0.0.1 ports in a temporary directory, logs one account in through the
real endpoint, then measures with wrk:
  1. req/s, p50, p99 of "return 200" (ceiling), a static file (plain) and
     the same file behind the gate with a valid session (gated), in
     rounds of rotating order, nginx and wrk pinned to different CPUs; the
     median round and the median of the rounds' gated/plain ratios;
  2. gated p99 from an open-loop probe (1000 req/s on schedule) idle, and
     while 32 connections log another account in continuously;
  3. an ungated request's latency while Redis is stalled (DEBUG SLEEP 2);
  2b. the miss path: a second nginx with the session cache off, 100 000
     distinct valid sessions in turn (bench/miss.lua), req/s against the
     same location ungated, nginx and Redis CPU per request
     (/proc/PID/stat) and Redis commands per request (INFO commandstats);
  4. Redis bytes per session over 100k sessions written by the real
     session script, one session per account (the worst case) and three;
and prints PASS or MISS per target. docs/PERFORMANCE.md explains it."""

import base64
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import redis
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
MODULE = os.path.join(BUILD, "ngx_http_guichet_module.so")
CTL = os.path.join(BUILD, "guichetctl")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
# which parts to run: "throughput,miss,latency,stall,memory" by default
ONLY = os.environ.get("BENCH_ONLY", "throughput,miss,latency,stall,memory")
MISS_SESSIONS = int(os.environ.get("BENCH_MISS_SESSIONS", "100000"))
NCPU = os.cpu_count() or 1
# during the throughput rounds nginx's worker runs on CPU 0, wrk and Redis
# on the others, so that they do not steal each other's core from round
# to round (BENCH_PIN=0 to let the scheduler place them)
PIN = (os.environ.get("BENCH_PIN", "1") == "1" and NCPU >= 2
       and shutil.which("taskset") is not None)
CONNS = 32
PROBE_RATE = int(os.environ.get("BENCH_PROBE_RATE", "1000"))
# argon2 threads: on a small machine, one core fewer than it has leaves
# the event loop a core of its own
THREADS = int(os.environ.get("BENCH_HASH_THREADS",
                             str(max(1, (os.cpu_count() or 2) - 1))))
EMAIL = "bench@example.com"
# the login load signs in another account: each of its logins opens a
# session, and past AC_SESSIONS_MAX (50) the oldest would be ended, the
# probe's among them
LOAD_EMAIL = "load@example.com"
PASSWORD = "bench-password-2026"

NGINX_CONF = """
load_module {module};
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_processes 1;

thread_pool guichet threads={threads};

events {{ worker_connections 1024; }}

http {{
    access_log off;
    keepalive_requests 1000000;
    open_file_cache max=100 inactive=60s;
    default_type text/html;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    guichet_config {tmp}/guichet.conf;
    guichet_threads guichet;
{http_extra}
    server {{
        listen 127.0.0.1:{port} backlog=1024;

        location = /ceiling {{ return 200 "ok\\n"; }}
        location /plain/ {{ alias {tmp}/www/; }}
        location /gated/ {{ guichet on; alias {tmp}/www/; }}
        location /guichet/ {{ guichet_endpoints; }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def lua_literal(source, name):
    """The text of a C string constant made of adjacent literals."""
    m = re.search(r"%s\[\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+);" % name,
                  source)
    parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))
    return "".join(parts).encode().decode("unicode_escape")


def lua_macro(source, name):
    """The text of a C macro made of adjacent string literals."""
    m = re.search(r"#define %s\b[^\n]*\\\n((?:[^\n]*\\\n)*[^\n]*\n)"
                  % name, source)
    parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))
    return "".join(parts).encode().decode("unicode_escape")


def session_create_script():
    """authcore's session-creation script, read from its source (with the
    session helpers of authcore/src/internal.h it begins with)."""
    with open(os.path.join(ROOT, "authcore", "src", "session.c")) as f:
        src = f.read()
    with open(os.path.join(ROOT, "authcore", "src", "internal.h")) as f:
        helpers = lua_macro(f.read(), "AC_SESSION_LUA")
    assert re.search(r"ac_session_create_lua\[\] =\s*"
                     r"AC_SESSION_CREATE_LUA\s*\"return 1\\n\";", src), \
        "session.c changed: update session_create_script()"
    assert re.search(r"#define AC_SESSION_CREATE_LUA\s*\\\n\s*"
                     r"AC_SESSION_LUA\s*\\", src), \
        "session.c changed: update session_create_script()"
    return helpers + lua_macro(src, "AC_SESSION_CREATE_LUA") + "return 1\n"


def session_value(account, now, ip="192.0.2.1", device="Firefox on Linux"):
    """A password session's value as ac_session_format() writes it (no
    email: the account's stands for it)."""
    return "2|%s|user|pwd||%d|%d|%d||%s|%s||" % (
        account, now, now + 43200, now, ip, device)


def account_id(n):
    """A 16-character account id (lower-case base32) for the number n."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    out = ""
    for _ in range(16):
        out = alphabet[n % 32] + out
        n //= 32
    return out


def create_session(p, sha, account, digest, now, value):
    """EVALSHA of authcore's creation script (KEYS: the account; ARGV:
    idle, expiry, digest, now, max, "P partner:", "P events", value,
    account id) in the pipeline p."""
    p.evalsha(sha, 1, "guichet:acct:" + account, 1800, now + 43200, digest,
              now, 50, "guichet:partner:", "guichet:events", value, account)


def session_count(r):
    """The sessions of every account: their "s:" fields."""
    n = 0
    for k in r.scan_iter("guichet:acct:*", count=1000):
        if r.type(k) in (b"hash", "hash"):
            n += sum(1 for f in r.hkeys(k)
                     if (f.decode() if isinstance(f, bytes) else f)
                     .startswith("s:"))
    return n


def session_digest_key(secret):
    """authcore's AC_PURPOSE_SESSION key (HKDF-SHA256 of the secret file,
    the salt and info strings read from authcore/src/crypto.c)."""
    with open(os.path.join(ROOT, "authcore", "src", "crypto.c")) as f:
        src = f.read()
    info = re.search(r'"([^"]*v1 session)"', src).group(1).encode()
    salt = re.search(r'ac_hkdf_salt\[\]\s*=\s*"([^"]*)"',
                     src).group(1).encode()
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def worker_pid(master):
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        return int(f.read().split()[0])


def ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def pinned(args, cpus):
    if PIN:
        return ["taskset", "-c", cpus] + args
    return args


def load_cpus():
    return "1-%d" % (NCPU - 1) if NCPU > 2 else "1"


def wrk(url, conns=CONNS, seconds=SECONDS, headers=(), script=None,
        env=None, pin=False):
    args = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if pin:
        args = pinned(args, load_cpus())
    for h in headers:
        args += ["-H", h]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], capture_output=True, text=True,
                         env=env).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    lat = {}
    for p in ("50", "99"):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % p, out)
        lat[p] = ms(m.group(1), m.group(2))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": lat["50"], "p99": lat["99"],
            "requests": total,
            "errors": int(non2xx.group(1)) if non2xx else 0}


def verdict(ok):
    return "PASS" if ok else "MISS"


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="guichet-bench-")
        self.redis_port = free_port()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.procs = []

    def start(self):
        rdir = os.path.join(self.tmp, "redis")
        os.makedirs(rdir)
        self.redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port",
             str(self.redis_port), "--dir", rdir, "--save", "",
             "--appendonly", "no", "--enable-debug-command", "local",
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.redis)
        self.r = redis.Redis(port=self.redis_port, decode_responses=True)
        assert wait_until(self.r.ping), "redis-server did not start"

        self.conf = os.path.join(self.tmp, "guichet.conf")
        with open(self.conf, "w") as f:
            f.write("redis = 127.0.0.1:%d\nsecret_file = %s/secret.key\n"
                    % (self.redis_port, self.tmp))
        self.ctl("init")
        for email in (EMAIL, LOAD_EMAIL):
            self.ctl("user", "add", email, "--password-stdin",
                     stdin=PASSWORD + "\n")

        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "index.html"), "w") as f:
            f.write("<!doctype html><title>bench</title>\n" + "x" * 512
                    + "\n")
        self.nginx = self.start_nginx(self.tmp, self.port)

    def start_nginx(self, tmp, port, http_extra=""):
        """An nginx of the bench's configuration in "tmp" (which holds or
        links www/ and guichet.conf), listening on "port"."""
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(
                module=MODULE, tmp=tmp, port=port, threads=THREADS,
                http_extra=http_extra,
                user="user root root;" if os.geteuid() == 0 else ""))
        nginx = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", tmp, "-c",
             os.path.join(tmp, "nginx.conf"), "-e",
             os.path.join(tmp, "error.log"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(nginx)
        assert wait_until(lambda: requests.get(
            "http://127.0.0.1:%d/ceiling" % port,
            timeout=1).status_code == 200), \
            "nginx did not start: " + open(
                os.path.join(tmp, "error.log")).read()
        return nginx

    def pin(self, on, nginx=None):
        """nginx (every thread of every process) on CPU 0 and Redis on
        the others, or both back on every CPU."""
        nginx = nginx or self.nginx
        every = set(range(NCPU))
        ngx = {0} if on else every
        rds = set(range(1, NCPU)) if on else every
        pids = [(nginx.pid, ngx), (self.redis.pid, rds)]
        try:
            with open("/proc/%d/task/%d/children"
                      % (nginx.pid, nginx.pid)) as f:
                pids += [(int(x), ngx) for x in f.read().split()]
        except OSError:
            pass
        for pid, cpus in pids:
            for tid in os.listdir("/proc/%d/task" % pid):
                try:
                    os.sched_setaffinity(int(tid), cpus)
                except OSError:
                    pass

    def ctl(self, *args, stdin=None):
        p = subprocess.run([CTL, "--config", self.conf] + list(args),
                           input=stdin, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def stop(self):
        for p in self.procs:
            if p is not self.redis and p.poll() is None:
                p.send_signal(signal.SIGQUIT)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def login(self):
        """A real login; returns the session cookie and what a replayed
        login POST needs (the CSRF cookie and form body)."""
        s = requests.Session()
        page = s.get(self.url + "/guichet/login", timeout=5).text
        token = re.search(r'name="csrf" value="([^"]*)"', page).group(1)
        csrf_cookie = "; ".join("%s=%s" % (k, v)
                                for k, v in s.cookies.items())
        body = "email=%s&password=%s&csrf=%s&return_to=/" % (
            requests.utils.quote(EMAIL), PASSWORD, token)
        load_body = body.replace(requests.utils.quote(EMAIL),
                                 requests.utils.quote(LOAD_EMAIL))
        r = s.post(self.url + "/guichet/login", data=body, timeout=30,
                   headers={"Content-Type":
                            "application/x-www-form-urlencoded"},
                   allow_redirects=False)
        assert r.status_code == 303, r.status_code
        return s.cookies["guichet"], csrf_cookie, load_body


def throughput(b, cookie):
    gated_h = ["Cookie: guichet=" + cookie]
    order = [("ceiling", "/ceiling", ()),
             ("plain", "/plain/index.html", ()),
             ("gated", "/gated/index.html", gated_h)]
    rows = {"ceiling": [], "plain": [], "gated": []}
    ratios = []
    b.pin(PIN)
    try:
        for _, path, h in order:           # warm-up, not counted
            wrk(b.url + path, seconds=1, headers=h, pin=PIN)
        for i in range(ROUNDS):
            # rotate the order so that no location always runs first
            got = {}
            for k, path, h in order[i % 3:] + order[:i % 3]:
                got[k] = wrk(b.url + path, headers=h, pin=PIN)
                rows[k].append(got[k])
            ratios.append(got["gated"]["rps"] / got["plain"]["rps"])
    finally:
        b.pin(False)
    med = {}
    for k, runs in rows.items():
        med[k] = sorted(runs, key=lambda x: x["rps"])[len(runs) // 2]
        med[k]["all"] = [round(x["rps"]) for x in runs]
    print("1. Throughput: one worker, keep-alive, wrk -t1 -c%d, %d x %d s"
          " rounds (order rotated), median round%s"
          % (CONNS, ROUNDS, SECONDS,
             "; nginx pinned to CPU 0, wrk and Redis to CPU %s"
             % load_cpus() if PIN else ""))
    print("%-10s %10s %9s %9s %8s  %s" % ("location", "req/s", "p50 ms",
                                         "p99 ms", "x plain", "rounds"))
    for k in ("ceiling", "plain", "gated"):
        m = med[k]
        print("%-10s %10.0f %9.2f %9.2f %8.2f  %s" % (
            k, m["rps"], m["p50"], m["p99"],
            m["rps"] / med["plain"]["rps"], m["all"]))
    assert all(x["errors"] == 0 for x in rows["gated"]), \
        "gated requests were refused"
    ratio = statistics.median(ratios)
    print("gated / plain of each round: %s"
          % ", ".join("%.2f" % x for x in ratios))
    print("target gated >= 0.80 x plain (median of the rounds' ratios):"
          " %.2f  %s\n" % (ratio, verdict(ratio >= 0.8)))
    return ratio


def write_sessions(b, n, now, per_account=50):
    """n valid sessions written by authcore's own creation script, 50 to
    an account (AC_SESSIONS_MAX: none is pushed out); returns their
    cookie values."""
    with open(os.path.join(b.tmp, "secret.key"), "rb") as f:
        key = session_digest_key(f.read())
    sha = b.r.script_load(session_create_script())
    p = b.r.pipeline(transaction=False)
    cookies = []
    for a in range((n + per_account - 1) // per_account):
        p.hset("guichet:acct:" + account_id(a), mapping={
            "email": "miss%d@example.com" % a, "roles": "user",
            "status": "0", "created": now})
    p.execute()
    for i in range(n):
        account = account_id(i // per_account)
        # a session cookie begins with its account id
        cookie = account + b64url(os.urandom(32))[:27]
        digest = b64url(hmac.new(key, cookie.encode(),
                                 hashlib.sha256).digest()[:16])
        create_session(p, sha, account, digest, now,
                       session_value(account, now))
        cookies.append(cookie)
        if i % 5000 == 4999:
            p.execute()
    p.execute()
    return cookies


def miss_path(b):
    """Every gated request a cache miss: a second nginx with the session
    cache off, MISS_SESSIONS distinct sessions in turn; against the same
    location ungated, with the same cookies."""
    now = int(time.time())
    cookies = write_sessions(b, MISS_SESSIONS, now)
    listing = os.path.join(b.tmp, "miss-cookies")
    with open(listing, "w") as f:
        f.write("\n".join(cookies) + "\n")
    run = os.path.join(b.tmp, "miss")
    os.makedirs(run)
    os.symlink(os.path.join(b.tmp, "www"), os.path.join(run, "www"))
    shutil.copy(b.conf, os.path.join(run, "guichet.conf"))
    port = free_port()
    nginx = b.start_nginx(run, port, "    guichet_session_cache off;\n")
    url = "http://127.0.0.1:%d" % port
    for c in (cookies[0], cookies[-1]):
        r = requests.get(url + "/gated/index.html", timeout=5,
                         cookies={"guichet": c}, allow_redirects=False)
        assert r.status_code == 200, "a written session was refused"
    worker = worker_pid(nginx.pid)
    env = dict(os.environ, MISS_COOKIES=listing)
    script = os.path.join(ROOT, "bench", "miss.lua")
    tick = os.sysconf("SC_CLK_TCK")

    def measured(path):
        stats0 = b.r.info("commandstats")
        c0 = (cpu_ticks(worker), cpu_ticks(b.redis.pid))
        got = wrk(url + path, script=script, env=env, pin=PIN)
        c1 = (cpu_ticks(worker), cpu_ticks(b.redis.pid))
        stats1 = b.r.info("commandstats")
        n = got["requests"]
        cmds = {}
        for k, v in stats1.items():
            d = v["calls"] - stats0.get(k, {"calls": 0})["calls"]
            if d and k != "cmdstat_info":
                cmds[k[len("cmdstat_"):]] = d
        got["ngx_us"] = (c1[0] - c0[0]) * 1e6 / tick / n
        got["redis_us"] = (c1[1] - c0[1]) * 1e6 / tick / n
        got["cmds"] = sum(cmds.values()) / n
        got["by_cmd"] = {k: round(v / n, 3) for k, v in cmds.items()}
        return got

    rows = {"plain": [], "gated": []}
    b.pin(PIN, nginx)
    try:
        for path in ("/plain/index.html", "/gated/index.html"):
            wrk(url + path, seconds=1, script=script, env=env, pin=PIN)
        for i in range(ROUNDS):
            order = ["plain", "gated"] if i % 2 == 0 else ["gated", "plain"]
            for k in order:
                rows[k].append(measured("/%s/index.html" % k))
    finally:
        b.pin(False, nginx)
    assert all(x["errors"] == 0 for x in rows["gated"]), \
        "gated requests were refused"
    med = {k: sorted(v, key=lambda x: x["rps"])[len(v) // 2]
           for k, v in rows.items()}
    ratios = [g["rps"] / p["rps"] for g, p in zip(rows["gated"],
                                                   rows["plain"])]
    ratio = statistics.median(ratios)
    redis_us = statistics.median(x["redis_us"] for x in rows["gated"])
    cmds = statistics.median(x["cmds"] for x in rows["gated"])
    print("2b. Miss path: guichet_session_cache off, %d distinct valid "
          "sessions in turn (bench/miss.lua), one worker, wrk -t1 -c%d, "
          "%d x %d s rounds, median round" % (MISS_SESSIONS, CONNS, ROUNDS,
                                             SECONDS))
    print("%-10s %10s %9s %8s %13s %13s %9s" % (
        "location", "req/s", "p99 ms", "x plain", "nginx us/req",
        "Redis us/req", "cmds/req"))
    for k in ("plain", "gated"):
        m = med[k]
        print("%-10s %10.0f %9.2f %8.2f %13.1f %13.1f %9.3f" % (
            k, m["rps"], m["p99"], m["rps"] / med["plain"]["rps"],
            m["ngx_us"], m["redis_us"], m["cmds"]))
    print("Redis commands per gated request: %s" % med["gated"]["by_cmd"])
    print("gated / plain of each round: %s"
          % ", ".join("%.2f" % x for x in ratios))
    print("target miss >= 0.80 x plain: %.2f  %s; Redis <= 3 us per miss:"
          " %.1f  %s; one command per miss: %.3f  %s\n"
          % (ratio, verdict(ratio >= 0.8), redis_us, verdict(redis_us <= 3),
             cmds, verdict(cmds <= 1.01)))
    nginx.send_signal(signal.SIGQUIT)
    nginx.wait(10)
    return ratio


def paced(b, path, cookie, rate=PROBE_RATE, seconds=SECONDS):
    """Open-loop probe: one keep-alive connection sends a request every
    1/rate s on schedule (not after the previous answer) and times each
    from its scheduled start, so a stall counts for every request it
    delays. It leaves the CPUs mostly free, unlike a saturating wrk, so
    its p99 shows the event loop's delays rather than the scheduler's."""
    port = int(b.url.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port))
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\nCookie: guichet=%s\r\n\r\n"
           % (path, cookie)).encode()
    lat, buf, statuses = [], b"", {}
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        conn.sendall(req)
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(65536)
        head, buf = buf.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length:\s*(\d+)",
                               head).group(1))
        while len(buf) < length:
            buf += conn.recv(65536)
        buf = buf[length:]
        status = int(head.split(b" ", 2)[1])
        statuses[status] = statuses.get(status, 0) + 1
        lat.append((time.perf_counter() - due) * 1000.0)
    conn.close()
    lat.sort()
    return {"rps": rate, "p50": lat[len(lat) // 2],
            "p99": lat[int(len(lat) * 0.99)], "statuses": statuses}


def under_login_load(b, cookie, csrf_cookie, body):
    idle = paced(b, "/gated/index.html", cookie)

    env = dict(os.environ, LOGIN_BODY=body, LOGIN_COOKIE=csrf_cookie)
    sessions0 = session_count(b.r)
    load = subprocess.Popen(
        ["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % (SECONDS + 2), "-s",
         os.path.join(ROOT, "bench", "login.lua"),
         b.url + "/guichet/login"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env=env)
    time.sleep(1)
    busy = paced(b, "/gated/index.html", cookie)
    out, _ = load.communicate()
    assert set(idle["statuses"]) == {200} and set(busy["statuses"]) == {200}, \
        (idle["statuses"], busy["statuses"])
    logins = session_count(b.r) - sessions0
    lps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    print("2. Gated latency (open-loop probe, %d req/s for %d s, one"
          " keep-alive connection) idle and while wrk -t1 -c%d replays"
          " login POSTs (argon2: %d thread(s))"
          % (PROBE_RATE, SECONDS, CONNS, THREADS))
    print("%-22s %10s %9s %9s" % ("", "req/s", "p50 ms", "p99 ms"))
    print("%-22s %10.0f %9.2f %9.2f" % ("idle", idle["rps"], idle["p50"],
                                        idle["p99"]))
    print("%-22s %10.0f %9.2f %9.2f" % ("32 logins in flight",
                                        busy["rps"], busy["p50"],
                                        busy["p99"]))
    print("logins answered: %s/s, sessions created: %d"
          % (lps.group(1) if lps else "?", logins))
    ratio = busy["p99"] / idle["p99"]
    print("target p99 under login load <= 3 x idle: %.2f  %s\n"
          % (ratio, verdict(ratio <= 3.0)))
    return ratio


def redis_stall(b, cookie):
    stall = threading.Thread(target=lambda: redis.Redis(
        port=b.redis_port, socket_timeout=10).execute_command(
        "DEBUG", "SLEEP", "2"))
    gated = {}

    def gated_request():
        t = time.monotonic()
        gated["status"] = requests.get(
            b.url + "/gated/index.html", cookies={"guichet": cookie},
            timeout=5).status_code
        gated["ms"] = (time.monotonic() - t) * 1000

    time.sleep(1.1)        # let the session cache entry expire
    stall.start()
    time.sleep(0.1)
    g = threading.Thread(target=gated_request)
    g.start()
    worst, n = 0.0, 0
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        t = time.monotonic()
        r = requests.get(b.url + "/plain/index.html", timeout=5)
        worst = max(worst, (time.monotonic() - t) * 1000)
        n += 1 if r.status_code == 200 else 0
        time.sleep(0.02)
    g.join()
    stall.join()
    print("3. Redis stalled 2 s (DEBUG SLEEP 2), one worker")
    print("ungated: %d requests, worst %.2f ms; a gated request meanwhile:"
          " %s after %.0f ms" % (n, worst, gated.get("status"),
                                 gated.get("ms", 0)))
    print("target ungated < 50 ms while Redis sleeps: %.2f ms  %s\n"
          % (worst, verdict(worst < 50)))
    return worst


def memory_per_session(b, n=100000):
    script = session_create_script()
    r = redis.Redis(port=b.redis_port)
    now = int(time.time())
    # an account as guichetctl writes one (argon2id PHC string, sealed
    # log key) that has signed in ("last_login", which every sign-in
    # sets): its own bytes are not counted, its "s:" fields are
    pw = "$argon2id$v=19$m=19456,t=2,p=1$" + "s" * 22 + "$" + "h" * 43
    lk = "v1." + "k" * 80


    def fill(per_account, floor=False):
        """Bytes per session over n sessions, per_account to an account."""
        r.flushall()
        sha = r.script_load(script)
        p = r.pipeline(transaction=False)
        for a in range((n + per_account - 1) // per_account):
            p.hset("guichet:acct:" + account_id(a), mapping={
                "email": "user%d@example.com" % a, "roles": "user",
                "status": "0", "created": now, "last_login": now,
                "pw": pw, "lk": lk})
            if a % 5000 == 4999:
                p.execute()
        p.execute()
        before = r.info("memory")["used_memory"]
        for i in range(n):
            digest = "%022d" % i
            account = account_id(i // per_account)
            create_session(p, sha, account, digest, now,
                           "1" if floor else
                           session_value(account, now,
                                         ip="192.0.2.%d" % (i % 250)))
            if i % 5000 == 4999:
                p.execute()
        p.execute()
        return (r.info("memory")["used_memory"] - before) / n

    acct0 = "guichet:acct:" + account_id(0)
    worst = fill(1)
    one = r.hstrlen(acct0, "s:" + "%022d" % 0)
    acct1 = r.memory_usage(acct0, samples=0)
    enc = r.object("encoding", acct0)
    r.hdel(acct0, "s:" + "%022d" % 0)
    acct_none = r.memory_usage(acct0, samples=0)
    typical = fill(3)
    acct3 = r.memory_usage(acct0, samples=0)
    floor = fill(1, floor=True)
    print("4. Redis memory: %d sessions written by authcore's session "
          "script, each the s:DIGEST field of its account hash" % n)
    print("%-40s %8s" % ("", "B/session"))
    print("%-40s %8.0f" % ("worst case: 1 session per account", worst))
    print("%-40s %8.0f" % ("typical: 3 sessions per account", typical))
    print("%-40s %8.0f" % ("floor: a 1-byte value, 1 per account", floor))
    print("session value %s characters; MEMORY USAGE of the account hash "
          "(%s) %s B without sessions, %s B with 1, %s B with 3"
          % (one, enc.decode() if isinstance(enc, bytes) else enc,
             acct_none, acct1, acct3))
    print("target <= 200 B/session, worst case: %.0f  %s (typical: %.0f"
          "  %s; a field with a 1-byte value alone: %.0f)\n"
          % (worst, verdict(worst <= 200), typical, verdict(typical <= 200),
             floor))
    return worst


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return "%d CPU(s), %s, %d MiB RAM" % (os.cpu_count(), model, mem)


def main():
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print("bench: %s is missing (apt-get install %s)"
                  % (tool, "wrk" if tool == "wrk" else "redis-server"))
            return 1
    print("Guichet benchmarks on " + machine())
    print()
    b = Bench()
    try:
        b.start()
        cookie, csrf_cookie, body = b.login()
        parts = ONLY.split(",")
        if "throughput" in parts:
            throughput(b, cookie)
        if "miss" in parts:
            miss_path(b)
        if "latency" in parts:
            under_login_load(b, cookie, csrf_cookie, body)
        if "stall" in parts:
            redis_stall(b, cookie)
        if "memory" in parts:
            memory_per_session(b)
    finally:
        b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
