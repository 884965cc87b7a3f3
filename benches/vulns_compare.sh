#!/usr/bin/env bash
# `shakedown scan --vulns` beside `testssl -U` on the same loopback servers this script
# starts: wall time and connections (SYNs counted by tcpdump on lo), RUNS runs of each, one
# Markdown row per run, then the medians and the ratio (issue 18: shakedown in at most 1/20
# of testssl's wall time). testssl 3.0 has no `--fast` (its man page lists FAST only as an
# undocumented, commented-out variable); its one documented speed switch is
# `--ssl-native` ("faster … but less accurate"), so testssl runs twice: as is, and with
# `--ssl-native`. Both with `--quiet --warnings off --color 0`. The first run of each also
# keeps both tools' findings, and a second table sets each check's verdict beside
# testssl's (its JSON severity: OK/INFO read as not vulnerable, LOW to CRITICAL as
# vulnerable, anything else as unknown). Servers: a permissive `openssl s_server` (TLS
# 1.0-1.2, SECLEVEL=0, RFC 5114's 1024-bit DH group), gnutls-serv with 3DES, RC4, TLS 1.0
# and no RFC 5746, and nginx with a legacy configuration (tests/scan_vulns.rs has the same
# three). Not part of CI; needs root for tcpdump. Talks to 127.0.0.1 only.
#
#   bash benches/vulns_compare.sh                 # 3 runs of each
#   RUNS=5 SHAKEDOWN=target/release/shakedown bash benches/vulns_compare.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
work=$(mktemp -d)
runs=${RUNS:-3}
pids=()
cleanup() {
    stop "${pids[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

testssl=$(command -v testssl || command -v testssl.sh || true)
[ -n "$testssl" ] || { echo "vulns_compare.sh: needs testssl.sh (apt-get install testssl.sh)" >&2; exit 2; }
for tool in tcpdump gnutls-serv openssl python3 nginx; do
    command -v "$tool" >/dev/null || { echo "vulns_compare.sh: needs $tool" >&2; exit 2; }
done
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi


cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -subj /CN=localhost \
    -days 30 -addext subjectAltName=DNS:localhost 2>/dev/null

# openssl: TLS 1.0-1.2, every suite at SECLEVEL=0, RFC 5114's 1024-bit DH group.
openssl genpkey -genparam -algorithm DH -pkeyopt dh_rfc5114:1 -out dh1024.pem 2>/dev/null
openssl_port=$(free_port)
openssl s_server -quiet -accept 127.0.0.1:"$openssl_port" -naccept 100000 -cert rsa.pem -key rsa.key \
    -cipher 'ALL:@SECLEVEL=0' -min_protocol TLSv1 -max_protocol TLSv1.2 -dhparam dh1024.pem \
    </dev/null >/dev/null 2>&1 &
pids+=($!)
# gnutls-serv: 3DES, RC4, TLS 1.0, no RFC 5746 (the tests' permissive server).
gnutls_port=$(free_port)
gnutls-serv --port "$gnutls_port" --x509certfile rsa.pem --x509keyfile rsa.key \
    --priority 'NORMAL:+3DES-CBC:+ARCFOUR-128:+VERS-TLS1.0:%DISABLE_SAFE_RENEGOTIATION' \
    </dev/null >/dev/null 2>&1 &
pids+=($!)
# nginx: TLS 1.0-1.2, every suite at SECLEVEL=0, server order, no ssl_dhparam.
nginx_port=$(free_port)
nginx_server "$work/ngx" "listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/rsa.pem; ssl_certificate_key $work/rsa.key;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers ALL:@SECLEVEL=0; ssl_prefer_server_ciphers on;"
wait_port "$openssl_port"
wait_port "$gnutls_port"
wait_port "$nginx_port"

echo "load before: $(uptime)"
printf '| server | tool | run | connections | wall time (s) |\n|---|---|---:|---:|---:|\n'
declare -A times
for server in openssl gnutls nginx; do
    port_var=${server}_port
    port=${!port_var}
    for run_no in $(seq "$runs"); do
        for tool in shakedown testssl testssl-native; do
            keep=()
            [ "$run_no" = 1 ] && [ "$tool" = testssl ] && keep=(--jsonfile "$work/$server.testssl.json")
            case $tool in
                shakedown) cmd=("$SHAKEDOWN" scan "127.0.0.1:$port" --vulns --json --no-progress) ;;
                testssl) cmd=("$testssl" --quiet --warnings off --color 0 "${keep[@]}" -U "127.0.0.1:$port") ;;
                testssl-native) cmd=("$testssl" --quiet --warnings off --color 0 --ssl-native -U "127.0.0.1:$port") ;;
            esac
            read -r c t < <(connections_and_seconds "$work/syn.pcap" "$port" "$work/out" "${cmd[@]}")
            [ "$run_no" = 1 ] && [ "$tool" = shakedown ] && cp "$work/out" "$work/$server.shakedown.json"
            times[$server.$tool]="${times[$server.$tool]:-} $t"
            shown="${cmd[*]}"
            printf '| %s | %s | %s | %s | %s |\n' "$server" "${shown//$work\//}" "$run_no" "$c" "$t"
        done
    done
