"""``replay`` / ``areplay``: logged traffic against a candidate policy."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from workbench._sync import run_blocking
from workbench.analytics.replay._result import ReplayResult
from workbench.config.gateway import GatewayConfig, load_config
from workbench.errors import ConfigError
from workbench.policy import Policy, load_policy, parse_policy, validate_policy


def load_candidate(candidate: Any, known_targets: list[str] | None = None) -> Policy:
    """A parsed Policy from a path, YAML text, a dict or a Policy (errors name file, line)."""
    if isinstance(candidate, Policy):
        return validate_policy(candidate, known_targets=known_targets)
    if isinstance(candidate, dict):
        return parse_policy(candidate, known_targets=known_targets)
    if isinstance(candidate, Path) or (
        isinstance(candidate, str) and "\n" not in candidate and ":" not in candidate
    ):
        return load_policy(Path(candidate), known_targets=known_targets)
    if isinstance(candidate, str):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "candidate.yaml"
            path.write_text(candidate, encoding="utf-8")
            try:
                return load_policy(path, known_targets=known_targets)
            except ConfigError as exc:  # name the text, not the temp file
                exc.path = "<candidate>"
                exc.message = exc.message.replace(str(path), "<candidate>")
                exc.args = (exc.message,)
                raise
    raise TypeError(f"candidate policy: a path, YAML text or a Policy, not {type(candidate)}")


async def areplay(
    query_or_frame: Any,
    candidate_policy: Any,
    *,
    since: Any = None,
    until: Any = None,
    workspace: str | None = None,
    model: str | None = None,
    limit: int | None = None,
    live: str | None = None,
    concurrency: int = 8,
    progress: bool = True,
    reuse: bool = True,
    root: Path | None = None,
    config: GatewayConfig | str | Path | None = None,
    scorer: Any = None,
    workers: int | None = None,
    prescore: bool = True,
) -> ReplayResult:
    """The async form of :func:`replay` (for code already in an event loop)."""
    from workbench.analytics.replay._session import Session

    cfg = config if isinstance(config, GatewayConfig) else load_config(config)
    session = Session(
        cfg,
        load_candidate(candidate_policy, [m.name for m in cfg.models]),
        live=live,
        concurrency=concurrency,
        reuse=reuse,
        scorer=scorer,
        prescore=prescore,
    )
    return await session.run(
        query_or_frame,
        since=since,
        until=until,
        workspace=workspace,
        model=model,
        limit=limit,
        root=root,
        progress=progress,
        workers=workers,
    )


def replay(
    query_or_frame: Any,
    candidate_policy: Any,
    *,
    since: Any = None,
    until: Any = None,
    workspace: str | None = None,
    model: str | None = None,
    limit: int | None = None,
    live: str | None = None,
    concurrency: int = 8,
    progress: bool = True,
    reuse: bool = True,
    root: Path | None = None,
    config: GatewayConfig | str | Path | None = None,
    scorer: Any = None,
    workers: int | None = None,
    prescore: bool = True,
) -> ReplayResult:
    """Replay logged requests under ``candidate_policy`` through the production pipeline.

    ``query_or_frame``: SQL over the ``requests`` view, a polars/DuckDB/Arrow frame of
    log rows, or None (the whole log, narrowed by ``since``/``until``/``workspace``/
    ``model``/``limit``). ``candidate_policy``: a path, YAML text or a ``Policy``.
    Answers come from the log; ``live`` (a target name, or ``"routed"``) calls the real
    backends instead (at most ``concurrency`` at once, cached on disk). ``reuse``: reuse
    the results of checks whose configuration did not change (from the logged verdicts
    and across the run). ``root``: the log lake (default ``$WORKBENCH_HOME/logs``);
    ``config``: the gateway config (default ``$WORKBENCH_CONFIG`` or the packaged one);
    ``scorer``: the ML scorer (default the in-process ``LocalScorer``). ``workers``:
    processes to shard the rows across (default one per CPU core from 20,000 rows on, or
    2,000 when ML checks are recomputed without reuse; one below; live replays and custom
    scorers run in this process). ``prescore``: in a
    replay without reuse, encode the distinct texts of each slice of rows in big batches
    before the pipeline runs (same results, fewer encoder calls). Works inside a
    running event loop (it then runs on a private loop in a worker thread); from async
    code prefer ``await areplay(...)``.
    """
    return run_blocking(
        lambda: areplay(
            query_or_frame,
            candidate_policy,
            since=since,
            until=until,
            workspace=workspace,
            model=model,
            limit=limit,
            live=live,
            concurrency=concurrency,
            progress=progress,
            reuse=reuse,
            root=root,
            config=config,
            scorer=scorer,
            workers=workers,
            prescore=prescore,
        )
    )
