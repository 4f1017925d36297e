#!/usr/bin/env python3
"""Failover figures (SPEC 9, 12): two nginx nodes (two workers each) on a
Redis master, its replica and three Sentinels on loopback, under load on
both nodes (gated requests, sign-ins, logouts); the master is killed by
pid. Prints the failover time (kill to Sentinel's +switch-master), the
window of 503s, the 503 count and the false-pass count, for each of
FAILOVER_ROUNDS runs (default 3). The scenario is the one of
tests/integration/test_failover.py, which asserts its invariants.

Environment: BUILD (default ./build), FAILOVER_ROUNDS (3),
FAILOVER_BEFORE / FAILOVER_AFTER (seconds of load before the kill and
after the announcement: 3, 4)."""

import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
os.environ.setdefault("GUICHET_BUILD", BUILD)
os.environ.setdefault("GUICHETCTL", os.path.join(BUILD, "guichetctl"))
os.environ.setdefault("GUICHET_MODULE",
                      os.path.join(BUILD, "ngx_http_guichet_module.so"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from failover import run  # noqa: E402


def main():
    rounds = int(os.environ.get("FAILOVER_ROUNDS", "3"))
    before = float(os.environ.get("FAILOVER_BEFORE", "3"))
    after = float(os.environ.get("FAILOVER_AFTER", "4"))
    print("failover: 2 nodes x 2 workers, master + replica + 3 sentinels "
          "(down-after 1000 ms), master killed under load")
    print("%-5s %9s %9s %9s %7s %7s %10s %9s %8s"
          % ("round", "failover", "window", "excess", "503s", "stray",
             "falsepass", "requests", "logs"))
    worst = 0.0
    bad = 0
    for n in range(1, rounds + 1):
        tmp = tempfile.mkdtemp(prefix="guichet-failover-")
        try:
            f = run(tmp, before=before, after=after)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        excess = f["window_s"] - f["failover_s"]
        worst = max(worst, excess)
        ok = (f["false_pass"] == 0 and f["stray_503"] == 0
              and f["recovered"] and not f["missing_log_entries"]
              and f["logs_verify"][0] == 0 and f["logout_before"]
              and f["logout_after"])
        bad += not ok
        print("%-5d %8.2fs %8.2fs %8.2fs %7d %7d %10d %9d %8s"
              % (n, f["failover_s"], f["window_s"], excess,
                 f["refused_503"], f["stray_503"], f["false_pass"],
                 f["requests"], "ok" if f["logs_verify"][0] == 0
                 else "BROKEN"))
    print("window beyond the failover: worst %.2f s (target <= 0.50 s): %s"
          % (worst, "PASS" if worst <= 0.5 else "MISS"))
    print("invariants (no false pass, 503 only in the window, recovery, "
          "log entries, logout in 1 s): %s"
          % ("PASS" if bad == 0 else "MISS in %d rounds" % bad))


if __name__ == "__main__":
    main()
