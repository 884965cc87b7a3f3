#!/usr/bin/env python3
"""A TCP relay that adds round-trip time, for measuring scans as if the server were far away
where the kernel has no netem (loopback only).

    python3 benches/delay_proxy.py LISTEN_PORT TARGET_PORT RTT_MS

Listens on 127.0.0.1:LISTEN_PORT and relays each connection to 127.0.0.1:TARGET_PORT. Every
chunk waits RTT_MS/2 in each direction (order kept), so a request and its answer take one
RTT more than on loopback; the client's first chunk waits one RTT more, for the connect
round trip a far server costs (the relay accepts at once). A close travels with the same
delay (as a FIN: a reset reaches the client as a close).
"""
import asyncio
import os
import signal
import sys


async def pump(reader, writer, one_way, first_extra):
    """Copies reader to writer, each chunk (and the end) delayed by one_way seconds."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    sender = asyncio.create_task(send())
    extra = first_extra
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + one_way + extra, data or None))
            extra = 0
            if not data:
                break
    except OSError:
        queue.put_nowait((loop.time() + one_way, None))
    try:
        await sender
    except OSError:
        pass


async def relay(client_reader, client_writer, target_port, rtt):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pump(client_reader, server_writer, rtt / 2, rtt),
        pump(server_reader, client_writer, rtt / 2, 0),
    )
    for w in (client_writer, server_writer):
        w.close()


async def main():
    listen_port, target_port, rtt_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    # The relays, held here: asyncio keeps only a weak reference to a task, and a relay
    # waiting on both directions was otherwise collected mid-connection ("Task was
    # destroyed but it is pending").
    relays = set()

    def start_relay(r, w):
        task = asyncio.ensure_future(relay(r, w, target_port, rtt_ms / 1000))
        relays.add(task)
        task.add_done_callback(relays.discard)

    server = await asyncio.start_server(
        start_relay,
        "127.0.0.1",
        listen_port,
        backlog=4096,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # Stopped by the bench's SIGTERM: end at once, without asyncio's notes on the
    # connections still open.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main())
