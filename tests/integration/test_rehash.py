"""Hashes follow the policy: a sign-in that verifies a hash made with
older argon2 parameters stores a new one made with the current ones."""

import re

from conftest import PREFIX, wait_until
from login_helpers import gw, post_login  # noqa: F401

PASSWORD = "correct horse battery"


def params(gw, account):
    pw = gw.redis.client().hget(PREFIX + "acct:" + account, "pw")
    m = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", pw)
    assert m, pw
    return tuple(int(x) for x in m.groups())


def test_old_hash_is_rewritten_at_sign_in(gw):
    account = gw.add_user("old@example.com", PASSWORD)
    assert params(gw, account) == (8192, 1, 1)

    with open(gw.conf) as f:
        conf = f.read()
    with open(gw.conf, "w") as f:
        f.write(conf.replace("argon2_t = 1", "argon2_t = 2"))
    old = set(gw.workers())
    gw.reload()
    assert wait_until(lambda: gw.workers()
                      and not old & set(gw.workers()))

    # a wrong password changes nothing
    assert post_login(gw, "old@example.com", "wrong")[1].status_code == 401
    assert params(gw, account) == (8192, 1, 1)

    s, r = post_login(gw, "old@example.com", PASSWORD)
    assert r.status_code == 303, r.text
    assert params(gw, account) == (8192, 2, 1)

    # the new hash opens the account, and is left alone
    pw = gw.redis.client().hget(PREFIX + "acct:" + account, "pw")
    s, r = post_login(gw, "old@example.com", PASSWORD)
    assert r.status_code == 303
    assert gw.redis.client().hget(PREFIX + "acct:" + account, "pw") == pw
