#!/usr/bin/env bash
#
# Guichet's one entry point.
#
#   ./build.sh run     install what is missing, build, start Redis + nginx
#                      with a demo application behind the gate
#   ./build.sh stop    stop what "run" started (by pid)
#   ./build.sh test    install, build and run every test suite
#   ./build.sh bench   run the benchmarks
#   ./build.sh lint    clang-format and cppcheck
#   ./build.sh fuzz    build the libFuzzer targets (tests/fuzz), replay their
#                      regression inputs, then fuzz each for FUZZ_SECONDS
#   ./build.sh build   only build
#   ./build.sh deb     Debian packages (libnginx-mod-http-guichet,
#                      guichet-tools) into build/deb/, checked by lintian
#
# Environment: GUICHET_PORT (8080), GUICHET_REDIS_PORT (6390),
# GUICHET_RUN_DIR (./run), SANITIZE=1 (ASan + UBSan build under build/asan),
# FUZZ_SECONDS (60, per fuzz target).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
cd "$ROOT"

PORT=${GUICHET_PORT:-8080}
REDIS_PORT=${GUICHET_REDIS_PORT:-6390}
SMTP_PORT=${GUICHET_SMTP_PORT:-2525}
RUN_DIR=${GUICHET_RUN_DIR:-$ROOT/run}
SANITIZE=${SANITIZE:-0}
if [ "$SANITIZE" = 1 ]; then BUILD=$ROOT/build/asan; else BUILD=$ROOT/build; fi
export SANITIZE

NGINX=/usr/sbin/nginx
REDIS_SERVER=/usr/bin/redis-server
DEMO_EMAIL=demo@example.com
DEMO_PASSWORD=demo-password-2026

DEPS=(
    gcc make pkg-config ca-certificates curl
    nginx nginx-dev libpcre2-dev zlib1g-dev libssl-dev
    libhiredis-dev liboath-dev libjwt-dev libjansson-dev libargon2-dev
    libqrencode-dev libcurl4-openssl-dev libfido2-dev libcbor-dev
    redis-server redis-tools wrk
    python3 python3-pytest python3-requests python3-redis python3-jwt
    python3-cryptography python3-aiosmtpd
    clang clang-format cppcheck
    chromium fonts-dejavu-core
)

# only for ./build.sh deb
DEB_DEPS=(debhelper dpkg-dev fakeroot lintian)

