"""The local engine on the real tiny random model: batching, streaming, sampling, stops."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from workbench.errors import InvalidRequestError
from workbench.providers._types import ChatRequest, Delta, GenerationParams
from workbench.providers.local import (
    LocalModel,
    ModelUnavailableError,
    _IncrementalDetokenizer,
    _stop_hold,
    resolve_model,
)
from workbench.providers.tiny import build_tiny_model

CHAT = [{"role": "user", "content": "Hello there, how are you today?"}]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A WORKBENCH_HOME for the module, with the tiny model built once."""
    path = tmp_path_factory.mktemp("wbhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(path))
        build_tiny_model()
        yield path


@pytest.fixture(scope="module")
def model(home: Path) -> LocalModel:
    """The tiny model, loaded on the CPU."""
    return LocalModel.load("tiny", device="cpu")


def req(
    *,
    messages: list[dict[str, str]] | None = None,
    prompt: str | None = None,
    **params: object,
) -> ChatRequest:
    """A request for the tiny model."""
    return ChatRequest(
        model="tiny",
        messages=messages,
        prompt=prompt,
        params=GenerationParams(**params),  # type: ignore[arg-type]
    )


def stream_text(model: LocalModel, request: ChatRequest) -> tuple[str, list[Delta]]:
    """Run one request through generate_stream; return the joined text and its deltas."""
    deltas: list[Delta] = []
    for step in model.generate_stream([request]):
        assert len(step) == 1
        if step[0] is not None:
            deltas.append(step[0])
    return "".join(d.text for d in deltas), deltas


def test_build_is_idempotent_and_complete(home: Path) -> None:
    path = home / "models" / "tiny-llama"
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model() == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp dirs
    for name in ("config.json", "tokenizer.json", "chat_template.jinja"):
        assert (path / name).is_file()


def test_tiny_build_is_deterministic(home: Path, tmp_path: Path) -> None:
    other = build_tiny_model(tmp_path / "again")
    original = home / "models" / "tiny-llama" / "model.safetensors"
    assert (other / "model.safetensors").read_bytes() == original.read_bytes()


def test_load_attributes(model: LocalModel, home: Path) -> None:
    assert model.model_id == "tiny"
    assert model.served_name == str(home / "models" / "tiny-llama")
    assert model.device == "cpu"
    assert model.is_fallback is False and model.fallback_reason is None
    assert model.context_length == 2048
    assert model.tokenizer.padding_side == "left"


def test_render_prompt_and_tokens(model: LocalModel) -> None:
    text = model.render_prompt(CHAT, None)
    assert text.startswith("[CLS]user: Hello there")
    assert text.endswith("assistant:")
    assert model.render_prompt(None, "raw text") == "raw text"
    with pytest.raises(InvalidRequestError):
        model.render_prompt(None, None)
    assert model.count_tokens("hello world") == 2
    # Raw prompts get BOS, never a trailing EOS/[SEP].
    ids = model.encode_request(req(prompt="hello world"))
    assert ids[0] == model.tokenizer.bos_token_id and ids[-1] not in model.eos_ids
    # Content parts are flattened.
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hello there, "},
                {"type": "text", "text": "how are you today?"},
            ],
        }
    ]
    assert model.render_prompt(parts, None) == text


def test_chat_generation(model: LocalModel) -> None:
    [out] = model.generate([req(messages=CHAT, max_tokens=12, temperature=0)])
    assert out.text.strip()
    assert out.finish_reason == "length"
    assert out.completion_tokens == 12
    assert out.prompt_tokens == len(model.encode_request(req(messages=CHAT)))
    assert out.batch_size == 1


def test_stream_concatenates_to_generate(model: LocalModel) -> None:
    request = req(messages=CHAT, max_tokens=20, temperature=0)
    text, deltas = stream_text(model, request)
    [whole] = model.generate([request])
    assert text == whole.text
    final = deltas[-1]
    assert final.finish_reason == "length"
    assert final.completion_tokens == 20 and final.prompt_tokens == whole.prompt_tokens
    assert all(d.finish_reason is None for d in deltas[:-1])
    assert len(deltas) > 5  # it really streams


