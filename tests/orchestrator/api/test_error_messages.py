"""What a client is told when it calls the API the wrong way: each message says what to send instead."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from api_support import png
from orchestrator.jobs.images import ACCEPTED

SMALL = {"steps": "2", "num_frames": "5", "resolution": "custom", "width": "64", "height": "48", "prompt": "a boat"}


@pytest.fixture
def token(api) -> str:  # type: ignore[no-untyped-def]
    return api.login("alice", "alice-password")


def _error(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    assert "Traceback" not in r.text
    return r.json()["error"]


def _image(fmt: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (64, 48), (10, 120, 200) if mode == "RGB" else 0).save(out, fmt)
    return out.getvalue()


def test_an_image_sent_as_text_says_to_send_the_file(api, token) -> None:
    """`curl -F image=cat.png` (no @) sends the name as a text field of a multipart body."""
    with api.client(token) as c:
        r = c.post("/api/generate", data={"image": "cat.png", **SMALL}, files={"prompt": (None, "a boat")})
    err = _error(r)
    assert err["field"] == "image" and err["code"] == "invalid_parameter"
    assert err["message"] == ("'image' must be sent as a file, not as text: with curl, -F image=@cat.png "
                              "(the @ sends the file's content).")
    assert "UploadFile" not in err["message"]


def test_a_multipart_body_without_the_image_asks_for_it(api, token) -> None:
    with api.client(token) as c:
        r = c.post("/api/generate", data=SMALL, files={"prompt": (None, "a boat")})
    err = _error(r)
    assert err["field"] == "image"
    assert err["message"] == "'image' is required: send the start image as a file, with curl -F image=@cat.png."


@pytest.mark.parametrize("how, sent", [
    ("json", "application/json"),
    ("form", "application/x-www-form-urlencoded"),
    ("nothing", None),
])
def test_generate_with_a_body_that_is_not_multipart_says_it_takes_multipart(api, token, how, sent) -> None:
    with api.client(token) as c:
        if how == "json":
            r = c.post("/api/generate", json={"image": "cat.png", **SMALL})
        elif how == "form":
            r = c.post("/api/generate", data=SMALL)
        else:
            r = c.post("/api/generate")
    err = _error(r)
    assert err["field"] == "image"
    message = err["message"]
    assert message.startswith("POST /api/generate takes multipart/form-data: a file field 'image' and the "
                              "workflow's parameters as form fields (see /api/workflows); with curl: "
                              "-F image=@cat.png -F prompt=\"a cat\""), message
    assert message.endswith(f"; this request was sent as {sent}." if sent else '"a cat".'), message
    with api.client(token) as c:  # the other name of the route says the same about itself
        other = _error(c.post("/api/jobs", json={"prompt": "x"}))["message"]
    assert other.startswith("POST /api/jobs takes multipart/form-data") and other.endswith("application/json.")


@pytest.mark.parametrize("kwargs, why", [
    ({"data": {"username": "alice", "password": "alice-password"}},
     "the body was sent as application/x-www-form-urlencoded"),
    ({"content": b'{"username": "alice", "password": "alice-password"}', "headers": {"Content-Type": "text/plain"}},
     "the body was sent as text/plain"),
    ({"content": b"{username: alice}", "headers": {"Content-Type": "application/json"}}, "the body is not valid JSON"),
    ({}, "the body is missing"),
])
def test_login_with_a_body_that_is_not_json_says_what_to_send(api, kwargs, why) -> None:
    with api.client() as c:
        r = c.post("/api/auth/login", **kwargs)
    err = _error(r)
    assert err["field"] is None
    assert err["message"] == ('Send a JSON body {"username": ..., "password": ...} with Content-Type: '
                              f"application/json; {why}.")


def test_login_json_missing_a_field_names_it(api) -> None:
    with api.client() as c:
        err = _error(c.post("/api/auth/login", json={"username": "alice"}))
    assert (err["field"], err["message"]) == ("password", "'password' is required.")


@pytest.mark.parametrize("query, field, message", [
    ({"page": "-1"}, "page", "Query parameter 'page' must be a whole number of 1 or more (got '-1')."),
    ({"page": "abc"}, "page", "Query parameter 'page' must be a whole number of 1 or more (got 'abc')."),
    ({"page_size": "0"}, "page_size", "Query parameter 'page_size' must be a whole number from 1 to 100 (got '0')."),
    ({"page_size": "1000"}, "page_size",
     "Query parameter 'page_size' must be a whole number from 1 to 100 (got '1000')."),
])
def test_query_parameter_errors_name_the_parameter_and_its_range(api, token, query, field, message) -> None:
    with api.client(token) as c:
        err = _error(c.get("/api/jobs", params=query))
    assert (err["field"], err["message"]) == (field, message)


def test_every_image_message_lists_the_formats_really_accepted(api, token) -> None:
    assert ACCEPTED == "PNG, JPEG, WebP, BMP, GIF or TIFF"
    with api.client(token) as c:
        for fmt, mode in (("BMP", "RGB"), ("GIF", "P"), ("TIFF", "RGB"), ("WEBP", "RGB"), ("JPEG", "RGB")):
            r = c.post("/api/generate", data=SMALL, files={"image": (f"in.{fmt.lower()}", _image(fmt, mode))})
            assert r.status_code == 202, (fmt, r.text)
        unreadable = c.post("/api/generate", data=SMALL, files={"image": ("in.png", b"%PDF-1.4 not a picture")})
        empty = c.post("/api/generate", data=SMALL, files={"image": ("in.png", b"")})
        other = c.post("/api/generate", data=SMALL, files={"image": ("in.ppm", _image("PPM"))})
    assert _error(unreadable)["message"] == ("The file is not an image that can be read "
                                             "(PNG, JPEG, WebP, BMP, GIF or TIFF expected).")
    assert _error(empty)["message"] == "The image file is empty; choose a PNG, JPEG, WebP, BMP, GIF or TIFF picture."
    assert _error(other)["message"] == "PPM images are not accepted; send PNG, JPEG, WebP, BMP, GIF or TIFF."


def test_an_unknown_field_suggests_the_near_parameter(api, token) -> None:
    with api.client(token) as c:
        near = _error(c.post("/api/generate", data={**SMALL, "stepz": "4"}, files={"image": ("in.png", png())}))
        far = _error(c.post("/api/generate", data={**SMALL, "zzzzzz": "4"}, files={"image": ("in.png", png())}))
        server = _error(c.post("/api/generate", data={**SMALL, "vae": "x.safetensors"},
                               files={"image": ("in.png", png())}))
    assert near["field"] == "stepz"
    assert near["message"].startswith("Unknown parameter 'stepz' (did you mean 'steps'?) for workflow i2v_480p@3. "
                                      "Known: "), near["message"]
    assert "steps" in near["message"].split("Known: ")[1]
    assert far["field"] == "zzzzzz" and "did you mean" not in far["message"]
    assert far["message"].startswith("Unknown parameter 'zzzzzz' for workflow i2v_480p@3. Known: ")
    assert server == {"code": "invalid_parameter", "field": "vae",
                      "message": "'vae' is set by the server and cannot be given in a request."}


def test_a_shift_of_zero_is_refused_at_submission(api, token) -> None:
    """The sampler refuses shift 0 (the scheduler has no sigmas then); the API says so before queueing."""
    with api.client(token) as c:
        err = _error(c.post("/api/generate", data={**SMALL, "shift": "0"}, files={"image": ("in.png", png())}))
        listed = c.get("/api/jobs").json()
    assert err["field"] == "shift" and "must be at least 0.1" in err["message"], err
    assert listed["items"] == [] and listed["total"] == 0  # nothing queued
