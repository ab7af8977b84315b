"""Request dependencies: the shared services and the authenticated user."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.core import security
from orchestrator.core.errors import Forbidden, NotAuthenticated
from orchestrator.users.models import User

from .services import Services

bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login, or an API key (wan_...).")


def services(request: Request) -> Services:
    return request.app.state.services


def _user_from(token: str, svc: Services) -> User:
    if token.startswith(security.API_KEY_PREFIX):
        return svc.users.by_api_key(token)
    claims = security.decode_token(token, svc.secret)
    if "scope" in claims:  # a download link's signature opens that job's files, nothing else
        raise NotAuthenticated("A download link cannot be used as an access token; log in for one.")
    user = svc.users.get(str(claims["sub"]))
    if user is None or user.disabled:
        raise NotAuthenticated("This account no longer exists or is disabled.")
    return user


def current_user(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    svc: Services = Depends(services),
) -> User:
    token = credentials.credentials if credentials else None
    if token is None and request.url.path.endswith("/events"):
        token = request.query_params.get("access_token")  # EventSource cannot send headers
    if not token:
        raise NotAuthenticated("Log in first: send 'Authorization: Bearer <token>' (from /api/auth/login) or an API key.")
    return _user_from(token, svc)


def admin_user(user: User = Depends(current_user)) -> User:
    if user.role != "admin":
        raise Forbidden("Only administrators can see this.")
    return user
