"""The alerts table: SQLite at ``$WORKBENCH_HOME/anomalies/alerts.db``.

One row per alert. An alert is the life of one anomaly of one series and metric: while
it is *open*, *acknowledged* or *muted*, a new detection of the same series and metric
updates it (its end, last-seen time, latest value and band, and its severity if worse)
instead of opening another; when the series has been quiet for a tick the watcher
*resolves* it. A mute with an end time keeps absorbing (silently) every detection of
that series and metric until then. Every call opens its own connection, so the
dashboard, the CLI and the watcher thread can share the file (WAL mode).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._sqlite import connect, immediate
from workbench.errors import NotFoundError

from ._detector import Anomaly

STATUSES = ("open", "acknowledged", "muted", "resolved")
ACTIVE = ("open", "acknowledged", "muted")
_RANK = {"info": 0, "warn": 1, "critical": 2}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  series TEXT NOT NULL, metric TEXT NOT NULL, dims TEXT NOT NULL,
  start TEXT NOT NULL, "end" TEXT NOT NULL,
  severity TEXT NOT NULL, direction TEXT NOT NULL,
  value REAL, expected REAL, lower REAL, upper REAL, z REAL, detector TEXT,
  status TEXT NOT NULL DEFAULT 'open',
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
  notified_at TEXT, muted_until TEXT, resolved_at TEXT, note TEXT
);
CREATE INDEX IF NOT EXISTS alerts_key ON alerts (series, metric, status);
"""


def default_path() -> Path:
    """``$WORKBENCH_HOME/anomalies/alerts.db``."""
    from workbench.home import home

    return home() / "anomalies" / "alerts.db"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass(frozen=True)
class Alert:
    """One row of the alerts table."""

    id: int
    series: str
    metric: str
    dims: dict[str, str]
    start: datetime
    end: datetime
    severity: str
    direction: str
    value: float
    expected: float
    lower: float
    upper: float
    z: float
    detector: str
    status: str
    first_seen: datetime
    last_seen: datetime
    notified_at: datetime | None
    muted_until: datetime | None
    resolved_at: datetime | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}

    def describe(self) -> str:
        """One line for people."""
        arrow = "above" if self.direction == "up" else "below"
        return (
            f"#{self.id} [{self.severity}] {self.metric} of {self.series} {arrow} normal: "
            f"{self.value:.4g} vs expected {self.expected:.4g} "
            f"(band {self.lower:.4g}-{self.upper:.4g}, z={self.z:+.1f}) since "
            f"{self.start:%Y-%m-%d %H:%M} UTC [{self.status}]"
        )


def _row(r: sqlite3.Row) -> Alert:
    d = dict(r)
    return Alert(
        id=int(d["id"]),
        series=d["series"],
        metric=d["metric"],
        dims=json.loads(d["dims"]),
        start=datetime.fromisoformat(d["start"]),
        end=datetime.fromisoformat(d["end"]),
        severity=d["severity"],
        direction=d["direction"],
        value=float(d["value"]),
        expected=float(d["expected"]),
        lower=float(d["lower"]),
        upper=float(d["upper"]),
        z=float(d["z"]),
        detector=d["detector"],
        status=d["status"],
        first_seen=datetime.fromisoformat(d["first_seen"]),
        last_seen=datetime.fromisoformat(d["last_seen"]),
        notified_at=_time(d["notified_at"]),
        muted_until=_time(d["muted_until"]),
        resolved_at=_time(d["resolved_at"]),
        note=d["note"],
    )


