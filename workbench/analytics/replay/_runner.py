"""Runs logged requests through the production pipeline under a candidate policy.

The pipeline is :func:`workbench.pipeline.build_pipeline` with the gateway config; the
replay supplies only the host's small interfaces: an authenticator restoring the logged
key and workspace, a policies object that always answers with the candidate's engine,
a backend for every target that answers from the log (or live, cached), and a
``submit_record`` that collects the new record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from workbench.analytics.replay._outcome import Outcome, outcome_of
from workbench.analytics.replay._stream_seed import whole_text_seeds
from workbench.analytics.replay._tape import CURRENT, LogBackend, ReplayAuth, Tape, events_of
from workbench.config.gateway import GatewayConfig
from workbench.guardrails._memo import LOGGED, logged_results
from workbench.guardrails.engine import GuardrailEngine
from workbench.pipeline import GatewayPipeline, Incoming, build_pipeline
from workbench.pipeline.targets import Backend

KINDS = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}


class CandidatePolicies:
    """The PolicyRuntime surface the pipeline uses: the candidate for every request."""

    def __init__(self, engine: GuardrailEngine) -> None:
        self.engine = engine
        self.engines = {engine.version_id or engine.policy_id or "candidate": engine}

    def for_request(self, workspace: str | None, model: str) -> GuardrailEngine:
        """The candidate's engine, whatever the workspace and model."""
        return self.engine


@dataclass
class Replayed:
    """One request: old and new outcome and how faithful the replay was."""

    request_id: str
    workspace: str | None
    model: str | None
    old: Outcome
    new: Outcome
    approximate: bool
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    """A logged request that cannot be replayed, and why."""

    request_id: str
    reason: str


