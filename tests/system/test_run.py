"""./build.sh run and ./build.sh stop, as a new user would run them."""

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running any more.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().split(")")[-1].split()[1])
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return -1


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def demo(tmp_path):
    env = dict(os.environ,
               GUICHET_PORT=str(free_port()),
               GUICHET_REDIS_PORT=str(free_port()),
               GUICHET_SMTP_PORT=str(free_port()),
               GUICHET_RUN_DIR=str(tmp_path / "run"))
    yield env
    subprocess.run([os.path.join(ROOT, "build.sh"), "stop"], env=env,
                   cwd=ROOT, capture_output=True, timeout=60)


def run(env, cmd):
    return subprocess.run([os.path.join(ROOT, "build.sh"), cmd], env=env,
                          cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_run_serves_the_gated_demo_then_stop_leaves_nothing(demo):
    out = run(demo, "run")
    assert out.returncode == 0, out.stderr
    # progress in a few lines, the compiler's output in a log file
    assert "building (compiler output: build/build.log)" in out.stdout
    assert len(out.stdout.splitlines()) < 25, out.stdout
    assert " -Werror " not in out.stdout + out.stderr
    build_log = os.path.join(ROOT, "build", "build.log")
    assert os.path.getsize(build_log) > 0
    port = demo["GUICHET_PORT"]
    # passkeys need a domain: the demo is shown at localhost
    assert f"URL:       http://localhost:{port}/" in out.stdout
    assert "demo@example.com" in out.stdout
    assert "export GUICHET_CONFIG=" in out.stdout

    run_dir = demo["GUICHET_RUN_DIR"]
    pids = [int(open(os.path.join(run_dir, f)).read())
            for f in ("nginx.pid", "redis.pid")]
    assert all(alive(p) for p in pids)

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
        assert r.status == 200

    # The demo application is behind the gate: a browser is sent to log in.
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/app?x=1",
                                 headers={"Accept": "text/html"})
    with pytest.raises(urllib.error.HTTPError) as e:
        opener.open(req)
    assert e.value.code == 302
    location = urllib.parse.urlsplit(e.value.headers["Location"])
    assert location.path == "/guichet/login"
    assert urllib.parse.parse_qs(location.query)["return_to"] == ["/app?x=1"]

    # The demo account logs in and reaches the application, which shows
    # who the gate says it is.
    s = requests.Session()
    r = s.get(f"http://127.0.0.1:{port}/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "/guichet/login" in r.url
    form = {m.group(1): m.group(2) for m in re.finditer(
        r'name="(csrf|return_to)" value="([^"]*)"', r.text)}
    r = s.post(f"http://127.0.0.1:{port}/guichet/login",
               data=dict(form, email="demo@example.com",
                         password="demo-password-2026"),
               headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text
    assert r.url == f"http://127.0.0.1:{port}/"
    assert '<td id="email">demo@example.com</td>' in r.text
    assert '<td id="amr">pwd</td>' in r.text
    assert 'href="/guichet/account"' in r.text
    assert 'id="logs-link"' not in r.text          # not the security team
    assert 'href="/guichet/guichet.css"' in r.text
    r = s.get(f"http://127.0.0.1:{port}/favicon.ico")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/svg+xml"

    # The demo account exists.
    ctl = subprocess.run(
        [os.path.join(demo.get("GUICHET_BUILD", os.path.join(ROOT, "build")),
                      "guichetctl"),
         "--config", os.path.join(run_dir, "guichet.conf"),
         "user", "show", "demo@example.com", "--json"],
        capture_output=True, text=True)
    assert ctl.returncode == 0, ctl.stderr
    assert '"demo@example.com"' in ctl.stdout

    # "Forgot your password?" ends in a mail file under run/mail/.
    assert "run/mail/" in out.stdout
    r = requests.get(f"http://127.0.0.1:{port}/guichet/reset")
    csrf = re.search(r'name="csrf" value="([^"]*)"', r.text).group(1)
    s2 = requests.Session()
    s2.cookies.update(r.cookies)
    r = s2.post(f"http://127.0.0.1:{port}/guichet/reset",
                data={"email": "demo@example.com", "csrf": csrf})
    assert r.status_code == 200, r.text
    mail_dir = os.path.join(run_dir, "mail")
    deadline = time.time() + 15
    while time.time() < deadline and not [
            f for f in os.listdir(mail_dir) if f.endswith(".eml")]:
        time.sleep(0.2)
    [mail] = [f for f in os.listdir(mail_dir) if f.endswith(".eml")]
    with open(os.path.join(mail_dir, mail)) as f:
        assert "reset/confirm?token=3D" in f.read()
    pids += [int(open(os.path.join(run_dir, f)).read())
             for f in ("smtp.pid", "mail-worker.pid")]
    assert all(alive(p) for p in pids)

    # Running it twice is harmless: same processes, still answering.
    again = run(demo, "run")
    assert again.returncode == 0, again.stderr
    assert [int(open(os.path.join(run_dir, f)).read())
            for f in ("nginx.pid", "redis.pid", "smtp.pid",
                      "mail-worker.pid")] == pids

    # nginx's workers must go with their master.
    workers = [int(p) for p in os.listdir("/proc") if p.isdigit()
               and alive(int(p)) and _ppid(int(p)) == pids[0]]
    assert workers, "nginx has no worker processes"
    pids += workers

    # Other ports: run/ is rewritten for them, the old processes go.
    moved = dict(demo, GUICHET_PORT=str(free_port()),
                 GUICHET_REDIS_PORT=str(free_port()))
    out = run(moved, "run")
    assert out.returncode == 0, out.stderr
    assert "ports changed" in out.stdout
    deadline = time.time() + 10
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
    conf = open(os.path.join(run_dir, "guichet.conf")).read()
    assert f"redis = 127.0.0.1:{moved['GUICHET_REDIS_PORT']}\n" in conf
    assert f"http://127.0.0.1:{moved['GUICHET_PORT']}\n" in conf
    assert "webauthn_rp_id = localhost\n" in conf
    assert (f"webauthn_origins = http://localhost:{moved['GUICHET_PORT']}\n"
            in conf)
    assert f"listen 127.0.0.1:{moved['GUICHET_PORT']};" in open(
        os.path.join(run_dir, "nginx.conf")).read()
    new_port = moved["GUICHET_PORT"]
    with urllib.request.urlopen(
            f"http://127.0.0.1:{new_port}/healthz") as r:
        assert r.status == 200
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    # the demo account still signs in, through Redis on its new port
    s = requests.Session()
    r = s.get(f"http://127.0.0.1:{new_port}/guichet/login")
    form = {m.group(1): m.group(2) for m in re.finditer(
        r'name="(csrf|return_to)" value="([^"]*)"', r.text)}
    r = s.post(f"http://127.0.0.1:{new_port}/guichet/login",
               data=dict(form, email="demo@example.com",
                         password="demo-password-2026"),
               allow_redirects=False)
    assert r.status_code == 303, r.text
    pids = [int(open(os.path.join(run_dir, f)).read())
            for f in ("nginx.pid", "redis.pid")]
    pids += [int(p) for p in os.listdir("/proc") if p.isdigit()
             and alive(int(p)) and _ppid(int(p)) == pids[0]]

    out = run(moved, "stop")
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 10
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{new_port}/healthz",
                               timeout=2)
