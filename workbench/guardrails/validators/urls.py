"""``urls``: find URLs (with scheme, ``www.``, or bare domains on common TLDs) and police them.

Not delegated to guardrails-ai-has-url / -valid-url: they only test presence or parse a
single URL; no domain lists, no spans, no fix.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from guardrails.validators import register_validator
from pydantic import Field, field_validator

from workbench.guardrails.validators._base import (
    CheapValidator,
    Params,
    Result,
    SpanT,
    fail,
    ok,
    remove_spans,
)

_TLDS = (
    "com|org|net|edu|gov|mil|int|io|ai|co|dev|app|me|info|biz|xyz|online|site|tech|cloud|ly"
    "|gg|tv|us|uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|cz|ru|ua|cn|jp|kr|in|au|nz|ca|br|mx"
    "|ar|za|ie|pt|gr|tr|il|sg|hk|tw|eu|top|click|link|zip|mov|onion"
)
_URL = re.compile(
    r"(?<![\w@.\-/])(?:"
    r"(?:[a-zA-Z][a-zA-Z0-9+.\-]{1,15}://|mailto:|www\.)[^\s<>\"'`]+"
    r"|(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?\.)+(?:" + _TLDS + r")\b"
    r"(?::\d{1,5})?(?:[/?#][^\s<>\"'`]*)?"
    r")",
    re.IGNORECASE,
)
_TRAIL = ".,;:!?)]}'\"*>"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _trim(url: str) -> str:
    while url and url[-1] in _TRAIL:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` for every URL-looking string in ``text``."""
    out = []
    for m in _URL.finditer(text):
        url = _trim(m.group())
        if url and ("." in url or "://" in url):
            out.append((m.start(), m.start() + len(url), url))
    return out


def host_of(url: str) -> tuple[str | None, str | None]:
    """``(host, problem)``: the lower-cased host, or why the URL is malformed."""
    full = url if "://" in url or url.lower().startswith("mailto:") else "http://" + url
    try:
        parts = urlsplit(full)
        _ = parts.port
    except ValueError as exc:
        return None, f"malformed URL ({exc})"
    if parts.scheme == "mailto":
        return (parts.path.rpartition("@")[2].lower() or None), None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None, "URL has no host"
    if _ip(host) is not None:
        return host, None
    if host != "localhost":
        labels = host.split(".")
        if len(labels) < 2 or not labels[-1].isalpha() or len(labels[-1]) < 2:
            return host, f"host {host!r} has no valid top-level domain"
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return host, f"host {host!r} is not a valid domain name"
        if not all(_LABEL.match(lab) for lab in ascii_host.split(".")):
            return host, f"host {host!r} is not a valid domain name"
    return host, None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if re.fullmatch(r"(?:0x[0-9a-f]+|\d+)", host):  # 2130706433, 0x7f000001
        try:
            return ipaddress.IPv4Address(int(host, 0))
        except ValueError:
            return None
    return None


def _under(host: str, domains: tuple[str, ...]) -> str | None:
    for d in domains:
        if host == d or host.endswith("." + d):
            return d
    return None


def _norm_domains(v: list[str]) -> list[str]:
    out = []
    for d in v:
        d = d.strip().lower().rstrip(".")
        d = d.split("://", 1)[-1].split("/", 1)[0]
        if d.startswith("*."):
            d = d[2:]
        if not d:
            raise ValueError("empty domain")
        out.append(d)
    return out


class UrlsParams(Params):
    """Params of ``urls``."""

    require_well_formed: bool = False
    allow_domains: list[str] = Field(
        default_factory=list, description="when set, every URL host must be (under) one of these"
    )
    deny_domains: list[str] = Field(default_factory=list, description="subdomains included")
    deny_ip_hosts: bool = False
    deny_all: bool = Field(False, description="fail on any URL")

    @field_validator("allow_domains", "deny_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        return _norm_domains(v)


@register_validator(name="workbench/urls", data_type="string")
class Urls(CheapValidator[UrlsParams]):
    """Fails on malformed, IP-host, denied or not-allowed URLs; the fix removes them."""

    check_name = "urls"
    params_model = UrlsParams
    can_fix = True

    def setup(self, params: UrlsParams) -> None:
        """Freeze the domain lists."""
        self._allow = tuple(params.allow_domains)
        self._deny = tuple(params.deny_domains)

    def _problem(self, url: str) -> str | None:
        p = self.params
        if p.deny_all:
            return "URLs are not allowed"
        host, problem = host_of(url)
        if problem and (p.require_well_formed or host is None):
            # An unparseable URL cannot be shown to be allowed: fail closed under an allow list.
            return problem if p.require_well_formed or self._allow else None
        if host is None:
            return None
        if p.deny_ip_hosts and _ip(host) is not None:
            return f"host {host} is an IP address"
        denied = _under(host, self._deny)
        if denied:
            return f"domain {host} is denied ({denied})"
        if self._allow and not _under(host, self._allow):
            return f"domain {host} is not in the allow list"
        return None

    def check(self, value: str, metadata: dict[str, Any]) -> Result:
        """One span per offending URL."""
        if "." not in value and ":" not in value:
            return ok()
        spans: list[SpanT] = []
        for s, e, url in find_urls(value):
            why = self._problem(url)
            if why:
                spans.append((s, e, f"URL: {why}"))
        if not spans:
            return ok()
        return fail(
            f"{len(spans)} URL(s) not allowed: " + "; ".join(r[5:] for _, _, r in spans[:5]),
            spans,
            fix=remove_spans(value, spans),
        )


VALIDATORS: tuple[type[CheapValidator[Any]], ...] = (Urls,)
