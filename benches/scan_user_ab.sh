#!/usr/bin/env bash
# The scanner's user-space CPU per handshake, builds in turn, from `perf record` samples
# (cpu-clock at FREQ Hz, each sample's mode: user or kernel) over the same local nginx fleet
# as benches/scan_cpu_ab.sh (SERVERS servers, each listed REPEAT times, ROUNDS rounds). The
# rusage of GNU time counts user time in 10 ms steps and splits it from system time by
# ticks; samples attribute each 1/FREQ s to the mode it was taken in. Also the whole
# process's samples (user + kernel). Loopback only; stops the servers it started. Not part
# of CI.
#
#   VARIANTS="base=/work/bin-main new=target/release/shakedown" bash benches/scan_user_ab.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
servers=${SERVERS:-32}; repeat=${REPEAT:-4}; rounds=${ROUNDS:-4}; concurrency=${CONCURRENCY:-64}
freq=${FREQ:-20000}
: "${VARIANTS:?VARIANTS=\"name=BIN ...\"}"
command -v nginx >/dev/null || { echo "needs nginx" >&2; exit 2; }
command -v perf >/dev/null || { echo "needs perf" >&2; exit 2; }
fleet_in_temp "$servers" "$repeat"
echo "targets $(wc -l <targets); cpu-clock at $freq Hz; load before: $(cat /proc/loadavg)"
echo "| variant | round | handshakes | wall s | samples | user µs/handshake | kernel µs/handshake | total µs/handshake |"
echo "|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for v in $VARIANTS; do
    name=${v%%=*}; bin=${v#*=}
    case $bin in /*) ;; *) bin=$cwd/$bin ;; esac
    t0=$(date +%s.%N)
    perf record -q -F "$freq" -e cpu-clock -o perf.data "$bin" scan --json --no-progress \
      --concurrency "$concurrency" --targets-file targets >out.jsonl 2>err.txt || true
    t1=$(date +%s.%N)
    hs=$(python3 -c 'import json; print(sum(json.loads(l).get("handshakes",0) for l in open("out.jsonl") if l.strip()))')
    # One line per sample: its mode ("k" in the kernel, else user space).
    perf script -i perf.data -F ip,sym 2>/dev/null | python3 -c '
import sys
hs, freq, wall, cells = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
user = kernel = 0
for line in sys.stdin:
    f = line.split()
    if not f:
        continue
    if int(f[0], 16) >= 0xffff800000000000:
        kernel += 1
    else:
        user += 1
us = lambda n: n / freq / hs * 1e6
print(f"| {cells} | {hs} | {wall:.2f} | {user + kernel} | {us(user):.1f} | {us(kernel):.1f} | {us(user + kernel):.1f} |")
' "$hs" "$freq" "$(python3 -c "print($t1-$t0)")" "$name | $r"
  done
done
echo "load after: $(cat /proc/loadavg)"
if [ -s err.txt ]; then echo "stderr of the last run:"; head -3 err.txt; fi
