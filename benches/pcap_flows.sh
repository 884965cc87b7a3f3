#!/usr/bin/env bash
# Peak memory of `shakedown pcap` (release build, default limits) against the number of
# connections in a capture: captures of N connections that each send a ClientHello and never
# complete, all open at once (benches/pcap_gen.rs `flows` mode, one connection per 10 µs of
# capture time). With the flow table's memcap, peak RSS stays flat in N; every connection is
# still reported (the summary's connection count is checked against N).
#
# Usage: benches/pcap_flows.sh   (env: FLOWS, default "100000 400000 1000000 10000000";
#        WORK=/dir/for/big/files; ARGS: extra flags for shakedown pcap, e.g. "--memcap 64M";
#        BIN, GEN: prebuilt shakedown and pcap_gen binaries, to measure a fixed build while
#        the sources change)
set -euo pipefail
cd "$(dirname "$0")/.."
FLOWS=${FLOWS:-"100000 400000 1000000 10000000"}
WORK=${WORK:-$(mktemp -d)}
ARGS=${ARGS:-}
mkdir -p "$WORK"
trap 'rm -f "$WORK"/flows-*.pcap "$WORK"/flows-*.json' EXIT

if [ ! -x /usr/bin/time ]; then
    echo "needs /usr/bin/time (apt-get install time)"
    exit 2
fi
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=${CARGO_TARGET_DIR:-target}/release/shakedown
fi
gen() { # gen FILE N
    if [ -n "${GEN:-}" ]; then
        "$GEN" flows "$1" "$2"
    else
        cargo bench --quiet --bench pcap_gen -- flows "$1" "$2"
    fi
}

echo "| flows | capture | time | peak RSS | evicted | reported |"
echo "|---|---|---|---|---|---|"
for n in $FLOWS; do
    f="$WORK/flows-$n.pcap"
    gen "$f" "$n" >/dev/null
    mb=$(( $(stat -c %s "$f") / 1048576 ))
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %M" -o "$WORK/flows-time.json" \
        "$BIN" pcap --json --port 1 $ARGS "$f" >"$WORK/flows-summary.json" || true
    read -r secs rss <"$WORK/flows-time.json"
    # --port 1 selects no connection: only the summary is written, counted over all of them.
    python3 - "$n" "$mb" "$secs" "$rss" "$WORK/flows-summary.json" <<'PY'
import json, sys
n, mb, secs, rss, path = sys.argv[1:]
s = json.loads(open(path).read().splitlines()[-1])["summary"]
i = s["inputs"][0]
reported = i["flows"] - i["non_tls_flows"]
assert i["flows"] == int(n), (i["flows"], n)
print(f"| {int(n):,} | {mb} MB | {float(secs):.1f} s | {int(rss)/1024:.0f} MB | {i['evicted_flows']:,} | {reported:,} |")
PY
    rm -f "$f"
done
