"""One error hierarchy, raised by services and rendered once per surface."""

from __future__ import annotations

from typing import Any


class GovloopError(Exception):
    """Base error. ``code`` is stable for clients; ``message`` is human-readable (zh-CN)."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details
        # Response headers the error calls for (Retry-After of a refused request).
        self.headers: dict[str, str] = {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(GovloopError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(GovloopError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(GovloopError):
    status_code = 403
    code = "permission_denied"


class RecordedRefusal(PermissionDenied):
    """A refusal whose audit entry is already written in the current unit of work.

    The unit of work commits before the error travels on, so the trace of a refused request
    (and what the refusal itself changed, e.g. an expired grant it ended) is stored before
    the error response is sent.
    """

    def __init__(self, message: str, *, code: str, status: int = 403) -> None:
        super().__init__(message, code=code)
        self.status_code = status


class PasswordChangeRequired(PermissionDenied):
    """The user signed in with a one-time password and must choose their own first."""

    code = "password_change_required"


class NotFound(GovloopError):
    status_code = 404
    code = "not_found"


class Conflict(GovloopError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(GovloopError):
    status_code = 413
    code = "payload_too_large"


class RuleViolation(GovloopError):
    """The request is well-formed but a business rule forbids it in the current state."""

    status_code = 422
    code = "rule_violation"


class TooManyRequests(GovloopError):
    status_code = 429
    code = "too_many_requests"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retry_after: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, **details)
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)
