"""Passwords (argon2), access tokens (HS256 JWT) and API keys (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import NotAuthenticated, TokenExpired

ALGORITHM = "HS256"
API_KEY_PREFIX = "wan_"
_hasher = PasswordHasher()
# Verified when a user does not exist, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def create_token(user_id: str, role: str, secret: str, ttl_s: int) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "role": role, "iat": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, secret: str) -> dict:
    """The token's claims; only HS256 with our secret is accepted (never `alg: none`)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("Your session has expired; log in again.") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("The access token is not valid; log in again.") from exc
    return claims


# Download links: a signature for one job's files, so a <video> element can stream them (it cannot send an
# Authorization header). It expires at the end of the next whole hour: the link stays the same for an hour,
# so a page that re-reads the job does not reload its player.
DOWNLOAD_SCOPE = "download"
DOWNLOAD_WINDOW_S = 3600


def download_signature(user_id: str, job_id: str, secret: str, now: float | None = None) -> str:
    expires = (int(now if now is not None else time.time()) // DOWNLOAD_WINDOW_S + 2) * DOWNLOAD_WINDOW_S
    claims = {"sub": user_id, "job": job_id, "scope": DOWNLOAD_SCOPE, "exp": expires}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def download_signer(job_id: str, sig: str, secret: str) -> str:
    """The user a download link was made for; raises NotAuthenticated for another job, a bad or an old link."""
    try:
        claims = jwt.decode(sig, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "job", "scope"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("This download link has expired; open the job again for a fresh one.") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("This download link is not valid; open the job again for a fresh one.") from exc
    if claims["scope"] != DOWNLOAD_SCOPE or not same(str(claims["job"]), job_id):
        raise NotAuthenticated("This download link is for another job; open the job again for its own link.")
    return str(claims["sub"])


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())