say() { printf '%s\n' "$*"; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

deps() {
    local missing=() p
    for p in "${DEPS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    [ "$(id -u)" = 0 ] || die "run as root to install: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    deps
    make -j"$(nproc)" SANITIZE="$SANITIZE" all
    BUILD="$BUILD" ngx_module/build-module.sh
}

# The same, its compiler output kept in $BUILD/build.log: what "run"
# shows is a few lines of progress, or the end of the log on failure.
build_quiet() {
    local log=$BUILD/build.log
    mkdir -p "$BUILD"
    say "building (compiler output: ${log#"$ROOT"/})"
    if ! build > "$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "the build failed (see $log)"
    fi
}

# ------------------------------------------------------------------ run

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# run/ is written for the ports asked for each time. When they are not
# those of the running demo, what runs on the old ones is stopped first,
# so that Redis, guichet.conf and nginx never disagree.
write_run_files() {
    local ports="$PORT $REDIS_PORT $SMTP_PORT" old=
    mkdir -p "$RUN_DIR/redis" "$RUN_DIR/logs" "$RUN_DIR/tmp"
    chmod 700 "$RUN_DIR"

    [ -f "$RUN_DIR/ports" ] && old=$(cat "$RUN_DIR/ports")
    if [ -n "$old" ] && [ "$old" != "$ports" ]; then
        say "ports changed ($old -> $ports): restarting"
        stop >/dev/null
    fi

    sed -e "s|@REDIS_PORT@|$REDIS_PORT|" -e "s|@PORT@|$PORT|g" \
        -e "s|@SMTP_PORT@|$SMTP_PORT|" -e "s|@ROOT@|$ROOT|g" \
        config/demo/guichet.conf.in > "$RUN_DIR/guichet.conf"
    printf '%s\n' "$ports" > "$RUN_DIR/ports"
    "$BUILD/guichetctl" --config "$RUN_DIR/guichet.conf" init >/dev/null

    sed -e "s|@ROOT@|$ROOT|g" -e "s|@RUN@|$RUN_DIR|g" -e "s|@PORT@|$PORT|g" \
        -e "s|@USER@|$(id -un) $(id -gn)|g" \
        -e "s|@MODULE@|$BUILD/ngx_http_guichet_module.so|g" \
        config/demo/nginx.conf.in > "$RUN_DIR/nginx.conf"
}

start_redis() {
    if pid_alive "$RUN_DIR/redis.pid"; then return 0; fi
    "$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" \
        --dir "$RUN_DIR/redis" --daemonize yes \
        --pidfile "$RUN_DIR/redis.pid" --logfile "$RUN_DIR/logs/redis.log" \
        --save 60 1 --appendonly no
    local i
    for i in $(seq 50); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "redis-server did not start (see $RUN_DIR/logs/redis.log)"
}

start_nginx() {
    "$NGINX" -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" \
        -e "$RUN_DIR/logs/error.log" \
        || die "nginx -t failed (see above)"
    if pid_alive "$RUN_DIR/nginx.pid"; then
        kill -HUP "$(cat "$RUN_DIR/nginx.pid")"
        return 0
    fi
    "$NGINX" -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/logs/error.log"
    local i
    for i in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
        sleep 0.1
    done
    die "nginx did not answer on port $PORT (see $RUN_DIR/logs/error.log)"
}

# the demo's mail: a local SMTP catcher keeping each mail as a file under
# run/mail/, and a mail worker delivering the queue to it
start_mail() {
    mkdir -p "$RUN_DIR/mail"
    if ! pid_alive "$RUN_DIR/smtp.pid"; then
        /usr/bin/python3 "$ROOT/config/demo/smtp_catcher.py" \
            --listen "127.0.0.1:$SMTP_PORT" --dir "$RUN_DIR/mail" \
            >"$RUN_DIR/logs/smtp.log" 2>&1 </dev/null &
        echo $! > "$RUN_DIR/smtp.pid"
    fi
    if ! pid_alive "$RUN_DIR/mail-worker.pid"; then
        "$BUILD/guichetctl" --config "$RUN_DIR/guichet.conf" mail run \
            >"$RUN_DIR/logs/mail-worker.log" 2>&1 </dev/null &
        echo $! > "$RUN_DIR/mail-worker.pid"
    fi
}

demo_account() {
    local ctl=("$BUILD/guichetctl" --config "$RUN_DIR/guichet.conf")
    if ! "${ctl[@]}" user show "$DEMO_EMAIL" >/dev/null 2>&1; then
        printf '%s\n' "$DEMO_PASSWORD" \
            | "${ctl[@]}" user add "$DEMO_EMAIL" --password-stdin >/dev/null
    fi
}

run() {
    build_quiet
    write_run_files
    say "starting redis-server on 127.0.0.1:$REDIS_PORT"
    start_redis
    say "starting nginx on 127.0.0.1:$PORT"
    start_nginx
    start_mail
    demo_account
    cat <<EOF

Guichet is running.

  URL:       http://localhost:$PORT/
  login:     $DEMO_EMAIL
  password:  $DEMO_PASSWORD

Administer it with:
  export GUICHET_CONFIG=$RUN_DIR/guichet.conf
  $BUILD/guichetctl user list

Mail (password reset, notices) goes to a local catcher: each message is
a file in $RUN_DIR/mail/ (try "Forgot your password?" on the login page).

Logs are in $RUN_DIR/logs/. Stop it with: ./build.sh stop
EOF
}

stop_pid() {
    local file=$1 name=$2 pid i
    [ -f "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for i in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        say "stopped $name (pid $pid)"
    fi
    rm -f "$file"
}

stop() {
    stop_pid "$RUN_DIR/mail-worker.pid" "the mail worker"
    stop_pid "$RUN_DIR/smtp.pid" "the SMTP catcher"
    stop_pid "$RUN_DIR/nginx.pid" nginx
    stop_pid "$RUN_DIR/redis.pid" redis-server
}

# ------------------------------------------------------------------ deb

# The packages are built from a copy of the tree (the files git knows,
# as they are in the working tree) under build/deb/src, so that
# dpkg-buildpackage's clean and its outputs stay inside build/deb.
deb() {
    DEPS+=("${DEB_DEPS[@]}")
    deps
    local out=$ROOT/build/deb src=$ROOT/build/deb/src/guichet
    rm -rf "$out"
    mkdir -p "$src"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
            | tar -C "$ROOT" --null -T - --ignore-failed-read -cf - \
            | tar -C "$src" -xf -
    else
        tar -C "$ROOT" --exclude=./build --exclude=./run -cf - . \
            | tar -C "$src" -xf -
    fi
    (cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)") \
        > "$out/build.log" 2>&1 \
        || { tail -n 40 "$out/build.log" >&2
             die "dpkg-buildpackage failed (see $out/build.log)"; }
    mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
    say "built:"
    (cd "$out" && ls -1 ./*.deb)
    # lintian's findings are listed; docs/OPERATIONS.md explains each one
    # kept on purpose (debian/guichet-tools.lintian-overrides)
    lintian --info --display-info "$out"/*.changes | tee "$out/lintian.log"
    if grep -qE '^E: ' "$out/lintian.log"; then
        die "lintian reports errors (see $out/lintian.log)"
    fi
}

# ----------------------------------------------------------------- test

TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
LOG_DIR=$ROOT/build/test-logs

# Runs one suite, echoes its output to a log, and adds its counts from its
# closing line ("N passed, N failed, N skipped" of tests/unit/check.h, or
# pytest's "== N passed, N failed, N skipped ==").
suite() {
    local name=$1; shift
    local log=$LOG_DIR/$name.log passed failed skipped status=0
    say "== $name"
    "$@" > "$log" 2>&1 || status=$?
    passed=$( (grep -aoE '[0-9]+ passed' "$log" || true) \
             | awk '{s += $1} END {print s + 0}')
    failed=$( (grep -aoE '[0-9]+ (failed|errors?)' "$log" || true) \
             | awk '{s += $1} END {print s + 0}')
    skipped=$( (grep -aoE '[0-9]+ skipped' "$log" || true) \
             | awk '{s += $1} END {print s + 0}')
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
    if [ "$failed" -ne 0 ]; then
        grep -aE '^(FAIL|    )|FAILED|Error|error:' "$log" | head -60 || true
        say "   (full output: $log)"
    fi
    say "   $passed passed, $failed failed, $skipped skipped"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
}

unit_tests() {
    local t status=0
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        "$t" || status=1
    done
    return $status
}

pytest_suite() {
    local dir=$1
    [ -d "$dir" ] || { echo "0 passed, 0 failed"; return 0; }
    GUICHET_BUILD=$BUILD GUICHETCTL=$BUILD/guichetctl \
        GUICHET_MODULE=$BUILD/ngx_http_guichet_module.so \
        /usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir"
}

# playwright-core (npm) drives Debian's chromium in the browser tests.
browser_deps() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        say "installing Debian packages: nodejs npm"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends nodejs npm >/dev/null
    fi
    if [ ! -d tests/browser/node_modules/playwright-core ] \
       || [ ! -d tests/browser/node_modules/axe-core ]; then
        (cd tests/browser && npm ci --no-audit --no-fund --silent)
    fi
}

test_all() {
    build
    browser_deps
    mkdir -p "$LOG_DIR"
    suite unit unit_tests
    suite cli pytest_suite tests/cli
    suite integration pytest_suite tests/integration
    if [ "$SANITIZE" != 1 ]; then
        suite system pytest_suite tests/system
    fi
    say "$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
    [ "$TOTAL_FAILED" -eq 0 ]
}

# The C code is written in nginx's style (../shared/STYLE.md): aligned
# declarations, "|" without spaces in flag lists, tables laid out by hand,
# which clang-format cannot reproduce. So lint fails on what is certain —
# cppcheck findings, tabs, trailing blanks, lines over 80 columns — and
# only reports how far clang-format (.clang-format, its nearest settings)
# would move the code.
lint() {
    deps
    local files bad status=0
    files=$(git ls-files '*.c' '*.h')

    # shellcheck disable=SC2086
    cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
        --inline-suppr --std=c11 -D__GNUC__ -Iauthcore/include -Iauthcore/src \
        --suppress=missingIncludeSystem --suppress=missingInclude \
        $(git ls-files 'authcore/*.c' 'cli/*.c' 'tests/*.c') || status=1

    # The module, against nginx's headers (nginx-dev) and, once built, the
    # ngx_auto_config.h of build/nginx-obj. Nothing is suppressed beyond
    # the includes cppcheck cannot resolve: nginx's macros (ngx_string,
    # ngx_null_command, NGX_CONF_*) expand cleanly with these paths.
    local ngx=/usr/share/nginx/src/src ngx_inc=() d
    for d in core event event/modules os/unix http http/modules; do
        ngx_inc+=("-I$ngx/$d")
    done
    [ -f build/nginx-obj/ngx_auto_config.h ] && ngx_inc+=(-Ibuild/nginx-obj)
    # shellcheck disable=SC2046
    cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
        --inline-suppr --std=c11 -D__GNUC__ -Iauthcore/include "${ngx_inc[@]}" \
        --suppress=missingIncludeSystem --suppress=missingInclude \
        $(git ls-files 'ngx_module/*.c') || status=1

    # shellcheck disable=SC2086
    bad=$(grep -nE $'\t| +$' $files || true)
    [ -z "$bad" ] || { say "tabs or trailing blanks:"; say "$bad"; status=1; }
    # shellcheck disable=SC2086
    bad=$(awk 'length > 80 { print FILENAME ":" FNR ": " length " columns" }' \
          $files)
    [ -z "$bad" ] || { say "lines over 80 columns:"; say "$bad"; status=1; }

    # shellcheck disable=SC2086
    say "clang-format would change $(clang-format --dry-run $files 2>&1 \
         | grep -c 'warning:') lines (advisory: nginx style is kept)"
    [ "$status" = 0 ] && say "lint: clean"
    return $status
}

bench() {
    build
    [ -x bench/run.sh ] || die "bench/run.sh is missing"
    BUILD="$BUILD" bench/run.sh
}

# Each target of tests/fuzz first replays its crash reproducers
# (tests/fuzz/regress/TARGET), then runs FUZZ_SECONDS from its seed corpus
# (tests/fuzz/corpus/TARGET); what it learns goes to build/fuzz/corpus,
# a crash to build/fuzz/crashes/TARGET/. Any crash fails the command.
fuzz() {
    local secs=${FUZZ_SECONDS:-60} t name failed=() files targets=()
    deps
    make -j"$(nproc)" fuzz
    for t in tests/fuzz/*.c; do
        targets+=("$(basename "$t" .c)")
    done
    for name in "${targets[@]}"; do
        [ -d "tests/fuzz/regress/$name" ] || continue
        mapfile -t files < <(find "tests/fuzz/regress/$name" -type f | sort)
        [ ${#files[@]} -gt 0 ] || continue
        say "== fuzz $name: ${#files[@]} regression inputs"
        if ! "build/fuzz/$name" "${files[@]}" \
             > "build/fuzz/$name.regress.log" 2>&1; then
            say "   FAILED (build/fuzz/$name.regress.log)"
            failed+=("$name")
        fi
    done
    for name in "${targets[@]}"; do
        say "== fuzz $name: ${secs}s"
        mkdir -p "build/fuzz/corpus/$name" "build/fuzz/crashes/$name"
        if ! "build/fuzz/$name" "build/fuzz/corpus/$name" \
             "tests/fuzz/corpus/$name" -max_total_time="$secs" \
             -timeout=10 -print_final_stats=1 \
             -artifact_prefix="build/fuzz/crashes/$name/" \
             > "build/fuzz/$name.log" 2>&1; then
            grep -aE 'ERROR|runtime error|SUMMARY' "build/fuzz/$name.log" \
                | head -5 || true
            say "   FAILED (build/fuzz/$name.log, build/fuzz/crashes/$name/)"
            failed+=("$name")
            continue
        fi
        grep -a '^stat::number_of_executed_units' "build/fuzz/$name.log" \
            | sed 's/^stat::number_of_executed_units: */   executions: /' \
            || true
    done
    [ ${#failed[@]} -eq 0 ] || die "fuzz targets failed: ${failed[*]}"
    say "fuzz: no crash"
}

case "${1:-}" in
    build) build ;;
    deb)   deb ;;
    run)   run ;;
    stop)  stop ;;
    test)  test_all ;;
    bench) bench ;;
    lint)  lint ;;
    fuzz)  fuzz ;;
    *)     say "usage: $0 run|stop|test|bench|lint|build|deb|fuzz"; exit 2 ;;
esac