done
echo "load after: $(uptime)"
echo
printf '| server | shakedown median (s) | testssl -U median (s) | testssl --ssl-native -U median (s) | shakedown / fastest testssl |\n|---|---:|---:|---:|---:|\n'
for server in openssl gnutls nginx; do
    python3 - "$server" "${times[$server.shakedown]}" "${times[$server.testssl]}" "${times[$server.testssl-native]}" <<'PY'
import statistics, sys
server, s, t, n = sys.argv[1], *[[float(x) for x in a.split()] for a in sys.argv[2:]]
ms, mt, mn = statistics.median(s), statistics.median(t), statistics.median(n)
print(f"| {server} | {ms:.2f} | {mt:.2f} | {mn:.2f} | 1/{min(mt, mn) / ms:.0f} |")
PY
done

echo
printf '| server | check | shakedown | testssl -U (severity: finding) | agree |\n|---|---|---|---|---|\n'
for server in openssl gnutls nginx; do
    python3 - "$server" "$work/$server.shakedown.json" "$work/$server.testssl.json" <<'PY'
import json, sys
server, ours, theirs = sys.argv[1], json.loads(open(sys.argv[2]).readline()), json.load(open(sys.argv[3]))
TESTSSL = {"heartbleed": "heartbleed", "ccs_injection": "CCS", "ticketbleed": "ticketbleed",
           "robot": "ROBOT", "secure_renegotiation": "secure_renego",
           "client_renegotiation": "secure_client_renego", "compression": "CRIME_TLS",
           "poodle_ssl": "POODLE_SSL", "fallback_scsv": "fallback_SCSV", "sweet32": "SWEET32",
           "freak": "FREAK", "drown": "DROWN", "logjam": "LOGJAM", "beast": "BEAST",
           "lucky13": "LUCKY13", "rc4": "RC4"}
found = {f["id"]: f for f in theirs}
for check, tid in TESTSSL.items():
    mine = ours["vulnerabilities"][check]["status"]
    f = found.get(tid)
    if f is None:
        print(f"| {server} | {check} | {mine} | (no {tid} finding) | - |")
        continue
    # testssl's LOGJAM is export DH only; a common prime of 1024 bits is its own finding.
    common = found.get("LOGJAM-common_primes")
    if tid == "LOGJAM" and common and common.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL"):
        f = common
    sev = f.get("severity", "")
    verdict = ("not_vulnerable" if sev in ("OK", "INFO") else
               "vulnerable" if sev in ("LOW", "MEDIUM", "HIGH", "CRITICAL") else "unknown")
    text = f.get("finding", "").replace("|", "/")[:90]
    print(f"| {server} | {check} | {mine} | {sev}: {text} | {'yes' if verdict == mine else 'no'} |")
PY
done
