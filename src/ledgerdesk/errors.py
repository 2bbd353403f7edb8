"""Domain errors. The API turns each into one JSON error shape with a 4xx status."""

from __future__ import annotations

from typing import Any


class LedgerdeskError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(LedgerdeskError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(LedgerdeskError):
    status_code = 401
    code = "not_authenticated"


class PermissionDenied(LedgerdeskError):
    status_code = 403
    code = "permission_denied"


class NotFound(LedgerdeskError):
    status_code = 404
    code = "not_found"


class Conflict(LedgerdeskError):
    status_code = 409
    code = "conflict"


class RateLimited(LedgerdeskError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
