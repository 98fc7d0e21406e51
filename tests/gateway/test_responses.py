"""Response bodies and SSE framing; embeddings ``dimensions`` against the vector size."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from workbench.errors import UnprocessableError
from workbench.gateway import responses
from workbench.providers import Completion

VECS = [[3.0, 4.0, 12.0, 0.0], [1.0, 0.0, 0.0, 0.0]]


def test_dimensions_above_the_vector_size_is_422() -> None:
    with pytest.raises(UnprocessableError) as info:
        responses.embeddings(VECS, "emb", 5, "float", 5)
    err = info.value
    assert err.status == 422 and err.param == "dimensions"
    assert "5" in err.message and "4" in err.message
    assert set(err.to_body()["error"]) == {"message", "type", "code", "param"}


def test_dimensions_truncate_and_renormalise() -> None:
    out = responses.embeddings(VECS, "emb", 5, "float", 2)
    first = out["data"][0]["embedding"]
    assert first == pytest.approx([0.6, 0.8])
    assert out["data"][1]["embedding"] == pytest.approx([1.0, 0.0])
    assert out["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
    assert [d["index"] for d in out["data"]] == [0, 1] and out["model"] == "emb"


@pytest.mark.parametrize("dims", [None, 4])
def test_full_size_vectors_are_returned_as_given(dims: int | None) -> None:
    out = responses.embeddings(VECS, "emb", 1, "float", dims)
    assert [d["embedding"] for d in out["data"]] == VECS


def test_base64_is_little_endian_float32() -> None:
    out = responses.embeddings(np.asarray(VECS), "emb", 1, "base64", 3)
    raw = base64.b64decode(out["data"][0]["embedding"])
    got = np.frombuffer(raw, dtype="<f4")
    assert got.tolist() == pytest.approx([3 / 13, 4 / 13, 12 / 13])


def test_chat_and_text_completion_shapes() -> None:
    c = Completion(text="hi", finish_reason="length", prompt_tokens=3, completion_tokens=2)
    chat = responses.chat_completion("r1", 7, "m", c)
    assert chat["object"] == "chat.completion" and chat["model"] == "m"
    assert chat["choices"][0]["message"]["content"] == "hi"
    assert chat["choices"][0]["finish_reason"] == "length"
    assert chat["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    text = responses.text_completion("r1", 7, "m", c)
    assert text["object"] == "text_completion" and text["choices"][0]["text"] == "hi"


def _event(frame: bytes) -> dict[str, object]:
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    return dict(json.loads(frame[6:-2]))


def test_chunk_factory_frames() -> None:
    f = responses.ChunkFactory("r1", 7, "m", chat=True)
    first = _event(f.first())
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "finish_reason": None,
            "logprobs": None,
        }
    ]
    assert _event(f.text("ab"))["choices"][0]["delta"] == {"content": "ab"}  # type: ignore[index]
    assert _event(f.finish("stop"))["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    usage = _event(f.usage(1, 2))
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 3  # type: ignore[index]
    t = responses.ChunkFactory("r2", 7, "m", chat=False)
    assert _event(t.text("x"))["choices"][0]["text"] == "x"  # type: ignore[index]
    assert responses.SSE_DONE == b"data: [DONE]\n\n"
    err = UnprocessableError("dimensions: too big", param="dimensions").to_body()
    assert _event(responses.error_event(err)) == err
