"""Secrets never logged, constant-time secret comparisons, security headers and CORS on the API and the
page, and ComfyUI addresses never shown to users."""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import socket
from pathlib import Path

import httpx
import jwt
import pytest

from orchestrator.dispatch.driver import Instance, drive
from reliability_support import PASSWORDS, png, start_api

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"steps": "2", "num_frames": "5", "resolution": "custom", "width": "64", "height": "48", "prompt": "a boat"}
CLIENT_LOGGERS = ("httpx", "httpcore")  # this test's own HTTP client, in the same process


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            return
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


def test_tokens_passwords_and_api_keys_never_reach_the_logs(tmp_path: Path) -> None:
    handler = _Everything()
    root = logging.getLogger()
    saved = root.level, {n: logging.getLogger(n).level for n in ("uvicorn", "sqlalchemy.engine", "orchestrator")}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    api = start_api(tmp_path)
    for name in saved[1]:  # after the server configured its loggers; SQL statements with their parameters too
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        key = api.services.users.create_api_key("alice", "cli")
        token = api.login("alice")
        bad = httpx.post(api.url + "/api/auth/login", json={"username": "alice", "password": "wrong-Secret-123"})
        assert bad.status_code == 401
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        with httpx.Client(base_url=api.url, timeout=20) as c:
            auth = {"Authorization": f"Bearer {token}"}
            assert c.get("/api/auth/me", headers=auth).status_code == 200
            assert c.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
            assert c.get("/api/auth/me", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
            made = c.post("/api/generate", headers=auth, data=SMALL, files={"image": ("a.png", png(), "image/png")})
            assert made.status_code == 202, made.text
            job_id = made.json()["job_id"]
            assert c.post(f"/api/jobs/{job_id}/cancel", headers=auth).status_code == 200
            # EventSource style: the token in the query string; the stream ends (the job is cancelled).
            events = c.get(f"/api/jobs/{job_id}/events?access_token={token}")
            assert events.status_code == 200 and "event: end" in events.text
            assert c.get(f"/api/jobs/{job_id}/events?access_token={tampered}").status_code == 401
            assert c.get(f"/api/jobs/{job_id}/events?access_token={key}").status_code == 200
            assert c.get("/api/nope?access_token=" + token).status_code == 404
            # A download link's signature (a cancelled job has no files: 409, after the signature was checked).
            from orchestrator.core.security import download_signature

            sig = download_signature(api.services.users.by_name("alice").id, job_id, api.services.secret)
            assert c.get(f"/api/download/{job_id}?sig={sig}").status_code == 409
    finally:
        api.stop()
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)
    logs = "\n".join(handler.lines)
    assert "/api/jobs/" in logs and "SELECT" in logs, "the capture saw nothing (the test would prove nothing)"
    for secret in (token, tampered, key, key[4:], PASSWORDS["alice"], "wrong-Secret-123", token.split(".")[2],
                   sig, sig.split(".")[2]):
        assert secret not in logs, f"a secret reached the logs: {secret[:12]}..."
    assert "access_token" not in logs


def _is_model_column(node: ast.AST) -> bool:
    """`ApiKey.key_hash == digest` is an SQL lookup of a SHA-256 of a random key, not a compare in Python."""
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id[:1].isupper()


