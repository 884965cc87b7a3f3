#!/usr/bin/env bash
# `shakedown scan --starttls P` beside `sslscan --starttls-P` on the same real servers,
# started here on loopback ports with their own configuration in a temp dir (never the
# system instances): postfix (smtp), dovecot (imap, pop3), vsftpd (ftp), slapd (ldap),
# MariaDB (mysql), PostgreSQL (postgres) and prosody (xmpp). For each server and tool: the
# wall time of RUNS runs (tools interleaved run by run), connections made (SYNs counted by
# tcpdump on lo, first run) and the accepted TLS 1.2/1.3 suites compared. Load (`uptime`)
# before and after. Not part of CI; needs root (tcpdump, the servers' users); the packages
# are the ones .ci/run installs. Talks to 127.0.0.1 only.
#
#   bash benches/starttls_compare.sh                 # RUNS=5, a Markdown table
#   RUNS=3 ONLY="smtp imap" bash benches/starttls_compare.sh
#   ONLY="imap imap-perf pop3 pop3-perf" bash benches/starttls_compare.sh   # dovecot's two login modes
#   SHAKEDOWN=target/debug/shakedown bash benches/starttls_compare.sh
#   DELAY_MS=20 bash benches/starttls_compare.sh      # servers 20 ms away (benches/delay_proxy.py)
#
# sslscan runs with its fastest settings that still enumerate what shakedown's full scan
# does (suites, groups, certificate): --no-heartbleed --no-compression --no-renegotiation
# --no-fallback. shakedown runs its defaults (concurrency 8; one target: the lower-latency
# plan), full, full with --prefer fewer-connections, and --suites-only.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/benches/lib.sh"
work=$(mktemp -d /tmp/shakedown-starttls-bench.XXXXXX)
chmod 755 "$work"
runs=${RUNS:-5}
only=${ONLY:-"smtp imap pop3 ftp ldap mysql postgres xmpp"}
pids=()
cleanup() {
    stop "${pids[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || { echo "starttls_compare.sh: needs root (tcpdump, the servers)" >&2; exit 2; }
if [ -z "${SHAKEDOWN:-}" ]; then
    (cd "$here" && cargo build --release -q)
    SHAKEDOWN=${CARGO_TARGET_DIR:-$here/target}/release/shakedown
fi
SHAKEDOWN=$(realpath "$SHAKEDOWN")


cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -subj /CN=localhost \
    -days 2 -addext subjectAltName=DNS:localhost 2>/dev/null
chmod 644 key.pem
declare -A port

# --- postfix: master -d with its own config and queue ------------------------------------
start_smtp() {
    port[smtp]=$(free_port)
    mkdir -p pf/conf pf/queue pf/data
    cat >pf/conf/main.cf <<EOF
compatibility_level = 3.6
queue_directory = $work/pf/queue
data_directory = $work/pf/data
maillog_file = $work/pf/maillog
maillog_file_prefixes = $work
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = localhost
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
smtpd_tls_security_level = may
smtpd_tls_cert_file = $work/cert.pem
smtpd_tls_key_file = $work/key.pem
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_ciphers = high
tls_high_cipherlist = ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:AES128-SHA
EOF
    cat >pf/conf/master.cf <<EOF
127.0.0.1:${port[smtp]} inet n - n - - smtpd
postlog unix-dgram n - n - 1 postlogd
tlsmgr unix - - n 1000? 1 tlsmgr
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
rewrite unix - - n - - trivial-rewrite
cleanup unix n - n - 0 cleanup
EOF
    chown postfix pf/data
    postfix -c "$work/pf/conf" check </dev/null
    /usr/lib/postfix/sbin/master -c "$work/pf/conf" -d >pf/out 2>&1 &
    pids+=($!)
}

# --- dovecot: IMAP and POP3 with STARTTLS ---------------------------------------------------
# start_dovecot [perf]: dovecot's defaults ("high-security" login: a new imap-login or
# pop3-login process for every connection, service_count = 1), or, as `imap-perf` and
# `pop3-perf`, the same with its documented high-performance login mode (login processes
# serve many connections, service_count = 0, and two of them wait ready,
# process_min_avail = 2): a second, labelled configuration, never the default's figures.
start_dovecot() {
    local variant=${1:-} dir=dv login=""
    if [ "$variant" = perf ]; then
        dir=dvp
        login="  service_count = 0
  process_min_avail = 2"
    fi
    local imap=imap pop3=pop3
    [ -n "$variant" ] && imap=imap-perf pop3=pop3-perf
    port[$imap]=$(free_port)
    port[$pop3]=$(free_port)
    mkdir -p $dir
    cat >$dir/dovecot.conf <<EOF
base_dir = $work/$dir/run
state_dir = $work/$dir/state
log_path = $work/$dir/log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$work/cert.pem
ssl_key = <$work/key.pem
ssl_min_protocol = TLSv1.2
ssl_cipher_list = ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$work/$dir/home
}
service imap-login {
  chroot =
$login
  inet_listener imap {
    port = ${port[$imap]}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  chroot =
$login
  inet_listener pop3 {
    port = ${port[$pop3]}
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
    dovecot -F -c "$work/$dir/dovecot.conf" >$dir/out 2>&1 &
    pids+=($!)
}

# --- vsftpd: AUTH TLS ------------------------------------------------------------------------
start_ftp() {
    port[ftp]=$(free_port)
    mkdir -p ftp/empty
    cat >ftp/vsftpd.conf <<EOF
listen=YES
listen_address=127.0.0.1
listen_port=${port[ftp]}
background=NO
anonymous_enable=YES
allow_anon_ssl=YES
anon_root=$work/ftp/empty
local_enable=NO
secure_chroot_dir=$work/ftp/empty
ssl_enable=YES
rsa_cert_file=$work/cert.pem
rsa_private_key_file=$work/key.pem
ssl_ciphers=ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305
ssl_tlsv1=NO
ssl_sslv2=NO
ssl_sslv3=NO
xferlog_enable=NO
EOF
    vsftpd "$work/ftp/vsftpd.conf" </dev/null >ftp/out 2>&1 &
    pids+=($!)
}

# --- slapd (GnuTLS): StartTLS extended operation ----------------------------------------
start_ldap() {
    port[ldap]=$(free_port)
    mkdir -p ldap
    cat >ldap/slapd.conf <<EOF
pidfile $work/ldap/slapd.pid
TLSCertificateFile $work/cert.pem
TLSCertificateKeyFile $work/key.pem
TLSCipherSuite NORMAL:-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA
EOF
    slapd -f "$work/ldap/slapd.conf" -h "ldap://127.0.0.1:${port[ldap]}/" -d 0 >ldap/out 2>&1 &
    pids+=($!)
}

# --- MariaDB: empty datadir, no grant tables ---------------------------------------------
start_mysql() {
    port[mysql]=$(free_port)
    mkdir -p my/data
    mariadbd --no-defaults --datadir="$work/my/data" --port="${port[mysql]}" \
        --bind-address=127.0.0.1 --socket="$work/my/sock" --pid-file="$work/my/pid" \
        --user=root --skip-grant-tables --skip-log-bin --innodb-buffer-pool-size=8M \
        --log-error="$work/my/error.log" --ssl-cert="$work/cert.pem" --ssl-key="$work/key.pem" \
        --ssl-cipher=ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 \
        --tls-version=TLSv1.2,TLSv1.3 >my/out 2>&1 &
    pids+=($!)
}

# --- PostgreSQL: ssl = on, run as postgres --------------------------------------------------
start_postgres() {
    port[postgres]=$(free_port)
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
    mkdir -p pg
    cp cert.pem pg/server.crt
    cp key.pem pg/server.key
    chmod 600 pg/server.key
    chown -R postgres:postgres pg
    runuser -u postgres -- "$bin/initdb" -D "$work/pg/data" -A trust >/dev/null
    runuser -u postgres -- "$bin/postgres" -D "$work/pg/data" -p "${port[postgres]}" -k "$work/pg" \
        -c listen_addresses=127.0.0.1 -c ssl=on -c "ssl_cert_file=$work/pg/server.crt" \
        -c "ssl_key_file=$work/pg/server.key" >pg/out 2>&1 &
    pids+=($!)
}

# --- prosody: one virtual host, localhost ----------------------------------------------------
start_xmpp() {
    port[xmpp]=$(free_port)
    mkdir -p px/data
    cat >px/prosody.cfg.lua <<EOF
run_as_root = true
pidfile = "$work/px/prosody.pid"
data_path = "$work/px/data"
log = { { levels = { min = "error" }, to = "file", filename = "$work/px/log" } }
interfaces = { "127.0.0.1" }
c2s_ports = { ${port[xmpp]} }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s", "offline", "c2s_direct_tls" }
c2s_require_encryption = false
ssl = { certificate = "$work/cert.pem"; key = "$work/key.pem"; ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305"; protocol = "tlsv1_2+"; }
VirtualHost "localhost"
EOF
    prosody -F --config "$work/px/prosody.cfg.lua" </dev/null >px/out 2>&1 &
    pids+=($!)
}

dovecot_started=
dovecot_perf_started=
for p in $only; do
    case $p in
        imap | pop3) [ -n "$dovecot_started" ] || { start_dovecot; dovecot_started=1; } ;;
        imap-perf | pop3-perf)
            [ -n "$dovecot_perf_started" ] || { start_dovecot perf; dovecot_perf_started=1; } ;;
        smtp) start_smtp ;;
        ftp) start_ftp ;;
        ldap) start_ldap ;;
        mysql) start_mysql ;;
        postgres) start_postgres ;;
        xmpp) start_xmpp ;;
    esac
