"""Log in (a token for a user name and password) and who am I."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request

from orchestrator.core import security
from orchestrator.core.errors import BadCredentials
from orchestrator.users.models import User

from .. import schemas
from ..deps import current_user, services
from ..services import Services
from ..views import user_view

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=schemas.Token, responses={401: {"model": schemas.ErrorResponse},
                                                               429: {"model": schemas.ErrorResponse}})
async def login(body: schemas.LoginRequest, request: Request, svc: Services = Depends(services)) -> schemas.Token:
    address = request.client.host if request.client else "unknown"
    svc.limiter.check(body.username, address)
    try:
        user = await asyncio.to_thread(svc.users.authenticate, body.username, body.password)
    except BadCredentials:
        svc.limiter.failed(body.username, address)
        raise
    svc.limiter.succeeded(body.username)
    ttl = svc.settings.ACCESS_TOKEN_TTL_S
    token = security.create_token(user.id, user.role, svc.secret, ttl)
    return schemas.Token(access_token=token, expires_in=ttl, user=user_view(user))


@router.get("/me", response_model=schemas.User, responses={401: {"model": schemas.ErrorResponse}})
def me(user: User = Depends(current_user)) -> schemas.User:
    return user_view(user)
