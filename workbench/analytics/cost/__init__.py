"""Cost analytics: spend, month to date and forecast, cache savings, suggestions."""

from .forecast import Forecast, forecast
from .spend import CACHE_HIT_STATUSES, DIMENSIONS, cache_savings, month_to_date, spend

__all__ = [
    "CACHE_HIT_STATUSES",
    "DIMENSIONS",
    "Forecast",
    "cache_savings",
    "forecast",
    "month_to_date",
    "spend",
]