done
for p in $only; do wait_port "${port[$p]}"; done
sleep 1
# DELAY_MS: both tools reach the servers through benches/delay_proxy.py, which adds that
# round-trip time to every exchange and to the connect (a far server; no netem here).
if [ -n "${DELAY_MS:-}" ]; then
    for p in $only; do
        relay=$(free_port)
        python3 "$here/benches/delay_proxy.py" "$relay" "${port[$p]}" "$DELAY_MS" &
        pids+=($!)
        wait_port "$relay"
        port[$p]=$relay
    done
fi

# sslscan's option for each protocol.
declare -A sslscan_flag=([smtp]=smtp [imap]=imap [pop3]=pop3 [ftp]=ftp [ldap]=ldap
                         [mysql]=mysql [postgres]=psql [xmpp]=xmpp
                         [imap-perf]=imap [pop3-perf]=pop3)

# The accepted TLS 1.2/1.3 suites of an output, as sorted hex ids.
suites() {
    python3 - "$1" "$2" <<'PY'
import json, sys, xml.etree.ElementTree as ET
tool, path = sys.argv[1], sys.argv[2]
text = open(path, errors="replace").read()
ids = set()
try:
    if tool == "shakedown":
        v = json.loads(text.splitlines()[0])
        for ver in ("TLSv1.2", "TLSv1.3"):
            ids.update(int(i, 16) for i in v["versions"][ver]["cipher_ids"])
    else:
        for c in ET.fromstring(text).iter("cipher"):
            if c.get("status") in ("accepted", "preferred") and c.get("sslversion") in ("TLSv1.2", "TLSv1.3"):
                ids.add(int(c.get("id"), 16))
except Exception:
    print("?")
    sys.exit()
print(" ".join(f"{i:04x}" for i in sorted(ids)))
PY
}

