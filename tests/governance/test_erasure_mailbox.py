"""Erasure while a gateway's LogSink owns the lake: the request goes through the lake's
mailbox to the thread serving it next to the writer (as serve/logsink.py runs it), while
records keep arriving; and a held lake that nobody serves fails fast."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from workbench.errors import ServiceUnavailableError
from workbench.governance import audit, lakeops
from workbench.governance.erasure import erase
from workbench.governance.permissions import cli_principal
from workbench.home import logs_dir
from workbench.logstore import LogWriter

from .test_erasure import records


def _ids(root: Path) -> list[str]:
    sql = f"SELECT request_id FROM read_parquet('{root}/requests/*/*/*.parquet')"
    return [r[0] for r in duckdb.sql(sql).fetchall()]


def test_erasure_goes_to_the_sink_that_holds_the_lake(wb_home: Path) -> None:
    root = logs_dir()
    base = datetime.now(UTC) - timedelta(hours=1)
    first = records(300, base=base)
    stream = [r | {"request_id": f"s{i}"} for i, r in enumerate(records(300, base=base))]
    with LogWriter(root, flush_interval_s=0.05) as sink:  # the LogSink's writer
        sink.append(first)
        stop = threading.Event()
        served = threading.Thread(target=lakeops.serve, args=(sink, stop), kwargs={"poll_s": 0.02})
        served.start()
        alive, deadline = root / lakeops.MAILBOX / lakeops.ALIVE, time.monotonic() + 30
        while not alive.exists():  # the sink takes operations once it has said so
            assert time.monotonic() < deadline, "the serving thread never wrote its heartbeat"
            time.sleep(0.01)

        def produce() -> None:  # requests keep being logged meanwhile
            for k in range(0, 300, 10):
                sink.append(stream[k : k + 10])
                sink.maybe_flush()

        producer = threading.Thread(target=produce)
        producer.start()
        summary = erase(cli_principal(), user="u4", timeout_s=60)
        producer.join()
        stop.set()
        served.join()
        late_dropped = sink.stats()["erased_late"]  # in flight: dropped by the tombstone
    ids = _ids(root)
    assert len(ids) == len(set(ids))  # nothing duplicated
    gone = {r["request_id"] for r in first if r["user"] == "u4"}
    assert gone and not gone & set(ids)  # the rows logged before the erasure are gone
    kept = {r["request_id"] for r in first if r["user"] != "u4"}
    assert kept <= set(ids)  # nothing else lost
    late = {r["request_id"] for r in stream}
    erased_late = late - set(ids)
    assert all(r["user"] == "u4" for r in stream if r["request_id"] in erased_late)
    assert set(ids) == kept | (late - erased_late)
    assert summary["rows_removed"] + late_dropped == len(gone) + len(erased_late)
    (entry,) = audit.entries(action="data.erase")
    assert entry.after["rows_removed"] == summary["rows_removed"]
    assert not list((root / "_meta" / "ops").glob("re[qs]-*.json"))  # mailbox left clean


def test_a_held_lake_nobody_serves_fails_fast(wb_home: Path) -> None:
    with LogWriter(logs_dir()):
        with pytest.raises(ServiceUnavailableError, match="does not take lake operations"):
            erase(cli_principal(), user="u1")
    assert audit.entries() == []
