#!/usr/bin/env bash
# Records the built-in client profiles (profiles/clients.txt): the first ClientHello each real
# TLS client on this machine sends, byte for byte, in shakedown's profile format.
#
# Usage: profiles/record.sh [OUT]     (default OUT: profiles/clients.txt next to this script)
# Needs python3 (the listener) and records every client it finds: openssl s_client (default,
# -tls1_3, -tls1_2, -tls1_1, -tls1), curl, gnutls-cli, python3 ssl, Java (javac + java, a tiny
# SSLSocket client compiled here), Node.js. Clients that are missing are skipped with a note.
# PQ_PYTHON=/path/to/python: also a pyOpenSSL client on the OpenSSL that python's
# `cryptography` wheel bundles (OpenSSL 3.5 and later offer X25519MLKEM768 by default; the
# venv tests/pq.rs makes under target/tmp/pq-venv has it). ONLY=PREFIX: only the clients
# whose profile name starts with PREFIX (to add one profile without re-recording the rest).
#
# Talks only to 127.0.0.1: a listener on an ephemeral loopback port takes one connection,
# saves the TLS records up to the end of the first handshake message, and closes; the client
# then fails, which is expected. Every client names the server "profile.example" (SNI), so
# simulate can put the target's name in its place. Every process is started and killed here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-$HERE/clients.txt}"
TMP="$(mktemp -d /tmp/shakedown-profiles.XXXXXX)"
SNI=profile.example
LISTENER_PID=""

cleanup() {
    [[ -n "$LISTENER_PID" ]] && kill "$LISTENER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The listener: prints its port, accepts one connection, writes the hello records as hex.
cat >"$TMP/listen.py" <<EOF
import socket, sys
sys.path.insert(0, "$HERE/../tests/golden")
from record import read_hello
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
srv.settimeout(20)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
data = read_hello(conn)
conn.close()
with open(sys.argv[1], "w") as f:
    f.write(data.hex())
EOF

: >"$TMP/out.txt"

# record NAME NOTES CMD...: runs CMD (with PORT in its arguments replaced by the listener's
# port) against a fresh listener and appends a [profile NAME] block. LOWEST/HIGHEST in the
# environment: the versions the client completes a handshake with, when its hello does not
# say (no supported_versions) or says more than it accepts.
record() {
    local name=$1 notes=$2
    shift 2
    [[ -n "${ONLY:-}" && "$name" != "$ONLY"* ]] && return
    rm -f "$TMP/port" "$TMP/hello.hex"
    python3 "$TMP/listen.py" "$TMP/hello.hex" >"$TMP/port" &
    LISTENER_PID=$!
    local i
    for i in $(seq 100); do
        [[ -s "$TMP/port" ]] && break
        sleep 0.05
    done
    local port
    port="$(cat "$TMP/port")"
    local args=("${@//PORT/$port}")
    timeout 20 "${args[@]}" </dev/null >"$TMP/client.log" 2>&1 || true
    wait "$LISTENER_PID" 2>/dev/null || true
    LISTENER_PID=""
    if [[ ! -s "$TMP/hello.hex" ]]; then
        echo "record.sh: $name sent nothing; skipped ($(tail -n 2 "$TMP/client.log" | tr '\n' ' '))" >&2
        return
    fi
    local shown="$*"
    shown="${shown//$TMP\//}"   # the temp dir's scripts by their own names
    [[ -n "${PQ_PYTHON:-}" ]] && shown="${shown//$PQ_PYTHON/\$PQ_PYTHON}"
    {
        echo "[profile $name]"
        echo "source = $shown"
        echo "notes = $notes"
        [[ -n "${LOWEST:-}" ]] && echo "lowest = $LOWEST"
        [[ -n "${HIGHEST:-}" ]] && echo "highest = $HIGHEST"
        echo "hello = $(cat "$TMP/hello.hex")"
        echo
    } >>"$TMP/out.txt"
    echo "$name: $(($(wc -c <"$TMP/hello.hex") / 2)) bytes" >&2
}

have() { command -v "$1" >/dev/null; }

if have openssl; then
    ov="$(openssl version | awk '{print $2}')"
    o="openssl-${ov%.*}"
    onote="OpenSSL $ov s_client"
    # It offers TLS 1.0-1.3 in supported_versions, but at SECLEVEL 1 refuses the SHA-1
    # ServerKeyExchange signatures of TLS 1.0/1.1 ("legacy sigalg disallowed").
    LOWEST=TLSv1.2 record "$o" "$onote, default settings" \
        openssl s_client -connect 127.0.0.1:PORT -servername $SNI
    record "$o-tls1_3" "$onote -tls1_3" \
        openssl s_client -tls1_3 -connect 127.0.0.1:PORT -servername $SNI
    LOWEST=TLSv1.2 HIGHEST=TLSv1.2 record "$o-tls1_2" "$onote -tls1_2" \
        openssl s_client -tls1_2 -connect 127.0.0.1:PORT -servername $SNI
    # OpenSSL 3 offers nothing below TLS 1.2 at its default security level.
    LOWEST=TLSv1.1 HIGHEST=TLSv1.1 record "$o-tls1_1" "$onote -tls1_1 (SECLEVEL=0: OpenSSL 3 refuses TLS 1.1 otherwise)" \
        openssl s_client -tls1_1 -cipher DEFAULT:@SECLEVEL=0 -connect 127.0.0.1:PORT -servername $SNI
    LOWEST=TLSv1.0 HIGHEST=TLSv1.0 record "$o-tls1" "$onote -tls1 (SECLEVEL=0: OpenSSL 3 refuses TLS 1.0 otherwise)" \
        openssl s_client -tls1 -cipher DEFAULT:@SECLEVEL=0 -connect 127.0.0.1:PORT -servername $SNI
fi

if have curl; then
    cv="$(curl --version | awk 'NR==1{print $2}')"
    clib="$(curl --version | awk 'NR==1{print $5}')"
    # Same library and limits as s_client.
    LOWEST=TLSv1.2 record "curl-${cv%.*}" "curl $cv ($clib), defaults" \
        curl -sk --max-time 10 --resolve $SNI:PORT:127.0.0.1 https://$SNI:PORT/
fi

if have gnutls-cli; then
    gv="$(gnutls-cli --version | awk 'NR==1{print $NF}')"
    record "gnutls-${gv%.*}" "gnutls-cli $gv, default priority (NORMAL)" \
        gnutls-cli --insecure --sni-hostname $SNI -p PORT 127.0.0.1
fi

if have python3; then
    pv="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    pl="$(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')"
    cat >"$TMP/py_client.py" <<'EOF'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
        with ctx.wrap_socket(s, server_hostname=sys.argv[2]):
            pass
except (ssl.SSLError, OSError):
    pass
EOF
    record "python-$pv" "Python $pv ssl.create_default_context() ($pl)" \
        python3 "$TMP/py_client.py" PORT $SNI
fi

if have javac && have java; then
    jv="$(java -version 2>&1 | awk -F'"' 'NR==1{print $2}')"
    mkdir -p "$TMP/java"
    cat >"$TMP/java/Hello.java" <<'EOF'
import javax.net.ssl.*;
import java.util.List;

// Connects to 127.0.0.1:PORT with SNI NAME using the JDK's default SSLSocketFactory.
public class Hello {
    public static void main(String[] a) throws Exception {
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        try (SSLSocket s = (SSLSocket) f.createSocket("127.0.0.1", Integer.parseInt(a[0]))) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(a[1])));
            s.setSSLParameters(p);
            s.startHandshake();
        } catch (java.io.IOException e) {
            // The listener closes after the hello: expected.
        }
    }
}
EOF
    javac -d "$TMP/java" "$TMP/java/Hello.java"
    record "java-${jv%%.*}" "OpenJDK $jv default SSLSocketFactory, SNI set by SSLParameters" \
        java -cp "$TMP/java" Hello PORT $SNI