echo "load before: $(uptime)"
[ -z "${DELAY_MS:-}" ] || echo "round trip added by benches/delay_proxy.py: $DELAY_MS ms"
echo
printf '| server | tool | connections | wall time, median (s) | all runs (s) | TLS 1.2+1.3 suites | agree |\n'
printf '|---|---|---:|---:|---|---:|---|\n'
for p in $only; do
    target=127.0.0.1:${port[$p]}
    proto=${p%-perf}
    host_args=()
    sslscan_host=$target
    if [ "$p" = xmpp ]; then
        # prosody serves "localhost": both tools name it in the stream's to=.
        host_args=(--xmpp-host localhost)
        sslscan_host=localhost:${port[$p]}
    fi
    sd_full=("$SHAKEDOWN" scan --json --starttls "$proto" "${host_args[@]}" "$target")
    sd_fewer=("$SHAKEDOWN" scan --json --prefer fewer-connections --starttls "$proto" "${host_args[@]}" "$target")
    sd_suites=("$SHAKEDOWN" scan --json --suites-only --starttls "$proto" "${host_args[@]}" "$target")
    ss=(sslscan --no-colour --xml=- --ipv4 --no-heartbleed --no-compression --no-renegotiation
        --no-fallback "--starttls-${sslscan_flag[$p]}" "$sslscan_host")
    declare -A times=([full]="" [fewer]="" [suites]="" [sslscan]="")
    for _ in $(seq "$runs"); do
        times[full]+=" $(seconds "$work/$p.full" "${sd_full[@]}")"
        times[fewer]+=" $(seconds "$work/$p.fewer" "${sd_fewer[@]}")"
        times[suites]+=" $(seconds "$work/$p.suites" "${sd_suites[@]}")"
        times[sslscan]+=" $(seconds "$work/$p.sslscan" "${ss[@]}")"
    done
    ref=$(suites shakedown "$work/$p.full")
    for tool in full fewer suites sslscan; do
        case $tool in
            fewer) name="shakedown scan --prefer fewer-connections"; read -r conns _ < <(connections_and_seconds "$work/syn-${port[$p]}.pcap" "${port[$p]}" "$work/$p.x" "${sd_fewer[@]}"); got=$(suites shakedown "$work/$p.fewer") ;;
            full) name="shakedown scan (lower-latency)"; read -r conns _ < <(connections_and_seconds "$work/syn-${port[$p]}.pcap" "${port[$p]}" "$work/$p.x" "${sd_full[@]}"); got=$ref ;;
            suites) name="shakedown scan --suites-only"; read -r conns _ < <(connections_and_seconds "$work/syn-${port[$p]}.pcap" "${port[$p]}" "$work/$p.x" "${sd_suites[@]}"); got=$(suites shakedown "$work/$p.suites") ;;
            sslscan) name="sslscan --starttls-${sslscan_flag[$p]}"; read -r conns _ < <(connections_and_seconds "$work/syn-${port[$p]}.pcap" "${port[$p]}" "$work/$p.x" "${ss[@]}"); got=$(suites sslscan "$work/$p.sslscan") ;;
        esac
        [ "$got" = "$ref" ] && agree=yes || agree="no: $got"
        median=$(python3 -c 'import statistics,sys; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' ${times[$tool]})
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$p" "$name" "$conns" "$median" \
            "$(echo ${times[$tool]} | tr ' ' ',')" "$(wc -w <<<"$got")" "$agree"
    done
done
echo
echo "load after: $(uptime)"
