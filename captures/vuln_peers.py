#!/usr/bin/env python3
"""Vulnerable TLS peers no Debian 12 server can play, and the client that attacks them.

Used by captures/record.sh (the heartbleed, ccs_injection and vuln_attempts_openssl
captures) and by tests/scan_vulns.rs (the scripted peers `scan --vulns` must call
vulnerable). Loopback only; standard library only.

  vuln_peers.py serve MODE PORT    a scripted TLS 1.2 server on 127.0.0.1:PORT (0: any
                                   free port); prints "port N" once it listens, and stops
                                   when its stdin closes or it is killed. MODE:
      heartbleed   answers a heartbeat request with 16 KiB it was not sent (the first
                   bytes "secret=hunter2; "), as a vulnerable OpenSSL 1.0.1 did
      early_ccs    takes a ChangeCipherSpec before the key exchange: the next record is
                   read under keys from an empty master secret and gets bad_record_mac
  vuln_peers.py attack KIND PORT   one connection to 127.0.0.1:PORT: a TLS 1.2
                                   ClientHello (ECDHE-RSA-AES128-GCM-SHA256, heartbeat
                                   extension), then, once the server's flight ends with
                                   ServerHelloDone, KIND:
      heartbleed   a heartbeat request record of 3 bytes declaring a 16384-byte payload
      early_ccs    a ChangeCipherSpec and a 64-byte bogus handshake record
                   and prints the first record that comes back, then closes.

The server: ECDHE-RSA-AES128-GCM-SHA256 only, RFC 5746 answered, the heartbeat extension
echoed; its flight is ServerHello and ServerHelloDone. Anything else (TLS 1.3 alone, lower
versions, SSLv2, other suites) gets a handshake_failure alert; any other record after the
flight gets unexpected_message.
"""

import os
import stat
import socket
import socketserver
import struct
import sys
import threading

SUITE = 0xC02F  # TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
HEARTBEAT_EXT = 15
TIMEOUT = 3.0


def record(typ, payload, version=0x0303):
    return struct.pack(">BHH", typ, version, len(payload)) + payload


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_record(sock):
    """One record (header and body), or None at the end or a time-out."""
    try:
        header = read_exact(sock, 5)
        if header is None:
            return None
        body = read_exact(sock, struct.unpack(">H", header[3:5])[0])
        return None if body is None else header + body
    except OSError:
        return None


def send(sock, data):
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def hello_parts(rec):
    """A ClientHello record's legacy_version, suites and extensions {type: data}."""
    b = rec[5:]
    if rec[0] != 22 or not b or b[0] != 1:
        return None
    try:
        legacy = struct.unpack(">H", b[4:6])[0]
        i = 4 + 2 + 32
        i += 1 + b[i]
        n = struct.unpack(">H", b[i:i + 2])[0]
        suites = [struct.unpack(">H", b[j:j + 2])[0] for j in range(i + 2, i + 2 + n, 2)]
        i += 2 + n
        i += 1 + b[i]
        exts = {}
        if i + 2 <= len(b):
            end = min(i + 2 + struct.unpack(">H", b[i:i + 2])[0], len(b))
            i += 2
            while i + 4 <= end:
                typ, ln = struct.unpack(">HH", b[i:i + 4])
                exts[typ] = b[i + 4:i + 4 + ln]
                i += 4 + ln
        return legacy, suites, exts
    except (IndexError, struct.error):
        return None


