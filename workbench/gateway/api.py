"""OpenAI request bodies: parsed and validated into provider-neutral requests.

Unknown top-level fields are kept and passed through to remote providers (tools,
response_format, ...). Malformed JSON is a 400; a body that fails validation is a
422 whose ``param`` names the offending field.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.errors import InvalidRequestError, UnprocessableError
from workbench.providers import ChatRequest, GenerationParams


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class StreamOptions(BaseModel):
    """``stream_options``."""

    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class ChatMessage(_Open):
    """One chat message; extra keys (tool_calls, ...) are kept."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class _Sampling(_Open):
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(None, ge=1, le=128)
    user: str | None = Field(None, max_length=256)
    stream: bool = False
    stream_options: StreamOptions | None = None
    metadata: dict[str, str] | None = None

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is None:
            return v
        if len(v) > 16:
            raise ValueError("metadata takes at most 16 keys")
        for k, val in v.items():
            if len(k) > 64 or len(val) > 512:
                raise ValueError("metadata keys are at most 64 chars, values at most 512")
        return v

    def params(self, max_tokens: int | None) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=[s for s in stop if s],
            seed=self.seed,
        )

    def passthrough(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class ChatCompletionBody(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)


class CompletionBody(_Sampling):
    """``POST /v1/completions``."""

    prompt: str | list[str]

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and len(v) != 1:
            raise ValueError("exactly one prompt per request is supported")
        return v


class EmbeddingBody(_Open):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _inputs(cls, v: str | list[str]) -> str | list[str]:
        items = [v] if isinstance(v, str) else v
        if not items:
            raise ValueError("input must not be empty")
        if len(items) > 2048:
            raise ValueError("at most 2048 inputs per request")
        if any(not s for s in items):
            raise ValueError("inputs must be non-empty strings")
        return v

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


B = TypeVar("B", bound=BaseModel)


def parse_body(raw: bytes, model: type[B]) -> B:
    """Parse and validate a JSON body, raising OpenAI-shaped 400/422 errors."""
    if not raw.strip():
        raise InvalidRequestError("request body is empty; expected a JSON object")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errs = exc.errors()
        first = errs[0]
        if first["type"] in ("json_invalid", "json_type"):
            raise InvalidRequestError(
                f"request body is not valid JSON: {first['msg']}", code="invalid_json"
            ) from None
        if first["type"] == "model_type" or not first["loc"]:
            raise InvalidRequestError("request body must be a JSON object") from None
        loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
        msg = first["msg"]
        if first["type"] == "missing":
            msg = "missing required parameter"
        raise UnprocessableError(
            f"{loc}: {msg}",
            param=loc,
            code="missing_required_parameter" if first["type"] == "missing" else None,
        ) from None


def chat_request(body: ChatCompletionBody, model: str, default_max: int | None) -> ChatRequest:
    """The provider request for a chat body routed to upstream ``model``."""
    if body.n not in (None, 1):
        raise InvalidRequestError("only n=1 is supported", param="n", code="unsupported_value")
    max_tokens = body.max_completion_tokens or body.max_tokens or default_max
    extra = body.passthrough()
    return ChatRequest(
        model=model,
        messages=[m.model_dump(exclude_none=True) for m in body.messages],
        params=body.params(max_tokens),
        stream=body.stream,
        user=body.user,
        extra=extra,
    )


def completion_request(body: CompletionBody, model: str, default_max: int | None) -> ChatRequest:
    """The provider request for a legacy completions body."""
    if body.n not in (None, 1):
        raise InvalidRequestError("only n=1 is supported", param="n", code="unsupported_value")
    prompt = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
    return ChatRequest(
        model=model,
        prompt=prompt,
        params=body.params(body.max_tokens or default_max),
        stream=body.stream,
        user=body.user,
        extra=body.passthrough(),
    )
