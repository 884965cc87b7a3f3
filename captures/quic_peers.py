"""The QUIC peers captures/record_quic.sh records: aioquic (PyPI) on 127.0.0.1 only.

  quic_peers.py server CERT KEY PORT
      an aioquic server (ALPN h3) on 127.0.0.1:PORT until killed; prints "listening" once
      it listens.
  quic_peers.py client PORT CAFILE KEYLOG MODE
      one aioquic client handshake to 127.0.0.1:PORT, appending its TLS secrets to KEYLOG
      (SSLKEYLOGFILE format), then a PING and a clean close. MODE:
        v1-aes128  QUIC v1, TLS_AES_128_GCM_SHA256 offered only
        v1-aes256  QUIC v1, TLS_AES_256_GCM_SHA384 offered only
        v1-chacha  QUIC v1, TLS_CHACHA20_POLY1305_SHA256 offered only
        v2         QUIC v2 (RFC 9369), aioquic's default suites
        badname    QUIC v1, SNI other.test: the client rejects the certificate (good.test)
                   and ends with a CONNECTION_CLOSE carrying its TLS alert
      Exits 0 when the handshake went as MODE means, 1 otherwise.
"""

import asyncio
import sys

from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite


async def server(cert: str, key: str, port: int) -> None:
    config = QuicConfiguration(is_client=False, alpn_protocols=["h3"])
    config.load_cert_chain(cert, key)
    await serve("127.0.0.1", port, configuration=config)
    print("listening", flush=True)
    await asyncio.Event().wait()


async def client(port: int, cafile: str, keylog: str, mode: str) -> int:
    config = QuicConfiguration(is_client=True, alpn_protocols=["h3"])
    config.load_verify_locations(cafile)
    config.server_name = "other.test" if mode == "badname" else "good.test"
    suites = {
        "v1-aes128": [CipherSuite.AES_128_GCM_SHA256],
        "v1-aes256": [CipherSuite.AES_256_GCM_SHA384],
        "v1-chacha": [CipherSuite.CHACHA20_POLY1305_SHA256],
    }
    if mode in suites:
        config.cipher_suites = suites[mode]
    if mode == "v2":
        config.supported_versions = [QuicProtocolVersion.VERSION_2]
    with open(keylog, "a") as log:
        config.secrets_log_file = log
        try:
            async with connect("127.0.0.1", port, configuration=config) as conn:
                await asyncio.wait_for(conn.ping(), 5)
        except ConnectionError as e:
            print(f"{mode}: handshake failed: {e!r}", file=sys.stderr)
            return 0 if mode == "badname" else 1
    return 1 if mode == "badname" else 0


def main() -> int:
    if sys.argv[1] == "server":
        asyncio.run(server(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return 0
    port, cafile, keylog, mode = sys.argv[2:6]
    return asyncio.run(client(int(port), cafile, keylog, mode))


sys.exit(main())
