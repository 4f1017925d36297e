"""The endpoints framework against a real nginx and a real Redis: route
and method matching, and operator templates (guichet_templates): branded
pages are served, broken ones stop "nginx -t"."""

import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import ROOT, Gateway, check_error_log, nginx_env

TEMPLATES = os.path.join(ROOT, "config", "templates")


def templates_copy(tmp, name="brand"):
    d = os.path.join(tmp, name)
    shutil.copytree(TEMPLATES, d)
    return d


def edit(path, old, new):
    with open(path) as f:
        text = f.read()
    assert old in text, (path, old)
    with open(path, "w") as f:
        f.write(text.replace(old, new))


def use_templates(g, directive):
    conf = os.path.join(g.tmp, "nginx.conf")
    edit(conf, "guichet_threads guichet_pool;",
         "guichet_threads guichet_pool;\n    " + directive)


def config_test(g):
    return subprocess.run(g.nginx_cmd("-t"), capture_output=True, text=True,
                          env=nginx_env(g.tmp), timeout=60)


@pytest.fixture
def bare(tmp_path, redis_server):
    """A gateway whose configuration a test changes before starting it."""
    g = Gateway(str(tmp_path), redis_server)
    yield g
    if g.proc:
        g.stop()
        check_error_log(g)


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, html)
    return m.group(1) if m else None


# ------------------------------------------------------------ routes

def test_unknown_route_is_404_and_wrong_method_405(gateway):
    u = gateway.url + "/guichet/"
    assert requests.get(u + "nope").status_code == 404
    assert requests.get(u + "login/").status_code == 404
    assert requests.get(u + "LOGIN").status_code == 404
    assert requests.get(u).status_code == 404
    # known names, methods they do not take
    assert requests.post(u + "session").status_code == 405
    assert requests.post(u + "guichet.css").status_code == 405
    assert requests.put(u + "login", data="x").status_code == 405
    assert requests.delete(u + "session").status_code == 405


def test_get_and_head_of_a_page(gateway):
    u = gateway.url + "/guichet/login"
    r = requests.get(u)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert hidden(r.text, "csrf")
    h = requests.head(u)
    assert h.status_code == 200
    assert h.content == b""
    assert h.headers["Cache-Control"] == "no-store"


def test_stylesheet_is_served_as_css(gateway):
    r = requests.get(gateway.url + "/guichet/guichet.css")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/css"
    assert r.headers["Content-Security-Policy"].startswith("default-src")
    with open(os.path.join(TEMPLATES, "guichet.css"), "rb") as f:
        assert r.content == f.read()


def test_get_route_ignores_a_body_and_large_ones_get_413(gateway):
    u = gateway.url + "/guichet/session"
    r = requests.get(u, data="a=1")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthenticated"
    r = requests.get(u, data="a" * 20000)
    assert r.status_code == 413


def test_json_route_answers_json_errors(gateway):
    r = requests.get(gateway.url + "/guichet/session",
                     cookies={"guichet": "A" * 43})
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"error": "unauthenticated",
                        "message": "no valid session"}


# --------------------------------------------------------- templates

def test_branded_templates_are_served(bare):
    d = templates_copy(bare.tmp)
    login = os.path.join(d, "login.html")
    edit(login, "<main>", "<main>\n<p id=\"brand\">Acme Bank &amp; Co</p>")
    # an operator may leave out variables it does not show
    edit(login, 'value="{{email}}"', 'value=""')
    edit(os.path.join(d, "error.html"), "<main>",
         "<main>\n<p id=\"brand\">Acme Bank</p>")
    # a trailing '/' is harmless
    use_templates(bare, "guichet_templates %s/;" % d)
    bare.start()

    s = requests.Session()
    r = s.get(bare.url + "/guichet/login?return_to=/app/x")
    assert r.status_code == 200
    assert '<p id="brand">Acme Bank &amp; Co</p>' in r.text
    token = hidden(r.text, "csrf")
    assert token and hidden(r.text, "return_to") == "/app/x"

    # a failed login renders the branded page again, with its error
    r = s.post(bare.url + "/guichet/login",
               data={"email": "nobody@example.com", "password": "wrong one!",
                     "csrf": token, "return_to": "/app/x"},
               allow_redirects=False)
    assert r.status_code == 401
    assert "Acme Bank" in r.text
    assert "Incorrect email address or password." in r.text
    assert "nobody@example.com" not in r.text   # the email was left out

    # and so does the error page
    r = requests.post(bare.url + "/guichet/login", data={"csrf": "forged"},
                      allow_redirects=False)
    assert r.status_code == 403
    assert '<p id="brand">Acme Bank</p>' in r.text


def test_relative_directory_is_under_the_prefix(bare):
    d = templates_copy(bare.tmp, "rel")
    edit(os.path.join(d, "logout.html"), "<h1>Sign out</h1>",
         "<h1>Sign out of Acme</h1>")
    use_templates(bare, "guichet_templates rel;")
    bare.start()
    cookie = bare.session()
    r = requests.get(bare.url + "/guichet/logout",
                     cookies={"guichet": cookie})
    assert r.status_code == 200
    assert "<h1>Sign out of Acme</h1>" in r.text
    assert hidden(r.text, "csrf")


@pytest.mark.parametrize("file,old,new,why", [
    ("login.html", "{{email}}", "{{password}}", "unknown variable"),
    ("2fa.html", "{{error}}", "{{{error}}}", "2fa.html"),
    ("error.html", "{{message}}", "{{#message}}", "error.html"),
    ("logout.html", "{{csrf}}", "{{ csrf", "logout.html"),
])
def test_broken_template_stops_the_configuration(bare, file, old, new, why):
    d = templates_copy(bare.tmp)
    edit(os.path.join(d, file), old, new)
    use_templates(bare, "guichet_templates %s;" % d)
    p = config_test(bare)
    assert p.returncode != 0
    assert "[emerg]" in p.stderr
    assert file in p.stderr and why in p.stderr, p.stderr


def test_missing_template_stops_the_configuration(bare):
    d = templates_copy(bare.tmp)
    os.unlink(os.path.join(d, "2fa.html"))
    use_templates(bare, "guichet_templates %s;" % d)
    p = config_test(bare)
    assert p.returncode != 0
    assert os.path.join(d, "2fa.html") in p.stderr, p.stderr


def test_missing_directory_and_duplicate_directive(bare):
    use_templates(bare, "guichet_templates %s/none;" % bare.tmp)
    p = config_test(bare)
    assert p.returncode != 0 and "none/" in p.stderr, p.stderr

    edit(os.path.join(bare.tmp, "nginx.conf"),
         "guichet_templates %s/none;" % bare.tmp,
         "guichet_templates %s;\n    guichet_templates %s;"
         % (TEMPLATES, TEMPLATES))
    p = config_test(bare)
    assert p.returncode != 0 and "is duplicate" in p.stderr, p.stderr


def test_default_directory_is_the_compiled_in_one(bare):
    p = config_test(bare)
    assert p.returncode == 0, p.stderr
