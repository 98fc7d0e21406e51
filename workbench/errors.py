"""The gateway's exception hierarchy, mapped once to HTTP status codes.

::

    WorkbenchError                      500 internal_error
    ├── ConfigError                     (CLI/loader only: file, line, field)
    ├── InvalidRequestError             400 invalid_request_error
    │   ├── GuardrailDeniedError        400 invalid_request_error, code guardrail_denied
    │   ├── UnprocessableError          422 invalid_request_error
    │   └── PayloadTooLargeError        413 invalid_request_error
    ├── AuthenticationError             401 authentication_error
    ├── PermissionDeniedError           403 permission_error
    ├── NotFoundError                   404 not_found_error
    ├── RateLimitError                  429 rate_limit_error
    └── UpstreamError                   502 upstream_error
        ├── UpstreamConnectionError     502 upstream_error, code upstream_unreachable
        ├── UpstreamMalformedError      502 upstream_error, code upstream_malformed
        ├── UpstreamTimeoutError        504 upstream_error
        └── ServiceUnavailableError     503 service_unavailable

An error raised by a provider call may carry ``upstream_status`` (the provider's HTTP
status) and ``retry_after_s`` (its ``Retry-After`` / ``retry-after-ms``), which the
router reads to decide on retries and fallbacks; neither is sent to the client.

Every error renders as the OpenAI error shape
``{"error": {"message", "type", "code", "param"}}`` through :meth:`WorkbenchError.to_body`.
"""

from __future__ import annotations

from typing import Any


class WorkbenchError(Exception):
    """Base class: an error with an HTTP status and an OpenAI-shaped body."""

    status: int = 500
    type: str = "internal_error"
    default_code: str | None = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        upstream_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.upstream_status = upstream_status
        self.retry_after_s = retry_after_s

    def to_body(self) -> dict[str, Any]:
        """The OpenAI-compatible JSON error body."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


class ConfigError(WorkbenchError):
    """A configuration or policy file is invalid; names the file, line and field."""

    type = "config_error"
    default_code = "invalid_config"

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        if field:
            where += f"{field}: "
        super().__init__(where + message)
        self.path, self.line, self.field = path, line, field


class InvalidRequestError(WorkbenchError):
    """The request is malformed or names something it may not."""

    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class GuardrailDeniedError(InvalidRequestError):
    """A policy check refused the request's input or the model's output.

    ``param`` names the check (``input.<check>`` or ``output.<check>``).
    """

    default_code = "guardrail_denied"

    def __init__(self, message: str, *, check: str, stage: str) -> None:
        super().__init__(message, param=f"{stage}.{check}")
        self.check, self.stage = check, stage


class UnprocessableError(InvalidRequestError):
    """The request is well-formed JSON but fails validation."""

    status = 422
    default_code = "invalid_value"


class PayloadTooLargeError(InvalidRequestError):
    """The request body exceeds the configured limit."""

    status = 413
    default_code = "payload_too_large"


class AuthenticationError(WorkbenchError):
    """Missing, wrong or revoked API key."""

    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(WorkbenchError):
    """The key may not use this resource."""

    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFoundError(WorkbenchError):
    """Unknown model or route."""

    status = 404
    type = "not_found_error"
    default_code = "not_found"


class RateLimitError(WorkbenchError):
    """Too many requests, or a budget is exhausted."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class UpstreamError(WorkbenchError):
    """The model provider failed."""

    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class UpstreamConnectionError(UpstreamError):
    """The model provider could not be reached (refused, reset, DNS)."""

    default_code = "upstream_unreachable"


class UpstreamMalformedError(UpstreamError):
    """The model provider answered with a body or stream we cannot parse."""

    default_code = "upstream_malformed"


class UpstreamTimeoutError(UpstreamError):
    """The model provider did not answer in time."""

    status = 504
    default_code = "upstream_timeout"


class ServiceUnavailableError(UpstreamError):
    """No replica can take the request now."""

    status = 503
    type = "service_unavailable"
    default_code = "service_unavailable"


__all__ = [
    "AuthenticationError",
    "ConfigError",
    "GuardrailDeniedError",
    "InvalidRequestError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServiceUnavailableError",
    "UnprocessableError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamMalformedError",
    "UpstreamTimeoutError",
    "WorkbenchError",
]
