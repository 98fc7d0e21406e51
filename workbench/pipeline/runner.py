"""The pipeline runner: stages in order, one place that maps errors, one log record.

Every request ends as exactly one record whose status is what the client saw:

- a :class:`WorkbenchError` from any stage becomes its OpenAI-shaped error reply;
- any other exception is a bug: the client gets a 500 ``internal_error`` and the record
  says 500 too (never "ok");
- a request cancelled before it was answered is recorded as 499 ``client_disconnected``
  (the client went away) or, cut at shutdown, as the 503 ``cut_at_shutdown`` the ingress
  sends it;
- a streamed reply is recorded when its stream ends, however it ends (finished, failed
  with an SSE error event, or cut), through :class:`LoggedStream`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from workbench.errors import ServiceUnavailableError, WorkbenchError
from workbench.gateway import responses
from workbench.pipeline.types import Exchange, Incoming, Reply, Stage

log = logging.getLogger(__name__)

#: Records an exchange; may return the record's acknowledgement to await.
Recorder = Callable[[Exchange], Awaitable[None] | None]


def error_reply(ex: Exchange, err: WorkbenchError) -> Reply:
    """The one mapping from an error to an HTTP reply (and its record)."""
    ex.ctx.fail(err)
    attempts = ex.ctx.routing_attempts
    if attempts and "status" not in attempts[-1]:
        attempts[-1]["status"] = err.code
    headers = {"x-workbench-request-id": ex.ctx.request_id, **ex.extra_headers}
    return Reply(status=err.status, body=responses.dumps(err.to_body()), headers=headers)


def cancelled(ex: Exchange, draining: bool) -> None:
    """Record a request that was cut before its reply went out. At shutdown the ingress
    answers it 503 ``cut_at_shutdown`` itself (``serve.gateway.Gateway._track_inflight``)."""
    if draining:
        msg = "the gateway shut down before this request finished; retry"
        ex.ctx.fail(ServiceUnavailableError(msg, code="cut_at_shutdown"))
        ex.ctx.http_status = 503
        return
    ex.ctx.fail(
        WorkbenchError("request cancelled before it was answered", code="client_disconnected")
    )
    ex.ctx.http_status = 499


def _drop_tracebacks(err: BaseException) -> None:
    """The context keeps a handled error; its traceback (and those of the errors it came
    from) hold the frames that hold the exchange: every refused request would be a
    reference cycle left to the garbage collector."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        e.__traceback__ = None
        e = e.__cause__ or e.__context__


class Pipeline:
    """An ordered chain of stages with a recorder that runs for every request."""

    def __init__(
        self,
        stages: Sequence[Stage],
        record: Recorder,
        start: Callable[[Incoming], Exchange],
        draining: Callable[[], bool] = lambda: False,
        record_first: bool = False,
    ) -> None:
        self.stages = list(stages)
        self.record = record
        self.start = start
        self.draining = draining
        self.record_first = record_first  # a host records a reply before sending it

    async def run(self, incoming: Incoming) -> Reply:
        """Take one request through the chain; always returns a reply."""
        ex = self.start(incoming)
        reply: Reply | None = None
        try:
            reply = await self._stages(ex)
        except WorkbenchError as err:
            reply = error_reply(ex, err)
            _drop_tracebacks(err)
        except (asyncio.CancelledError, GeneratorExit):
            cancelled(ex, self.draining())
            self.record(ex)
            raise
        except Exception:
            log.exception("request %s failed in the pipeline", ex.ctx.request_id)
            reply = error_reply(ex, WorkbenchError("internal error; see the gateway log"))
        if reply.stream is not None:
            reply.stream = LoggedStream(
                reply.stream, ex, self.record, self.draining, self.record_first
            )
        elif incoming.defer_record:
            reply.sent = RecordOnce(ex, self.record, self.draining, self.record_first)
        else:
            self.record(ex)
        return reply

    async def _stages(self, ex: Exchange) -> Reply:
        for stage in self.stages:
            reply = await stage(ex)
            if reply is not None:
                return reply
        raise WorkbenchError(f"no stage answered {ex.incoming.endpoint}")


class RecordOnce:
    """Records a non-streamed request when called, once: the host calls it after the
    reply went out, so building and shipping the record is off the client's wait (or,
    when :attr:`record_first`, before sending, awaiting the record's acknowledgement). A
    reply dropped unsent (the task cut before the host got to send it) is recorded when
    this is garbage-collected, as what the client saw: nothing (499, or the 503 of a
    shutdown)."""

    __slots__ = ("ex", "_record", "_draining", "done", "record_first")

    def __init__(
        self,
        ex: Exchange,
        record: Recorder,
        draining: Callable[[], bool],
        record_first: bool = False,
    ) -> None:
        self.ex = ex
        self._record = record
        self._draining = draining
        self.done = False
        #: the host records (and awaits the acknowledgement) before sending the reply
        #: rather than after (see :mod:`workbench.pipeline.recorder`)
        self.record_first = record_first

    def __call__(self) -> Awaitable[None] | None:
        """Record the exchange (once); the acknowledgement to await, if any."""
        if self.done:
            return None
        self.done = True
        return self._record(self.ex)

    def __del__(self) -> None:
        if not self.done:
            cancelled(self.ex, self._draining())
            self()


class LoggedStream:
    """Wraps a reply stream so the request is recorded exactly once when it ends.

    Ends that record: exhausted, failed (the stage already turned errors into an SSE
    error event), closed early by the server (client gone / shutdown), or never iterated
    at all (garbage-collected: recorded from ``__del__``).
    """

    def __init__(
        self,
        inner: AsyncIterator[bytes],
        ex: Exchange,
        record: Recorder,
        draining: Callable[[], bool],
        record_first: bool = False,
    ) -> None:
        self.inner = inner
        self.ex = ex
        self._record = record
        self._draining = draining
        self.record_first = record_first  # record (and await the ack) before [DONE]
        self.done = False

    def __aiter__(self) -> LoggedStream:
        return self

    async def __anext__(self) -> bytes:
        if self.done:
            await self._close_inner()  # recorded at [DONE]: let the inner stream end
            raise StopAsyncIteration
        try:
            chunk = await self.inner.__anext__()
        except StopAsyncIteration:
            self._finish()
            raise
        except BaseException:
            self._interrupted()
            raise
        if self.record_first and chunk == responses.SSE_DONE:
            ack = self._finish()  # the exchange is complete before [DONE] (stream.py)
            if ack is not None:
                await ack
        return chunk

    async def _close_inner(self) -> None:
        aclose: Any = getattr(self.inner, "aclose", None)
        if aclose is not None:
            self.inner = _Ended()
            try:
                await aclose()
            except Exception:
                log.exception("closing stream %s", self.ex.ctx.request_id)

    def _interrupted(self) -> None:
        if self.done:
            return
        ctx = self.ex.ctx
        if ctx.error is None:
            code = "cut_at_shutdown" if self._draining() else "client_disconnected"
            ctx.error = WorkbenchError("stream ended before it was complete", code=code)
            if code == "client_disconnected":
                ctx.http_status = 499
        self._finish()

    def _finish(self) -> Awaitable[None] | None:
        if self.done:
            return None
        self.done = True
        return self._record(self.ex)

    async def aclose(self) -> None:
        """Close early (the server stopped sending)."""
        was_done = self.done
        await self._close_inner()
        if not was_done:
            self._interrupted()

    def __del__(self) -> None:
        if not self.done:
            self._interrupted()


class _Ended:
    """An inner stream that has been closed."""

    def __aiter__(self) -> _Ended:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration
