#!/usr/bin/env bash
# The scanner's own work per handshake, counted (not timed): instructions and allocations
# under callgrind, which do not depend on the machine's load. SERVERS local nginx servers
# (the fleet of benches/scan_cpu_ab.sh), each listed REPEAT times, scanned whole and then
# only the first half of the list; the difference over the difference in handshakes is
# the cost of a handshake without the run's start-up (the whole run's per handshake is
# printed too). Allocations are calls into mimalloc (mi_malloc_aligned, mi_zalloc_aligned;
# reallocations apart). Each build's `scan --json` (but `elapsed_ms`) is compared with the
# first build's. Loopback only; stops the servers it started. Not part of CI.
#
#   BINS="/work/bin-main target/release/shakedown" bash benches/scan_callgrind.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
servers=${SERVERS:-16}; repeat=${REPEAT:-2}; concurrency=${CONCURRENCY:-64}
: "${BINS:?BINS=\"BIN ...\"}"
command -v nginx >/dev/null || { echo "needs nginx" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
fleet_in_temp "$servers" "$repeat"
head -n "$(($(wc -l <targets) / 2))" targets >half
cat >count.py <<'PY'
import re, subprocess, sys
def stats(f):
    out = subprocess.run(['callgrind_annotate', '--inclusive=yes', '--tree=caller',
                          '--threshold=100', f], capture_output=True, text=True).stdout
    lines, total, calls = out.split('\n'), 0, {}
    for l in lines:
        if 'PROGRAM TOTALS' in l:
            total = int(l.split()[0].replace(',', ''))
            break
    for i, l in enumerate(lines):
        m = re.search(r'\*  \S+:(mi_malloc_aligned|mi_zalloc_aligned|mi_realloc_aligned) \[', l)
        if not m:
            continue
        j = i - 1
        while j >= 0 and lines[j].strip() and '<' in lines[j]:
            c = re.search(r'\((\d[\d,]*)x\)', lines[j])
            if c:
                calls[m.group(1)] = calls.get(m.group(1), 0) + int(c.group(1).replace(',', ''))
            j -= 1
    allocs = calls.get('mi_malloc_aligned', 0) + calls.get('mi_zalloc_aligned', 0)
    return total, allocs, calls.get('mi_realloc_aligned', 0)
def handshakes(f):
    import json
    return sum(json.loads(l).get('handshakes', 0) for l in open(f) if l.strip())
name, same = sys.argv[1], sys.argv[2]
(ia, aa, ra), (ib, ab, rb) = stats('whole.cg'), stats('half.cg')
ha, hb = handshakes('whole.jsonl'), handshakes('half.jsonl')
d = ha - hb
print(f'| {name} | {ha} | {ia/1e6:.2f} M | {(ia-ib)/d:,.0f} | {ia/ha:,.0f} | '
      f'{(aa-ab)/d:.1f} | {(ra-rb)/d:.1f} | {aa/ha:.1f} | {same} |')
PY
strip_times() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.strip():
        o = json.loads(l); o.pop("elapsed_ms", None); print(json.dumps(o, sort_keys=True))
' "$1"; }
echo "targets $(wc -l <targets) and $(wc -l <half); load before: $(cat /proc/loadavg)"
echo "| build | handshakes | instructions | per handshake (marginal) | per handshake (whole run) | allocations per handshake (marginal) | reallocations (marginal) | allocations per handshake (whole run) | --json as the first build's |"
echo "|---|---|---|---|---|---|---|---|---|"
first=""
for bin in $BINS; do
  case $bin in /*) ;; *) bin=$cwd/$bin ;; esac
  for t in whole half; do
    list=targets; [ "$t" = half ] && list=half
    valgrind --tool=callgrind --callgrind-out-file=$t.cg "$bin" scan --json --no-progress \
      --concurrency "$concurrency" --targets-file "$list" >$t.jsonl 2>/dev/null || true
  done
  strip_times whole.jsonl >norm.jsonl
  if [ -z "$first" ]; then first=$bin; cp norm.jsonl first.jsonl; same="–"
  elif cmp -s norm.jsonl first.jsonl; then same="identical"; else same="DIFFERENT"; fi
  python3 count.py "$(basename "$bin")" "$same"
done
echo "load after: $(cat /proc/loadavg)"
