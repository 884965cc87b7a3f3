#!/usr/bin/env python3
"""Minimal python3 `ssl` client: one handshake against 127.0.0.1, then a clean close.

Usage: py_client.py PORT SNI CAFILE MINVER MAXVER [KEYLOG]
  MINVER/MAXVER: TLSv1_2 or TLSv1_3. Exit status 0 if the handshake succeeded, 1 if not.
"""
import socket
import ssl
import sys


def main():
    port, sni, cafile, minver, maxver = sys.argv[1:6]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion[minver]
    ctx.maximum_version = ssl.TLSVersion[maxver]
    if len(sys.argv) > 6:
        ctx.keylog_filename = sys.argv[6]
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                print("python3 ssl:", tls.version(), tls.cipher()[0])
                tls.unwrap()
        except (ssl.SSLError, OSError) as err:
            print("python3 ssl: failed:", err)
            sys.exit(1)


if __name__ == "__main__":
    main()
