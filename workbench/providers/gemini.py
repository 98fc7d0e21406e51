"""``gemini``: Google's Gemini API (``generateContent`` / ``streamGenerateContent``).

``POST {base_url}/v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse`` (the target's ``api_version`` replaces ``v1beta``).
The key goes in the ``x-goog-api-key`` header, never in the URL query, so it cannot
leak through a URL in an error message. Translation:

- ``system``/``developer`` messages -> ``systemInstruction``; ``user`` -> role
  ``user``, ``assistant`` -> role ``model``; text parts -> ``{"text"}``, base64 data
  URL images -> ``inlineData`` (http URLs and tool messages are refused);
- ``generationConfig``: ``maxOutputTokens``, ``temperature``, ``topP``,
  ``stopSequences``, ``seed``; passthrough ``top_k``/``presence_penalty``/
  ``frequency_penalty`` -> ``topK``/``presencePenalty``/``frequencyPenalty``;
- responses: the first candidate's text parts (thoughts skipped); ``finishReason``
  STOP -> stop, MAX_TOKENS -> length, SAFETY/RECITATION/BLOCKLIST/PROHIBITED_CONTENT/
  SPII/IMAGE_SAFETY (and a blocked prompt) -> content_filter, others -> stop; usage
  from ``usageMetadata`` (``promptTokenCount``, ``candidatesTokenCount`` +
  ``thoughtsTokenCount``);
- streams: SSE frames that are each a ``GenerateContentResponse``, with no ``[DONE]``;
  the last frame carries ``finishReason`` and usage. A stream that ends without a
  ``finishReason`` is ``upstream_stream_broken``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workbench.errors import InvalidRequestError
from workbench.providers._content import (
    content_parts,
    image_url_of,
    obj_at,
    split_data_url,
    text_of,
)
from workbench.providers._http import HttpProvider, passthrough, validate_remote
from workbench.providers._types import ChatRequest, Completion, Delta

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget
    from workbench.providers._registry import ProviderRegistry

DEFAULT_API = "v1beta"
#: OpenAI-named passthrough fields and their generationConfig names.
GEMINI_FIELDS = {
    "top_k": "topK",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def finish_reason(reason: str) -> str:
    """Our finish reason for a Gemini ``finishReason``."""
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED:
        return "content_filter"
    return "stop"


def _validate(target: ModelTarget) -> None:
    validate_remote(target, "gemini")


def _part(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return {"text": str(part.get("text") or "")}
    if kind == "image_url":
        data = split_data_url(image_url_of(part))
        if data is None:
            raise InvalidRequestError(
                "gemini models take images as base64 data URLs only", param="messages"
            )
        return {"inlineData": {"mimeType": data[0], "data": data[1]}}
    raise InvalidRequestError(
        f"content parts of type {kind!r} cannot be sent to a gemini model",
        param="messages",
        code="unsupported_content",
    )


def gemini_body(req: ChatRequest, allow: tuple[str, ...]) -> dict[str, Any]:
    """The generateContent body for ``req``."""
    if req.messages is None:
        raise InvalidRequestError(
            "gemini models take chat messages, not a prompt", code="unsupported_endpoint"
        )
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for m in req.messages:
        role = m.get("role")
        if role in ("system", "developer"):
            system.append(text_of(m.get("content")))
        elif role in ("user", "assistant"):
            parts = [_part(p) for p in content_parts(m.get("content") or "")]
            contents.append({"role": "user" if role == "user" else "model", "parts": parts})
        else:
            raise InvalidRequestError(
                f"{role!r} messages cannot be sent to a gemini model",
                param="messages",
                code="unsupported_message",
            )
    extra = passthrough(req.extra, GEMINI_FIELDS, allow)
    config = {GEMINI_FIELDS[k]: extra.pop(k) for k in list(extra) if k in GEMINI_FIELDS}
    p = req.params
    for key, value in (
        ("maxOutputTokens", p.max_tokens),
        ("temperature", p.temperature),
        ("topP", p.top_p),
        ("stopSequences", p.stop or None),
        ("seed", p.seed),
    ):
        if value is not None:
            config[key] = value
    body: dict[str, Any] = {**extra, "contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if config:
        body["generationConfig"] = config
    return body


def _num(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


class GeminiClient(HttpProvider):
    """Calls one Gemini model."""

    provider = "gemini"

    def __init__(self, target: ModelTarget) -> None:
        super().__init__(target)
        api = quote(target.api_version or DEFAULT_API, safe="")
        self.url = f"{self.base_url}/{api}/models/{quote(self.model, safe='')}"

    def auth_headers(self) -> dict[str, str]:
        """The key in ``x-goog-api-key`` (never in the query string)."""
        return {"x-goog-api-key": self.key} if self.key else {}

    def _frame(self, data: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
        """(text, finishReason or None, usageMetadata) of one response or stream frame."""
        if isinstance(data.get("error"), dict):
            raise self.failed(str(data["error"].get("message") or data["error"]))
        usage = obj_at(data, "usageMetadata")
        cands = data.get("candidates")
        if not cands:
            feedback = data.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                return "", "SAFETY", usage
            return "", None, usage
        if not isinstance(cands, list) or not isinstance(cands[0], dict):
            raise self.malformed("candidates that are not a list of objects")
        cand = cands[0]
        content = obj_at(cand, "content")
        parts = content.get("parts") or []
        if not isinstance(parts, list):
            raise self.malformed("content.parts that is not a list")
        text = "".join(
            p["text"]
            for p in parts
            if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")
        )
        reason = cand.get("finishReason")
        return text, str(reason) if reason else None, usage

    @staticmethod
    def _tokens(usage: dict[str, Any]) -> tuple[int, int]:
        out = _num(usage.get("candidatesTokenCount")) + _num(usage.get("thoughtsTokenCount"))
        return _num(usage.get("promptTokenCount")), out

    async def chat(self, req: ChatRequest) -> Completion:
        """A non-streamed generateContent call."""
        data = await self.post_json(
            f"{self.url}:generateContent", gemini_body(req, self.allow_fields)
        )
        if "candidates" not in data and "promptFeedback" not in data:
            raise self.malformed("a response without candidates")
        text, reason, usage = self._frame(data)
        prompt, completion = self._tokens(usage)
        return Completion(
            text=text,
            finish_reason=finish_reason(reason or "STOP"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            upstream_request_id=data.get("responseId"),
        )

    async def stream(self, req: ChatRequest) -> AsyncIterator[Delta]:
        """The streamGenerateContent SSE frames as deltas; the last carries usage."""
        req.stream = True
        url = f"{self.url}:streamGenerateContent?alt=sse"
        resp = await self.post_stream(url, gemini_body(req, self.allow_fields))
        reason: str | None = None
        usage: dict[str, Any] = {}
        response_id: str | None = None
        try:
            async for ev in self.events(resp):
                frame = self.event_json(ev)
                response_id = response_id or frame.get("responseId")
                text, frame_reason, frame_usage = self._frame(frame)
                usage.update(frame_usage)
                reason = frame_reason or reason
                if text:
                    yield Delta(text=text)
        finally:
            resp.release()
        if reason is None:
            raise self.stream_broken("ended the stream without a finishReason")
        prompt, completion = self._tokens(usage)
        yield Delta(
            finish_reason=finish_reason(reason),
            prompt_tokens=prompt,
            completion_tokens=completion,
            upstream_request_id=response_id,
        )


def register(registry: ProviderRegistry) -> None:
    """Entry point: register ``gemini``."""

    @registry.provider(
        "gemini",
        capabilities=("chat",),
        validate=_validate,
        description="Google Gemini API (generateContent, x-goog-api-key)",
    )
    def _factory(target: ModelTarget) -> Any:
        return GeminiClient(target)
