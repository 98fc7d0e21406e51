"""Budgets and rate limits, exact across ingress replicas.

::

    from workbench.limits import Rule, LimitsStore, LocalAuthority, Limiter

    store = LimitsStore()                               # $WORKBENCH_HOME/limits.sqlite
    set_rule(Rule("ws-a-day", "budget", "workspace", "team-a", 5.0, period="day", soft=0.8))
    limiter = Limiter(LocalAuthority())                 # in-process authority
    build_pipeline(cfg, ..., limiter=limiter)           # the gateway's limits stage

Modules: ``rules`` (what a rule is, its windows), ``store`` (the SQLite file),
``admin`` (the functions the CLI and the REST API call: permission-checked, audited),
``authority`` (the counter authority's core and its in-process form), ``client`` (the
ingress side: leases, reservation, settlement), ``stage`` (the pipeline stage),
``headers`` (OpenAI's ``x-ratelimit-*``). The Ray actor form of the authority is
``serve.limits``.
"""

from workbench.limits.admin import (
    delete_rule,
    list_rules,
    parse_amount,
    set_rule,
    usage,
)
from workbench.limits.authority import Ask, Authority, AuthorityCore, Grant, LocalAuthority, Report
from workbench.limits.client import Admission, LimitDenied, Limiter
from workbench.limits.headers import duration, rate_headers
from workbench.limits.rules import KINDS, PERIODS, SCOPES, Rule, RuleSet
from workbench.limits.stage import LimitsStage
from workbench.limits.store import LimitsStore, limits_db

__all__ = [
    "KINDS",
    "PERIODS",
    "SCOPES",
    "Admission",
    "Ask",
    "Authority",
    "AuthorityCore",
    "Grant",
    "LimitDenied",
    "Limiter",
    "LimitsStage",
    "LimitsStore",
    "LocalAuthority",
    "Report",
    "Rule",
    "RuleSet",
    "delete_rule",
    "duration",
    "limits_db",
    "list_rules",
    "parse_amount",
    "rate_headers",
    "set_rule",
    "usage",
]
