"""The guardrail engine with small stand-in checks (no catalogue, no ML): decisions,
rewrites, sampling, log-only mode and stream windows."""

from __future__ import annotations

import re

import pytest
from guardrails.validators import (
    ErrorSpan,
    FailResult,
    PassResult,
    Validator,
    register_validator,
)
from pydantic import BaseModel, ConfigDict

from workbench.errors import GuardrailDeniedError
from workbench.guardrails import CheckRegistry
from workbench.guardrails._stream import StreamGuard
from workbench.guardrails.engine import GuardrailEngine
from workbench.policy import parse_policy


class WordParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    word: str


@register_validator(name="tests/word", data_type="string")
class WordCheck(Validator):
    def __init__(self, word: str, **kw):
        super().__init__(word=word, **kw)
        self.rx = re.compile(re.escape(word), re.I)

    def _validate(self, value, metadata):
        spans = [ErrorSpan(start=m.start(), end=m.end(), reason="WORD")
                 for m in self.rx.finditer(value)]
        if not spans:
            return PassResult()
        return FailResult(error_message=f"found {self.rx.pattern}", error_spans=spans,
                          fix_value=self.rx.sub("", value), metadata={"score": 0.9})


@pytest.fixture
def reg() -> CheckRegistry:
    r = CheckRegistry()
    r._loaded = True  # no entry points: only the stand-ins

    @r.check("word", params=WordParams, can_fix=True)
    def _build(p: WordParams) -> WordCheck:
        return WordCheck(p.word)

    return r


def _engine(reg, input_checks=(), output_checks=(), **extra) -> GuardrailEngine:
    data = {"id": "t", "input": list(input_checks), "output": list(output_checks), **extra}
    return GuardrailEngine(parse_policy(data, registry=reg), registry=reg)


def _c(name, word, on_fail="deny", **kw):
    return {"name": name, "validator": "word", "params": {"word": word}, "on_fail": on_fail, **kw}


async def test_deny_is_the_first_failing_deny_and_all_verdicts_are_kept(reg):
    eng = _engine(reg, [_c("a", "x1", "flag"), _c("b", "bad"), _c("c", "worse")])
    out = await eng.run_stage("input", ["bad and worse, x1"])
    assert out.deny is not None and out.deny.check == "b"
    assert [v.check for v in out.verdicts] == ["a", "b", "c"]
    assert [v.action for v in out.verdicts] == ["flag", "deny", "deny"]
    assert out.verdicts[1].spans[0].start == 0 and out.verdicts[1].score == 0.9


async def test_redactions_merge_across_checks_and_texts(reg):
    eng = _engine(reg, [_c("a", "alice", "redact"), _c("b", "bob", "redact")])
    out = await eng.run_stage("input", ["alice met bob", "nobody here", "bob"])
    assert out.changed and out.deny is None
    assert out.texts == ["<WORD> met <WORD>", "nobody here", "<WORD>"]
    assert out.verdicts[1].spans[0].message == 0


async def test_fix_applies_in_order_on_the_current_text(reg):
    eng = _engine(reg, [_c("a", "aa", "fix"), _c("b", "bb", "fix")])
    out = await eng.run_stage("input", ["aabbcc"])
    assert out.texts == ["cc"]


async def test_sampling_is_deterministic_per_request(reg):
    eng = _engine(reg, [_c("a", "z", "deny", sample_rate=0.5)])
    ran = [bool((await eng.run_stage("input", ["z"], sample_key=str(i))).verdicts)
           for i in range(200)]
    assert 60 < sum(ran) < 140
    again = [bool((await eng.run_stage("input", ["z"], sample_key=str(i))).verdicts)
             for i in range(200)]
    assert ran == again


async def test_log_only_checks_run_separately_and_never_decide(reg):
    eng = _engine(reg, [_c("a", "z", "deny", mode="log_only")])
    assert (await eng.run_stage("input", ["z"])).verdicts == []
    out = await eng.run_stage("input", ["z"], log_only=True)
    assert out.deny is None and out.verdicts[0].action == "none" and not out.verdicts[0].passed