def _body_of(row: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The request body to send again, and the notes on its fidelity."""
    original = row.get("request_original")
    if isinstance(original, str) and original:
        return original, ["masked input"] if row.get("request_masked") else []
    body = row.get("request_body")
    if isinstance(body, str) and body:
        if row.get("request_masked") is not None:  # v2: null original = body unchanged
            return body, ["masked input"] if row.get("request_masked") else []
        return body, ["v1 body (after input rewrites)"]
    return None, []


def _v1_answer(row: Mapping[str, Any]) -> str | None:
    """For a v1 row: the answer the client received (after output guardrails)."""
    text = row.get("response_body")
    if not isinstance(text, str) or not text or not row.get("status") == "ok":
        return None
    if row.get("stream"):
        return text
    try:
        data = orjson.loads(text)
        choice = (data.get("choices") or [{}])[0]
        return choice.get("message", {}).get("content") or choice.get("text")
    except (ValueError, AttributeError, IndexError):
        return None


def tape_of(
    row: Mapping[str, Any], outputs: list[Any] | None = None, attempts: list[Any] | None = None
) -> Tape:
    """The answers and caller of one logged request (``outputs``/``attempts``: the row's
    ``upstream_outputs``/``routing_attempts`` already parsed, else read from the row)."""
    events = events_of(
        row.get("upstream_outputs") if outputs is None else outputs,
        row.get("routing_attempts") if attempts is None else attempts,
    )
    notes: set[str] = set()
    if not row.get("upstream_outputs"):
        text = _v1_answer(row)
        if text is not None:
            from workbench.analytics.replay._tape import Answer

            events = [e for e in events if not isinstance(e, Answer)]
            events.append(
                Answer(
                    row.get("target"),
                    text,
                    "stop",
                    row.get("prompt_tokens"),
                    row.get("completion_tokens"),
                )
            )
            notes.add("v1 answer (after output guardrails)")
    elif row.get("output_masked"):
        notes.add("masked output")
    return Tape(
        events=events,
        workspace=row.get("workspace"),
        key_id=row.get("key_id"),
        prompt_tokens=row.get("prompt_tokens"),
        notes=notes,
    )


def build(
    cfg: GatewayConfig,
    engine: GuardrailEngine,
    prices: Any,
    hosted: Mapping[str, Backend] | None,
    submit: Callable[[dict[str, Any]], None],
) -> GatewayPipeline:
    """The production pipeline, hosted by the replay."""
    gw = cfg.gateway.model_copy(
        update={"require_auth": True, "store_bodies": True, "max_body_bytes": 1 << 30}
    )
    cfg = cfg.model_copy(update={"gateway": gw})
    backends: dict[str, Backend] = {t.name: LogBackend(t.name, t.dimensions) for t in cfg.models}
    backends.update(hosted or {})
    return build_pipeline(
        cfg,
        submit_record=submit,
        hosted=backends,
        auth=ReplayAuth(),
        prices=prices,
        policies=CandidatePolicies(engine),
        observe_metrics=False,  # replayed requests are not gateway traffic
    )


class Replayer:
    """Replays rows one by one (call concurrently); collects the new records."""

    def __init__(
        self,
        memo: Any = None,
        whole_checks: frozenset[str] = frozenset(),
        used: frozenset[str] | None = None,
    ) -> None:
        """``memo``: the verdict memo (None: no reuse); ``whole_checks``: the config
        hashes a logged stream's whole-text result may be inferred for
        (:func:`~workbench.analytics.replay._stream_seed.eligible_checks`); ``used``: the
        config hashes the candidate's checks look up (None: all), the only logged
        verdicts worth seeding the memo with."""
        self.pipeline: GatewayPipeline | None = None  # set once built (it needs submit)
        self.memo = memo
        self.whole_checks = whole_checks
        self.used = used
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def submit(self, record: dict[str, Any]) -> None:
        """The pipeline's ``submit_record``: hand the record to whoever waits for it."""
        fut = self._waiting.get(record["request_id"])
        if fut is not None and not fut.done():
            fut.set_result(record)

    async def one(self, row: Mapping[str, Any]) -> Replayed | Skipped:
        """Replay one row."""
        rid = str(row.get("request_id"))
        kind = KINDS.get(str(row.get("endpoint")))
        if kind is None:
            return Skipped(rid, "not a chat, completions or embeddings request")
        body, notes = _body_of(row)
        if body is None:
            return Skipped(rid, "no request body logged")
        # each logged JSON column parsed once
        outputs = _loads(row.get("upstream_outputs"))
        attempts = _loads(row.get("routing_attempts"))
        verdicts = _loads(row.get("guardrail_verdicts"))
        tape = tape_of(row, outputs, attempts)
        old = outcome_of({**row, "guardrail_verdicts": verdicts, "routing_attempts": attempts})
        own = None
        if self.memo is not None:
            used = self.used
            hashed = [
                v
                for v in verdicts
                if isinstance(v, dict)
                and "config_hash" in v
                and (used is None or v["config_hash"] in used)
            ]
            self.memo.seed(hashed)
            if row.get("stream"):
                for cfg, key in whole_text_seeds(row, verdicts, outputs, self.whole_checks):
                    self.memo.put(cfg, key, [], logged=True)
            if row.get("request_masked"):
                own = logged_results(hashed)
        token = LOGGED.set(own)
        try:
            return await self._run(rid, kind, body.encode(), tape, row, notes, old)
        finally:
            LOGGED.reset(token)

    async def _run(
        self,
        rid: str,
        kind: str,
        body: bytes,
        tape: Tape,
        row: Mapping[str, Any],
        notes: list[str],
        old: Outcome,
    ) -> Replayed:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        token = CURRENT.set(tape)
        try:

            async def read(limit: int) -> bytes:
                return body

            incoming = Incoming(
                kind=kind,  # type: ignore[arg-type]
                endpoint=str(row.get("endpoint")),
                headers={"authorization": "Bearer replay", "user-agent": "workbench-replay"},
                read_body=read,
                request_id=rid,
            )
            assert self.pipeline is not None
            reply = await self.pipeline.handle(incoming)
            if reply.stream is not None:
                async for _ in reply.stream:
                    pass
            # the record is usually submitted by now; log-only checks may still run
            record = fut.result() if fut.done() else await asyncio.wait_for(fut, timeout=60.0)
        finally:
            CURRENT.reset(token)
            self._waiting.pop(rid, None)
        all_notes = sorted({*notes, *tape.notes})
        return Replayed(
            request_id=rid,
            workspace=row.get("workspace"),
            model=row.get("model_requested"),
            old=old,
            new=outcome_of(record),
            approximate=bool(all_notes),
            notes=all_notes,
        )


def _loads(text: Any) -> list[Any]:
    """A logged JSON list column, parsed once (``[]`` when absent or not a list)."""
    if not isinstance(text, str) or not text:
        return []
    try:
        data = orjson.loads(text)
    except ValueError:
        return []
    return data if isinstance(data, list) else []


async def run_all(
    replayer: Replayer,
    rows: list[dict[str, Any]],
    concurrency: int,
    progress: Callable[[int], Any] | None = None,
) -> tuple[list[Replayed], list[Skipped], float]:
    """Replay ``rows`` with at most ``concurrency`` in flight; (done, skipped, seconds),
    both lists in the order of ``rows``. ``progress(n)`` is told of every 64 rows done."""
    results: list[Replayed | Skipped | None] = [None] * len(rows)
    it = iter(enumerate(rows))
    t0 = time.perf_counter()
    pending = 0

    async def worker() -> None:
        nonlocal pending
        for i, row in it:
            results[i] = await replayer.one(row)
            pending += 1
            if progress is not None and pending >= 64:
                progress(pending)
                pending = 0

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:  # one row failed: stop the others before raising
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    if progress is not None and pending:
        progress(pending)
    done = [r for r in results if isinstance(r, Replayed)]
    skipped = [r for r in results if isinstance(r, Skipped)]
    return done, skipped, time.perf_counter() - t0
