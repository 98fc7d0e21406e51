"""The price table: costs, loading, and errors that name file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workbench.config._yamlsource import load_yaml_with_lines
from workbench.errors import ConfigError
from workbench.pricing import PriceTable, default_prices_path, load_prices


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_PRICES", raising=False)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_packaged_table() -> None:
    table = load_prices()
    assert table.version == "2026-11-01"
    assert table.currency == "USD"
    assert table.models["gpt-4o-mini"].input == 0.15
    assert len(table.models) >= 5
    assert default_prices_path().name == "prices.yaml"


def test_cost() -> None:
    table = load_prices()
    assert table.cost("gpt-4o-mini", "openai", 1_000_000, 0) == pytest.approx(0.15)
    assert table.cost("gpt-4o", "openai", 1000, 500) == pytest.approx(0.0025 + 0.005)
    assert table.cost("gpt-4o-mini-2024-07-18", "openai", 0, 1_000_000) == pytest.approx(0.60)
    assert table.cost("no-such-model", "openai", 10, 10) is None
    assert table.cost("tiny-llama", "local", 10**6, 10**6) == 0.0
    with pytest.raises(ValueError):
        table.cost("gpt-4o", "openai", -1, 0)


def test_local_rate_and_provider_qualified_names(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        version: 2026-12-01
        currency: USD
        local_per_million: {input: 0.05, output: 0.10}
        local_providers: [local, mygpu]
        models:
          gpt-4o: {input: 2.5, output: 10}
          azure/gpt-4o: {input: 2.75, output: 11}
        """,
    )
    table = load_prices(path)
    assert table.version == "2026-12-01"  # an unquoted date is accepted
    assert table.cost("anything", "mygpu", 2_000_000, 1_000_000) == pytest.approx(0.2)
    assert table.cost("gpt-4o", "azure", 1_000_000, 0) == pytest.approx(2.75)
    assert table.cost("gpt-4o", "openai", 1_000_000, 0) == pytest.approx(2.5)
    assert table.cost("anything", "local", 1, 1) is not None
    assert table.cost("anything", "echo", 1, 1) is None  # not local in this table


def test_env_var_selects_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, 'version: "custom"\nmodels: {}\n')
    monkeypatch.setenv("WORKBENCH_PRICES", str(path))
    table = load_prices()
    assert table.version == "custom" and table.models == {}
    assert isinstance(table, PriceTable)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (  # typo in a key: extra="forbid"
            """
            version: "v1"
            models:
              gpt-4o: {input: 2.5, output: 10}
              gpt-4o-mini:
                input: 0.15
                outptu: 0.60
            """,
            6,
            "models.gpt-4o-mini.outptu",
            "unknown key",
        ),
        (  # a negative price
            """
            version: "v1"
            models:
              gpt-4o:
                input: -1
                output: 10
            """,
            4,
            "models.gpt-4o.input",
            "greater than or equal",
        ),
        (  # unknown top-level key
            """
            version: "v1"
            curency: USD
            """,
            2,
            "curency",
            "unknown key",
        ),
        (  # wrong type
            """
            version: "v1"
            local_per_million: {input: free, output: 0}
            """,
            2,
            "local_per_million.input",
            "valid number",
        ),
    ],
)
def test_validation_errors_name_file_line_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_prices(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{line}: {field}: ")


def test_missing_field_points_at_parent(tmp_path: Path) -> None:
    path = _write(tmp_path, 'version: "v1"\nmodels:\n  gpt-4o: {input: 2.5}\n')
    with pytest.raises(ConfigError) as info:
        load_prices(path)
    assert (info.value.line, info.value.field) == (3, "models.gpt-4o.output")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = _write(tmp_path, 'version: "v1"\nmodels:\n  gpt-4o: {input: 2.5, output: 10\n')
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_prices(path)
    assert info.value.path == str(path) and info.value.line is not None


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'version: "v1"\nmodels:\n'
        "  gpt-4o: {input: 1, output: 1}\n"
        "  gpt-4o: {input: 2, output: 2}\n",
    )
    with pytest.raises(ConfigError, match="duplicate key") as info:
        load_prices(path)
    assert (info.value.line, info.value.field) == (4, "gpt-4o")


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_prices(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="must be a mapping") as info:
        load_prices(_write(tmp_path, "- a\n- b\n"))
    assert info.value.line == 1
    with pytest.raises(ConfigError, match="version"):
        load_prices(_write(tmp_path, "models: {}\n"))


def test_locate_is_generic(tmp_path: Path) -> None:
    path = tmp_path / "any.yaml"
    path.write_text("a:\n  b:\n    - x: 1\n    - x: 2\n      y: 3\n7: seven\n")
    data, locate = load_yaml_with_lines(path)
    assert data["a"]["b"][1]["y"] == 3
    assert locate(("a",)) == 1
    assert locate(("a", "b", 1)) == 4
    assert locate(("a", "b", 1, "y")) == 5
    assert locate(("a", "b", 0, "function-after[check]", "x")) == 3  # union tags skipped
    assert locate((7,)) == 6
    assert locate(()) == 1
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_yaml_with_lines(empty)[0] is None
