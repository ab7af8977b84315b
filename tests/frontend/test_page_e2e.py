"""The web page in a real browser (Debian's Chromium via Playwright) against a real orchestrator
with an embedded instance and the demo model: log in, refuse a wrong file, upload, generate,
watch the progress reach 100%, play and download the video, find it in the gallery; another user
cannot open it; an expired session comes back to the form; the Russian page; the admin's
instances; a phone-sized screen; a waiting job and cancelling. Screenshots of each
page and the page's benchmark figures are written to the output folder (see conftest.py)."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PROMPT = "a red square drifts slowly to the left"
PROGRESS_TIMEOUT_MS = 240_000


def _png(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    from PIL import Image

    Image.new("RGB", size, (200, 90, 40)).save(path)
    return path


def _login(page: Any, server: Any, username: str, password: str, *, user_label: str = "User name",
           password_label: str = "Password", submit: str = "Log in") -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=submit).click()
    page.wait_for_url(lambda url: not url.endswith("/login"))


# The page records every progress value it shows (a MutationObserver on the bar), so the test sees
# the whole course of the job, not only the values it happened to sample. (Functions, not strings:
# the server's Content-Security-Policy forbids eval.)
WATCH_PROGRESS = """() => {
window.__progress = [];
new MutationObserver(() => {
  const bar = document.querySelector('[role=progressbar]');
  const value = bar && bar.getAttribute('aria-valuenow');
  if (value !== null && value !== undefined && window.__progress.at(-1) !== Number(value)) window.__progress.push(Number(value));
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
}"""


@pytest.fixture(scope="module")
def finished_job(browser: Any, server: Any, output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """alice's whole run through the page; the later tests look at what it made."""
    files = tmp_path_factory.mktemp("files")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True)
    context.add_init_script(f"({WATCH_PROGRESS})()")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server.url}/")
    page.get_by_role("heading", name="Log in").wait_for()
    page.screenshot(path=output_dir / "01-login.png", full_page=True)
    _login(page, server, "alice", server.passwords["alice"])
    page.get_by_role("heading", name="My videos").wait_for()

    # Time to interactive of the Generate page: from navigation until the form can be used.
    page.goto(f"{server.url}/generate")
    page.get_by_label("Model").locator("option").first.wait_for(state="attached")
    page.get_by_label("Prompt", exact=True).wait_for()
    tti_ms = page.evaluate("performance.now()")

    # A wrong file type is refused before any upload, with the reason, and Generate stays off.
    text_file = files / "notes.txt"
    text_file.write_text("not an image")
    page.locator("input[type=file]").set_input_files(str(text_file))
    page.get_by_role("alert").filter(has_text="is not a PNG, JPEG, WebP, BMP or GIF image").wait_for()
    generate = page.get_by_role("button", name="Generate")
    assert generate.is_disabled()
    page.screenshot(path=output_dir / "02-generate-wrong-file.png", full_page=True)

    page.locator("input[type=file]").set_input_files(str(_png(files / "start.png")))
    page.get_by_role("img", name="Preview of the start image").wait_for()
    page.get_by_text("320 × 240 px").first.wait_for()
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    page.get_by_label("Duration (seconds)").fill("0.25")
    page.get_by_text("5 frames at 16 fps = 0.25 s").wait_for()
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Steps", exact=True).fill("2")
    shown_size = page.locator(".output-size").inner_text()
    assert generate.is_enabled(), page.locator(".reasons").all_inner_texts()
    page.screenshot(path=output_dir / "03-generate.png", full_page=True)

    generate.click()
    page.wait_for_url("**/jobs/*")
    job_id = page.url.rstrip("/").split("/")[-1]
    page.get_by_role("progressbar").wait_for()
    page.screenshot(path=output_dir / "04-job-running.png", full_page=True)

    bar = page.get_by_role("progressbar", name="Progress")
    page.wait_for_function(
        "() => document.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow') === '100'"
        " && document.querySelector('video') !== null",
        timeout=PROGRESS_TIMEOUT_MS,
    )
    assert bar.get_attribute("aria-valuetext") == "Done"
    progress = page.evaluate("window.__progress")
    page.get_by_role("link", name="Download MP4").wait_for()

    # The video element plays: its metadata loads (duration > 0) and time moves on after Play.
    page.wait_for_function("() => document.querySelector('video').duration > 0", timeout=30_000)
    duration = page.evaluate("document.querySelector('video').duration")
    page.evaluate("() => { const v = document.querySelector('video'); v.pause(); v.currentTime = 0; }")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("() => !document.querySelector('video').paused && document.querySelector('video').currentTime > 0",
                           timeout=30_000)
    page.screenshot(path=output_dir / "05-job-done.png", full_page=True)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download MP4").click()
    saved = files / download_info.value.suggested_filename
    download_info.value.save_as(saved)

    seed = page.get_by_test_id("job-seed").inner_text()
    page.get_by_role("link", name="My videos").click()
    card = page.get_by_role("link", name=PROMPT)
    card.wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.gallery img')].some(i => i.complete && i.naturalWidth > 0)",
                           timeout=30_000)
    card_text = card.inner_text()
    page.screenshot(path=output_dir / "06-home.png", full_page=True)
    context.close()
    return {"id": job_id, "progress": progress, "duration": duration, "download": saved, "seed": seed,
            "card": card_text, "tti_ms": tti_ms, "errors": errors, "shown_size": shown_size}


