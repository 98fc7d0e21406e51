"""``workbench report compliance`` and ``workbench report schedule --once`` end to end:
papermill runs the packaged notebook, nbconvert renders it (hand-made history of
tests/reports/_lake.py)."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.reports._lake import RAW_EMAIL, RAW_KEY, Lake, build
from workbench.reports import find_chromium

CLI = [sys.executable, "-m", "workbench.cli"]


@pytest.fixture
def lake(wb_home: Path) -> Lake:
    return build(wb_home)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=600, check=False)  # fmt: skip


def _summary(page: str) -> dict[str, str]:
    """The summary table's item -> value cells."""
    table = page[page.index("Summary of the period") :]
    table = table[: table.index("</table>")]
    cells = re.findall(r"<td>(.*?)</td>\s*<td>(.*?)</td>", table)
    return {html.unescape(k): html.unescape(v) for k, v in cells}


def test_compliance_report_html(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = _cli("report", "compliance", "--since", "7d", "--out", str(out), "--pdf")
    assert proc.returncode == 0, proc.stderr
    page = out.read_text()
    s = _summary(page)
    assert s["requests"] == "32"
    assert s["requests with a failed guardrail check"] == "12"
    assert s["denied by a guardrail"] == "5"
    assert s["flagged (not blocked)"] == "3"
    assert s["PII / secret incidents (requests)"] == "7"
    assert s["redaction coverage"] == "85.7%"
    assert s["policy versions in force"] == "2"
    assert (s["keys created"], s["keys revoked"], s["keys with traffic"]) == ("2", "1", "2")
    # static: no code, no prompts, no script, no remote resources; charts are PNG data URIs
    assert "<script" not in page.lower()
    assert "collect(" not in page and "import json" not in page
    assert not re.search(
        r'class="[^"]*(jp-CodeMirrorEditor|highlight|jp-InputPrompt|jp-OutputPrompt)', page
    )
    assert "In&nbsp;[" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "data:image/png;base64," in page
    # only masked text: the unmasked flagged e-mail is withheld, masked spans are shown
    assert RAW_EMAIL not in page and RAW_KEY not in page
    assert "&lt;SECRET&gt;" in page and "withheld" in page
    # policy versions and who published them
    assert "default@v2" in page and "bob" in page and "alice" in page
    # retention: acme's policy, its one request past the limit, the audited change
    assert s["requests kept past a retention limit"] == "1" and s["erasures"] == "0"
    assert "7 days" in page and "data policy change" in page
    pdf = out.with_suffix(".pdf")
    if find_chromium() is not None:
        assert pdf.read_bytes()[:5] == b"%PDF-"
    else:
        assert not pdf.exists() and "no PDF converter" in proc.stderr


def test_schedule_once_writes_dated_files_and_index(lake: Lake, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    earlier = archive / f"compliance-{day}.html"  # a report from earlier today
    earlier.write_text("<html>the earlier report</html>")
    earlier.with_suffix(".json").write_text(json.dumps({"summary": {"requests": 7}}))
    args = ("report", "schedule", "--every", "7d", "--archive", str(archive), "--once",
            "--no-anomalies")  # fmt: skip
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr
    dated = archive / f"compliance-{day}-2.html"  # a new file, the earlier one untouched
    assert _summary(dated.read_text())["denied by a guardrail"] == "5"
    assert json.loads(dated.with_suffix(".json").read_text())["summary"]["requests"] == 32
    assert earlier.read_text() == "<html>the earlier report</html>"
    index = (archive / "index.html").read_text()
    assert f'href="compliance-{day}.html"' in index and f'href="compliance-{day}-2.html"' in index
    assert "<script" not in index.lower()


def test_failing_report_exits_non_zero_with_the_cell_error(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "bad.html"
    proc = _cli("report", "compliance", "--since", "sometime", "--out", str(out))
    assert proc.returncode == 2
    assert "report cell" in proc.stderr and "ValueError: not a time: 'sometime'" in proc.stderr
    assert not out.exists()


def test_bad_schedule_time_is_refused(tmp_path: Path) -> None:
    proc = _cli("report", "schedule", "--at", "25:99", "--archive", str(tmp_path / "a"))
    assert proc.returncode == 2 and "--at must be HH:MM" in proc.stderr
