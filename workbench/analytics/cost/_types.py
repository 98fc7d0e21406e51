"""The result types of the cost suggestions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

DAYS_PER_MONTH = 30.44
"""Average days in a month, to project a window's figure to a month."""


@dataclass
class Suggestion:
    """One optimisation, with the money at stake.

    ``usd_window`` is the money at stake over the analysed window and ``usd_per_month``
    that figure scaled to an average month. ``billed`` says whether it is money off the
    bill (True) or an amount a budget over-reserves that the provider does not charge
    (False, e.g. unused ``max_tokens`` with a provider that bills actual tokens).
    """

    kind: str
    title: str
    detail: str
    usd_window: float
    usd_per_month: float
    billed: bool
    requests: int
    examples: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Suggestions:
    """All suggestions of one analysis, largest money at stake first."""

    items: list[Suggestion]
    window_days: float
    requests_analysed: int
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def of_kind(self, kind: str) -> list[Suggestion]:
        """The suggestions of one kind."""
        return [s for s in self.items if s.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "window_days": self.window_days,
            "requests_analysed": self.requests_analysed,
            "notes": self.notes,
            "suggestions": [s.to_dict() for s in self.items],
        }

    def to_frame(self) -> pl.DataFrame:
        """One row per suggestion (without ``data``)."""
        import polars as pl

        cols = ("kind", "title", "usd_window", "usd_per_month", "billed", "requests")
        rows = [{c: getattr(s, c) for c in cols} | {"examples": s.examples} for s in self.items]
        return pl.DataFrame(rows) if rows else pl.DataFrame({c: [] for c in cols})


def per_month(usd: float, window_days: float) -> float:
    """``usd`` over ``window_days`` scaled to an average month."""
    return usd / window_days * DAYS_PER_MONTH if window_days > 0 else 0.0
