"""Write and inspect videos with the ffmpeg binary bundled by imageio-ffmpeg.

Frames are piped to ffmpeg's stdin as raw rgb24, a few at a time, so a long
clip never needs a second full-size copy in memory. The bundled binary is used
on purpose: its encoders (libx264, libvpx-vp9) are known, whatever the system has.

Odd sizes: yuv420p stores colour at half resolution, so both sides must be
even. A frame with an odd width or height is padded by one pixel on the right
and/or bottom, repeating the edge pixels; no source pixel is lost.

imageio-ffmpeg ships no ffprobe, so `probe_video` reads the stream line that
`ffmpeg -i` prints and counts frames exactly by decoding the whole stream to the
null muxer.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image

from ..errors import VideoWriteError

FORMATS = ("mp4", "webm")
CRF_RANGE = {"mp4": (0, 51), "webm": (0, 63)}
_CHUNK_FRAMES = 8  # frames converted and piped per write
_STDERR_TAIL = 2000  # characters of ffmpeg's log kept in error messages

# Per format: container, encoder settings. VP9 needs "-b:v 0" for pure constant
# quality; row-mt and cpu-used 4 keep it usable on small machines.
_CODEC_ARGS = {
    "mp4": ["-f", "mp4", "-c:v", "libx264", "-preset", "medium", "-movflags", "+faststart"],
    "webm": ["-f", "webm", "-c:v", "libvpx-vp9", "-b:v", "0", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1"],
}
# Convert with BT.709 and say so in the stream, so players do not guess BT.601.
_COLOUR_ARGS = [
    "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
]  # fmt: skip

Frames = torch.Tensor | np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float  # seconds
    pix_fmt: str


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary."""
    return imageio_ffmpeg.get_ffmpeg_exe()


# ---------------------------------------------------------------- writing


def write_video(frames: Frames, path: str | Path, *, fps: float, fmt: str = "mp4", crf: int = 19) -> Path:
    """Encode frames ([F,H,W,3] float 0..1 or uint8) to an H.264 mp4 or VP9 webm.

    The file appears at `path` only once ffmpeg has finished; on failure nothing
    is left behind and VideoWriteError carries the end of ffmpeg's log.
    """
    path = Path(path)
    _check_args(frames, fps, fmt, crf)
    count, height, width = int(frames.shape[0]), int(frames.shape[1]), int(frames.shape[2])
    out_w, out_h = width + width % 2, height + height % 2

    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{out_w}x{out_h}", "-r", _rate(fps), "-i", "pipe:0",
        *_COLOUR_ARGS, *_CODEC_ARGS[fmt], "-crf", str(int(crf)),
    ]  # fmt: skip
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VideoWriteError(f"Cannot create the folder for {path}: {exc}") from exc
    partial = path.with_name(f".{path.name}.part")
    with tempfile.TemporaryFile() as log:
        # ffmpeg's log goes to a file, not a pipe, so a chatty encoder can never
        # block on a full pipe while we are blocked writing its stdin.
        try:
            process = subprocess.Popen([*command, str(partial)], stdin=subprocess.PIPE, stderr=log)
        except OSError as exc:
            raise VideoWriteError(f"Could not start ffmpeg ({ffmpeg_exe()}): {exc}") from exc
        assert process.stdin is not None
        try:
            for chunk in _uint8_chunks(frames):
                process.stdin.write(_pad_even(chunk).tobytes())
        except OSError:
            pass  # ffmpeg exited early (broken pipe); its exit code and log say why
        except BaseException:
            process.kill()  # e.g. an interrupt: do not leave ffmpeg waiting for frames
            process.wait()
            _remove(partial)
            raise
        with contextlib.suppress(OSError):
            process.stdin.close()
        code = process.wait()
        if code != 0 or not partial.is_file():
            _remove(partial)
            raise VideoWriteError(
                f"ffmpeg could not write {path.name} ({fmt}, {count} frames {width}x{height}, fps {fps}, crf {crf}); "
                f"exit code {code}: {_tail(log)}"
            )
    partial.replace(path)
    return path


def save_poster(frame: Frames, path: str | Path) -> Path:
    """Write the first frame (of [H,W,3] or [F,H,W,3]) as a PNG."""
    path = Path(path)
    if frame.ndim == 4:
        frame = frame[:1]
    elif frame.ndim == 3:
        frame = frame[None]
    if frame.ndim != 4 or frame.shape[0] < 1 or frame.shape[-1] != 3:
        raise VideoWriteError(f"A poster needs an [H,W,3] frame; got shape {tuple(frame.shape)}.")
    pixels = next(_uint8_chunks(frame))[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path, format="PNG")
    return path


