"""Schemathesis over the whole OpenAPI surface of a real server, as a logged-in user: no 500s, every
response (status, content type, body, headers) as the document says."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from orchestrator.api.openapi import document
from reliability_support import LiveApi, start_api

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]
SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}
EXAMPLES = 40
PUBLIC = {"GET /api/health", "POST /api/auth/login"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    api = start_api(tmp_path_factory.mktemp("fuzz"), LOGIN_RATE_LIMIT=1000)
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def token(live: LiveApi) -> str:
    return live.login("alice")


def test_the_document_has_every_route() -> None:
    assert len(OPERATIONS) >= 13, sorted(OPERATIONS)


@pytest.mark.parametrize("who", ["user", "anonymous"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_answers_as_documented(label: str, who: str, live: LiveApi, token: str) -> None:
    operation = OPERATIONS[label]
    headers = {"Authorization": f"Bearer {token}"} if who == "user" else {}
    seen: list[int] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(base_url=live.url, headers=headers, timeout=20)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    assert seen, "no request was made"
    if who == "anonymous" and label not in PUBLIC:
        assert set(seen) == {401}, (label, sorted(set(seen)))  # nothing behind the login answers without it
