"""Several nodes, one Redis, failover under load (SPEC §9, §12): two
nginx instances with two workers each on a Redis master, its replica and
three Sentinels; the master is killed while both nodes serve gated
requests, sign-ins and logouts. The invariants are counted, not timed:

- no gated request answers 200 without a valid session (a forged cookie,
  or one whose logout was answered more than a second before);
- 503 only during the failover window: from the kill to Sentinel's
  announcement of the new master, plus what the nodes take to follow it
  (every node logs that it followed the announcement instead of waiting
  for its reconnect backoff; bench/failover.py measures the half-second
  target); both nodes serve again without a reload;
- every sign-in answered 303 has its log entry, and the log verifies;
- a logout on node 1 is refused on node 2 within 1 s, before and after.

bench/failover.py runs the same scenario and prints its figures."""

from failover import run


def test_two_nodes_survive_a_master_kill_under_load(tmp_path):
    figures = {}
    run(str(tmp_path), report=figures.update)
    print(figures)

    assert figures["logout_before"], figures
    assert figures["logout_after"], figures
    assert figures["requests"] > 100, figures
    assert figures["signins"] > 10 and figures["logouts"] > 5, figures

    assert figures["false_pass"] == 0, figures
    assert figures["stray_503"] == 0, figures
    assert figures["recovered"], figures
    assert set(figures["statuses"]) <= {200, 303, 401, 503}, figures

    assert figures["followed"] == [True, True], figures
    assert figures["bad_log_lines"] == [], figures
    assert figures["sanitizer_reports"] == [], figures

    assert figures["missing_log_entries"] == {}, figures
    assert figures["logs_verify"][0] == 0, figures
