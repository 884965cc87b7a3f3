#!/usr/bin/env bash
# Builds (or one build under different environment variables) of the scanner in turn over
# the same local nginx servers as benches/scan_cpu.sh (SERVERS of them, each target listed
# REPEAT times, ROUNDS rounds): the scanner's CPU per handshake from GNU time's rusage, the
# servers' from /proc, and with PERF=1 counts per handshake from `perf stat` that do not
# depend on the machine's load (packets sent in the scanner's system calls, resets,
# sockets freed, context switches, page faults, system calls). Loopback only; stops the
# servers it started. Not part of CI.
#
#   VARIANTS="base=/path/a new=target/release/shakedown" PERF=1 bash benches/scan_cpu_ab.sh
#   VARIANTS="one=BIN two=BIN=MIMALLOC_PURGE_DELAY=-1" bash benches/scan_cpu_ab.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
servers=${SERVERS:-32}; repeat=${REPEAT:-4}; rounds=${ROUNDS:-3}; concurrency=${CONCURRENCY:-64}
: "${VARIANTS:?VARIANTS=\"name=BIN[=VAR=VALUE,...] ...\"}"
command -v nginx >/dev/null || { echo "needs nginx" >&2; exit 2; }
fleet_in_temp "$servers" "$repeat"
EV=cpu-clock,page-faults,context-switches,net:net_dev_xmit,tcp:tcp_send_reset,tcp:tcp_destroy_sock,raw_syscalls:sys_enter
echo "targets $(wc -l <targets); load before: $(cat /proc/loadavg)"
echo "| variant | round | handshakes | wall s | user s | sys s | µs/handshake | servers µs/hs | counts per handshake |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
  for v in $VARIANTS; do
    name=${v%%=*}; rest=${v#*=}; bin=${rest%%=*}; envs=""
    [ "$rest" != "$bin" ] && envs=${rest#*=}
    case $bin in /*) ;; *) bin=$cwd/$bin ;; esac
    b=$(fleet_ticks)
    if [ -n "${PERF:-}" ]; then wrap="perf stat -x, -o stat.txt -e $EV"; else wrap=""; rm -f stat.txt; fi
    env ${envs//,/ } /usr/bin/time -f '%e %U %S' -o time.txt $wrap "$bin" scan --json --no-progress --concurrency "$concurrency" --targets-file targets >out.jsonl 2>err.txt || true
    a=$(fleet_ticks)
    read -r wall user sys < <(tail -1 time.txt)
    hs=$(python3 -c 'import json; print(sum(json.loads(l).get("handshakes",0) for l in open("out.jsonl") if l.strip()))')
    counts=$(perf_per_handshake "$hs" stat.txt)
    cpu_row "$name | $r | $hs | $wall" "$hs" "$user" "$sys" "$((a - b))" "$counts"
  done
done
echo "load after: $(cat /proc/loadavg)"
if [ -s err.txt ]; then echo "stderr of the last run:"; head -3 err.txt; fi
