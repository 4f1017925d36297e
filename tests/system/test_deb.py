"""The Debian packages, as an operator uses them: ./build.sh deb (or the
packages already in build/deb), apt-get install, guichetctl init, a
server block on the installed module (its modules-enabled snippet), a
sign-in through it, then apt-get purge, leaving nothing running.

Needs root (apt-get); skipped when either package is already installed
on this machine, so that an operator's installation is never touched.
"""

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEB_DIR = os.path.join(ROOT, "build", "deb")
PACKAGES = ["libnginx-mod-http-guichet", "guichet-tools"]
SNIPPET = "/etc/nginx/modules-enabled/50-mod-http-guichet.conf"
MODULE = "/usr/lib/nginx/modules/ngx_http_guichet_module.so"
CONF = "/etc/guichet/guichet.conf"
SECRET = "/etc/guichet/secret.key"
EMAIL = "operator@example.com"
PASSWORD = "a long enough password 2026"

NGINX_CONF = """
include {snippet};
user www-data www-data;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
worker_processes 2;
thread_pool guichet threads=2 max_queue=64;

events {{ worker_connections 128; }}

http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    guichet_config {conf};
    guichet_threads guichet;

    server {{
        listen 127.0.0.1:{port};

        location = /healthz {{
            return 200 "ok\\n";
        }}

        location /guichet/ {{
            guichet_endpoints;
        }}

        location /app/ {{
            guichet on;
            alias {tmp}/site/;
        }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return "install ok installed" in p.stdout


def known(pkg):
    """Installed, or removed with its configuration files left."""
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return p.returncode == 0 and "not-installed" not in p.stdout


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def stop_pid(pid, sig=signal.SIGTERM):
    if pid is None or not alive(pid):
        return
    os.kill(pid, sig)
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def processes_of(path):
    """Pids whose executable is path (what a package left running)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/exe" % d).split(" (deleted)")[0] == path:
                found.append(int(d))
        except OSError:
            pass
    return found


def apt(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", "-y", "-q"] + list(args), cwd=ROOT,
                          env=env, capture_output=True, text=True,
                          timeout=600)


def packages():
    return sorted(glob.glob(os.path.join(DEB_DIR, "*.deb")))


@pytest.fixture
def debs():
    if os.geteuid() != 0:
        pytest.skip("installs Debian packages: run as root")
    if any(known(p) for p in PACKAGES):
        pytest.skip("a Guichet package is already installed here")
    if len(packages()) != 2:
        p = subprocess.run([os.path.join(ROOT, "build.sh"), "deb"], cwd=ROOT,
                           capture_output=True, text=True, timeout=1200)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    debs = packages()
    assert [os.path.basename(d).split("_")[0] for d in debs] == \
        ["guichet-tools", "libnginx-mod-http-guichet"], debs
    return debs


@pytest.fixture
def system(debs):
    """Installs the packages; whatever happens, stops what the test
    started and purges them."""
    state = {"pids": []}
    tmp = tempfile.mkdtemp(prefix="guichet-deb-")
    os.chmod(tmp, 0o755)
    try:
        rel = ["./" + os.path.relpath(d, ROOT) for d in debs]
        p = apt("install", *rel)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        yield tmp, state
    finally:
        for pid in reversed(state["pids"]):
            stop_pid(pid, signal.SIGQUIT if pid == state.get("nginx")
                     else signal.SIGTERM)
        purge = apt("purge", *PACKAGES)
        shutil.rmtree(tmp, ignore_errors=True)

    # nothing left running, installed or in place
    assert purge.returncode == 0, purge.stdout[-3000:] + purge.stderr[-3000:]
    assert not [p for p in PACKAGES if known(p)]
    assert not processes_of("/usr/bin/guichetctl")
    assert not [p for p in state["pids"] + state.get("workers", [])
                if alive(p)]
    for f in (SNIPPET, MODULE, "/etc/guichet", "/usr/bin/guichetctl",
              "/usr/share/guichet"):
        assert not os.path.lexists(f), f


