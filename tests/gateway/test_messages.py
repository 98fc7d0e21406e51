"""The typed pieces of request bodies, validated directly."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from workbench.gateway.messages import ChatMessage, ImagePart, Int, Num, ResponseFormat, Tool


class _Numbers(BaseModel):
    i: Int | None = None
    f: Num | None = None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"i": 3}, (3, None)),
        ({"i": 3.0}, (3, None)),
        ({"f": 1}, (None, 1.0)),
        ({"f": 0.5}, (None, 0.5)),
    ],
)
def test_numbers_accept_json_numbers(data: dict[str, Any], expected: tuple[Any, Any]) -> None:
    n = _Numbers.model_validate(data)
    assert (n.i, n.f) == expected


@pytest.mark.parametrize("data", [{"i": True}, {"i": "3"}, {"i": 3.5}, {"f": False}, {"f": "1"}])
def test_numbers_refuse_strings_and_booleans(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _Numbers.model_validate(data)


def test_message_keeps_unknown_keys_and_types_parts() -> None:
    m = ChatMessage.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
            "x-trace": "t",
        }
    )
    assert isinstance(m.content, list) and isinstance(m.content[1], ImagePart)
    dumped = m.model_dump(exclude_unset=True, exclude_none=True)
    assert dumped["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert dumped["x-trace"] == "t"


@pytest.mark.parametrize(
    "data",
    [
        {"role": "user"},
        {"role": "system", "content": None},
        {"role": "tool", "content": [{"type": "refusal", "refusal": "no"}]},
        {
            "role": "assistant",
            "content": [{"type": "image_url", "image_url": {"url": "https://a"}}],
        },
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "javascript:x"}}]},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://a", "detail": "max"}}],
        },
    ],
)
def test_message_refusals(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ChatMessage.model_validate(data)


def test_assistant_may_omit_content() -> None:
    assert ChatMessage.model_validate({"role": "assistant"}).content is None


def test_tools_and_response_format() -> None:
    Tool.model_validate({"type": "web_search"})
    with pytest.raises(ValidationError):
        Tool.model_validate({"type": "function"})
    with pytest.raises(ValidationError):
        Tool.model_validate({"type": "function", "function": {"name": "f", "strict": "yes"}})
    assert ResponseFormat.model_validate({"type": "json_object"}).type == "json_object"
    with pytest.raises(ValidationError):
        ResponseFormat.model_validate({"type": "json_schema"})