fi

if have node; then
    nv="$(node --version)"
    nv="${nv#v}"
    record "node-${nv%%.*}" "Node.js $nv tls.connect defaults (OpenSSL $(node -p process.versions.openssl))" \
        node -e "require('tls').connect({host:'127.0.0.1',port:+process.argv[1],servername:process.argv[2],rejectUnauthorized:false}).on('error',()=>{})" PORT $SNI
fi

if [[ -n "${PQ_PYTHON:-}" ]]; then
    pyo="$("$PQ_PYTHON" -c 'import OpenSSL; print(OpenSSL.__version__)')"
    pyl="$("$PQ_PYTHON" -c 'from OpenSSL import SSL; print(SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode())')"
    pylv="$(echo "$pyl" | awk '{print $2}')"
    cat >"$TMP/pyopenssl_client.py" <<'EOF'
import socket, sys
from OpenSSL import SSL
# The library's defaults: no groups, suites or versions set here.
ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
    conn = SSL.Connection(ctx, s)
    conn.set_tlsext_host_name(sys.argv[2].encode())
    conn.set_connect_state()
    try:
        conn.do_handshake()
    except (SSL.Error, OSError):
        pass
EOF
    record "pyopenssl-openssl-${pylv%.*}" "pyOpenSSL $pyo on $pyl (the cryptography wheel), SSL.Context(TLS_CLIENT_METHOD) defaults" \
        "$PQ_PYTHON" "$TMP/pyopenssl_client.py" PORT $SNI
fi

{
    echo "# Built-in shakedown client profiles: the first ClientHello of real clients, recorded"
    echo "# by profiles/record.sh on $(. /etc/os-release && echo "$PRETTY_NAME"), $(date -u +%Y-%m-%d)."
    echo "# Format: [profile NAME], then source (the command; PORT = the listener's port),"
    echo "# notes, optional sni (replace|none|keep), hello = the record bytes as hex."
    echo
    cat "$TMP/out.txt"
} >"$OUT"
echo "wrote $OUT" >&2
