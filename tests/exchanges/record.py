#!/usr/bin/env python3
"""Records real TLS exchanges on loopback for the session tracker tests.

For each scenario: a throwaway self-signed certificate, `openssl s_server` on 127.0.0.1,
`openssl s_client` connecting through a relay (this script) that logs both directions.
Output, one file per scenario in this directory, one line per chunk:

    C|S <micros since first byte> <hex>        bytes client->server (C) or server->client (S)
    C|S <micros> end fin|rst|timeout           that direction ended

Only 127.0.0.1 is ever contacted. Run: python3 tests/exchanges/record.py
"""
import os, select, socket, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))

SCENARIOS = {
    # name: (server args, client args, comment)
    "tls12_ok": (["-tls1_2"], ["-tls1_2"], "TLS 1.2 full handshake, client closes"),
    "tls13_ok": (["-tls1_3"], ["-tls1_3"], "TLS 1.3 full handshake, client closes"),
    "tls13_hrr": (["-tls1_3", "-groups", "P-256"], ["-tls1_3", "-groups", "X25519:P-256"],
                  "server only takes P-256, client's key share is x25519: HelloRetryRequest"),
    "tls12_server_vs_tls10_client": (["-tls1_2"], ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
                  "server TLS 1.2 only, client TLS 1.0 only: protocol_version alert"),
    "tls12_client_cert_required": (["-tls1_2", "-Verify", "1"], ["-tls1_2"],
                  "server demands a client certificate, client has none (TLS 1.2)"),
    "tls13_client_cert_required": (["-tls1_3", "-Verify", "1"], ["-tls1_3"],
                  "server demands a client certificate, client has none (TLS 1.3)"),
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def relay(listener, upstream_port, out, idle=3.0):
    """Relays one connection, logging both directions until both ended or idle."""
    client, _ = listener.accept()
    server = socket.create_connection(("127.0.0.1", upstream_port))
    t0 = None
    lines = []
    peers = {client: ("C", server), server: ("S", client)}
    open_ = {client, server}

    def stamp():
        nonlocal t0
        now = time.monotonic_ns() // 1000
        if t0 is None:
            t0 = now
        return now - t0

    while open_:
        ready, _, _ = select.select(list(open_), [], [], idle)
        if not ready:
            for s in open_:
                lines.append(f"{peers[s][0]} {stamp()} end timeout")
            break
        for s in ready:
            tag, other = peers[s]
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                lines.append(f"{tag} {stamp()} end rst")
                open_.discard(s)
                try:
                    other.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    other.close()
                except OSError:
                    pass
                open_.discard(other)
                continue
            if data:
                lines.append(f"{tag} {stamp()} {data.hex()}")
                try:
                    other.sendall(data)
                except OSError:
                    pass
            else:
                lines.append(f"{tag} {stamp()} end fin")
                open_.discard(s)
                try:
                    other.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
    client.close()
    server.close()
    out.extend(lines)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        only = sys.argv[1:]
        for name, (sargs, cargs, comment) in SCENARIOS.items():
            if only and name not in only:
                continue
            sport, rport = free_port(), free_port()
            server = subprocess.Popen(
                ["openssl", "s_server", "-accept", f"127.0.0.1:{sport}", "-cert", cert, "-key", key,
                 "-naccept", "1"] + sargs,
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(0.7)
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", rport))
                listener.listen(1)
                client = subprocess.Popen(
                    ["openssl", "s_client", "-connect", f"127.0.0.1:{rport}", "-servername", "localhost"]
                    + cargs,
                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                # Like a real client, wait a moment before closing (s_client closes on stdin EOF).
                threading.Timer(1.0, client.stdin.close).start()
                lines = [f"# {comment}",
                         f"# server: openssl s_server {' '.join(sargs)}; client: openssl s_client {' '.join(cargs)}",
                         f"# recorded with {subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}"]
                relay(listener, sport, lines)
                listener.close()
                client.wait(timeout=10)
            finally:
                server.kill()
                server.wait()
            with open(os.path.join(HERE, f"{name}.txt"), "w") as f:
                f.write("\n".join(lines) + "\n")
            print(name, len(lines) - 3, "lines")


if __name__ == "__main__":
    main()
