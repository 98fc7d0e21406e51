"""OpenAI request bodies: parsed and validated into provider-neutral requests.

Malformed JSON, or a body that is not a JSON object, is a 400. A body that fails
validation is a 422 whose ``param`` is the dotted path of the offending field
(``messages.0.content.1.image_url.url``). Booleans are strict JSON booleans; numbers
accept ints and floats but not strings or booleans, and every number that reaches the
request log fits its column (:mod:`workbench.logstore.schema`). Known OpenAI parameters
(tools, response_format, logit_bias, ...) are type-checked and, like unknown top-level
fields, passed on in :attr:`ChatRequest.extra` (providers filter them per provider).
Messages and content parts are typed in :mod:`workbench.gateway.messages`; images
reach only targets with ``vision: true`` (:func:`check_capabilities`); audio and file
parts are refused.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from workbench.errors import InvalidRequestError, UnprocessableError
from workbench.gateway.messages import (
    Bias,
    ChatMessage,
    FunctionDef,
    Int,
    Num,
    Open,
    Penalty,
    ResponseFormat,
    StreamOptions,
    TokenId,
    Tool,
    ToolChoice,
)
from workbench.providers import ChatRequest, GenerationParams

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget

MAX_OUTPUT_TOKENS = 1 << 20
"""Upper bound of ``max_tokens``/``max_completion_tokens`` (the log column is int32)."""
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
"""Range of ``seed`` (the log column is int64)."""
MAX_EMBEDDING_DIMENSIONS = 1 << 16
"""Upper bound of embeddings ``dimensions`` before the model's own size is known."""
UNSUPPORTED_PARTS = ("input_audio", "file")
"""Content part types that are valid OpenAI but that no target here accepts yet."""


