#!/usr/bin/env bash
# Compares `shakedown scan` with sslscan, testssl.sh, nmap ssl-enum-ciphers and sslyze on
# loopback servers this script starts (a permissive `openssl s_server`, nginx with
# Mozilla's intermediate suites, and nginx with 3 suites in server order at TLS 1.2 and at
# TLS 1.3): connections made (SYNs counted by tcpdump on lo, first run), wall time of RUNS
# runs (tools interleaved run by run; median and every run), and whether the accepted
# TLS 1.2 / 1.3 suites agree. shakedown runs its full scan with each plan (`--prefer
# lower-latency`, the default for one target, and `fewer-connections`) and `--suites-only`.
# Not part of CI; needs root for apt-get and tcpdump. Talks to 127.0.0.1 only.
#
#   bash benches/scan_compare.sh            # prints a Markdown table
#   RUNS=5 TOOLS="sslscan" SERVERS="nginx nginx3" bash benches/scan_compare.sh
#   SHAKEDOWN=target/debug/shakedown bash benches/scan_compare.sh   # another build
#   DELAY_MS=20 bash benches/scan_compare.sh   # servers 20 ms away (benches/delay_proxy.py)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
work=$(mktemp -d)
venv=${SSLYZE_VENV:-$HOME/.cache/shakedown-bench-venv}
pids=()
cleanup() {
    stop "${pids[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------------------
need_apt=()
command -v sslscan >/dev/null || need_apt+=(sslscan)
command -v nmap >/dev/null || need_apt+=(nmap)
command -v tcpdump >/dev/null || need_apt+=(tcpdump)
command -v nginx >/dev/null || need_apt+=(nginx)
testssl=$(command -v testssl || command -v testssl.sh || true)
[ -n "$testssl" ] || need_apt+=(testssl.sh)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    testssl=$(command -v testssl || command -v testssl.sh)
fi
if [ ! -x "$venv/bin/sslyze" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q sslyze
fi
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi
SHAKEDOWN=$(realpath "$SHAKEDOWN")

# --- servers -----------------------------------------------------------------------------

cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -subj /CN=localhost \
    -days 30 -addext subjectAltName=DNS:localhost 2>/dev/null
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null

legacy_port=$(free_port)
openssl s_server -www -accept 127.0.0.1:"$legacy_port" -naccept 100000 -cert rsa.pem -key rsa.key \
    -cipher 'ALL:@SECLEVEL=0' -min_protocol TLSv1 -max_protocol TLSv1.2 >/dev/null 2>&1 &
pids+=($!)

nginx_port=$(free_port)
nginx_server "$work/ngx" "listen 127.0.0.1:$nginx_port ssl http2;
    ssl_certificate $work/rsa.pem; ssl_certificate_key $work/rsa.key; ssl_dhparam $work/dh.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers $MOZILLA_INTERMEDIATE_CIPHERS;
    ssl_prefer_server_ciphers off;"
nginx3_port=$(free_port)
nginx_server "$work/ngx3" "listen 127.0.0.1:$nginx3_port ssl;
    ssl_certificate $work/rsa.pem; ssl_certificate_key $work/rsa.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256;
    ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256;
    ssl_prefer_server_ciphers on;"
wait_port "$legacy_port"
wait_port "$nginx_port"
wait_port "$nginx3_port"
# DELAY_MS: every tool reaches the servers through benches/delay_proxy.py, which adds that
# round-trip time to each exchange and to the connect (a far server; this kernel has no
# netem). The relay's own SYNs to the servers are not counted.
if [ -n "${DELAY_MS:-}" ]; then
    for server in legacy nginx nginx3; do
        port_var=${server}_port
        relay=$(free_port)
        python3 "$here/benches/delay_proxy.py" "$relay" "${!port_var}" "$DELAY_MS" &
        pids+=($!)
        wait_port "$relay"
        printf -v "$port_var" '%s' "$relay"
    done
fi

# The accepted TLS 1.2 and 1.3 suites of one tool's output, as sorted hex ids.
suites() {
    python3 - "$1" "$2" "$work/names.json" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
tool, path = sys.argv[1], sys.argv[2]
text = open(path, errors="replace").read()
ids = set()
NAMES = json.load(open(sys.argv[3]))
if tool == "shakedown":
    v = json.loads(text.splitlines()[0])
    for ver in ("TLSv1.2", "TLSv1.3"):
        ids.update(int(i, 16) for i in v["versions"][ver]["cipher_ids"])
elif tool == "sslscan":
    for c in ET.fromstring(text).iter("cipher"):
        if c.get("status") in ("accepted", "preferred") and c.get("sslversion") in ("TLSv1.2", "TLSv1.3"):
            ids.add(int(c.get("id"), 16))
elif tool == "testssl":
    for f in json.loads(text):
        m = re.match(r"cipher-tls1_[23]_x([0-9a-f]+)$", f.get("id", ""))
        if m:
            ids.add(int(m.group(1), 16))
elif tool == "nmap":
    for t in ET.fromstring(text).iter("table"):
        if t.get("key") in ("TLSv1.2", "TLSv1.3"):
            for e in t.iter("elem"):
                # nmap names TLS 1.3 suites TLS_AKE_WITH_AES_128_GCM_SHA256 (IANA: TLS_AES_128_GCM_SHA256).
                name = (e.text or "").replace("TLS_AKE_WITH_", "TLS_")
                if e.get("key") == "name" and name in NAMES:
                    ids.add(NAMES[name])
elif tool == "sslyze":
    r = json.loads(text)["server_scan_results"][0]["scan_result"]
    for k in ("tls_1_2_cipher_suites", "tls_1_3_cipher_suites"):
        for s in r[k]["result"]["accepted_cipher_suites"]:
            n = s["cipher_suite"]["name"]
            if n in NAMES:
                ids.add(NAMES[n])
print(" ".join(f"{i:04x}" for i in sorted(ids)))
PY
}

# IANA name → id for nmap's and sslyze's names, from OpenSSL's own table.
openssl ciphers -V -stdname 'ALL:@SECLEVEL=0' | python3 -c '
import json, sys
names = {}
for line in sys.stdin:
    f = line.split()
    if len(f) > 2 and f[0].startswith("0x"):
        names[f[2]] = int(f[0].replace("0x", "").replace(",", ""), 16)
json.dump(names, sys.stdout)' >"$work/names.json"

runs=${RUNS:-1}
tools=${TOOLS:-"sslscan testssl nmap sslyze"}
servers=${SERVERS:-"legacy nginx nginx3"}
echo "load before: $(uptime)"
[ -z "${DELAY_MS:-}" ] || echo "round trip added by benches/delay_proxy.py: $DELAY_MS ms"
echo
printf '| server | tool | connections | wall time, median (s) | all runs (s) | TLS 1.2+1.3 suites | agree with shakedown |\n'
printf '|---|---|---:|---:|---|---:|---|\n'
for server in $servers; do
    port_var=${server}_port
    port=${!port_var}
    out=$work/$server
    # Row name, parser, command and output file of each tool; shakedown's full scan in the
    # default plan first: the reference for the suites.
    names=("shakedown scan (lower-latency)" "shakedown scan --prefer fewer-connections" "shakedown scan --suites-only")
    kinds=(shakedown shakedown shakedown)
    cmds=(
        "$SHAKEDOWN scan 127.0.0.1:$port --json --concurrency 8 --prefer lower-latency"
        "$SHAKEDOWN scan 127.0.0.1:$port --json --concurrency 8 --prefer fewer-connections"
        "$SHAKEDOWN scan 127.0.0.1:$port --json --concurrency 8 --suites-only"
    )
    files=("$out.0" "$out.1" "$out.2")
    for tool in $tools; do
        names+=("$tool")
        kinds+=("$tool")
        case $tool in
            sslscan) cmds+=("sslscan --no-colour --xml=- 127.0.0.1:$port") ;;
            testssl) cmds+=("$testssl --quiet --warnings off --color 0 -p -E --jsonfile $out.testssl.json 127.0.0.1:$port") ;;
            nmap) cmds+=("nmap -Pn -n -p $port --script ssl-enum-ciphers -oX - 127.0.0.1") ;;
            sslyze) cmds+=("$venv/bin/sslyze --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --json_out=$out.sslyze 127.0.0.1:$port") ;;
        esac
        case $tool in
            testssl) files+=("$out.testssl.json") ;;
            sslyze) files+=("$out.sslyze") ;;
            *) files+=("$out.$tool") ;;
        esac
    done
    n=${#cmds[@]}
    conns=()
    times=()
    # Run 1 counts connections; every run is timed; tools interleaved run by run. testssl
    # and sslyze write their own files; stdout is the result for the others.
    for r in $(seq "$runs"); do
        for i in $(seq 0 $((n - 1))); do
            stdout=${files[$i]}
            case ${kinds[$i]} in testssl | sslyze) stdout=$out.$i.stdout ;; esac
            if [ "$r" = 1 ]; then
                # shellcheck disable=SC2086
                read -r c t < <(connections_and_seconds "$work/$i-$port.pcap" "$port" "$stdout" ${cmds[$i]})
                conns[i]=$c
                times[i]=$t
            else
                # shellcheck disable=SC2086
                times[i]="${times[$i]},$(seconds "$stdout.again" ${cmds[$i]})"
            fi
        done
    done
    ref=$(suites shakedown "${files[0]}")
    for i in $(seq 0 $((n - 1))); do
        got=$(suites "${kinds[$i]}" "${files[$i]}" 2>/dev/null || echo "?")
        if [ "$i" = 0 ]; then
            agree="—"
        else
            agree=$(python3 -c '
import sys
ref, got = set(sys.argv[1].split()), set(sys.argv[2].split())
miss, extra = sorted(ref - got), sorted(got - ref)
print("yes" if not miss and not extra else
      "no: " + "; ".join(p for p in (miss and "misses " + " ".join(miss), extra and "adds " + " ".join(extra)) if p))
' "$ref" "$got")
        fi
        median=$(python3 -c 'import statistics, sys; m = statistics.median(float(x) for x in sys.argv[1].split(",")); print("%.3f" % m)' "${times[$i]}")
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$server" "${names[$i]}" "${conns[$i]}" "$median" "${times[$i]}" "$(wc -w <<<"$got")" "$agree"
    done
done
echo
echo "load after: $(uptime)"
