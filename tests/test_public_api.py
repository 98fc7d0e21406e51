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


def test_one_time_syntax_for_the_whole_library() -> None:
    from datetime import UTC, datetime, timedelta

    from workbench._time import duration, parse_time
    from workbench.analytics.anomalies import parse_duration
    from workbench.analytics.cost import parse_span

    now = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert parse_time("24h", now) == now - timedelta(hours=24)
    assert parse_time("2026-01-01T00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    assert duration("90s") == parse_duration("90s") == parse_span("90s") == timedelta(seconds=90)
    assert duration(300) == duration("300") == timedelta(minutes=5)
    for bad in ("soon", "-5m", "0h"):
        try:
            duration(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
