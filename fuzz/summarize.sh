#!/bin/sh
# One line per fuzz log (fuzz/logs/TARGET.log): executions, seconds, exec/s, coverage
# (edges), features, corpus, peak RSS. Usage: fuzz/summarize.sh [LOG...]
cd "$(dirname "$0")"
for f in ${*:-logs/*.log}; do
    t=$(basename "$f" .log)
    last=$(grep -E '^#[0-9]+' "$f" | tail -1)
    done_line=$(grep -E '^Done [0-9]+ runs' "$f" | tail -1)
    crash=$(grep -cE '^==[0-9]+== ERROR|panicked at|deadly signal|Test unit written' "$f")
    echo "$t | $(echo "$done_line" | awk '{print $2, $5}') | $(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9A-Za-z]+') | $(grep -E 'peak_rss_mb' "$f" | awk '{print $2}') MB | crash lines: $crash"
done