def test_generate_watch_play_download(finished_job: dict[str, Any]) -> None:
    progress = finished_job["progress"]
    assert progress and progress[-1] == 100, progress
    # Watched live from 0 to the end. (Values in between depend on timing: two demo steps may pass
    # between two progress writes; and the API reports each node's own share, so a later node,
    # e.g. the VAE decode, may start the bar again from its beginning.)
    assert progress[0] == 0, progress
    assert finished_job["duration"] > 0
    video = finished_job["download"].read_bytes()
    assert len(video) > 1000 and video[4:8] == b"ftyp", "the download is not an MP4"
    assert finished_job["download"].suffix == ".mp4"
    assert finished_job["seed"].isdigit()
    assert finished_job["errors"] == []


def test_video_has_the_size_the_form_showed(finished_job: dict[str, Any]) -> None:
    import re
    import subprocess

    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(finished_job["download"])],
                           capture_output=True, text=True, check=False)
    stream = re.search(r"Video: .*?, (\d{2,5})x(\d{2,5})\b", probe.stderr)
    assert stream, probe.stderr
    width, height = stream.groups()
    assert f"{width} × {height} px" in finished_job["shown_size"], (finished_job["shown_size"], width, height)


def test_gallery_shows_the_job(finished_job: dict[str, Any]) -> None:
    assert "Done" in finished_job["card"]
    assert PROMPT in finished_job["card"]


def test_another_user_cannot_open_the_job(browser: Any, server: Any, finished_job: dict[str, Any]) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    _login(page, server, "bob", server.passwords["bob"])
    page.goto(f"{server.url}/jobs/{finished_job['id']}")
    page.get_by_role("alert").filter(has_text="This job does not exist, or it is not yours.").wait_for()
    assert page.locator("video").count() == 0
    page.goto(f"{server.url}/")
    page.get_by_text("No videos yet.").wait_for()
    context.close()


def test_expired_session_returns_to_the_form(browser: Any, server: Any, output_dir: Path) -> None:
    """A token the server no longer accepts: the page sends the person to log in, says why, and
    brings them back to the Generate form with what they had typed."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, server, "alice", server.passwords["alice"])
    page.goto(f"{server.url}/generate")
    page.get_by_label("Prompt", exact=True).fill("kept across the login")
    page.evaluate("""() => {
        const session = JSON.parse(localStorage.getItem('wan.session'));
        session.token = 'no-longer-valid';
        localStorage.setItem('wan.session', JSON.stringify(session));
    }""")
    page.reload()
    page.get_by_text("Your session has expired").wait_for()
    page.screenshot(path=output_dir / "12-session-expired.png", full_page=True)
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(server.passwords["alice"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/generate")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.wait_for()
    assert prompt.input_value() == "kept across the login"
    context.close()


def test_russian_page(browser: Any, server: Any, finished_job: dict[str, Any], output_dir: Path) -> None:
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/")
    page.get_by_role("heading", name="Вход").wait_for()
    assert page.evaluate("document.documentElement.lang") == "ru"
    _login(page, server, "alice", server.passwords["alice"], user_label="Имя пользователя", password_label="Пароль",
           submit="Войти")
    page.get_by_role("heading", name="Мои видео").wait_for()
    page.get_by_text("Готово").first.wait_for()
    page.screenshot(path=output_dir / "07-home-ru.png", full_page=True)
    page.goto(f"{server.url}/jobs/{finished_job['id']}")
    page.get_by_role("link", name="Скачать MP4").wait_for()
    page.screenshot(path=output_dir / "08-job-ru.png", full_page=True)
    # Switched back to English, the choice is remembered on the next visit.
    page.get_by_label("Язык").select_option("en")
    page.get_by_role("link", name="Download MP4").wait_for()
    page.reload()
    page.get_by_role("link", name="Download MP4").wait_for()
    context.close()


def test_admin_sees_instances(browser: Any, server: Any, finished_job: dict[str, Any], output_dir: Path) -> None:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, server, "admin", server.admin_password)
    page.get_by_role("heading", name="All videos").wait_for()
    table = page.get_by_role("table")
    table.wait_for()
    assert "up" in table.inner_text()
    page.get_by_text("by alice").first.wait_for()
    page.screenshot(path=output_dir / "09-home-admin.png", full_page=True)
    context.close()


def test_api_docs_render_from_this_server(browser: Any, server: Any, output_dir: Path) -> None:
    """/docs, which the README points API users to: Swagger UI draws every route, loading nothing from
    elsewhere and breaking no content security policy rule."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    refused: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    page.goto(f"{server.url}/docs")
    page.locator(".opblock").first.wait_for(timeout=30_000)
    assert page.locator(".opblock").count() >= 10  # login, jobs, files, workflows ...
    page.get_by_text("/api/jobs").first.wait_for()
    assert all(url.startswith(server.url) for url in requested), requested
    assert refused == []
    page.screenshot(path=output_dir / "11-api-docs.png")
    context.close()


