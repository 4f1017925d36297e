"""What a person reads on the pages: how long a throttled page asks to
wait, where the cursor lands after an error, the sign-out notice, the
first enrolment's wording, the device names of the sessions list, the
favicon (and no 404 for it in the error log)."""

import re

import requests

from account_helpers import (EMAIL, PASSWORD, csrf, enrol_start, login,
                             page, post, reauth)
from login_helpers import (gw, hidden, login_form, post_code,  # noqa: F401
                           post_login, totp, wait_words)

CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
          "Gecko) Chrome/126.0.0.0 Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
          "Mobile/15E148 Safari/604.1")


def tag(html, ident):
    """The opening tag of the element with this id."""
    m = re.search(r'<(?:input|textarea|select)[^>]*\bid="%s"[^>]*>' % ident,
                  html, re.S)
    assert m, ident
    return m.group(0)


def test_throttled_sign_in_says_how_long_to_wait(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)
    s = requests.Session()
    for _ in range(8):
        s, r = post_login(gw, EMAIL, "wrong password", session=s)
        if r.status_code == 429:
            break
    assert r.status_code == 429
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 2
    # "Try again in 2 seconds.", not "please wait"
    assert "Try again in %s." % wait_words(wait) in r.text
    assert re.search(r"Try again in [12] seconds?\.", r.text)
    assert "Please wait" not in r.text
    # the cursor is in the password field, the email kept
    assert "autofocus" in tag(r.text, "password")
    assert "autofocus" not in tag(r.text, "email")


def test_wait_words_match_the_module():
    assert wait_words(1) == "1 second"
    assert wait_words(2) == "2 seconds"
    assert wait_words(150) == "3 minutes"
    assert wait_words(3600) == "1 hour"


def test_autofocus_lands_on_the_field_in_error(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)

    # a fresh form: the email field
    s, _, r = login_form(gw)
    assert "autofocus" in tag(r.text, "email")
    assert "autofocus" not in tag(r.text, "password")

    # wrong password: the email is kept, the password is to type again
    s, r = post_login(gw, EMAIL, "wrong password", session=s)
    assert r.status_code == 401
    assert 'value="%s"' % EMAIL in tag(r.text, "email")
    pw = tag(r.text, "password")
    assert "autofocus" in pw and 'aria-invalid="true"' in pw
    assert 'aria-describedby="login-error"' in pw
    assert "autofocus" not in tag(r.text, "email")
    assert r.text.count("autofocus") == 1

    # a wrong second-step code: the code field, marked invalid
    secret = gw.enroll_totp(EMAIL)
    s, r = post_login(gw, EMAIL, PASSWORD)
    wrong = "%06d" % ((int(totp(secret)) + 1) % 1000000)
    r = post_code(gw, s, wrong)
    assert r.status_code == 401
    code = tag(r.text, "code")
    assert "autofocus" in code and 'aria-invalid="true"' in code
    assert "code-error" in code


def test_signed_out_notice(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    r = page(gw, s, "logout")
    token = hidden(r.text, "csrf")
    r = post(gw, s, "logout", {"csrf": token})
    assert r.status_code == 303
    r = s.get(gw.url + r.headers["Location"], timeout=5)
    assert r.status_code == 200
    assert '<p class="notice" role="status" id="login-notice">' \
        'You have signed out.</p>' in r.text

    s = login(gw)
    token = hidden(page(gw, s, "logout").text, "csrf")
    r = post(gw, s, "logout", {"csrf": token, "all": "1"})
    r = s.get(gw.url + r.headers["Location"], timeout=5)
    assert "You have signed out everywhere." in r.text

    # no notice on a plain visit
    _, _, r = login_form(gw)
    assert "signed out" not in r.text


def test_first_enrolment_does_not_speak_of_earlier_codes(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    secret, token = enrol_start(gw, s)
    r = post(gw, s, "account/totp", {"csrf": token, "action": "enable",
                                    "code": totp(secret)})
    assert r.status_code == 200
    assert "Two-step verification is on" in r.text
    assert "earlier" not in r.text and "no longer work" not in r.text
    assert '<script src="/guichet/guichet.js" defer></script>' in r.text

    # a regeneration does say it
    r = reauth(gw, s, secret=None)
    r = post(gw, s, "account/recovery-codes",
             {"csrf": csrf(gw, s, "account/recovery-codes")})
    if r.status_code == 303:     # a fresh proof with the code is needed
        import time
        time.sleep(30 - time.time() % 30 + 0.5)
        assert reauth(gw, s, secret=secret).status_code == 303
        r = post(gw, s, "account/recovery-codes",
                 {"csrf": csrf(gw, s, "account/recovery-codes")})
    assert r.status_code == 200
    assert "replace the earlier ones, which no longer work" in r.text


def test_sessions_named_in_words(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)
    phone = login(gw, ua=IPHONE)
    s = login(gw, ua=CHROME)
    r = page(gw, s)
    assert r.status_code == 200
    assert re.search(r'<span class="device" title="Chrome on Linux">'
                     r'Chrome on Linux</span>\s*<span class="current">'
                     r'This browser</span>', r.text)
    assert '>Safari on iPhone</span>' in r.text
    assert r.text.count('class="current"') == 1
    assert 'id="revoke-others"' in r.text
    assert 'id="only-session"' not in r.text
    # the password form is folded until asked for
    assert re.search(r'<details class="fold" id="password-fold">\s*'
                     r'<summary>Change your password</summary>', r.text)

    # alone: no "sign out everywhere else"
    phone.close()
    r = post(gw, s, "account/sessions/revoke",
             {"csrf": csrf(gw, s, "account/sessions/revoke"), "all": "1"})
    assert r.status_code == 303
    r = page(gw, s)
    assert 'id="revoke-others"' not in r.text
    assert 'id="only-session"' in r.text


def test_favicon_and_script_are_served(gw):  # noqa: F811
    r = requests.get(gw.url + "/guichet/favicon.svg", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/svg+xml"
    assert r.text.startswith("<svg ")
    r = requests.get(gw.url + "/guichet/guichet.js", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert "{{" not in r.text

    # every page names Guichet and links the icon
    _, _, r = login_form(gw)
    assert "<title>Sign in · Guichet</title>" in r.text
    assert '<link rel="icon" href="/guichet/favicon.svg"' in r.text
    r = requests.get(gw.url + "/guichet/account/export", timeout=5,
                     allow_redirects=False)
    r = requests.get(gw.url + "/guichet/nothing-here", timeout=5)
    assert "Guichet" in r.text and 'rel="icon"' in r.text

    log = gw.error_log()
    assert "favicon" not in log
    assert "No such file" not in log


def test_the_gate_passes_the_roles_on(gw):  # noqa: F811
    gw.add_user(EMAIL, PASSWORD)
    s = login(gw)
    r = s.get(gw.url + "/app/", headers={"X-Guichet-Roles": "admin"},
              timeout=5)
    assert r.status_code == 200
    assert "roles=user\n" in r.text
