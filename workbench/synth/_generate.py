"""The generator: hourly Poisson counts, per-request draws, outcomes, tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa

from workbench.pricing import load_prices

from ._catalog import ModelSpec, PolicyInfo, Workspace, default_models, default_policy
from ._catalog import default_workspaces as _default_workspaces
from ._inject import Injection
from ._outcome import resolve
from ._rows import draw, make_cast
from ._shape import arrival_times, hour_grid, hourly_counts, utc
from ._table import build_table
from ._verdicts import SCORES, verdict_pools

__all__ = ["generate"]


def _batches(per_hour: np.ndarray, batch_rows: int) -> Iterator[tuple[int, int]]:
    """Consecutive hour ranges ``[h0, h1)`` of about ``batch_rows`` requests each."""
    h0, acc = 0, 0
    for h, count in enumerate(per_hour):
        acc += int(count)
        if acc >= batch_rows:
            yield h0, h + 1
            h0, acc = h + 1, 0
    if h0 < len(per_hour):
        yield h0, len(per_hour)


def generate(
    start: datetime,
    end: datetime,
    *,
    rate_per_hour: float = 1000.0,
    seed: int = 0,
    workspaces: Sequence[Workspace] | None = None,
    models: Sequence[ModelSpec] | None = None,
    inject: Iterable[Injection] = (),
    batch_rows: int = 250_000,
    policy: PolicyInfo | None = None,
) -> Iterator[pa.Table]:
    """Synthetic request-log rows for ``[start, end)``, as Arrow tables of the lake schema.

    Args:
        start, end: the time range (aware datetimes; naive ones are taken as UTC).
        rate_per_hour: mean requests per hour over a week, all workspaces together; the
            actual hourly rate follows each workspace's diurnal/weekly shape.
        seed: the same seed and arguments give the same rows (bit for bit).
        workspaces: tenants (default :func:`default_workspaces`: five of them).
        models: targets (default :func:`default_models`: ``gpt-4o``, ``gpt-4o-mini``,
            ``local``, priced by the packaged price table).
        inject: anomalies to inject (:class:`Spike`, :class:`LevelShift`, :class:`Ramp`,
            :class:`LeakedKey`, :class:`LatencyRegression`, :class:`ErrorBurst`,
            :class:`CacheCollapse`, :class:`AttackSurge`).
        batch_rows: about how many rows each yielded table holds (whole hours; sorted
            by ``received_at``).
        policy: the policy the requests ran under (default: ``policies/default.yaml``).

    Yields:
        ``pyarrow.Table`` batches with exactly :func:`workbench.logstore.schema`.
    """
    start, end = utc(start), utc(end)
    ws = tuple(workspaces) if workspaces is not None else _default_workspaces()
    mods = tuple(models) if models is not None else default_models()
    injections = list(inject)
    pol = policy if policy is not None else default_policy()
    price_version = load_prices().version
    pools = verdict_pools(pol)
    master = np.random.default_rng(seed)
    cast = make_cast(master, ws, mods)
    hours = hour_grid(start, end)
    factors = np.ones((len(hours), len(ws)))
    for inj in injections:
        for j, w in enumerate(ws):
            factors[:, j] *= inj.rate_factor(hours, w.name)
    counts = hourly_counts(master, hours, ws, rate_per_hour, factors)
    lo, hi = int(start.timestamp() * 1_000_000), int(end.timestamp() * 1_000_000)
    for b, (h0, h1) in enumerate(_batches(counts.sum(axis=1), batch_rows)):
        rng = np.random.default_rng([seed, b])
        t, ws_idx = arrival_times(rng, hours[h0:h1], counts[h0:h1], lo, hi)
        if not len(t):
            continue
        d = draw(rng, cast, t, ws_idx)
        for inj in injections:
            inj.apply(d)
        outcome = resolve(d, (pools.input_ms, pools.output_ms), SCORES)
        yield build_table(d, outcome, pol, pools, price_version)
