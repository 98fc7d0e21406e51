"""The price table: per-million-token rates used to estimate each request's cost.

The table is YAML (``workbench/config/prices.yaml`` by default, or ``$WORKBENCH_PRICES``)::

    version: "2026-11-01"
    currency: USD
    local_per_million: {input: 0.0, output: 0.0}
    local_providers: [local, embeddings, echo]   # optional; this is the default
    models:
      gpt-4o-mini: {input: 0.15, output: 0.60}

A model served by a local provider is charged ``local_per_million``; a remote model is
looked up by ``provider/model``, then ``model``, then ``model`` without a trailing
``-YYYY-MM-DD`` snapshot date; an unknown remote model has no cost (``None``).
"""

from __future__ import annotations

import os
import re
from datetime import date
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.config._yamlsource import config_error_from_validation, load_yaml_with_lines
from workbench.errors import ConfigError

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class Rate(BaseModel):
    """USD per million input (prompt) and output (completion) tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class PriceTable(BaseModel):
    """A versioned table of model prices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    currency: str = "USD"
    local_per_million: Rate = Rate(input=0.0, output=0.0)
    local_providers: frozenset[str] = frozenset({"local", "embeddings", "echo"})
    models: dict[str, Rate] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _unquoted_date(cls, value: object) -> object:
        """Accept ``version: 2026-11-01`` written without quotes (YAML reads a date)."""
        return value.isoformat() if isinstance(value, date) else value

    def rate(self, model: str, provider: str) -> Rate | None:
        """The rate that applies to ``model`` served by ``provider`` (``None``: unknown)."""
        if provider in self.local_providers:
            return self.local_per_million
        for name in (f"{provider}/{model}", model, _SNAPSHOT.sub("", model)):
            if name in self.models:
                return self.models[name]
        return None

    def cost(
        self, model: str, provider: str, prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        """Estimated cost in the table's currency, or ``None`` for an unknown remote model."""
        if prompt_tokens < 0 or completion_tokens < 0:
            raise ValueError("token counts must be >= 0")
        rate = self.rate(model, provider)
        if rate is None:
            return None
        return (prompt_tokens * rate.input + completion_tokens * rate.output) / 1_000_000


def default_prices_path() -> Path:
    """The price table shipped with the package."""
    return Path(str(resources.files("workbench.config").joinpath("prices.yaml")))


def load_prices(path: Path | None = None) -> PriceTable:
    """Load a price table (``None``: ``$WORKBENCH_PRICES`` or the packaged one).

    Any problem raises :class:`ConfigError` naming the file, the line and the field.
    """
    if path is None:
        env = os.environ.get("WORKBENCH_PRICES")
        path = Path(env) if env else default_prices_path()
    path = Path(path)
    data, locate = load_yaml_with_lines(path)
    if not isinstance(data, dict):
        raise ConfigError("a price table must be a mapping", path=str(path), line=1)
    try:
        return PriceTable.model_validate(data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, path=path, locate=locate) from None
