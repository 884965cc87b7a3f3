#!/usr/bin/env bash
# Benchmark (issue 20): client CPU of one `shakedown probe` whose key exchange is x25519,
# X25519MLKEM768, secp256r1 or SecP256r1MLKEM768, against the same local OpenSSL 4 server
# (tests/pq_server.py: pyOpenSSL on the OpenSSL the `cryptography` wheel bundles). The
# target is that a PQ probe costs at most 1 ms more client CPU than an x25519 one.
#
# CPU is perf's task-clock of the whole probe process (start-up, key generation, the
# handshake, decapsulation, the decrypted flight and its certificate checks), averaged
# over RUNS probes by `perf stat -r`. The groups alternate within each of ROUNDS rounds,
# so a change in the machine's load touches all alike; every round is printed. On a shared
# machine the times move with the load; the instruction counts do not: with valgrind
# installed, one probe per group is also run under callgrind (CALLGRIND=0 skips it).
#
# Usage: benches/pq_probe.sh [RUNS] [ROUNDS]     (default 50 and 2; loopback only)
# Env: PQ_PYTHON  a python with pyOpenSSL on OpenSSL >= 3.5 (default: the venv tests/pq.rs
#                 makes, target/tmp/pq-venv/bin/python; run `cargo test --features live
#                 --test pq` once to make it)
#      BIN        the shakedown binary (default: `cargo build --release --bin shakedown`)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
rounds=${2:-2}
python=${PQ_PYTHON:-target/tmp/pq-venv/bin/python}
[[ -x "$python" ]] || { echo "no $python: run cargo test --features live --test pq once, or set PQ_PYTHON" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is needed (linux-perf)" >&2; exit 2; }
if [[ -z "${BIN:-}" ]]; then
    cargo build --release -q --bin shakedown
    BIN=target/release/shakedown
fi

dir=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/key.pem" \
    -out "$dir/cert.pem" -subj /CN=localhost -days 2 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The server accepts all four; each probe offers one group with its share, so the server
# takes it without a HelloRetryRequest.
"$python" tests/pq_server.py "$port" "$dir/cert.pem" "$dir/key.pem" \
    "X25519MLKEM768:SecP256r1MLKEM768:X25519:P-256" </dev/null >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

groups=(x25519 X25519MLKEM768 secp256r1 SecP256r1MLKEM768)
# Each probe must finish over its group (Finished verified), or the figures mean nothing.
for g in "${groups[@]}"; do
    out=$("$BIN" probe "127.0.0.1:$port" --groups "$g" --key-shares "$g" --json)
    grep -q "\"group\":\"$g\"" <<<"$out" && grep -q '"server_finished_verified":true' <<<"$out" \
        || { echo "probe over $g did not finish: $out" >&2; exit 1; }
done

echo "shakedown: $BIN ($("$BIN" --version))"
echo "server: $("$python" -c 'from OpenSSL import SSL; print(SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode())'), 127.0.0.1:$port"
echo "command: perf stat -r $runs -e task-clock $BIN probe 127.0.0.1:$port --groups G --key-shares G"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo
printf '%-6s %-20s %12s %8s %14s\n' round group "task-clock" "±" "vs x25519"
for r in $(seq "$rounds"); do
    base=""
    for g in "${groups[@]}"; do
        # -x, : value,unit,event,run-time,share,... and the spread as "+-N%" in field 4 with -r.
        line=$(perf stat -x, -r "$runs" -e task-clock \
            "$BIN" probe "127.0.0.1:$port" --groups "$g" --key-shares "$g" 2>&1 >/dev/null \
            | grep task-clock)
        ms=$(cut -d, -f1 <<<"$line")
        spread=$(cut -d, -f4 <<<"$line")
        [[ -z "$base" ]] && base=$ms
        delta=$(awk -v a="$ms" -v b="$base" 'BEGIN { printf "%+.2f ms", a - b }')
        printf '%-6s %-20s %9.2f ms %8s %14s\n' "$r" "$g" "$ms" "$spread" "$delta"
    done
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ "${CALLGRIND:-1}" != 0 ]] && command -v valgrind >/dev/null; then
    echo
    echo "instructions (valgrind --tool=callgrind, one probe each, whole process):"
    base=""
    for g in "${groups[@]}"; do
        n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$BIN" probe "127.0.0.1:$port" --groups "$g" --key-shares "$g" 2>&1 >/dev/null \
            | awk '/Collected :/ { print $4 }')
        [[ -z "$base" ]] && base=$n
        awk -v g="$g" -v n="$n" -v b="$base" \
            'BEGIN { printf "  %-20s %6.2f M  %+6.2f M vs x25519\n", g, n / 1e6, (n - b) / 1e6 }'
    done
fi
