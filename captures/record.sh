#!/usr/bin/env bash
# Records the loopback captures that `shakedown pcap` is tested against (see README.md).
#
# Needs root (tcpdump on lo), openssl, curl, gnutls-cli, python3, tcpdump.
# Everything talks to 127.0.0.1 only. Certificates are made fresh in a temp dir and thrown
# away; only the public root certificate (root.pem) and the TLS key logs (*.keys, secrets of
# these throw-away sessions) are kept next to the captures.
# Re-runnable: every capture is rewritten; every process started here is killed by its PID.
#
# Usage: sudo captures/record.sh                  (all scenarios, into captures/)
#        sudo RECORD_OUT=DIR captures/record.sh SCENARIO...   (some, into another directory:
#        each run makes a new root, so a partial run must not mix with the committed set)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${RECORD_OUT:-$HERE}"   # where captures, key logs and root.pem go
TMP="$(mktemp -d /tmp/shakedown-captures.XXXXXX)"
PIDS=()            # every background process we started, killed on exit
BASE_PORT=47400    # scenario N listens on BASE_PORT+N

cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

[[ $EUID -eq 0 ]] || { echo "record.sh: needs root for tcpdump on lo" >&2; exit 2; }
for tool in openssl curl gnutls-cli python3 tcpdump ss; do
    command -v "$tool" >/dev/null || { echo "record.sh: missing $tool" >&2; exit 2; }
done

