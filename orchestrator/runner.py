"""Run one workflow in-process: plan (no torch), then execute and collect the video.

    plan = plan_run(RunRequest(...))   # checks image, output path, parameters, model files: torch not imported
    summary = execute_plan(plan, on_progress)

`run_workflow(request)` does both. The workflow is a released name (`i2v_480p`,
`i2v_480p@1`) or the path of an API-format JSON file (what ComfyUI's "Export (API)"
writes). Model presets: with `preset="auto"`, a models folder that holds the demo model
but none of the workflow's model files runs on the demo model at a small size, and the
plan says so; `"demo"` asks for that explicitly, `"workflow"` never substitutes.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comfy_nodes import host
from comfy_nodes.errors import ModelNotFoundError, ParameterError
from comfy_nodes.models import demo_files
from comfy_nodes.pipeline import sizes
from comfy_nodes.video.image_check import ImageInfo, check_image_file

from .deploy.sources import installed_alternative
from .comfy.outputs import sampler_stats
from .errors import ModelFilesMissing, RunError
from .workflows import Workflow, bind, get_workflow, resolve_parameters
from .workflows.demo_size import demo_size
from .workflows.registry import canonical_json

if TYPE_CHECKING:  # the executor loads with the run, not with the plan
    from .executor import ValidatedPrompt

ProgressCallback = Callable[[str, str, int, int], None]  # node_id, class_type, value, total

PRESETS = ("auto", "demo", "workflow")
DEFAULT_WORKFLOW = "i2v_480p"
# Loader class -> the models/ folder its model_name lives in.
MODEL_LOADERS = {
    "WanI2VModelLoader": "diffusion_models",
    "WanI2VTextEncoderLoader": "text_encoders",
    "WanI2VCLIPVisionLoader": "clip_vision",
    "WanI2VVAELoader": "vae",
}
# Every node input that names a model file: class -> (models/ folder, input name). LoRAs included.
MODEL_INPUTS = {**{cls: (kind, "model_name") for cls, kind in MODEL_LOADERS.items()},
                "WanI2VLoraLoader": ("loras", "lora_name")}
# The demo preset: the demo files, at a size a CPU renders in well under a minute.
DEMO_SIZE = demo_files.SIZE
DEMO_MODEL_PARAMS = {
    "diffusion_model": demo_files.FILES["diffusion_models"],
    "text_encoder": demo_files.FILES["text_encoders"],
    "clip_vision": demo_files.FILES["clip_vision"],
    "vae": demo_files.FILES["vae"],
}
_NODE_INPUT_PARAMS = ("prompt", "negative_prompt", "format")  # plain names an API-format file also takes


@dataclass
class RunRequest:
    workflow: str  # name, name@version, or the path of an API-format workflow JSON file
    image: Path
    out: Path
    models: Path
    params: dict[str, Any] = field(default_factory=dict)  # manifest parameters; for a file, NODE_ID.INPUT keys
    preset: str = "auto"


@dataclass
class RunPlan:
    """Everything checked and decided before torch loads."""

    request: RunRequest
    ref: str  # "i2v_480p@1", or the file's path
    content_hash: str
    prompt: dict[str, Any]  # the API-format prompt to execute
    parameters: dict[str, Any]  # what the run uses (manifest values, or the file's set inputs)
    image_name: str  # the start image's name in the run's input folder
    image_info: ImageInfo
    preset: str | None = None  # "demo" when the demo model stands in
    notes: list[str] = field(default_factory=list)  # lines to show before the run starts
    # (node_id, input) -> the parameter that sets it, for the missing-files message's --set hint
    model_params: dict[tuple[str, str], str] = field(default_factory=dict)
    demo_off: str | None = None  # why the demo model does not stand in although the folder holds it

    def describe(self) -> str:
        """One line: what will run, at which size, frames and steps."""
        parts = [self.ref]
        encode = _single(self.prompt, "WanI2VImageEncode")
        if encode is not None:
            inputs = encode["inputs"]
            try:
                w, h = sizes.target_size(self.image_info.width, self.image_info.height, str(inputs.get("resolution", "480p")),
                                         int(inputs.get("width", 832)), int(inputs.get("height", 480)))
                parts.append(f"{w}x{h}")
            except (ParameterError, TypeError, ValueError):
                pass
            if _is_literal(inputs.get("num_frames")):
                parts.append(f"{inputs['num_frames']} frames")
        sampler = _single(self.prompt, "WanI2VSampler")
        if sampler is not None:
            steps, seed = sampler["inputs"].get("steps"), sampler["inputs"].get("seed")
            if _is_literal(steps):
                parts.append(f"{steps} step{'' if steps == 1 else 's'}")
            if _is_literal(seed):
                parts.append(f"seed {seed}")
        if self.preset:
            parts.append(f"{self.preset} preset")
        return "Running " + ", ".join(parts)


def run_workflow(request: RunRequest, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Plan and run the workflow and move its video to request.out. Returns the run summary."""
    return execute_plan(plan_run(request), on_progress)


