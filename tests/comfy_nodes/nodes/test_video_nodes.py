"""WanI2VSaveVideo: naming, files on disk and the ui it reports."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from comfy_nodes import host
from comfy_nodes.errors import ParameterError
from comfy_nodes.nodes.video import WanI2VSaveVideo
from comfy_nodes.video import naming
from comfy_nodes.video.ffmpeg import probe_video


@pytest.fixture
def output_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the host's folders at tmp_path; restored afterwards."""
    monkeypatch.setattr(host, "_io_dirs", {})
    host.set_io_dirs(input=tmp_path / "input", output=tmp_path / "output", temp=tmp_path / "temp")
    return host.output_dir()


def frames(count: int = 5, height: int = 32, width: int = 48) -> torch.Tensor:
    ramp = torch.linspace(0, 1, width).view(1, 1, width, 1)
    step = torch.arange(count).view(count, 1, 1, 1) / count
    return ((ramp + step) % 1.0).expand(count, height, width, 3).contiguous()


def test_every_input_has_a_tooltip_and_the_documented_defaults() -> None:
    required = WanI2VSaveVideo.INPUT_TYPES()["required"]
    assert list(required) == ["images", "fps", "filename_prefix", "format", "crf"]
    assert all(spec[1].get("tooltip") for spec in required.values())
    assert required["images"][0] == "IMAGE"
    assert required["fps"][1] | {"tooltip": ""} == {"default": 16.0, "min": 1.0, "max": 120.0, "step": 1.0, "tooltip": ""}
    assert required["filename_prefix"][1]["default"] == "wan_i2v/video"
    assert required["format"][0] == ["mp4", "webm"] and required["format"][1]["default"] == "mp4"
    assert (required["crf"][1]["default"], required["crf"][1]["min"], required["crf"][1]["max"]) == (19, 0, 51)
    assert WanI2VSaveVideo.OUTPUT_NODE is True and WanI2VSaveVideo.RETURN_TYPES == ()
    assert (WanI2VSaveVideo.FUNCTION, WanI2VSaveVideo.CATEGORY) == ("save", "WAN I2V/video")


def test_save_writes_video_and_poster_and_reports_like_save_video(output_dir: Path) -> None:
    result = WanI2VSaveVideo().save(frames(), fps=16.0, filename_prefix="wan_i2v/video", format="mp4", crf=19)
    assert result == {
        "ui": {
            "images": [{"filename": "video_00001_.mp4", "subfolder": "wan_i2v", "type": "output"}],
            "animated": [True],
            "posters": [{"filename": "video_00001_.png", "subfolder": "wan_i2v", "type": "output"}],
        }
    }
    info = probe_video(output_dir / "wan_i2v" / "video_00001_.mp4")
    assert (info.codec, info.num_frames, info.width, info.height, info.fps) == ("h264", 5, 48, 32, 16.0)
    with Image.open(output_dir / "wan_i2v" / "video_00001_.png") as poster:
        assert (poster.format, poster.size) == ("PNG", (48, 32))
    assert sorted(p.name for p in (output_dir / "wan_i2v").iterdir()) == ["video_00001_.mp4", "video_00001_.png"]


def test_counter_continues_past_the_highest_existing_file(output_dir: Path) -> None:
    folder = output_dir / "clips"
    folder.mkdir()
    for name in ("run_00007_.mp4", "run_00003_.png", "other_00020_.mp4", "run_extra_00050_.mp4", "run_00099.mp4"):
        (folder / name).write_bytes(b"")
    node = WanI2VSaveVideo()
    first = node.save(frames(2), fps=8.0, filename_prefix="clips/run", format="mp4", crf=30)
    second = node.save(frames(2), fps=8.0, filename_prefix="clips/run", format="mp4", crf=30)
    assert first["ui"]["images"][0]["filename"] == "run_00008_.mp4"
    assert second["ui"]["images"][0]["filename"] == "run_00009_.mp4"
    assert (folder / "run_00009_.png").is_file()


def test_prefix_without_a_subfolder_and_webm(output_dir: Path) -> None:
    result = WanI2VSaveVideo().save(frames(3), fps=12.0, filename_prefix="plain", format="webm", crf=40)
    assert result["ui"]["images"] == [{"filename": "plain_00001_.webm", "subfolder": "", "type": "output"}]
    info = probe_video(output_dir / "plain_00001_.webm")
    assert (info.codec, info.num_frames, info.fps) == ("vp9", 3, 12.0)


@pytest.mark.parametrize("prefix", ["../escape", "a/../../escape", "/abs/video", "C:/video", "", "folder/"])
def test_escaping_or_empty_prefixes_are_refused(output_dir: Path, prefix: str) -> None:
    with pytest.raises(ParameterError, match="filename_prefix"):
        WanI2VSaveVideo().save(frames(2), fps=16.0, filename_prefix=prefix, format="mp4", crf=19)
    assert not list(output_dir.parent.glob("**/*.mp4"))


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"crf": 52}, "crf"), ({"crf": -1}, "crf"), ({"fps": 0.5}, "fps"), ({"format": "gif"}, "format")]
)
def test_out_of_range_values_are_refused(output_dir: Path, kwargs: dict, message: str) -> None:
    args = {"fps": 16.0, "filename_prefix": "v", "format": "mp4", "crf": 19, **kwargs}
    with pytest.raises(ParameterError, match=message):
        WanI2VSaveVideo().save(frames(2), **args)


def test_split_prefix_normalises_separators() -> None:
    assert naming.split_prefix("a\\b/./video") == ("a/b", "video")
    assert naming.split_prefix("video") == ("", "video")


def test_next_counter_in_a_missing_folder_starts_at_one(tmp_path: Path) -> None:
    assert naming.next_counter(tmp_path / "absent", "video") == 1
