"""``python -m bench.fake_providers --format anthropic --port 0``: one fake as a process.

Prints ``READY port=<p> base_url=<url>`` once it listens; stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from bench._proc import LOOPBACK, install_uvloop
from bench.fake_providers import FORMATS, start_fake_provider


async def _serve(fmt: str, port: int, delay_ms: float, chunk_delay_ms: float, host: str) -> None:
    fake = await start_fake_provider(
        fmt, port, delay_ms=delay_ms, chunk_delay_ms=chunk_delay_ms, host=host
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY port={fake.port} base_url={fake.base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fake_providers", description=__doc__)
    p.add_argument("--format", required=True, choices=FORMATS, help="wire format to speak")
    p.add_argument("--host", default=LOOPBACK, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="delay before the first byte")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0, help="gap between SSE frames")
    a = p.parse_args(argv)
    install_uvloop()
    asyncio.run(_serve(a.format, a.port, a.delay_ms, a.chunk_delay_ms, a.host))


if __name__ == "__main__":
    main()
