"""The filters every log call takes, as parameterised SQL and as polars expressions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ._time import TimeLike, Window

if TYPE_CHECKING:
    import polars as pl

Values = str | Sequence[str] | None
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _listed(value: Values) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    out = [str(v) for v in value]
    if not out:
        raise ValueError("an empty list of values matches nothing; pass None for no filter")
    return out


def quote_ident(name: str) -> str:
    """A column name as a quoted SQL identifier (letters, digits and ``_`` only)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


def _in(column: str, values: list[str]) -> str:
    return f"{column} IN ({', '.join('?' for _ in values)})"


@dataclass(frozen=True)
class Filters:
    """Time window plus dimension filters (each a value or a list of values)."""

    window: Window
    workspace: list[str] | None = None
    key: list[str] | None = None
    model: list[str] | None = None  # matches model_requested or model_served
    status: list[str] | None = None
    extra: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        since: TimeLike = None,
        until: TimeLike = None,
        workspace: Values = None,
        key: Values = None,
        model: Values = None,
        status: Values = None,
        now: datetime | None = None,
    ) -> Filters:
        """Filters from the public arguments."""
        return cls(
            Window.of(since, until, now),
            _listed(workspace),
            _listed(key),
            _listed(model),
            _listed(status),
        )

    def sql(self, time_column: str = "received_at") -> tuple[str, list[object]]:
        """``WHERE`` clause text (``TRUE`` when nothing is filtered) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        part, part_params = self.window.partition_sql()
        if part:
            clauses.append(part)
            params += part_params
        if self.window.start is not None:
            clauses.append(f"{time_column} >= ?")
            params.append(self.window.start)
        if self.window.end is not None:
            clauses.append(f"{time_column} < ?")
            params.append(self.window.end)
        for column, values in self._dims():
            if column == "model":
                clauses.append(
                    f"({_in('model_requested', values)} OR {_in('model_served', values)})"
                )
                params += values + values
            else:
                clauses.append(_in(column, values))
                params += values
        return (" AND ".join(clauses) or "TRUE"), params

    def _dims(self) -> Iterable[tuple[str, list[str]]]:
        for column, values in (
            ("workspace", self.workspace),
            ("key_id", self.key),
            ("model", self.model),
            ("status", self.status),
            *self.extra.items(),
        ):
            if values is not None:
                yield column, values

    def expr(self) -> pl.Expr:
        """The same filter as a polars expression (partition columns included)."""
        import polars as pl

        out = pl.lit(True)
        w = self.window
        if w.start is not None:
            d0, h0 = w.start.strftime("%Y-%m-%d"), w.start.hour
            out &= (pl.col("date") > d0) | ((pl.col("date") == d0) & (pl.col("hour") >= h0))
            out &= pl.col("received_at") >= w.start
        if w.end is not None:
            d1, h1 = w.end.strftime("%Y-%m-%d"), w.end.hour
            out &= (pl.col("date") < d1) | ((pl.col("date") == d1) & (pl.col("hour") <= h1))
            out &= pl.col("received_at") < w.end
        for column, values in self._dims():
            if column == "model":
                out &= pl.col("model_requested").is_in(values) | pl.col("model_served").is_in(
                    values
                )
            else:
                out &= pl.col(column).is_in(values)
        return out
