"""valid_json and json_schema."""

from __future__ import annotations

from typing import Any

SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


def test_valid_json(make: Any) -> None:
    v = make("valid_json")
    for ok in ['{"a": 1}', "0", "[]", "{}", '  "text"  ', 'x\n```json\n{"a": [1]}\n```\n']:
        assert v.validate(ok, {}).outcome == "pass", ok


def test_invalid_json_points_at_the_error(make: Any) -> None:
    v = make("valid_json")
    text = 'Here:\n```json\n{"a": [1, 2,]}\n```\n'
    res = v.validate(text, {})
    assert res.outcome == "fail"
    assert "Expecting value" in res.error_message and "column 13" in res.error_message
    span = res.error_spans[0]
    assert text[span.start] == "]"
    assert v.validate('{"a": 1', {}).outcome == "fail"
    assert v.validate("", {}).outcome == "fail"
    no_fence = make("valid_json", extract_fenced=False)
    assert no_fence.validate('```json\n{"a": 1}\n```', {}).outcome == "fail"


def test_json_schema_names_failing_paths(make: Any) -> None:
    v = make("json_schema", schema=SCHEMA)
    assert v.validate('{"name": "x", "age": 3}', {}).outcome == "pass"
    text = '```json\n{"name": 1, "age": -1, "tags": ["a", 2], "extra": true}\n```'
    res = v.validate(text, {})
    assert res.outcome == "fail"
    assert res.metadata["paths"] == ["$", "$.age", "$.name", "$.tags[1]"]
    reasons = [s.reason for s in res.error_spans]
    assert any(r.startswith("SCHEMA: $.age: -1 is less than the minimum of 0") for r in reasons)
    assert any(r.startswith("SCHEMA: $.tags[1]: 2 is not of type 'string'") for r in reasons)
    assert any("'extra' was unexpected" in r for r in reasons)
    span = res.error_spans[0]
    assert text[span.start : span.end].startswith('{"name": 1')
    assert "$.name" in res.error_message


def test_json_schema_missing_required_and_bad_json(make: Any) -> None:
    v = make("json_schema", schema=SCHEMA)
    res = v.validate('{"name": "x"}', {})
    assert res.outcome == "fail" and "'age' is a required property" in res.error_message
    bad = v.validate('{"name": ', {})
    assert bad.outcome == "fail" and bad.error_message.startswith("invalid JSON")


def test_json_schema_max_errors(make: Any) -> None:
    v = make(
        "json_schema",
        schema={"type": "array", "items": {"type": "integer"}},
        max_errors=2,
    )
    res = v.validate('["a", "b", "c", "d"]', {})
    assert len(res.error_spans) == 2
