"""Policy options added for issue 6: input check ``roles``, ``mask_in_log``, and the
stream window bounds; errors name file:line; stored hashes do not move."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.policy._checks import LocalRegistry
from workbench.errors import ConfigError
from workbench.policy import load_policy, parse_policy, policy_hash
from workbench.policy.model import ROLES

Write = Callable[[str, str], Path]


def _error(path: Path, reg: LocalRegistry) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_policy(path, reg)
    return info.value


def test_roles_parse_and_default_to_every_text(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "r.yaml",
        """
        id: r
        input:
          - {name: a, validator: secrets, roles: [system, user, tools, response_format]}
          - {name: b, validator: secrets, roles: [embedding_input], mask_in_log: false}
          - {name: c, validator: secrets}
        """,
    )
    p = load_policy(path, reg)
    assert p.input[0].roles == ["system", "user", "tools", "response_format"]
    assert p.input[1].roles == ["embedding_input"] and p.input[1].mask_in_log is False
    assert p.input[2].roles is None and p.input[2].mask_in_log is None
    assert set(ROLES) == {
        "system", "developer", "user", "assistant", "tool", "function",
        "tools", "response_format", "prompt", "embedding_input",
    }  # fmt: skip


def test_unknown_role_is_a_file_line_error(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "bad.yaml",
        """
        id: x
        input:
          - name: a
            validator: secrets
            roles:
              - user
              - sytem
        """,
    )
    err = _error(path, reg)
    assert (err.line, err.field) == (7, "input.0.roles.1"), str(err)
    assert str(err).startswith(f"{path}:7: input.0.roles.1: ")
    assert "'system'" in str(err) and "'embedding_input'" in str(err)


def test_roles_on_an_output_check_are_refused(write: Write, reg: LocalRegistry) -> None:
    path = write(
        "out.yaml",
        """
        id: x
        output:
          - name: a
            validator: secrets
            roles: [user]
        """,
    )
    err = _error(path, reg)
    assert (err.line, err.field) == (5, "output.0.roles"), str(err)
    assert "output checks read the model's answer" in str(err)


def test_empty_roles_are_refused(write: Write, reg: LocalRegistry) -> None:
    path = write("e.yaml", "id: x\ninput:\n  - {name: a, validator: secrets, roles: []}\n")
    err = _error(path, reg)
    assert (err.line, err.field) == (3, "input.0.roles") and "at least 1" in str(err)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("max_window_chars", 0, "greater than or equal to 1"),
        ("max_window_tokens", -1, "greater than or equal to 1"),
        ("max_window_ms", "soon", "valid integer"),
    ],
)
def test_stream_bounds_are_validated(
    write: Write, reg: LocalRegistry, key: str, value: object, fragment: str
) -> None:
    path = write("s.yaml", f"id: x\nstreaming:\n  window: sentence\n  {key}: {value}\n")
    err = _error(path, reg)
    assert (err.line, err.field) == (4, f"streaming.{key}") and fragment in str(err)


def test_stream_bounds_have_defaults_and_parse(reg: LocalRegistry) -> None:
    p = parse_policy({"id": "x"}, registry=reg)
    s = p.streaming
    assert (s.max_window_chars, s.max_window_tokens, s.max_window_ms) == (400, 64, 250)
    q = parse_policy(
        {"id": "x", "streaming": {"max_window_chars": 80, "max_window_ms": 50}}, registry=reg
    )
    assert (q.streaming.max_window_chars, q.streaming.max_window_ms) == (80, 50)


def test_new_fields_leave_stored_hashes_alone(reg: LocalRegistry) -> None:
    """Policies published before these options existed keep their content hash: the new
    keys are left out of the canonical form while at their defaults."""
    data = {"id": "x", "input": [{"name": "a", "validator": "secrets"}]}
    p = parse_policy(data, registry=reg)
    canonical = p.canonical_json()
    assert "roles" not in canonical and "mask_in_log" not in canonical
    assert "max_window" not in canonical
    explicit = parse_policy(
        {
            **data,
            "streaming": {"max_window_chars": 400, "max_window_tokens": 64, "max_window_ms": 250},
        },
        registry=reg,
    )
    assert policy_hash(explicit) == policy_hash(p)
    changed = parse_policy(
        {"id": "x", "input": [{"name": "a", "validator": "secrets", "roles": ["user"]}]},
        registry=reg,
    )
    assert policy_hash(changed) != policy_hash(p)
    bounded = parse_policy({**data, "streaming": {"max_window_ms": 100}}, registry=reg)
    assert policy_hash(bounded) != policy_hash(p)


def test_roles_survive_the_canonical_yaml_round_trip(reg: LocalRegistry) -> None:
    p = parse_policy(
        {
            "id": "x",
            "input": [
                {"name": "a", "validator": "secrets", "roles": ["tools", "user"]},
                {
                    "name": "b",
                    "validator": "regex_deny",
                    "params": {"patterns": ["x"]},
                    "mask_in_log": True,
                },
            ],
            "streaming": {"max_window_tokens": 10},
        },
        registry=reg,
    )
    again = parse_policy(yaml.safe_load(p.canonical_yaml()), registry=reg)
    assert again == p and policy_hash(again) == policy_hash(p)
    assert again.input[0].roles == ["tools", "user"] and again.input[1].mask_in_log is True
    assert again.streaming.max_window_tokens == 10
