#!/usr/bin/env bash
# Benchmark: one `shakedown probe` against `openssl s_client` doing the same handshake with
# the same loopback server, timed by hyperfine over many runs. Both are whole processes
# (start-up included), which is how people run them.
#
# Usage: benches/probe_compare.sh [RUNS]     (default 200; loopback only)
#        SHAKEDOWN=<a build> benches/probe_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
runs=${1:-200}
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null; }
if [ -z "${SHAKEDOWN:-}" ]; then
    cargo build --release -q
    SHAKEDOWN=${CARGO_TARGET_DIR:-target}/release/shakedown
fi
bin=$(realpath "$SHAKEDOWN")

dir=$(mktemp -d)
pids=()
cleanup() { stop "${pids[@]}"; rm -rf "$dir"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -subj /CN=localhost -days 2 2>/dev/null

start_server() { # port, extra args
    local port=$1; shift
    openssl s_server -accept "127.0.0.1:$port" -cert "$dir/cert.pem" -key "$dir/key.pem" \
        -www -quiet "$@" </dev/null >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$port"
}
declare -A port=([3]=$(free_port) [2]=$(free_port))
start_server "${port[3]}" -tls1_3
start_server "${port[2]}" -tls1_2

echo "load before: $(uptime)"
for v in 3 2; do
    port=${port[$v]}
    echo "== TLS 1.$v, server 127.0.0.1:$port"
    hyperfine -N --warmup 10 --runs "$runs" --export-markdown "$dir/t1$v.md" \
        -n "shakedown probe" "$bin probe localhost:$port --connect 127.0.0.1 --tls TLSv1.$v" \
        -n "openssl s_client" "openssl s_client -connect 127.0.0.1:$port -servername localhost -tls1_$v -brief" \
        2>&1 | grep -v '^ *$' || true
    cat "$dir/t1$v.md"
done
echo "load after: $(uptime)"
