"""Download links: a signature for one job and one user, the same for an hour, then refused."""

from __future__ import annotations

import time

import pytest

from orchestrator.core import security
from orchestrator.core.errors import NotAuthenticated, TokenExpired

SECRET = "0123456789abcdef0123456789abcdef"


def test_a_link_is_stable_within_its_hour_and_names_its_user() -> None:
    hour = (int(time.time()) // 3600) * 3600
    first = security.download_signature("u1", "job-a", SECRET, now=hour + 5)
    assert security.download_signature("u1", "job-a", SECRET, now=hour + 3500) == first  # a player is not reloaded
    assert security.download_signature("u1", "job-a", SECRET, now=hour + 3605) != first  # the next hour's link
    assert security.download_signer("job-a", first, SECRET) == "u1"


def test_other_jobs_old_links_and_other_secrets_are_refused() -> None:
    link = security.download_signature("u1", "job-a", SECRET)
    with pytest.raises(NotAuthenticated, match="another job"):
        security.download_signer("job-b", link, SECRET)
    with pytest.raises(NotAuthenticated, match="not valid"):
        security.download_signer("job-a", link, "another-secret-another-secret-12")
    old = security.download_signature("u1", "job-a", SECRET, now=time.time() - 3 * 3600)
    with pytest.raises(TokenExpired, match="expired"):
        security.download_signer("job-a", old, SECRET)
    access = security.create_token("u1", "user", SECRET, 60)  # a session token is not a download link
    with pytest.raises(NotAuthenticated):
        security.download_signer("job-a", access, SECRET)
