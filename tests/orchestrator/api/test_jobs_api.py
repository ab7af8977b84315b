"""Submitting, listing, reading, cancelling and downloading jobs; bad input; one user cannot touch another's."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from api_support import png

SMALL = {"steps": "2", "num_frames": "5", "resolution": "custom", "width": "64", "height": "48", "prompt": "a boat"}


def _submit(api, token, image: bytes = b"", fields=None, filename="in.png"):  # type: ignore[no-untyped-def]
    with api.client(token) as c:
        return c.post("/api/generate", data=fields if fields is not None else SMALL,
                      files={"image": (filename, image or png(), "image/png")})


def _stored(api) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    jobs, total = api.services.jobs.list_jobs(None, 0, 1000)
    uploads = list(Path(api.settings.UPLOADS_DIR).glob("*"))
    return total, len(uploads)


@pytest.fixture
def tokens(api):  # type: ignore[no-untyped-def]
    return {name: api.login(name, f"{name}-password") for name in ("alice", "bob", "root")}


def test_submit_records_a_job_with_resolved_parameters(api, tokens) -> None:
    r = _submit(api, tokens["alice"], fields={**SMALL, "seed": "-1"})
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    with api.client(tokens["alice"]) as c:
        job = c.get(f"/api/jobs/{job_id}").json()
        same = c.get(f"/api/status/{job_id}").json()
    assert job == same
    assert job["state"] == "queued" and job["queue_position"] == 1 and job["workflow"] == "i2v_480p@3"  # the latest
    assert job["parameters"]["steps"] == 2 and 0 <= job["seed"] < 2**53 and job["parameters"]["seed"] == job["seed"]
    stored = Image.open(api.services.jobs.get_job(job_id).image_path)
    assert stored.format == "PNG" and stored.size == (64, 48)


@pytest.mark.parametrize("case, fields, image, status, code, field", [
    ("not an image", SMALL, b"%PDF-1.4 definitely not a picture", 422, "invalid_image", "image"),
    ("too small", SMALL, "tiny", 422, "invalid_image", "image"),
    ("too many pixels", SMALL, "bomb", 413, "too_large", "image"),
    ("too many bytes", SMALL, "huge", 413, "too_large", "image"),
    ("unknown workflow", {**SMALL, "workflow": "t2v_9000"}, None, 422, "unknown_workflow", "workflow"),
    ("unknown parameter", {**SMALL, "stepz": "3"}, None, 422, "invalid_parameter", "stepz"),
    ("out of range", {**SMALL, "steps": "0"}, None, 422, "invalid_parameter", "steps"),
    ("not a number", {**SMALL, "cfg": "lots"}, None, 422, "invalid_parameter", "cfg"),
    ("bad frame count", {**SMALL, "num_frames": "6"}, None, 422, "invalid_parameter", "num_frames"),
    ("server side", {**SMALL, "filename_prefix": "../../etc/x"}, None, 422, "invalid_parameter", "filename_prefix"),
    ("model path", {**SMALL, "vae": "/etc/passwd"}, None, 422, "invalid_parameter", "vae"),
])
def test_bad_input_is_refused_clearly_and_stores_nothing(api, tokens, case, fields, image, status, code, field) -> None:
    if image == "tiny":
        image = png(8, 8)
    elif image == "bomb":  # 16 MP declared (over the 4 MP limit), a few KB on the wire
        out = io.BytesIO()
        Image.new("1", (4000, 4000)).save(out, "PNG")
        image = out.getvalue()
    elif image == "huge":
        image = png() + b"\0" * 2_100_000
    before = _stored(api)
    r = _submit(api, tokens["alice"], image or png(), fields)
    err = r.json()["error"]
    assert (r.status_code, err["code"], err["field"]) == (status, code, field), (case, r.text)
    assert err["message"] and "Traceback" not in r.text
    assert _stored(api) == before


def test_a_cache_is_a_workflow_parameter(api, tokens) -> None:
    r = _submit(api, tokens["alice"], fields={**SMALL, "workflow": "i2v_480p", "cache": "magcache", "cache_threshold": "0.3"})
    assert r.status_code == 202, r.text
    job = api.services.jobs.get_job(r.json()["job_id"])
    assert (job.workflow, job.workflow_version) == ("i2v_480p", 3)
    assert (job.parameters["cache"], job.parameters["cache_threshold"]) == ("magcache", 0.3)
    bad = _submit(api, tokens["alice"], fields={**SMALL, "cache": "easycache"})
    err = bad.json()["error"]
    assert (bad.status_code, err["code"], err["field"]) == (422, "invalid_parameter", "cache")
    assert "none, teacache, magcache, fbc" in err["message"]
    # A job pinned to version 1 still takes TeaCache's threshold, and not the new names.
    old = _submit(api, tokens["alice"], fields={**SMALL, "workflow": "i2v_480p@1", "teacache_threshold": "0.26"})
    assert old.status_code == 202, old.text
    assert api.services.jobs.get_job(old.json()["job_id"]).parameters["teacache_threshold"] == 0.26
    refused = _submit(api, tokens["alice"], fields={**SMALL, "workflow": "i2v_480p@1", "cache": "magcache"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "cache"


def test_missing_image_names_the_field(api, tokens) -> None:
    with api.client(tokens["alice"]) as c:
        r = c.post("/api/generate", data=SMALL)
    assert r.status_code == 422 and r.json()["error"]["field"] == "image"


def test_exif_orientation_applied_and_metadata_dropped(api, tokens) -> None:
    image = Image.new("RGB", (80, 40), (10, 200, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    exif[0x010E] = "secret description"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    r = _submit(api, tokens["alice"], out.getvalue(), filename="../../../etc/evil.jpg")
    stored = Path(api.services.jobs.get_job(r.json()["job_id"]).image_path)
    assert stored.parent == Path(api.settings.UPLOADS_DIR) and "evil" not in stored.name
    kept = Image.open(stored)
    assert kept.size == (40, 80) and not kept.getexif() and b"secret" not in stored.read_bytes()


def test_users_see_only_their_own_jobs_and_admins_see_all(api, tokens) -> None:
    alice_job = _submit(api, tokens["alice"]).json()["job_id"]
    bob_job = _submit(api, tokens["bob"]).json()["job_id"]
    with api.client(tokens["bob"]) as c:
        assert [j["id"] for j in c.get("/api/jobs").json()["items"]] == [bob_job]
        for path in (f"/api/jobs/{alice_job}", f"/api/status/{alice_job}", f"/api/download/{alice_job}",
                     f"/api/jobs/{alice_job}/events", f"/api/download/{alice_job}?file=../{bob_job}/x.mp4"):
            r = c.get(path)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
        r = c.post(f"/api/jobs/{alice_job}/cancel")
        assert r.status_code == 404
    assert api.services.jobs.get_job(alice_job).state == "queued"
    with api.client(tokens["root"]) as c:
        page = c.get("/api/jobs").json()
        assert {j["id"] for j in page["items"]} == {alice_job, bob_job} and page["total"] == 2
        assert c.get(f"/api/jobs/{alice_job}").json()["user"] == "alice"


def test_listing_is_newest_first_and_paginated(api, tokens) -> None:
    ids = [_submit(api, tokens["alice"]).json()["job_id"] for _ in range(5)]
    with api.client(tokens["alice"]) as c:
        first = c.get("/api/jobs", params={"page": 1, "page_size": 2}).json()
        third = c.get("/api/jobs", params={"page": 3, "page_size": 2}).json()
        bad = c.get("/api/jobs", params={"page_size": 1000})
    assert [j["id"] for j in first["items"]] == ids[::-1][:2] and first["total"] == 5
    assert [j["id"] for j in third["items"]] == [ids[0]]
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "page_size"


def test_cancel_a_queued_job_at_once_and_refuse_twice(api, tokens) -> None:
    job_id = _submit(api, tokens["alice"]).json()["job_id"]
    with api.client(tokens["alice"]) as c:
        r = c.post(f"/api/jobs/{job_id}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        again = c.post(f"/api/jobs/{job_id}/cancel")
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
        download = c.get(f"/api/download/{job_id}")
        assert download.status_code == 409 and download.json()["error"]["code"] == "not_ready"
        assert download.json()["error"]["message"] == "The job was cancelled, so it has no video. Submit it again to make one."


def test_workflows_list_client_parameters_only(api, tokens) -> None:
    with api.client(tokens["alice"]) as c:
        flows = {w["ref"]: w for w in c.get("/api/workflows").json()}
    assert {"i2v_480p@1", "i2v_480p@2", "i2v_480p@3", "i2v_720p@1", "i2v_720p@2", "i2v_720p@3"} <= set(flows)
    params = {p["name"]: p for p in flows["i2v_480p@2"]["parameters"]}
    assert params["steps"]["min"] == 1 and params["steps"]["advanced"] and not params["prompt"]["advanced"]
    assert params["num_frames"]["step"] == 4 and flows["i2v_480p@2"]["fps"] == 16.0
    assert params["cache"]["choices"] == ["none", "teacache", "magcache", "fbc"] and params["cache"]["advanced"]
    assert params["cache_threshold"]["default"] == 0.0 and params["compile"]["type"] == "bool"
    assert not {"image", "filename_prefix", "diffusion_model", "vae"} & set(params)


def test_instances_are_for_admins(api, tokens) -> None:
    api.services.jobs.upsert_instance("gpu0", "http://127.0.0.1:8188", "gpu0")
    with api.client(tokens["alice"]) as c:
        assert c.get("/api/instances").status_code == 403
    with api.client(tokens["root"]) as c:
        (inst,) = c.get("/api/instances").json()
    assert inst["id"] == "gpu0" and inst["state"] == "down" and inst["queue_depth"] == 0


def test_health_headers_and_errors_never_leak_internals(api) -> None:
    with api.client() as c:
        health = c.get("/api/health")
        missing = c.get("/api/nothing-here")
        page = c.get("/some/page/route")
        malformed = c.post("/api/auth/login", content=b"{not json", headers={"content-type": "application/json"})
    assert health.json()["status"] == "ok" and health.json()["executor"] == "local"
    assert health.headers["x-content-type-options"] == "nosniff" and "frame-ancestors" in health.headers[
        "content-security-policy"]
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert page.status_code == 200 and "not built" in page.text  # the page's own routes fall back to it
    assert malformed.status_code == 422 and "error" in malformed.json()


def test_the_cancel_command_says_what_it_did(api, tokens) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.main import app

    job_id = _submit(api, tokens["alice"]).json()["job_id"]
    result = CliRunner().invoke(app, ["cancel", job_id, "--server", api.url, "--token", tokens["alice"]])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Cancelled.\n") and "cancelled" in result.output
    again = CliRunner().invoke(app, ["cancel", job_id, "--server", api.url, "--token", tokens["alice"]])
    assert again.exit_code != 0 and "The job has already been cancelled." in again.output


def test_with_only_the_demo_model_the_defaults_are_a_small_clip(api, tokens, demo_models) -> None:
    """The workflows' own sizes take many minutes on the tiny demo model (the `make run` set-up); a job
    that leaves them out gets the demo's small clip, and /api/workflows shows it, as the page does."""
    models = Path(api.settings.WAN_MODELS_DIR)
    models.rmdir() if models.exists() else None
    models.symlink_to(demo_models)
    with api.client(tokens["alice"]) as c:
        flows = {w["ref"]: w for w in c.get("/api/workflows").json()}
        listed = {p["name"]: p["default"] for p in flows["i2v_720p@3"]["parameters"]}
        job = c.post("/api/generate", data={"workflow": "i2v_720p@3", "prompt": "a cat"},
                     files={"image": ("in.png", png(), "image/png")}).json()
        chosen = c.post("/api/generate", data={"workflow": "i2v_720p@3", "prompt": "a dog", "num_frames": "33"},
                        files={"image": ("in.png", png(), "image/png")}).json()
        parameters = c.get(f"/api/jobs/{job['job_id']}").json()["parameters"]
        own = c.get(f"/api/jobs/{chosen['job_id']}").json()["parameters"]
    assert flows["i2v_720p@3"]["demo_model"] is True
    assert (listed["resolution"], listed["width"], listed["height"], listed["num_frames"], listed["steps"]) == \
        ("custom", 256, 144, 17, 8)
    assert flows["i2v_720p_fast@2"]["demo_model"] and {p["name"]: p["default"] for p in
                                                       flows["i2v_720p_fast@2"]["parameters"]}["steps"] == 4
    assert (parameters["width"], parameters["height"], parameters["num_frames"], parameters["steps"]) == (256, 144, 17, 8)
    assert own["num_frames"] == 33 and own["width"] == 256  # what the client names is the client's


