#!/usr/bin/env bash
# Records captures/quic_handshakes.pcap: QUIC handshakes between aioquic's client and server
# (PyPI, in a venv) on 127.0.0.1, the client writing its TLS secrets to
# quic_handshakes.keys (SSLKEYLOGFILE), so `pcap --keylog` can read the Handshake packets.
# A throw-away root made here signs the server's certificate (good.test); only the root's
# public certificate is kept (quic_root.pem). Every process started here is killed by PID.
#
# Needs root (tcpdump on lo), openssl, tcpdump, python3 with venv (and PyPI once, for the
# venv: target/tmp/quic-venv, the one tests/probe_quic.rs makes).
#
# Usage: sudo captures/record_quic.sh            (into captures/)
#        sudo RECORD_OUT=DIR captures/record_quic.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${RECORD_OUT:-$HERE}"
TMP="$(mktemp -d /tmp/shakedown-quic.XXXXXX)"
PORT="${QUIC_PORT:-47443}"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || { echo "record_quic.sh: needs root for tcpdump on lo" >&2; exit 2; }
for tool in openssl tcpdump python3; do
    command -v "$tool" >/dev/null || { echo "record_quic.sh: missing $tool" >&2; exit 2; }
done

VENV="$HERE/../target/tmp/quic-venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q aioquic
    touch "$VENV/ready"
fi
PY="$VENV/bin/python"

# A root and a good.test leaf (RSA 4096, so that the server's flight, leaf and root, is
# beyond the 3x anti-amplification limit and spans several datagrams), fresh each run.
openssl req -x509 -newkey rsa:4096 -nodes -days 3650 \
    -keyout "$TMP/root.key" -out "$TMP/root.pem" \
    -subj "/O=shakedown test/CN=Shakedown QUIC Test Root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
openssl req -new -newkey rsa:4096 -nodes \
    -keyout "$TMP/good.key" -out "$TMP/good.csr" -subj "/O=shakedown test/CN=good.test" \
    2>/dev/null
printf 'subjectAltName=DNS:good.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$TMP/ext.cnf"
openssl x509 -req -in "$TMP/good.csr" -CA "$TMP/root.pem" -CAkey "$TMP/root.key" \
    -CAcreateserial -days 3650 -extfile "$TMP/ext.cnf" -out "$TMP/good.pem" 2>/dev/null
cat "$TMP/good.pem" "$TMP/root.pem" >"$TMP/chain.pem"

mkdir -p "$OUT"
PCAP="$OUT/quic_handshakes.pcap"
KEYS="$OUT/quic_handshakes.keys"
rm -f "$PCAP" "$KEYS"
: >"$KEYS"

"$PY" "$HERE/quic_peers.py" server "$TMP/chain.pem" "$TMP/good.key" "$PORT" >"$TMP/server.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$TMP/server.out" && break; sleep 0.1; done
grep -q listening "$TMP/server.out" || { echo "server did not start" >&2; exit 1; }

tcpdump -i lo -U --immediate-mode -w "$PCAP" "udp port $PORT" 2>"$TMP/tcpdump.err" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
for _ in $(seq 50); do grep -q "listening on" "$TMP/tcpdump.err" && break; sleep 0.1; done

for mode in v1-aes128 v1-aes256 v1-chacha v2 badname; do
    timeout 10 "$PY" "$HERE/quic_peers.py" client "$PORT" "$TMP/root.pem" "$KEYS" "$mode"
    sleep 0.3
done

sleep 0.5
kill -INT "$TCPDUMP"
wait "$TCPDUMP" 2>/dev/null || true
cp "$TMP/root.pem" "$OUT/quic_root.pem"
echo "recorded $PCAP, $KEYS, $OUT/quic_root.pem" >&2
