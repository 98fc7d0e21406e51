"""Posting alerts to a webhook as Slack-compatible JSON (``{"text", "blocks"}``).

The POST goes through aiohttp with a total timeout; a failure is reported, never raised
(the watcher keeps the alert and tries again on its next tick). The URL is named in
messages without its path, query or credentials (a Slack webhook path is the secret).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._store import Alert

_ICON = {"info": ":information_source:", "warn": ":warning:", "critical": ":rotating_light:"}


def resolve_webhook(
    url: str | None = None, url_env: str | None = None, url_file: str | Path | None = None
) -> str | None:
    """The webhook URL from the value itself, an environment variable or a secret file."""
    if url:
        return url
    if url_env:
        value = os.environ.get(url_env, "").strip()
        if value:
            return value
    if url_file:
        path = Path(url_file).expanduser()
        if not path.exists():
            raise ValueError(f"webhook secret file not found: {path}")
        return path.read_text().strip() or None
    return None


def public_url(url: str) -> str:
    """``scheme://host[:port]``: what may appear in logs and messages."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def slack_payload(alerts: Sequence[Alert], resolved: Sequence[Alert] = ()) -> dict[str, Any]:
    """A Slack-compatible message: a summary ``text`` and one section block per alert."""
    lines = [a.describe() for a in alerts]
    lines += [f"#{a.id} resolved: {a.metric} of {a.series}" for a in resolved]
    head = f"workbench: {len(alerts)} anomaly alert(s)"
    if resolved:
        head += f", {len(resolved)} resolved"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head}}
    ]
    for a in alerts:
        arrow = "above" if a.direction == "up" else "below"
        text = (
            f"{_ICON.get(a.severity, '')} *{a.severity.upper()}* `{a.metric}` of "
            f"*{a.series}* is {arrow} normal\n"
            f"value *{a.value:.4g}*, expected {a.expected:.4g} "
            f"(band {a.lower:.4g} to {a.upper:.4g}, z {a.z:+.1f}, {a.detector})\n"
            f"since {a.start:%Y-%m-%d %H:%M} UTC, alert #{a.id}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    for a in resolved:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f":white_check_mark: #{a.id} resolved: "
                        f"`{a.metric}` of *{a.series}*",
                    }
                ],
            }
        )
    return {"text": head + "\n" + "\n".join(lines), "blocks": blocks}


@dataclass(frozen=True)
class PostResult:
    """What happened to one webhook POST."""

    ok: bool
    status: int | None
    error: str | None = None


async def post_webhook(url: str, payload: dict[str, Any], timeout_s: float = 5.0) -> PostResult:
    """POST ``payload`` as JSON; 2xx is success; errors come back, not raised."""
    import aiohttp

    body = json.dumps(payload).encode()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
            session.post(url, data=body, headers={"content-type": "application/json"}) as resp,
        ):
            await resp.read()
            status = resp.status
    except TimeoutError:
        return PostResult(False, None, f"{public_url(url)} timed out after {timeout_s:g}s")
    except aiohttp.ClientError as exc:
        return PostResult(False, None, f"{public_url(url)}: {type(exc).__name__}")
    if 200 <= status < 300:
        return PostResult(True, status)
    return PostResult(False, status, f"{public_url(url)} answered HTTP {status}")
