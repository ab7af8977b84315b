"""`wan-i2v models download`: fetch real weights from the model hub, resumably and verified.

Steps: ask the hub's file listing for sizes and sha256 sums (this is also where an offline
machine is told so), check the free disk space for what is still missing, then fetch each
file into `<name>.part`. A cut connection resumes with an HTTP Range request (also across
runs: the `.part` file stays); a finished file is renamed into place only when its size
and sha256 match the hub's. A wrong sum removes the part file and fails.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TextIO

import httpx

from . import sources
from .errors import ChecksumMismatch, DiskSpaceError, DownloadError, ModelSourceError, OfflineError
from .sources import RemoteFile

CHUNK = 1 << 20
DISK_MARGIN = 256 * 1024 * 1024  # left free after the download
RETRIES = 5


class Progress(Protocol):
    def start(self, label: str, total: int | None, done: int) -> None: ...
    def update(self, done: int) -> None: ...
    def finish(self) -> None: ...


class TextProgress:
    """A one-line progress bar on a terminal; a line per 10% otherwise (logs)."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.tty = self.stream.isatty()

    def start(self, label: str, total: int | None, done: int) -> None:
        self.label, self.total, self.first, self.done = label, total, done, done
        self.t0 = self.last = time.monotonic()
        self.decile = -1
        self._draw(force=True)

    def update(self, done: int) -> None:
        self.done = done
        self._draw()

    def finish(self) -> None:
        self._draw(force=True)
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        fraction = self.done / self.total if self.total else 0.0
        if self.tty:
            if not force and now - self.last < self.every_s:
                return
        else:
            decile = int(fraction * 10)
            if not force and decile == self.decile:
                return
            self.decile = decile
        self.last = now
        rate = (self.done - self.first) / max(now - self.t0, 1e-6)
        width = 24
        bar = "#" * int(fraction * width)
        total = human_size(self.total) if self.total else "?"
        eta = f" ETA {_duration((self.total - self.done) / rate)}" if self.total and rate > 0 else ""
        text = (
            f"{self.label} [{bar:<{width}}] {fraction:4.0%} {human_size(self.done)}/{total} {human_size(rate)}/s{eta}"
        )
        self.stream.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.stream.flush()


