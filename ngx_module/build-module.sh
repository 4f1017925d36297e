#!/usr/bin/env bash
#
# Builds ngx_http_guichet_module.so against Debian's nginx (nginx-dev).
#
#   ngx_module/build-module.sh [SANITIZE=1]
#
# Needs build/libauthcore.a (run "make" first). Environment: BUILD (the
# build directory, default ./build, or ./build/asan with SANITIZE=1),
# GUICHET_AUTHCORE_LIB (default $BUILD/libauthcore.a), NGINX_SRC
# (default /usr/share/nginx/src). The result is
# $BUILD/ngx_http_guichet_module.so.

set -euo pipefail

for arg in "$@"; do
    case "$arg" in
        SANITIZE=*) SANITIZE=${arg#SANITIZE=} ;;
        *) echo "usage: $0 [SANITIZE=1]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODULE_DIR=$ROOT/ngx_module
SANITIZE=${SANITIZE:-0}
if [ "$SANITIZE" = 1 ]; then
    BUILD=${BUILD:-$ROOT/build/asan}
else
    BUILD=${BUILD:-$ROOT/build}
fi
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
NGINX_SRC=${NGINX_SRC:-/usr/share/nginx/src}
SRC_COPY=$ROOT/build/nginx-src
OBJ=$BUILD/nginx-obj
export GUICHET_AUTHCORE_LIB=${GUICHET_AUTHCORE_LIB:-$BUILD/libauthcore.a}

die() { printf 'build-module.sh: %s\n' "$*" >&2; exit 1; }

[ -f "$NGINX_SRC/configure" ] || die "$NGINX_SRC missing: install nginx-dev"
[ -f "$GUICHET_AUTHCORE_LIB" ] \
    || die "$GUICHET_AUTHCORE_LIB missing: run make first"

if [ ! -f "$SRC_COPY/configure" ]; then
    rm -rf "$SRC_COPY.tmp"
    mkdir -p "$(dirname "$SRC_COPY")"
    cp -a "$NGINX_SRC" "$SRC_COPY.tmp"
    mv "$SRC_COPY.tmp" "$SRC_COPY"
fi

# shellcheck disable=SC1091
. "$NGINX_SRC/conf_flags"

# The same compiler and linker options as Debian's nginx binary ("nginx -V"),
# so that the module's ABI signature matches; our own files are built with
# -Wextra on top of nginx's -Wall -Werror.
CC_OPT="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"
CC_OPT="$CC_OPT -fPIC -Wdate-time -D_FORTIFY_SOURCE=2"
CC_OPT="$CC_OPT -Wall -Wextra -Werror -Wno-unused-parameter"
LD_OPT="-Wl,-z,relro -Wl,-z,now -fPIC"
if [ "$SANITIZE" = 1 ]; then
    CC_OPT="$CC_OPT -fsanitize=address,undefined -fno-omit-frame-pointer"
    LD_OPT="$LD_OPT -fsanitize=address,undefined"
fi

ARGS=("${NGX_CONF_FLAGS[@]}" "--with-cc-opt=$CC_OPT" "--with-ld-opt=$LD_OPT"
      "--add-dynamic-module=$MODULE_DIR" "--builddir=$OBJ")

# Re-run configure only when its arguments or the addon glue changed.
STAMP=$OBJ/guichet-configure.stamp
WANT=$( { printf '%s\n' "${ARGS[@]}" "$GUICHET_AUTHCORE_LIB";
          cat "$MODULE_DIR/config"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$OBJ/Makefile" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]
then
    mkdir -p "$OBJ"
    (cd "$SRC_COPY" && ./configure "${ARGS[@]}") > "$OBJ/configure.log" 2>&1 \
        || { tail -30 "$OBJ/configure.log" >&2; die "configure failed"; }
    echo "$WANT" > "$STAMP"
fi

# nginx's Makefile does not know the module depends on libauthcore.a.
rm -f "$OBJ/ngx_http_guichet_module.so"
make -C "$SRC_COPY" -f "$OBJ/Makefile" -j"$(nproc)" modules
# nginx resolves its own symbols at dlopen() time, so the linker accepts
# any undefined one: refuse ours here rather than at "nginx -t".
MISSING=$(nm -D --undefined-only "$OBJ/ngx_http_guichet_module.so" \
          | awk '$2 ~ /^(ac_|ngx_http_guichet_)/ { print $2 }')
[ -z "$MISSING" ] || die "undefined in the module: $(echo $MISSING)"

cp "$OBJ/ngx_http_guichet_module.so" "$BUILD/ngx_http_guichet_module.so.tmp"
mv "$BUILD/ngx_http_guichet_module.so.tmp" "$BUILD/ngx_http_guichet_module.so"
echo "built $BUILD/ngx_http_guichet_module.so"
