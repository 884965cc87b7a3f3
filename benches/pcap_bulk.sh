#!/usr/bin/env bash
# Records a bulk-heavy capture of real loopback TLS for benches/pcap_compare.sh: an
# `openssl s_server -WWW` on 127.0.0.1 (fresh throw-away certificate), fetched by curl —
# DOWNLOADS connections that each download 4 MiB, and after each of them SHORT connections
# that fetch a 100-byte page (a full handshake and a short exchange). tcpdump records the
# server's port on lo (packets of up to 64 kB: loopback's segmentation offload).
# Defaults (50 downloads, 20 short connections each) give a ≈ 216 MB capture.
#
# Needs root (tcpdump on lo), openssl, curl, tcpdump. Every process started here is killed
# by its PID on exit.
#
# Usage: benches/pcap_bulk.sh OUT.pcap   (env: DOWNLOADS=50, SHORT=20, PORT=47390)
set -euo pipefail
OUT=${1:?usage: pcap_bulk.sh OUT.pcap}
. "$(dirname "$0")/lib.sh"
DOWNLOADS=${DOWNLOADS:-50}
SHORT=${SHORT:-20}
PORT=${PORT:-47390}
TMP=$(mktemp -d /tmp/shakedown-bulk.XXXXXX)
PIDS=()
cleanup() {
    stop "${PIDS[@]}"
    rm -rf "$TMP"
}
trap cleanup EXIT
[[ $EUID -eq 0 ]] || { echo "pcap_bulk.sh: needs root for tcpdump on lo" >&2; exit 2; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=bulk.test -addext subjectAltName=DNS:bulk.test \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
mkdir -p "$TMP/www"
head -c $((4 << 20)) /dev/urandom >"$TMP/www/big.bin"
head -c 100 /dev/urandom | base64 >"$TMP/www/small.txt"

(cd "$TMP/www" && exec openssl s_server -quiet -WWW -accept "127.0.0.1:$PORT" \
    -cert "$TMP/cert.pem" -key "$TMP/key.pem" >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do
    curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$PORT/small.txt" && break
    sleep 0.1
done

tcpdump -i lo -B 65536 -s 262144 -U -w "$OUT" "tcp port $PORT" 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1

for _ in $(seq "$DOWNLOADS"); do
    curl -sk --resolve "bulk.test:$PORT:127.0.0.1" -o /dev/null "https://bulk.test:$PORT/big.bin"
    for _ in $(seq "$SHORT"); do
        curl -sk --resolve "bulk.test:$PORT:127.0.0.1" -o /dev/null "https://bulk.test:$PORT/small.txt"
    done
done
sleep 1
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
grep -E "captured|dropped" "$TMP/tcpdump.err" >&2 || true
ls -l "$OUT" >&2
