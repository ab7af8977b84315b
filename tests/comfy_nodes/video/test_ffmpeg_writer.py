"""Writing and probing videos with the real bundled ffmpeg."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from PIL import Image

from comfy_nodes.errors import VideoWriteError
from comfy_nodes.video import ffmpeg as ffmpeg_module
from comfy_nodes.video.ffmpeg import ffmpeg_exe, probe_video, save_poster, write_video


def moving_gradient(frames: int = 9, height: int = 48, width: int = 64) -> torch.Tensor:
    """A horizontal gradient that slides right by one step per frame, with a fixed vertical ramp in green."""
    x = torch.linspace(0, 1, width).view(1, 1, width)
    shift = torch.arange(frames).view(frames, 1, 1) / frames
    red = ((x + shift) % 1.0).expand(frames, height, width)
    green = torch.linspace(0, 1, height).view(1, height, 1).expand(frames, height, width)
    blue = torch.full((frames, height, width), 0.5)
    return torch.stack([red, green, blue], dim=-1).contiguous()


def decode_rgb(path: Path, width: int, height: int) -> np.ndarray:
    """Decode a video back to [F,H,W,3] uint8 with the same ffmpeg."""
    raw = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, height, width, 3)


def test_uses_the_bundled_ffmpeg() -> None:
    assert ffmpeg_exe() == imageio_ffmpeg.get_ffmpeg_exe()


def test_mp4_is_h264_yuv420p_with_exact_frames(tmp_path: Path) -> None:
    path = write_video(moving_gradient(), tmp_path / "clip.mp4", fps=16)
    info = probe_video(path)
    assert path == tmp_path / "clip.mp4"
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.num_frames) == (64, 48, 9)
    assert info.fps == 16.0
    assert info.duration == pytest.approx(9 / 16, abs=1e-3)


def test_mp4_has_faststart_moov_before_mdat(tmp_path: Path) -> None:
    data = write_video(moving_gradient(), tmp_path / "clip.mp4", fps=16).read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_decoded_frames_match_the_source(tmp_path: Path) -> None:
    frames = moving_gradient()
    decoded = decode_rgb(write_video(frames, tmp_path / "clip.mp4", fps=16, crf=10), 64, 48)
    source = (frames.numpy() * 255).round()
    assert decoded.shape == (9, 48, 64, 3)
    # Smooth content at low crf comes back close; chroma subsampling costs a little at the wrap edge.
    assert np.abs(decoded.astype(np.float32) - source).mean() < 4.0
    # Frames stay in order: each decoded frame is closest to its own source frame.
    errors = np.abs(decoded[:, None].astype(np.float32) - source[None]).mean(axis=(2, 3, 4))
    assert list(errors.argmin(axis=1)) == list(range(9))


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_saturated_colours_survive_the_yuv_round_trip(tmp_path: Path, fmt: str) -> None:
    # Conversion and stream tags must agree (BT.709); a mismatch shifts these by 10+ levels.
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [20, 200, 90]], dtype=np.uint8)
    frames = np.repeat(np.repeat(colours[None, None], 16, axis=2), 32, axis=1).reshape(1, 32, 80, 3).repeat(2, axis=0)
    decoded = decode_rgb(write_video(frames, tmp_path / f"colours.{fmt}", fps=16, fmt=fmt, crf=0), 80, 32)
    centres = decoded[0, 16, 8::16].astype(int)
    assert np.abs(centres - colours.astype(int)).max() <= 3


def test_webm_is_vp9(tmp_path: Path) -> None:
    info = probe_video(write_video(moving_gradient(), tmp_path / "clip.webm", fps=16, fmt="webm", crf=30))
    assert (info.codec, info.pix_fmt) == ("vp9", "yuv420p")
    assert (info.width, info.height, info.num_frames, info.fps) == (64, 48, 9, 16.0)


def test_uint8_numpy_frames_are_accepted(tmp_path: Path) -> None:
    frames = (moving_gradient(5).numpy() * 255).round().astype(np.uint8)
    info = probe_video(write_video(frames, tmp_path / "np.mp4", fps=8))
    assert (info.num_frames, info.fps, info.width) == (5, 8.0, 64)


def test_odd_size_is_padded_to_even_by_repeating_the_edge(tmp_path: Path) -> None:
    frames = moving_gradient(5, height=47, width=63)
    path = write_video(frames, tmp_path / "odd.mp4", fps=16, crf=0)
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (64, 48, 5)
    decoded = decode_rgb(path, 64, 48).astype(np.float32)
    # The added column repeats the last source column (up to chroma rounding).
    assert np.abs(decoded[:, :47, 63] - decoded[:, :47, 62]).mean() < 4.0


def test_fractional_fps(tmp_path: Path) -> None:
    info = probe_video(write_video(moving_gradient(6), tmp_path / "ntsc.mp4", fps=23.976))
    assert info.fps == pytest.approx(23.976, abs=0.01)
    assert info.num_frames == 6


def test_crf_extremes_work_and_order_file_size(tmp_path: Path) -> None:
    frames = moving_gradient()
    best = write_video(frames, tmp_path / "crf0.mp4", fps=16, crf=0)
    worst = write_video(frames, tmp_path / "crf51.mp4", fps=16, crf=51)
    assert probe_video(best).num_frames == probe_video(worst).num_frames == 9
    assert best.stat().st_size > worst.stat().st_size
    assert probe_video(write_video(frames, tmp_path / "crf63.webm", fps=16, fmt="webm", crf=63)).num_frames == 9


@pytest.mark.parametrize(
    ("fmt", "crf"), [("mp4", -1), ("mp4", 52), ("webm", 64), ("mp4", 19.5), ("mp4", True)]
)
def test_crf_out_of_bounds_is_refused(tmp_path: Path, fmt: str, crf: object) -> None:
    with pytest.raises(VideoWriteError, match="crf"):
        write_video(moving_gradient(2), tmp_path / f"x.{fmt}", fps=16, fmt=fmt, crf=crf)  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("frames", "kwargs", "message"),
    [
        (torch.zeros(48, 64, 3), {}, "frames, height, width, 3"),
        (torch.zeros(2, 48, 64, 4), {}, "frames, height, width, 3"),
        (torch.zeros(0, 48, 64, 3), {}, "no frames"),
        ([[0.0]], {}, "torch tensor or numpy array"),
        (torch.zeros(2, 8, 8, 3, dtype=torch.int64), {}, "floats in 0..1 or uint8"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint16), {}, "floats in 0..1 or uint8"),
        (torch.zeros(2, 8, 8, 3), {"fps": 0}, "fps"),
        (torch.zeros(2, 8, 8, 3), {"fps": float("nan")}, "fps"),
        (torch.zeros(2, 8, 8, 3), {"fmt": "avi"}, "Unknown video format 'avi'"),
    ],
)
def test_bad_arguments_raise_video_write_error(tmp_path: Path, frames: object, kwargs: dict, message: str) -> None:
    args = {"fps": 16, **kwargs}
    with pytest.raises(VideoWriteError, match=message):
        write_video(frames, tmp_path / "bad.mp4", **args)  # type: ignore[arg-type]


def test_ffmpeg_failure_carries_its_log_and_leaves_nothing(tmp_path: Path) -> None:
    too_long = tmp_path / ("n" * 250 + ".mp4")  # the file system refuses the name; ffmpeg reports it
    with pytest.raises(VideoWriteError, match="exit code") as caught:
        write_video(moving_gradient(2), too_long, fps=16)
    assert "name too long" in str(caught.value).lower()
    assert not list(tmp_path.iterdir())


def test_an_error_while_piping_stops_ffmpeg_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_chunks = ffmpeg_module._uint8_chunks

    def chunks_then_stop(frames: torch.Tensor):  # noqa: ANN202
        chunks = real_chunks(frames)
        yield next(chunks)
        raise KeyboardInterrupt  # as when the user stops the run mid-write

    monkeypatch.setattr(ffmpeg_module, "_uint8_chunks", chunks_then_stop)
    with pytest.raises(KeyboardInterrupt):
        write_video(moving_gradient(20), tmp_path / "stopped.mp4", fps=16)
    assert not list(tmp_path.iterdir())


def test_poster_is_the_first_frame_as_png(tmp_path: Path) -> None:
    frames = moving_gradient()
    path = save_poster(frames, tmp_path / "poster.png")
    with Image.open(path) as img:
        assert (img.format, img.mode, img.size) == ("PNG", "RGB", (64, 48))
        pixels = np.asarray(img)
    assert np.array_equal(pixels, (frames[0].numpy() * 255).round().astype(np.uint8))


def test_probe_refuses_missing_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(VideoWriteError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(VideoWriteError, match="notes.mp4"):
        probe_video(text)
