"""Rules: validation, windows (calendar and rolling), matching; OpenAI reset durations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workbench.limits import Rule, RuleSet, duration
from workbench.limits.headers import rate_headers, retry_after


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NOW = ts("2026-11-26T14:30:15")  # a Thursday


def test_calendar_windows() -> None:
    day = Rule("d", "budget", "workspace", "a", 1, period="day").window_at(NOW)
    assert (day.since, day.reset_at) == (ts("2026-11-26T00:00:00"), ts("2026-11-27T00:00:00"))
    week = Rule("w", "budget", "workspace", "a", 1, period="week").window_at(NOW)
    assert (week.since, week.reset_at) == (ts("2026-11-23T00:00:00"), ts("2026-11-30T00:00:00"))
    month = Rule("m", "budget", "workspace", "a", 1, period="month").window_at(NOW)
    assert (month.since, month.reset_at) == (ts("2026-11-01T00:00:00"), ts("2026-12-01T00:00:00"))
    minute = Rule("r", "requests", "key", "*", 10).window_at(NOW)
    assert (minute.slot, minute.reset_at) == (ts("2026-11-26T14:30:00"), ts("2026-11-26T14:31:00"))
    assert Rule("c", "concurrent", "key", "*", 2).window_at(NOW).reset_at is None


def test_rolling_window_counts_the_last_period_in_hour_slots() -> None:
    w = Rule("d", "budget", "user", "u", 1, period="day", window="rolling").window_at(NOW)
    assert w.slot == ts("2026-11-26T14:00:00")
    assert w.since == ts("2026-11-25T15:00:00")  # 24 slots: 15:00 yesterday .. 14:00 today


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"kind": "budget", "period": "year"}, "period is day, week or month"),
        ({"kind": "requests", "period": "day"}, "per minute"),
        ({"kind": "budget", "period": "day", "soft": 1.5}, "soft"),
        ({"kind": "nope"}, "kind"),
        ({"kind": "requests", "scope": "team"}, "scope"),
        ({"kind": "requests", "id": "bad id"}, "id"),
    ],
)
def test_invalid_rules_are_refused(kwargs: dict, problem: str) -> None:
    base = {"id": "r", "scope": "key", "subject": "*", "limit": 1, **kwargs}
    with pytest.raises(ValueError, match=problem):
        Rule(**base)


def test_matching_by_scope_subject_and_workspace() -> None:
    rules = RuleSet(
        [
            Rule("each-key", "requests", "key", "*", 10),
            Rule("ws-b", "budget", "workspace", "b", 1, period="day", workspace="b"),
            Rule("gpt", "tokens", "model", "gpt", 100),
            Rule("in-a", "concurrent", "user", "*", 2, workspace="a"),
        ]
    )
    got = rules.matching({"key": "k1", "workspace": "a", "model": "gpt", "user": "u"}, "a")
    assert sorted(b for _, b in got) == ["each-key|k1", "gpt|gpt", "in-a|u"]
    got = rules.matching({"key": "k2", "workspace": "b", "model": "x", "user": None}, "b")
    assert sorted(b for _, b in got) == ["each-key|k2", "ws-b|b"]


def test_budget_units_are_exact_nano_usd() -> None:
    assert Rule("b", "budget", "key", "*", 0.1, period="day").units == 100_000_000


@pytest.mark.parametrize(
    "seconds, text",
    [(0.02, "20ms"), (1, "1s"), (1.5, "1.5s"), (59.25, "59.25s"), (360, "6m0s"),
     (3723, "1h2m3s"), (-3, "0ms")],
)  # fmt: skip
def test_reset_durations_as_openai_writes_them(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_rate_headers_and_retry_after() -> None:
    h = rate_headers({"requests": (100, 42, 1030.0), "tokens": (5000, 4000, 1030.5)}, 1000.0)
    assert h == {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "42",
        "x-ratelimit-reset-requests": "30s",
        "x-ratelimit-limit-tokens": "5000",
        "x-ratelimit-remaining-tokens": "4000",
        "x-ratelimit-reset-tokens": "30.5s",
    }
    assert retry_after(1030.2, 1000.0) == "31"
    assert retry_after(None, 1000.0) == "1"
