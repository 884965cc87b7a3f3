#!/usr/bin/env bash
# The scanner's own CPU time per handshake over a many-target scan, beside the servers'.
# Starts SERVERS local nginx instances (one worker each, Mozilla-intermediate suites at TLS
# 1.2 and 1.3, an RSA certificate) on 127.0.0.1 ephemeral ports, scans them all in one run
# (`scan --json --no-progress`, each target listed REPEAT times), and reports from rusage
# (GNU time's user and system seconds) the scanner's CPU per handshake, the handshakes
# counted in its JSON, and the servers' CPU (from /proc/PID/stat before and after).
# Talks to 127.0.0.1 only; stops the servers it started. Not part of CI.
#
#   bash benches/scan_cpu.sh                       # SERVERS=32 REPEAT=1 RUNS=3
#   SERVERS=16 REPEAT=4 RUNS=5 SHAKEDOWN=target/release/shakedown bash benches/scan_cpu.sh
#   EXTRA="--suites-only" bash benches/scan_cpu.sh # flags added to every scan
#   WRAP="perf record -e cpu-clock -g -o /tmp/scan.data" RUNS=1 bash benches/scan_cpu.sh
#                                                  # a profile (its CPU counts in the table)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
servers=${SERVERS:-32}
repeat=${REPEAT:-1}
runs=${RUNS:-3}
concurrency=${CONCURRENCY:-64}
work=$(mktemp -d)
pids=()
cleanup() {
    stop "${pids[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

command -v nginx >/dev/null || { echo "needs nginx" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi

# user+system clock ticks of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

cd "$work"
nginx_fleet "$servers" "$repeat"

echo "shakedown: $SHAKEDOWN ($("$SHAKEDOWN" --version 2>/dev/null || echo '?'))"
echo "servers: $servers nginx; targets: $(wc -l <targets); concurrency $concurrency; extra: ${EXTRA:-none}"
echo "load before: $(uptime)"
echo
echo "| run | handshakes | wall s | scanner user s | scanner sys s | scanner µs/handshake | servers CPU s | servers µs/handshake |"
echo "|---|---|---|---|---|---|---|---|"
hz=$(getconf CLK_TCK)
for run in $(seq "$runs"); do
    before=0
    for p in "${pids[@]}"; do before=$((before + $(ticks "$p"))); done
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %U %S' -o time.txt ${WRAP:-} "$SHAKEDOWN" scan --json --no-progress \
        --concurrency "$concurrency" ${EXTRA:-} --targets-file targets >out.jsonl 2>err.txt || true
    after=0
    for p in "${pids[@]}"; do after=$((after + $(ticks "$p"))); done
    read -r wall user sys < <(tail -1 time.txt)
    hs=$(python3 -c 'import json,sys; print(sum(json.loads(l).get("handshakes",0) for l in open("out.jsonl") if l.strip()))')
    python3 - "$run" "$hs" "$wall" "$user" "$sys" "$before" "$after" "$hz" <<'PY'
import sys
run, hs, wall, user, sys_, before, after, hz = sys.argv[1:]
hs = int(hs); user = float(user); sys_ = float(sys_)
srv = (int(after) - int(before)) / int(hz)
per = (user + sys_) / hs * 1e6 if hs else float("nan")
srv_per = srv / hs * 1e6 if hs else float("nan")
print(f"| {run} | {hs} | {wall} | {user:.2f} | {sys_:.2f} | {per:.0f} | {srv:.2f} | {srv_per:.0f} |")
PY
done
# The floor of a thread-per-connection client: a loop that only connects (with a time-out,
# as the scanner does), sends one TLS 1.3 ClientHello, reads once, shuts down and closes,
# as many times as the last run made handshakes, round the same servers. Its system time
# per connection is the kernel's part that no user-space change removes (on loopback it
# includes the servers' receive path run in the sender's system calls).
cat >floor.py <<'PY'
import resource, socket, ssl, sys
ports = [int(p) for p in sys.argv[2:]]
n = int(sys.argv[1])
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ssl.create_default_context().wrap_bio(inc, out, server_hostname="localhost")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
r0 = resource.getrusage(resource.RUSAGE_SELF)
for i in range(n):
    s = socket.create_connection(("127.0.0.1", ports[i % len(ports)]), timeout=5)
    s.sendall(hello)
    s.recv(16384)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(f"{n} {r1.ru_utime - r0.ru_utime:.2f} {r1.ru_stime - r0.ru_stime:.2f} "
      f"{(r1.ru_stime - r0.ru_stime) / n * 1e6:.0f}")
PY
echo
echo "| floor loop (python: connect, one hello, one read, close) | connections | user s | sys s | sys µs/connection |"
echo "|---|---|---|---|---|"
for run in $(seq "$runs"); do
    read -r fn fu fs fper < <(python3 floor.py "$hs" "${ports[@]}")
    echo "| $run | $fn | $fu | $fs | $fper |"
done
echo
echo "load after: $(uptime)"
if [ -s err.txt ]; then echo "stderr of the last run:"; head -5 err.txt; fi
