"""Compare two policies: a unified diff of their canonical YAML plus a structured summary.

The summary matches checks by stage and name and reports checks added, removed and changed
(each changed field, with action changes called out: ``on_fail deny -> flag``), moves within
a stage (order matters: checks run in order), and changed settings outside the checks
(``applies_to``, ``fallback``, ...).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.policy.model import STAGES, CheckConfig, Policy, Stage, policy_hash, short_hash
from workbench.policy.records import Version

__all__ = ["CheckChange", "PolicyDiff", "compare", "diff"]

_CHECK_FIELDS = ("validator", "on_fail", "mode", "sample_rate", "message")


@dataclass(frozen=True)
class CheckChange:
    """One check that differs between the two sides."""

    stage: Stage
    name: str
    change: Literal["added", "removed", "changed", "moved"]
    details: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line, e.g. ``output: ~ 'tox': on_fail deny -> flag``."""
        sign = {"added": "+", "removed": "-", "changed": "~", "moved": "~"}[self.change]
        text = f"{self.stage}: {sign} {self.change} {self.name!r}"
        return text + (f": {'; '.join(self.details)}" if self.details else "")


@dataclass(frozen=True)
class PolicyDiff:
    """The difference between policy ``a`` and policy ``b``."""

    a_label: str
    b_label: str
    a_hash: str
    b_hash: str
    unified: str
    checks: tuple[CheckChange, ...] = ()
    settings: tuple[str, ...] = field(default=())

    @property
    def identical(self) -> bool:
        """True when both sides have the same content hash."""
        return self.a_hash == self.b_hash

    @property
    def action_changes(self) -> tuple[CheckChange, ...]:
        """The changed checks whose ``on_fail`` changed."""
        return tuple(c for c in self.checks if any(d.startswith("on_fail ") for d in c.details))

    def render(self) -> str:
        """The unified diff followed by the summary."""
        if self.identical:
            return (
                f"No differences between {self.a_label} and {self.b_label} "
                f"(hash {short_hash(self.a_hash)})."
            )
        lines = [self.unified.rstrip("\n"), "", f"Summary ({self.a_label} -> {self.b_label}):"]
        lines += [f"  {c.describe()}" for c in self.checks]
        lines += [f"  {s}" for s in self.settings]
        if not self.checks and not self.settings:
            lines.append("  (no structural change)")
        return "\n".join(lines) + "\n"


def _side(x: Version | Policy, label: str | None) -> tuple[Policy, str, str]:
    if isinstance(x, Version):
        return x.policy, label or x.version_id, x.hash
    return x, label or f"{x.id} (unpublished)", policy_hash(x)


def compare(
    a: Version | Policy,
    b: Version | Policy,
    *,
    a_label: str | None = None,
    b_label: str | None = None,
) -> PolicyDiff:
    """The structured difference from ``a`` to ``b``."""
    pa, la, ha = _side(a, a_label)
    pb, lb, hb = _side(b, b_label)
    unified = "".join(
        difflib.unified_diff(
            pa.canonical_yaml().splitlines(keepends=True),
            pb.canonical_yaml().splitlines(keepends=True),
            fromfile=la,
            tofile=lb,
        )
    )
    checks: list[CheckChange] = []
    for stage in STAGES:
        checks += _stage_changes(stage, pa.checks(stage), pb.checks(stage))
    return PolicyDiff(la, lb, ha, hb, unified, tuple(checks), tuple(_setting_changes(pa, pb)))


def diff(
    a: Version | Policy,
    b: Version | Policy,
    *,
    a_label: str | None = None,
    b_label: str | None = None,
) -> str:
    """A unified diff of the canonical YAML plus a summary of check and action changes."""
    return compare(a, b, a_label=a_label, b_label=b_label).render()


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _stage_changes(
    stage: Stage, old: list[CheckConfig], new: list[CheckConfig]
) -> list[CheckChange]:
    before = {c.name: (i, c) for i, c in enumerate(old)}
    after = {c.name: (i, c) for i, c in enumerate(new)}
    out: list[CheckChange] = []
    for name, (_, check) in before.items():
        if name not in after:
            out.append(CheckChange(stage, name, "removed", (f"{check.validator}",)))
    for name, (i, check) in after.items():
        if name not in before:
            out.append(
                CheckChange(stage, name, "added", (f"{check.validator}, on_fail {check.on_fail}",))
            )
            continue
        j, prev = before[name]
        details = [
            f"{f} {_show(getattr(prev, f))} -> {_show(getattr(check, f))}"
            if f != "on_fail"
            else f"on_fail {prev.on_fail} -> {check.on_fail}"
            for f in _CHECK_FIELDS
            if getattr(prev, f) != getattr(check, f)
        ]
        details += _params_changes(prev.params, check.params)
        order_old = [n for n in before if n in after]
        order_new = [n for n in after if n in before]
        moved = order_old.index(name) != order_new.index(name)
        if moved:
            details.append(f"position {j} -> {i}")
        if details:
            kind: Literal["changed", "moved"] = (
                "moved" if moved and len(details) == 1 else "changed"
            )
            out.append(CheckChange(stage, name, kind, tuple(details)))
    return out


def _params_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"params.{key} removed")
        elif key not in old:
            out.append(f"params.{key} = {_show(new[key])}")
        elif old[key] != new[key]:
            out.append(f"params.{key} {_show(old[key])} -> {_show(new[key])}")
    return out


def _setting_changes(a: Policy, b: Policy) -> list[str]:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    out = []
    for key in da:
        if key in STAGES or da[key] == db[key]:
            continue
        if isinstance(da[key], dict) and isinstance(db[key], dict):
            for sub in sorted(set(da[key]) | set(db[key])):
                if da[key].get(sub) != db[key].get(sub):
                    out.append(
                        f"{key}.{sub}: {_show(da[key].get(sub))} -> {_show(db[key].get(sub))}"
                    )
        else:
            out.append(f"{key}: {_show(da[key])} -> {_show(db[key])}")
    return out
