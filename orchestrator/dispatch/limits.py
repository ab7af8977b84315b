"""The dispatcher's timings and folders, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


def setting(settings: Any, name: str, default: Any = None) -> Any:
    """A settings field by its environment name (the class may spell it in lower case)."""
    for attr in (name, name.lower()):
        value = getattr(settings, attr, None)
        if value is not None:
            return value
    return default


@dataclass(frozen=True)
class Limits:
    videos_dir: Path
    job_timeout_s: float = 3600.0
    progress_silence_s: float = 600.0
    heartbeat_s: float = 5.0
    heartbeat_stale_s: float = 30.0
    retry_limit: int = 3
    poll_s: float = 1.0  # how long the socket may stay quiet before history is checked
    progress_write_s: float = 0.25  # at most this often a progress row per job
    http_timeout_s: float = 30.0
    unreachable_s: float = 15.0  # an instance silent this long has failed the attempt

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            videos_dir=Path(setting(settings, "VIDEOS_DIR", "data/videos")),
            job_timeout_s=float(setting(settings, "JOB_TIMEOUT_S", cls.job_timeout_s)),
            progress_silence_s=float(setting(settings, "PROGRESS_SILENCE_S", cls.progress_silence_s)),
            heartbeat_s=float(setting(settings, "HEARTBEAT_S", cls.heartbeat_s)),
            heartbeat_stale_s=float(setting(settings, "HEARTBEAT_STALE_S", cls.heartbeat_stale_s)),
            retry_limit=int(setting(settings, "RETRY_LIMIT", cls.retry_limit)),
            poll_s=float(setting(settings, "DISPATCH_POLL_S", cls.poll_s)),
            unreachable_s=float(setting(settings, "UNREACHABLE_S", cls.unreachable_s)),
        )
