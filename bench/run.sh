#!/bin/sh
# Guichet's benchmarks (SPEC 9), run by "./build.sh bench": a private
# redis-server and nginx on free loopback ports, then the tables of
# bench/bench.py and bench/logs.sh. Never fails the build on a missed
# target: it prints PASS or MISS.
#
# Environment: BUILD (default ./build), BENCH_SECONDS (5 per round),
# BENCH_ROUNDS (5), BENCH_ONLY (throughput,miss,latency,stall,memory),
# BENCH_PIN (1: pin nginx and wrk to different CPUs), BENCH_LOG_ENTRIES
# (1000000: the 1-million-entry read of SPEC 7), FAILOVER_ROUNDS (3: the
# two-node Sentinel failover of bench/failover.py).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
export BUILD

/usr/bin/python3 "$ROOT/bench/bench.py" || echo "bench.py failed ($?)"
echo
GUICHETCTL=$BUILD/guichetctl "$ROOT/bench/logs.sh" \
    "${BENCH_LOG_ENTRIES:-1000000}" || echo "logs.sh failed ($?)"
echo
/usr/bin/python3 "$ROOT/bench/failover.py" || echo "failover.py failed ($?)"