class _Sampling(Open):
    #: Declared fields that are passed on to providers in ``ChatRequest.extra``.
    PASSTHROUGH: ClassVar[frozenset[str]] = frozenset(
        {"presence_penalty", "frequency_penalty", "logit_bias", "service_tier"}
    )

    model: str = Field(min_length=1, max_length=256)
    max_tokens: Int | None = Field(None, ge=1, le=MAX_OUTPUT_TOKENS)
    temperature: Num | None = Field(None, ge=0, le=2)
    top_p: Num | None = Field(None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: Int | None = Field(None, ge=INT64_MIN, le=INT64_MAX)
    n: Int | None = Field(None, ge=1, le=128)
    user: str | None = Field(None, max_length=256)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    metadata: dict[str, str] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[TokenId, Bias] | None = Field(None, max_length=1024)
    service_tier: str | None = Field(None, min_length=1, max_length=32)

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
        """Unknown top-level fields plus the type-checked known OpenAI parameters sent."""
        known = self.PASSTHROUGH & self.model_fields_set
        out = self.model_dump(include=set(known), exclude_unset=True) if known else {}
        out.update(self.__pydantic_extra__ or {})
        return out


class ChatCompletionBody(_Sampling):
    """``POST /v1/chat/completions``."""

    PASSTHROUGH: ClassVar[frozenset[str]] = _Sampling.PASSTHROUGH | {
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "logprobs",
        "top_logprobs",
        "store",
        "functions",
        "function_call",
    }

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: Int | None = Field(None, ge=1, le=MAX_OUTPUT_TOKENS)
    tools: list[Tool] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | ToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: Int | None = Field(None, ge=0, le=20)
    store: StrictBool | None = None
    functions: list[FunctionDef] | None = Field(None, max_length=128)
    function_call: Literal["none", "auto"] | dict[str, Any] | None = None

    @field_validator("top_logprobs")
    @classmethod
    def _needs_logprobs(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and info.data.get("logprobs") is not True:
            raise ValueError("top_logprobs needs logprobs: true")
        return v


class CompletionBody(_Sampling):
    """``POST /v1/completions``."""

    PASSTHROUGH: ClassVar[frozenset[str]] = _Sampling.PASSTHROUGH | {"logprobs", "echo", "suffix"}

    prompt: str | list[str]
    logprobs: Int | None = Field(None, ge=0, le=5)
    echo: StrictBool | None = None
    suffix: str | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, list) and len(v) != 1:
            raise ValueError("exactly one prompt per request is supported")
        return v


class EmbeddingBody(Open):
    """``POST /v1/embeddings``."""

    model: str = Field(min_length=1, max_length=256)
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Int | None = Field(None, ge=1, le=MAX_EMBEDDING_DIMENSIONS)
    user: str | None = Field(None, max_length=256)

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
        raise _request_error(exc.errors(include_url=False, include_input=False), raw) from None


_OBJECT_TYPES = ("model_type", "model_attributes_type", "dict_type")


def _request_error(errs: list[ErrorDetails], raw: bytes) -> InvalidRequestError:
    """The client error for pydantic's errors: the first one, refined to its deepest path."""
    first = errs[0]
    if first["type"] in ("json_invalid", "json_type"):
        return InvalidRequestError(
            f"request body is not valid JSON: {first['msg']}", code="invalid_json"
        )
    if not first["loc"]:
        return InvalidRequestError("request body must be a JSON object")
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    paths = [_param(e, data) for e in errs]
    best = 0
    for i, p in enumerate(paths):
        if p.startswith(paths[0] + ".") and len(p) > len(paths[best]):
            best = i
    param = paths[best]
    msg = _message([e for e, p in zip(errs, paths, strict=True) if p == param])
    etype = errs[best]["type"]
    if etype == "missing":
        msg, code = "missing required parameter", "missing_required_parameter"
    else:
        code = "invalid_type" if etype.endswith("_type") else "invalid_value"
    return UnprocessableError(f"{param or 'body'}: {msg}", param=param or None, code=code)


def _message(errs: list[ErrorDetails]) -> str:
    """One message for the errors at one path (several when a union of types failed)."""
    msgs: list[str] = []
    for e in errs:
        msg = "Input should be a JSON object" if e["type"] in _OBJECT_TYPES else e["msg"]
        msg = msg.removeprefix("Value error, ")
        if msgs and msg.startswith("Input should be "):
            msg = msg.removeprefix("Input should be ")
        if msg not in msgs:
            msgs.append(msg)
    return " or ".join(msgs)


def _param(err: ErrorDetails, data: Any) -> str:
    """The dotted path of an error in the client's JSON, without pydantic's union tags."""
    loc = err["loc"]
    if data is None:
        return ".".join(str(p) for p in loc if isinstance(p, int) or p.isidentifier())
    out: list[str] = []
    cur = data
    for i, part in enumerate(loc):
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(str(part))
            cur = cur[part]
        elif err["type"] == "missing" and i == len(loc) - 1:
            out.append(str(part))
    return ".".join(out)


def _parts(messages: list[dict[str, Any]] | None, kinds: tuple[str, ...]) -> list[str]:
    """Dotted params (``messages.i.content.j``) of the content parts of the given types."""
    found = []
    for i, m in enumerate(messages or []):
        content = m.get("content")
        for j, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") in kinds:
                found.append(f"messages.{i}.content.{j}")
    return found


def image_parts(req: ChatRequest) -> int:
    """How many ``image_url`` content parts the request carries."""
    return len(_parts(req.messages, ("image_url",)))


def check_capabilities(req: ChatRequest, target: ModelTarget) -> None:
    """Refuse (400 ``unsupported_content``) a request the chosen target cannot take."""
    images = _parts(req.messages, ("image_url",))
    if images and not target.vision:
        raise InvalidRequestError(
            f"{images[0]}: model {target.name!r} does not accept image input",
            code="unsupported_content",
            param=images[0],
        )


def check_embedding_request(body: EmbeddingBody, target: ModelTarget) -> None:
    """Refuse (422) ``dimensions`` above the configured embedding size of the target."""
    if body.dimensions is not None and target.dimensions is not None:
        if body.dimensions > target.dimensions:
            raise UnprocessableError(
                f"dimensions: {body.dimensions} is larger than the {target.dimensions} "
                f"dimensions of model {target.name!r}",
                param="dimensions",
            )


def chat_request(body: ChatCompletionBody, model: str, default_max: int | None) -> ChatRequest:
    """The provider request for a chat body routed to upstream ``model``."""
    if body.n not in (None, 1):
        raise InvalidRequestError("only n=1 is supported", param="n", code="unsupported_value")
    messages = [m.model_dump(exclude_unset=True, exclude_none=True) for m in body.messages]
    refused = _parts(messages, UNSUPPORTED_PARTS)
    if refused:
        raise InvalidRequestError(
            f"{refused[0]}: audio and file content parts are not supported",
            code="unsupported_content",
            param=refused[0],
        )
    max_tokens = body.max_completion_tokens or body.max_tokens or default_max
    return ChatRequest(
        model=model,
        messages=messages,
        params=body.params(max_tokens),
        stream=body.stream,
        user=body.user,
        extra=body.passthrough(),
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
