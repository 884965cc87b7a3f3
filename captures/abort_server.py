#!/usr/bin/env python3
"""Loopback TCP server that reads one ClientHello record, then aborts the connection.

Usage: abort_server.py PORT rst|fin
  rst: SO_LINGER {on, 0} before close, so the kernel sends a RST (connection reset).
  fin: plain close after reading, so the client sees an orderly FIN and no TLS answer.
Serves connections until killed. Binds 127.0.0.1 only.
"""
import socket
import struct
import sys


def read_record(conn):
    """Read one TLS record (5-byte header + body), or whatever arrives before EOF."""
    data = b""
    while len(data) < 5:
        chunk = conn.recv(5 - len(data))
        if not chunk:
            return data
        data += chunk
    need = 5 + struct.unpack("!H", data[3:5])[0]
    while len(data) < need:
        chunk = conn.recv(need - len(data))
        if not chunk:
            break
        data += chunk
    return data


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4)
    while True:
        conn, _ = listener.accept()
        read_record(conn)
        if mode == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


if __name__ == "__main__":
    main()
