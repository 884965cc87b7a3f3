#!/usr/bin/env bash
# Compares `shakedown scan` with sslscan, testssl.sh, nmap ssl-enum-ciphers and sslyze on
# loopback servers this script starts (a permissive `openssl s_server` and nginx with
# Mozilla's intermediate suites): connections made (SYNs counted by tcpdump on lo), wall
# time, and whether the accepted TLS 1.2 / 1.3 suites agree. Not part of CI; needs root for
# apt-get and tcpdump. Talks to 127.0.0.1 only.
#
#   bash benches/scan_compare.sh            # prints a Markdown table
#   SHAKEDOWN=target/debug/shakedown bash benches/scan_compare.sh   # another build
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
venv=${SSLYZE_VENV:-$HOME/.cache/shakedown-bench-venv}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
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

# --- servers -----------------------------------------------------------------------------
. "$here/benches/lib.sh"

cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -subj /CN=localhost \
    -days 30 -addext subjectAltName=DNS:localhost 2>/dev/null
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null

legacy_port=$(free_port)
openssl s_server -www -accept 127.0.0.1:"$legacy_port" -naccept 100000 -cert rsa.pem -key rsa.key \
    -cipher 'ALL:@SECLEVEL=0' -min_protocol TLSv1 -max_protocol TLSv1.2 >/dev/null 2>&1 &
pids+=($!)

nginx_port=$(free_port)
mkdir -p ngx
cat >ngx/nginx.conf <<EOF
daemon off; master_process off; pid $work/ngx/nginx.pid; error_log $work/ngx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/ngx/b; proxy_temp_path $work/ngx/p; fastcgi_temp_path $work/ngx/f;
  uwsgi_temp_path $work/ngx/u; scgi_temp_path $work/ngx/s;
  server {
    listen 127.0.0.1:$nginx_port ssl http2;
    ssl_certificate $work/rsa.pem; ssl_certificate_key $work/rsa.key; ssl_dhparam $work/dh.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    location / { return 200 "ok"; }
  }
}
EOF
nginx -c "$work/ngx/nginx.conf" -p "$work/ngx" >/dev/null 2>&1 &
pids+=($!)
wait_port "$legacy_port"
wait_port "$nginx_port"

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

printf '| server | tool | connections | wall time (s) | TLS 1.2+1.3 suites | agree with shakedown |\n'
printf '|---|---|---:|---:|---:|---|\n'
for server in legacy nginx; do
    port_var=${server}_port
    port=${!port_var}
    out=$work/$server
    read -r c t < <(connections_and_seconds "$work/shakedown-$port.pcap" "$port" "$out.shakedown" "$SHAKEDOWN" scan "127.0.0.1:$port" --json --concurrency 8)
    ref=$(suites shakedown "$out.shakedown")
    printf '| %s | shakedown scan (full) | %s | %s | %s | — |\n' "$server" "$c" "$t" "$(wc -w <<<"$ref")"
    read -r c t < <(connections_and_seconds "$work/shakedown-suites-$port.pcap" "$port" "$out.shakedown-suites" "$SHAKEDOWN" scan "127.0.0.1:$port" --json --concurrency 8 --suites-only)
    got=$(suites shakedown "$out.shakedown-suites")
    [ "$got" = "$ref" ] && agree=yes || agree=no
    printf '| %s | shakedown scan --suites-only | %s | %s | %s | %s |\n' "$server" "$c" "$t" "$(wc -w <<<"$got")" "$agree"
    declare -A cmds=(
        [sslscan]="sslscan --no-colour --xml=- 127.0.0.1:$port"
        [testssl]="$testssl --quiet --warnings off --color 0 -p -E --jsonfile $out.testssl.json 127.0.0.1:$port"
        [nmap]="nmap -Pn -n -p $port --script ssl-enum-ciphers -oX - 127.0.0.1"
        [sslyze]="$venv/bin/sslyze --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3 --json_out=$out.sslyze 127.0.0.1:$port"
    )
    for tool in sslscan testssl nmap sslyze; do
        # shellcheck disable=SC2086
        read -r c t < <(connections_and_seconds "$work/$tool-$port.pcap" "$port" "$out.$tool.stdout" ${cmds[$tool]})
        case $tool in
            sslscan | nmap) file=$out.$tool.stdout ;;
            testssl) file=$out.testssl.json ;;
            sslyze) file=$out.sslyze ;;
        esac
        got=$(suites "$tool" "$file" 2>/dev/null || echo "?")
        agree=$(python3 -c '
import sys
ref, got = set(sys.argv[1].split()), set(sys.argv[2].split())
miss, extra = sorted(ref - got), sorted(got - ref)
print("yes" if not miss and not extra else
      "no: " + "; ".join(p for p in (miss and "misses " + " ".join(miss), extra and "adds " + " ".join(extra)) if p))
' "$ref" "$got")
        printf '| %s | %s | %s | %s | %s | %s |\n' "$server" "$tool" "$c" "$t" "$(wc -w <<<"$got")" "$agree"
    done
done
