"""OpenAI response bodies and SSE framing."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import orjson

from workbench.errors import UnprocessableError
from workbench.providers import Completion


def dumps(obj: Any) -> bytes:
    """Fast JSON encoding."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """An OpenAI ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion(rid: str, created: int, model: str, c: Completion) -> dict[str, Any]:
    """``chat.completion``."""
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": c.text, "refusal": None},
                "finish_reason": c.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage(c.prompt_tokens, c.completion_tokens),
        "system_fingerprint": None,
    }


def text_completion(rid: str, created: int, model: str, c: Completion) -> dict[str, Any]:
    """``text_completion``."""
    return {
        "id": rid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
        ],
        "usage": usage(c.prompt_tokens, c.completion_tokens),
    }


def sse(obj: Any) -> bytes:
    """One SSE ``data:`` event."""
    return b"data: " + dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


class ChunkFactory:
    """Builds the stream chunks of one chat or text completion."""

    def __init__(self, rid: str, created: int, model: str, chat: bool) -> None:
        self.rid, self.created, self.model, self.chat = rid, created, model, chat
        self.object = "chat.completion.chunk" if chat else "text_completion"

    def _wrap(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {
            "id": self.rid,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.chat:
            body["system_fingerprint"] = None
        body.update(extra)
        return sse(body)

    def first(self) -> bytes:
        """The role-announcing first chunk (chat only)."""
        return self._wrap(
            [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "finish_reason": None,
                    "logprobs": None,
                }
            ]
        )

    def text(self, text: str) -> bytes:
        """A content chunk."""
        if self.chat:
            return self._wrap(
                [{"index": 0, "delta": {"content": text}, "finish_reason": None, "logprobs": None}]
            )
        return self._wrap([{"index": 0, "text": text, "finish_reason": None, "logprobs": None}])

    def finish(self, reason: str) -> bytes:
        """The chunk that carries ``finish_reason``."""
        if self.chat:
            return self._wrap(
                [{"index": 0, "delta": {}, "finish_reason": reason, "logprobs": None}]
            )
        return self._wrap([{"index": 0, "text": "", "finish_reason": reason, "logprobs": None}])

    def usage(self, prompt_tokens: int, completion_tokens: int) -> bytes:
        """The final usage chunk (``stream_options.include_usage``)."""
        return self._wrap([], usage=usage(prompt_tokens, completion_tokens))


def embeddings(
    vectors: list[list[float]] | np.ndarray,
    model: str,
    prompt_tokens: int,
    fmt: str,
    dimensions: int | None,
) -> dict[str, Any]:
    """``list`` of ``embedding`` objects, float or base64 (little-endian float32).

    ``dimensions`` below a vector's size truncates it and renormalises it to unit
    length (as OpenAI's text-embedding-3 models do); above it, the request is refused
    with a 422 naming ``dimensions``: the vector size is known only now, after the
    upstream call, so the caller logs it as a rejected request.
    """
    data = []
    for i, vec in enumerate(vectors):
        arr = np.asarray(vec, dtype=np.float32)
        if dimensions is not None and dimensions > arr.shape[-1]:
            raise UnprocessableError(
                f"dimensions: {dimensions} is larger than the {arr.shape[-1]} dimensions "
                f"of model {model!r}",
                param="dimensions",
            )
        if dimensions is not None and dimensions < arr.shape[-1]:
            arr = arr[:dimensions]
            norm = float(np.linalg.norm(arr))
            if norm > 0:
                arr = arr / norm
        emb: Any = (
            base64.b64encode(arr.astype("<f4").tobytes()).decode()
            if fmt == "base64"
            else arr.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def error_event(body: dict[str, Any]) -> bytes:
    """An SSE error event (the stream ends after it)."""
    return sse(body)
