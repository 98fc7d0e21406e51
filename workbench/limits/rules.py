"""Budget and rate-limit rules, the windows they count in, and which requests they apply to.

A :class:`Rule` is one limit on one *scope* (``key``, ``user``, ``workspace`` or ``model``)
and one *subject* (the key id, user, workspace or model name; ``*`` gives every distinct
value its own counter). Kinds:

- ``budget``: USD over a ``day``, ``week`` or ``month``, ``calendar`` (UTC day, ISO week
  from Monday, calendar month) or ``rolling`` (the last 24 h / 7 d / 30 d, counted in
  hourly slots); ``soft`` is the fraction at which an alert is raised (request allowed),
  ``hard`` denies past the amount (a soft-only budget never denies);
- ``requests`` and ``tokens``: per minute, in fixed UTC minute windows (what the
  ``x-ratelimit-*`` headers describe);
- ``concurrent``: requests in flight at once (a gauge, no window).

Counters are integers: requests, tokens, slots, and nano-USD for budgets (exact sums).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "KINDS",
    "NANO",
    "PERIODS",
    "SCOPES",
    "Rule",
    "RuleSet",
    "Window",
    "bucket_key",
]

NANO = 1_000_000_000  # nano-USD per USD
SCOPES = ("key", "user", "workspace", "model")
KINDS = ("budget", "requests", "tokens", "concurrent")
PERIODS = ("minute", "day", "week", "month")
_ROLLING_S = {"day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400}
_SLOT_S = 3600  # rolling budgets count in hourly slots
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class Window:
    """Where a rule counts now: the ``slot`` spending goes to, the first slot that still
    counts (``since``), and when the count next drops (``reset_at``, None: never)."""

    slot: int
    since: int
    reset_at: float | None


@dataclass(frozen=True)
class Rule:
    """One budget or rate limit."""

    id: str
    kind: str
    scope: str
    subject: str
    limit: float
    period: str | None = None
    window: str = "calendar"
    soft: float | None = None
    hard: bool = True
    workspace: str | None = None  # the rule applies only to requests of this workspace

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with this rule (empty: valid)."""
        out = []
        if not _ID.match(self.id):
            out.append(f"id {self.id!r}: letters, digits and _.:- only, at most 64")
        if self.kind not in KINDS:
            out.append(f"kind {self.kind!r}: one of {', '.join(KINDS)}")
        if self.scope not in SCOPES:
            out.append(f"scope {self.scope!r}: one of {', '.join(SCOPES)}")
        if not self.subject:
            out.append("subject: a value, or * for each distinct value")
        if not self.limit >= 0:
            out.append("limit must be >= 0")
        if self.kind == "budget":
            if self.period not in ("day", "week", "month"):
                out.append("a budget's period is day, week or month")
            if self.window not in ("calendar", "rolling"):
                out.append("a budget's window is calendar or rolling")
        elif self.kind in ("requests", "tokens") and self.period not in (None, "minute"):
            out.append("rate limits count per minute")
        if self.soft is not None and not 0 < self.soft <= 1:
            out.append("soft is a fraction of the limit in (0, 1]")
        return out

    @property
    def units(self) -> int:
        """The limit in counter units (nano-USD for budgets)."""
        return int(round(self.limit * NANO)) if self.kind == "budget" else int(self.limit)

    def applies(self, subjects: Mapping[str, str | None], workspace: str | None) -> str | None:
        """The subject value this rule counts the request under (None: not applicable)."""
        if self.workspace is not None and workspace != self.workspace:
            return None
        value = subjects.get(self.scope)
        if value is None:
            return None
        if self.subject != "*" and value != self.subject:
            return None
        return value

    def window_at(self, now: float) -> Window:
        """The rule's window at wall-clock time ``now``."""
        if self.kind == "concurrent":
            return Window(0, 0, None)
        if self.kind != "budget":
            start = int(now // 60) * 60
            return Window(start, start, start + 60.0)
        assert self.period is not None
        if self.window == "rolling":
            slot = int(now // _SLOT_S) * _SLOT_S
            since = int((now - _ROLLING_S[self.period]) // _SLOT_S) * _SLOT_S + _SLOT_S
            return Window(slot, since, slot + float(_SLOT_S))
        start, end = _calendar(self.period, now)
        return Window(start, start, end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Inverse of :meth:`to_dict` (unknown fields are an error)."""
        return cls(**dict(data))


def _calendar(period: str, now: float) -> tuple[int, float]:
    t = datetime.fromtimestamp(now, UTC)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return int(day.timestamp()), (day + timedelta(days=1)).timestamp()
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return int(start.timestamp()), (start + timedelta(days=7)).timestamp()
    start = day.replace(day=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return int(start.timestamp()), (start + timedelta(days=days)).timestamp()


def bucket_key(rule: Rule, value: str) -> str:
    """The counter a rule keeps for one subject value."""
    return f"{rule.id}|{value}"


class RuleSet:
    """The rules in force (one generation of the store), indexed by scope."""

    def __init__(self, rules: Iterable[Rule], generation: int = 0) -> None:
        self.rules = {r.id: r for r in rules}
        self.generation = generation
        #: the kinds of the rules in force (a request's worst-case tokens and cost are
        #: estimated only when a tokens or budget rule exists)
        self.kinds = frozenset(r.kind for r in self.rules.values())
        self._by_scope: dict[str, list[Rule]] = {}
        for r in self.rules.values():
            self._by_scope.setdefault(r.scope, []).append(r)

    def matching(
        self, subjects: Mapping[str, str | None], workspace: str | None
    ) -> list[tuple[Rule, str]]:
        """The (rule, bucket key) pairs a request with these subjects counts against."""
        out = []
        for scope, rules in self._by_scope.items():
            if subjects.get(scope) is None:
                continue
            for r in rules:
                value = r.applies(subjects, workspace)
                if value is not None:
                    out.append((r, bucket_key(r, value)))
        return out

    def rule_of(self, bucket: str) -> Rule | None:
        """The rule behind a bucket key."""
        return self.rules.get(bucket.split("|", 1)[0])
