"""``import workbench`` is light, and every name of the notebook API resolves."""

from __future__ import annotations

import subprocess
import sys

import workbench


def test_every_public_name_resolves() -> None:
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name
    assert callable(workbench.replay) and callable(workbench.evaluate)
    assert callable(workbench.logs.scan) and callable(workbench.cost.suggest)
    assert callable(workbench.anomalies.detect) and callable(workbench.synth.generate)


def test_import_is_light() -> None:
    code = (
        "import sys, workbench; "
        "print(sorted(m for m in ('duckdb', 'polars', 'torch', 'ray', 'statsmodels') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        workbench.nope  # noqa: B018
    except AttributeError as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("workbench.nope resolved")
