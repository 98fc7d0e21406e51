"""The GuardrailScorer deployment's encoder precision: argument, environment, default."""

from __future__ import annotations

import pytest

from serve.scorer import DEFAULT_PRECISION, PRECISION_ENV, _precision


def test_precision_argument_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PRECISION_ENV, raising=False)
    assert _precision() == DEFAULT_PRECISION
    monkeypatch.setenv(PRECISION_ENV, " INT8 ")
    assert _precision() == "int8"
    assert _precision("fp32") == "fp32"  # the argument wins
    monkeypatch.setenv(PRECISION_ENV, "int4")
    with pytest.raises(ValueError, match=PRECISION_ENV):
        _precision()
