"""The reaper: attempts whose driver stopped heartbeating go back to the queue (or fail at the limit).

Safe in every replica at once: each hand-back is a fenced write, so only one succeeds.
"""

from __future__ import annotations

import logging
from typing import Any

from .store import stale_cutoff

log = logging.getLogger(__name__)


def reap(store: Any, stale_after_s: float, retry_limit: int, job_timeout_s: float) -> list[str]:
    """Returns the ids of the jobs handed back or failed."""
    reaped = []
    for job in store.stale_attempts(stale_cutoff(stale_after_s)):
        reason = f"instance {job.instance_id} stopped reporting on the job for over {stale_after_s:.0f} s"
        if store.fail(job.id, job.attempt, reason, True, retry_limit, lost_claim=True):
            log.warning("job %s attempt %s: %s", job.id, job.attempt, reason)
            reaped.append(job.id)
    return reaped
