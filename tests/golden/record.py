#!/usr/bin/env python3
"""Records the first ClientHello real TLS clients send, as hex, for shakedown's golden tests.

Usage: python3 tests/golden/record.py   (run from the repository root; needs openssl, curl,
python3 ssl and, when installed, gnutls-cli). Talks only to 127.0.0.1: a listener on an
ephemeral loopback port takes one connection, saves every TLS record up to the end of the
first handshake message, and closes; the client then fails, which is expected.
"""
import os
import socket
import ssl
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
HOST_NAME = "golden.example"


def read_hello(conn):
    """Reads records until the first handshake message is complete; returns the raw bytes.
    Also the listener of profiles/record.sh."""
    data = b""
    conn.settimeout(10)
    while True:
        # Parse what we have: records, accumulating handshake bytes.
        pos, hs = 0, b""
        while len(data) >= pos + 5:
            n = int.from_bytes(data[pos + 3:pos + 5], "big")
            if len(data) < pos + 5 + n:
                break
            hs += data[pos + 5:pos + 5 + n]
            pos += 5 + n
        if len(hs) >= 4 and len(hs) >= 4 + int.from_bytes(hs[1:4], "big"):
            return data[:pos]
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk


def record(name, client):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    out = {}

    def serve():
        conn, _ = srv.accept()
        out["bytes"] = read_hello(conn)
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    cmd = client(port)
    if isinstance(cmd, list):
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)
    else:
        cmd()
    t.join(20)
    srv.close()
    path = os.path.join(HERE, name + ".hex")
    with open(path, "w") as f:
        f.write(out["bytes"].hex() + "\n")
    print(f"{name}: {len(out['bytes'])} bytes")


def python_client(port):
    def run():
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection(("127.0.0.1", port)) as s:
                with ctx.wrap_socket(s, server_hostname=HOST_NAME):
                    pass
        except (ssl.SSLError, OSError):
            pass
    return run


def main():
    openssl_ver = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.split()[1]
    major_minor = ".".join(openssl_ver.split(".")[:2])
    record(f"openssl-{major_minor}-tls13", lambda p: [
        "openssl", "s_client", "-connect", f"127.0.0.1:{p}", "-servername", HOST_NAME])
    record(f"openssl-{major_minor}-tls12", lambda p: [
        "openssl", "s_client", "-tls1_2", "-connect", f"127.0.0.1:{p}", "-servername", HOST_NAME])
    record(f"openssl-{major_minor}-tls10", lambda p: [
        "openssl", "s_client", "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0",
        "-connect", f"127.0.0.1:{p}", "-servername", HOST_NAME])
    record("curl-7.88", lambda p: [
        "curl", "-sk", "--max-time", "5", "--resolve", f"{HOST_NAME}:{p}:127.0.0.1",
        f"https://{HOST_NAME}:{p}/"])
    record(f"python{sys.version_info[0]}.{sys.version_info[1]}-ssl", python_client)
    if subprocess.run(["which", "gnutls-cli"], capture_output=True).returncode == 0:
        gver = subprocess.run(["gnutls-cli", "--version"], capture_output=True, text=True).stdout.split()
        gv = ".".join(gver[1].split(".")[:2]) if len(gver) > 1 else "x"
        record(f"gnutls-{gv}", lambda p: [
            "gnutls-cli", "--insecure", "--sni-hostname", HOST_NAME, "-p", str(p), "127.0.0.1"])


if __name__ == "__main__":
    main()
