"""Request bodies: 400/422 errors naming the field, ranges that fit the log, content parts."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from aiohttp import web

from workbench.config.gateway import ModelTarget
from workbench.errors import InvalidRequestError, UnprocessableError, WorkbenchError
from workbench.gateway.api import (
    INT64_MAX,
    INT64_MIN,
    MAX_OUTPUT_TOKENS,
    ChatCompletionBody,
    CompletionBody,
    EmbeddingBody,
    chat_request,
    check_capabilities,
    check_embedding_request,
    completion_request,
    image_parts,
    parse_body,
)
from workbench.logstore import LogWriter, query
from workbench.logstore.schema import FIELDS
from workbench.providers.openai_compat import OpenAICompatClient

USER = [{"role": "user", "content": "hi"}]
IMAGE = {"type": "image_url", "image_url": {"url": "https://img.test/cat.png", "detail": "low"}}


def _raw(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER, **fields}


def _err(body: Any, model: type = ChatCompletionBody) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as info:
        parsed = parse_body(_raw(body), model)
        if isinstance(parsed, ChatCompletionBody):
            chat_request(parsed, "m", None)
    err = info.value
    shape = err.to_body()
    assert set(shape) == {"error"} and set(shape["error"]) == {"message", "type", "code", "param"}
    assert err.status in (400, 422) and err.message
    return err


def _unprocessable(body: Any, param: str, model: type = ChatCompletionBody) -> str:
    err = _err(body, model)
    assert isinstance(err, UnprocessableError), err.to_body()
    assert err.status == 422 and err.param == param, err.to_body()
    assert err.message.startswith(f"{param}: ")
    return err.message


# -- body-level errors ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"  ", b"[]", b"42", b'"x"', b"null", b"[1, 2]"])
def test_non_object_bodies_are_400(raw: bytes) -> None:
    err = _err(raw)
    assert err.status == 400 and err.param is None


def test_malformed_json_is_400_invalid_json() -> None:
    err = _err(b'{"model": "m", "messages": [')
    assert err.status == 400 and err.code == "invalid_json"


# -- nested type errors name the dotted path ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (_chat(messages=[1, 2]), "messages.0"),
        (_chat(messages="hi"), "messages"),
        (_chat(stream_options="x"), "stream_options"),
        (_chat(stream_options={"include_usage": "yes"}), "stream_options.include_usage"),
        (_chat(stream_options={"bogus": True}), "stream_options.bogus"),
        (_chat(messages=[{"role": "wizard", "content": "x"}]), "messages.0.role"),
        (_chat(messages=[{"role": "user", "content": 5}]), "messages.0.content"),
        (
            _chat(messages=[{"role": "user", "content": [{"type": "video"}]}]),
            "messages.0.content.0",
        ),
        (_chat(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages.0.content.0"),
        (
            _chat(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]),
            "messages.0.content.0.text",
        ),
        (
            _chat(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
            "messages.0.content.0.image_url",
        ),
        (
            _chat(
                messages=[
                    {"role": "user", "content": [{"type": "image_url", "image_url": {}}]},
                ]
            ),
            "messages.0.content.0.image_url.url",
        ),
        (
            _chat(
                messages=[
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "file:///etc"}}],
                    }
                ]
            ),
            "messages.0.content.0.image_url.url",
        ),
        (_chat(messages=[USER[0], {"role": "user"}]), "messages.1.content"),
        (
            _chat(messages=[{"role": "system", "content": [IMAGE]}]),
            "messages.0.content",
        ),
        (
            _chat(
                messages=[
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": 1}}],
                    }
                ]
            ),
            "messages.0.tool_calls.0.function.name",
        ),
        (_chat(metadata={"k": 1}), "metadata.k"),
    ],
)
def test_nested_errors_are_422_with_dotted_param(body: dict[str, Any], param: str) -> None:
    _unprocessable(body, param)


def test_missing_fields_are_named() -> None:
    err = _err({"messages": USER})
    assert err.status == 422 and err.param == "model" and err.code == "missing_required_parameter"
    err = _err({"model": "m"})
    assert err.param == "messages" and err.code == "missing_required_parameter"


def test_union_type_errors_list_the_accepted_types() -> None:
    msg = _unprocessable(_chat(messages=[{"role": "user", "content": 5}]), "messages.0.content")
    assert "string" in msg and "array" in msg


# -- strict booleans, lenient numbers -------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {}])
def test_stream_must_be_a_json_boolean(value: Any) -> None:
    _unprocessable(_chat(stream=value), "stream")


@pytest.mark.parametrize("field", ["logprobs", "parallel_tool_calls", "store"])
def test_boolean_params_are_strict(field: str) -> None:
    _unprocessable(_chat(**{field: "true"}), field)
    body = parse_body(_raw(_chat(**{field: False})), ChatCompletionBody)
    assert getattr(body, field) is False


def test_echo_is_strict_for_completions() -> None:
    _unprocessable({"model": "m", "prompt": "x", "echo": 1}, "echo", CompletionBody)


def test_numbers_accept_ints_and_integral_floats_but_not_strings_or_booleans() -> None:
    body = parse_body(_raw(_chat(temperature=1, max_tokens=5.0, top_p=0.5)), ChatCompletionBody)
    assert body.temperature == 1.0 and body.max_tokens == 5 and body.top_p == 0.5
    _unprocessable(_chat(max_tokens=5.5), "max_tokens")
    _unprocessable(_chat(max_tokens="5"), "max_tokens")
    _unprocessable(_chat(max_tokens=True), "max_tokens")
    _unprocessable(_chat(temperature="0.5"), "temperature")
    _unprocessable(_chat(seed=False), "seed")


# -- ranges: every logged number fits its log column -----------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", 3_000_000_000),
        ("max_tokens", MAX_OUTPUT_TOKENS + 1),
        ("max_tokens", 0),
        ("max_completion_tokens", 3_000_000_000),
        ("seed", INT64_MAX + 1),
        ("seed", INT64_MIN - 1),
        ("seed", 10**30),
        ("n", 40_000),
        ("n", 0),
        ("temperature", 2.5),
        ("temperature", -0.1),
        ("top_p", 0),
        ("top_p", 1.01),
        ("presence_penalty", 2.5),
        ("frequency_penalty", -3),
        ("top_logprobs", 21),
    ],
)
def test_out_of_range_numbers_are_422(field: str, value: Any) -> None:
    extra = {"logprobs": True} if field == "top_logprobs" else {}
    _unprocessable(_chat(**{field: value}, **extra), field)


def test_non_finite_floats_are_422() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e999}'
    err = _err(raw)
    assert err.status == 422 and err.param == "temperature"
    raw = b'{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":NaN}'
    assert _err(raw).param == "top_p"


def _int_range(t: pa.DataType) -> tuple[int, int]:
    bits = t.bit_width
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@pytest.mark.parametrize(
    ("field", "column"), [("max_tokens", "max_tokens"), ("seed", "seed"), ("n", "n")]
)
def test_declared_bounds_fit_the_log_columns(field: str, column: str) -> None:
    col = {f.name: f.type for f in FIELDS}[column]
    lo, hi = _int_range(col)
    meta = ChatCompletionBody.model_fields[field].metadata
    ge = next(m.ge for m in meta if getattr(m, "ge", None) is not None)
    le = next(m.le for m in meta if getattr(m, "le", None) is not None)
    assert lo <= ge and le <= hi, (field, ge, le, col)


def test_extreme_accepted_values_are_written_to_the_log(wb_home: Path) -> None:
    rows = []
    for i, seed in enumerate((INT64_MIN, INT64_MAX)):
        body = parse_body(
            _raw(_chat(max_completion_tokens=MAX_OUTPUT_TOKENS, seed=seed, n=1, temperature=2)),
            ChatCompletionBody,
        )
        creq = chat_request(body, "m", None)
        rows.append(
            {
                "request_id": f"r{i}",
                "received_at": time.time(),
                "max_tokens": creq.params.max_tokens,
                "seed": body.seed,
                "n": body.n,
                "temperature": body.temperature,
                "top_p": 1.0,
            }
        )
    with LogWriter(wb_home / "logs") as writer:
        assert writer.append(rows) == 2
        writer.flush()
    got = query("SELECT max_tokens, seed, n FROM requests ORDER BY seed", wb_home / "logs")
    assert got.rows() == [(MAX_OUTPUT_TOKENS, INT64_MIN, 1), (MAX_OUTPUT_TOKENS, INT64_MAX, 1)]


# -- known OpenAI params: type-checked, passed through --------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": [1]}, "tools.0"),
        ({"tools": [{"type": "function"}]}, "tools.0"),
        (
            {"tools": [{"type": "function", "function": {"name": "has space"}}]},
            "tools.0.function.name",
        ),
        ({"tool_choice": 5}, "tool_choice"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {}}, "tool_choice.type"),
        ({"response_format": "json"}, "response_format"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"logit_bias": [1]}, "logit_bias"),
        ({"logit_bias": {"abc": 1}}, "logit_bias.abc"),
        ({"logit_bias": {"42": 101}}, "logit_bias.42"),
        ({"logit_bias": {"42": "1"}}, "logit_bias.42"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"service_tier": 1}, "service_tier"),
        ({"functions": [{"name": 3}]}, "functions.0.name"),
    ],
)
def test_known_params_are_type_checked(fields: dict[str, Any], param: str) -> None:
    _unprocessable(_chat(**fields), param)


def test_known_and_unknown_params_reach_extra_unchanged() -> None:
    sent = {
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
                "x-vendor": 1,
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {}}},
        "logprobs": True,
        "top_logprobs": 2,
        "presence_penalty": 0.5,
        "frequency_penalty": -1,
        "logit_bias": {"50256": -100},
        "service_tier": "auto",
        "store": False,
        "modalities": ["text"],
        "prediction": {"type": "content", "content": "x"},
    }
    creq = chat_request(parse_body(_raw(_chat(**sent)), ChatCompletionBody), "up", 7)
    assert creq.extra == sent
    assert creq.model == "up" and creq.params.max_tokens == 7
    comp = parse_body(
        _raw({"model": "m", "prompt": ["x"], "logprobs": 3, "echo": True, "suffix": "s"}),
        CompletionBody,
    )
    creq = completion_request(comp, "up", None)
    assert creq.prompt == "x" and creq.extra == {"logprobs": 3, "echo": True, "suffix": "s"}


def test_n_other_than_one_is_refused_400() -> None:
    err = _err(_chat(n=2))
    assert err.status == 400 and err.param == "n" and err.code == "unsupported_value"


# -- content parts ---------------------------------------------------------------------------


def _vision_body() -> dict[str, Any]:
    return _chat(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "what is it?"}, IMAGE]},
        ]
    )


def test_image_parts_are_counted_and_kept_with_the_text_parts() -> None:
    creq = chat_request(parse_body(_raw(_vision_body()), ChatCompletionBody), "m", None)
    assert image_parts(creq) == 1
    assert creq.messages == _vision_body()["messages"]
    assert image_parts(chat_request(parse_body(_raw(_chat()), ChatCompletionBody), "m", None)) == 0


def test_images_are_refused_for_targets_without_vision() -> None:
    creq = chat_request(parse_body(_raw(_vision_body()), ChatCompletionBody), "m", None)
    with pytest.raises(InvalidRequestError) as info:
        check_capabilities(creq, ModelTarget(name="text-only", provider="echo"))
    err = info.value
    assert err.status == 400 and err.code == "unsupported_content"
    assert err.param == "messages.1.content.1" and "text-only" in err.message
    check_capabilities(creq, ModelTarget(name="seer", provider="echo", vision=True))
    plain = chat_request(parse_body(_raw(_chat()), ChatCompletionBody), "m", None)
    check_capabilities(plain, ModelTarget(name="text-only", provider="echo"))


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-1"}},
    ],
)
def test_audio_and_file_parts_are_refused_clearly(part: dict[str, Any]) -> None:
    body = _chat(messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, part]}])
    err = _err(body)
    assert err.status == 400 and err.code == "unsupported_content"
    assert err.param == "messages.0.content.1"


def test_refusal_parts_only_in_assistant_messages() -> None:
    refusal = {"type": "refusal", "refusal": "no"}
    ok = _chat(messages=[USER[0], {"role": "assistant", "content": [refusal]}, USER[0]])
    assert parse_body(_raw(ok), ChatCompletionBody).messages[1].role == "assistant"
    _unprocessable(_chat(messages=[{"role": "user", "content": [refusal]}]), "messages.0.content")


def test_assistant_tool_call_messages_pass_through() -> None:
    msgs = [
        USER[0],
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]
    creq = chat_request(parse_body(_raw(_chat(messages=msgs)), ChatCompletionBody), "m", None)
    assert creq.messages == [msgs[0], {k: v for k, v in msgs[1].items() if v is not None}, msgs[2]]


async def test_image_parts_reach_an_openai_compatible_upstream_unchanged() -> None:
    seen: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(
            {
                "id": "up-1",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "a cat"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    target = ModelTarget(
        name="seer",
        provider="openai-compatible",
        model="vision-up",
        base_url=f"http://127.0.0.1:{port}/v1",
        vision=True,
    )
    client = OpenAICompatClient(target)
    try:
        creq = chat_request(parse_body(_raw(_vision_body()), ChatCompletionBody), "vision-up", 16)
        check_capabilities(creq, target)
        done = await client.chat(creq)
    finally:
        await client.close()
        await runner.cleanup()
    assert done.text == "a cat"
    assert seen[0]["messages"] == _vision_body()["messages"]
    assert seen[0]["model"] == "vision-up"


# -- embeddings --------------------------------------------------------------------------------


def test_embedding_dimensions_checked_against_the_configured_size() -> None:
    body = parse_body(_raw({"model": "e", "input": "x", "dimensions": 512}), EmbeddingBody)
    with pytest.raises(UnprocessableError) as info:
        check_embedding_request(body, ModelTarget(name="e", provider="echo", dimensions=384))
    assert info.value.status == 422 and info.value.param == "dimensions"
    check_embedding_request(body, ModelTarget(name="e", provider="echo", dimensions=512))
    check_embedding_request(body, ModelTarget(name="e", provider="echo"))


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": 10**6}, "dimensions"),
        ({"dimensions": "8"}, "dimensions"),
        ({"input": []}, "input"),
        ({"input": ["a", 2]}, "input.1"),
        ({"encoding_format": "hex"}, "encoding_format"),
    ],
)
def test_embedding_body_errors(fields: dict[str, Any], param: str) -> None:
    _unprocessable({"model": "e", "input": "x", **fields}, param, EmbeddingBody)


# -- fuzz: never anything but an OpenAI-shaped 400/422 ---------------------------------------

_PIECES = [b"{", b"}", b"[", b"]", b'"model"', b":", b",", b'"messages"', b"null", b"1e999",
           b'"\\ud800"', b"\xff\xfe", b'{"role":"user"}', b"true", b'"echo"', b"-0"]  # fmt: skip
_VALUES: list[Any] = [None, True, 0, -1, 2**70, 1.5, "", "x", [], {}, [1], {"a": 1}, [{}]]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(_VALUES)
    if rng.random() < 0.5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["type", "text", "image_url", "url", "role", "content", "function", "name", "z"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _mutate(rng: random.Random, body: Any) -> Any:
    """Replace one random node of ``body`` with random JSON."""
    if not isinstance(body, dict | list) or not body or rng.random() < 0.25:
        return _random_json(rng)
    key = rng.choice(list(body)) if isinstance(body, dict) else rng.randrange(len(body))
    body[key] = _mutate(rng, body[key])
    return body


@pytest.mark.parametrize("model", [ChatCompletionBody, CompletionBody, EmbeddingBody])
def test_garbage_gives_openai_shaped_client_errors(model: type) -> None:
    rng = random.Random(1234)
    seeds: dict[type, dict[str, Any]] = {
        ChatCompletionBody: {**_vision_body(), "tools": [{"type": "function", "function": {
            "name": "f"}}], "stream_options": {"include_usage": True}},
        CompletionBody: {"model": "m", "prompt": ["x"], "logit_bias": {"1": 1}},
        EmbeddingBody: {"model": "e", "input": ["a", "b"], "dimensions": 8},
    }  # fmt: skip
    for i in range(600):
        if i % 3 == 0:
            raw = b"".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 12)))
        else:
            raw = json.dumps(_mutate(rng, json.loads(json.dumps(seeds[model])))).encode()
        try:
            body = parse_body(raw, model)
            if isinstance(body, ChatCompletionBody):
                chat_request(body, "m", None)
            elif isinstance(body, CompletionBody):
                completion_request(body, "m", None)
        except InvalidRequestError as err:
            assert err.status in (400, 422), (raw, err.to_body())
            assert err.message, raw
            if err.param is not None:  # a field of the body, never a pydantic union tag
                segs = err.param.split(".")
                assert segs[0] in model.model_fields, (raw, err.to_body())
                assert not any("[" in s or "function-" in s for s in segs), (raw, err.to_body())
