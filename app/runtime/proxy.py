"""One address for several Prefect API processes: a small TCP proxy with failover.

Each client connection goes to the next API process in turn; one that refuses the connection
is skipped (and tried again after `RETRY_DOWN_S`), so clients keep working while an API
process is down. It forwards bytes, not requests, so HTTP keep-alive and the websockets of
Prefect's events and logs pass through unchanged; a connection open on a process that dies
is closed, and the client's retry opens a new one on a live process.

    python -m app.runtime.proxy --listen 127.0.0.1:4300 --upstream 127.0.0.1:4301 --upstream …
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time

log = logging.getLogger("protect.proxy")
CONNECT_TIMEOUT_S = 2.0
RETRY_DOWN_S = 2.0
CHUNK = 65536


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


class Proxy:
    """Round-robin over `upstreams`, skipping the ones that refuse connections."""

    def __init__(self, upstreams: list[tuple[str, int]]) -> None:
        if not upstreams:
            raise ValueError("the proxy needs at least one upstream")
        self.upstreams = upstreams
        self.next = 0
        self.down_until: dict[tuple[str, int], float] = {}

    def _order(self) -> list[tuple[str, int]]:
        n = len(self.upstreams)
        start, self.next = self.next, (self.next + 1) % n
        ordered = [self.upstreams[(start + i) % n] for i in range(n)]
        now = time.monotonic()
        # Live ones first; the ones marked down last, in case they came back meanwhile.
        return sorted(ordered, key=lambda u: self.down_until.get(u, 0) > now)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for upstream in self._order():
            try:
                conn = await asyncio.wait_for(asyncio.open_connection(*upstream),
                                              CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                if self.down_until.get(upstream, 0) <= time.monotonic():
                    log.warning("API process %s:%d refuses connections; skipping it", *upstream)
                self.down_until[upstream] = time.monotonic() + RETRY_DOWN_S
                continue
            self.down_until.pop(upstream, None)
            return conn
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            log.warning("no API process accepts connections")
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def serve(self, host: str, port: int) -> None:
        server = await asyncio.start_server(self.handle, host, port, reuse_address=True)
        log.info("proxy on %s:%d for %s", host, port,
                 ", ".join(f"{h}:{p}" for h, p in self.upstreams))
        print(f"proxy listening on {host}:{port}", flush=True)
        async with server:
            await server.serve_forever()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_hostport, required=True)
    parser.add_argument("--upstream", type=_hostport, action="append", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Proxy(args.upstream).serve(*args.listen))


if __name__ == "__main__":
    main()
