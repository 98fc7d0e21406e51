"""Load YAML keeping node positions, so validation errors can name a line.

``load_yaml_with_lines(path)`` returns the data and ``locate(loc)``, which maps a pydantic
error ``loc`` (a path of keys and list indexes) to a 1-based line number.
:func:`config_error_from_validation` turns a pydantic ``ValidationError`` into a
:class:`~workbench.errors.ConfigError` naming the file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.errors import ConfigError

Locate = Callable[[Sequence[Any]], int | None]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _check_duplicate_keys(node: yaml.Node, path: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise ConfigError(
                        "duplicate key", path=path, line=_line(key), field=str(key.value)
                    )
                seen.add(key.value)
            _check_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path)


def locate_in(root: yaml.Node | None, loc: Sequence[Any]) -> int | None:
    """The line of the node at ``loc`` under ``root`` (best effort).

    String parts match mapping keys, integer parts index sequences (or match keys
    written as numbers). A part that matches nothing (a pydantic union tag, or a missing
    field) is skipped, so the answer is the deepest node that exists. For a mapping key
    the line of the key itself is returned.
    """
    if root is None:
        return None
    node: yaml.Node = root
    line = _line(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, _line(key)
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
                line = _line(node)
    return line


def load_yaml_with_lines(path: str | Path) -> tuple[Any, Locate]:
    """Parse a YAML file (safe loader) and return ``(data, locate)``.

    Raises :class:`ConfigError` (with the file and line) when the file is missing or
    unreadable, is not valid YAML, or repeats a key in a mapping. An empty file gives
    ``None`` as data.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", path=where) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_duplicate_keys(node, where)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", path=where, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path=where) from None
    finally:
        loader.dispose()

    def locate(loc: Sequence[Any]) -> int | None:
        return locate_in(node, loc)

    return data, locate


def config_error_from_validation(
    exc: ValidationError, *, path: str | Path, locate: Locate | None = None
) -> ConfigError:
    """A :class:`ConfigError` for the first error of ``exc``, with file, line and field.

    Unknown keys are reported before other errors: a typo'd key usually also causes a
    "field required" error for the key it was meant to be, and the typo is the news.
    """
    errors = exc.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = tuple(first["loc"])
    msg = "unknown key" if first["type"] == "extra_forbidden" else str(first["msg"])
    more = len(errors) - 1
    if more:
        msg += f" (and {more} more error{'s' if more > 1 else ''})"
    return ConfigError(
        msg,
        path=str(path),
        line=locate(loc) if locate is not None else None,
        field=".".join(str(p) for p in loc) or None,
    )