def test_with_the_workflow_files_the_defaults_are_the_workflows(api, tokens) -> None:
    with api.client(tokens["alice"]) as c:
        flow = next(w for w in c.get("/api/workflows").json() if w["ref"] == "i2v_720p@3")
    defaults = {p["name"]: p["default"] for p in flow["parameters"]}
    assert flow["demo_model"] is False and defaults["resolution"] == "720p" and defaults["num_frames"] == 81


def test_a_video_beyond_the_servers_size_limit_is_refused_and_nothing_is_stored(api, tokens) -> None:
    before = _stored(api)
    huge = _submit(api, tokens["alice"], fields={"workflow": "i2v_720p@3", "prompt": "x", "num_frames": "1001"})
    body = huge.json()["error"]
    assert huge.status_code == 422 and body["field"] == "num_frames"
    assert body["message"] == ("This video would be 903,600 latent tokens (1001 frames); this server takes at most "
                               "151,200 (MAX_VIDEO_TOKENS). Ask for at most 165 frames at this size, or a smaller size.")
    assert _stored(api) == before
    at_limit = _submit(api, tokens["alice"], fields={"workflow": "i2v_720p@3", "prompt": "x", "num_frames": "165"})
    assert at_limit.status_code == 202, at_limit.text
    custom = _submit(api, tokens["alice"], fields={**SMALL, "resolution": "custom", "width": "2048", "height": "2048",
                                                    "num_frames": "81"})  # fmt: skip
    assert custom.status_code == 422 and "at most 33 frames at this size" in custom.json()["error"]["message"]
