"""``webhook``: delegate the decision to an HTTP endpoint (low-volume, synchronous).

POSTs ``{"text", "stage", "request"}`` as JSON and expects ``{"pass": bool, "score"?: float,
"message"?: str, "spans"?: [{"start", "end", "reason"?} | [start, end]], "fix"?: str}``.
Timeouts, connection errors, non-2xx answers and malformed bodies pass when
``fail_open`` and fail otherwise, with a message that says what went wrong. A short-lived
``httpx`` client per call keeps it safe in any thread or event loop.
"""

from __future__ import annotations

import json
from typing import Any

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


@register_validator(name="workbench/webhook", data_type="string")
class Webhook(CheapValidator[WebhookParams]):
    """Asks an HTTP endpoint whether the text passes (fail-open or fail-closed on errors)."""

    check_name = "webhook"
    params_model = WebhookParams

    def _unavailable(self, why: str) -> Result:
        url = str(self.params.url)
        if self.params.fail_open:
            return ok(webhook_error=why)
        return fail(f"webhook {url} unavailable ({why}); failing closed", webhook_error=why)

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """POST the text, map the answer to a result."""
        p = self.params
        body = json.dumps(
            {"text": value, "stage": metadata.get("stage"), "request": request_of(metadata)},
            default=str,
        ).encode()
        headers = {"content-type": "application/json", **p.headers}
        try:
            with httpx.Client(timeout=p.timeout_s, trust_env=False) as client:
                resp = client.post(str(p.url), content=body, headers=headers)
        except httpx.TimeoutException:
            return self._unavailable(f"timed out after {p.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return self._unavailable(f"{type(exc).__name__}: {exc}")
        if not resp.is_success:
            return self._unavailable(f"HTTP {resp.status_code}")
        try:
            answer = resp.json()
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


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Webhook,)
