"""Activity is the last successful sign-in of any kind: recorded on the
account, shown by the CLI, the export and the account page, and what
retention measures inactivity from."""

import datetime
import json

from account_helpers import EMAIL, PASSWORD, login, page, reauth
from conftest import PREFIX
from login_helpers import gw, post_code, post_login, totp  # noqa: F401


def show(gw, email):
    p = gw.ctl("user", "show", email, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_every_sign_in_is_recorded(gw):
    gw.add_user(EMAIL, PASSWORD)
    assert show(gw, EMAIL)["last_login"] is None

    s = login(gw)
    first = show(gw, EMAIL)["last_login"]
    assert first and first.startswith(str(datetime.date.today().year))

    r = page(gw, s)
    assert 'id="last-login"' in r.text
    assert reauth(gw, s).status_code == 303
    r = page(gw, s, "account/export")
    assert r.status_code == 200
    assert r.json()["account"]["last_login"] == first

    p = gw.ctl("user", "list", "--json")
    assert first in p.stdout

    # with a second factor, the sign-in counts once the code is right
    gw.add_user("bob@example.com", PASSWORD)
    secret = gw.enroll_totp("bob@example.com")
    s, r = post_login(gw, "bob@example.com", PASSWORD)
    assert r.status_code == 303
    assert show(gw, "bob@example.com")["last_login"] is None
    assert post_code(gw, s, totp(secret)).status_code == 303
    assert show(gw, "bob@example.com")["last_login"]


def test_retention_keeps_who_signs_in(gw):
    rd = gw.redis.client()
    year_ago = int((datetime.datetime.now(datetime.timezone.utc)
                    - datetime.timedelta(days=365)).timestamp())
    active = gw.add_user(EMAIL, PASSWORD)
    idle = gw.add_user("idle@example.com", PASSWORD)
    for a in (active, idle):
        rd.hset(PREFIX + "acct:" + a, "created", year_ago)
    login(gw)

    # three years less a month from now: the idle account's three years
    # since creation are over, the active one signed in a minute ago
    as_of = (datetime.datetime.now(datetime.timezone.utc)
             + datetime.timedelta(days=3 * 365 - 30)).strftime("%Y-%m-%d")
    dry = gw.ctl("retention", "run", "--as-of", as_of, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    run = gw.ctl("retention", "run", "--as-of", as_of, "--json")
    assert run.returncode == 0, run.stderr

    def ids(out):
        return sorted(a["id"] for a in json.loads(out)["accounts"])

    assert ids(dry.stdout) == ids(run.stdout) == [idle]
    assert rd.exists(PREFIX + "acct:" + active)
    assert not rd.exists(PREFIX + "acct:" + idle)