if [[ $# -gt 0 && "$OUT" == "$HERE" ]]; then
    echo "record.sh: recording some scenarios needs RECORD_OUT=DIR (new root each run)" >&2
    exit 2
fi
mkdir -p "$OUT"

# ---------------------------------------------------------------- certificates
# root CA -> leaves; root CA -> intermediate -> leaf; a rogue root nobody trusts; a
# self-signed leaf. `openssl ca` is used because it can set explicit validity dates.
PKI="$TMP/pki"
mkdir -p "$PKI"
cat >"$PKI/openssl.cnf" <<'EOF'
[ ca ]
default_ca = unused
[ signer ]
dir             = $ENV::SIGNER_DIR
database        = $dir/index.txt
new_certs_dir   = $dir/new
serial          = $dir/serial
default_md      = sha256
policy          = policy_any
unique_subject  = no
copy_extensions = none
[ policy_any ]
commonName      = supplied
organizationName = optional
[ req ]
distinguished_name = dn
prompt          = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints       = critical, CA:true
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ v3_server ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:$ENV::LEAF_DNS
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
[ v3_client ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
export LEAF_DNS=unused SIGNER_DIR=unused

newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/$1.key" 2>/dev/null; }

# self_signed_ca NAME CN: a root certificate, valid from yesterday for 70 years.
self_signed_ca() {
    newkey "$1"
    openssl req -new -x509 -config "$PKI/openssl.cnf" -key "$PKI/$1.key" -subj "/O=shakedown test/CN=$2" \
        -days 25550 -extensions v3_ca -out "$PKI/$1.pem"
    mkdir -p "$PKI/$1.db/new"
    : >"$PKI/$1.db/index.txt"
    echo 1000 >"$PKI/$1.db/serial"
}

# sign SIGNER NAME CN EXTENSIONS START END [DNS]: a key and certificate NAME issued by SIGNER.
sign() {
    local signer=$1 name=$2 cn=$3 ext=$4 start=$5 end=$6 dns=${7:-unused}
    newkey "$name"
    openssl req -new -config "$PKI/openssl.cnf" -key "$PKI/$name.key" -subj "/O=shakedown test/CN=$cn" \
        -out "$PKI/$name.csr"
    SIGNER_DIR="$PKI/$signer.db" LEAF_DNS="$dns" openssl ca -batch -notext -config "$PKI/openssl.cnf" \
        -name signer -cert "$PKI/$signer.pem" -keyfile "$PKI/$signer.key" -extensions "$ext" \
        -startdate "$start" -enddate "$end" -in "$PKI/$name.csr" -out "$PKI/$name.pem" 2>/dev/null
}

log "making certificates in $PKI"
VALID_FROM="$(date -u -d yesterday +%Y%m%d%H%M%SZ)"
VALID_TO=20951231235959Z
self_signed_ca root "Shakedown Test Root"
self_signed_ca rogue "Shakedown Rogue Root"
sign root intermediate "Shakedown Test Intermediate" v3_ca "$VALID_FROM" "$VALID_TO"
mkdir -p "$PKI/intermediate.db/new"; : >"$PKI/intermediate.db/index.txt"; echo 2000 >"$PKI/intermediate.db/serial"
sign root good good.test v3_server "$VALID_FROM" "$VALID_TO" good.test
sign root expired good.test v3_server 20200101000000Z 20210101000000Z good.test
sign root wrongname other.test v3_server "$VALID_FROM" "$VALID_TO" other.test
sign intermediate viaint good.test v3_server "$VALID_FROM" "$VALID_TO" good.test
sign rogue roguesigned good.test v3_server "$VALID_FROM" "$VALID_TO" good.test
sign root client "shakedown client" v3_client "$VALID_FROM" "$VALID_TO"
newkey selfsigned
LEAF_DNS=good.test openssl req -new -x509 -config "$PKI/openssl.cnf" -key "$PKI/selfsigned.key" \
    -subj "/O=shakedown test/CN=good.test" -days 25550 -extensions v3_server -out "$PKI/selfsigned.pem"
cp "$PKI/root.pem" "$OUT/root.pem"
ROOT="$PKI/root.pem"

# ---------------------------------------------------------------- plumbing
PORT=0
NAME=""
TCPDUMP_PID=""
SERVER_PID=""

# start_server CMD...: runs a server in the background, waits until PORT listens, then starts
# the capture (after the readiness polling, so the polling is not recorded).
start_server() {
    "$@" >"$TMP/$NAME.server.log" 2>&1 </dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for i in $(seq 100); do
        if ss -Hltn "sport = :$PORT" | grep -q .; then start_capture; return; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/$NAME.server.log" >&2; return 1; }
        sleep 0.05
    done
    echo "record.sh: server for $NAME did not listen on $PORT" >&2
    return 1
}

# start_capture: tcpdump on lo for this scenario's port, full packets, waits until it listens.
start_capture() {
    rm -f "$OUT/$NAME.pcap" "$OUT/$NAME.keys"
    : >"$TMP/$NAME.tcpdump.log"
    # --immediate-mode: without it, packets still in the kernel ring buffer (TPACKET_V3 block)
    # when tcpdump gets SIGINT are never written.
    tcpdump -i lo -U --immediate-mode -n -w "$TMP/$NAME.pcap" "tcp port $PORT" 2>"$TMP/$NAME.tcpdump.log" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    local i
    for i in $(seq 100); do
        if grep -q "listening on" "$TMP/$NAME.tcpdump.log"; then return 0; fi
        sleep 0.05
    done
    echo "record.sh: tcpdump did not start for $NAME" >&2
    return 1
}

# finish: let the last packets land, stop tcpdump (SIGINT flushes), stop the server.
finish() {
    sleep 0.5
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    # tcpdump writes as its own user after dropping root; hand the file to the tree's owner.
    chown --reference="$OUT" "$TMP/$NAME.pcap"
    mv "$TMP/$NAME.pcap" "$OUT/$NAME.pcap"
    # Keep the key log only if some client wrote secrets (OpenSSL writes a header line anyway).
    if grep -q '^[A-Z_]* ' "$TMP/$NAME.keys"; then
        grep -v '^#' "$TMP/$NAME.keys" >"$OUT/$NAME.keys"
    fi
    log "$NAME: $(grep -E 'packets captured' "$TMP/$NAME.tcpdump.log" || true)"
}

# client CMD...: runs one client connection with a deadline; its failure is expected in most
# scenarios, so only its output is kept (in the temp dir, shown when RECORD_VERBOSE=1).
client() {
    local rc=0
    timeout 10 "$@" </dev/null >>"$TMP/$NAME.client.log" 2>&1 || rc=$?
    local shown="$*"
    echo "   client exit $rc: ${shown:0:110}" >&2
    [[ "${RECORD_VERBOSE:-0}" == 1 ]] && tail -n 5 "$TMP/$NAME.client.log" >&2
    sleep 0.2
}

S_SERVER=(openssl s_server -accept 127.0.0.1:PORTX -quiet)
s_server() { local args=("${S_SERVER[@]/PORTX/$PORT}"); start_server "${args[@]}" "$@"; }
s_client() { client openssl s_client -connect "127.0.0.1:$PORT" -keylogfile "$TMP/$NAME.keys" "$@"; }
curl_get() {
    client env SSLKEYLOGFILE="$TMP/$NAME.keys" curl -sS -o /dev/null --max-time 5 \
        --resolve "good.test:$PORT:127.0.0.1" "$@" "https://good.test:$PORT/"
}
gnutls() {
    client env SSLKEYLOGFILE="$TMP/$NAME.keys" gnutls-cli --port "$PORT" "$@" 127.0.0.1
}
py_client() { client python3 "$HERE/py_client.py" "$PORT" "$@" "$TMP/$NAME.keys"; }

cert() { echo -cert "$PKI/$1.pem" -key "$PKI/$1.key"; }

# ---------------------------------------------------------------- scenarios
# Each scenario: one server, one capture, one or more client connections.

tls12_success() {
    s_server -www -tls1_2 $(cert good)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
    curl_get --tlsv1.2 --tls-max 1.2 --cacert "$ROOT"
    gnutls --sni-hostname good.test --verify-hostname good.test --x509cafile "$ROOT" \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
}

tls13_success() {
    s_server -www $(cert good)
    s_client -tls1_3 -servername good.test -CAfile "$ROOT" -verify_return_error
    py_client good.test "$ROOT" TLSv1_3 TLSv1_3
    gnutls --sni-hostname good.test --verify-hostname good.test --x509cafile "$ROOT"
}

tls13_hrr_success() {
    s_server -www -groups P-256 $(cert good)
    s_client -tls1_3 -groups X25519:P-256 -servername good.test -CAfile "$ROOT" -verify_return_error
}

protocol_mismatch_tls10_client() {
    s_server -tls1_2 $(cert good)
    # SECLEVEL=0: OpenSSL 3 refuses to even offer TLS 1.0 at the default level.
    s_client -tls1 -cipher 'DEFAULT:@SECLEVEL=0' -servername good.test
}

protocol_mismatch_tls13_server() {
    s_server -tls1_3 $(cert good)
    s_client -tls1_2 -servername good.test
}

no_shared_cipher_tls12() {
    s_server -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 $(cert good)
    s_client -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305 -servername good.test
}

no_shared_cipher_tls13() {
    s_server -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 $(cert good)
    s_client -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256 -servername good.test
}

cert_expired() {
    s_server -tls1_2 $(cert expired)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

unknown_ca() {
    # The chain ends in a root the client does not trust (the rogue root is sent too).
    s_server -tls1_2 $(cert roguesigned) -cert_chain "$PKI/rogue.pem"
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

self_signed() {
    s_server -tls1_2 $(cert selfsigned)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

hostname_mismatch() {
    s_server -www -tls1_2 $(cert wrongname)
    curl_get --tlsv1.2 --tls-max 1.2 --cacert "$ROOT"
    s_client -tls1_2 -servername good.test -verify_hostname good.test -CAfile "$ROOT" -verify_return_error
}

missing_intermediate() {
    s_server -tls1_2 $(cert viaint)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

intermediate_chain_ok() {
    s_server -tls1_2 $(cert viaint) -cert_chain "$PKI/intermediate.pem"
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

client_cert_required_tls12() {
    s_server -tls1_2 -Verify 1 -CAfile "$ROOT" $(cert good)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error
}

client_cert_required_tls13() {
    s_server -www -tls1_3 -Verify 1 -CAfile "$ROOT" $(cert good)
    curl_get --tlsv1.3 --cacert "$ROOT"
}

client_cert_tls12_success() {
    s_server -www -tls1_2 -Verify 1 -CAfile "$ROOT" $(cert good)
    s_client -tls1_2 -servername good.test -CAfile "$ROOT" -verify_return_error $(cert client)
}

sni_unrecognized_name() {
    # s_server only checks the name when a second context (-cert2) exists.
    s_server -servername good.test -servername_fatal $(cert good) -cert2 "$PKI/good.pem" -key2 "$PKI/good.key"
    s_client -servername other.test -CAfile "$ROOT"
}

http_on_tls_port() {
    mkdir -p "$TMP/www"   # an empty directory: nothing of the PKI is ever served
    start_server python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$PORT"
    s_client -servername good.test
}

reset_mid_handshake() {
    start_server python3 "$HERE/abort_server.py" "$PORT" rst
    s_client -servername good.test
}

closed_mid_handshake() {
    start_server python3 "$HERE/abort_server.py" "$PORT" fin
    s_client -servername good.test
}

gnutls_unknown_ca() {
    s_server -tls1_2 $(cert roguesigned) -cert_chain "$PKI/rogue.pem"
    gnutls --sni-hostname good.test --verify-hostname good.test --x509cafile "$ROOT" \
        --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2'
}

# The attacks `pcap` names by themselves (docs/vulns.md): scripted vulnerable peers (no Debian
# 12 server over-reads a heartbeat or takes an early CCS) and a real s_server refusing both.
heartbleed() {
    start_server python3 "$HERE/vuln_peers.py" serve heartbleed "$PORT"
    client python3 "$HERE/vuln_peers.py" attack heartbleed "$PORT"
}

ccs_injection() {
    start_server python3 "$HERE/vuln_peers.py" serve early_ccs "$PORT"
    client python3 "$HERE/vuln_peers.py" attack early_ccs "$PORT"
}

vuln_attempts_openssl() {
    # A self-signed leaf: nothing here depends on the run's root.
    s_server -tls1_2 $(cert selfsigned)
    client python3 "$HERE/vuln_peers.py" attack heartbleed "$PORT"
    client python3 "$HERE/vuln_peers.py" attack early_ccs "$PORT"
}

SCENARIOS=(
    tls12_success tls13_success tls13_hrr_success
    protocol_mismatch_tls10_client protocol_mismatch_tls13_server
    no_shared_cipher_tls12 no_shared_cipher_tls13
    cert_expired unknown_ca self_signed hostname_mismatch
    missing_intermediate intermediate_chain_ok
    client_cert_required_tls12 client_cert_required_tls13 client_cert_tls12_success
    sni_unrecognized_name http_on_tls_port reset_mid_handshake closed_mid_handshake
    gnutls_unknown_ca
    heartbleed ccs_injection vuln_attempts_openssl
)

run() {
    local index=$1
    NAME=${SCENARIOS[$index]}
    PORT=$((BASE_PORT + index))
    if ss -Hltn "sport = :$PORT" | grep -q .; then
        echo "record.sh: port $PORT already in use" >&2
        return 1
    fi
    log "$NAME (port $PORT)"
    : >"$TMP/$NAME.keys"
    "$NAME"
}

selected=("$@")
[[ ${#selected[@]} -gt 0 ]] || selected=("${SCENARIOS[@]}")
for want in "${selected[@]}"; do
    found=0
    for i in "${!SCENARIOS[@]}"; do
        if [[ "${SCENARIOS[$i]}" == "$want" ]]; then
            run "$i"
            finish
            found=1
        fi
    done
    [[ $found == 1 ]] || { echo "record.sh: unknown scenario $want" >&2; exit 2; }
done
log "done: ${#selected[@]} captures in $OUT"
log "compare with the oracle: python3 $HERE/observe.py --check   (needs tshark)"
