"""Expensive models serving short, simple traffic: the saving of a cheaper configured model.

"Short and simple": a successful chat or completions request with at most
``max_prompt_tokens`` prompt tokens and ``max_completion_tokens`` completion tokens
that offers no tools. For each model serving such traffic, the cheapest *configured*
target (a model of the gateway config, priced by the price table, cheaper on this
traffic's own token mix; local and embeddings providers only with ``include_local``) is
proposed. Estimated saving: the logged cost minus the same prompt and completion tokens
at the cheaper model's rate (token counts of another tokenizer differ a little; the
quality of the cheaper model's answers is not known from the log: see
:func:`workbench.analytics.cost.agreement` to replay a sample against it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._types import Suggestion, per_month
from ._window import Window, run

if TYPE_CHECKING:
    import polars as pl

    from workbench.config.gateway import ModelTarget
    from workbench.pricing import PriceTable

_CHAT_ENDPOINTS = ("/v1/chat/completions", "/v1/completions")
_NOT_CHAT = frozenset({"embeddings"})


def short_traffic(
    window: Window, root: Path | None, body: str, max_prompt: int, max_completion: int
) -> pl.DataFrame:
    """Per (model, provider): requests, tokens, logged cost and the costliest examples."""
    where, params = window.where()
    endpoints = ", ".join(f"'{e}'" for e in _CHAT_ENDPOINTS)
    sql = f"""
        SELECT coalesce(model_served, model_requested) AS model, provider,
               count(*) AS n,
               sum(prompt_tokens)::BIGINT AS prompt_tokens,
               sum(completion_tokens)::BIGINT AS completion_tokens,
               sum(coalesce(cost_usd, 0)) AS cost,
               list(request_id ORDER BY cost_usd DESC NULLS LAST, request_id)[1:5]
                   AS examples
        FROM requests
        WHERE {where} AND status = 'ok' AND endpoint IN ({endpoints})
          AND prompt_tokens <= ? AND completion_tokens <= ?
          AND NOT coalesce(contains({body}, '"tools"') OR contains({body}, '"functions"'),
                           false)
        GROUP BY ALL
    """
    return run(sql, [*params, max_prompt, max_completion], root)


def sample_short(
    window: Window,
    root: Path | None,
    model: str,
    limits: tuple[int, int],
    n: int,
) -> list[str]:
    """``n`` request ids of ``model``'s short traffic, a deterministic pseudo-random pick."""
    where, params = window.where()
    endpoints = ", ".join(f"'{e}'" for e in _CHAT_ENDPOINTS)
    sql = f"""
        SELECT request_id FROM requests
        WHERE {where} AND status = 'ok' AND endpoint IN ({endpoints})
          AND coalesce(model_served, model_requested) = ?
          AND prompt_tokens <= ? AND completion_tokens <= ?
        ORDER BY hash(request_id) LIMIT ?
    """
    return run(sql, [*params, model, *limits, n], root)["request_id"].to_list()


def _price(prices: PriceTable, model: str, provider: str, pt: int, ct: int) -> float | None:
    rate = prices.rate(model, provider)
    return None if rate is None else (pt * rate.input + ct * rate.output) / 1_000_000


def cheapest_target(
    targets: Sequence[ModelTarget],
    prices: PriceTable,
    current: str,
    pt: int,
    ct: int,
    include_local: bool = False,
) -> tuple[ModelTarget, float] | None:
    """The cheapest configured target for ``pt``/``ct`` tokens other than ``current``."""
    best: tuple[ModelTarget, float] | None = None
    for t in targets:
        upstream = t.model or t.name
        if upstream == current or t.name == current or t.provider in _NOT_CHAT:
            continue
        if t.provider in prices.local_providers and not include_local:
            continue
        cost = _price(prices, upstream, t.provider, pt, ct)
        if cost is not None and (best is None or cost < best[1]):
            best = (t, cost)
    return best


def cheaper_models(
    traffic: pl.DataFrame,
    targets: Sequence[ModelTarget],
    prices: PriceTable,
    window_days: float,
    *,
    include_local: bool = False,
    min_requests: int = 20,
    limits: tuple[int, int] = (500, 200),
) -> list[Suggestion]:
    """One suggestion per model whose short traffic a cheaper configured model could serve."""
    out = []
    for row in traffic.iter_rows(named=True):
        pt, ct, cost = int(row["prompt_tokens"]), int(row["completion_tokens"]), row["cost"]
        if row["n"] < min_requests or not cost:
            continue
        best = cheapest_target(targets, prices, row["model"], pt, ct, include_local)
        if best is None or best[1] >= cost:
            continue
        target, new_cost = best
        usd = float(cost - new_cost)
        out.append(
            Suggestion(
                kind="cheaper_model",
                title=f"Route short {row['model']} traffic to {target.name}",
                detail=(
                    f"{row['n']} requests to {row['model']} were short and simple (prompt <= "
                    f"{limits[0]}, completion <= {limits[1]} tokens, no tools) and cost "
                    f"${cost:.4f}; the same tokens on the configured model {target.name} "
                    f"would cost ${new_cost:.4f} at the price table's rates. Answer quality "
                    "is not known from the log: replay a sample against it first "
                    "(workbench cost suggest --live)."
                ),
                usd_window=usd,
                usd_per_month=per_month(usd, window_days),
                billed=True,
                requests=int(row["n"]),
                examples=list(row["examples"]),
                data={
                    "model": row["model"],
                    "provider": row["provider"],
                    "target": target.name,
                    "cost_usd": float(cost),
                    "cost_on_target_usd": new_cost,
                },
            )
        )
    return out


def configured_targets(config: Any = None) -> list[ModelTarget]:
    """The models of a gateway config (a :class:`GatewayConfig`, a path, or None: the
    configured one, ``$WORKBENCH_CONFIG`` or the packaged defaults)."""
    from workbench.config.gateway import GatewayConfig, load_config

    cfg = config if isinstance(config, GatewayConfig) else load_config(config)
    return list(cfg.models)
