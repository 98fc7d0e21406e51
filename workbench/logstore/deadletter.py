"""Dead-letter files: records the log could not take as they were, kept with the reason.

``root/deadletter/<source>-YYYY-MM-DD.jsonl``, one JSON object a line::

    {"at": "...", "source": "writer", "request_id": "...", "action": "salvaged",
     "reasons": ["max_tokens: 3000000000 out of range for int32"], "record": {...}}

``action`` is ``salvaged`` (the record was written to the log with the listed fields set
to null; the original values are here) or ``rejected`` (the record is only here).
Sources: ``writer`` (the LogWriter's append), ``recovery`` (spool replay), ``flush``
(a row Arrow refused at flush time) and ``shipper-<host>-<pid>`` (a gateway replica
that gave up on a record the sink rejected permanently).

Lines are fsynced before the writer acknowledges the batch that held them. Delivery into
these files is at-least-once: a batch re-sent after a lost acknowledgement may add the
same rejected record twice. The folder is outside ``requests/``, so readers never see it.
This module uses the standard library only (the gateway imports it lazily).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._fs import fsync_dir

DEAD_LETTER_DIR = "deadletter"
_MAX_UNENCODABLE = 10_000


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _encode(entry: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(entry, default=_jsonable, separators=(",", ":"))
    except Exception:  # non-str keys deep inside, cycles, ...: keep a bounded repr instead
        safe = {k: v for k, v in entry.items() if k != "record"}
        try:
            shown = repr(entry.get("record"))[:_MAX_UNENCODABLE]
        except Exception:
            shown = "<unrepresentable record>"
        safe["record_repr"] = shown
        text = json.dumps(safe, default=_jsonable, separators=(",", ":"))
    return text.encode("ascii") + b"\n"  # ensure_ascii: always valid UTF-8


def dead_letter_entry(
    source: str, record: Any, reasons: Iterable[str], *, action: str
) -> dict[str, Any]:
    """One dead-letter line for ``record`` (the original, as received)."""
    rid = record.get("request_id") if isinstance(record, Mapping) else None
    return {
        "at": datetime.now(UTC).isoformat(),
        "source": source,
        "request_id": rid if isinstance(rid, str) else None,
        "action": action,
        "reasons": list(reasons),
        "record": record,
    }


def dead_letter_path(root: Path, source: str, when: datetime | None = None) -> Path:
    """The file a ``source`` appends to on the (UTC) day of ``when`` (default: now)."""
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return Path(root) / DEAD_LETTER_DIR / f"{source}-{day}.jsonl"


def write_dead_letters(path: Path, entries: list[dict[str, Any]]) -> None:
    """Append ``entries`` to ``path`` and fsync (creating the file and folder if needed)."""
    if not entries:
        return
    data = b"".join(_encode(e) for e in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            fsync_dir(path.parent)
        elif os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn line from a crash: never glue a new line onto it
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_dead_letters(root: Path) -> list[dict[str, Any]]:
    """Every dead-letter entry under ``root`` (oldest file first; torn lines skipped)."""
    out: list[dict[str, Any]] = []
    folder = Path(root) / DEAD_LETTER_DIR
    for path in sorted(folder.glob("*.jsonl"), key=lambda p: (p.name[-16:], p.name)):
        for line in path.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
    return out
