"""OpenAI message content, read for translation into other providers' formats.

Small helpers shared by the non-OpenAI wire formats (anthropic, gemini, cohere): the
text of a ``content`` value, its parts, the URL of an ``image_url`` part, base64 data
URLs, and a typed accessor for nested JSON objects in provider answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.errors import InvalidRequestError


def obj_at(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """``data[key]`` when it is a JSON object, else an empty dict."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def text_of(content: Any) -> str:
    """The text of an OpenAI message ``content`` (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def content_parts(content: Any) -> list[dict[str, Any]]:
    """OpenAI ``content`` as a list of part objects (a string becomes one text part)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    return []


def image_url_of(part: dict[str, Any]) -> str:
    """The URL of an ``image_url`` content part (either shape OpenAI accepts)."""
    img = part.get("image_url")
    url = img.get("url") if isinstance(img, dict) else img
    if not isinstance(url, str) or not url:
        raise InvalidRequestError("image_url parts need a url", param="messages")
    return url


def split_data_url(url: str) -> tuple[str, str] | None:
    """``(media_type, base64 data)`` of a ``data:<type>;base64,<data>`` URL, else None."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        raise InvalidRequestError("image data URLs must be base64-encoded", param="messages")
    return head[: -len(";base64")] or "application/octet-stream", data
