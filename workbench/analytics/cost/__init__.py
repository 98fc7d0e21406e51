"""Cost analytics over the request log (``workbench.cost``).

- :func:`spend` by workspace, key, user, model, tag, hour, day (and more, see
  :data:`DIMENSIONS`); :func:`month_to_date`; :func:`forecast` to month end with a
  prediction interval; :func:`cache_savings` of the requests a cache answered.
- :func:`suggest`: optimisation suggestions with the money at stake (exact cache,
  semantic cache, oversized ``max_tokens``, cheaper configured model), largest first;
  :func:`agreement` replays a sample against a live target and compares the answers.

Everything reads the log lake through DuckDB (``workbench.logstore``) and returns polars
frames or small dataclasses; nothing here writes to the log or starts an event loop in
the caller's thread.
"""

from ._types import DAYS_PER_MONTH, Suggestion, Suggestions
from ._window import Window, parse_span
from .forecast import Forecast, forecast
from .live import Agreement, agreement, agreement_async
from .spend import CACHE_HIT_STATUSES, DIMENSIONS, cache_savings, month_to_date, spend
from .suggest import KINDS, suggest

__all__ = [
    "CACHE_HIT_STATUSES",
    "DAYS_PER_MONTH",
    "DIMENSIONS",
    "KINDS",
    "Agreement",
    "Forecast",
    "Suggestion",
    "Suggestions",
    "Window",
    "agreement",
    "agreement_async",
    "cache_savings",
    "forecast",
    "month_to_date",
    "parse_span",
    "spend",
    "suggest",
]
