"""``workbench policy`` through click's CliRunner, with WORKBENCH_HOME in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.policy._checks import LocalRegistry
from workbench.cli.policy import policy
from workbench.policy import PolicyStore

Write = Callable[[str, str], Path]

GOOD = """
id: demo
applies_to: {workspaces: [team-a]}
input:
  - {name: s, validator: secrets}
"""
GOOD2 = GOOD + "output:\n  - {name: tox, validator: toxicity, on_fail: flag}\n"
BAD = """
id: demo
input:
  - name: s
    validator: secretz
  - name: t
    validator: toxicity
    on_fail: redact
"""


@pytest.fixture(autouse=True)
def env(wb_home: Path, global_reg: LocalRegistry, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_AUTHOR", "alice")
    return wb_home


def run(*args: str) -> Result:
    return CliRunner().invoke(policy, list(args), catch_exceptions=False)


def test_validate(write: Write) -> None:
    good, bad = write("good.yaml", GOOD), write("bad.yaml", BAD)
    ok = run("validate", str(good))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith(f"OK {good}: policy 'demo', sha256 ")
    res = run("validate", str(good), str(bad), str(Path(good.parent, "missing.yaml")))
    assert res.exit_code == 2
    assert f"OK {good}" in res.stdout
    err = res.stderr.splitlines()
    assert err[0] == (
        f"error: {bad}:4: input.0.validator: unknown validator 'secretz' (did you mean: secrets?)"
    )
    assert err[1].startswith(f"error: {bad}:7: input.1.on_fail: 'redact' needs a check")
    assert "missing.yaml: file not found" in err[2]
    assert err[-1] == "2 of 3 file(s) invalid."


def test_publish_list_show(write: Write, env: Path) -> None:
    path = write("demo.yaml", GOOD)
    res = run("publish", str(path), "-m", "first")
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Published demo@v1 (sha256 ")
    assert "workspaces team-a; models *" in res.stdout
    again = run("publish", str(path), "-m", "again")
    assert again.exit_code == 0 and again.stdout.startswith("No change: demo@v1 is already live")
    assert (env / "policies" / "versions" / "demo" / "v1.yaml").is_file()
    run("publish", str(write("demo.yaml", GOOD2)), "-m", "second")

    table = run("list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["POLICY_ID", "VERSION", "HASH", "WORKSPACES"]
    assert lines[1].split()[:2] == ["demo", "v2"] and "team-a" in lines[1]
    rows = json.loads(run("list", "--all", "--json").stdout)
    assert [(r["version_id"], r["live"]) for r in rows] == [("demo@v1", False), ("demo@v2", True)]
    assert rows[0]["author"] == "alice" and rows[0]["message"] == "first"
    assert "demo@v1" in run("list", "--all").stdout

    shown = run("show", "demo")
    assert shown.exit_code == 0
    assert shown.stdout.startswith("# demo@v2 (live)\n")
    assert "validator: toxicity" in shown.stdout
    old = json.loads(run("show", "demo@v1", "--json").stdout)
    assert old["live"] is False and old["policy"]["output"] == [] and old["number"] == 1


def test_errors_are_one_line_exit_2(write: Write) -> None:
    res = run("publish", str(write("bad.yaml", BAD)), "-m", "x")
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("Error: ")
    assert len(res.stderr.strip().splitlines()) == 1
    assert "bad.yaml:4: input.0.validator: unknown validator" in res.stderr
    assert "(and 1 more error)" in res.stderr
    assert run("show", "demo@v3").exit_code == 2
    assert run("show", "nothing").exit_code == 2
    assert run("rollback", "demo").exit_code == 2
    assert run("unpublish", "demo").exit_code == 2
    missing_msg = run("publish", str(write("x.yaml", GOOD)))
    assert missing_msg.exit_code == 2 and "--message" in missing_msg.stderr


def test_diff_rollback_unpublish_audit(write: Write) -> None:
    path = write("demo.yaml", GOOD)
    run("publish", str(path), "-m", "first")
    path2 = write("demo2.yaml", GOOD2)
    run("publish", str(path2), "-m", "second")

    d = run("diff", "demo@v1", "demo@v2")
    assert d.exit_code == 0
    assert d.stdout.startswith("--- demo@v1\n+++ demo@v2\n")
    assert "output: + added 'tox'" in d.stdout
    vs_file = run("diff", "demo", str(path))
    assert vs_file.stdout.startswith(f"--- demo@v2\n+++ {path}\n")
    assert "output: - removed 'tox'" in vs_file.stdout
    assert run("diff", str(path2), "demo").stdout.startswith("No differences")

    rb = run("rollback", "demo", "-m", "oops")
    assert rb.exit_code == 0 and rb.stdout.strip() == "Rolled back 'demo': demo@v2 -> demo@v1."
    to = run("rollback", "demo", "--to", "demo@v2")
    assert to.stdout.strip() == "Rolled back 'demo': demo@v1 -> demo@v2."

    un = run("unpublish", "demo", "-m", "incident")
    assert un.exit_code == 0 and un.stdout.strip() == "Unpublished 'demo' (was demo@v2)."
    assert run("list").stdout.strip() == "No live policies."
    assert "note: 'demo' is not live" in run("show", "demo").stderr

    audit = json.loads(run("audit", "--json").stdout)
    assert [(e["event"], e["from"], e["to"]) for e in audit] == [
        ("publish", None, "demo@v1"),
        ("publish", "demo@v1", "demo@v2"),
        ("rollback", "demo@v2", "demo@v1"),
        ("rollback", "demo@v1", "demo@v2"),
        ("unpublish", "demo@v2", None),
    ]
    assert audit[2]["message"] == "oops" and audit[0]["by"] == "alice"
    table = run("audit", "--policy", "demo").stdout.splitlines()
    assert table[0].split()[:3] == ["AT", "EVENT", "POLICY_ID"] and len(table) == 6
    assert run("audit", "--policy", "other").stdout.strip() == "No policy events."


def test_publish_author_option(write: Write) -> None:
    run("publish", str(write("demo.yaml", GOOD)), "-m", "m", "--author", "dora")
    assert PolicyStore().get("demo@v1").author == "dora"


ROUTED = """
id: routed
routing:
  routes:
    smart:
      mode: fallback
      targets: [echo, gpt-4o-minni]
