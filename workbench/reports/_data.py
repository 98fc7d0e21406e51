"""What the compliance report reads besides the log: policy versions in force (the policy
store and its audit trail), key lifecycle and usage (the key store plus per-key counts
from the log's rollups), anomalies of the period, and the period itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._time import TimeLike, parse_time

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Period:
    """A resolved reporting period ``[since, until)`` in UTC."""

    since: datetime
    until: datetime

    @classmethod
    def of(cls, since: TimeLike, until: TimeLike = None) -> Period:
        """Resolve ``"7d"``-style or ISO arguments against one ``now``."""
        now = datetime.now(UTC)
        start, end = parse_time(since, now), parse_time(until, now) or now
        if start is None:
            raise ValueError("a report period needs a start (since=...)")
        if start >= end:
            raise ValueError(f"the period is empty: since {start} is not before until {end}")
        return cls(start, end)

    def label(self) -> str:
        """``2026-11-23 00:00 – 2026-11-30 00:00 UTC``."""
        return f"{self.since:%Y-%m-%d %H:%M} – {self.until:%Y-%m-%d %H:%M} UTC"


def policies_in_force(period: Period, root: Path | None = None) -> list[dict[str, Any]]:
    """Each policy version that was live at some moment of the period, with who published
    it, when, the message, and when it went live and out within the period (``None``: it
    was live before the period began / stayed live past its end).

    Built from the audit trail (publish, rollback, unpublish events in order)."""
    from workbench.policy import PolicyStore

    store = PolicyStore(root)
    live: dict[str, tuple[str, datetime]] = {}  # policy_id -> (version_id, since when)
    spans: list[tuple[str, str, datetime, datetime | None]] = []
    for event in store.audit():
        if event.at >= period.until:
            break
        old = live.pop(event.policy_id, None)
        if old is not None and event.at > period.since:
            spans.append((event.policy_id, old[0], old[1], event.at))
        if event.event != "unpublish" and event.to_version:
            live[event.policy_id] = (event.to_version, event.at)
    spans.extend((pid, vid, at, None) for pid, (vid, at) in live.items())
    publishers = {e.to_version: e for e in store.audit() if e.event == "publish" and e.to_version}
    out = []
    for policy_id, version_id, start, end in sorted(spans, key=lambda s: (s[0], s[2])):
        version = store.get(version_id)
        published = publishers.get(version_id)
        out.append(
            {
                "policy_id": policy_id,
                "version": version_id,
                "hash": version.hash[:12],
                "published_by": published.by if published else version.author,
                "published_at": version.created_at,
                "message": version.message,
                "live_from": start if start > period.since else None,
                "live_until": end,
            }
        )
    return out


def policy_events(period: Period, root: Path | None = None) -> list[dict[str, Any]]:
    """The audit trail's events inside the period (publish, rollback, unpublish)."""
    from workbench.policy import PolicyStore

    return [
        {
            "at": e.at,
            "event": e.event,
            "policy_id": e.policy_id,
            "by": e.by,
            "from": e.from_version,
            "to": e.to_version,
            "message": e.message,
        }  # fmt: skip
        for e in PolicyStore(root).audit()
        if period.since <= e.at < period.until
    ]


def key_activity(
    period: Period,
    workspaces: list[str] | None = None,
    log_root: Path | None = None,
    keys_db: Path | None = None,
) -> pl.DataFrame:
    """Every key that existed during the period (created before its end, not revoked
    before its start) or sent traffic in it: workspace, name, status, whether it was
    created or revoked in the period, and its requests, blocks and spend from the log."""
    import polars as pl

    from workbench.keys import KeyStore
    from workbench.logs import top_keys

    with KeyStore(keys_db) as store:
        records = store.list()
    usage = top_keys(
        since=period.since, until=period.until, workspace=workspaces, n=1_000_000, root=log_root
    )
    counts = {r["key_id"]: r for r in usage.to_dicts()}
    rows = []
    for rec in records:
        if workspaces and rec.workspace not in workspaces:
            continue
        revoked = rec.revoked_at
        existed = rec.created_at < period.until and (revoked is None or revoked >= period.since)
        if not existed and rec.key_id not in counts:
            continue
        used = counts.pop(rec.key_id, {})
        rows.append(_key_row(rec.key_id, rec.workspace, rec.name, rec.status(), period, used,
                             rec.created_at, revoked))  # fmt: skip
    for key_id, used in counts.items():  # traffic under keys the store does not know
        rows.append(_key_row(key_id, used["workspace"], None, "unknown", period, used, None, None))
    schema = {
        "key_id": pl.String(), "workspace": pl.String(), "name": pl.String(),
        "status": pl.String(), "created_at": pl.Datetime("us", "UTC"),
        "revoked_at": pl.Datetime("us", "UTC"), "created_in_period": pl.Boolean(),
        "revoked_in_period": pl.Boolean(), "requests": pl.Int64(), "blocks": pl.Int64(),
        "cost_usd": pl.Float64(),
    }  # fmt: skip
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.sort(["requests", "key_id"], descending=[True, False])


def _key_row(
    key_id: str,
    workspace: str,
    name: str | None,
    status: str,
    period: Period,
    used: dict[str, Any],
    created: datetime | None,
    revoked: datetime | None,
) -> tuple[Any, ...]:
    def inside(t: datetime | None) -> bool:
        return t is not None and period.since <= t < period.until

    return (
        key_id, workspace, name, status, created, revoked, inside(created), inside(revoked),
        int(used.get("requests") or 0), int(used.get("blocks") or 0),
        float(used.get("cost_usd") or 0.0),
    )  # fmt: skip


def anomalies_in_period(period: Period, log_root: Path | None = None) -> list[dict[str, Any]]:
    """Anomalies detected in the period's complete hours (baselines from the 28 days
    before), merged with the alert store's status for the same series and metric."""
    from workbench import anomalies
    from workbench.analytics.anomalies._store import default_path

    found = anomalies.detect(since=period.since, until=period.until, root=log_root)
    status: dict[tuple[str, str], str] = {}
    if default_path().is_file():  # never create the alert store just to read it
        status = {(a.series, a.metric): a.status for a in anomalies.alerts(limit=10_000)}
    return [
        {
            "start": a.start,
            "end": a.end,
            "severity": a.severity,
            "series": a.series,
            "metric": a.metric,
            "direction": a.direction,
            "value": a.value,
            "expected": a.expected,
            "lower": a.lower,
            "upper": a.upper,
            "alert": status.get((a.series, a.metric), "not in the alert store"),
        }  # fmt: skip
        for a in found
    ]
