"""The shared aiohttp base of every remote provider (OpenAI-compatible, Azure, Anthropic, ...).

- One long-lived ``aiohttp.ClientSession`` per client, created lazily on the running
  loop (DESIGN.md: aiohttp, not httpx, for upstream calls); connect/read timeouts from
  ``target.timeouts``; redirects are never followed (a redirect could carry the key
  to another host).
- Keys come only from ``api_key_env`` / ``api_key_file`` (read once, at construction) or
  from a stored provider credential (``credential: cred-...``, or the request workspace's
  binding for this target: :mod:`workbench.governance.credentials`), never from a request.
  The key is looked up per request (:attr:`HttpProvider.key`; credentials come from an
  in-memory cache that follows the store's generation), and auth headers are sent per
  request rather than baked into the session, so a rotated credential is used without a
  restart.
- One mapping of failures to our errors, each carrying ``upstream_status`` and
  ``retry_after_s`` (``Retry-After`` in seconds or as an HTTP date, ``retry-after-ms``):
  refused/reset/DNS -> :class:`UpstreamConnectionError`; timeouts ->
  :class:`UpstreamTimeoutError`; 429 -> :class:`RateLimitError`; 503/529 ->
  :class:`ServiceUnavailableError`; other 5xx -> :class:`UpstreamError`; 401/403 (the
  operator's key, not the caller's fault) -> :class:`UpstreamError` code
  ``upstream_auth_failed``; other 4xx -> :class:`InvalidRequestError` code
  ``upstream_rejected``; an unparseable body or SSE data line ->
  :class:`UpstreamMalformedError`; a stream that ends without its terminal event or
  loses its connection -> :class:`UpstreamError` code ``upstream_stream_broken``.
- Every message names the upstream as ``upstream <target name>`` and is scrubbed
  (:func:`workbench.providers._scrub.scrub`) of the key, the base URL and anything
  key-shaped; aiohttp exceptions (which name the host) are never chained.
- Request passthrough fields go through :func:`passthrough`: a per-provider allow-list,
  plus fields the target's ``allow_fields`` opts into; transport and credential fields
  (``base_url``, ``api_key``, ``extra_headers``, ...) are always dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
    WorkbenchError,
)
from workbench.governance._resolver import CredentialResolver, resolver, secret_for, workspace_scope
from workbench.providers._scrub import scrub

if TYPE_CHECKING:
    from workbench.config.gateway import ModelTarget

log = logging.getLogger(__name__)

#: Fields that change billing or data retention on the operator's account: passed only
#: when the target's ``allow_fields`` lists them.
OPT_IN_FIELDS = frozenset({"store", "service_tier"})
#: Fields a caller may never set, and a config may never allow (transport, credentials,
#: and the fields the provider layer itself owns).
NEVER_FIELDS = frozenset(
    {
        "model", "messages", "prompt", "stream", "stream_options", "input",
        "base_url", "api_base", "api_url", "url", "host", "endpoint", "base",
        "api_key", "api_version", "api_type", "key", "token", "auth", "authorization",
        "headers", "extra_headers", "default_headers", "extra_query", "extra_body",
        "organization", "project", "deployment", "proxy", "timeout", "request_timeout",
        "contents", "system", "systemInstruction", "generationConfig",
    }
)  # fmt: skip
MAX_ERROR_CHARS = 300
MAX_SSE_LINE = 8 * 1024 * 1024


def api_key(target: ModelTarget) -> str | None:
    """The target's key for the request in flight: the workspace's bound credential or the
    target's ``credential``, else its secret file or environment variable (None: no key)."""
    secret = secret_for(target.name, target.credential)
    if secret is not None:
        return secret
    return static_key(target)


def static_key(target: ModelTarget) -> str | None:
    """The target's key from its secret file or environment variable (None: no key)."""
    if target.api_key_file:
        return Path(target.api_key_file).expanduser().read_text().strip() or None
    if target.api_key_env:
        return os.environ.get(target.api_key_env) or None
    return None


def validate_remote(target: ModelTarget, provider: str) -> None:
    """Config checks every remote provider shares (base_url, allow_fields)."""
    if not target.base_url:
        raise ValueError(f"{provider} targets need base_url")
    if not target.base_url.startswith(("http://", "https://")):
        raise ValueError("base_url must start with http:// or https://")
    bad = sorted(set(target.allow_fields) & NEVER_FIELDS)
    if bad:
        raise ValueError(f"allow_fields may not include {', '.join(bad)}")


