#!/bin/sh
# Runs fuzz targets one after another (2 shared cores: never two at once), each until
# RUNS executions or SECONDS seconds, whichever comes first, at the lowest priority.
# Usage: fuzz/run_all.sh [RUNS] [SECONDS] [TARGET...]   (from the repository root)
# Logs: fuzz/logs/TARGET.log; the last libFuzzer line holds the executions and coverage.
runs=${1:-10000000}; secs=${2:-600}; shift 2 2>/dev/null
targets=${*:-"client_hello server_messages record_layer keylog profiles decode_input tracker certificate link_layer capture_file probe_server"}
cd "$(dirname "$0")" && mkdir -p logs
for t in $targets; do
    mkdir -p "corpus/$t"
    start=$(date +%s)
    nice -n 19 cargo +nightly fuzz run -s none -a "$t" -- \
        -runs="$runs" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        >"logs/$t.log" 2>&1
    rc=$?
    echo "$t rc=$rc seconds=$(( $(date +%s) - start )) $(grep -E '^(#[0-9]+|Done)' "logs/$t.log" | tail -1)"
done
