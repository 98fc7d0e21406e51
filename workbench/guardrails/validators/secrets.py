"""``secrets``: API keys, tokens, private keys and passwords (in URLs or assignments).

Patterns come from ``detect-secrets`` (its regex-based plugins' ``denylist`` and its
keyword list, compiled once) plus our own for keys it lacks or under-matches (OpenAI
``sk-``/``sk-proj-``, GitHub fine-grained PATs, Google, Hugging Face, Stripe test keys,
full JWTs, whole PEM blocks, ``scheme://user:pass@host``). We do not call detect-secrets'
scanner, nor guardrails-ai-secrets-present which wraps it: that writes each text to a
temporary file, reports no positions, misses multi-line keys and took 8 ms per call here;
running the same regexes directly costs a fraction of a millisecond and gives spans.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from guardrails.validators import register_validator
from pydantic import Field

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    replace_spans,
)

# detect-secrets plugins we replace with our own patterns (or that belong to other checks).
_SKIP_PLUGINS = {"IPPublicDetector", "PrivateKeyDetector", "JwtTokenDetector", "BasicAuthDetector"}

_OWN: list[tuple[str, str]] = [
    ("AWS Access Key", r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b"),
    ("AWS Secret Key",
     r"(?i:aws.{0,20}?(?:secret|key).{0,20}?)[=:]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"),
    ("GitHub Token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b"),
    ("GitHub Token", r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    ("OpenAI-style Key",
     r"(?<![\w-])sk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,}"),
    ("Google API Key", r"\bAIza[0-9A-Za-z_\-]{35}(?![\w-])"),
    ("Hugging Face Token", r"\bhf_[A-Za-z0-9]{30,}\b"),
    ("Stripe Key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    ("Slack Token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    ("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}"),
    ("Private Key",
     r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
     r"(?:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[^\n]*)"),
    ("Private Key", r"PuTTY-User-Key-File-\d:[^\n]*"),
]  # fmt: skip
_URL_CREDS = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/?#@]+:([^\s/?#@]+)@[^\s/?#]+")
_PLACEHOLDER = re.compile(
    r"^(?:[*x•.]+|<[^>]*>|\$\{?[\w.]+\}?|\{\{?[\w. ]+\}?\}|%\(?\w+\)?s?|"
    r"(?i:password|passwd|pass|secret|changeme|redacted|example|your[_-]?\w*|xxx+|null|none))$"
)
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/=_\-]{24,}(?![A-Za-z0-9+/=_\-])")


def _keyword_regex() -> re.Pattern[str]:
    from detect_secrets.plugins.keyword import DENYLIST

    words = "|".join(DENYLIST)
    return re.compile(
        rf"(?i:(?:{words})\w*)[\"']?\s*(?::=|=>|[:=]|\bis\b)\s*([\"']?)([^\s\"',;]{{6,}})\1",
    )


# Plugins whose patterns need a keyword such as "key", "password" or "token" nearby.
_KEYWORD_PLUGINS = {"IbmCloudIamDetector", "IbmCosHmacDetector", "SoftlayerDetector",
                    "CloudantDetector"}  # fmt: skip
# A keyword followed by an assignment ("key: ", "password=", "token is"), on lower-cased text.
_KEYWORD_GATE = re.compile(r"(?:key|pass|pw|secret|token|contrase)\w*[\"'\]]*\s*(?:=|:|\bis\b)")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-+/=.]{12,}")
Gated = tuple[str, str, re.Pattern[str]]  # (gate: "kw" | "token" | "any" | "pem", type, rx)


def _detect_secrets_patterns() -> list[Gated]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    out: list[Gated] = []
    plugins: dict[str, Any] = dict(get_mapping_from_secret_type_to_class())
    for secret_type, cls in plugins.items():
        if issubclass(cls, RegexBasedDetector) and cls.__name__ not in _SKIP_PLUGINS:
            gate = "kw" if cls.__name__ in _KEYWORD_PLUGINS else "token"
            if cls.__name__ == "AWSKeyDetector":
                gate = "any"
            for rx in cls.denylist:
                compiled = rx if isinstance(rx, re.Pattern) else re.compile(rx)
                out.append((gate, secret_type, compiled))
    return out


_PATTERNS: list[Gated] | None = None


def patterns() -> list[Gated]:
    """All ``(gate, secret type, compiled regex)`` triples, built once."""
    global _PATTERNS
    if _PATTERNS is None:
        gates = {"AWS Secret Key": "kw", "Private Key": "pem"}
        own: list[Gated] = [(gates.get(t, "token"), t, re.compile(p, re.DOTALL)) for t, p in _OWN]
        _PATTERNS = own + _detect_secrets_patterns()
    return _PATTERNS


_KEYWORD: re.Pattern[str] | None = None
_DELIMS = " \t\r\n\"'=:,;`"


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _windows(
    ranges: Iterable[tuple[int, int]], before: int = 40, after: int = 120
) -> list[tuple[int, int]]:
    """``ranges`` widened by ``before``/``after`` characters, sorted and merged."""
    out: list[tuple[int, int]] = []
    for s, e in sorted((max(0, s - before), e + after) for s, e in ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def _token_windows(text: str) -> list[tuple[int, int]]:
    """Where token-shaped secrets can be: around each 12+ character token that has a
    digit, and each 20+ character token (40 characters before, 8 after, merged)."""
    return _windows(
        (
            (m.start(), m.end())
            for m in _LONG_TOKEN.finditer(text)
            if m.end() - m.start() >= 20 or any(c.isdigit() for c in m.group())
        ),
        after=8,
    )


# Where a detect-secrets keyword can end; the keyword starts at most 9 characters before.
_ANCHOR = re.compile(r"key|pass|pwd|secret|contrase")


def _keyword_assignments(text: str, low: str) -> list[re.Match[str]]:
    """``password = ...``-style matches, tried only around keyword anchors (fast)."""
    global _KEYWORD
    if _KEYWORD is None:
        _KEYWORD = _keyword_regex()
    out: list[re.Match[str]] = []
    done = -1
    for a in _ANCHOR.finditer(low):
        if a.start() < done:
            continue
        for start in range(max(0, a.start() - 9), a.start() + 1):
            m = _KEYWORD.match(text, start)
            if m:
                out.append(m)
                done = m.end()
                break
    return out


def _matches(text: str, rx: re.Pattern[str], kind: str, start: int, end: int) -> list[SpanT]:
    """Spans of ``rx`` in ``text[start:end]``: the secret group when the pattern has one
    (8+ characters), else the whole match, trimmed of quotes and separators."""
    out: list[SpanT] = []
    for m in rx.finditer(text, start, end):
        s, e = m.span()
        if m.re.groups and m.lastindex and len(m.group(m.lastindex) or "") >= 8:
            s, e = m.span(m.lastindex)
        while s < e and text[s] in _DELIMS:
            s += 1
        while e > s and text[e - 1] in _DELIMS:
            e -= 1
        if e - s >= 8:
            out.append((s, e, kind))
    return out


def find_secrets(text: str, entropy_threshold: float | None = None) -> list[SpanT]:
    """Secret spans ``(start, end, secret type)`` in ``text``, overlaps removed."""
    found: list[SpanT] = []
    low = text.lower()
    kw_windows = _windows((m.start(), m.end()) for m in _KEYWORD_GATE.finditer(low))
    has_kw = bool(kw_windows)
    windows = _token_windows(text)
    has_token = bool(windows)
    has_pem = "PRIVATE KEY" in text or "PuTTY-User-Key" in text
    whole = [(0, len(text))]
    # Token-shaped patterns run only around long tokens; keyword ones on the whole text.
    regions = {"token": windows, "kw": kw_windows, "pem": whole if has_pem else [],
               "any": _windows([*windows, *kw_windows], 0, 0)}  # fmt: skip
    for gate, kind, rx in patterns():
        for ws, we in regions[gate]:
            found += _matches(text, rx, kind, ws, we)
    for m in _URL_CREDS.finditer(text) if "://" in text and "@" in text else ():
        if not _PLACEHOLDER.match(m.group(1)):
            found.append((m.start(1), m.end(1), "Password in URL"))
    for m in _keyword_assignments(text, low) if has_kw else ():
        value = m.group(2)
        if not _PLACEHOLDER.match(value) and not value.startswith(("http", "[", "(")):
            found.append((m.start(2), m.end(2), "Secret keyword assignment"))
    if entropy_threshold is not None and has_token:
        for m in _TOKEN.finditer(text):
            tok = m.group()
            if any(c.isdigit() for c in tok) and any(c.isalpha() for c in tok):
                if _entropy(tok) >= entropy_threshold:
                    found.append((m.start(), m.end(), "High entropy string"))
    found.sort(key=lambda x: (x[0], -x[1]))
    out: list[SpanT] = []
    for sp in found:
        if out and sp[0] < out[-1][1]:
            if sp[1] > out[-1][1]:
                out[-1] = (out[-1][0], sp[1], out[-1][2])
            continue
        out.append(sp)
    return out


class SecretsParams(Params):
    """Params of ``secrets``."""

    replacement: str = "[REDACTED]"
    entropy: bool = Field(False, description="also flag long high-entropy tokens")
    entropy_threshold: float = Field(4.2, gt=0, le=8, description="bits per character")


@register_validator(name="workbench/secrets", data_type="string")
class Secrets(CheapValidator[SecretsParams]):
    """Fails when the text contains credentials; the fix redacts them."""

    check_name = "secrets"
    params_model = SecretsParams
    can_fix = True

    def setup(self, params: SecretsParams) -> None:
        """Compile every pattern now."""
        patterns()
        self._threshold = params.entropy_threshold if params.entropy else None

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """One span per secret, reason ``SECRET: <type>``."""
        spans = find_secrets(value, self._threshold)
        if not spans:
            return ok()
        kinds = sorted({r for _, _, r in spans})
        return fail(
            f"text contains {len(spans)} secret(s): {', '.join(kinds)}",
            [(s, e, f"SECRET: {kind}") for s, e, kind in spans],
            fix=replace_spans(value, spans, self.params.replacement),
            types=kinds,
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Secrets,)