def _check_args(frames: Frames, fps: float, fmt: str, crf: int) -> None:
    if not isinstance(frames, (torch.Tensor, np.ndarray)):
        raise VideoWriteError(f"Frames must be a torch tensor or numpy array, not {type(frames).__name__}.")
    if isinstance(frames, torch.Tensor):
        usable = frames.dtype == torch.uint8 or frames.is_floating_point()
    else:
        usable = frames.dtype == np.uint8 or np.issubdtype(frames.dtype, np.floating)
    if not usable:
        raise VideoWriteError(f"Frames must be floats in 0..1 or uint8; got dtype {frames.dtype}.")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise VideoWriteError(f"Frames must be [frames, height, width, 3]; got shape {tuple(frames.shape)}.")
    if frames.shape[0] < 1 or frames.shape[1] < 1 or frames.shape[2] < 1:
        raise VideoWriteError(f"There are no frames to write (shape {tuple(frames.shape)}).")
    if fmt not in FORMATS:
        raise VideoWriteError(f"Unknown video format '{fmt}'; use one of {', '.join(FORMATS)}.")
    if not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise VideoWriteError(f"fps must be a positive number; got {fps!r}.")
    low, high = CRF_RANGE[fmt]
    if isinstance(crf, bool) or not isinstance(crf, int) or not low <= crf <= high:
        raise VideoWriteError(f"crf for {fmt} must be an integer in {low}..{high}; got {crf!r}.")


def _rate(fps: float) -> str:
    """fps as text ffmpeg reads exactly (integers stay integers)."""
    return str(int(fps)) if float(fps).is_integer() else repr(float(fps))


def _uint8_chunks(frames: Frames) -> Iterator[np.ndarray]:
    """Yield [n,H,W,3] uint8 arrays; floats are read as 0..1, clamped and rounded."""
    for start in range(0, int(frames.shape[0]), _CHUNK_FRAMES):
        chunk = frames[start : start + _CHUNK_FRAMES]
        if isinstance(chunk, torch.Tensor):
            if chunk.dtype != torch.uint8:
                # +0.5 then truncation rounds; the in-place steps avoid extra full-size copies.
                chunk = chunk.detach().float().mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
            chunk = chunk.cpu().numpy()
        elif chunk.dtype != np.uint8:
            chunk = np.clip(chunk.astype(np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
        yield np.ascontiguousarray(chunk)


def _pad_even(chunk: np.ndarray) -> np.ndarray:
    pad_h, pad_w = chunk.shape[1] % 2, chunk.shape[2] % 2
    if not (pad_h or pad_w):
        return chunk
    return np.pad(chunk, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # nothing was written under a name the file system refuses


def _tail(log) -> str:  # noqa: ANN001 - a binary temporary file
    log.seek(0)
    text = log.read().decode("utf-8", "replace").strip()
    return text[-_STDERR_TAIL:] or "(ffmpeg printed nothing)"


# ---------------------------------------------------------------- probing

_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def probe_video(path: str | Path) -> VideoInfo:
    """Codec, size, fps, pixel format and exact frame count of a video's first video stream."""
    path = Path(path)
    if not path.is_file():
        raise VideoWriteError(f"Cannot probe {path}: no such file.")
    command = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
        "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "null", "-", "-progress", "pipe:1", "-nostats",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, errors="replace")
    stream = _STREAM_RE.search(result.stderr)
    if result.returncode != 0 or stream is None:
        raise VideoWriteError(f"Cannot read video {path.name}: {result.stderr.strip()[-_STDERR_TAIL:]}")
    codec, pix_fmt, width, height, fps = _parse_stream(stream.group(1))
    progress = _parse_progress(result.stdout)
    num_frames = int(progress.get("frame", 0))
    if "out_time_us" in progress and progress["out_time_us"].lstrip("-").isdigit():
        duration = int(progress["out_time_us"]) / 1e6
    else:
        duration = _header_duration(result.stderr)
    return VideoInfo(codec, width, height, fps, num_frames, duration, pix_fmt)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def _parse_stream(description: str) -> tuple[str, str, int, int, float]:
    """Read e.g. "h264 (High) (avc1 / ...), yuv420p(progressive), 64x48 [SAR 1:1], 16 fps, ..."."""
    fields = _split_top_level(description)
    codec = fields[0].split()[0]
    pix_fmt = fields[1].split("(")[0].strip() if len(fields) > 1 else ""
    width = height = 0
    fps = 0.0
    for field in fields[1:]:
        size = re.match(r"(\d+)x(\d+)", field)
        if size and not width:
            width, height = int(size.group(1)), int(size.group(2))
        rate = re.match(r"([\d.]+)(k?) fps", field)
        if rate:
            fps = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    return codec, pix_fmt, width, height, fps


def _parse_progress(text: str) -> dict[str, str]:
    """The last value of each key in ffmpeg's -progress output."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _header_duration(stderr: str) -> float:
    match = _DURATION_RE.search(stderr)
    if not match:
        return 0.0
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
