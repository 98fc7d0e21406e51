"""Load and validate policy files, reporting every error with its file, line and field.

:func:`parse_policy` checks, in order: the schema (pydantic, ``extra="forbid"``), the
cross-field rules of :func:`workbench.policy.model.rule_problems`, and the check catalogue
(:mod:`workbench.guardrails`): the validator exists, its params validate against the check's
params model, the check supports the stage it is used in, and ``redact``/``fix`` are only
used on checks that can fix text. Params are stored normalised (as the check's params model
dumps the keys that were given), so equivalent spellings hash the same.

Errors are :class:`PolicyError` (a :class:`~workbench.errors.ConfigError`) carrying every
problem found in ``.errors``; its own message is the first one, e.g.
``policies/x.yaml:12: output.1.params.pattern: Field required (and 2 more errors)``.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from workbench.config._yamlsource import Locate, load_yaml_with_lines
from workbench.errors import ConfigError
from workbench.policy.model import DEFER_RULES, Loc, Policy, format_loc, rule_problems
from workbench.routing.validate import routing_problems

if TYPE_CHECKING:  # the check catalogue (and guardrails-ai) loads only when used
    from workbench.guardrails import CheckRegistry, CheckSpec


__all__ = [
    "PolicyError",
    "PolicyProblem",
    "check_policy",
    "load_policy",
    "parse_policy",
    "validate_policy",
]

_Problem = tuple[Loc, str]


class PolicyProblem(ConfigError):
    """One problem in a policy: a :class:`ConfigError` that also keeps its bare ``detail``."""

    def __init__(self, detail: str, *, path: str, line: int | None, loc: Loc) -> None:
        super().__init__(detail, path=path, line=line, field=format_loc(loc) or None)
        self.detail = detail
        self.loc = loc


class PolicyError(ConfigError):
    """A policy is invalid. ``errors`` lists every problem found, in line order."""

    def __init__(self, errors: Sequence[PolicyProblem]) -> None:
        first = errors[0]
        more = len(errors) - 1
        suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        super().__init__(first.detail + suffix, path=first.path, line=first.line, field=first.field)
        self.errors = list(errors)


def load_policy(
    path: str | Path,
    registry: CheckRegistry | None = None,
    *,
    known_targets: Collection[str] | None = None,
) -> Policy:
    """Read, parse and validate the policy file at ``path``. Raises :class:`ConfigError`."""
    data, locate = load_yaml_with_lines(path)
    return parse_policy(
        data, path=str(path), locate=locate, registry=registry, known_targets=known_targets
    )


def parse_policy(
    data: Any,
    path: str = "<policy>",
    locate: Locate | None = None,
    registry: CheckRegistry | None = None,
    *,
    check_catalogue: bool = True,
    known_targets: Collection[str] | None = None,
) -> Policy:
    """Validate already-parsed policy data. Raises :class:`PolicyError` naming every problem.

    ``locate`` maps an error location to a line (see
    :func:`workbench.config._yamlsource.load_yaml_with_lines`); ``registry`` is the check
    catalogue (default: the global one). ``check_catalogue=False`` checks the schema and
    the cross-field rules only (used for stored versions, validated when published).
    ``known_targets`` (the gateway config's model names) makes a routing target that is
    neither a route nor one of them an error; None skips that one check.
    """
    policy, errors = check_policy(
        data,
        path=path,
        locate=locate,
        registry=registry,
        check_catalogue=check_catalogue,
        known_targets=known_targets,
    )
    if errors:
        raise PolicyError(errors)
    assert policy is not None
    return policy


def validate_policy(
    policy: Policy,
    registry: CheckRegistry | None = None,
    *,
    known_targets: Collection[str] | None = None,
) -> Policy:
    """Check a policy built in code against the catalogue; returns it with normalised params."""
    return parse_policy(
        policy.model_dump(mode="json"),
        path=f"<policy {policy.id}>",
        registry=registry,
        known_targets=known_targets,
    )


def check_policy(
    data: Any,
    *,
    path: str = "<policy>",
    locate: Locate | None = None,
    registry: CheckRegistry | None = None,
    check_catalogue: bool = True,
    known_targets: Collection[str] | None = None,
) -> tuple[Policy | None, list[PolicyProblem]]:
    """Like :func:`parse_policy` but returns ``(policy or None, errors)`` instead of raising."""

    def error(loc: Loc, message: str) -> PolicyProblem:
        line = locate(loc) if locate is not None else None
        return PolicyProblem(message, path=path, line=line, loc=loc)

    if data is None:
        return None, [error((), "the policy is empty")]
    if not isinstance(data, Mapping):
        return None, [error((), f"a policy must be a mapping, not {type(data).__name__}")]
    try:
        policy = Policy.model_validate(data, context={DEFER_RULES: True})
    except ValidationError as exc:
        return None, _by_line([error(loc, msg) for loc, msg in _pydantic_problems(exc, Policy)])
    problems = rule_problems(policy)
    problems += [
        (("routing",) + loc, msg) for loc, msg in routing_problems(policy.routing, known_targets)
    ]
    if check_catalogue:
        policy, catalogue = _check_catalogue(policy, _default(registry))
        problems += catalogue
    errors = _by_line([error(loc, msg) for loc, msg in problems])
    return (None, errors) if errors else (policy, [])


def _default(registry: CheckRegistry | None) -> CheckRegistry:
    if registry is not None:
        return registry
    from workbench.guardrails import registry as global_registry

    return global_registry


def _by_line(errors: list[PolicyProblem]) -> list[PolicyProblem]:
    """Sort by line, then by place in the document (input before output, by index)."""

    def key(e: PolicyProblem) -> tuple[int, tuple[tuple[int, str | int], ...]]:
        where = tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in e.loc)
        return (e.line if e.line is not None else 0, where)

    return sorted(errors, key=key)


def _pydantic_problems(exc: ValidationError, model: type[BaseModel]) -> list[_Problem]:
    """``(loc, message)`` for each error; unknown keys get a did-you-mean hint."""
    out: list[_Problem] = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            out.append((loc, "unknown key" + _key_hint(model, loc)))
        else:
            out.append((loc, str(err["msg"])))
    return out


def _key_hint(model: type[BaseModel], loc: Loc) -> str:
    allowed = _allowed_keys(model, loc[:-1])
    if not allowed:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (allowed: {', '.join(allowed)})"


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model reached by following ``loc`` from ``model``."""
    current: Any = model
    mapping_key = False  # the next part is a key of a dict[str, Model] field
    for part in loc:
        if isinstance(part, int) or mapping_key:
            mapping_key = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
        mapping_key = typing.get_origin(field.annotation) is dict
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``annotation`` (``M``, ``list[M]``, ``M | None``,
    ``dict[str, M]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return _model_in(typing.get_args(annotation)[-1])
    if origin in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _check_catalogue(policy: Policy, registry: CheckRegistry) -> tuple[Policy, list[_Problem]]:
    """Check every check against the catalogue; returns the policy with normalised params."""
    problems: list[_Problem] = []
    names = registry.names()
    new_stages: dict[str, list[Any]] = {"input": [], "output": []}
    for stage, i, check in policy.iter_checks():
        new_stages[stage].append(check)
        base: Loc = (stage, i)
        if check.validator not in names:
            problems.append(
                (
                    base + ("validator",),
                    f"unknown validator {check.validator!r}" + _name_hint(check.validator, names),
                )
            )
            continue
        spec = registry.get(check.validator)
        if stage not in spec.stages:
            supported = ", ".join(sorted(spec.stages)) or "none"
            problems.append(
                (
                    base + ("validator",),
                    f"{check.validator!r} cannot run in the {stage} stage "
                    f"(it supports: {supported})",
                )
            )
        if check.on_fail in ("redact", "fix") and not spec.can_fix:
            problems.append(
                (
                    base + ("on_fail",),
                    f"{check.on_fail!r} needs a check that can fix text, and "
                    f"{check.validator!r} cannot (use deny or flag)",
                )
            )
        params, param_problems = _check_params(spec, check.params)
        problems += [(base + ("params",) + loc, msg) for loc, msg in param_problems]
        if params is not None:
            new_stages[stage][-1] = check.model_copy(update={"params": params})
    if not problems:
        policy = policy.model_copy(update=new_stages)
    return policy, problems


def _name_hint(name: str, names: set[str]) -> str:
    if not names:
        return " (the check catalogue is empty: are the validator plugins installed?)"
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    if close:
        return f" (did you mean: {', '.join(close)}?)"
    known = sorted(names)
    listed = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
    return f" (known validators: {listed})"


def _check_params(
    spec: CheckSpec, params: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[_Problem]]:
    """Validate ``params`` with the check's model: ``(normalised params or None, problems)``."""
    try:
        parsed = spec.params.model_validate(params)
    except ValidationError as exc:
        problems: list[_Problem] = []
        takes = ", ".join(spec.params.model_fields) or "no parameters"
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append((loc, f"unknown parameter for {spec.name!r} (it takes: {takes})"))
            else:
                problems.append((loc, str(err["msg"])))
        return None, problems
    try:
        normalised = parsed.model_dump(mode="json", by_alias=True, exclude_unset=True)
        spec.params.model_validate(normalised)
    except Exception:  # a params model that does not round-trip: keep what was written
        return params, []
    return normalised, []
