#!/usr/bin/env python3
"""Where one STARTTLS connection's time goes: N sequential connections to a loopback
server, each step timed from the previous one (medians, ms), and the server's CPU per
connection when its process id is given (utime + stime of the process tree, reaped
children included, from /proc/PID/stat before and after the N connections).

    python3 benches/starttls_conntime.py PROTO PORT MODE [N] [SERVER_PID]

PROTO: smtp, imap, pop3, postgres, xmpp (to='localhost'). MODE:
  greet    connect, the greeting (XMPP: the stream features), close
  pre      the preamble up to the server's yes to STARTTLS, close
  refused  pre, then a TLS 1.2 ClientHello offering only TLS_RSA_WITH_NULL_MD5, read to
           the alert
  full     pre, then a whole handshake with Python's ssl module
SKIP_CAPA=1: IMAP and POP3 without the capability command. Used for docs/benchmarks.md
("Where a STARTTLS connection's time goes"); talks to 127.0.0.1 only.
"""
import os
import re
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import time

proto, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 100
server_pid = int(sys.argv[5]) if len(sys.argv) > 5 else None
skip_capa = os.environ.get("SKIP_CAPA") == "1"


def tree_cpu_ticks(pid):
    """utime + stime + cutime + cstime of pid and every live descendant, in clock ticks."""
    out = subprocess.run(["pstree", "-p", str(pid)], capture_output=True, text=True).stdout
    pids = {int(p) for p in re.findall(r"\((\d+)\)", out)}
    total = 0
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total


class Lines:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("closed")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def until(self, done):
        while True:
            line = self.line()
            if done(line):
                return line

    def until_text(self, marker):
        data = self.buf
        while marker not in data:
            more = self.sock.recv(4096)
            if not more:
                raise EOFError("closed")
            data += more
        self.buf = b""


def preamble(sock, marks, upgrade):
    now = time.perf_counter
    r = Lines(sock)
    last_line = lambda line: line[3:4] == b" "  # noqa: E731
    if proto == "smtp":
        r.until(last_line)
        marks.append(("greeting", now()))
        if upgrade:
            sock.sendall(b"EHLO conntime.invalid\r\n")
            r.until(last_line)
            marks.append(("ehlo", now()))
            sock.sendall(b"STARTTLS\r\n")
            r.until(last_line)
            marks.append(("starttls", now()))
    elif proto in ("imap", "pop3"):
        r.line()
        marks.append(("greeting", now()))
        if upgrade:
            if not skip_capa:
                if proto == "imap":
                    sock.sendall(b"a1 CAPABILITY\r\n")
                    r.until(lambda line: line.startswith(b"a1 "))
                else:
                    sock.sendall(b"CAPA\r\n")
                    r.until(lambda line: line.strip() == b".")
                marks.append(("capa", now()))
            sock.sendall(b"a2 STARTTLS\r\n" if proto == "imap" else b"STLS\r\n")
            r.until(lambda line: line.startswith(b"a2 ") or line.startswith(b"+OK"))
            marks.append(("starttls", now()))
    elif proto == "postgres":
        if upgrade:
            sock.sendall(bytes([0, 0, 0, 8, 4, 0xD2, 0x16, 0x2F]))
            if sock.recv(1) != b"S":
                raise RuntimeError("SSLRequest refused")
            marks.append(("sslrequest", now()))
    elif proto == "xmpp":
        sock.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
                     b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
        r.until_text(b"</stream:features>")
        marks.append(("features", now()))
        if upgrade:
            sock.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            r.until_text(b"<proceed")
            marks.append(("proceed", now()))
    else:
        sys.exit(f"unknown protocol {proto}")


def refused_hello():
    suites = struct.pack(">H", 0x0001)
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">H", len(suites)) + suites
            + b"\x01\x00" + b"\x00\x00")
    handshake = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
steps = {}
before = tree_cpu_ticks(server_pid) if server_pid else None
for _ in range(N):
    marks = []
    t0 = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    marks.append(("connect", time.perf_counter()))
    preamble(sock, marks, upgrade=mode != "greet")
    if mode == "refused":
        sock.sendall(refused_hello())
        sock.recv(4096)
        marks.append(("alert", time.perf_counter()))
    elif mode == "full":
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
        marks.append(("handshake", time.perf_counter()))
    sock.close()
    marks.append(("close", time.perf_counter()))
    previous = t0
    for name, at in marks:
        steps.setdefault(name, []).append((at - previous) * 1000)
        previous = at
    steps.setdefault("total", []).append((marks[-1][1] - t0) * 1000)
    time.sleep(0.02)
line = f"{proto} {mode} N={N}" + ("" if not skip_capa else " (no capability command)") + ": "
line += ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in steps.items()) + " (median ms)"
if server_pid:
    ticks = tree_cpu_ticks(server_pid) - before
    line += f"; server CPU {ticks * 1000 / os.sysconf('SC_CLK_TCK') / N:.1f} ms per connection"
print(line)
