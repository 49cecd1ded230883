"""A latency-injecting TCP proxy for benchmarks (used by scripts/bench).

    python latency_proxy.py --upstream HOST:PORT --delay-ms 20 --port-file FILE

Listens on a free loopback port (written to FILE with the control port: "PORT CONTROL_PORT").
Every HTTP request that a client sends is held for the delay before it is forwarded, so each
request costs one simulated network round trip, whatever the connection reuse. The proxy
counts requests and the largest number in flight at once (a request is in flight from its
first byte until the first byte of its response). The control port answers
`GET /stats` with {"requests": N, "max_in_flight": M} and `POST /reset` zeroes them.

Standard library only (asyncio); it forwards bytes and never parses bodies, so it works for
any HTTP/1.1 client and server that do not pipeline requests (none of the SDKs osenv uses do).
"""

import argparse
import asyncio
import json
import os
import signal

STATS = {"requests": 0, "in_flight": 0, "max_in_flight": 0}


async def pipe_requests(reader, writer, delay, waiting):
    """Client to server: hold each new request for the delay."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if not waiting[0]:
                # The first bytes of a new request (the previous one was answered).
                waiting[0] = True
                STATS["requests"] += 1
                STATS["in_flight"] += 1
                STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def pipe_responses(reader, writer, waiting):
    """Server to client: the first response bytes end the request's flight."""
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if waiting[0]:
                waiting[0] = False
                STATS["in_flight"] -= 1
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        if waiting[0]:
            waiting[0] = False
            STATS["in_flight"] -= 1
        writer.close()


async def handle(client_reader, client_writer, upstream, delay):
    host, port = upstream
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    waiting = [False]
    await asyncio.gather(
        pipe_requests(client_reader, server_writer, delay, waiting),
        pipe_responses(server_reader, client_writer, waiting),
    )


async def control(reader, writer):
    request = await reader.readuntil(b"\r\n\r\n")
    if request.startswith(b"POST /reset"):
        STATS.update(requests=0, in_flight=0, max_in_flight=0)
    body = json.dumps({"requests": STATS["requests"], "max_in_flight": STATS["max_in_flight"]}).encode()
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    writer.close()


async def main():
    # Stop at once on SIGTERM, without asyncio's complaints about connections still open.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    delay = args.delay_ms / 1000.0
    proxy = await asyncio.start_server(
        lambda r, w: handle(r, w, upstream, delay), "127.0.0.1", 0, backlog=1024
    )
    ctl = await asyncio.start_server(control, "127.0.0.1", 0)
    with open(args.port_file, "w") as f:
        f.write(f"{proxy.sockets[0].getsockname()[1]} {ctl.sockets[0].getsockname()[1]}\n")
    async with proxy, ctl:
        await asyncio.gather(proxy.serve_forever(), ctl.serve_forever())


if __name__ == "__main__":
    asyncio.run(main())
