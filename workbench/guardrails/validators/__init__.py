"""The built-in cheap (non-ML) checks, registered through ``workbench.validators: builtin``.

Importing this package applies :func:`workbench.guardrails._offline.ensure_offline` first,
so guardrails-ai never reaches the network on our behalf. Each check is a guardrails-ai
``Validator`` registered as ``workbench/<name>``; :func:`register` adds a
:class:`~workbench.guardrails._registry.CheckSpec` per check to a ``CheckRegistry``.
"""

from __future__ import annotations

from workbench.guardrails._offline import ensure_offline

ensure_offline()

from collections.abc import Callable  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from workbench.guardrails.validators import (  # noqa: E402
    code,
    gibberish,
    json_checks,
    language,
    output,
    patterns,
    pii,
    request,
    secrets,
    text_format,
    unicode_safety,
    urls,
    webhook,
    words,
)
from workbench.guardrails.validators._base import CheapValidator, first_line  # noqa: E402
from workbench.guardrails.validators.pii import Span, find_pii  # noqa: E402

if TYPE_CHECKING:
    from workbench.guardrails._registry import CheckRegistry

VALIDATORS: tuple[type[CheapValidator], ...] = (
    *patterns.VALIDATORS,
    *words.VALIDATORS,
    *text_format.VALIDATORS,
    *json_checks.VALIDATORS,
    *code.VALIDATORS,
    *urls.VALIDATORS,
    *unicode_safety.VALIDATORS,
    *language.VALIDATORS,
    *gibberish.VALIDATORS,
    *secrets.VALIDATORS,
    *pii.VALIDATORS,
    *output.VALIDATORS,
    *request.VALIDATORS,
    *webhook.VALIDATORS,
)

#: Names of the cheap checks, in catalogue order (for documentation).
CHEAP_CHECKS: tuple[str, ...] = tuple(v.check_name for v in VALIDATORS)


def _builder(cls: type[CheapValidator]) -> Callable[[Any], CheapValidator]:
    def build(params: Any) -> CheapValidator:
        return cls(params)

    build.__doc__ = cls.__doc__
    return build


def register(registry: CheckRegistry) -> None:
    """Add every cheap check to ``registry`` (the ``workbench.validators`` entry point)."""
    for cls in VALIDATORS:
        registry.check(
            cls.check_name,
            params=cls.params_model,
            kind="cheap",
            stages=cls.stages,
            can_fix=cls.can_fix,
            description=first_line(cls.__doc__),
        )(_builder(cls))


__all__ = ["CHEAP_CHECKS", "VALIDATORS", "Span", "find_pii", "register"]
