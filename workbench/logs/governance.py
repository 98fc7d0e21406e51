"""Governance queries over the request log: guardrail violations, PII incidents and
redaction coverage, denied and flagged requests (masked text only), and what the lake
holds. The compliance report and the dashboard read these; nothing else re-derives them.

Every function takes ``since``/``until``/``workspace`` like :func:`workbench.logs.relation`
and ``root`` (the lake, default ``$WORKBENCH_HOME/logs``) and returns a polars DataFrame
or a small dict. Verdicts are read from ``guardrail_verdicts`` (a JSON list per request).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._filters import Filters, Values
from ._time import TimeLike, Window
from ._verdict_read import FAILED, failed_counts, hours_newest_first
from .access import relation

if TYPE_CHECKING:
    import polars as pl

SENSITIVE_VALIDATORS = ("secrets", "pii", "pii_ner")
"""Validators whose findings are secrets or personal data (masked in the log)."""

WITHHELD = "[withheld: a sensitive check flagged this text and it was not stored masked]"

_COLUMNS = [
    "request_id", "received_at", "workspace", "key_id", "model_requested", "status",
    "error_code", "guardrail_verdicts", "request_original", "request_body", "bodies_stored",
    "request_masked", "output_masked",
]  # fmt: skip
_FAILED = FAILED  # one row per failed verdict of a request


def _query(
    sql: str, since: TimeLike, until: TimeLike, workspace: Values, root: Path | None
) -> pl.DataFrame:
    rel = relation(since=since, until=until, workspace=workspace, columns=_COLUMNS, root=root)
    got = rel.query("r", sql)
    assert got is not None  # a SELECT always gives a relation
    return got.pl()


def violations(
    since: TimeLike = "7d",
    until: TimeLike = None,
    workspace: Values = None,
    root: Path | None = None,
) -> pl.DataFrame:
    """Failed guardrail verdicts by check, validator, stage, action and mode: ``verdicts``
    (a stream window counts once each) and ``requests`` (distinct requests), most
    frequent first. Whole hours are read from the verdict rollup, the window's edge hours
    from raw rows (:mod:`workbench.logs._verdict_read`)."""
    return failed_counts(root, Filters.of(since, until, workspace=workspace))


def violating_requests(
    since: TimeLike = "7d",
    until: TimeLike = None,
    workspace: Values = None,
    root: Path | None = None,
) -> int:
    """How many requests had at least one failed guardrail verdict (verdict rollup for
    whole hours, raw rows for the edge hours)."""
    got = failed_counts(root, Filters.of(since, until, workspace=workspace), kind="any")
    return int(got["requests"][0])


def pii_incidents(
    since: TimeLike = "7d",
    until: TimeLike = None,
    workspace: Values = None,
    root: Path | None = None,
) -> pl.DataFrame:
    """Findings of the sensitive checks (secrets, PII) by check, stage and kind (the span
    reason, e.g. ``EMAIL_ADDRESS``): ``findings`` (spans) and ``requests``."""
    names = ", ".join(f"'{v}'" for v in SENSITIVE_VALIDATORS)
    sql = (
        "SELECT \"check\", stage, coalesce(s.reason, '(no span)') AS kind, "
        "CAST(count(*) AS BIGINT) AS findings, "
        "CAST(count(DISTINCT request_id) AS BIGINT) AS requests FROM ("
        f'SELECT request_id, "check", stage, unnest(CASE WHEN len(spans) > 0 THEN spans '
        f"ELSE [NULL] END) AS s FROM ({_FAILED}) WHERE validator IN ({names})) "
        'GROUP BY ALL ORDER BY requests DESC, "check", kind'
    )
    return _query(sql, since, until, workspace, root)


def redaction_coverage(
    since: TimeLike = "7d",
    until: TimeLike = None,
    workspace: Values = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """How many requests a sensitive check flagged, how many of those kept bodies, and
    the share of those whose bodies are stored masked (``request_masked`` for input
    findings, ``output_masked`` for output findings). ``unmasked`` lists the request ids
    of flagged requests with bodies that are not masked (should be empty)."""
    names = ", ".join(f"'{v}'" for v in SENSITIVE_VALIDATORS)
    sql = (
        "SELECT request_id, bool_or(stage = 'input') AS input_hit, "
        "bool_or(stage <> 'input') AS output_hit, any_value(bodies_stored) AS bodies, "
        "any_value(coalesce(request_masked, false)) AS req_masked, "
        "any_value(coalesce(output_masked, false)) AS out_masked "
        f"FROM ({_FAILED}) WHERE validator IN ({names}) GROUP BY request_id"
    )
    df = _query(sql, since, until, workspace, root)
    import polars as pl

    with_bodies = df.filter(pl.col("bodies").fill_null(False))
    ok = (~pl.col("input_hit") | pl.col("req_masked")) & (
        ~pl.col("output_hit") | pl.col("out_masked")
    )
    masked = with_bodies.filter(ok)
    unmasked = with_bodies.filter(~ok).get_column("request_id").sort().to_list()
    return {
        "flagged_requests": df.height,
        "with_bodies": with_bodies.height,
        "masked": masked.height,
        "coverage": masked.height / with_bodies.height if with_bodies.height else None,
        "unmasked": unmasked,
    }


def _user_text(row: dict[str, Any]) -> str | None:
    """The last user message of the logged request (the masked original, else the body)."""
    raw = row.get("request_original") or row.get("request_body")
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return str(raw)
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list):
        for msg in reversed(messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                content = msg.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    prompt = body.get("prompt") if isinstance(body, dict) else None
    return prompt if isinstance(prompt, str) else None


def safe_excerpt(row: dict[str, Any], sensitive: bool, width: int = 160) -> str:
    """The request's text for a report: only masked text (a row a sensitive check flagged
    whose body is not stored masked is withheld), collapsed and cut to ``width``."""
    if sensitive and not row.get("request_masked"):
        return WITHHELD
    text = _user_text(row)
    if text is None:
        return "(no body stored)"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _examples_sql(kind: str) -> str:
    if kind == "denied":
        cond = "status = 'rejected' AND error_code = 'guardrail_denied'"
    elif kind == "flagged":
        cond = (
            "request_id IN (SELECT request_id FROM failed "
            "WHERE action = 'flag' OR mode <> 'enforce')"
        )
    else:
        raise ValueError(f"kind must be 'denied' or 'flagged', not {kind!r}")
    names = ", ".join(f"'{v}'" for v in SENSITIVE_VALIDATORS)
    return (
        f"WITH failed AS ({_FAILED}), hits AS (SELECT request_id, "
        "string_agg(DISTINCT \"check\" || ':' || action, ', ') "
        f"AS checks, bool_or(validator IN ({names})) AS sensitive FROM failed "
        "GROUP BY request_id) "
        "SELECT r.*, coalesce(h.checks, '') AS checks, coalesce(h.sensitive, false) AS sensitive "
        f"FROM r LEFT JOIN hits h USING (request_id) WHERE {cond} ORDER BY received_at DESC"
    )


def blocked_requests(
    kind: str = "denied",
    since: TimeLike = "7d",
    until: TimeLike = None,
    workspace: Values = None,
    limit: int = 10,
    width: int = 160,
    root: Path | None = None,
) -> tuple[int, pl.DataFrame]:
    """``(total, examples)``: requests a guardrail denied (``kind="denied"``) or flagged
    without blocking (``"flagged"``: a ``flag`` action or a log-only check failed), and
    the newest ``limit`` of them with the checks that fired and a safe text excerpt."""
    import polars as pl

    if kind == "flagged":
        total, rows = _flagged(since, until, workspace, max(0, limit), root)
    else:
        df = _query(_examples_sql(kind), since, until, workspace, root)
        total, rows = df.height, df.head(max(0, limit)).to_dicts()
    examples = pl.DataFrame(
        {
            "received_at": [r["received_at"] for r in rows],
            "request_id": [r["request_id"] for r in rows],
            "workspace": [r["workspace"] for r in rows],
            "key_id": [r["key_id"] for r in rows],
            "model": [r["model_requested"] for r in rows],
            "checks": [r["checks"] for r in rows],
            "text": [safe_excerpt(r, bool(r["sensitive"]), width) for r in rows],
        },
        schema_overrides={"received_at": pl.Datetime("us", "UTC")},
    )
    return total, examples


def _flagged(
    since: TimeLike, until: TimeLike, workspace: Values, limit: int, root: Path | None
) -> tuple[int, list[dict[str, Any]]]:
    """The flagged total from the verdict rollup (raw edge hours), and the newest
    ``limit`` flagged rows, looked for hour by hour from the newest."""
    f = Filters.of(since, until, workspace=workspace)
    total = int(failed_counts(root, f, kind="flagged")["requests"][0])
    rows: list[dict[str, Any]] = []
    if total == 0 or limit == 0:
        return total, rows
    for lo, hi in hours_newest_first(root, f):
        sql = f"{_examples_sql('flagged')} LIMIT {limit - len(rows)}"
        rows += _query(sql, lo, hi, workspace, root).to_dicts()
        if len(rows) >= limit:
            break
    return total, rows


def lake_status(root: Path | None = None, tables: Sequence[str] = ("requests",)) -> dict[str, Any]:
    """What the lake holds: per table its oldest and newest ``date/hour`` partition, the
    number of partitions, files, rows (from the Parquet footers) and bytes on disk."""
    import pyarrow.parquet as pq

    from .access import _root

    base = _root(root)
    out: dict[str, Any] = {"root": str(base)}
    for table in tables:
        from ._files import hour_partitions

        parts = hour_partitions(base / table, Window(None, None))
        files = [p for _, _, fs in parts for p in fs]
        out[table] = {
            "partitions": len(parts),
            "oldest": f"{parts[0][0]} {parts[0][1]:02d}:00" if parts else None,
            "newest": f"{parts[-1][0]} {parts[-1][1]:02d}:00" if parts else None,
            "files": len(files),
            "rows": sum(pq.read_metadata(p).num_rows for p in files),
            "bytes": sum(p.stat().st_size for p in files),
        }
    return out
