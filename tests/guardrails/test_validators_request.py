"""required_metadata and model_allowlist (read the request, not the text)."""

from __future__ import annotations

from typing import Any


def meta(**request: Any) -> dict[str, Any]:
    return {"stage": "input", "request": request}


def test_required_metadata(make: Any) -> None:
    v = make("required_metadata", keys=["team", "project"], allowed_values={"env": ["dev", "prod"]})
    assert v.validate("hi", meta(metadata={"team": "a", "project": "b"})).outcome == "pass"
    ok_env = meta(metadata={"team": "a", "project": "b", "env": "prod"})
    assert v.validate("hi", ok_env).outcome == "pass"
    res = v.validate("hi", meta(metadata={"team": "a", "project": ""}))
    assert res.outcome == "fail"
    assert res.error_message == "missing request metadata: project"
    assert res.metadata["missing"] == ["project"]
    res = v.validate("hi", meta(metadata={"team": "a", "project": "b", "env": "staging"}))
    assert res.outcome == "fail" and "env='staging' is not one of ['dev', 'prod']" in (
        res.error_message
    )
    assert v.validate("hi", meta()).outcome == "fail"
    assert v.validate("hi", {}).outcome == "fail"


def test_allowed_values_only(make: Any) -> None:
    v = make("required_metadata", allowed_values={"tier": ["gold"]})
    assert v.validate("x", meta(metadata={})).outcome == "pass"
    assert v.validate("x", meta(metadata={"tier": "gold"})).outcome == "pass"
    assert v.validate("x", meta(metadata={"tier": "tin"})).outcome == "fail"


def test_model_allowlist(make: Any) -> None:
    v = make("model_allowlist", models=["gpt-4o*", "local/*", "echo"])
    for model in ["gpt-4o", "gpt-4o-mini", "GPT-4o-2024", "local/tiny", "echo"]:
        assert v.validate("x", meta(model=model)).outcome == "pass", model
    for model in ["gpt-3.5-turbo", "echo-2", "claude"]:
        res = v.validate("x", meta(model=model))
        assert res.outcome == "fail" and res.metadata["model"] == model
    assert v.validate("x", meta()).error_message == "the request names no model"
    strict = make("model_allowlist", models=["gpt-4o"], case_insensitive=False)
    assert strict.validate("x", meta(model="GPT-4o")).outcome == "fail"
