#!/usr/bin/env bash
# Connections in flight in one scan process: `scan --concurrency N` against loopback
# listeners that never accept (the kernel completes each connection in the listener's
# queue, the hello is never answered, so every connection stays open until --timeout).
# Samples the scanner's open sockets, threads and resident memory every 20 ms from /proc
# and reports the peaks, with the wall and CPU time of the run. Talks to 127.0.0.1 only;
# the listeners are closed by the script. Not part of CI.
#
#   bash benches/scan_inflight.sh                          # N=10000 RUNS=3 TIMEOUT=5
#   N=20000 SHAKEDOWN=target/release/shakedown bash benches/scan_inflight.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-10000}
runs=${RUNS:-3}
timeout=${TIMEOUT:-5}
work=$(mktemp -d)
holder=
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi

# Listeners that never accept: enough of them that their queues (somaxconn each) hold N.
cat >"$work/hold.py" <<'PY'
import socket, sys, time
n = int(sys.argv[1])
cap = int(open("/proc/sys/net/core/somaxconn").read())
socks = []
for _ in range(n // cap + 2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(cap)
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks), flush=True)
time.sleep(3600)
PY
python3 "$work/hold.py" "$n" >"$work/ports" &
holder=$!
for _ in $(seq 50); do [ -s "$work/ports" ] && break; sleep 0.1; done
read -r -a ports <"$work/ports"
# Each target's version test holds three hellos at once (TLS 1.2, TLS 1.3 and SSLv2).
targets=$(( n / 3 + 1 ))
for i in $(seq 0 $((targets - 1))); do
    echo "127.0.0.1:${ports[$((i % ${#ports[@]}))]}"
done >"$work/targets"

echo "shakedown: $SHAKEDOWN; listeners: ${#ports[@]} (queue $(cat /proc/sys/net/core/somaxconn) each)"
echo "targets: $targets; --concurrency $n --timeout $timeout --suites-only --retries 0"
echo "open-file limit (soft/hard) of this shell: $(ulimit -Sn)/$(ulimit -Hn)"
echo "load before: $(uptime)"
echo
echo "| run | results | peak sockets | peak threads | peak RSS MiB | wall s | user s | sys s |"
echo "|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
    /usr/bin/time -f '%e %U %S' -o "$work/time" "$SHAKEDOWN" scan --json --suites-only \
        --retries 0 --timeout "$timeout" --concurrency "$n" --no-progress \
        --targets-file "$work/targets" >"$work/out" 2>"$work/err" &
    timer=$!
    pid=
    for _ in $(seq 100); do
        pid=$(pgrep -P "$timer" | head -1 || true)
        [ -n "$pid" ] && break
        sleep 0.01
    done
    peak_fd=0 peak_thr=0 peak_rss=0
    while [ -n "$pid" ] && [ -d "/proc/$pid" ]; do
        fds=$( (find "/proc/$pid/fd" -lname 'socket:*' 2>/dev/null || true) | wc -l)
        thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        rss=$(awk '/^VmRSS:/ {print int($2/1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
        [ "${fds:-0}" -gt "$peak_fd" ] && peak_fd=$fds
        [ "${thr:-0}" -gt "$peak_thr" ] && peak_thr=$thr
        [ "${rss:-0}" -gt "$peak_rss" ] && peak_rss=$rss
        sleep 0.02
    done
    wait "$timer" || true
    read -r wall user sys < <(tail -1 "$work/time")
    echo "| $run | $(wc -l <"$work/out") | $peak_fd | $peak_thr | $peak_rss | $wall | $user | $sys |"
done
echo
echo "load after: $(uptime)"
if [ -s "$work/err" ]; then echo "stderr of the last run:"; head -5 "$work/err"; fi
