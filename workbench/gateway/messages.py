"""The typed pieces of OpenAI request bodies: numbers, content parts, messages, tools.

Booleans are strict JSON booleans. :data:`Int` and :data:`Num` accept JSON numbers
(an integral float for an int, an int for a float, as OpenAI does) but not strings or
booleans. Unknown keys inside these objects are kept (``extra="allow"``) and passed on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _int_input(v: Any) -> Any:
    if isinstance(v, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return v


def _num_input(v: Any) -> Any:
    if isinstance(v, bool | str):
        raise PydanticCustomError("float_type", "Input should be a valid number")
    return v


Int = Annotated[int, BeforeValidator(_int_input)]
Num = Annotated[float, BeforeValidator(_num_input)]
Penalty = Annotated[Num, Field(ge=-2, le=2)]
TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]
Bias = Annotated[Num, Field(ge=-100, le=100)]


class Open(BaseModel):
    """An object whose unknown keys are kept."""

    model_config = ConfigDict(extra="allow")


class StreamOptions(BaseModel):
    """``stream_options``."""

    model_config = ConfigDict(extra="forbid")
    include_usage: StrictBool = False
    include_obfuscation: StrictBool | None = None


class TextPart(Open):
    """``{"type": "text", "text": ...}``."""

    type: Literal["text"]
    text: str


class RefusalPart(Open):
    """``{"type": "refusal", "refusal": ...}`` (assistant messages)."""

    type: Literal["refusal"]
    refusal: str


class ImageURL(Open):
    """The ``image_url`` object of an image part."""

    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("https://", "http://", "data:image/")):
            raise ValueError("must be an http(s) URL or a data:image/... URL")
        return v


class ImagePart(Open):
    """``{"type": "image_url", "image_url": {"url": ..., "detail": ...}}``."""

    type: Literal["image_url"]
    image_url: ImageURL


class AudioPart(Open):
    """``input_audio`` part: recognised, then refused by :func:`chat_request`."""

    type: Literal["input_audio"]
    input_audio: dict[str, Any]


class FilePart(Open):
    """``file`` part: recognised, then refused by :func:`chat_request`."""

    type: Literal["file"]
    file: dict[str, Any]


ContentPart = Annotated[
    TextPart | RefusalPart | ImagePart | AudioPart | FilePart, Field(discriminator="type")
]


class FunctionCall(Open):
    """``function`` of a tool call in an assistant message."""

    name: str
    arguments: str


class ToolCall(Open):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    type: str = Field(min_length=1)
    function: FunctionCall | None = None


class ChatMessage(Open):
    """One chat message; unknown keys are kept."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = Field(None, validate_default=True)
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    @field_validator("content")
    @classmethod
    def _content_fits_role(
        cls, v: str | list[ContentPart] | None, info: ValidationInfo
    ) -> str | list[ContentPart] | None:
        role = info.data.get("role")
        if v is None and role in ("system", "developer", "user", "tool"):
            raise PydanticCustomError("missing", "a {role} message needs content", {"role": role})
        for part in v if isinstance(v, list) else []:
            if part.type == "refusal" and role != "assistant":
                raise ValueError("refusal parts are only allowed in assistant messages")
            if part.type == "image_url" and role != "user":
                raise ValueError("image_url parts are only allowed in user messages")
        return v


class FunctionDef(Open):
    """A function a tool exposes."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class Tool(Open):
    """One entry of ``tools``."""

    type: str = Field(min_length=1)
    function: FunctionDef | None = None

    @model_validator(mode="after")
    def _function_tool(self) -> Tool:
        if self.type == "function" and self.function is None:
            raise ValueError("a function tool needs a function object")
        return self


class ToolChoice(Open):
    """The object form of ``tool_choice``."""

    type: str = Field(min_length=1)


class ResponseFormat(Open):
    """``response_format``."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type json_schema needs a json_schema object")
        return self