def passthrough(
    extra: Mapping[str, Any], allowed: Iterable[str], opted_in: Iterable[str] = ()
) -> dict[str, Any]:
    """The request's passthrough fields that this provider may receive.

    ``allowed``: the provider's allow-list; ``opted_in``: the target's ``allow_fields``
    (which may add :data:`OPT_IN_FIELDS` or provider-specific fields). Everything in
    :data:`NEVER_FIELDS` is dropped whatever the lists say.
    """
    ok = (set(allowed) - OPT_IN_FIELDS) | set(opted_in)
    kept = {k: v for k, v in extra.items() if k in ok and k not in NEVER_FIELDS}
    if len(kept) != len(extra):
        log.debug("dropped passthrough fields: %s", sorted(set(extra) - set(kept)))
    return kept


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            v = float(ms) / 1000.0
            if v >= 0:
                return v
        except ValueError:
            pass
    ra = headers.get("Retry-After") or headers.get("retry-after")
    if not ra:
        return None
    try:
        secs = float(ra)
        return secs if secs >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(ra)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def error_detail(data: Any) -> str:
    """The human part of a provider's JSON error body (OpenAI/Anthropic/Gemini/Cohere)."""
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(data.get("message"), str):
            return data["message"]
    return json.dumps(data)[:MAX_ERROR_CHARS]


def status_error(status: int, detail: str, where: str, retry_after: float | None) -> WorkbenchError:
    """Our error for an upstream HTTP status (``where`` is ``upstream <name>``)."""
    msg = f"{where} answered {status}: {detail}" if detail else f"{where} answered {status}"
    kw: dict[str, Any] = {"upstream_status": status, "retry_after_s": retry_after}
    if status == 429:
        return RateLimitError(msg, code="upstream_rate_limited", **kw)
    if status in (401, 403):
        return UpstreamError(msg, code="upstream_auth_failed", **kw)
    if status in (408, 504):
        return UpstreamTimeoutError(msg, **kw)
    if status in (503, 529):
        return ServiceUnavailableError(msg, code="upstream_unavailable", **kw)
    if 400 <= status < 500:
        return InvalidRequestError(msg, code="upstream_rejected", **kw)
    return UpstreamError(msg, **kw)


@dataclass
class SSEEvent:
    """One server-sent event: its ``event:`` name (None when absent) and joined data."""

    event: str | None
    data: str