def test_secrets_are_compared_in_constant_time_only() -> None:
    secretish = re.compile(r"(token|secret|password|passwd|api_?key|key_hash|signature|hmac)", re.I)
    found = []
    for path in (ROOT / "orchestrator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Compare) and any(isinstance(o, (ast.Eq, ast.NotEq)) for o in node.ops)):
                continue
            operands = [node.left, *node.comparators]
            if any(_is_model_column(o) for o in operands):
                continue
            names = [getattr(o, "id", None) or getattr(o, "attr", None) for o in operands]
            if any(n and secretish.search(n) for n in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "secrets compared with ==; use orchestrator.core.security.same:\n" + "\n".join(found)
    # The comparisons that do happen: the JWT signature, argon2, and our helper.
    from orchestrator.core import security

    assert "compare_digest" in inspect.getsource(jwt.algorithms.HMACAlgorithm.verify)
    assert "compare_digest" in inspect.getsource(security.same)
    assert security.same("abc", "abc") and not security.same("abc", "abd")


def _page(tmp: Path) -> Path:
    dist = tmp / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>page</title><div id=app></div>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    return dist


REQUIRED = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def test_security_headers_and_cors_on_the_api_and_the_page(tmp_path: Path) -> None:
    origin, stranger = "https://studio.example", "https://evil.example"
    api = start_api(tmp_path, FRONTEND_DIST=_page(tmp_path), CORS_ORIGINS=f"{origin}, https://other.example")
    try:
        token = api.login("alice")
        with httpx.Client(base_url=api.url, timeout=20) as c:
            answers = {
                "page": c.get("/"), "spa route": c.get("/jobs/123"), "asset": c.get("/assets/app.js"),
                "health": c.get("/api/health"), "api 401": c.get("/api/jobs"),
                "api 404": c.get("/api/jobs/nope", headers={"Authorization": f"Bearer {token}"}),
                "api 422": c.post("/api/auth/login", json={}),
                "events 401": c.get("/api/jobs/x/events"),
            }
            for what, r in answers.items():
                for name, value in REQUIRED.items():
                    assert r.headers.get(name) == value, (what, name, dict(r.headers))
                csp = r.headers.get("content-security-policy", "")
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (what, csp)
            assert answers["page"].text.startswith("<!doctype html>")
            # CORS: the configured origin may call the API with a bearer token; another may not.
            pre = c.options("/api/jobs", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                  "Access-Control-Request-Headers": "authorization"})
            assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == origin
            assert "authorization" in pre.headers["access-control-allow-headers"].lower()
            assert "access-control-allow-credentials" not in pre.headers  # bearer tokens, no cookies
            evil = c.options("/api/jobs", headers={"Origin": stranger, "Access-Control-Request-Method": "GET"})
            assert evil.headers.get("access-control-allow-origin") != stranger
            for path in ("/api/health", "/"):
                ok = c.get(path, headers={"Origin": origin})
                assert ok.headers.get("access-control-allow-origin") == origin, path
                assert "access-control-allow-origin" not in c.get(path, headers={"Origin": stranger}).headers
            assert c.options("/api/jobs", headers={"Origin": stranger, "Access-Control-Request-Method": "DELETE"}
                             ).headers.get("access-control-allow-origin") is None
    finally:
        api.stop()


def test_without_cors_origins_no_cross_origin_access(tmp_path: Path) -> None:
    api = start_api(tmp_path)
    try:
        r = httpx.get(api.url + "/api/health", headers={"Origin": "https://studio.example"})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    finally:
        api.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_comfyui_addresses_never_reach_users(tmp_path: Path) -> None:
    """A real driver failure against an unreachable instance: the reason reaches the user, the address does not."""
    api = start_api(tmp_path, RETRY_LIMIT=1, UNREACHABLE_S=0.5)
    port = _closed_port()
    address = f"127.0.0.1:{port}"
    store = api.services.jobs
    try:
        token, admin = api.login("alice"), api.login("root")
        user = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=20)
        root = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {admin}"}, timeout=20)
        job_id = user.post("/api/generate", data=SMALL, files={"image": ("a.png", png(), "image/png")}).json()["job_id"]
        store.upsert_instance("gpu0", f"http://{address}", "gpu0")
        store.instance_seen("gpu0", [n["class_type"] for n in _workflow_nodes(store.get_job(job_id))])
        claim = store.claim_next("gpu0")
        assert claim is not None and claim.job_id == job_id
        outcome = asyncio.run(drive(store, api.services.settings, job_id, claim.attempt,
                                    Instance("gpu0", f"http://{address}")))
        assert outcome == "retry"
        record = store.get_job(job_id)
        assert record.state == "failed" and address in (record.error or "")  # the record keeps the detail
        seen = {
            "job": user.get(f"/api/jobs/{job_id}"), "status": user.get(f"/api/status/{job_id}"),
            "list": user.get("/api/jobs"), "events": user.get(f"/api/jobs/{job_id}/events"),
            "health": user.get("/api/health"), "workflows": user.get("/api/workflows"),
            "instances": user.get("/api/instances"), "download": user.get(f"/api/download/{job_id}"),
        }
        shown = seen["job"].json()
        assert shown["state"] == "failed" and "gpu0" in shown["error"] and "gave up" in shown["error"]
        assert seen["instances"].status_code == 403
        for what, r in seen.items():
            assert str(port) not in r.text and "127.0.0.1" not in r.text, (what, r.text[:500])
        # Administrators do see where the instances are (so the test above would notice a leak).
        assert address in root.get("/api/instances").text
    finally:
        api.stop()


def _workflow_nodes(record):  # type: ignore[no-untyped-def]
    from orchestrator.workflows import get_workflow

    return list(get_workflow(record.workflow, record.workflow_version).api.values())
