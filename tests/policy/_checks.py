"""Test check catalogues for the policy tests (no real validators are built or run).

``make_registry()`` is a small, self-contained catalogue with the shapes the rules care
about (params models, stage limits, can_fix). ``example_registry()`` is the real catalogue
plus clearly marked permissive STAND-INS for the names the example policies use that are
not registered yet. ``publish_many`` runs in a child process for the concurrency test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.guardrails import CheckRegistry, CheckSpec, NoParams
from workbench.policy import Policy, PolicyStore

# Every check name the example policies (and the brief) rely on.
CATALOGUE_NAMES = (
    "regex_match",
    "regex_deny",
    "banned_words",
    "keyword_list",
    "length",
    "valid_json",
    "json_schema",
    "secrets",
    "pii",
    "pii_ner",
    "prompt_injection",
    "jailbreak",
    "toxicity",
    "topic",
    "system_prompt_leak",
    "refusal",
    "required_metadata",
    "model_allowlist",
    "unicode_safety",
    "urls",
)

STAND_IN = "TEST STAND-IN (not the real check): accepts any params, any stage, can fix"


class LocalRegistry(CheckRegistry):
    """A catalogue that never loads entry points: only what the test adds."""

    def load_entry_points(self) -> None:
        """No plugins in tests."""


def _no_build(params: Any) -> Any:
    raise AssertionError("policy tests never build validators")


class _P(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegexMatchParams(_P):
    pattern: str


class RegexDenyParams(_P):
    patterns: list[str] = Field(min_length=1)


class ToxicityParams(_P):
    threshold: float = Field(default=0.5, ge=0, le=1)


class LengthParams(_P):
    unit: Literal["chars", "tokens", "words"] = "chars"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)


class JsonSchemaParams(_P):
    # "schema" shadows a BaseModel attribute: the field is schema_, spelled schema in files.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: dict[str, Any] = Field(alias="schema")


class ModelsParams(_P):
    models: list[str]


def make_registry() -> LocalRegistry:
    """A small catalogue covering each rule the loader enforces."""
    reg = LocalRegistry()
    both = frozenset({"input", "output"})
    reg.add(CheckSpec("secrets", _no_build, NoParams, stages=both, can_fix=True))
    reg.add(CheckSpec("regex_match", _no_build, RegexMatchParams, stages=both))
    reg.add(CheckSpec("regex_deny", _no_build, RegexDenyParams, stages=both, can_fix=True))
    reg.add(CheckSpec("toxicity", _no_build, ToxicityParams, kind="ml", stages=both))
    reg.add(CheckSpec("length", _no_build, LengthParams, stages=both))
    reg.add(CheckSpec("json_schema", _no_build, JsonSchemaParams, stages=frozenset({"output"})))
    reg.add(CheckSpec("system_prompt_leak", _no_build, NoParams, stages=frozenset({"output"})))
    reg.add(CheckSpec("model_allowlist", _no_build, ModelsParams, stages=frozenset({"input"})))
    return reg


class _Permissive(BaseModel):
    model_config = ConfigDict(extra="allow")


def example_registry() -> tuple[LocalRegistry, list[str]]:
    """The real catalogue plus stand-ins for missing names; returns (registry, stand-ins)."""
    from workbench.guardrails import registry as real

    reg = LocalRegistry()
    for spec in real.specs():
        reg.add(spec)
    missing = [n for n in CATALOGUE_NAMES if n not in reg.names()]
    for name in missing:
        reg.add(
            CheckSpec(
                name,
                _no_build,
                _Permissive,
                stages=frozenset({"input", "output"}),
                can_fix=True,
                description=STAND_IN,
            )
        )
    return reg, missing


def publish_many(root: str, worker: int, count: int, start: Any) -> None:
    """Child process: publish ``count`` versions of "shared" and of "own-<worker>"."""
    start.wait()
    store = PolicyStore(root, registry=make_registry())
    for k in range(count):
        store.publish(Policy(id="shared", description=f"w{worker} #{k}"), f"w{worker}-{k}")
        store.publish(Policy(id=f"own-{worker}", description=f"#{k}"), f"own {k}")
