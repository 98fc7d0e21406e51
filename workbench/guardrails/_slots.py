"""Every text a caller sends, with the role an input check selects it by.

A :class:`Slot` is one text of a request: a message's content (a string, or each text
part of a content list), an assistant's tool-call arguments, a tool's name, description
and parameter schema, the ``response_format`` schema, the legacy ``prompt``, or one
input of an embeddings request. Its ``role`` is what a check's policy ``roles`` name
(see :data:`workbench.policy.model.ROLES`); a message with a role outside that list
keeps its own role name, read by checks that read every role.

Rewriting (redact/fix) happens in place, in the slot the text came from. Some slots
cannot be rewritten safely and are checked only: a tool's name (calls refer to it), a
tool's parameter schema and the ``response_format`` schema (checked as one JSON text;
a rewrite inside a schema could break it). Tool-call arguments are rewritten only when
the result is still valid JSON. The gateway refuses a request whose redact/fix would
have to change such a slot (:class:`UnsafeRewrite`), rather than forward it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any, Protocol

_PART_TEXT = {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal"}

Path = tuple[str | int, ...]


class ChatLike(Protocol):
    """What slots need of a chat or completion request (``providers.ChatRequest``)."""

    messages: list[dict[str, Any]] | None
    prompt: str | None
    extra: dict[str, Any]


@dataclass
class Slot:
    """One checked text: its role, where it sits, and how to write it back."""

    role: str
    text: str
    where: str  # e.g. "messages[2].content[0]", "tools[0].function.parameters"
    write: Callable[[str], None] | None = None  # None: checked only, never rewritten
    json: bool = False  # a rewrite must still be valid JSON

    def can_write(self, new: str) -> bool:
        """Can ``new`` replace this slot's text safely?"""
        if self.write is None:
            return False
        if self.json:
            try:
                json.loads(new)
            except ValueError:
                return False
        return True


def _set_path(root: Any, path: Path, value: Any) -> None:
    """Set ``root[path...] = value``, copying each nested dict/list on the way (the
    caller's original objects are never changed; ``root`` itself is)."""
    node = root
    for key in path[:-1]:
        child = node[key]
        child = list(child) if isinstance(child, list) else dict(child)
        node[key] = child
        node = child
    node[path[-1]] = value


def _setter(
    root: MutableSequence[Any] | MutableMapping[str, Any], path: Path
) -> Callable[[str], None]:
    return lambda new: _set_path(root, path, new)


def _message_slots(msgs: list[dict[str, Any]]) -> list[Slot]:
    out: list[Slot] = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            continue
        role = str(m.get("role") or "user")
        content = m.get("content")
        if isinstance(content, str):
            out.append(Slot(role, content, f"messages[{i}].content", _setter(msgs, (i, "content"))))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                key = _PART_TEXT.get(part.get("type", "")) if isinstance(part, dict) else None
                if key and isinstance(part.get(key), str):
                    path: Path = (i, "content", j, key)
                    out.append(
                        Slot(role, part[key], f"messages[{i}].content[{j}]", _setter(msgs, path))
                    )
        calls = m.get("tool_calls")
        for k, call in enumerate(calls if isinstance(calls, list) else []):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                path = (i, "tool_calls", k, "function", "arguments")
                where = f"messages[{i}].tool_calls[{k}].function.arguments"
                out.append(Slot(role, fn["arguments"], where, _setter(msgs, path), json=True))
        fc = m.get("function_call")
        if isinstance(fc, dict) and isinstance(fc.get("arguments"), str):
            path = (i, "function_call", "arguments")
            where = f"messages[{i}].function_call.arguments"
            out.append(Slot(role, fc["arguments"], where, _setter(msgs, path), json=True))
    return out


def _function_slots(fn: Any, where: str, root: Any, path: Path) -> list[Slot]:
    """A tool's function: name (checked only), description, parameters (checked only)."""
    if not isinstance(fn, dict):
        return []
    out: list[Slot] = []
    if isinstance(fn.get("name"), str):
        out.append(Slot("tools", fn["name"], f"{where}.name"))
    if isinstance(fn.get("description"), str):
        out.append(
            Slot(
                "tools",
                fn["description"],
                f"{where}.description",
                _setter(root, (*path, "description")),
            )
        )
    if fn.get("parameters") is not None:
        schema = json.dumps(fn["parameters"], ensure_ascii=False)
        out.append(Slot("tools", schema, f"{where}.parameters"))
    return out


def _extra_slots(extra: dict[str, Any]) -> list[Slot]:
    out: list[Slot] = []
    tools = extra.get("tools")
    for k, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, dict):
            out += _function_slots(
                tool.get("function"), f"tools[{k}].function", extra, ("tools", k, "function")
            )
    functions = extra.get("functions")  # the legacy form of tools
    for k, fn in enumerate(functions if isinstance(functions, list) else []):
        out += _function_slots(fn, f"functions[{k}]", extra, ("functions", k))
    rf = extra.get("response_format")
    if isinstance(rf, dict) and rf.get("json_schema") is not None:
        text = json.dumps(rf["json_schema"], ensure_ascii=False)
        out.append(Slot("response_format", text, "response_format.json_schema"))
    return out


def request_slots(req: ChatLike) -> list[Slot]:
    """Every text of a chat or completion request, in request order."""
    out: list[Slot] = []
    if req.prompt is not None:

        def set_prompt(new: str) -> None:
            req.prompt = new

        out.append(Slot("prompt", req.prompt, "prompt", set_prompt))
    if req.messages:
        out += _message_slots(req.messages)
    out += _extra_slots(req.extra or {})
    return out


def text_slots(texts: list[str], role: str = "embedding_input") -> list[Slot]:
    """One slot per text of ``texts`` (embedding inputs), rewritten in that list."""
    return [Slot(role, t, f"input[{i}]", _setter(texts, (i,))) for i, t in enumerate(texts)]