def plan_run(request: RunRequest) -> RunPlan:
    """Check the input, pick the workflow and model files, bind the parameters. Imports no torch."""
    if request.preset not in PRESETS:
        raise RunError(f"--preset must be one of {', '.join(PRESETS)}; got '{request.preset}'.")
    info = check_image_file(request.image)
    out_format = _output_format(request.out, request.params.get("format"))
    _check_writable(request.out)
    _check_models_folder(request.models)
    host.set_models_dir(request.models)
    image_name = "start" + request.image.suffix.lower()
    if is_workflow_file(request.workflow):
        plan = _plan_file(request, image_name, info, out_format)
    else:
        plan = _plan_released(request, image_name, info, out_format)
    _check_model_files(plan.prompt, request.models, plan.model_params, plan.demo_off, demo_used=plan.preset == "demo")
    _check_size(plan)
    return plan


def execute_plan(plan: RunPlan, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Run a plan: torch and the node pack load here."""
    from comfy_nodes import NODE_CLASS_MAPPINGS
    from comfy_nodes.video import ffmpeg

    from .executor import Executor

    request = plan.request
    with _run_folders(plan) as validated:
        hooks = _progress_hooks(plan.prompt, on_progress)
        started = time.perf_counter()
        result = Executor(NODE_CLASS_MAPPINGS).execute(validated, "cli-run", hooks)
        total = time.perf_counter() - started
        video, poster = _collect(result.outputs, request.out)

    info = ffmpeg.probe_video(video)
    return {
        "ok": True,
        "workflow": plan.ref,
        "workflow_hash": plan.content_hash,
        "preset": plan.preset,
        "video": str(video),
        "poster": str(poster) if poster else None,
        "video_info": {"codec": info.codec, "width": info.width, "height": info.height, "fps": info.fps, "num_frames": info.num_frames},
        "parameters": plan.parameters,
        "timings": {
            node_id: {"class_type": plan.prompt[node_id]["class_type"], "seconds": round(seconds, 4)}
            for node_id, seconds in result.timings.items()
        },
        "total_seconds": round(total, 3),
        "sampler": sampler_stats(result.outputs),
    }


# ---------------------------------------------------------------- released workflows


def _plan_released(request: RunRequest, image_name: str, info: ImageInfo, out_format: str) -> RunPlan:
    workflow = get_workflow(request.workflow)
    params = {**request.params, "format": out_format}
    if "image" in params:
        raise RunError("Give the start image as IMAGE (or --image), not as a parameter.")
    swaps = _other_precisions(workflow, params, request.models)
    params = {**swaps, **params}
    preset, notes = _choose_preset_released(workflow, params, request)
    notes = [f"Using {name} for {p} (the workflow names another precision of it)." for p, name in swaps.items()] + notes
    if preset == "demo":
        params = {**_demo_params(workflow), **params}
    used = resolve_parameters(workflow, params, image=image_name)  # converts, checks bounds, draws seed=-1 once
    prompt = bind(workflow, used, image=image_name)
    parameters = {**used, "image": str(request.image)}
    model_params = {(node_id, input_name): p.name for p in workflow.manifest.parameters if p.model_kind
                    for node_id, input_name in map(tuple, p.binds)}
    plan = RunPlan(request, workflow.ref, workflow.content_hash, prompt, parameters, image_name, info, preset, notes,
                   model_params, _demo_off(workflow, request))
    if preset == "demo" and notes:
        notes[len(swaps)] = notes[len(swaps)].replace(_SIZE_MARK, _demo_size_text(used))
    return plan


_SIZE_MARK = "<demo size>"


def _demo_size_text(used: Mapping[str, Any]) -> str:
    """What the demo preset really runs: the size, frames and steps after --set and the workflow's own steps."""
    if used.get("resolution") == "custom":
        size = f"{used.get('width')}x{used.get('height')}"
    else:
        size = f"{used.get('resolution')} (the image's aspect ratio)"
    steps = used.get("steps")
    return f" at {size}, {used.get('num_frames')} frames, {steps} step{'' if steps == 1 else 's'}"


def _demo_off(workflow: Workflow, request: RunRequest) -> str | None:
    """With --preset auto and the demo model in the folder: the model parameters the user named, which
    turn the demo preset off (the workflow's own files are then used for the rest)."""
    if request.preset != "auto" or not demo_files.is_complete(request.models):
        return None
    named = [p.name for p in workflow.manifest.parameters if p.model_kind and p.name in request.params]
    if not named:
        return None
    return (
        f"You set {', '.join(named)}, so the demo preset is off: naming a model file runs the workflow's own files "
        "for the others too. Add --preset demo to keep the demo model for the files you did not name."
    )


def _other_precisions(workflow: Workflow, params: Mapping[str, Any], models: Path) -> dict[str, str]:
    """For model files the user left at their defaults and that are absent: the same file at another
    precision when that is in the models folder (fp8 files fetched with `models download --precision fp8`)."""
    swaps = {}
    for p in workflow.manifest.parameters:
        if p.model_kind and p.name not in params:
            found = installed_alternative(models, p.model_kind, str(p.default))
            if found is not None and found != p.default:
                swaps[p.name] = found
    return swaps


def _demo_params(workflow: Workflow) -> dict[str, Any]:
    """The demo files for every model parameter (LoRAs included) and the small size; a workflow made
    for fewer steps than the demo's 8 (the fast ones) keeps its own."""
    files = {p.name: demo_files.FILES[p.model_kind] for p in workflow.manifest.parameters
             if p.model_kind in demo_files.FILES}
    return {**files, **demo_size(workflow)}


def _choose_preset_released(workflow: Workflow, params: Mapping[str, Any], request: RunRequest) -> tuple[str | None, list[str]]:
    model_params = [p for p in workflow.manifest.parameters if p.model_kind]
    defaults = {p.model_kind: str(p.default) for p in model_params if p.name not in params}
    user_chose_models = any(p.name in params for p in model_params)
    return _choose_preset(request, defaults, user_chose_models, sized=True)


def _choose_preset(
    request: RunRequest, defaults: Mapping[str, str], user_chose_models: bool, sized: bool
) -> tuple[str | None, list[str]]:
    """('demo', notes) when the demo model should stand in for the workflow's files, else (None, [])."""
    if request.preset == "workflow":
        return None, []
    demo_ready = demo_files.is_complete(request.models)
    if request.preset == "demo":
        if not demo_ready:
            raise RunError(
                f"--preset demo: there is no demo model in {request.models}. "
                f"Make it with `wan-i2v models make-demo {request.models}`."
            )
    elif user_chose_models or not demo_ready or any(_model_exists(kind, name) for kind, name in defaults.items()):
        return None, []
    missing = ", ".join(sorted(defaults.values())) or "its model files"
    size = _SIZE_MARK if sized else ""  # filled in with what really runs once the parameters are resolved
    why = (f"the models folder {request.models} holds the demo model and none of the workflow's files ({missing})"
           if request.preset == "auto" else "--preset demo")
    notes = [
        f"Using the demo model preset{size}: {why}.",
        demo_files.DEMO_NOTICE + " Put real WAN 2.1 weights in the models folder for real videos"
        + (" (--preset workflow never substitutes)." if request.preset == "auto" else "."),
    ]
    return "demo", notes


# ---------------------------------------------------------------- API-format files


def is_workflow_file(ref: str) -> bool:
    """A path to a JSON workflow rather than a released name."""
    return ref.lower().endswith(".json") or "/" in ref or "\\" in ref or Path(ref).is_file()


def load_api_file(path: Path) -> dict[str, Any]:
    """An API-format prompt from a file, with clear errors for other JSON (UI format, not a graph)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"Workflow file '{path}' does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"Workflow file '{path}' is not readable JSON: {exc}") from exc
    if isinstance(data, dict) and "prompt" in data and isinstance(data["prompt"], dict) and "nodes" not in data:
        data = data["prompt"]  # a saved /prompt body
    if isinstance(data, dict) and "nodes" in data and "links" in data:
        raise RunError(
            f"'{path.name}' is a UI-format workflow (what ComfyUI's Save writes). `wan-i2v run` takes the API format: "
            "in ComfyUI use Workflow > Export (API), or give a released workflow name."
        )
    if not isinstance(data, dict) or not data or not all(
        isinstance(node, dict) and isinstance(node.get("class_type"), str) for node in data.values()
    ):
        raise RunError(
            f"'{path.name}' is not an API-format workflow: expected {{\"<node id>\": {{\"class_type\": ..., \"inputs\": {{...}}}}}}."
        )
    return data


def _plan_file(request: RunRequest, image_name: str, info: ImageInfo, out_format: str) -> RunPlan:
    path = Path(request.workflow)
    original = load_api_file(path)
    prompt = copy.deepcopy(original)
    for node in prompt.values():
        node.setdefault("inputs", {})
    set_inputs = _apply_file_params(prompt, request.params, path)

    loads = _nodes_of(prompt, "LoadImage")
    if len(loads) != 1:
        raise RunError(f"'{path.name}' needs exactly one LoadImage node for the start image; it has {len(loads)}.")
    prompt[loads[0]]["inputs"]["image"] = image_name
    saves = _nodes_of(prompt, "WanI2VSaveVideo")
    if not saves:
        raise RunError(f"'{path.name}' has no WanI2VSaveVideo node, so it would save no video.")
    for node_id in saves:
        requested = prompt[node_id]["inputs"].get("format")
        if f"{node_id}.format" in set_inputs and requested != out_format:
            raise RunError(f"format={requested} disagrees with --out {request.out.name}; change one of them.")
        prompt[node_id]["inputs"]["format"] = out_format

    loaders = {n: MODEL_INPUTS[prompt[n]["class_type"]] for n in prompt if prompt[n]["class_type"] in MODEL_INPUTS}
    user_chose_models = any(f"{n}.{key}" in set_inputs for n, (_, key) in loaders.items())
    defaults = {kind: str(prompt[n]["inputs"].get(key, "")) for n, (kind, key) in loaders.items()}
    preset, notes = _choose_preset(request, defaults, user_chose_models, sized=False)
    if preset == "demo":
        for node_id, (kind, key) in loaders.items():
            if f"{node_id}.{key}" not in set_inputs:
                prompt[node_id]["inputs"][key] = demo_files.FILES[kind]
        notes.append("The file's own size, frames and steps are kept; set them with --set NODE_ID.INPUT=VALUE.")
    content_hash = hashlib.sha256(canonical_json({"api": original}).encode("utf-8")).hexdigest()
    parameters = {**set_inputs, "image": str(request.image)}
    model_params = {(n, key): f"{n}.{key}" for n, (_, key) in loaders.items()}
    demo_off = None
    if user_chose_models and request.preset == "auto" and demo_files.is_complete(request.models):
        named = [f"{n}.{key}" for n, (_, key) in loaders.items() if f"{n}.{key}" in set_inputs]
        demo_off = (f"You set {', '.join(named)}, so the demo preset is off: naming a model file runs the file's own "
                    "model files for the others too. Add --preset demo to keep the demo model for the others.")
    return RunPlan(request, str(path), content_hash, prompt, parameters, image_name, info, preset, notes,
                   model_params, demo_off)


def _apply_file_params(prompt: dict[str, Any], params: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Fill NODE_ID.INPUT=VALUE and the plain prompt/negative_prompt into the graph; returns what was set."""
    done: dict[str, Any] = {}
    for key, raw in params.items():
        if key == "format":
            continue  # follows --out
        if key in _NODE_INPUT_PARAMS:
            targets = _nodes_of(prompt, "WanI2VTextEncode")
            if not targets:
                raise RunError(f"'{path.name}' has no WanI2VTextEncode node to take the {key}.")
            for node_id in targets:
                prompt[node_id]["inputs"][key] = raw
                done[f"{node_id}.{key}"] = raw
            continue
        node_id, dot, input_name = key.partition(".")
        if not dot or not input_name:
            raise RunError(
                f"'{key}' is not a node input. A workflow file has no named parameters: set node inputs as "
                f"NODE_ID.INPUT=VALUE (e.g. --set 10.steps=30); its nodes: {_node_list(prompt)}."
            )
        if node_id not in prompt:
            raise RunError(f"--set {key}: '{path.name}' has no node {node_id}; its nodes: {_node_list(prompt)}.")
        if isinstance(prompt[node_id]["inputs"].get(input_name), list):
            raise RunError(f"--set {key}: that input is linked to another node; only plain values can be set.")
        value = _literal(raw)
        prompt[node_id]["inputs"][input_name] = value
        done[key] = value
    return done


def _literal(raw: Any) -> Any:
    """'30' -> 30, '0.5' -> 0.5, 'true' -> True; anything else stays text."""
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, (int, float, bool)) else raw


