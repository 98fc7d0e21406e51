"""``webhook``: delegate the decision to an HTTP endpoint.

POSTs ``{"text", "stage", "request"}`` as JSON and expects ``{"pass": bool, "score"?: float,
"message"?: str, "spans"?: [{"start", "end", "reason"?} | [start, end]], "fix"?: str}``.
Timeouts, connection errors, non-2xx answers and malformed bodies pass when
``fail_open`` and fail otherwise, with a message that says what went wrong (naming the
endpoint without its query string or credentials).

The check is ``io_bound``: the engine awaits :meth:`Webhook.async_validate`, an aiohttp
call bounded by ``timeout_s``, so a slow endpoint never blocks the event loop and
concurrent requests wait on it concurrently. The blocking :meth:`Webhook.check` (a
short-lived ``httpx`` client, safe in any thread) serves ``validate`` for notebooks and
guardrails-ai ``Guard`` objects.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import httpx
from guardrails.validators import register_validator
from pydantic import AnyHttpUrl, Field

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    request_of,
)


class WebhookParams(Params):
    """Params of ``webhook``."""

    url: AnyHttpUrl
    timeout_s: float = Field(2.0, gt=0, le=60)
    fail_open: bool = Field(False, description="pass when the webhook cannot answer")
    headers: dict[str, str] = Field(default_factory=dict)


def _spans(raw: Any, size: int) -> list[SpanT]:
    out: list[SpanT] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            s, e, r = item.get("start"), item.get("end"), str(item.get("reason", "webhook"))
        elif isinstance(item, list | tuple) and len(item) >= 2:
            s, e, r = item[0], item[1], str(item[2]) if len(item) > 2 else "webhook"
        else:
            continue
        if isinstance(s, int) and isinstance(e, int) and 0 <= s <= e <= size:
            out.append((s, e, r))
    return out


def _public_url(url: str) -> str:
    """``scheme://host[:port]/path``: no user info, query or fragment (they may hold keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@register_validator(name="workbench/webhook", data_type="string")
class Webhook(CheapValidator[WebhookParams]):
    """Asks an HTTP endpoint whether the text passes (fail-open or fail-closed on errors)."""

    check_name = "webhook"
    params_model = WebhookParams
    io_bound: ClassVar[bool] = True

    def _unavailable(self, why: str) -> Result:
        if self.params.fail_open:
            return ok(webhook_error=why)
        url = _public_url(str(self.params.url))
        return fail(f"webhook {url} unavailable ({why}); failing closed", webhook_error=why)

    def _request(self, value: str, metadata: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {"text": value, "stage": metadata.get("stage"), "request": request_of(metadata)},
            default=str,
        ).encode()
        return body, {"content-type": "application/json", **self.params.headers}

    def _answer(self, status: int, raw: bytes, value: str) -> Result:
        """Map the endpoint's HTTP answer to a result."""
        if not 200 <= status < 300:
            return self._unavailable(f"HTTP {status}")
        try:
            answer = json.loads(raw)
        except ValueError:
            return self._unavailable("answer is not JSON")
        if not isinstance(answer, dict) or not isinstance(answer.get("pass"), bool):
            return self._unavailable('answer has no boolean "pass"')
        score = answer.get("score")
        score = float(score) if isinstance(score, int | float) else None
        if answer["pass"]:
            return ok(score=score)
        fix = answer.get("fix")
        return fail(
            str(answer.get("message") or "rejected by webhook"),
            _spans(answer.get("spans"), len(value)),
            fix=fix if isinstance(fix, str) else None,
            score=score,
        )

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """Blocking form: POST the text with httpx, map the answer to a result."""
        p = self.params
        body, headers = self._request(value, metadata)
        try:
            with httpx.Client(timeout=p.timeout_s, trust_env=False) as client:
                resp = client.post(str(p.url), content=body, headers=headers)
        except httpx.TimeoutException:
            return self._unavailable(f"timed out after {p.timeout_s:g}s")
        except httpx.ConnectError:
            return self._unavailable("cannot connect")
        except httpx.HTTPError as exc:
            return self._unavailable(f"request failed: {type(exc).__name__}")
        return self._answer(resp.status_code, resp.content, value)

    async def async_validate(self, value: Any, metadata: dict[str, Any]) -> Result:
        """What the engine awaits: the same check over aiohttp, bounded by ``timeout_s``."""
        text = value if isinstance(value, str) else str(value)
        p = self.params
        body, headers = self._request(text, metadata or {})
        timeout = aiohttp.ClientTimeout(total=p.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, trust_env=False) as session,
                session.post(str(p.url), data=body, headers=headers) as resp,
            ):
                status, raw = resp.status, await resp.read()
        except TimeoutError:
            return self._unavailable(f"timed out after {p.timeout_s:g}s")
        except aiohttp.ClientConnectorError:
            return self._unavailable("cannot connect")
        except aiohttp.ClientError as exc:
            return self._unavailable(f"request failed: {type(exc).__name__}")
        return self._answer(status, raw, text)


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Webhook,)
