"""urls: discovery, well-formedness, allow/deny domains (subdomain-aware), IP hosts, fix."""

from __future__ import annotations

from typing import Any

from workbench.guardrails.validators.urls import find_urls, host_of

TEXT = (
    "See https://docs.python.org/3/library/re.html, or www.Evil.com/x?y=1. Also "
    "api.evil.com and http://10.0.0.1:8080/admin (and http://[::1]/x). "
    "Wiki: https://en.wikipedia.org/wiki/Foo_(bar)."
)


def test_find_urls() -> None:
    urls = [u for _, _, u in find_urls(TEXT)]
    assert urls == [
        "https://docs.python.org/3/library/re.html",
        "www.Evil.com/x?y=1",
        "api.evil.com",
        "http://10.0.0.1:8080/admin",
        "http://[::1]/x",
        "https://en.wikipedia.org/wiki/Foo_(bar)",
    ]
    assert find_urls("e.g. file.py, version 1.2.3, a.b") == []
    assert host_of("http://host:99999/")[1] is not None
    assert host_of("mailto:bob@evil.com") == ("evil.com", None)


def test_deny_domains_include_subdomains(make: Any, spans: Any) -> None:
    res = make("urls", deny_domains=["evil.com"]).validate(TEXT, {})
    assert spans(res, TEXT) == [
        ("www.Evil.com/x?y=1", "URL: domain www.evil.com is denied (evil.com)"),
        ("api.evil.com", "URL: domain api.evil.com is denied (evil.com)"),
    ]
    assert res.fix_value.startswith("See https://docs.python.org/3/library/re.html, or. Also and")
    assert make("urls", deny_domains=["notevil.com"]).validate(TEXT, {}).outcome == "pass"
    assert make("urls", deny_domains=["vil.com"]).validate("x.evil.com", {}).outcome == "pass"


def test_allow_domains(make: Any) -> None:
    v = make("urls", allow_domains=["python.org", "https://wikipedia.org/"])
    res = v.validate(TEXT, {})
    bad = [TEXT[s.start : s.end] for s in res.error_spans]
    assert bad == ["www.Evil.com/x?y=1", "api.evil.com", "http://10.0.0.1:8080/admin",
                   "http://[::1]/x"]  # fmt: skip
    assert v.validate("docs at https://docs.python.org/", {}).outcome == "pass"
    assert v.validate("broken http://host:99999/", {}).outcome == "fail"  # fail closed


def test_ip_hosts(make: Any) -> None:
    v = make("urls", deny_ip_hosts=True)
    res = v.validate(TEXT, {})
    assert [s.reason for s in res.error_spans] == [
        "URL: host 10.0.0.1 is an IP address",
        "URL: host ::1 is an IP address",
    ]
    assert v.validate("http://2130706433/", {}).outcome == "fail"  # decimal IPv4
    assert v.validate("https://example.com", {}).outcome == "pass"


def test_well_formed(make: Any) -> None:
    v = make("urls", require_well_formed=True)
    assert v.validate(TEXT, {}).outcome == "pass"
    res = v.validate("go to http://exa mple or http://host:99999/ now", {})
    assert [s.reason for s in res.error_spans] == [
        "URL: host 'exa' has no valid top-level domain",
        "URL: malformed URL (Port out of range 0-65535)",
    ]
    assert res.fix_value == "go to mple or now"


def test_deny_all(make: Any) -> None:
    v = make("urls", deny_all=True)
    assert v.validate("no links here", {}).outcome == "pass"
    res = v.validate("visit example.com today", {})
    assert res.fix_value == "visit today"