"""


def test_validate_and_publish_check_routing_targets_against_the_gateway_config(
    write: Write,
) -> None:
    path = write("routed.yaml", ROUTED)
    res = run("validate", str(path))
    assert res.exit_code != 0
    assert f"{path}:6:" in res.output and "gpt-4o-minni" in res.output
    pub = run("publish", str(path), "-m", "routes")
    assert pub.exit_code != 0 and "gpt-4o-minni" in pub.output
    fixed = write("fixed.yaml", ROUTED.replace("gpt-4o-minni", "gpt-4o-mini"))
    assert run("validate", str(fixed)).exit_code == 0


ROUTED_CUSTOM = """
id: routed
routing:
  routes:
    smart: {mode: fallback, targets: [custom-a, echo]}
"""


def test_publish_checks_targets_of_the_running_gateways_config(
    write: Write, wb_home: Path, tmp_path: Path
) -> None:
    """Routing targets are checked against the config the running gateway was started
    with (from its state file), not the embedded default."""
    import os

    from workbench.cli._embedded import write_state

    file = write("custom.yaml", ROUTED_CUSTOM)
    res = CliRunner().invoke(policy, ["publish", str(file), "-m", "x"])
    assert res.exit_code == 2 and "custom-a" in res.output  # the default config lacks it
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        "models:\n  - {name: custom-a, provider: echo}\n  - {name: echo, provider: echo}\n"
    )
    write_state({"pid": os.getpid(), "host": "127.0.0.1", "port": 1, "config": str(cfg)})
    ok = run("publish", str(file), "-m", "routes to custom-a")
    assert ok.exit_code == 0, ok.output
    write_state({"pid": 0, "host": "127.0.0.1", "port": 1, "config": str(cfg)})  # not running
    res = CliRunner().invoke(policy, ["publish", str(file), "-m", "again"])
    assert res.exit_code == 2 and "custom-a" in res.output
