"""Request checks (input stage): ``required_metadata`` and ``model_allowlist``.

They read ``metadata["request"]`` (its ``metadata`` dict and its ``model``), not the text.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field, model_validator

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    fail,
    ok,
    request_of,
)


class RequiredMetadataParams(Params):
    """Params of ``required_metadata``."""

    keys: list[str] = Field(default_factory=list, description="keys that must be present")
    allowed_values: dict[str, list[str]] = Field(
        default_factory=dict, description="key -> allowed values (when the key is present)"
    )

    @model_validator(mode="after")
    def _something(self) -> RequiredMetadataParams:
        if not self.keys and not self.allowed_values:
            raise ValueError("set `keys`, `allowed_values` or both")
        return self


@register_validator(name="workbench/required_metadata", data_type="string")
class RequiredMetadata(CheapValidator[RequiredMetadataParams]):
    """Fails when request metadata lacks required keys or has a value not allowed."""

    check_name = "required_metadata"
    params_model = RequiredMetadataParams
    stages = ("input",)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Look at ``metadata["request"]["metadata"]``."""
        meta = request_of(metadata).get("metadata") or {}
        if not isinstance(meta, dict):
            meta = {}
        problems = []
        missing = [k for k in self.params.keys if meta.get(k) in (None, "")]
        if missing:
            problems.append("missing request metadata: " + ", ".join(missing))
        for key, allowed in self.params.allowed_values.items():
            if key in meta and meta[key] is not None and str(meta[key]) not in allowed:
                problems.append(f"metadata {key}={meta[key]!r} is not one of {allowed}")
        if not problems:
            return ok()
        return fail("; ".join(problems), missing=missing)


class ModelAllowlistParams(Params):
    """Params of ``model_allowlist``."""

    models: list[str] = Field(min_length=1, description="glob patterns, e.g. 'gpt-4o*'")
    case_insensitive: bool = True


@register_validator(name="workbench/model_allowlist", data_type="string")
class ModelAllowlist(CheapValidator[ModelAllowlistParams]):
    """Fails when the requested model matches none of the allowed glob patterns."""

    check_name = "model_allowlist"
    params_model = ModelAllowlistParams
    stages = ("input",)

    def setup(self, params: ModelAllowlistParams) -> None:
        """Fold the patterns once."""
        self._patterns = [m.lower() if params.case_insensitive else m for m in params.models]

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Match ``metadata["request"]["model"]``."""
        model = request_of(metadata).get("model")
        if not isinstance(model, str) or not model:
            return fail("the request names no model")
        name = model.lower() if self.params.case_insensitive else model
        if any(fnmatchcase(name, p) for p in self._patterns):
            return ok()
        return fail(f"model {model!r} is not allowed", model=model)


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (RequiredMetadata, ModelAllowlist)