class AlertStore:
    """The alerts table (see the module docstring)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        db = connect(self.path, timeout_s=30.0, any_thread=False)
        try:
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one write transaction (committed when the block ends)."""
        db = connect(self.path, timeout_s=30.0, any_thread=False)
        db.row_factory = sqlite3.Row
        try:
            with immediate(db):
                yield db
        finally:
            db.close()

    def _active(self, db: sqlite3.Connection, series: str, metric: str) -> sqlite3.Row | None:
        cur = db.execute(
            "SELECT * FROM alerts WHERE series = ? AND metric = ? AND status IN "
            "('open', 'acknowledged', 'muted') ORDER BY id DESC LIMIT 1",
            (series, metric),
        )
        row: sqlite3.Row | None = cur.fetchone()
        return row

    def record(self, a: Anomaly, now: datetime) -> tuple[Alert, bool]:
        """Open an alert for ``a`` or update the active one of its series and metric;
        returns the row and whether it is new."""
        with self._db() as db:
            row = self._active(db, a.series, a.metric)
            if row is None:
                cur = db.execute(
                    'INSERT INTO alerts (series, metric, dims, start, "end", severity, '
                    "direction, value, expected, lower, upper, z, detector, status, "
                    "first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'open',?,?)",
                    (
                        a.series,
                        a.metric,
                        json.dumps({a.level: a.entity}),
                        _iso(a.start),
                        _iso(a.end),
                        a.severity,
                        a.direction,
                        a.value,
                        a.expected,
                        a.lower,
                        a.upper,
                        a.z,
                        a.detector,
                        _iso(now),
                        _iso(now),
                    ),
                )
                alert_id, new = int(cur.lastrowid or 0), True
            else:
                alert_id, new = int(row["id"]), False
                worse = _RANK[a.severity] > _RANK[row["severity"]]
                db.execute(
                    'UPDATE alerts SET "end" = max("end", ?), last_seen = ?, value = ?, '
                    "expected = ?, lower = ?, upper = ?, z = ?, direction = ?, detector = ?, "
                    "severity = ? WHERE id = ?",
                    (
                        _iso(a.end),
                        _iso(now),
                        a.value,
                        a.expected,
                        a.lower,
                        a.upper,
                        a.z,
                        a.direction,
                        a.detector,
                        a.severity if worse else row["severity"],
                        alert_id,
                    ),
                )
        return self.get(alert_id), new

    def get(self, alert_id: int) -> Alert:
        """The alert with this id (``NotFoundError`` if none)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM alerts WHERE id = ?", (int(alert_id),)).fetchone()
        if row is None:
            raise NotFoundError(f"no alert with id {alert_id}")
        return _row(row)

    def list(
        self, status: Sequence[str] | None = None, limit: int = 100, series: str | None = None
    ) -> list[Alert]:
        """Alerts, newest first, optionally only some statuses or one series."""
        sql, args = "SELECT * FROM alerts WHERE 1 = 1", list[Any]()
        if status:
            bad = [s for s in status if s not in STATUSES]
            if bad:
                raise ValueError(f"unknown status {bad} (known: {', '.join(STATUSES)})")
            sql += f" AND status IN ({','.join('?' * len(status))})"
            args.extend(status)
        if series:
            sql += " AND series = ?"
            args.append(series)
        sql += " ORDER BY id DESC LIMIT ?"
        with self._db() as db:
            return [_row(r) for r in db.execute(sql, (*args, int(limit))).fetchall()]

    def _set(self, alert_id: int, sql: str, args: Sequence[Any]) -> Alert:
        self.get(alert_id)
        with self._db() as db:
            db.execute(f"UPDATE alerts SET {sql} WHERE id = ?", (*args, int(alert_id)))
        return self.get(alert_id)

    def acknowledge(self, alert_id: int, note: str | None = None) -> Alert:
        """Someone is on it: no more notifications; resolved when the series is quiet."""
        return self._set(alert_id, "status = 'acknowledged', note = coalesce(?, note)", [note])

    def mute(self, alert_id: int, until: datetime | None = None, note: str | None = None) -> Alert:
        """No notifications; with ``until``, later detections of the same series and
        metric are absorbed silently until then."""
        return self._set(
            alert_id,
            "status = 'muted', muted_until = ?, note = coalesce(?, note)",
            [_iso(until) if until else None, note],
        )

    def mark_notified(self, alert_id: int, now: datetime) -> None:
        """Record that a notification went out for this alert."""
        self._set(alert_id, "notified_at = ?", [_iso(now)])

    def last_notified(self, series: str, metric: str) -> datetime | None:
        """When the latest notification for this series and metric went out."""
        with self._db() as db:
            row = db.execute(
                "SELECT max(notified_at) FROM alerts WHERE series = ? AND metric = ?",
                (series, metric),
            ).fetchone()
        return _time(row[0]) if row else None

    def resolve_quiet(self, active: set[tuple[str, str]], now: datetime) -> builtins.list[Alert]:
        """Resolve active alerts whose (series, metric) is not in ``active`` (a mute with
        an end time in the future keeps its alert); the resolved rows."""
        done: list[int] = []
        with self._db() as db:
            for row in db.execute(
                "SELECT id, series, metric, status, muted_until FROM alerts "
                "WHERE status IN ('open', 'acknowledged', 'muted')"
            ).fetchall():
                held = (
                    row["status"] == "muted"
                    and row["muted_until"]
                    and (datetime.fromisoformat(row["muted_until"]) > now)
                )
                if (row["series"], row["metric"]) not in active and not held:
                    done.append(int(row["id"]))
            for alert_id in done:
                db.execute(
                    "UPDATE alerts SET status = 'resolved', resolved_at = ? WHERE id = ?",
                    (_iso(now), alert_id),
                )
        return [self.get(i) for i in done]