async def test_stream_releases_windows_until_a_deny(reg):
    eng = _engine(reg, output_checks=[_c("o", "boom")])
    sg = StreamGuard(eng, window="sentence")
    sent = []
    for delta in ["Hello ", "world. ", "This goes ", "boom. ", "Never."]:
        try:
            sent += await sg.feed(delta)
        except GuardrailDeniedError as e:
            assert e.param == "output.o"
            break
    assert "".join(sent) == "Hello world. "


async def test_stream_token_windows_and_final_whole_text_check(reg):
    eng = _engine(reg, output_checks=[_c("o", "xyz", "redact")],
                  streaming={"window": "tokens", "window_tokens": 2})
    sg = StreamGuard(eng, window="tokens", window_tokens=2)
    out = []
    for w in "a b xyz c d".split():
        out += await sg.feed(w + " ")
    out += await sg.finish()
    assert "".join(out).split() == ["a", "b", "<WORD>", "c", "d"]
    assert {v.window for v in sg.verdicts} >= {0, 1}


async def test_scores_are_precomputed_once_per_classifier(reg):
    calls = []

    class Scorer:
        async def score(self, cl, texts):
            calls.append((cl, list(texts)))
            return [0.5] * len(texts)

        async def tag(self, texts):
            return [[] for _ in texts]

    seen = {}

    @register_validator(name="tests/ml", data_type="string")
    class MLCheck(Validator):
        def _validate(self, value, metadata):
            seen[value] = metadata["scores"]["clf"]
            return PassResult()

    reg.check("mlcheck", kind="ml", classifiers=("clf",))(lambda p: MLCheck())
    pol = parse_policy({"id": "m", "input": [
        {"name": "m1", "validator": "mlcheck"}, {"name": "m2", "validator": "mlcheck"}]},
        registry=reg)
    eng = GuardrailEngine(pol, registry=reg, scorer=Scorer())
    await eng.run_stage("input", ["t1", "t2"])
    assert calls == [("clf", ["t1", "t2"])] and seen == {"t1": 0.5, "t2": 0.5}


async def test_a_scorer_with_score_many_gets_one_call_per_stage(reg):
    calls = []

    class RemoteScorer:  # like serve's HandleScorer: one round trip for every classifier
        async def score(self, cl, texts):
            raise AssertionError("score_many should have been used")

        async def tag(self, texts):
            raise AssertionError("score_many should have been used")

        async def score_many(self, items):
            calls.append([(cl, list(t)) for cl, t in items])
            return [[[] for _ in t] if cl == "pii_ner" else [0.25] * len(t) for cl, t in items]

    seen = {}

    @register_validator(name="tests/ml2", data_type="string")
    class TwoClassifiers(Validator):
        def _validate(self, value, metadata):
            seen[value] = (metadata["scores"]["a"], metadata["scores"]["pii_ner"])
            return PassResult()

    reg.check("two", kind="ml", classifiers=("a", "pii_ner"))(lambda p: TwoClassifiers())
    pol = parse_policy({"id": "m", "input": [{"name": "t", "validator": "two"}]}, registry=reg)
    eng = GuardrailEngine(pol, registry=reg, scorer=RemoteScorer())
    await eng.run_stage("input", ["x", "y"])
    assert calls == [[("a", ["x", "y"]), ("pii_ner", ["x", "y"])]]
    assert seen == {"x": (0.25, []), "y": (0.25, [])}


def test_stage_as_a_guardrails_guard(reg):
    eng = _engine(reg, [_c("fixit", "secret", "fix")], [_c("deny", "boom")])
    out = eng.as_guard("input").validate("my secret plan")
    assert out.validation_passed and out.validated_output == "my  plan"
    with pytest.raises(Exception, match="boom"):
        eng.as_guard("output").validate("it goes boom")
