#!/usr/bin/env bash
# Benchmark (issue 19 item 5): the CPU `shakedown exporter` spends when a real Prometheus
# scrapes 100 targets, each a name with 3 addresses, every 15 s. Target: below 10 % of one
# core. blackbox_exporter (Debian's package, the peer) is scraped in the same run on the
# same servers with the same number of handshakes: 300 targets, one per address (it probes
# only one address of a name, so each address is its own target, by IP with a fixed
# server name).
#
# Servers: one `openssl s_server -www` on each of 127.0.0.2, .3 and .4, all on one port,
# with a leaf for t1.test … t100.test issued by a CA both exporters trust. The exporter's
# module maps each name to the three addresses with `--resolve` (no DNS involved).
#
# CPU is utime + stime from /proc/PID/stat (clock ticks, converted to seconds) of each
# exporter process, read after a warm-up and again DURATION seconds later; the ratio to the
# wall time is the share of one core. The exporters' own counters say how many scrapes
# were served in that window.
#
# Usage: benches/exporter_cpu.sh [DURATION] [RUNS]   (default 300 s and 3 runs; loopback only)
# Env: BIN     the shakedown binary (default: `cargo build --release --bin shakedown`)
#      WARMUP  seconds before the first reading (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-300}
runs=${2:-3}
warmup=${WARMUP:-30}
for tool in openssl prometheus prometheus-blackbox-exporter curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done
if [[ -z "${BIN:-}" ]]; then
    cargo build --release -q --bin shakedown
    BIN=target/release/shakedown
fi

dir=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

. benches/lib.sh

# A CA and a leaf for t1.test … t100.test.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/ca.key" \
    -out "$dir/ca.pem" -subj "/CN=bench CA" -days 2 2>/dev/null
sans=$(seq -f 'DNS:t%g.test' -s, 1 100)
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$dir/leaf.key" \
    -out "$dir/leaf.csr" -subj /CN=t1.test 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$sans" \
    >"$dir/leaf.ext"
openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/leaf.pem" -days 2 -extfile "$dir/leaf.ext" 2>/dev/null

port=$(free_port)
for ip in 127.0.0.2 127.0.0.3 127.0.0.4; do
    openssl s_server -www -quiet -accept "$ip:$port" -naccept 100000000 \
        -cert "$dir/leaf.pem" -key "$dir/leaf.key" </dev/null >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$port" "$ip"
done

# shakedown: one module, every name to the three addresses.
{
    echo '[modules.bench]'
    printf 'args = ["--ca", "%s"' "$dir/ca.pem"
    for i in $(seq 100); do printf ', "--resolve", "t%d.test:%d:127.0.0.2,127.0.0.3,127.0.0.4"' "$i" "$port"; done
    echo ']'
} >"$dir/modules.toml"
"$BIN" exporter --listen 127.0.0.1:0 --allow 127.0.0.0/8 --config "$dir/modules.toml" \
    2>"$dir/exporter.err" &
exporter_pid=$!
pids+=("$exporter_pid")
for _ in $(seq 100); do grep -q 'listening on' "$dir/exporter.err" && break; sleep 0.1; done
exporter_addr=$(sed -n 's/.*listening on //p' "$dir/exporter.err" | head -1)
[[ -n "$exporter_addr" ]] || { cat "$dir/exporter.err" >&2; exit 1; }

# blackbox_exporter: one target per address, the same server name and trust anchor.
bb_port=$(free_port)
cat >"$dir/blackbox.yml" <<EOF
modules:
  tls:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: $dir/ca.pem
        server_name: t1.test
EOF
prometheus-blackbox-exporter --config.file="$dir/blackbox.yml" \
    --web.listen-address="127.0.0.1:$bb_port" >/dev/null 2>&1 &
bb_pid=$!
pids+=("$bb_pid")
wait_port "$bb_port"

shakedown_targets=$(for i in $(seq 100); do printf "'t%d.test:%d', " "$i" "$port"; done)
# The same address three ways would be one target to Prometheus: a label keeps 300 apart.
blackbox_jobs=""
for n in $(seq 100); do
    blackbox_jobs+="      - targets: ['127.0.0.2:$port', '127.0.0.3:$port', '127.0.0.4:$port']
        labels: {copy: '$n'}
"
done
prom_port=$(free_port)
cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 15s
  scrape_timeout: 10s
scrape_configs:
  - job_name: shakedown
    metrics_path: /probe
    params:
      module: [bench]
    static_configs:
      - targets: [${shakedown_targets%, }]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '$exporter_addr'
  - job_name: blackbox
    metrics_path: /probe
    params:
      module: [tls]
    static_configs:
$blackbox_jobs    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target, copy]
        separator: '#'
        target_label: instance
      - target_label: __address__
        replacement: '127.0.0.1:$bb_port'
EOF
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$prom_port"

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
counter() { curl -s "http://$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
query() {
    curl -s "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}

echo "command: $0 $duration $runs (WARMUP=$warmup, BIN=$BIN)"
echo "machine: $(nproc) cores, $(uname -r)"
echo "servers: 3 openssl s_server on 127.0.0.2-4:$port; 100 targets x 3 addresses every 15 s"
echo "warm-up ${warmup} s"
sleep "$warmup"
for run in $(seq "$runs"); do
    echo "run $run: $(uptime)"
    t0=$(date +%s.%N)
    s0=$(cpu_ticks "$exporter_pid"); b0=$(cpu_ticks "$bb_pid")
    sc0=$(counter "$exporter_addr" shakedown_exporter_scrapes_total)
    sleep "$duration"
    t1=$(date +%s.%N)
    s1=$(cpu_ticks "$exporter_pid"); b1=$(cpu_ticks "$bb_pid")
    sc1=$(counter "$exporter_addr" shakedown_exporter_scrapes_total)
    probes=$(query 'count(shakedown_probe_success)')
    ok=$(query 'sum(shakedown_probe_success)')
    bb_series=$(query 'count(probe_success)')
    bb_ok=$(query 'sum(probe_success)')
    shakedown_scrape=$(query 'avg(scrape_duration_seconds{job="shakedown"})')
    bb_scrape=$(query 'avg(scrape_duration_seconds{job="blackbox"})')
    python3 - "$t0" "$t1" "$s0" "$s1" "$b0" "$b1" "$hz" "$sc0" "$sc1" <<'PY'
import sys
t0, t1, s0, s1, b0, b1, hz, sc0, sc1 = map(float, sys.argv[1:])
wall = t1 - t0
for name, a, b in (("shakedown exporter", s0, s1), ("blackbox_exporter ", b0, b1)):
    cpu = (b - a) / hz
    print(f"  {name}: {cpu:7.2f} s CPU in {wall:.1f} s = {100 * cpu / wall:5.2f} % of one core")
print(f"  shakedown scrapes served in the window: {int(sc1 - sc0)} "
      f"(expected {int(wall / 15 * 100)}: 100 targets every 15 s), "
      f"{(s1 - s0) / hz / max(sc1 - sc0, 1) * 1000:.2f} ms CPU per scrape of 3 addresses")
PY
    echo "  last scrape: shakedown $probes address series, $ok successful (avg scrape $shakedown_scrape s);" \
        "blackbox $bb_series targets, $bb_ok successful (avg scrape $bb_scrape s)"
    echo "  after: $(uptime)"
done
