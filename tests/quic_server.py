"""A QUIC server for tests/probe_quic.rs: aioquic on 127.0.0.1, an ephemeral UDP port that
it prints on stdout ("port N") once it listens, until its stdin closes or it is killed.

Usage: quic_server.py CERT KEY MODE, where MODE is
  ok     ALPN h3: the handshake completes
  alpn   ALPN "other-proto" only: a client offering h3 gets no_application_protocol
  retry  as ok, and every new connection is first sent a Retry
  p384   as ok, but the server's TLS takes only secp384r1 key shares (aioquic has no
         setting for its groups: its TLS context's list is replaced after construction)
  groups prints aioquic's own list of groups ("groups 0x0017 ...") and exits: the oracle
         of scan --quic's group list
"""

import asyncio
import sys

from aioquic.asyncio import serve
from aioquic.quic.configuration import QuicConfiguration


def restrict_groups(groups) -> None:
    from aioquic import tls

    init = tls.Context.__init__

    def restricted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._supported_groups = list(groups)

    tls.Context.__init__ = restricted


async def main() -> None:
    cert, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "groups":
        from aioquic import tls

        groups = tls.Context(is_client=False)._supported_groups
        print("groups " + " ".join(f"0x{int(g):04x}" for g in groups), flush=True)
        return
    if mode == "p384":
        from aioquic import tls

        restrict_groups([tls.Group.SECP384R1])
    alpn = ["other-proto"] if mode == "alpn" else ["h3"]
    config = QuicConfiguration(is_client=False, alpn_protocols=alpn)
    config.load_cert_chain(cert, key)
    server = await serve("127.0.0.1", 0, configuration=config, retry=(mode == "retry"))
    port = server._transport.get_extra_info("sockname")[1]
    print(f"port {port}", flush=True)
    loop = asyncio.get_running_loop()
    # Ends when the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
