"""Every reason code the gateway writes into the connection log is
documented for the security team (docs/SECURITY-TEAM.md)."""

import glob
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def written_reasons():
    """The string literals given as a log entry's reason in the module,
    and the assertion refusal names (authcore/src/assertion.c)."""
    found = set()
    for path in glob.glob(os.path.join(ROOT, "ngx_module", "*.c")):
        if path.endswith("_metrics.c"):
            continue            # its "reason" is a metric label
        src = read(path)
        # every call that logs an event, up to its ";"
        # (the event may be chosen: "ev", "lc->pk ? ... : ...")
        for call in re.findall(r"ngx_http_guichet_ep_log(?:_then)?\(r, ctx,"
                               r"\s*[^,;]+,(.*?);", src, re.S):
            found |= set(re.findall(r'"([a-z0-9_.]+)"', call))
        # reasons handed to the failure helpers, and 2FA methods
        for pat in (r'ngx_http_guichet_2fa_failure\(r, ctx, "(\w+)"\)',
                    r'ngx_http_guichet_sso_fail\(r, ctx, AC_AR_COUNT,'
                    r'\s*"(\w+)"\)',
                    r'lc->method = "(\w+)"',
                    r'\breason = "(\w+)"'):
            found |= set(re.findall(pat, src))
    names = re.search(r'"malformed",(.*?)"internal"',
                      read("authcore/src/assertion.c"), re.S)
    found |= {"malformed", "internal"}
    found |= set(re.findall(r'"(\w+)"', names.group(1)))
    return found


def test_every_logged_reason_is_documented():
    reasons = written_reasons()
    # the scan sees the known ones (it would find nothing if the code
    # changed shape)
    assert {"bad_credentials", "csrf", "login", "2fa", "totp_enrol",
            "too_many", "bad_code", "replay", "totp", "recovery",
            "missing_token", "provisioning_disabled", "extra_claims",
            "registration", "all"} <= reasons
    doc = read("docs/SECURITY-TEAM.md")
    table = doc[doc.index("| reason | events | meaning |"):]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)`", table, re.M))
    documented |= set(re.findall(r"^\| `\w+`, `(\w+)`", table, re.M))
    assert sorted(reasons - documented) == []