def _node_list(prompt: Mapping[str, Any]) -> str:
    return ", ".join(f"{n} ({node['class_type']})" for n, node in prompt.items())


# ---------------------------------------------------------------- checks before torch


def _check_models_folder(models: Path) -> None:
    if not models.exists():
        raise RunError(
            f"The models folder {models} does not exist. Make the demo model there with "
            f"`wan-i2v models make-demo {models}`, or point --models / WAN_MODELS_DIR at the folder that holds "
            "diffusion_models/, text_encoders/, clip_vision/ and vae/."
        )
    if not models.is_dir():
        raise RunError(f"--models {models} is a file; give the folder that holds diffusion_models/, text_encoders/, ...")


def _model_exists(kind: str, name: str) -> bool:
    try:
        host.find_model(kind, name)
    except ModelNotFoundError:
        return False
    return True


def _model_present(kind: str, name: str) -> bool:
    if kind == "loras":  # the LoRA loader reads files in models/loras only
        return any((folder / name).is_file() for folder in host.model_folders("loras"))
    return _model_exists(kind, name)


def _check_model_files(
    prompt: Mapping[str, Any],
    models: Path,
    model_params: Mapping[tuple[str, str], str] | None = None,
    demo_off: str | None = None,
    demo_used: bool = False,
) -> None:
    """Every model file the prompt names (loaders and LoRAs) is there, or one message lists all that are not."""
    model_params = model_params or {}
    missing: list[str] = []
    to_set: list[str] = []
    folders = host.list_models_diffusers()
    for node_id, node in prompt.items():
        kind, input_name = MODEL_INPUTS.get(node["class_type"], (None, None))
        name = node.get("inputs", {}).get(input_name) if input_name else None
        if kind is None or not isinstance(name, str):
            continue
        if Path(name).is_absolute() or ".." in Path(name).parts:
            host.find_model(kind, name)  # raises its own message: names stay inside the models folder
        if _model_present(kind, name):
            continue
        files = [n for n in host.list_models(kind) if n not in folders]
        there = f" ({kind}/ holds: {', '.join(files)})" if files else f" ({kind}/ holds no models)"
        missing.append(f"  {name} in {models / kind}{there}")
        param = model_params.get((node_id, input_name), f"{node_id}.{input_name}")
        if param not in to_set:
            to_set.append(param)
    if missing:
        if folders:
            missing.append(f"  ({models / 'diffusers'} holds the diffusers folders {', '.join(folders)}; "
                           "the model loaders also take those names)")
        hint = (
            "Put the files there, or choose others with "
            + " ".join(f"--set {p}=NAME" for p in to_set)
            + " (`wan-i2v models list --models DIR` shows what is there; "
            "`wan-i2v models check` prints the download command)."
        )
        if demo_off:
            hint += " " + demo_off
        elif demo_files.is_complete(models) and not demo_used:
            hint += " --preset demo runs the demo model that is in this folder."
        raise ModelFilesMissing("Model files not found:\n" + "\n".join(missing) + "\n" + hint)