class Peer(socketserver.BaseRequestHandler):
    mode = "heartbleed"

    def handle(self):
        s = self.request
        s.settimeout(TIMEOUT)
        refuse = lambda: send(s, record(21, bytes([2, 40])))
        hello = read_record(s)
        parts = hello and hello_parts(hello)
        if not parts:
            refuse()
            return
        legacy, suites, exts = parts
        versions = exts.get(43)
        tls12 = versions is None or any(
            versions[j:j + 2] == b"\x03\x03" for j in range(1, len(versions), 2))
        if legacy < 0x0303 or not tls12 or SUITE not in suites:
            refuse()
            return
        ext = bytes([0xFF, 0x01, 0, 1, 0])
        if HEARTBEAT_EXT in exts:
            ext += bytes([0, 15, 0, 1, 1])
        sh = b"\x03\x03" + bytes([7]) * 32 + b"\x00" + struct.pack(">HB", SUITE, 0)
        sh += struct.pack(">H", len(ext)) + ext
        flight = bytes([2]) + struct.pack(">I", len(sh))[1:] + sh + bytes([14, 0, 0, 0])
        if not send(s, record(22, flight)):
            return
        while True:
            rec = read_record(s)
            if rec is None:
                return
            if rec[0] == 24 and self.mode == "heartbleed":
                # "Memory" past the 3-byte request, as a vulnerable OpenSSL sent it.
                response = bytes([2, 0x40, 0]) + b"secret=hunter2; "
                response += b"m" * (3 + 0x4000 + 16 - len(response))
                send(s, record(24, response))
            elif rec[0] == 20 and self.mode == "early_ccs":
                # Took the CCS: the next record fails its MAC.
                if read_record(s) is not None:
                    send(s, record(21, bytes([2, 20])))
            else:
                send(s, record(21, bytes([2, 10])))


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(mode, port):
    if mode not in ("heartbleed", "early_ccs"):
        sys.exit(f"vuln_peers.py: unknown mode {mode}")
    Peer.mode = mode
    server = Server(("127.0.0.1", port), Peer)
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # With stdin a pipe (a test's handle), until it closes; otherwise (record.sh gives
    # /dev/null) until a signal ends the process.
    if stat.S_ISFIFO(os.fstat(0).st_mode):
        while sys.stdin.buffer.read(1):
            pass
    else:
        threading.Event().wait()
    server.shutdown()


def ext(typ, data):
    return struct.pack(">HH", typ, len(data)) + data


def client_hello():
    exts = ext(0, struct.pack(">HBH", 12, 0, 9) + b"good.test")  # server_name
    exts += ext(10, struct.pack(">HHH", 4, 0x001D, 0x0017))  # x25519, secp256r1
    exts += ext(11, bytes([1, 0]))  # ec_point_formats: uncompressed
    exts += ext(13, struct.pack(">HHHH", 6, 0x0804, 0x0401, 0x0403))  # signature_algorithms
    exts += ext(HEARTBEAT_EXT, bytes([1]))  # peer_allowed_to_send
    exts += ext(0xFF01, bytes([0]))  # renegotiation_info
    body = b"\x03\x03" + os.urandom(32) + b"\x00"
    body += struct.pack(">HH", 2, SUITE) + bytes([1, 0])
    body += struct.pack(">H", len(exts)) + exts
    return record(22, bytes([1]) + struct.pack(">I", len(body))[1:] + body, version=0x0301)


def server_hello_done(messages):
    i = 0
    while i + 4 <= len(messages):
        if messages[i] == 14:
            return True
        i += 4 + struct.unpack(">I", b"\x00" + messages[i + 1:i + 4])[0]
    return False


def attack(kind, port):
    if kind == "heartbleed":
        probe = record(24, bytes([1, 0x40, 0]))
    elif kind == "early_ccs":
        probe = record(20, bytes([1])) + record(22, bytes(64))
    else:
        sys.exit(f"vuln_peers.py: unknown attack {kind}")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(client_hello())
        messages = b""
        while not server_hello_done(messages):
            rec = read_record(s)
            if rec is None or rec[0] != 22:
                print(f"no ServerHelloDone: {rec[:7].hex() if rec else 'end'}")
                return 1
            messages += rec[5:]
        s.sendall(probe)
        rec = read_record(s)
        if rec is None:
            print("no answer")
        else:
            print(f"answer: record type {rec[0]}, {len(rec) - 5} bytes, {rec[5:8].hex()}")
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("serve", "attack"):
        sys.exit(__doc__)
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(attack(sys.argv[2], int(sys.argv[3])))


if __name__ == "__main__":
    main()
