"""Run a slow query off the event loop behind a loading indicator (shared by the explorer
and policies pages).

In a served session the work runs in a worker thread (``asyncio.to_thread``) from an async
callback Panel schedules on the session's loop, so the page stays responsive and the
result is applied under the document lock. Without a server session (tests, a notebook
cell) the work runs synchronously, so callers see its result at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _served() -> bool:
    import panel as pn

    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def launch(
    work: Callable[[], T],
    done: Callable[[T], None],
    busy: Callable[[bool], None],
    fail: Callable[[Exception], None],
) -> None:
    """Run ``work()``; hand its result to ``done`` (or its exception to ``fail``), with
    ``busy(True)`` before and ``busy(False)`` after."""
    import panel as pn

    if not _served():
        busy(True)
        try:
            result = work()
        except Exception as exc:
            fail(exc)
            return
        finally:
            busy(False)
        done(result)
        return

    async def run() -> None:
        busy(True)
        try:
            result = await asyncio.to_thread(work)
        except Exception as exc:
            fail(exc)
            return
        finally:
            busy(False)
        done(result)

    pn.state.execute(run)


class Debouncer:
    """Call ``action()`` once input has been quiet for ``delay_s`` (served sessions); at
    once without a server session."""

    def __init__(self, action: Callable[[], object], delay_s: float = 0.4) -> None:
        self.action = action
        self.delay_s = delay_s
        self._ticket = 0

    def __call__(self, *_: object) -> None:
        import panel as pn

        if not _served():
            self.action()
            return
        self._ticket += 1
        ticket = self._ticket

        async def later() -> None:
            await asyncio.sleep(self.delay_s)
            if ticket == self._ticket:
                self.action()

        pn.state.execute(later)
