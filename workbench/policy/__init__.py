"""Policies: the schema, loading and validation, versioned publishing, resolution and diff.

- :mod:`~workbench.policy.model`: the pydantic schema (:class:`Policy`), :func:`policy_hash`;
- :mod:`~workbench.policy.loader`: :func:`load_policy` / :func:`parse_policy`, checked
  against the check catalogue, errors naming file, line and field;
- :mod:`~workbench.policy.store`: :class:`PolicyStore` (publish, rollback, unpublish, live
  versions, audit trail) under ``$WORKBENCH_HOME/policies``; its records
  (:class:`Version`, :class:`AuditEvent`) in :mod:`~workbench.policy.records`;
- :mod:`~workbench.policy.resolve`: :func:`resolve`, the live policy for a request;
- :mod:`~workbench.policy.diff`: :func:`diff` / :func:`compare` of two policies.
"""

from workbench.policy.diff import CheckChange, PolicyDiff, compare, diff
from workbench.policy.loader import (
    PolicyError,
    PolicyProblem,
    check_policy,
    load_policy,
    parse_policy,
    validate_policy,
)
from workbench.policy.model import (
    ACTIONS,
    STAGES,
    Action,
    AppliesTo,
    CheckConfig,
    FallbackConfig,
    LoggingConfig,
    Mode,
    Policy,
    RetryConfig,
    Stage,
    StreamingConfig,
    policy_hash,
)
from workbench.policy.records import AuditEvent, Version, parse_version_id
from workbench.policy.resolve import match_rank, resolve
from workbench.policy.store import PolicyStore

__all__ = [
    "ACTIONS",
    "STAGES",
    "Action",
    "AppliesTo",
    "AuditEvent",
    "CheckChange",
    "CheckConfig",
    "FallbackConfig",
    "LoggingConfig",
    "Mode",
    "Policy",
    "PolicyDiff",
    "PolicyError",
    "PolicyProblem",
    "PolicyStore",
    "RetryConfig",
    "Stage",
    "StreamingConfig",
    "Version",
    "check_policy",
    "compare",
    "diff",
    "load_policy",
    "match_rank",
    "parse_policy",
    "parse_version_id",
    "policy_hash",
    "resolve",
    "validate_policy",
]
