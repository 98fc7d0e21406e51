"""JSON checks: ``valid_json`` and ``json_schema`` (validated with ``jsonschema``).

Not delegated to guardrails-ai-valid-json: it fails valid but falsy documents (``0``,
``[]``, ``{}``), has no fence extraction and no error position.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field, field_validator

from workbench.guardrails.validators._base import CheapValidator, Params, Result, fail, ok

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)


def extract_json(text: str, fenced: bool) -> tuple[str, int]:
    """The JSON document inside ``text`` and its offset (first ```json fence, if any)."""
    if fenced:
        m = _FENCE.search(text)
        if m:
            return m.group(1), m.start(1)
    stripped = text.lstrip()
    return stripped.rstrip(), len(text) - len(stripped)


def parse_json(text: str, fenced: bool) -> tuple[Any, int, int, json.JSONDecodeError | None]:
    """``(document, start, end, error)`` for the JSON in ``text``."""
    body, start = extract_json(text, fenced)
    try:
        return json.loads(body), start, start + len(body), None
    except json.JSONDecodeError as exc:
        return None, start, start + len(body), exc


class ValidJsonParams(Params):
    """Params of ``valid_json``."""

    extract_fenced: bool = Field(True, description="validate the first ```json fence if any")


@register_validator(name="workbench/valid_json", data_type="string")
class ValidJson(CheapValidator[ValidJsonParams]):
    """Fails when the text (or its first ```json fence) is not valid JSON."""

    check_name = "valid_json"
    params_model = ValidJsonParams

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Parse; the span points at the decoder's error position."""
        _, start, end, err = parse_json(value, self.params.extract_fenced)
        if err is None:
            return ok()
        pos = min(start + err.pos, max(end - 1, start))
        return fail(
            f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
            [(pos, min(pos + 1, len(value)) if value else 0, f"INVALID_JSON: {err.msg}")],
        )


def _path(parts: Any) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


class JsonSchemaParams(Params):
    """Params of ``json_schema``."""

    json_schema: dict[str, Any] = Field(alias="schema", description="a JSON Schema document")
    extract_fenced: bool = True
    max_errors: int = Field(10, ge=1)

    model_config = Params.model_config | {"populate_by_name": True}

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        try:
            validator_for(v).check_schema(v)
        except SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from exc
        return v


@register_validator(name="workbench/json_schema", data_type="string")
class JsonSchema(CheapValidator[JsonSchemaParams]):
    """Fails when the JSON does not parse or does not satisfy ``schema``."""

    check_name = "json_schema"
    params_model = JsonSchemaParams

    def setup(self, params: JsonSchemaParams) -> None:
        """Build the schema validator once."""
        from jsonschema.validators import validator_for

        cls = validator_for(params.json_schema)
        self._validator = cls(params.json_schema, format_checker=cls.FORMAT_CHECKER)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """One span (the JSON document) per schema error, reason naming the path."""
        doc, start, end, err = parse_json(value, self.params.extract_fenced)
        if err is not None:
            pos = min(start + err.pos, max(end - 1, start))
            return fail(
                f"invalid JSON: {err.msg}",
                [(pos, min(pos + 1, len(value)), f"INVALID_JSON: {err.msg}")],
            )
        errors = sorted(self._validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if not errors:
            return ok()
        errors = errors[: self.params.max_errors]
        reasons = [f"{_path(e.absolute_path)}: {e.message}" for e in errors]
        return fail(
            "JSON does not match the schema: " + "; ".join(reasons),
            [(start, end, f"SCHEMA: {r}") for r in reasons],
            paths=[_path(e.absolute_path) for e in errors],
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (ValidJson, JsonSchema)