def _check_size(plan: RunPlan) -> None:
    """The frame count and video size, checked on literal values before anything loads."""
    encode = _single(plan.prompt, "WanI2VImageEncode")
    if encode is None:
        return
    inputs = encode["inputs"]
    if isinstance(inputs.get("num_frames"), int):
        sizes.check_num_frames(inputs["num_frames"])
    values = [inputs.get(k, d) for k, d in (("resolution", "480p"), ("width", 832), ("height", 480))]
    if all(_is_literal(v) for v in values) and isinstance(values[1], int) and isinstance(values[2], int):
        sizes.target_size(plan.image_info.width, plan.image_info.height, str(values[0]), values[1], values[2])


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


def _check_writable(out: Path) -> None:
    """--out's folder exists (it is made if need be) and takes a file: found now, not after the run."""
    folder = out.parent
    blocking = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise RunError(f"--out {out}: {blocking} is a file, not a folder. Choose a path in a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".wan-i2v-", suffix=".check"):
            pass
    except OSError as exc:
        raise RunError(f"--out {out}: {folder} does not take files ({exc.strerror or exc}). "
                       "Choose a folder you can write to.") from None  # fmt: skip


def _nodes_of(prompt: Mapping[str, Any], class_type: str) -> list[str]:
    return [node_id for node_id, node in prompt.items() if node.get("class_type") == class_type]


def _single(prompt: Mapping[str, Any], class_type: str) -> dict[str, Any] | None:
    found = _nodes_of(prompt, class_type)
    return prompt[found[0]] if len(found) == 1 else None


def _is_literal(value: Any) -> bool:
    return value is not None and not isinstance(value, list)


# ---------------------------------------------------------------- running


def follow_plan(plan: RunPlan) -> None:
    """A rank after the first of a run split over GPUs: the plan's samplers and their models. Their
    passes are the split work; rank 0 encodes, sends the embeddings, and decodes and writes the video."""
    from comfy_nodes import NODE_CLASS_MAPPINGS

    from .executor import Executor
    from .executor.followers import followers_part

    # Rank 0 sends the embeddings (cli/ranks.py leads the run): they load no encoder.
    with _run_folders(plan) as validated:
        Executor(NODE_CLASS_MAPPINGS).execute(followers_part(validated, NODE_CLASS_MAPPINGS, inputs_sent=True), "cli-run")


@contextlib.contextmanager
def _run_folders(plan: RunPlan) -> Iterator[ValidatedPrompt]:
    """The plan's prompt, validated, inside private input/output folders that hold its start image."""
    from comfy_nodes import NODE_CLASS_MAPPINGS

    from .executor import validate_prompt

    host.set_models_dir(plan.request.models)
    with tempfile.TemporaryDirectory(prefix="wan-i2v-run-") as tmp:
        tmp_path = Path(tmp)
        with host.io_dirs_set_to(input=tmp_path / "input", output=tmp_path / "output", temp=tmp_path / "temp"):
            shutil.copyfile(plan.request.image, host.input_dir() / plan.image_name)
            yield validate_prompt(plan.prompt, NODE_CLASS_MAPPINGS)


def _progress_hooks(prompt: dict[str, Any], on_progress: ProgressCallback | None) -> Any:
    from .executor import ExecutionHooks

    class _Hooks(ExecutionHooks):
        def on_executing(self, prompt_id: str, node_id: str, class_type: str) -> None:
            if on_progress:
                on_progress(node_id, class_type, 0, 0)

        def on_progress(self, prompt_id: str, node_id: str, value: int, total: int) -> None:
            if on_progress:
                on_progress(node_id, prompt[node_id]["class_type"], value, total)

    return _Hooks()


def default_out(image: Path, folder: Path | None = None) -> Path:
    """Where a run without --out writes: IMAGE_STEM.mp4 in the current folder, never over an existing file."""
    folder = folder or Path.cwd()
    candidate = folder / f"{image.stem}.mp4"
    n = 2
    while candidate.exists() or poster_path(candidate).exists() or candidate.resolve() == image.resolve():
        candidate = folder / f"{image.stem}-{n}.mp4"
        n += 1
    return candidate


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