def ctl(*args, stdin=None):
    return subprocess.run(["/usr/bin/guichetctl"] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def start_redis(tmp, state):
    port = free_port()
    d = os.path.join(tmp, "redis")
    os.makedirs(d)
    proc = subprocess.Popen(["/usr/bin/redis-server", "--bind", "127.0.0.1",
                             "--port", str(port), "--dir", d, "--save", "",
                             "--appendonly", "no"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state["pids"].append(proc.pid)
    state["redis_proc"] = proc
    deadline = time.time() + 10
    while time.time() < deadline:
        p = subprocess.run(["redis-cli", "-p", str(port), "ping"],
                           capture_output=True, text=True)
        if p.stdout.strip() == "PONG":
            return port
        time.sleep(0.05)
    raise AssertionError("redis-server did not start")


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    return m.group(1) if m else None


def test_install_sign_in_and_purge(system):
    tmp, state = system

    # what the packages put in place
    assert os.path.islink(SNIPPET)
    with open(SNIPPET) as f:
        assert f.read().strip() == \
            "load_module modules/ngx_http_guichet_module.so;"
    assert os.path.isfile(MODULE)
    assert os.path.isfile("/usr/share/guichet/templates/login.html")
    assert os.path.isfile("/usr/share/guichet/templates/mail/reset.txt")
    assert os.path.isfile("/lib/systemd/system/guichet-mail.service")
    assert os.path.isfile("/lib/systemd/system/guichet-retention.timer")
    user = pwd.getpwnam("guichet")
    st = os.stat(SECRET)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (user.pw_uid, 0o600)

    # first configuration: the example config, pointed at our Redis
    port = start_redis(tmp, state)
    with open(CONF) as f:
        conf = f.read()
    with open(CONF, "w") as f:
        f.write(conf + "\nredis = 127.0.0.1:%d\nargon2_m = 8m\n" % port)
    p = ctl("init")
    assert p.returncode == 0, p.stderr
    assert "already exists and is valid" in p.stdout
    p = ctl("user", "add", EMAIL, "--password-stdin", stdin=PASSWORD + "\n")
    assert p.returncode == 0, p.stderr

    # a server block on the installed module; its own prefix, where
    # "modules/" (the snippet's relative path) is Debian's module dir
    os.symlink("/usr/lib/nginx/modules", os.path.join(tmp, "modules"))
    os.makedirs(os.path.join(tmp, "site"))
    with open(os.path.join(tmp, "site", "index.html"), "w") as f:
        f.write("behind the gate\n")
    os.chmod(os.path.join(tmp, "site"), 0o755)
    os.chmod(os.path.join(tmp, "site", "index.html"), 0o644)
    http = free_port()
    nginx_conf = os.path.join(tmp, "nginx.conf")
    with open(nginx_conf, "w") as f:
        f.write(NGINX_CONF.format(snippet=SNIPPET, tmp=tmp, conf=CONF,
                                  port=http))
    cmd = ["/usr/sbin/nginx", "-p", tmp, "-c", nginx_conf,
           "-e", os.path.join(tmp, "error.log")]
    p = subprocess.run(cmd + ["-t"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    proc = subprocess.Popen(cmd + ["-g", "daemon off;"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state["pids"].append(proc.pid)
    state["nginx"] = proc.pid
    base = "http://127.0.0.1:%d" % http
    time.sleep(0.3)
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)],
                         capture_output=True, text=True).stdout
    state["workers"] = [int(w) for w in out.split()]
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.05)

    # the gate refuses, the login page lets in
    r = requests.get(base + "/app/", allow_redirects=False, timeout=5)
    assert r.status_code in (302, 303, 401), r.status_code
    s = requests.Session()
    r = s.get(base + "/guichet/login", timeout=5)
    assert r.status_code == 200, r.text
    r = s.post(base + "/guichet/login",
               data={"email": EMAIL, "password": PASSWORD,
                     "csrf": hidden(r.text, "csrf"), "return_to": "/app/"},
               allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    assert "guichet" in s.cookies
    r = s.get(base + "/app/", allow_redirects=False, timeout=5)
    assert r.status_code == 200, r.status_code
    assert r.text == "behind the gate\n"

    p = ctl("logs", "--json")
    assert p.returncode == 0, p.stderr
    assert '"event":"login.success"' in p.stdout
    p = ctl("logs", "verify")
    assert p.returncode == 0, p.stdout + p.stderr

    with open(os.path.join(tmp, "error.log")) as f:
        log = f.read()
    assert "[emerg]" not in log and "[alert]" not in log, log
