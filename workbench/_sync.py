"""Drive a coroutine from a blocking call, also inside a running event loop (Jupyter).

One definition for the whole library. Never ``asyncio.run`` in a library call a
notebook makes: with no loop running in this thread the coroutine runs on a private loop
here; with one running (a notebook cell), on a private loop in a worker thread, while
the caller waits. The coroutine is made by ``make()`` on the loop that runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` to completion and return its result (its exception
    propagates)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _own_loop(make)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-sync") as ex:
        return ex.submit(_own_loop, make).result()


__all__ = ["run_blocking"]
