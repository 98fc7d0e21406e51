"""N requests in, N rows out, with the LogSink replica killed (SIGKILL) mid-load."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def _logsink_pids() -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", "ServeReplica:gateway:LogSink"], capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split()]


def test_logsink_kill_loses_and_duplicates_nothing(gateway):
    n, conc = 400, 16
    ids: list[str] = []
    statuses: list[int] = []
    killed: list[int] = []

    async def run() -> None:
        async with httpx.AsyncClient(
            base_url=gateway.base_url,
            timeout=60,
            headers={"Authorization": f"Bearer {gateway.key}"},
        ) as c:
            queue = list(range(n))

            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    if i == n // 3 and not killed:
                        pids = _logsink_pids()
                        assert pids, "no LogSink replica process found"
                        for pid in pids:
                            os.kill(pid, signal.SIGKILL)
                        killed.extend(pids)
                    r = await c.post(
                        "/v1/chat/completions",
                        json={"model": "echo", "messages": [{"role": "user", "content": f"m{i}"}]},
                    )
                    statuses.append(r.status_code)
                    ids.append(r.headers["x-workbench-request-id"])

            await asyncio.gather(*[worker() for _ in range(conc)])

    asyncio.run(run())
    assert killed
    assert statuses.count(200) == n
    rows = gateway.wait_logged(set(ids), timeout=90)
    assert len(rows) == n, f"{n - len(rows)} records lost"
    from workbench.logstore import query

    id_list = ",".join(f"'{i}'" for i in ids)
    dup = query(
        f"select count(*) as c, count(distinct request_id) as d from requests "
        f"where request_id in ({id_list})",
        root=gateway.home / "logs",
    ).to_dicts()[0]
    assert dup["c"] == dup["d"] == n
    # a new LogSink replica took over
    deadline = time.time() + 30
    while time.time() < deadline and not (set(_logsink_pids()) - set(killed)):
        time.sleep(0.5)
    assert set(_logsink_pids()) - set(killed)
