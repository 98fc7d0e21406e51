"""Running erasure and retention through the lake's single writer, wherever it lives.

Only the :class:`~workbench.logstore.LogWriter` that holds the lake's lock may change its
files. :func:`run_op` therefore:

- opens the writer itself when nobody holds the lake (gateway down: the CLI, a
  notebook), runs the operation and closes it;
- otherwise (a gateway's LogSink holds it) drops the request into the lake's mailbox,
  ``<log root>/_meta/ops/req-<id>.json``, and waits for ``res-<id>.json``: the LogSink
  serves the mailbox from a background thread (:func:`serve`), between flushes, through
  its own writer, so no record being written races the rewrite.

The mailbox is a folder on the same disk as the lake (whoever can write there can
rewrite the lake anyway); the serving side refreshes ``_meta/ops/alive`` every couple of
seconds so a caller fails fast when nothing serves it. :func:`serve` also applies the
retention limits once per ``retention_interval_s`` (default daily).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from workbench.logstore import LogWriter

__all__ = ["execute", "run_op", "serve"]

log = logging.getLogger(__name__)

MAILBOX = "_meta/ops"
ALIVE = "alive"
ALIVE_EVERY_S = 2.0
STALE_AFTER_S = 15.0
SYSTEM_ACTOR = "system:logsink"


def _root(root: Path | None) -> Path:
    from workbench.home import logs_dir

    return Path(root) if root is not None else logs_dir()


def execute(writer: LogWriter, op: dict[str, Any]) -> dict[str, Any]:
    """Run one operation (``erase`` or ``retention``) through ``writer``."""
    kind = op.get("op")
    actor = str(op.get("actor") or "unknown")
    source = op.get("source")
    if kind == "erase":
        from workbench.governance.erasure import Selector, erase_with_writer

        selector = Selector(**op["selector"])
        return erase_with_writer(writer, selector, actor=actor, source=source)
    if kind == "retention":
        from workbench.governance.retention import retention_with_writer

        return retention_with_writer(
            writer, actor=actor, source=source, workspace=op.get("workspace")
        )
    raise ValueError(f"unknown lake operation {kind!r}")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, default=str))
    os.replace(tmp, path)


def _via_mailbox(op: dict[str, Any], root: Path, timeout_s: float) -> dict[str, Any]:
    box = root / MAILBOX
    alive = box / ALIVE
    try:
        age = time.time() - alive.stat().st_mtime
    except FileNotFoundError:
        age = float("inf")
    if age > STALE_AFTER_S:
        raise ServiceUnavailableError(
            f"the request log at {root} is held by a writer that does not take lake "
            "operations (e.g. a compaction in progress); retry when it is done",
            code="log_writer_busy",
        )
    rid = f"{time.time_ns()}-{secrets.token_hex(4)}"
    _write_json(box / f"req-{rid}.json", op)
    result = box / f"res-{rid}.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result.exists():
            answer: dict[str, Any] = json.loads(result.read_text())
            result.unlink(missing_ok=True)
            if "error" in answer:
                raise ValueError(str(answer["error"]))
            return dict(answer["result"])
        time.sleep(0.05)
    raise ServiceUnavailableError(
        f"the log writer did not answer within {timeout_s:.0f} s; the operation may still "
        "complete (see `workbench audit list`)",
        code="log_writer_timeout",
    )


def run_op(
    op: dict[str, Any], *, root: Path | None = None, timeout_s: float = 600.0
) -> dict[str, Any]:
    """Run ``op`` through the lake's writer: here if the lake is free, else via the
    running gateway's LogSink (blocking; call it from a worker thread in async code)."""
    from workbench.logstore import LogWriter, WriterLockedError

    lake = _root(root)
    try:
        writer = LogWriter(lake)
    except WriterLockedError:
        return _via_mailbox(op, lake, timeout_s)
    with writer:
        return execute(writer, op)


def _serve_pending(writer: LogWriter, box: Path) -> None:
    for req in sorted(box.glob("req-*.json")):
        rid = req.name[len("req-") : -len(".json")]
        try:
            op = json.loads(req.read_text())
            answer: dict[str, Any] = {"result": execute(writer, op)}
        except Exception as exc:  # the caller gets the reason; the sink keeps running
            log.exception("lake operation %s failed", rid)
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _write_json(box / f"res-{rid}.json", answer)
        req.unlink(missing_ok=True)


def _touch(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:  # the next round tries again
        log.warning("cannot refresh %s", path)


def serve(
    writer: LogWriter,
    stop: threading.Event,
    *,
    poll_s: float = 0.2,
    retention_interval_s: float = 86400.0,
    retention_first_s: float = 60.0,
) -> None:
    """Serve the lake's mailbox until ``stop`` is set (the LogSink's maintenance thread),
    and apply retention ``retention_first_s`` after starting, then every
    ``retention_interval_s``."""
    box = writer.root / MAILBOX
    box.mkdir(parents=True, exist_ok=True)
    touched = 0.0
    next_retention = time.monotonic() + retention_first_s
    while True:
        if time.monotonic() - touched >= ALIVE_EVERY_S:
            _touch(box / ALIVE)
            touched = time.monotonic()
        if stop.wait(poll_s):
            break
        try:
            _serve_pending(writer, box)
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + retention_interval_s
                from workbench.governance.retention import retention_with_writer

                retention_with_writer(
                    writer, actor=SYSTEM_ACTOR, source="logsink", audit_empty=False
                )
        except Exception:
            if writer.closed:
                return
            log.exception("lake maintenance failed; will retry")
    (box / ALIVE).unlink(missing_ok=True)
