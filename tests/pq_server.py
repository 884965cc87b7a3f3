"""A TLS 1.3 server with ML-KEM key exchange for tests/pq.rs.

Debian's OpenSSL has no ML-KEM; pyOpenSSL on the OpenSSL that the `cryptography` wheels
bundle does. Usage: pq_server.py PORT CHAIN_PEM KEY_PEM GROUPS (an OpenSSL groups list,
e.g. "X25519MLKEM768:X25519") [server-order]. Serves one connection at a time on 127.0.0.1 until killed.
"""

import socket
import struct
import sys

from OpenSSL import SSL
from OpenSSL._util import lib

port, chain, key, groups = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
server_order = sys.argv[5:] == ["server-order"]

ctx = SSL.Context(SSL.TLS_METHOD)
ctx.set_min_proto_version(SSL.TLS1_3_VERSION)
ctx.use_certificate_chain_file(chain)
ctx.use_privatekey_file(key)
if server_order:
    # OpenSSL then picks the group (and suite) by its own list's order, not the client's.
    ctx.set_options(SSL.OP_CIPHER_SERVER_PREFERENCE)
# pyOpenSSL has no groups setter; the curves list call is OpenSSL's synonym for groups.
if lib.SSL_CTX_set1_curves_list(ctx._context, groups.encode()) != 1:
    sys.exit("unknown groups: " + groups)

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(16)
while True:
    sock, _ = listener.accept()
    # A blocking socket with a kernel receive timeout: Python's settimeout() would make the
    # socket non-blocking underneath, and OpenSSL would then stop at WantReadError.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 10, 0))
    conn = SSL.Connection(ctx, sock)
    conn.set_accept_state()
    try:
        conn.do_handshake()
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello\n")
        conn.shutdown()
    except (SSL.Error, OSError):
        pass
    finally:
        sock.close()
