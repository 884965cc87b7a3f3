# Helpers shared by the comparison scripts in benches/ (sourced, not run): a free port, waiting
# for a listener, and a command's wall time and connections. Loopback only.

# stop PID...: ends the processes a script started (SIGTERM) and waits for each of them.
stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# A TCP port nothing listens on at the moment.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [HOST]: returns once something accepts on HOST (default 127.0.0.1):PORT;
# fails after 30 s. Slow starters (dovecot, MariaDB, prosody) need most of that under load.
wait_port() {
    local port=$1 host=${2:-127.0.0.1}
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $host:$port" >&2
    return 1
}

# seconds OUT COMMAND...: runs COMMAND (stdout into OUT, stderr dropped, its exit status
# ignored: scanners exit non-zero on findings) and prints its wall time in seconds.
seconds() {
    local out=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$out" 2>/dev/null || true
    t1=$(date +%s.%N)
    python3 -c "print(f'{$t1-$t0:.3f}')"
}

# connections_and_seconds PCAP PORT OUT COMMAND...: prints "CONNECTIONS SECONDS" for one run
# of COMMAND, connections being the SYNs to PORT that tcpdump sees on lo (written to PCAP).
# tcpdump gets a second to start and half a second to flush, outside the timed part.
connections_and_seconds() {
    local pcap=$1 port=$2 out=$3
    shift 3
    tcpdump -i lo -n --immediate-mode -U -w "$pcap" \
        "tcp dst port $port and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" 2>/dev/null &
    local dump=$!
    sleep 1
    local secs
    secs=$(seconds "$out" "$@")
    sleep 0.5
    kill "$dump"
    wait "$dump" 2>/dev/null || true
    echo "$(tcpdump -r "$pcap" -n 2>/dev/null | wc -l) $secs"
}

# The cipher list of Mozilla's "intermediate" nginx configuration (TLS 1.2 part).
MOZILLA_INTERMEDIATE_CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305

# nginx_server DIR DIRECTIVES [MAIN]: writes DIR/nginx.conf (DIR absolute) for one nginx
# process with one server block holding DIRECTIVES (its listen line, certificate, protocols,
# suites) and MAIN at the top level, starts it in the background and appends its pid to the
# caller's `pids` array (so call it directly, not in $(…)).
nginx_server() {
    local dir=$1 directives=$2 main=${3:-}
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
daemon off; master_process off; pid $dir/nginx.pid; error_log $dir/error.log;
$main
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path $dir/b; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server {
    $directives
    location / { return 200 "ok"; }
  }
}
EOF
    nginx -c "$dir/nginx.conf" -p "$dir" </dev/null >/dev/null 2>&1 &
    pids+=($!)
}

# nginx_fleet SERVERS REPEAT: in the current directory (absolute $PWD), an RSA certificate
# and DH parameters, then SERVERS nginx servers on 127.0.0.1 ephemeral ports (one worker
# each, Mozilla-intermediate suites at TLS 1.2 and 1.3, client order), waited for, and
# `targets` listing each REPEAT times; their ports in the caller's `ports`, their pids in
# its `pids` (call it directly, not in $(…)).
# The scanner-CPU benches' servers (scan_cpu.sh, scan_cpu_ab.sh).
nginx_fleet() {
    local servers=$1 repeat=$2 dir=$PWD i p port
    ports=()
    openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem -subj /CN=localhost \
        -days 30 -addext subjectAltName=DNS:localhost 2>/dev/null
    openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null
    for i in $(seq "$servers"); do
        port=$(free_port)
        nginx_server "$dir/ngx$i" "listen 127.0.0.1:$port ssl;
    ssl_certificate $dir/rsa.pem; ssl_certificate_key $dir/rsa.key; ssl_dhparam $dir/dh.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers $MOZILLA_INTERMEDIATE_CIPHERS;
    ssl_prefer_server_ciphers off;" "worker_rlimit_nofile 4096;"
        ports+=("$port")
    done
    for p in "${ports[@]}"; do wait_port "$p"; done
    : >targets
    for i in $(seq "$repeat"); do
        for p in "${ports[@]}"; do echo "127.0.0.1:$p" >>targets; done
    done
}

# fleet_in_temp SERVERS REPEAT: nginx_fleet in a new temporary directory, which becomes the
# current one (the caller's directory is kept in `cwd`, the new one in `work`); the servers
# are stopped and the directory removed when the script exits.
fleet_in_temp() {
    cwd=$PWD; work=$(mktemp -d); pids=()
    trap 'stop "${pids[@]}"; rm -rf "$work"' EXIT
    cd "$work"
    nginx_fleet "$1" "$2"
}

# fleet_ticks: the CPU time (user + system, clock ticks) the processes in the caller's
# `pids` (nginx_fleet's servers) have used so far.
fleet_ticks() {
    local t=0 p
    for p in "${pids[@]}"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
    echo "$t"
}

# perf_per_handshake HANDSHAKES FILE: `perf stat -x,` counts in FILE divided by the
# handshakes ("cpu-clock NNµs; context-switches 2.10; …"); nothing when FILE is missing.
perf_per_handshake() {
    [ -f "$2" ] || return 0
    python3 - "$1" "$2" <<'PY'
import sys
hs, out = int(sys.argv[1]), []
for l in open(sys.argv[2]):
    f = l.strip().split(',')
    if len(f) > 3 and f[0] and f[0][0].isdigit():
        name, val = f[2].split(':')[-1], float(f[0])
        out.append(f'{name} {val/hs*1000:.0f}µs' if name == 'cpu-clock' and f[1] == 'msec' else f'{name} {val/hs:.2f}')
print('; '.join(out))
PY
}

# cpu_row CELLS HANDSHAKES USER SYS TICKS COUNTS: one table row of the scanner-CPU benches:
# CELLS (the row's first cells, "a | b | …", the wall time last), user and system seconds,
# the process's µs of CPU a handshake, the servers' (TICKS: the fleet's clock ticks over
# the run) and COUNTS.
cpu_row() {
    python3 - "$@" <<'PY'
import os, sys
cells, hs, u, s, ticks, counts = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
srv = ticks / os.sysconf('SC_CLK_TCK')
print(f'| {cells} | {u:.2f} | {s:.2f} | {(u+s)/hs*1e6:.0f} | {srv/hs*1e6:.0f} | {counts} |')
PY
}
