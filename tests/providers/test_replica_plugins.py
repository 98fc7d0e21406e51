"""Replica-hosted plugin providers: the replica builds its engine with the provider's own
factory. In-process, without a Ray cluster: ``build_replica_engine`` and the real
``ModelReplica`` / ``Embedder`` classes (their undecorated ``func_or_class``)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from workbench.config.gateway import ModelTarget
from workbench.errors import ConfigError, InvalidRequestError
from workbench.providers import ChatRequest, Delta, GenerationParams, ProviderRegistry, registry
from workbench.providers.local import CompletionCollector
from workbench.providers.replicas import build_replica_engine, embed_batches, engine_info

FACTORY_CALLS: list[tuple[str, str]] = []


class ShoutEngine:
    """A plugin chat engine: echoes the prompt's words upper-cased, one word per step."""

    served_name = "shout-1"

    def __init__(self, target: Any) -> None:
        self.target = target

    def validate(self, request: ChatRequest) -> None:
        if request.params.max_tokens == 0:
            raise InvalidRequestError("shout needs max_tokens >= 1", param="max_tokens")

    def generate_stream(self, requests: list[ChatRequest]) -> Iterator[list[Delta | None]]:
        words = [_text(r).upper().split() or [""] for r in requests]
        for step in range(max(len(w) for w in words)):
            out: list[Delta | None] = []
            for w in words:
                if step >= len(w):
                    out.append(None)
                elif step == len(w) - 1:
                    out.append(Delta(w[step], "stop", prompt_tokens=len(w),
                                     completion_tokens=len(w)))
                else:
                    out.append(Delta(w[step] + " "))
            yield out


class CountingEmbedder:
    """A plugin embeddings engine: [characters, words] per text, as plain lists."""

    model_name = "counts-2"

    def encode(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), float(len(t.split()))] for t in texts]

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(t.split()) for t in texts)


def _text(req: ChatRequest) -> str:
    if req.prompt is not None:
        return req.prompt
    return " ".join(str(m.get("content", "")) for m in req.messages or [])


def register(reg: Any) -> None:
    """The plugin's entry point."""

    @reg.provider("shout", capabilities=("chat", "completions"), runs_in="replica")
    def _shout(target: Any) -> ShoutEngine:
        FACTORY_CALLS.append(("shout", target.name))
        return ShoutEngine(target)

    @reg.provider("counts", capabilities=("embeddings",), runs_in="replica")
    def _counts(target: Any) -> CountingEmbedder:
        FACTORY_CALLS.append(("counts", target.name))
        return CountingEmbedder()

    @reg.provider("hollow", capabilities=("chat",), runs_in="replica")
    def _hollow(target: Any) -> object:
        return object()


@pytest.fixture
def plugin_registry(monkeypatch: pytest.MonkeyPatch) -> ProviderRegistry:
    """A fresh registry that finds this module's plugin through the entry-point group."""
    ep = EntryPoint(name="mine", value="tests.providers.test_replica_plugins:register",
                    group="workbench.providers")
    monkeypatch.setattr("workbench._plugins.entry_points",
                        lambda group: [ep] if group == "workbench.providers" else [])
    FACTORY_CALLS.clear()
    return ProviderRegistry()


@pytest.fixture
def global_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin's providers in the process-wide registry (what a replica looks up)."""
    registry.names()  # load the built-ins first
    mine = ProviderRegistry()
    mine._loaded = True
    register(mine)
    for name in mine.names():
        monkeypatch.setitem(registry._specs, name, mine.get(name))
    FACTORY_CALLS.clear()


def _req(text: str) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": text}],
                       params=GenerationParams(max_tokens=8))


def test_the_plugin_factory_builds_the_chat_engine(plugin_registry: ProviderRegistry) -> None:
    target = ModelTarget(name="loud", provider="shout", model="v1")
    engine = build_replica_engine(target, "chat", registry=plugin_registry)
    assert isinstance(engine, ShoutEngine) and engine.target is target
    assert FACTORY_CALLS == [("shout", "loud")]
    collector = CompletionCollector(2)
    for step in engine.generate_stream([_req("hello big world"), _req("hi")]):
        collector.add(step)
    done = collector.completions()
    assert [c.text for c in done] == ["HELLO BIG WORLD", "HI"]
    assert engine_info(engine) == {
        "model": "shout-1", "device": "cpu", "is_fallback": False, "fallback_reason": None,
    }