def test_phone_layout(browser: Any, server: Any, finished_job: dict[str, Any], output_dir: Path) -> None:
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, server, "alice", server.passwords["alice"])
    for name, path in (("generate", "/generate"), ("job", f"/jobs/{finished_job['id']}"), ("home", "/")):
        page.goto(f"{server.url}{path}")
        page.locator("h1").first.wait_for()
        page.wait_for_load_state("networkidle")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the {name} page is wider than a phone screen by {overflow}px"
        page.screenshot(path=output_dir / f"10-phone-{name}.png", full_page=True)
    context.close()


def test_queue_position_and_cancel(browser: Any, server: Any, output_dir: Path, tmp_path: Path) -> None:
    """Two long jobs on one instance: the second waits (with its queue position while the
    orchestrator holds it; the dispatcher may already have handed it to the instance's own queue,
    then it shows as running at 0%); both cancel, the waiting one at once."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, server, "carol", server.passwords["carol"])
    started = time.monotonic()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New video").click()
    page.locator("input[type=file]").set_input_files(str(_png(tmp_path / "long.png", (256, 256))))
    page.get_by_label("Prompt", exact=True).fill("a long one")
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Steps", exact=True).fill("200")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url("**/jobs/*")
    first = page.url
    page.get_by_text("Running").first.wait_for(timeout=60_000)

    # The form kept its settings (and the image); a second job draws a new seed and waits.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New video").click()
    page.get_by_label("Prompt", exact=True).wait_for()
    assert page.get_by_label("Prompt", exact=True).input_value() == "a long one"
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(lambda url: "/jobs/" in url and url != first)
    page.get_by_role("progressbar").wait_for(timeout=30_000)
    waiting = page.get_by_text("Position 1 in the queue").or_(page.get_by_text("Preparing", exact=True)).or_(
        page.get_by_text("Waiting for a free GPU"))
    waiting.first.wait_for(timeout=30_000)
    page.screenshot(path=output_dir / "11-job-queued.png", full_page=True)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("This job was cancelled.").wait_for(timeout=30_000)
    print(f"\nsecond job cancelled after {time.monotonic() - started:.1f} s")

    page.goto(first)
    page.get_by_role("progressbar").wait_for()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("This job was cancelled.").wait_for(timeout=120_000)
    print(f"first job cancelled after {time.monotonic() - started:.1f} s")
    page.goto(f"{server.url}/")
    page.get_by_text("Cancelled").first.wait_for()
    assert page.get_by_text("Cancelled").count() == 2
    context.close()


AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def _axe(page: Any) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations axe-core finds on the page as shown."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const found = await axe.run(document, { resultTypes: ['violations'] });
        return found.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }));
    }""")
    return list(result)


def test_accessibility_checks(browser: Any, server: Any, finished_job: dict[str, Any]) -> None:
    """axe-core (from the page's dev dependencies) on each page: no serious or critical findings."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: run `make frontend` (npm ci)")
    # Only this context lifts the Content-Security-Policy, to let the checker's script in.
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_role("heading", name="Log in").wait_for()
    findings = {"login": _axe(page)}
    _login(page, server, "alice", server.passwords["alice"])
    for name, path, ready in (
        ("home", "/", "My videos"),
        ("generate", "/generate", "New video"),
        ("job", f"/jobs/{finished_job['id']}", "Video"),
    ):
        page.goto(f"{server.url}{path}")
        page.get_by_role("heading", name=ready, exact=False).first.wait_for()
        page.wait_for_load_state("networkidle")
        if name == "generate":
            page.get_by_text("Advanced settings").click()
        findings[name] = _axe(page)
    context.close()
    assert all(not found for found in findings.values()), json.dumps(findings, indent=2, ensure_ascii=False)


def test_benchmark_figures(server: Any, finished_job: dict[str, Any], output_dir: Path) -> None:
    """Bundle size (gzip) of the built page and time to interactive of the Generate page."""
    assets = sorted((server.dist / "assets").glob("*"))
    sizes = {p.name: {"bytes": p.stat().st_size, "gzip": len(gzip.compress(p.read_bytes(), 9))}
             for p in assets if p.suffix in (".js", ".css")}
    js_gzip = sum(v["gzip"] for k, v in sizes.items() if k.endswith(".js"))
    css_gzip = sum(v["gzip"] for k, v in sizes.items() if k.endswith(".css"))
    figures = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle_js_gzip_bytes": js_gzip,
        "bundle_css_gzip_bytes": css_gzip,
        "assets": sizes,
        "generate_page_time_to_interactive_ms": round(finished_job["tti_ms"]),
    }
    (output_dir / "benchmark.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\npage bundle: {js_gzip / 1000:.1f} kB JS + {css_gzip / 1000:.1f} kB CSS (gzip); "
          f"Generate page interactive after {figures['generate_page_time_to_interactive_ms']} ms")
    assert js_gzip > 0 and figures["generate_page_time_to_interactive_ms"] > 0
    assert js_gzip < 250_000, "the page's JavaScript grew past 250 kB gzip"
