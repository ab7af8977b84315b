"""Run one released workflow in-process: bind parameters, validate, execute, collect the video."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comfy_nodes import NODE_CLASS_MAPPINGS, host
from comfy_nodes.video import ffmpeg
from comfy_nodes.video.images import load_image_file

from .errors import RunError
from .executor import ExecutionHooks, Executor, validate_prompt
from .workflows import bind, get_workflow, resolve_parameters

ProgressCallback = Callable[[str, str, int, int], None]  # node_id, class_type, value, total


@dataclass
class RunRequest:
    workflow: str  # name or name@version
    image: Path
    out: Path
    models: Path
    params: dict[str, Any] = field(default_factory=dict)  # manifest parameters (strings are converted)


class _Hooks(ExecutionHooks):
    def __init__(self, prompt: dict, on_progress: ProgressCallback | None) -> None:
        self.prompt = prompt
        self.on_progress_cb = on_progress

    def on_executing(self, prompt_id: str, node_id: str, class_type: str) -> None:
        if self.on_progress_cb:
            self.on_progress_cb(node_id, class_type, 0, 0)

    def on_progress(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
        if self.on_progress_cb:
            self.on_progress_cb(node_id, self.prompt[node_id]["class_type"], value, total)


def run_workflow(request: RunRequest, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run the workflow and move its video to request.out. Returns the run summary."""
    load_image_file(request.image)  # fail early, with a clear message, on an unreadable image
    workflow = get_workflow(request.workflow)
    params = {**request.params, "format": _output_format(request.out, request.params.get("format"))}
    if "image" in params:
        raise RunError("Give the start image with --image, not as a parameter.")

    host.set_models_dir(request.models)
    with tempfile.TemporaryDirectory(prefix="wan-i2v-run-") as tmp:
        tmp_path = Path(tmp)
        with host.io_dirs_set_to(input=tmp_path / "input", output=tmp_path / "output", temp=tmp_path / "temp"):
            image_name = "start" + request.image.suffix.lower()
            shutil.copyfile(request.image, host.input_dir() / image_name)
            prompt = bind(workflow, params, image=image_name)

            validated = validate_prompt(prompt, NODE_CLASS_MAPPINGS)
            hooks = _Hooks(prompt, on_progress)
            started = time.perf_counter()
            result = Executor(NODE_CLASS_MAPPINGS).execute(validated, "cli-run", hooks)
            total = time.perf_counter() - started
            video, poster = _collect(result.outputs, request.out)
    used = resolve_parameters(workflow, params, image=image_name)
    used["image"] = str(request.image)

    info = ffmpeg.probe_video(video)
    stats = [s for ui in result.outputs.values() for s in ui.get("wan_stats", [])]
    return {
        "ok": True,
        "workflow": workflow.ref,
        "workflow_hash": workflow.content_hash,
        "video": str(video),
        "poster": str(poster) if poster else None,
        "video_info": {"codec": info.codec, "width": info.width, "height": info.height, "fps": info.fps, "num_frames": info.num_frames},
        "parameters": used,
        "timings": {
            node_id: {"class_type": prompt[node_id]["class_type"], "seconds": round(seconds, 4)}
            for node_id, seconds in result.timings.items()
        },
        "total_seconds": round(total, 3),
        "sampler": stats[0] if len(stats) == 1 else stats,
    }


def _output_format(out: Path, requested: Any) -> str:
    """The container follows --out's suffix; a conflicting format parameter is an error."""
    if out.is_dir():
        raise RunError(f"--out {out} is a folder; give a file path such as {out / 'video.mp4'}.")
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in ("mp4", "webm"):
        raise RunError(f"--out must end in .mp4 or .webm (got '{out.name}').")
    if requested is not None and str(requested) != suffix:
        raise RunError(f"format={requested} disagrees with --out {out.name}; change one of them.")
    return suffix


def poster_path(out: Path) -> Path:
    """Where the first-frame poster goes: beside the video, never over the input image."""
    return out.with_name(out.stem + ".poster.png")


def _collect(outputs: dict[str, dict], out: Path) -> tuple[Path, Path | None]:
    """Move the saved video (and its poster) from the run's output folder to `out`."""
    for ui in outputs.values():
        for item in ui.get("images", []):
            name = str(item.get("filename", ""))
            if item.get("type") == "output" and name.endswith((".mp4", ".webm")):
                source = host.output_dir() / item.get("subfolder", "") / name
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(source, out)
                poster_src = source.with_suffix(".png")
                poster = None
                if poster_src.exists():
                    poster = poster_path(out)
                    shutil.move(poster_src, poster)
                return out, poster
    raise RunError("The workflow finished without saving a video; it needs a WanI2VSaveVideo node.")