class NoProgress:
    def start(self, label: str, total: int | None, done: int) -> None:
        pass

    def update(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


def human_size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


@dataclass(frozen=True)
class Outcome:
    path: Path
    status: str  # "downloaded", "present", "verified"
    size: int
    sha256: str | None


def make_client(timeout_s: float = 30.0) -> httpx.Client:
    headers = {"User-Agent": "wan-i2v-models-download"}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"  # httpx drops it on redirects to another host
    return httpx.Client(follow_redirects=True, timeout=httpx.Timeout(timeout_s, connect=10.0), headers=headers)


# ---------------------------------------------------------------- the hub's file listing


def _offline(base: str, exc: Exception) -> OfflineError:
    return OfflineError(
        f"Cannot reach {base} ({type(exc).__name__}: {exc}). This machine looks offline, or the hub is blocked. "
        "Run the same command on a machine with internet access and copy the models folder here, "
        f"or point --base-url (or ${sources.HUB_ENV}) at a mirror."
    )


def list_repo(client: httpx.Client, base: str, repo: str, folder: str = "") -> dict[str, tuple[int | None, str | None]]:
    """path -> (size, sha256) for every file under `folder` (sha256 only for LFS files)."""
    url: str | None = sources.tree_url(base, repo, folder)
    found: dict[str, tuple[int | None, str | None]] = {}
    while url:
        try:
            response = client.get(url)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _offline(base, exc) from exc
        except httpx.TransportError as exc:
            raise DownloadError(f"Listing {repo}/{folder} on {base} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise ModelSourceError(f"{base} has no {repo}/{folder or '(root)'}; the repository may have moved.")
        if response.status_code in (401, 403):
            raise DownloadError(
                f"{base} refused to list {repo} (HTTP {response.status_code}); set HF_TOKEN if it is gated."
            )
        if response.status_code != 200:
            raise DownloadError(f"Listing {repo}/{folder} on {base} failed: HTTP {response.status_code}.")
        try:
            entries = response.json()
        except ValueError as exc:
            raise DownloadError(f"{base} answered the file listing of {repo} with something that is not JSON.") from exc
        for entry in entries:
            if entry.get("type") != "file":
                continue
            lfs = entry.get("lfs") or {}
            size = lfs.get("size", entry.get("size"))
            found[entry["path"]] = (int(size) if size is not None else None, lfs.get("oid") or lfs.get("sha256"))
        url = response.links.get("next", {}).get("url")
    return found


def with_metadata(files: list[RemoteFile], client: httpx.Client, base: str) -> list[RemoteFile]:
    """The files with size and sha256 from the hub (one listing per folder)."""
    listings: dict[tuple[str, str], dict[str, tuple[int | None, str | None]]] = {}
    out = []
    for f in files:
        folder = f.path.rsplit("/", 1)[0] if "/" in f.path else ""
        key = (f.repo, folder)
        if key not in listings:
            listings[key] = list_repo(client, base, f.repo, folder)
        if f.path not in listings[key]:
            there = ", ".join(sorted(p.rsplit("/", 1)[-1] for p in listings[key])) or "(nothing)"
            raise ModelSourceError(f"{f.repo} has no {f.path}. That folder holds: {there}.")
        size, sha = listings[key][f.path]
        out.append(replace(f, size=size, sha256=sha))
    return out


def diffusers_files(variant: str, client: httpx.Client, base: str) -> list[RemoteFile]:
    """Every file of a variant's diffusers folder that the pipeline uses."""
    repo = sources.DIFFUSERS_REPOS[variant]
    folder = sources.diffusers_folder(variant)
    listing = list_repo(client, base, repo)
    wanted = {
        p: v for p, v in listing.items() if p == "model_index.json" or p.split("/", 1)[0] in sources.DIFFUSERS_PARTS
    }
    if "model_index.json" not in wanted:
        raise ModelSourceError(f"{repo} has no model_index.json; it is not a diffusers pipeline folder.")
    return [RemoteFile(repo, p, f"{folder}/{p}", size=s, sha256=h) for p, (s, h) in sorted(wanted.items())]


# ---------------------------------------------------------------- fetching


def _part(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def _hash_prefix(path: Path, length: int) -> hashlib._Hash:
    hasher = hashlib.sha256()
    with path.open("rb") as fh:
        remaining = length
        while remaining > 0:
            block = fh.read(min(CHUNK * 8, remaining))
            if not block:
                break
            hasher.update(block)
            remaining -= len(block)
    return hasher


def file_sha256(path: Path) -> str:
    return _hash_prefix(path, path.stat().st_size).hexdigest()


def still_needed(files: Iterable[RemoteFile], dest: Path) -> int:
    """Bytes still to fetch: sizes of the files not yet in place, less what their part files hold."""
    total = 0
    for f in files:
        target = dest / f.dest
        if target.exists():
            continue
        part = _part(target)
        have = part.stat().st_size if part.exists() else 0
        total += max(f.expected_size - have, 0)
    return total


def check_disk(files: list[RemoteFile], dest: Path, disk_free: Callable[[Path], int]) -> None:
    need = still_needed(files, dest)
    probe = dest
    while not probe.exists():
        probe = probe.parent
    free = disk_free(probe)
    if need + DISK_MARGIN > free:
        raise DiskSpaceError(
            f"{dest} needs {human_size(need)} more (plus {human_size(DISK_MARGIN)} to spare) but has "
            f"{human_size(free)} free. Free some space, or choose another --dest (or --precision fp8: about half)."
        )


def fetch(
    client: httpx.Client,
    url: str,
    target: Path,
    size: int | None,
    sha256: str | None,
    progress: Progress,
    retries: int = RETRIES,
    backoff_s: float = 1.0,
) -> Outcome:
    """Fetch one file into place, resuming a part file; verifies size and sha256 when known."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = _part(target)
    hasher, hashed = hashlib.sha256(), 0
    failures = 0
    started = False
    while True:
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if have != hashed:
            hasher, hashed = _hash_prefix(part, have), have
        if size is not None and have == size:
            break
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status == 404:
                    raise ModelSourceError(f"{url} does not exist (HTTP 404).")
                if status in (401, 403):
                    raise DownloadError(
                        f"{url}: access refused (HTTP {status}); set HF_TOKEN if the repository is gated."
                    )
                if status == 416 and have and size is None:
                    break  # the part file already holds everything
                if status == 206:
                    start = _range_start(response.headers.get("content-range", ""))
                    if start != have:
                        raise DownloadError(f"{url}: the server resumed at byte {start}, not {have}.")
                    mode = "ab"
                elif status == 200:
                    mode, have = "wb", 0  # no resume support: start over
                    hasher, hashed = hashlib.sha256(), 0
                else:
                    raise DownloadError(f"{url}: HTTP {status}.")
                total = size
                if total is None and status == 200 and response.headers.get("content-length"):
                    total = int(response.headers["content-length"])
                if not started:
                    progress.start(target.name, total, have)
                    started = True
                with part.open(mode) as fh:
                    for block in response.iter_bytes():  # as received: a cut keeps every byte read
                        fh.write(block)
                        hasher.update(block)
                        hashed += len(block)
                        progress.update(hashed)
                if size is None:
                    length = response.headers.get("content-length")
                    if length is not None and hashed - (have if mode == "ab" else 0) < int(length):
                        raise httpx.RemoteProtocolError("body shorter than Content-Length")
                    break
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failures += 1
            if failures > retries:
                origin = httpx.URL(url)
                raise _offline(f"{origin.scheme}://{origin.netloc.decode()}", exc) from exc
            time.sleep(backoff_s * failures)
        except httpx.TransportError as exc:  # cut connection, read timeout: resume
            failures += 1
            if failures > retries:
                raise DownloadError(
                    f"{target.name}: the connection broke {failures} times ({type(exc).__name__}). "
                    f"{human_size(part.stat().st_size if part.exists() else 0)} are kept in {part}; "
                    "run the command again to resume."
                ) from exc
            time.sleep(backoff_s * failures)
    if started:
        progress.finish()
    got = part.stat().st_size
    if size is not None and got != size:
        raise DownloadError(f"{target.name}: got {got} bytes, expected {size}; run the command again to resume.")
    digest = hasher.hexdigest()
    if sha256 and digest != sha256.lower():
        part.unlink()
        raise ChecksumMismatch(
            f"{target.name}: sha256 {digest} is not the published {sha256}; the download was removed. "
            "Run the command again; if it repeats, the mirror serves a different file."
        )
    os.replace(part, target)
    return Outcome(target, "downloaded", got, digest)


def _range_start(content_range: str) -> int:
    # "bytes 100-199/200"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return -1


def download_files(
    files: list[RemoteFile],
    dest: Path,
    client: httpx.Client,
    base: str,
    *,
    progress: Progress | None = None,
    verify: bool = False,
    disk_free: Callable[[Path], int] | None = None,
    retries: int = RETRIES,
    backoff_s: float = 1.0,
) -> list[Outcome]:
    """Fetch what is missing (files already in place with the right size are kept)."""
    progress = progress or TextProgress()
    disk_free = disk_free or (lambda p: shutil.disk_usage(p).free)
    for f in files:
        target = dest / f.dest
        if target.exists() and f.size is not None and target.stat().st_size != f.size:
            raise DownloadError(
                f"{target} exists with {target.stat().st_size} bytes but the hub's file has {f.size}; "
                "move it away (or delete it) and run again."
            )
    check_disk(files, dest, disk_free)
    outcomes = []
    for f in files:
        target = dest / f.dest
        if target.exists():
            digest = None
            if verify and f.sha256:
                digest = file_sha256(target)
                if digest != f.sha256.lower():
                    raise ChecksumMismatch(
                        f"{target}: sha256 {digest} is not the published {f.sha256}; remove it and run again."
                    )
            outcomes.append(Outcome(target, "verified" if digest else "present", target.stat().st_size, digest))
            continue
        url = sources.file_url(base, f.repo, f.path)
        outcomes.append(fetch(client, url, target, f.size, f.sha256, progress, retries=retries, backoff_s=backoff_s))
    return outcomes


def plan(
    variant: str | None, precision: str | None, fmt: str, client: httpx.Client, base: str, distill_lora: bool = False
) -> list[RemoteFile]:
    """The files of a variant (and/or the fast workflows' distillation LoRA), with the hub's sizes and sums."""
    if variant is None:
        if not distill_lora:
            raise ModelSourceError(
                f"Choose --variant ({', '.join(sources.VARIANTS)}), --distill-lora (the fast workflows' LoRA), or both."
            )
        if precision is not None or fmt != "comfy":
            raise ModelSourceError("--precision and --format choose a variant's files; give --variant with them.")
        files: list[RemoteFile] = []
    else:
        sources.check_choice(variant, precision, fmt)
        if fmt == "diffusers":
            files = diffusers_files(variant, client, base)
        else:
            files = with_metadata(sources.comfy_files(variant, precision), client, base)
    if distill_lora:
        files += with_metadata(sources.distill_lora_files(), client, base)
    return files
