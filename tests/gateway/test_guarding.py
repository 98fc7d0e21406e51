"""RequestGuard: input checks read every text a caller sends (each check only its roles),
rewrite the right slot in place, cover embedding inputs, and nothing a secret/PII check
flagged reaches the log record, the verdicts or a client message unmasked."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from guardrails.validators import register_validator

from workbench.errors import GuardrailDeniedError
from workbench.gateway.guarding import RequestGuard
from workbench.guardrails import CheckRegistry
from workbench.guardrails._masking import mask_body
from workbench.guardrails.engine import GuardrailEngine
from workbench.guardrails.validators._base import CheapValidator, Params, fail, ok
from workbench.pipeline.context import RequestContext
from workbench.policy import parse_policy
from workbench.policy.model import ROLES
from workbench.providers import ChatRequest

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
EMAIL = "jane.doe@example.com"


class QuoteParams(Params):
    word: str


@register_validator(name="tests/quote", data_type="string")
class QuoteCheck(CheapValidator[QuoteParams]):
    """A check whose message and span reason quote what it matched."""

    check_name = "quote"
    params_model = QuoteParams

    def check(self, value: str, metadata: dict[str, Any]) -> Any:
        i = value.find(self.params.word)
        if i < 0:
            return ok()
        w = self.params.word
        return fail(f"found {w!r}", [(i, i + len(w), f"QUOTED: {w}")])


@pytest.fixture(scope="module")
def reg() -> CheckRegistry:
    from workbench.guardrails.validators import register

    r = CheckRegistry()
    r._loaded = True  # only the built-in cheap checks and the quoting stand-in
    register(r)
    r.check("quote", params=QuoteParams)(lambda p: QuoteCheck(p))
    return r


def engine(reg: CheckRegistry, inp: list[dict[str, Any]], **extra: Any) -> GuardrailEngine:
    pol = parse_policy({"id": "t", "input": inp, **extra}, registry=reg)
    return GuardrailEngine(pol, registry=reg)


def deny_secrets(**kw: Any) -> dict[str, Any]:
    return {"name": "block-secrets", "validator": "secrets", "on_fail": "deny", **kw}


def redact_pii(**kw: Any) -> dict[str, Any]:
    return {"name": "redact-pii", "validator": "pii", "on_fail": "redact", **kw}


def chat(messages: list[dict[str, Any]], **extra: Any) -> tuple[RequestContext, ChatRequest]:
    body = {"model": "m", "messages": messages, "temperature": 0.5, **extra}
    ctx = RequestContext(endpoint="/v1/chat/completions", model_requested="m")
    ctx.request_body = json.dumps(body)
    return ctx, ChatRequest(model="m", messages=[dict(m) for m in messages], extra=dict(extra))


def tool(description: str = "Look up an order", parameters: Any = None) -> dict[str, Any]:
    params = parameters or {"type": "object", "properties": {"id": {"type": "string"}}}
    return {
        "type": "function",
        "function": {"name": "lookup", "description": description, "parameters": params},
    }


def record_text(ctx: RequestContext) -> str:
    return json.dumps(ctx.to_record())


# --- every text a caller sends, by role ---------------------------------------------

SECRET_PLACES = {
    "system": ([{"role": "system", "content": f"key {AWS_KEY}"}], {}),
    "developer": ([{"role": "developer", "content": f"key {AWS_KEY}"}], {}),
    "assistant": ([{"role": "assistant", "content": f"key {AWS_KEY}"}], {}),
    "content parts": (
        [{"role": "user", "content": [{"type": "text", "text": f"key {AWS_KEY}"}]}],
        {},
    ),
    "tool-call arguments": (
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": json.dumps({"k": AWS_KEY})},
                    }
                ],
            }
        ],
        {},
    ),
    "tool description": ([], {"tools": [tool(f"uses key {AWS_KEY}")]}),
    "tool schema": (
        [],
        {"tools": [tool(parameters={"type": "object", "default": {"key": AWS_KEY}})]},
    ),
    "response_format": (
        [],
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"const": AWS_KEY}},
            }
        },
    ),
}


@pytest.mark.parametrize("place", sorted(SECRET_PLACES))
async def test_a_secret_anywhere_in_the_request_is_denied(reg: CheckRegistry, place: str) -> None:
    messages, extra = SECRET_PLACES[place]
    ctx, req = chat([*messages, {"role": "user", "content": "hi"}], **extra)
    guard = RequestGuard(engine(reg, [deny_secrets()]), ctx, req)
    with pytest.raises(GuardrailDeniedError) as info:
        await guard.check_input()
    assert info.value.param == "input.block-secrets"
    assert AWS_KEY not in info.value.message and AWS_KEY not in json.dumps(info.value.to_body())
    assert AWS_KEY not in (ctx.request_body or "")
    ctx.fail(info.value)
    guard.mask_bodies()
    assert AWS_KEY not in record_text(ctx)


async def test_a_prompt_is_checked_as_role_prompt(reg: CheckRegistry) -> None:
    ctx = RequestContext(endpoint="/v1/completions", model_requested="m")
    req = ChatRequest(model="m", prompt=f"mail {EMAIL}")
    eng = engine(reg, [redact_pii(roles=["prompt"])])
    await RequestGuard(eng, ctx, req).check_input()
    assert req.prompt == "mail <EMAIL_ADDRESS>"


async def test_checks_read_only_their_roles(reg: CheckRegistry) -> None:
    messages = [
        {"role": "system", "content": f"key {AWS_KEY}"},
        {"role": "user", "content": "hello"},
    ]
    ctx, req = chat(messages)
    guard = RequestGuard(engine(reg, [deny_secrets(roles=["user", "tool"])]), ctx, req)
    await guard.check_input()  # the system message is not this check's business
    assert ctx.guardrail_verdicts[0]["passed"] is True
    ctx2, req2 = chat(messages)
    guard2 = RequestGuard(engine(reg, [deny_secrets(roles=["system"])]), ctx2, req2)
    with pytest.raises(GuardrailDeniedError):
        await guard2.check_input()
    span = ctx2.guardrail_verdicts[0]["spans"][0]
    assert (span["where"], span["role"]) == ("messages[0].content", "system")


async def test_a_check_whose_roles_are_absent_leaves_no_verdict(reg: CheckRegistry) -> None:
    ctx, req = chat([{"role": "user", "content": "hello"}])
    eng = engine(reg, [deny_secrets(roles=["tools"]), redact_pii()])
    await RequestGuard(eng, ctx, req).check_input()
    assert [v["check"] for v in ctx.guardrail_verdicts] == ["redact-pii"]


# --- redact / fix rewrite the right slot ---------------------------------------------


async def test_redact_rewrites_each_slot_in_place(reg: CheckRegistry) -> None:
    args = json.dumps({"to": EMAIL, "n": 1})
    messages = [
        {"role": "system", "content": f"Escalate to {EMAIL}."},
        {"role": "user", "content": [
            {"type": "text", "text": "first part"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "text", "text": f"write to {EMAIL}"},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "send", "arguments": args}},
        ]},
    ]  # fmt: skip
    original = json.loads(json.dumps(messages))
    ctx, req = chat(messages, tools=[tool(f"Mails {EMAIL}")])
    await RequestGuard(engine(reg, [redact_pii()]), ctx, req).check_input()
    msgs = req.messages or []
    assert msgs[0]["content"] == "Escalate to <EMAIL_ADDRESS>."
    assert msgs[1]["content"][0] == {"type": "text", "text": "first part"}
    assert msgs[1]["content"][1]["type"] == "image_url"
    assert msgs[1]["content"][2]["text"] == "write to <EMAIL_ADDRESS>"
    call_args = json.loads(msgs[2]["tool_calls"][0]["function"]["arguments"])
    assert call_args == {"to": "<EMAIL_ADDRESS>", "n": 1}
    assert req.extra["tools"][0]["function"]["description"] == "Mails <EMAIL_ADDRESS>"
    assert messages == original  # the caller's objects are copied, not changed
    logged = json.loads(ctx.request_body or "")
    assert logged["temperature"] == 0.5 and logged["messages"] == msgs
    assert EMAIL not in record_text(ctx)


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [tool(parameters={"type": "object", "description": f"owner {EMAIL}"})]},
        {"response_format": {"type": "json_schema", "json_schema": {"description": EMAIL}}},
    ],
)
async def test_redact_inside_a_schema_refuses_the_request(
    reg: CheckRegistry, extra: dict[str, Any]
) -> None:
    ctx, req = chat([{"role": "user", "content": "hi"}], **extra)
    guard = RequestGuard(engine(reg, [redact_pii()]), ctx, req)
    with pytest.raises(GuardrailDeniedError) as info:
        await guard.check_input()
    assert info.value.param == "input.redact-pii"
    assert "cannot be rewritten safely" in info.value.message and EMAIL not in info.value.message
    assert req.extra == extra  # nothing was half-rewritten
    assert EMAIL not in (ctx.request_body or "")


# --- embeddings ---------------------------------------------------------------------


async def test_embedding_inputs_are_checked_and_rewritten(reg: CheckRegistry) -> None:
    ctx = RequestContext(endpoint="/v1/embeddings", model_requested="e")
    ctx.request_body = json.dumps({"model": "e", "input": ["plain", f"mail {EMAIL}"]})
    texts = ["plain", f"mail {EMAIL}"]
    guard = RequestGuard.for_embeddings(engine(reg, [redact_pii()]), ctx, texts)
    await guard.check_input()
    assert guard.texts == ["plain", "mail <EMAIL_ADDRESS>"]
    assert texts == ["plain", f"mail {EMAIL}"]  # the caller's list is not changed
    assert json.loads(ctx.request_body or "")["input"] == guard.texts


async def test_embedding_input_deny_and_roles(reg: CheckRegistry) -> None:
    ctx = RequestContext(endpoint="/v1/embeddings", model_requested="e")
    guard = RequestGuard.for_embeddings(engine(reg, [deny_secrets()]), ctx, [AWS_KEY])
    with pytest.raises(GuardrailDeniedError) as info:
        await guard.check_input()
    assert info.value.param == "input.block-secrets" and AWS_KEY not in info.value.message
    only_chat = engine(reg, [deny_secrets(roles=[r for r in ROLES if r != "embedding_input"])])
    await RequestGuard.for_embeddings(only_chat, ctx, [AWS_KEY]).check_input()


# --- nothing flagged reaches the log unmasked -----------------------------------------


@pytest.mark.parametrize("action", ["deny", "flag", "noop", "redact"])
@pytest.mark.parametrize("redact_bodies", [True, False])
async def test_flagged_secret_is_masked_in_the_record_whatever_the_action(
    reg: CheckRegistry, action: str, redact_bodies: bool
) -> None:
    check = {"name": "s", "validator": "secrets", "on_fail": action}
    eng = engine(reg, [check], logging={"store_bodies": True, "redact_bodies": redact_bodies})
    ctx, req = chat([{"role": "system", "content": f"use {AWS_KEY} please"}])
    guard = RequestGuard(eng, ctx, req)
    try:
        await guard.check_input()
    except GuardrailDeniedError as err:
        ctx.fail(err)
    guard.mask_bodies()
    rec = record_text(ctx)
    assert AWS_KEY not in rec and "<SECRET>" in (ctx.request_body or "")
    assert ctx.guardrail_verdicts[0]["passed"] is False
    if action != "redact":
        assert (req.messages or [])[0]["content"] == f"use {AWS_KEY} please"  # sent as is


async def test_escaped_secret_in_the_raw_body_is_masked(reg: CheckRegistry) -> None:
    ctx, req = chat([{"role": "user", "content": f"k {AWS_KEY}"}])
    escaped = "\\u0041" + AWS_KEY[1:]
    ctx.request_body = '{"model":"m","messages":[{"role":"user","content":"k ' + escaped + '"}]}'
    guard = RequestGuard(engine(reg, [deny_secrets(on_fail="flag")]), ctx, req)
    await guard.check_input()
    body = ctx.request_body or ""
    assert AWS_KEY not in json.dumps(json.loads(body)) and escaped not in body
    assert json.loads(body)["messages"][0]["content"] == "k <SECRET>"


async def test_log_only_input_checks_mask_too(reg: CheckRegistry) -> None:
    eng = engine(reg, [redact_pii(on_fail="flag", mode="log_only")])
    ctx, req = chat([{"role": "user", "content": f"mail {EMAIL}"}])
    guard = RequestGuard(eng, ctx, req)
    await guard.check_input()
    assert ctx.pending
    await asyncio.gather(*ctx.pending)
    guard.mask_bodies()
    assert EMAIL not in record_text(ctx) and "<EMAIL_ADDRESS>" in (ctx.request_body or "")


async def test_output_and_stream_findings_mask_the_response_body(reg: CheckRegistry) -> None:
    out_check = {"name": "out-secrets", "validator": "secrets", "on_fail": "flag"}
    pol = parse_policy({"id": "t", "output": [out_check]}, registry=reg)
    eng = GuardrailEngine(pol, registry=reg)
    ctx, req = chat([{"role": "user", "content": "tell me"}])
    guard = RequestGuard(eng, ctx, req)
    answer = f"Here: {AWS_KEY}"
    out = await guard.check_output(answer)
    assert out.deny is None and out.texts == [answer]  # flag: delivered unchanged
    ctx.response_body = json.dumps({"choices": [{"message": {"content": answer}}]})
    guard.mask_bodies()
    assert AWS_KEY not in record_text(ctx)

    sctx, sreq = chat([{"role": "user", "content": "stream it"}])
    sguard = RequestGuard(eng, sctx, sreq)
    stream = sguard.stream_guard()
    parts = await stream.feed(f"Your key is {AWS_KEY} ok. ")
    parts += await stream.finish()
    sctx.response_body = "".join(parts)
    assert AWS_KEY in sctx.response_body  # flag: the client got it; the log must not
    sguard.mask_bodies()  # record_stream not called: the guard still knows its streams
    assert AWS_KEY not in (sctx.response_body or "")
    sguard.record_stream(stream)
    sguard.mask_bodies()
    assert AWS_KEY not in record_text(sctx)


async def test_mask_in_log_makes_any_check_sensitive_and_scrubs_its_message(
    reg: CheckRegistry,
) -> None:
    word = "Project-Bluebird"
    quote = {"name": "codename", "validator": "quote", "params": {"word": word}}
    plain_ctx, plain_req = chat([{"role": "user", "content": f"about {word}"}])
    with pytest.raises(GuardrailDeniedError) as plain:
        await RequestGuard(engine(reg, [quote]), plain_ctx, plain_req).check_input()
    assert word in plain.value.message  # not sensitive: its message may quote the match
    ctx, req = chat([{"role": "user", "content": f"about {word}"}])
    guard = RequestGuard(engine(reg, [{**quote, "mask_in_log": True}]), ctx, req)
    with pytest.raises(GuardrailDeniedError) as info:
        await guard.check_input()
    ctx.fail(info.value)
    guard.mask_bodies()
    assert word not in info.value.message and word not in record_text(ctx)
    assert ctx.guardrail_verdicts[0]["spans"][0]["reason"] == "QUOTED: <QUOTED>"


async def test_mask_in_log_false_keeps_matches_readable(reg: CheckRegistry) -> None:
    ctx, req = chat([{"role": "user", "content": f"mail {EMAIL}"}])
    guard = RequestGuard(engine(reg, [redact_pii(on_fail="flag", mask_in_log=False)]), ctx, req)
    await guard.check_input()
    guard.mask_bodies()
    assert EMAIL in (ctx.request_body or "")


def test_mask_body_keeps_json_valid_and_masks_numbers_and_keys() -> None:
    body = json.dumps({"a": {"4111111111111111": 4111111111111111}, "max_tokens": 5})
    masked = mask_body(body, [("4111111111111111", "CREDIT_CARD")])
    assert json.loads(masked or "") == {"a": {"<CREDIT_CARD>": "<CREDIT_CARD>"}, "max_tokens": 5}
    assert mask_body("plain text 4111111111111111.", [("4111111111111111", "CC")]) == (
        "plain text <CC>."
    )
    assert mask_body(body, []) == body


def test_stream_guard_takes_the_policy_bounds(reg: CheckRegistry) -> None:
    streaming = {"window": "tokens", "max_window_chars": 50, "max_window_tokens": 7}
    eng = engine(reg, [], streaming={**streaming, "max_window_ms": 90})
    ctx, req = chat([{"role": "user", "content": "hi"}])
    sg = RequestGuard(eng, ctx, req).stream_guard()
    assert (sg.window, sg.max_chars, sg.max_tokens, sg.max_ms) == ("tokens", 50, 7, 90.0)
