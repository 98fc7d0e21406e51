"""Readers in another process while the single writer writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.logstore import LogWriter, query

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

_READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from workbench.logstore import query, tail

    root, total = Path(sys.argv[1]), int(sys.argv[2])
    counts = [query("SELECT count(*) FROM requests", root).item()]
    print("ready", flush=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        n, d = query("SELECT count(*), count(DISTINCT request_id) FROM requests", root).row(0)
        assert n == d, (n, d)
        tail(5, root)
        counts.append(n)
        if n >= total:
            break
        time.sleep(0.01)
    print(json.dumps(counts))
    """
)


def test_reader_subprocess_while_writing(root: Path, make_records: Records) -> None:
    batches, size = 25, 40
    total = batches * size
    writer = LogWriter(root)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(root), str(total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"  # reader is up and polling
        for b in range(batches):
            writer.append(make_records(size, prefix=f"b{b}-", hours=2))
            writer.flush()
            time.sleep(0.02)
    finally:
        writer.close()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    counts = json.loads(out)
    assert len(set(counts)) > 2, "the reader observed the lake while it was being written"
    assert counts == sorted(counts), "a reader never sees records disappear"
    assert counts[-1] == total
    assert query("SELECT count(*) FROM requests", root).item() == total
