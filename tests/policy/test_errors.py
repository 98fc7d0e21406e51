"""Every policy error names the file, the line and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.policy._checks import LocalRegistry
from workbench.errors import ConfigError
from workbench.policy import PolicyError, check_policy, load_policy, parse_policy

Write = Callable[[str, str], Path]


def error_of(path: Path, reg: LocalRegistry) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_policy(path, reg)
    return info.value


def expect(path: Path, reg: LocalRegistry, line: int, field: str, *fragments: str) -> None:
    err = error_of(path, reg)
    text = str(err)
    assert text.startswith(f"{path}:{line}: {field}: "), text
    assert (err.path, err.line, err.field) == (str(path), line, field)
    for fragment in fragments:
        assert fragment in text, text


def test_unknown_validator_lists_close_matches(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "x.yaml",
        """
        id: x
        input:
          - name: a
            validator: secret
        """,
    )
    expect(path, reg, 4, "input.0.validator", "unknown validator 'secret'", "did you mean: secrets")
    far = write("far.yaml", "id: x\noutput:\n  - {name: a, validator: zzzzzz}\n")
    expect(far, reg, 3, "output.0.validator", "known validators: json_schema, length")


def test_unknown_validator_with_an_empty_catalogue(write: Write) -> None:
    path = write("x.yaml", "id: x\ninput:\n  - {name: a, validator: secrets}\n")
    expect(path, LocalRegistry(), 3, "input.0.validator", "catalogue is empty")


def test_params_errors_name_the_param_path(write: Write, reg: LocalRegistry) -> None:
    missing = write(
        "m.yaml",
        """
        id: x
        output:
          - name: a
            validator: secrets
          - name: b
            validator: regex_match
            params: {}
        """,
    )
    expect(missing, reg, 7, "output.1.params.pattern", "Field required")
    wrong = write(
        "w.yaml",
        """
        id: x
        input:
          - name: a
            validator: regex_deny
            params:
              patterns:
                - ok
                - 42
        """,
    )
    expect(wrong, reg, 8, "input.0.params.patterns.1", "valid string")
    unknown = write(
        "u.yaml",
        """
        id: x
        output:
          - name: a
            validator: toxicity
            params:
              treshold: 0.3
        """,
    )
    expect(unknown, reg, 6, "output.0.params.treshold", "unknown parameter", "threshold")
    none = write(
        "n.yaml", "id: x\ninput:\n  - name: a\n    validator: secrets\n    params: {x: 1}\n"
    )
    expect(none, reg, 5, "input.0.params.x", "it takes: no parameters")
    bad = write(
        "b.yaml",
        "id: x\noutput:\n  - name: a\n    validator: toxicity\n    params: {threshold: 2}\n",
    )
    expect(bad, reg, 5, "output.0.params.threshold", "less than or equal to 1")


def test_check_in_an_unsupported_stage(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "x.yaml",
        """
        id: x
        input:
          - name: ok
            validator: secrets
          - name: leak
            validator: system_prompt_leak
        """,
    )
    expect(path, reg, 6, "input.1.validator", "cannot run in the input stage", "supports: output")


def test_redact_or_fix_needs_a_check_that_can_fix(write: Write, reg: LocalRegistry) -> None:
    for action in ("redact", "fix"):
        path = write(
            f"{action}.yaml",
            f"""
            id: x
            output:
              - name: tox
                validator: toxicity
                on_fail: {action}
            """,
        )
        expect(path, reg, 5, "output.0.on_fail", f"'{action}' needs a check that can fix")
    ok = write("ok.yaml", "id: x\ninput:\n  - {name: s, validator: secrets, on_fail: redact}\n")
    assert load_policy(ok, reg).input[0].on_fail == "redact"


def test_fallback_and_retry_are_output_only(write: Write, reg: LocalRegistry) -> None:
    for action in ("fallback", "retry"):
        path = write(
            f"{action}.yaml",
            f"""
            id: x
            fallback: {{message: sorry}}
            input:
              - name: s
                validator: secrets
                on_fail: {action}
            """,
        )
        expect(path, reg, 6, "input.0.on_fail", f"'{action}' is only allowed in the output stage")


def test_fallback_needs_a_model_or_a_message(write: Write, reg: LocalRegistry) -> None:
    text = """
    id: x
    output:
      - name: s
        validator: secrets
        on_fail: fallback
    """
    expect(write("x.yaml", text), reg, 5, "output.0.on_fail", "fallback.model or fallback.message")
    for fallback in ("fallback: {model: gpt-4o-mini}", "fallback: {message: sorry}"):
        assert load_policy(write("ok.yaml", text + fallback + "\n"), reg).output[0].name == "s"


def test_duplicate_check_names(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "x.yaml",
        """
        id: x
        input:
          - name: same
            validator: secrets
        output:
          - name: other
            validator: secrets
          - name: same
            validator: secrets
        """,
    )
    expect(path, reg, 8, "output.1.name", "duplicate check name 'same'", "input.0")


def test_reserved_sections_must_be_empty(write: Write, reg: LocalRegistry) -> None:
    path = write("x.yaml", "id: x\nlimits:\n  strategy: cheapest\n")
    expect(path, reg, 2, "limits", "reserved for a later release")


def test_cache_section_is_checked(write: Write, reg: LocalRegistry) -> None:
    path = write("x.yaml", "id: x\ncache:\n  enabled: true\n  strategy: cheapest\n")
    expect(path, reg, 4, "cache.strategy", "unknown key")


def test_unknown_keys_suggest_the_right_one(write: Write, reg: LocalRegistry) -> None:
    top = write("t.yaml", "id: x\nouptut: []\n")
    expect(top, reg, 2, "ouptut", "unknown key", "did you mean 'output'")
    nested = write(
        "n.yaml",
        """
        id: x
        input:
          - name: a
            validator: secrets
            on_fial: deny
        """,
    )
    expect(nested, reg, 5, "input.0.on_fial", "unknown key", "did you mean 'on_fail'")
    deep = write("d.yaml", "id: x\nstreaming:\n  zzz: 1\n")
    expect(deep, reg, 3, "streaming.zzz", "allowed: window, window_tokens")


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        ("id: Bad_Id\n", 1, "id", "should match pattern"),
        ("description: no id\n", 1, "id", "Field required"),
        (
            "id: x\ninput:\n  - {name: a, validator: secrets, on_fail: block}\n",
            3,
            "input.0.on_fail",
            "'deny', 'flag', 'redact', 'fix', 'fallback', 'retry' or 'noop'",
        ),
        (
            "id: x\ninput:\n  - {name: a, validator: secrets, sample_rate: 0}\n",
            3,
            "input.0.sample_rate",
            "greater than 0",
        ),
        (
            "id: x\ninput:\n  - {name: a, validator: secrets, sample_rate: 1.5}\n",
            3,
            "input.0.sample_rate",
            "less than or equal to 1",
        ),
        (
            "id: x\ninput:\n  - {name: a, validator: secrets, mode: shadow}\n",
            3,
            "input.0.mode",
            "'enforce' or 'log_only'",
        ),
        ("id: x\ninput:\n  - {name: A B, validator: secrets}\n", 3, "input.0.name", "pattern"),
        (
            "id: x\nstreaming:\n  window: tokens\n  window_tokens: 0\n",
            4,
            "streaming.window_tokens",
            "greater than or equal to 1",
        ),
        ("id: x\nretry:\n  max_attempts: 6\n", 3, "retry.max_attempts", "less than or equal to 5"),
        ("id: x\napplies_to:\n  workspaces: []\n", 3, "applies_to.workspaces", "at least 1"),
        ("id: x\ninput: {name: a}\n", 2, "input", "valid list"),
    ],
)
def test_schema_errors(
    write: Write, reg: LocalRegistry, text: str, line: int, field: str, fragment: str
) -> None:
    expect(write("x.yaml", text), reg, line, field, fragment)


def test_file_level_errors(write: Write, reg: LocalRegistry, tmp_path: Path) -> None:
    assert str(error_of(write("e.yaml", ""), reg)) == f"{tmp_path / 'e.yaml'}: the policy is empty"
    assert "must be a mapping, not list" in str(error_of(write("l.yaml", "- a\n"), reg))
    syntax = error_of(write("s.yaml", "id: x\ninput: [\n"), reg)
    assert syntax.line is not None and "invalid YAML" in str(syntax)
    dup = error_of(write("d.yaml", "id: x\nid: y\n"), reg)
    assert (dup.line, dup.field) == (2, "id") and "duplicate key" in str(dup)
    assert "file not found" in str(error_of(tmp_path / "missing.yaml", reg))


def test_every_problem_is_reported(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "x.yaml",
        """
        id: x
        input:
          - name: a
            validator: secretz
          - name: b
            validator: toxicity
            on_fail: fallback
        output:
          - name: a
            validator: regex_match
        """,
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path, reg)
    err = info.value
    assert str(err).startswith(f"{path}:4: input.0.validator: unknown validator 'secretz'")
    assert str(err).endswith("(and 3 more errors)")
    assert [(e.line, e.field) for e in err.errors] == [
        (4, "input.0.validator"),
        (7, "input.1.on_fail"),
        (9, "output.0.name"),
        (9, "output.0.params.pattern"),  # no params key: the line of the check
    ]
    # check_policy returns them instead of raising
    policy, problems = check_policy({"id": "ok"}, registry=reg)
    assert policy is not None and problems == []


def test_parse_without_locations(reg: LocalRegistry) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policy({"id": "x", "input": [{"name": "a", "validator": "nope"}]}, registry=reg)
    assert str(info.value).startswith("<policy>: input.0.validator: unknown validator 'nope'")
