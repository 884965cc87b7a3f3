#!/usr/bin/env bash
# The floor of the scanner's CPU per handshake on this machine, beside `shakedown scan`'s:
# over the same local nginx servers as benches/scan_cpu.sh (lib.sh nginx_fleet: SERVERS
# servers, each target listed REPEAT times), in alternating rounds (ROUNDS), the scanner's
# many-target scan and benches/scan_floor.rs doing only the wire work of the same
# handshakes — the hellos the scanner sends to one target (recorded with tcpdump on lo, one
# scan of the first server with the plan of a many-target scan), each sent once to every
# target on a connection of its own, read until the server's flight is complete, closed —
# once on one epoll thread (`epoll`) and once on CONCURRENCY blocking threads (`threads`);
# MODES="epoll epoll:2 threads" adds K epoll threads sharing the connections (`epoll:2`),
# `epoll@10000` an epoll loop that sleeps 10 ms before each wait, so that events gather.
# With FIXED=CAPTURE.pcap:1 each mode runs again sending that capture's first hello on
# every connection (`epoll-fixed`, `threads-fixed`). CPU per handshake from GNU time's rusage
# (user + system), the servers' from /proc; with PERF=1 counts per handshake from `perf
# stat` as in benches/scan_cpu_ab.sh. Loopback only; stops the servers it started. Not
# part of CI.
#
#   SHAKEDOWN=/work/bin-main bash benches/scan_floor.sh           # ROUNDS=3 SERVERS=32 REPEAT=4
#   FIXED=captures/tls13_success.pcap:1 PERF=1 ROUNDS=4 bash benches/scan_floor.sh
#   MODES="epoll epoll:2 threads" bash benches/scan_floor.sh
#   FLOOR=target/release/deps/scan_floor-HASH                      # a built floor program
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
servers=${SERVERS:-32}; repeat=${REPEAT:-4}; rounds=${ROUNDS:-3}; concurrency=${CONCURRENCY:-64}
command -v nginx >/dev/null || { echo "needs nginx" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "needs tcpdump (and root, for lo)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi
if [ -z "${FLOOR:-}" ]; then
    FLOOR=$(cd "$here" && cargo bench --no-run --bench scan_floor --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("target", {}).get("name") == "scan_floor" and m.get("executable"):
        print(m["executable"])')
fi
case $FLOOR in /*) ;; *) FLOOR=$PWD/$FLOOR ;; esac
fixed=""
if [ -n "${FIXED:-}" ]; then case $FIXED in /*) fixed=$FIXED ;; *) fixed=$PWD/$FIXED ;; esac; fi
fleet_in_temp "$servers" "$repeat"

# The hellos of one target's scan, as the many-target scan plans it (fewer connections):
# tcpdump is waited for until it says it listens (under load it can take more than a
# second, and a late start loses the first connections), gets a 64 MB buffer (with
# --immediate-mode and the default one, it dropped packets at load 20), and the
# recording is made again if it holds fewer hellos than the scan made handshakes.
record() {
    tcpdump -i lo -n -U -B 65536 -w hellos.pcap "tcp port ${ports[0]}" 2>dump.err &
    local dump=$! i
    for i in $(seq 100); do grep -q "listening on" dump.err && break; sleep 0.1; done
    "$SHAKEDOWN" scan --json --no-progress --prefer fewer-connections "127.0.0.1:${ports[0]}" \
        >one.jsonl 2>/dev/null || true
    sleep 2 # libpcap hands packets over in blocks, at least once a second
    kill -INT "$dump"; wait "$dump" 2>/dev/null || true
    per_target=$(python3 -c 'import json; print(sum(json.loads(l).get("handshakes",0) for l in open("one.jsonl") if l.strip()))')
    recorded=$("$FLOOR" epoll hellos.pcap 0 1 1 | awk '{print $3}')
    [ "$recorded" = "$per_target" ]
}
for try in 1 2 3; do
    record && break
    echo "recording $try: $recorded hellos for $per_target handshakes" >&2
    [ "$try" = 3 ] && { echo "could not record the scan's hellos" >&2; exit 1; }
done
mapfile -t target_ports < <(sed 's/.*://' targets)
n=$((per_target * ${#target_ports[@]}))

# The floor program's line, summed up for the table.
cat >outcomes.py <<'PY'
import sys
f = open(sys.argv[1]).read().split()
d = dict(zip(f[1::2], f[2::2]))
n = int(d["connections"])
own = (int(d["user_us"]) + int(d["sys_us"])) / n
print(f"{d['hellos']} hellos; flight {d['flight']} alert {d['alert']} retry {d['retry']} "
      f"closed {d['closed']} other {d['other']} failed {d['failed']}; reads {int(d['reads']) / n:.2f}; "
      f"own rusage {own:.1f} µs")
PY
EV=cpu-clock,page-faults,context-switches,net:net_dev_xmit,tcp:tcp_send_reset,tcp:tcp_destroy_sock,raw_syscalls:sys_enter
echo "shakedown: $SHAKEDOWN; floor: $FLOOR"
echo "servers $servers; targets ${#target_ports[@]}; one target's scan: $per_target handshakes; floor connections $n; concurrency $concurrency; fixed hello: ${FIXED:-none}"
echo "load before: $(cat /proc/loadavg)"
echo "| variant | round | handshakes | outcomes | wall s | user s | sys s | µs/handshake | servers µs/hs | counts per handshake |"
echo "|---|---|---|---|---|---|---|---|---|---|"
modes=${MODES:-epoll threads}
variants="scan $modes"
if [ -n "$fixed" ]; then for m in $modes; do variants="$variants $m-fixed"; done; fi
for r in $(seq "$rounds"); do
  for v in $variants; do
    if [ -n "${PERF:-}" ]; then wrap="perf stat -x, -o stat.txt -e $EV"; else wrap=""; rm -f stat.txt; fi
    b=$(fleet_ticks)
    case $v in
      scan)
        /usr/bin/time -f '%e %U %S' -o time.txt $wrap "$SHAKEDOWN" scan --json --no-progress \
            --concurrency "$concurrency" --targets-file targets >out.jsonl 2>err.txt || true
        hs=$(python3 -c 'import json; print(sum(json.loads(l).get("handshakes",0) for l in open("out.jsonl") if l.strip()))')
        outcomes="" ;;
      *)
        mode=${v%-fixed}; hellos=$work/hellos.pcap
        [ "$v" != "$mode" ] && hellos=$fixed
        /usr/bin/time -f '%e %U %S' -o time.txt $wrap "$FLOOR" "$mode" "$hellos" "$n" \
            "$concurrency" "${target_ports[@]}" >out.txt 2>err.txt || true
        hs=$n
        outcomes=$(python3 outcomes.py out.txt) || { cat err.txt >&2; exit 1; } ;;
    esac
    a=$(fleet_ticks)
    read -r wall user sys < <(tail -1 time.txt)
    counts=$(perf_per_handshake "$hs" stat.txt)
    cpu_row "$v | $r | $hs | $outcomes | $wall" "$hs" "$user" "$sys" "$((a - b))" "$counts"
  done
done
echo "load after: $(cat /proc/loadavg)"
if [ -s err.txt ]; then echo "stderr of the last run:"; head -3 err.txt; fi
