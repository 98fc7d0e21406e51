"""Fixtures of the Ray end-to-end tests that need a Ray of their own in the test process
(not the session gateway's): one local Ray for the whole session, shared by the modules
that use it (starting one takes ~20 s on this machine)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on loopback
    mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
    try:
        _start_ray()
    finally:
        mp.undo()
    try:
        yield
    finally:
        ray.shutdown()


def _start_ray(tries: int = 3) -> None:
    """Start a local Ray, again if its start-up times out.

    On a loaded 2-core machine the raylet of Ray 2.60 can abort at start-up: it waits a
    fixed ~30 s for its dashboard agent to write a port file, and the agent may still be
    importing. A second start finds the imports in the page cache.
    """
    for attempt in range(1, tries + 1):
        try:
            ray.init(
                num_cpus=1,
                include_dashboard=False,
                namespace="test-routing-state",
                log_to_driver=False,
                _node_ip_address="127.0.0.1",
            )
            return
        except Exception:
            ray.shutdown()
            if attempt == tries:
                raise
