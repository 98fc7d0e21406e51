"""Event-level scoring of alerts against injected anomalies.

An alert *matches* an event when the event could have moved that series and metric
(:meth:`Event.matches`) and the alert overlaps the event's window, extended by
``tolerance`` after its end (a baseline takes a while to settle after a change). An
event is *detected* when at least one alert matches it; its detection delay is the time
from the event's start to the end of the first matching alert's first bucket (when that
bucket's data was complete). Precision is over alerts, recall over events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from ._simulate_events import Event


class AlertLike(Protocol):
    """What scoring needs of an alert."""

    @property
    def level(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class EventScore:
    """Precision, recall, F1, delays and false alerts of one detector on one run."""

    alerts: int
    true_alerts: int
    events: int
    detected: int
    days: float
    delays_h: tuple[float, ...]
    missed: tuple[str, ...]

    @property
    def precision(self) -> float:
        """Share of alerts that match an event (1.0 when there are none)."""
        return self.true_alerts / self.alerts if self.alerts else 1.0

    @property
    def recall(self) -> float:
        """Share of events detected."""
        return self.detected / self.events if self.events else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_per_day(self) -> float:
        """Alerts matching no event, per scored day."""
        return (self.alerts - self.true_alerts) / self.days if self.days else 0.0

    @property
    def median_delay_h(self) -> float:
        """Median detection delay of the detected events, hours (NaN when none)."""
        return float(np.median(self.delays_h)) if self.delays_h else float("nan")

    def __add__(self, other: EventScore) -> EventScore:
        return EventScore(
            self.alerts + other.alerts,
            self.true_alerts + other.true_alerts,
            self.events + other.events,
            self.detected + other.detected,
            self.days + other.days,
            self.delays_h + other.delays_h,
            self.missed + other.missed,
        )


def _overlaps(a: AlertLike, e: Event, tolerance: timedelta) -> bool:
    return a.start < e.end + tolerance and a.end > e.start


def score_events(
    alerts: Sequence[AlertLike],
    events: Sequence[Event],
    *,
    days: float,
    bucket: timedelta = timedelta(hours=1),
    tolerance: timedelta = timedelta(hours=12),
) -> EventScore:
    """Score ``alerts`` raised over ``days`` scored days against the injected ``events``."""
    true_alerts = 0
    first: dict[int, datetime] = {}
    for a in alerts:
        hit = False
        for i, e in enumerate(events):
            if e.matches(a.level, a.entity, a.metric) and _overlaps(a, e, tolerance):
                hit = True
                seen = max(a.start, e.start) + bucket if a.start < e.start else a.start + bucket
                first[i] = min(first.get(i, seen), seen)
        true_alerts += hit
    delays = tuple(
        max((first[i] - e.start).total_seconds() / 3600.0, 0.0)
        for i, e in enumerate(events)
        if i in first
    )
    missed = tuple(f"{e.kind}:{e.target}" for i, e in enumerate(events) if i not in first)
    return EventScore(len(alerts), true_alerts, len(events), len(first), days, delays, missed)
