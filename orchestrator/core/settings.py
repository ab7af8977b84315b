"""One settings class for the service, read from the environment and `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

# Secrets that must never protect a real deployment (examples, placeholders).
PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "please-change-me", "dev"}
DEV_SECRET = "dev-only-secret-not-for-production-0000000000"
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True)

    DATABASE_URL: str = "sqlite:///data/orchestrator.db"
    BROKER_URL: str = ""  # empty: the local executor drives the instances from this process
    JWT_SECRET: str = ""
    DEV_MODE: bool = False
    ACCESS_TOKEN_TTL_S: int = 12 * 3600
    COMFYUI_URLS: str = ""  # comma-separated; empty: start EMBEDDED_COMFY embedded instances
    EMBEDDED_COMFY: int = 1
    EMBEDDED_COMFY_PORT: int = 8188
    WAN_CP_ULYSSES: int = 1  # GPUs per embedded instance: each prompt split over them (docs/multi-gpu.md)
    WAN_MODELS_DIR: Path = Path("models")
    DATA_DIR: Path = Path("data")
    VIDEOS_DIR: Path = Path("data/videos")
    UPLOADS_DIR: Path = Path("data/uploads")
    MAX_UPLOAD_BYTES: int = 20_000_000
    MAX_UPLOAD_PIXELS: int = 40_000_000
    MIN_IMAGE_SIDE: int = 16
    # The largest video a job may ask for, in latent tokens ((frames-1)/4+1 x height/16 x width/16): attention
    # grows with their square. 151,200 is 720p at 165 frames (the workflows' defaults: 32,760 at 480p and
    # 75,600 at 720p, 81 frames). 0: no limit.
    MAX_VIDEO_TOKENS: int = 151_200
    JOB_TIMEOUT_S: float = 3600.0
    PROGRESS_SILENCE_S: float = 600.0
    RETRY_LIMIT: int = 3
    HEARTBEAT_S: float = 5.0
    HEARTBEAT_STALE_S: float = 30.0
    DISPATCH_POLL_S: float = 1.0  # how long a quiet ComfyUI socket waits before /history is asked
    UNREACHABLE_S: float = 15.0  # an instance unreachable this long fails the attempt (it is retried)
    RESULT_CACHE: bool = True
    CORS_ORIGINS: str = ""
    LOGIN_RATE_LIMIT: int = 10  # failed logins per minute, per user and per address
    HOST: str = "127.0.0.1"
    PORT: int = 8000
    FRONTEND_DIST: Path = Path("frontend/dist")

    @field_validator("WAN_CP_ULYSSES")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be 1 or more (GPUs per embedded instance)")
        return value

    @field_validator("EMBEDDED_COMFY", "RETRY_LIMIT")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or more")
        return value

    @property
    def comfyui_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.COMFYUI_URLS.split(",") if u.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [o.strip() for o in self.CORS_ORIGINS.split(",") if o.strip()]

    @property
    def executor(self) -> str:
        return "celery" if self.BROKER_URL else "local"

    def signing_secret(self) -> str:
        """The JWT secret, refusing an empty or placeholder one outside dev mode."""
        secret = self.JWT_SECRET
        if secret.strip().lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
            if self.DEV_MODE:
                return secret if len(secret) >= MIN_SECRET_LENGTH else DEV_SECRET
            raise SettingsError(
                f"JWT_SECRET is empty, a placeholder or shorter than {MIN_SECRET_LENGTH} characters. Set it to a "
                "random value, e.g. JWT_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
                "or start with --dev (DEV_MODE=true) on a machine only you use."
            )
        return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
