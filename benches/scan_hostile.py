#!/usr/bin/env python3
"""Times `shakedown scan` against hostile servers on loopback (docs/scan.md, "Giving up").

Usage: python3 benches/scan_hostile.py [SHAKEDOWN_BINARY ...] [-- SCAN_ARGS...]

Starts each server below on 127.0.0.1 (an ephemeral port, threads of this process),
scans it with each binary given (default target/debug/shakedown) with default options
plus SCAN_ARGS, and prints one line per scan: server, binary, wall seconds, handshakes,
retries, gave_up, error. Only loopback is touched; the servers stop with the script.
"""

import json
import socket
import struct
import subprocess
import sys
import threading
import time

STOP = threading.Event()


def read_hello(s):
    s.settimeout(2)
    got = b""
    while True:
        if got[:1] and got[0] & 0x80:
            return got
        want = 5 + struct.unpack(">H", got[3:5])[0] if len(got) >= 5 else 5
        if len(got) >= want:
            return got
        try:
            chunk = s.recv(16384)
        except OSError:
            return got
        if not chunk:
            return got
        got += chunk


def hold(secs):
    STOP.wait(secs)


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def flood(s, record):
    chunk = record * 512
    s.settimeout(2)
    sent = 0
    try:
        while not STOP.is_set() and sent < 64 << 20:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    s.close()


def server_hello_for(hello):
    if not hello or hello[0] & 0x80 or len(hello) < 45:
        return None
    body = hello[9:]
    sid = body[34]
    suite = body[35 + sid + 2 : 35 + sid + 4]
    if len(suite) < 2:
        return None
    sh = bytes([2, 0, 0, 38, body[0], min(body[1], 3)]) + bytes([7] * 32)
    sh += bytes([0]) + suite + bytes([0, 0, 0])
    return bytes([22, 3, 3, 0, len(sh)]) + sh


def always_reset(s):
    read_hello(s)
    reset(s)


def never_reading(s):
    hold(10)
    s.close()


def trickling(s):
    read_hello(s)
    for b in [0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3C, 0x03] * 3:
        if STOP.is_set():
            break
        try:
            s.sendall(bytes([b]))
        except OSError:
            break
        time.sleep(0.3)
    s.close()


def malformed_server_hello(s):
    read_hello(s)
    s.sendall(bytes([22, 3, 3, 0, 10, 2, 0, 0, 6, 3, 3, 1, 2, 3, 4]))
    hold(3)
    s.close()


def junk(s):
    read_hello(s)
    s.sendall(bytes([0x8F, 0x00, 0xFF, 0x13, 0x37, 0x00, 0x01, 0xFE, 0x99, 0x42]))
    s.close()


def server_hello_then_reset(s):
    sh = server_hello_for(read_hello(s))
    if sh:
        s.sendall(sh)
        hold(0.2)
    reset(s)


def record_flood(s):
    read_hello(s)
    flood(s, bytes([20, 3, 3, 0, 1, 1]))


def alert_storm(s):
    read_hello(s)
    flood(s, bytes([21, 3, 3, 0, 2, 1, 90]))


def half_open(s):
    read_hello(s)
    s.shutdown(socket.SHUT_WR)
    hold(5)
    s.close()


SERVERS = [
    always_reset,
    never_reading,
    trickling,
    malformed_server_hello,
    junk,
    server_hello_then_reset,
    record_flood,
    alert_storm,
    half_open,
]


def serve(behave):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def loop():
        while not STOP.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=behave_safely, args=(behave, conn), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return listener.getsockname()[1]


def behave_safely(behave, conn):
    try:
        behave(conn)
    except OSError:
        pass


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        i = args.index("--")
        args, extra = args[:i], args[i + 1 :]
    binaries = args or ["target/debug/shakedown"]
    ports = {b.__name__: serve(b) for b in SERVERS}
    for name, port in ports.items():
        for binary in binaries:
            start = time.monotonic()
            out = subprocess.run(
                [binary, "scan", f"127.0.0.1:{port}", "--json", "--no-progress", *extra],
                capture_output=True,
            )
            took = time.monotonic() - start
            try:
                v = json.loads(out.stdout)
            except ValueError:
                v = {}
            print(
                f"{name:24} {binary:40} {took:7.2f} s  handshakes {v.get('handshakes')!s:>4}"
                f"  retries {v.get('retries')!s:>3}  gave_up {v.get('gave_up')!s:5}"
                f"  exit {out.returncode}  error {v.get('error')}",
                flush=True,
            )
    STOP.set()


if __name__ == "__main__":
    main()