class HttpProvider:
    """Base of remote provider clients: session, errors, scrubbing, SSE.

    Subclasses build URLs and bodies, call :meth:`post_json` / :meth:`post_stream` +
    :meth:`events`, and translate the provider's format into our types.
    """

    provider = "remote"

    def __init__(self, target: ModelTarget) -> None:
        assert target.base_url, "validated at config load"
        self.name = target.name
        self.base_url = target.base_url.rstrip("/")
        self.model = target.model or target.name
        self.target = target
        self._static_key = static_key(target)
        self._creds: CredentialResolver | None = None  # $WORKBENCH_HOME's, on first use
        self.allow_fields = tuple(target.allow_fields)
        self.where = f"upstream {target.name}"
        t = target.timeouts
        self.timeout = aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=t.read)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def key(self) -> str | None:
        """The key of the request in flight (a bound or configured credential, else the
        key read at construction)."""
        creds = self._creds
        if creds is None:
            creds = self._creds = resolver()
        secret = creds.secret_for(self.name, self.target.credential, workspace_scope.get())
        return secret if secret is not None else self._static_key

    # ------------------------------------------------------------------ hooks
    def auth_headers(self) -> dict[str, str]:
        """Headers that carry the key (default: ``Authorization: Bearer``)."""
        key = self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    # ------------------------------------------------------------------ session
    def _sess(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._abandon()
            self._session = aiohttp.ClientSession(
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                json_serialize=json.dumps,
            )
            self._loop = loop
        return self._session

    def _abandon(self) -> None:
        """Close a session made on another loop, on that loop if it still runs."""
        old, old_loop = self._session, self._loop
        self._session = None
        if old is None or old.closed or old_loop is None or old_loop.is_closed():
            return
        if old_loop.is_running():
            old_loop.call_soon_threadsafe(lambda: old_loop.create_task(old.close()))

    async def close(self) -> None:
        """Close the session (on the loop that created it)."""
        sess, self._session = self._session, None
        if sess is not None and not sess.closed:
            await sess.close()

    # ------------------------------------------------------------------ errors
    def scrub(self, text: str) -> str:
        """``text`` without the key, the base URL/host or anything key-shaped."""
        return scrub(text, secrets=(self.key,), urls=(self.base_url,), name=self.name)

    def malformed(self, what: str) -> UpstreamMalformedError:
        """An :class:`UpstreamMalformedError` naming the upstream."""
        return UpstreamMalformedError(self.scrub(f"{self.where} sent {what}"))

    def stream_broken(self, what: str, status: int | None = None) -> UpstreamError:
        """The error for a stream that ended early or lost its connection."""
        return UpstreamError(
            self.scrub(f"{self.where} {what}"),
            code="upstream_stream_broken",
            upstream_status=status,
        )

    def failed(self, detail: str, status: int | None = None) -> UpstreamError:
        """A generic upstream failure (an error event mid-stream, an ERROR finish)."""
        return UpstreamError(self.scrub(f"{self.where} failed: {detail}"), upstream_status=status)

    def _transport_error(self, exc: BaseException) -> WorkbenchError:
        if isinstance(exc, TimeoutError):
            return UpstreamTimeoutError(f"{self.where} timed out")
        kind = type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorDNSError):
            return UpstreamConnectionError(f"{self.where} unreachable: name not resolved ({kind})")
        if isinstance(exc, aiohttp.ClientConnectorError):
            return UpstreamConnectionError(f"{self.where} unreachable: connection refused ({kind})")
        if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
            return UpstreamConnectionError(f"{self.where} unreachable: connection reset ({kind})")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return UpstreamConnectionError(f"{self.where} dropped the connection mid-response")
        return UpstreamConnectionError(f"{self.where} unreachable ({kind})")

    async def _raise_for_status(self, resp: aiohttp.ClientResponse) -> None:
        if resp.status < 300:
            return
        retry_after = parse_retry_after(resp.headers)
        if resp.status < 400:
            raise UpstreamError(
                f"{self.where} answered {resp.status} (redirects are not followed)",
                upstream_status=resp.status,
            )
        try:
            raw = await resp.read()
            text = raw.decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError):
            text = ""
        try:
            detail = error_detail(json.loads(text))
        except ValueError:
            detail = text
        detail = self.scrub(" ".join(detail.split())[:MAX_ERROR_CHARS])
        raise status_error(resp.status, detail, self.where, retry_after)

    # ------------------------------------------------------------------ calls
    async def _post(
        self, url: str, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        sent = {**self.auth_headers(), **(headers or {})}  # per request: keys rotate
        try:
            resp = await self._sess().post(
                url, data=json.dumps(body), headers=sent, allow_redirects=False
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._transport_error(exc) from None
        if resp.status >= 300:
            try:
                await self._raise_for_status(resp)
            finally:
                resp.release()
        return resp

    async def post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body and return the JSON object answered (errors mapped)."""
        resp = await self._post(url, body)
        try:
            raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise self._transport_error(exc) from None
        finally:
            resp.release()
        try:
            data = json.loads(raw)
        except ValueError:
            raise self.malformed("a body that is not JSON") from None
        if not isinstance(data, dict):
            raise self.malformed("a JSON body that is not an object")
        return data

    async def post_stream(self, url: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """POST and return the open response of a stream (release it when done)."""
        return await self._post(url, body, headers={"Accept": "text/event-stream"})

    async def _lines(self, resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        buf = b""
        try:
            async for chunk in resp.content.iter_any():
                buf += chunk
                while (i := buf.find(b"\n")) >= 0:
                    line, buf = buf[:i], buf[i + 1 :]
                    yield line.rstrip(b"\r")
                if len(buf) > MAX_SSE_LINE:
                    raise self.malformed("an SSE line over 8 MiB")
        except TimeoutError:
            raise UpstreamTimeoutError(f"{self.where} stalled mid-stream") from None
        except (aiohttp.ClientError, OSError) as exc:
            kind = type(exc).__name__
            raise self.stream_broken(f"dropped the connection mid-stream ({kind})") from None
        # A final line without its newline is an incomplete event: dropped (SSE spec).

    async def events(self, resp: aiohttp.ClientResponse) -> AsyncIterator[SSEEvent]:
        """The SSE events of an open stream response (comments skipped)."""
        event: str | None = None
        data: list[str] = []
        async for raw in self._lines(resp):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.malformed("an SSE line that is not UTF-8") from None
            if not line:
                if data:
                    yield SSEEvent(event, "\n".join(data))
                event, data = None, []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def event_json(self, ev: SSEEvent) -> dict[str, Any]:
        """An event's data as a JSON object, or :class:`UpstreamMalformedError`."""
        try:
            obj = json.loads(ev.data)
        except ValueError:
            raise self.malformed("a malformed SSE chunk (data is not JSON)") from None
        if not isinstance(obj, dict):
            raise self.malformed("a malformed SSE chunk (data is not a JSON object)")
        return obj
