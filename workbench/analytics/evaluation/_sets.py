"""Labelled sets for evaluation: built-in ones by name, or a user's own frame.

A :class:`LabelledSet` is a polars frame with ``id``, ``text``, ``label`` (1 = what the
checks should catch) and optional subgroup columns (``language``, ``family``, ...), plus
its role (``train`` or ``eval``: evaluation may use either, and reports it), the stage it
is meant for (``input`` prompts or ``output`` answers) and the provenance (path, sha256)
of every file it was built from.

Built-in sets (:data:`BUILTIN`) come from the project's ``datasets/`` manifests and
``../shared/datasets`` (see :mod:`workbench.analytics.evaluation._catalogue`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class LabelledSet:
    """Items with labels, what they are for, and where they came from."""

    name: str
    items: pl.DataFrame
    role: str = "user"
    stage: str = "input"
    subgroups: tuple[str, ...] = ()
    files: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def __len__(self) -> int:
        return int(self.items.height)

    def info(self) -> dict[str, Any]:
        """JSON-ready summary: name, role, stage, rows, positives, subgroups, files."""
        return {
            "name": self.name,
            "role": self.role,
            "stage": self.stage,
            "rows": len(self),
            "positives": int(self.items["label"].sum()) if len(self) else 0,
            "subgroups": list(self.subgroups),
            "files": self.files,
            "note": self.note,
        }

    def limit(self, n: int | None, seed: int = 0) -> LabelledSet:
        """At most ``n`` items, stratified by label (a seeded sample, original order kept)."""
        import polars as pl

        if n is None or n >= len(self):
            return self
        parts = []
        total = len(self)
        for (lab,), grp in self.items.with_row_index("_pos").group_by(
            ["label"], maintain_order=True
        ):
            k = max(1, round(n * grp.height / total)) if n > 1 or lab == 1 else 0
            parts.append(grp.sample(n=min(k, grp.height), seed=seed))
        kept = pl.concat(parts).sort("_pos").head(n).drop("_pos")
        return LabelledSet(
            self.name, kept, self.role, self.stage, self.subgroups, self.files, self.note
        )


def from_frame(
    frame: Any,
    name: str = "custom",
    *,
    stage: str = "input",
    role: str = "user",
    subgroups: tuple[str, ...] | None = None,
) -> LabelledSet:
    """A set from a polars/pandas frame (or list of dicts) with ``text`` and ``label``.

    ``id`` is added when missing; every other string column is a subgroup unless
    ``subgroups`` names them.
    """
    import polars as pl

    df = frame if isinstance(frame, pl.DataFrame) else pl.DataFrame(frame)
    missing = {"text", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"a labelled set needs columns text and label; missing {sorted(missing)}")
    if "id" not in df.columns:
        df = df.with_row_index("id").with_columns(pl.col("id").cast(pl.String))
    df = df.with_columns(pl.col("label").cast(pl.Int8), pl.col("id").cast(pl.String))
    if df["id"].n_unique() != df.height:
        raise ValueError("a labelled set needs unique ids")
    if not set(df["label"].unique().to_list()) <= {0, 1}:
        raise ValueError("labels must be 0 or 1")
    if subgroups is None:
        subgroups = tuple(
            c for c in df.columns if c not in ("id", "text", "label") and df[c].dtype == pl.String
        )
    return LabelledSet(name, df, role=role, stage=stage, subgroups=tuple(subgroups))


__all__ = ["LabelledSet", "from_frame"]