def test_the_plugin_factory_builds_the_embeddings_engine(
    plugin_registry: ProviderRegistry,
) -> None:
    engine = build_replica_engine({"name": "vec", "provider": "counts"}, "embeddings",
                                  registry=plugin_registry)
    assert FACTORY_CALLS == [("counts", "vec")]
    first, second = embed_batches(engine, [["a b", "cde"], ["x y z"]])
    assert first.vectors == [[3.0, 2.0], [3.0, 1.0]] and first.prompt_tokens == 3
    assert second.vectors == [[5.0, 3.0]] and second.model == "counts-2"


def test_an_engine_without_the_interface_is_a_clear_error(
    plugin_registry: ProviderRegistry,
) -> None:
    with pytest.raises(ConfigError) as info:
        build_replica_engine({"name": "h", "provider": "hollow"}, "chat", registry=plugin_registry)
    msg = info.value.message
    assert "models (h).provider" in msg and "'hollow'" in msg
    assert "lacks served_name, validate, generate_stream" in msg


@pytest.mark.parametrize(
    "provider, kind, hosted",
    [("counts", "chat", "an embeddings replica"), ("shout", "embeddings", "a chat replica"),
     ("echo", "chat", "no replica")],
)
def test_a_provider_is_only_built_by_the_replica_that_hosts_it(
    plugin_registry: ProviderRegistry, monkeypatch: pytest.MonkeyPatch,
    provider: str, kind: Any, hosted: str,
) -> None:
    from workbench.providers.echo import register as register_echo

    register_echo(plugin_registry)
    with pytest.raises(ConfigError, match="is hosted by") as info:
        build_replica_engine({"name": "t", "provider": provider}, kind, registry=plugin_registry)
    assert f"hosted by {hosted}" in info.value.message
    assert FACTORY_CALLS == []


async def test_model_replica_runs_the_plugin_factory(global_plugins: None, wb_home: Path) -> None:
    from serve.replica import ModelReplica

    target = ModelTarget(name="loud", provider="shout").model_dump()
    replica = ModelReplica.func_or_class(target, str(wb_home))
    assert FACTORY_CALLS == [("shout", "loud")]
    assert isinstance(replica.engine, ShoutEngine)
    info = replica.info()
    assert info["name"] == "loud" and info["model"] == "shout-1"
    # the replica's decode driver (the part under @serve.batch) runs the plugin engine
    collector = CompletionCollector(2)
    async for step in replica._steps([_req("one two three"), _req("a b")]):
        collector.add(step)
    assert [c.text for c in collector.completions()] == ["ONE TWO THREE", "A B"]


def test_embedder_runs_the_plugin_factory(global_plugins: None, wb_home: Path) -> None:
    from serve.embedder import Embedder

    target = ModelTarget(name="vec", provider="counts").model_dump()
    embedder = Embedder.func_or_class(target, str(wb_home))
    assert FACTORY_CALLS == [("counts", "vec")]
    assert isinstance(embedder.engine, CountingEmbedder)


def test_a_replica_refuses_a_provider_it_cannot_host(global_plugins: None, wb_home: Path) -> None:
    from serve.embedder import Embedder

    with pytest.raises(ConfigError, match="hosted by a chat replica"):
        Embedder.func_or_class(ModelTarget(name="x", provider="shout").model_dump(), str(wb_home))
    assert FACTORY_CALLS == []


def test_local_factory_applies_the_targets_default_max_tokens(wb_home: Path) -> None:
    from workbench.providers.tiny import build_tiny_model

    build_tiny_model()
    target = ModelTarget(name="small", provider="local", model="tiny", max_new_tokens_default=7)
    engine = build_replica_engine(target, "chat")
    assert engine.default_max_tokens == 7
    assert engine_info(engine)["model"].endswith("tiny-llama")
