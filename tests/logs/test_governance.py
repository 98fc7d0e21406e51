"""workbench.logs.governance on a hand-made history with known answers
(tests/reports/_lake.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports._lake import RAW_EMAIL, Lake, build
from workbench.logs import governance as gov


@pytest.fixture
def lake(wb_home: Path) -> Lake:
    return build(wb_home)


def test_violations_by_check_and_action(lake: Lake) -> None:
    got = {(r["check"], r["action"], r["mode"]): r["requests"]
           for r in gov.violations("7d", root=lake.root).to_dicts()}  # fmt: skip
    assert got == {
        ("prompt-injection", "deny", "enforce"): 3,
        ("block-secrets", "deny", "enforce"): 2,
        ("redact-pii", "redact", "enforce"): 4,
        ("watch-pii", "flag", "log_only"): 1,
        ("toxicity", "flag", "enforce"): 2,
    }
    assert gov.violating_requests("7d", root=lake.root) == 12
    # the denied request 10 days ago counts only in a longer window
    assert gov.violating_requests("30d", root=lake.root) == 13


def test_workspace_filter(lake: Lake) -> None:
    assert gov.violating_requests("7d", workspace="globex", root=lake.root) == 7
    assert gov.violating_requests("7d", workspace="acme", root=lake.root) == 5


def test_pii_incidents_and_coverage(lake: Lake) -> None:
    got = {(r["check"], r["kind"]): r["requests"]
           for r in gov.pii_incidents("7d", root=lake.root).to_dicts()}  # fmt: skip
    assert got == {
        ("block-secrets", "SECRET: OpenAI API Key"): 2,
        ("redact-pii", "EMAIL_ADDRESS"): 4,
        ("watch-pii", "EMAIL_ADDRESS"): 1,
    }
    cov = gov.redaction_coverage("7d", root=lake.root)
    assert cov["flagged_requests"] == 7
    assert cov["with_bodies"] == 7
    assert cov["masked"] == 6
    assert cov["coverage"] == pytest.approx(6 / 7)
    assert cov["unmasked"] == ["req-0029"]


def test_denied_and_flagged_examples_show_masked_text_only(lake: Lake) -> None:
    total, denied = gov.blocked_requests("denied", "7d", limit=3, root=lake.root)
    assert total == 5
    assert denied.height == 3
    assert set(denied["checks"]) <= {"prompt-injection:deny", "block-secrets:deny"}
    total, flagged = gov.blocked_requests("flagged", "7d", root=lake.root)
    assert total == 3
    texts = dict(zip(flagged["request_id"], flagged["text"], strict=True))
    assert texts["req-0029"] == gov.WITHHELD  # flagged by a PII check, stored unmasked
    assert all(RAW_EMAIL not in t for t in texts.values())
    assert texts["req-0030"] == "tell me 0"
    with pytest.raises(ValueError, match="denied"):
        gov.blocked_requests("other", "7d", root=lake.root)


def test_excerpt_is_truncated() -> None:
    row = {"request_original": '{"messages": [{"role": "user", "content": "' + "x" * 500 + '"}]}'}
    text = gov.safe_excerpt(row, sensitive=False, width=40)
    assert len(text) == 40 and text.endswith("…")
    assert gov.safe_excerpt({"request_original": None}, sensitive=False) == "(no body stored)"


def test_lake_status(lake: Lake) -> None:
    status = gov.lake_status(lake.root)["requests"]
    assert status["rows"] == 33
    assert status["files"] >= 2  # two hour partitions at least (10 days apart)
    assert status["bytes"] > 0
    assert status["oldest"] < status["newest"]
