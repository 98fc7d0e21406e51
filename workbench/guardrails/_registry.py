"""The check catalogue: validator names -> how to build a guardrails-ai Validator.

Every check kind is a ``guardrails.validators.Validator`` subclass registered with
guardrails-ai's ``register_validator`` (as ``workbench/<name>``) and described here by
a :class:`CheckSpec` with a pydantic params model (``extra="forbid"``), so a policy
file's ``params`` are validated before anything runs. Built-ins and third-party
checks register through the ``workbench.validators`` entry-point group, whose entry
points name a ``register(registry)`` function.

Contract of a check's Validator, as the engine calls it:
``validator.validate(text, metadata) -> PassResult | FailResult`` where ``metadata`` has
``stage`` ("input" | "output"), ``request`` (model, workspace, user, metadata dict,
system prompt), and ``scores`` (ML scores precomputed by the engine in one batched call:
``scores[classifier] -> float`` for this text, ``scores["ner"] -> list of spans``).
A FailResult should carry ``error_spans`` (character spans with a reason),
``fix_value`` (the redacted/fixed text, when the check can fix) and
``metadata={"score": float}`` when it has a score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workbench._plugins import PluginRegistry

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "workbench.validators"

Kind = Literal["cheap", "ml", "remote"]


class NoParams(BaseModel):
    """For checks that take no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class CheckSpec:
    """One kind of check in the catalogue."""

    name: str
    build: Callable[[Any], Any]  # params model instance -> guardrails Validator
    params: type[BaseModel] = NoParams
    kind: Kind = "cheap"
    stages: frozenset[str] = field(default_factory=lambda: frozenset({"input", "output"}))
    # ML checks: the classifiers whose scores the engine must precompute (batched).
    classifiers: tuple[str, ...] = ()
    can_fix: bool = False
    description: str = ""

    def make(self, params: dict[str, Any] | None) -> Any:
        """Validate ``params`` and build the Validator (raises pydantic ValidationError)."""
        return self.build(self.params.model_validate(params or {}))


class CheckRegistry(PluginRegistry[CheckSpec]):
    """Name -> :class:`CheckSpec`, filled from entry points on first use."""

    group = ENTRY_POINT_GROUP
    kind = "validator"

    def check(
        self,
        name: str,
        *,
        params: type[BaseModel] = NoParams,
        kind: Kind = "cheap",
        stages: tuple[str, ...] = ("input", "output"),
        classifiers: tuple[str, ...] = (),
        can_fix: bool = False,
        description: str = "",
    ) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Decorator: register ``build(params) -> Validator`` under ``name``."""

        def deco(build: Callable[[Any], Any]) -> Callable[[Any], Any]:
            self.add(
                CheckSpec(
                    name=name,
                    build=build,
                    params=params,
                    kind=kind,
                    stages=frozenset(stages),
                    classifiers=classifiers,
                    can_fix=can_fix,
                    description=description or (build.__doc__ or ""),
                )
            )
            return build

        return deco

    def specs(self) -> list[CheckSpec]:
        """All specs, sorted by name."""
        self._ensure()
        return [self._specs[n] for n in sorted(self._specs)]


registry = CheckRegistry()
