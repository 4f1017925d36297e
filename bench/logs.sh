#!/bin/sh
# guichetctl logs reading speed: writes N entries (default 1000000)
# straight to the stream of a private redis-server, then times a filtered
# read of all of them and prints entries/s.
#
#   bench/logs.sh [N]
set -eu

N=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CTL=${GUICHETCTL:-$ROOT/build/guichetctl}
DIR=$(mktemp -d)
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket();
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

redis-server --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --save '' \
    --appendonly no --daemonize yes --pidfile "$DIR/redis.pid" \
    --logfile "$DIR/redis.log"
trap 'kill "$(cat "$DIR/redis.pid")" 2>/dev/null; rm -rf "$DIR"' EXIT
sleep 0.3

cat > "$DIR/guichet.conf" <<CONF
redis = 127.0.0.1:$PORT
secret_file = $DIR/secret.key
CONF
"$CTL" --config "$DIR/guichet.conf" init >/dev/null

/usr/bin/python3 - "$PORT" "$N" <<'PY'
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
n = int(sys.argv[2])
p = r.pipeline(transaction=False)
for i in range(n):
    p.xadd("guichet:log", {"s": i + 1, "t": 1,
           "v": "login.failure" if i % 7 else "login.success",
           "r": "fail" if i % 7 else "ok", "e": "u%d@example.com" % (i % 5000),
           "i": "10.%d.%d.%d" % (i % 4, i % 200, i % 250), "u": "bench/1",
           "h": "A" * 43})
    if i % 20000 == 19999:
        p.execute()
p.execute()
PY

start=$(date +%s.%N)
found=$("$CTL" --config "$DIR/guichet.conf" logs --json --ip 10.3.0.0/16 \
        --result ok | wc -l)
end=$(date +%s.%N)

/usr/bin/python3 - "$N" "$found" "$start" "$end" <<'PY'
import sys
n, found, t0, t1 = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), \
    float(sys.argv[4])
print("%-34s %10s %8s %12s" % ("guichetctl logs (filtered)", "entries",
                                "seconds", "entries/s"))
print("%-34s %10d %8.2f %12.0f" % ("--ip 10.3.0.0/16 --result ok", n,
                                    t1 - t0, n / (t1 - t0)))
print("(%d matching entries)" % found)
PY
