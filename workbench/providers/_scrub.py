"""Scrub credentials and upstream addresses out of text before it reaches a client or a log.

Upstream error bodies are untrusted text: a provider may echo the key it was sent
("Incorrect API key provided: sk-...."), a proxy may print the URL it could not reach,
and aiohttp exceptions name the host and port. Every message the provider layer builds
from such text goes through :func:`scrub`, and the gateway can use it for any other text.

Removed:

- the configured secrets themselves (exact match, also URL-encoded);
- the configured URLs and their hosts (``host`` and ``host:port``), replaced by
  ``upstream <name>``;
- anything key-shaped: ``sk-...``/``sk_...`` keys, ``Bearer``/``Basic`` credentials,
  Google ``AIza...`` keys, ``key=``/``api-key:``/``token=``-style assignments, JWTs, and
  long hex or base64-like tokens.

Ordinary prose, numbers and short identifiers pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

REDACTED = "[REDACTED]"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization header values.
    re.compile(r"\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{6,}", re.IGNORECASE),
    # key: value / key=value assignments of credential-named fields (headers, query, JSON).
    re.compile(
        r"""(?ix)
        \b(?:x[-_]api[-_]key|x[-_]goog[-_]api[-_]key|api[-_]?key|access[-_]?token|
            auth[-_]?token|client[-_]?secret|secret|password|passwd|token|key)
        (["']?\s*[:=]\s*["']?)
        [^\s"'&,;}]{4,}
        """
    ),
    # Provider key prefixes: OpenAI/Anthropic/Mistral-style, Google, GitHub, Slack, AWS.
    re.compile(r"\bsk[-_][A-Za-z0-9_\-]{6,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{16,}"),
    re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{16,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{8,}"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    # JWTs.
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}"),
    # Long hex strings (hashes, hex keys).
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),
)

# Long base64/base64url-like runs (no "/", so URL paths stay readable) that mix upper
# case, lower case and digits: random keys, not words or identifiers.
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+_\-]{32,}={0,2}")


def _looks_random(tok: str) -> bool:
    has_digit = any(c.isdigit() for c in tok)
    has_upper = any(c.isupper() for c in tok)
    has_lower = any(c.islower() for c in tok)
    return has_digit and has_upper and has_lower


def _replace_assignment(m: re.Match[str]) -> str:
    whole = m.group(0)
    sep = m.group(1)
    head = whole[: whole.index(sep) + len(sep)]
    return head + REDACTED


def _url_forms(url: str) -> list[str]:
    """The URL itself (with and without a trailing slash) and its host[:port]."""
    forms = [url, url.rstrip("/")]
    try:
        parts = urlsplit(url)
    except ValueError:
        return [f for f in forms if f]
    if parts.netloc:
        forms.append(parts.netloc)
        if parts.scheme:
            forms.append(f"{parts.scheme}://{parts.netloc}")
    if parts.hostname:
        forms.append(parts.hostname)
    # Longest first, so "http://h:1/v1" goes before "h:1" and "h".
    return sorted({f for f in forms if f}, key=len, reverse=True)


def scrub(
    text: str,
    secrets: Iterable[str | None] = (),
    urls: Iterable[str | None] = (),
    name: str | None = None,
) -> str:
    """``text`` with secrets, key-shaped tokens and the given URLs/hosts removed.

    ``secrets``: exact strings to remove (the configured key); ``urls``: base URLs whose
    full form and host are replaced by ``upstream <name>`` (or ``upstream``).
    """
    if not text:
        return text
    out = text
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
            enc = quote(secret, safe="")
            if enc != secret:
                out = out.replace(enc, REDACTED)
    label = f"upstream {name}" if name else "upstream"
    for url in urls:
        if not url:
            continue
        for form in _url_forms(url):
            out = out.replace(form, label)
    for pat in _PATTERNS:
        if pat.groups:
            out = pat.sub(_replace_assignment, out)
        else:
            out = pat.sub(REDACTED, out)
    out = _LONG_TOKEN.sub(lambda m: REDACTED if _looks_random(m.group(0)) else m.group(0), out)
    return out


__all__ = ["REDACTED", "scrub"]
