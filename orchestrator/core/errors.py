"""The service's errors; the API turns each into a status code and a message a person can act on."""

from __future__ import annotations

from orchestrator.errors import OrchestratorError


class ServiceError(OrchestratorError):
    """Base of every error the service reports to a client (HTTP or CLI)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SettingsError(ServiceError):
    """The service cannot start with these settings."""

    code = "bad_settings"


class NotAuthenticated(ServiceError):
    status, code = 401, "not_authenticated"


class TokenExpired(NotAuthenticated):
    code = "token_expired"


class BadCredentials(NotAuthenticated):
    code = "bad_credentials"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class NotReady(Conflict):
    code = "not_ready"


class InvalidParameter(ServiceError):
    status, code = 422, "invalid_parameter"


class UnknownWorkflow(InvalidParameter):
    code = "unknown_workflow"


class InvalidImage(ServiceError):
    status, code = 422, "invalid_image"


class TooLarge(ServiceError):
    status, code = 413, "too_large"


class RateLimited(ServiceError):
    status, code = 429, "rate_limited"


class UserExists(Conflict):
    code = "user_exists"