def test_stream_text_equals_full_decode(model: LocalModel) -> None:
    """Incremental detokenization: the pieces join to exactly the full decode."""
    rng = random.Random(7)
    vocab = len(model.tokenizer)
    for _ in range(50):
        ids = [rng.randrange(vocab) for _ in range(30)]
        detok = _IncrementalDetokenizer(model.tokenizer)
        text = "".join(detok.push(i) for i in ids) + detok.flush()
        expected = model.tokenizer.decode(
            ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        assert text == expected


def test_batched_equals_unbatched(model: LocalModel) -> None:
    """Left padding + mask + positions: a row's greedy output does not depend on its batch."""
    requests = [
        req(messages=CHAT, max_tokens=16, temperature=0),
        req(prompt="a", max_tokens=9, temperature=0),
        req(
            prompt="the quick brown fox jumps over the lazy dog " * 4, max_tokens=24, temperature=0
        ),
        req(prompt="sampled row", max_tokens=12, temperature=0.9, top_p=0.8, seed=11),
        req(
            messages=[{"role": "system", "content": "be brief"}, *CHAT], max_tokens=5, temperature=0
        ),
    ]
    alone = [model.generate([r])[0] for r in requests]
    together = model.generate(requests)
    for a, b in zip(alone, together, strict=True):
        assert b.text == a.text
        assert (b.finish_reason, b.completion_tokens, b.prompt_tokens) == (
            a.finish_reason,
            a.completion_tokens,
            a.prompt_tokens,
        )
        assert b.batch_size == len(requests)
    # And in another order (rows drop out of the batch at different steps).
    reordered = model.generate(requests[::-1])
    assert [c.text for c in reordered] == [c.text for c in alone[::-1]]


def test_stream_shape_for_a_batch(model: LocalModel) -> None:
    requests = [
        req(prompt="one", max_tokens=3, temperature=0),
        req(prompt="two", max_tokens=7, temperature=0),
    ]
    steps = list(model.generate_stream(requests))
    assert all(len(step) == 2 for step in steps)
    assert len(steps) == 7
    finals = [
        [d for d in (s[i] for s in steps) if d is not None and d.finish_reason] for i in range(2)
    ]
    assert [len(f) for f in finals] == [1, 1]
    # Nothing after a row's final delta.
    assert all(step[0] is None for step in steps[3:])
    assert list(model.generate_stream([])) == []


def test_inference_mode_does_not_leak(model: LocalModel) -> None:
    stream = model.generate_stream([req(prompt="hi", max_tokens=4, temperature=0)])
    next(stream)
    assert not torch.is_inference_mode_enabled()
    stream.close()


def test_seed_reproducibility(model: LocalModel) -> None:
    def sample(seed: int) -> str:
        return model.generate([req(messages=CHAT, max_tokens=16, temperature=1.0, seed=seed)])[
            0
        ].text

    assert sample(123) == sample(123)
    assert sample(123) != sample(124)
    # temperature None means 1.0 (OpenAI's default): same draw as an explicit 1.0.
    [implicit] = model.generate([req(messages=CHAT, max_tokens=16, seed=123)])
    assert implicit.text == sample(123)


def test_top_p_zero_is_greedy(model: LocalModel) -> None:
    greedy = model.generate([req(prompt="hello", max_tokens=8, temperature=0)])[0].text
    nucleus = model.generate([req(prompt="hello", max_tokens=8, temperature=1.5, top_p=0.0)])
    assert nucleus[0].text == greedy


def test_max_tokens_gives_length(model: LocalModel) -> None:
    [out] = model.generate([req(prompt="count", max_tokens=3, temperature=0)])
    assert out.finish_reason == "length" and out.completion_tokens == 3
    [none] = model.generate([req(prompt="count", max_tokens=0)])
    assert none.finish_reason == "length" and none.completion_tokens == 0 and none.text == ""


def test_default_max_tokens(home: Path) -> None:
    small = LocalModel.load("tiny", device="cpu", default_max_tokens=5)
    [out] = small.generate([req(prompt="count", temperature=0)])
    assert out.completion_tokens == 5 and out.finish_reason == "length"


def test_stop_string_is_cut(model: LocalModel) -> None:
    base = model.generate([req(messages=CHAT, max_tokens=24, temperature=0)])[0].text
    # A stop string spanning a token boundary, from the middle of the text.
    start = len(base) // 2
    stop = base[start : start + 5]
    cut = base.index(stop)
    request = req(messages=CHAT, max_tokens=24, temperature=0, stop=["never-there", stop])
    [out] = model.generate([request])
    assert out.finish_reason == "stop"
    assert out.text == base[:cut]
    assert stop not in out.text
    assert out.completion_tokens < 24
    # Streamed: the same text, and no delta ever carried any part of the stop string.
    text, deltas = stream_text(model, request)
    assert text == out.text
    assert deltas[-1].finish_reason == "stop"
    # Batched with an unrelated row, still the same.
    batch = model.generate([req(prompt="other", max_tokens=30, temperature=0), request])
    assert batch[1].text == out.text and batch[1].finish_reason == "stop"


def test_stop_hold_back() -> None:
    assert _stop_hold("hello wor", ["world"]) == 3
    assert _stop_hold("hello", ["world"]) == 0
    assert _stop_hold("abcab", ["abd", "cabx"]) == 3
    assert _stop_hold("x", [""]) == 0


def test_eos_finishes_with_stop(model: LocalModel) -> None:
    row = model._row(0, req(prompt="hi", max_tokens=10, stop=["zz"]))
    assert row.push(model.tokenizer.convert_tokens_to_ids("hello"), model.eos_ids, 1) is not None
    row.pending += "z"  # text that could begin a stop string is released at EOS
    final = row.push(next(iter(model.eos_ids)), model.eos_ids, 1)
    assert final is not None and final.finish_reason == "stop"
    assert final.text == "z" and final.completion_tokens == 2


def test_prompt_too_long(model: LocalModel) -> None:
    long = req(prompt="word " * 2100, max_tokens=5)
    with pytest.raises(InvalidRequestError) as err:
        model.validate(long)
    assert err.value.code == "context_length_exceeded"
    assert model.validate(req(prompt="short")) == 2
    # Inside a batch the bad row ends at once; the others are unaffected.
    ok = req(prompt="fine", max_tokens=4, temperature=0)
    out = model.generate([long, ok])
    assert out[0].finish_reason == "length" and out[0].completion_tokens == 0
    assert out[1].text == model.generate([ok])[0].text


def test_resolve_directory_and_tiny(home: Path, tmp_path: Path) -> None:
    tiny = home / "models" / "tiny-llama"
    resolved = resolve_model(str(tiny))
    assert resolved.path_or_id == str(tiny) and not resolved.is_fallback
    assert resolve_model("tiny").path_or_id == str(tiny)
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    assert resolve_model(str(empty)).is_fallback


def test_resolve_unknown_hub_id_offline_falls_back(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "workbench-tests/no-such-model-0123456789"
    started = time.monotonic()
    resolved = resolve_model(spec)
    assert time.monotonic() - started < 10
    assert resolved.is_fallback
    assert resolved.path_or_id == str(home / "models" / "tiny-llama")
    assert spec in resolved.reason and "HF_HUB_OFFLINE" in resolved.reason
    with pytest.raises(ModelUnavailableError, match="no-such-model"):
        resolve_model(spec, fallback=None)
    loaded = LocalModel.load(spec, device="cpu")
    assert loaded.is_fallback and loaded.model_id == spec
    assert loaded.fallback_reason and spec in loaded.fallback_reason


def test_resolve_unreachable_hub_does_not_hang(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online mode with no network: the probe gives up after its timeout."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    started = time.monotonic()
    resolved = resolve_model("workbench-tests/no-such-model-0123456789", probe_timeout=1.0)
    assert time.monotonic() - started < 10
    assert resolved.is_fallback


def test_resolve_invalid_spec(home: Path) -> None:
    with pytest.raises(ModelUnavailableError):
        resolve_model("./does/not/exist", fallback=None)
    with pytest.raises(ValueError):
        resolve_model("tiny", fallback="gpt2")


def test_sampling_respects_top_p_and_zero_probabilities(model: LocalModel) -> None:
    vocab = len(model.tokenizer)
    logits = torch.full((3, vocab), float("-inf"))
    # Row 0: probs 0.5, 0.3, 0.15, 0.05 -> nucleus for top_p=0.7 is {10, 11}.
    logits[0, 10:14] = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    # Row 1: 2,000 equally likely tokens: the nucleus exceeds the top-k shortcut.
    logits[1, 5000:7000] = 0.0
    # Row 2: plain sampling over three tokens; impossible tokens are never drawn.
    logits[2, 20:23] = torch.tensor([0.2, 0.3, 0.5]).log()
    rows = [
        model._row(0, req(prompt="a", temperature=1.0, top_p=0.7, seed=1)),
        model._row(1, req(prompt="b", temperature=1.0, top_p=0.9, seed=2)),
        model._row(2, req(prompt="c", temperature=1.0, seed=3)),
    ]
    seen: list[set[int]] = [set(), set(), set()]
    for _ in range(300):
        for k, token in enumerate(model._sample(logits, rows)):
            seen[k].add(token)
    assert seen[0] == {10, 11}
    assert seen[1] <= set(range(5000, 7000)) and len(seen[1]) > 100
    assert seen[2] == {20, 21, 22}
