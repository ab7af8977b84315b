"""The one place that talks to ComfyUI.

Inside ComfyUI the services below come from `comfy.model_management`,
`comfy.utils` and `folder_paths`. Without ComfyUI (tests, the CLI, the embedded
server) this module supplies the same services itself:

- device: CUDA when available, else CPU;
- placement: `load_to_device` / `unload_from_device` / `ensure_on_device` put a
  module on the compute device and take it off again. Inside ComfyUI they go
  through its model management (`comfy_managed`): room is freed first, ours
  count among its loaded models, and its eviction and `/free` unload ours too.
  Outside ComfyUI they are plain `.to()` moves;
- progress: `Progress(total).update(n)` calls the hook set with `set_progress_hook`;
- interrupt: `request_interrupt()` sets a flag that `throw_if_interrupted()` turns
  into `Interrupted` at the next step;
- folders: models under `WAN_MODELS_DIR` (or `set_models_dir`) laid out like
  ComfyUI's `models/`; input/output/temp under `WAN_DATA_DIR` (or `set_io_dirs`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import Interrupted, ModelNotFoundError, ParameterError

try:  # ComfyUI present: use its services.
    import comfy.model_management as _mm  # type: ignore[import-not-found]
    import comfy.utils as _cu  # type: ignore[import-not-found]
    import folder_paths as _fp  # type: ignore[import-not-found]

    IN_COMFYUI = True
except ImportError:
    _mm = _cu = _fp = None
    IN_COMFYUI = False

# Model kinds, named as ComfyUI's folder_paths names them. "diffusers" holds
# whole diffusers-format folders; every loader also lists those.
MODEL_KINDS = ("diffusion_models", "text_encoders", "clip_vision", "vae", "diffusers", "loras")
MODEL_EXTENSIONS = (".safetensors", ".sft", ".pt", ".pth", ".bin", ".ckpt")

if TYPE_CHECKING:
    import torch

ProgressHook = Callable[[int, int, object | None], None]

_interrupt = threading.Event()
_progress_hook: ProgressHook | None = None
_models_dir: Path | None = None
_model_folders: dict[str, list[Path]] = {}  # set in a helper rank: the folders rank 0's ComfyUI searches
_io_dirs: dict[str, Path] = {}


# ---------------------------------------------------------------- device


def get_device() -> torch.device:
    if IN_COMFYUI:
        return _mm.get_torch_device()
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def offload_device() -> torch.device:
    if IN_COMFYUI:
        return _mm.unet_offload_device()
    import torch

    return torch.device("cpu")


def soft_empty_cache() -> None:
    if IN_COMFYUI:
        _mm.soft_empty_cache()
        return
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_to_device(module: torch.nn.Module, device: torch.device, memory_required: int = 0) -> None:
    """Place a model on the compute device for use.

    In ComfyUI this is `comfy.model_management.load_models_gpu`: other models are
    unloaded first as far as needed (leaving `memory_required` bytes for activations),
    and ours stays registered, so ComfyUI may unload it later (to make room, or on
    `/free`). Outside ComfyUI: `module.to(device)`.
    """
    if IN_COMFYUI:
        from . import comfy_managed

        comfy_managed.load(_mm, module, device, offload_device(), memory_required)
    else:
        module.to(device)


def ensure_on_device(module: torch.nn.Module, device: torch.device) -> None:
    """Before a run of a model placed with `load_to_device`: in ComfyUI it may have been
    unloaded since (room for another model, `/free`), so it is loaded again (a cheap
    check when still there). Outside ComfyUI nothing moves it: no-op."""
    if IN_COMFYUI:
        load_to_device(module, device)


def unload_from_device(module: torch.nn.Module) -> None:
    """Move a model back to the offload device (and out of ComfyUI's loaded models)."""
    if IN_COMFYUI:
        from . import comfy_managed

        comfy_managed.unload(_mm, module)
    else:
        module.to(offload_device())


def make_room(bytes_needed: int, device: torch.device) -> None:
    """Free `bytes_needed` (plus ComfyUI's inference reserve) on `device` by unloading
    other models, as ComfyUI does before it loads one; for models that stream their
    weights in pieces (block offload). Outside ComfyUI there is nothing to unload."""
    if IN_COMFYUI and _torch_device(device).type != "cpu":
        _mm.free_memory(bytes_needed + _mm.minimum_inference_memory(), _torch_device(device))


def memory_room(device: torch.device) -> int | None:
    """Bytes a model and its work can have on `device`; None on the CPU. Inside ComfyUI: the
    card's memory less its inference reserve, since its model management unloads other models
    to make room. Outside: what is free now, with what torch holds cached but unused."""
    import torch

    device = _torch_device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    if IN_COMFYUI:
        return int(_mm.get_total_memory(device)) - int(_mm.minimum_inference_memory())
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def is_managed_by_comfyui(module: torch.nn.Module) -> bool:
    """Whether ComfyUI currently counts `module` among its loaded models."""
    if not IN_COMFYUI:
        return False
    from . import comfy_managed

    return comfy_managed.is_loaded(_mm, module)


def _torch_device(device: object) -> torch.device:
    import torch

    return torch.device(device)


# ---------------------------------------------------------------- interrupt


def throw_if_interrupted() -> None:
    """Raise if an interrupt was requested; call between steps."""
    if IN_COMFYUI:
        _mm.throw_exception_if_processing_interrupted()
    elif _interrupt.is_set():
        _interrupt.clear()
        raise Interrupted()


def request_interrupt() -> None:
    if IN_COMFYUI:
        _mm.interrupt_current_processing(True)
    else:
        _interrupt.set()


def clear_interrupt() -> None:
    if IN_COMFYUI:
        _mm.interrupt_current_processing(False)
    else:
        _interrupt.clear()


def interrupt_exceptions() -> tuple[type[BaseException], ...]:
    """The exception types that mean "interrupted" on this host."""
    if IN_COMFYUI:
        return (Interrupted, _mm.InterruptProcessingException)
    return (Interrupted,)


# ---------------------------------------------------------------- progress


def set_progress_hook(hook: ProgressHook | None) -> None:
    """Receive (value, total, preview) for every progress tick (outside ComfyUI)."""
    global _progress_hook
    _progress_hook = hook


class Progress:
    """ComfyUI's ProgressBar when present; otherwise reports to the hook. Each
    tick is also an interrupt point, as in ComfyUI."""

    def __init__(self, total: int) -> None:
        self.total = int(total)
        self.current = 0
        self._bar = _cu.ProgressBar(self.total) if IN_COMFYUI else None

    def update(self, n: int = 1) -> None:
        self.update_absolute(self.current + n)

    def update_absolute(self, value: int, preview: object | None = None) -> None:
        self.current = min(int(value), self.total)
        if self._bar is not None:
            self._bar.update_absolute(self.current, self.total, preview)
            return
        if _progress_hook is not None:
            _progress_hook(self.current, self.total, preview)
        throw_if_interrupted()


# ---------------------------------------------------------------- folders


def set_models_dir(path: str | os.PathLike[str] | None) -> None:
    global _models_dir
    _models_dir = Path(path).resolve() if path is not None else None


def set_model_folders(folders: dict[str, list[str]]) -> None:
    """Search exactly these folders per kind (a helper rank takes them from ComfyUI's process)."""
    _model_folders.clear()
    _model_folders.update({kind: [Path(f) for f in paths] for kind, paths in folders.items()})


def models_dir() -> Path:
    if _models_dir is not None:
        return _models_dir
    env = os.environ.get("WAN_MODELS_DIR")
    return Path(env).resolve() if env else Path("models").resolve()


def model_folders(kind: str) -> list[Path]:
    """Folders searched for a model kind, in order."""
    if kind not in MODEL_KINDS:
        raise ParameterError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")
    if kind in _model_folders:
        return list(_model_folders[kind])
    if IN_COMFYUI:
        return [Path(p) for p in _fp.get_folder_paths(kind)]
    return [models_dir() / kind]


def list_models(kind: str) -> list[str]:
    """Model files of `kind` plus diffusers-format folders, by relative name."""
    names: list[str] = []
    for folder in model_folders(kind):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix.lower() in MODEL_EXTENSIONS:
                    names.append(path.relative_to(folder).as_posix())
    if kind != "diffusers":
        names += [d for d in list_models_diffusers() if d not in names]
    return names


def list_models_diffusers() -> list[str]:
    names = []
    for folder in model_folders("diffusers"):
        if folder.is_dir():
            names += sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "model_index.json").exists())
    return names


def find_model(kind: str, name: str) -> Path:
    """Resolve a model name (file or diffusers folder, relative to a models folder) to a path.

    Names never leave the searched folders: a workflow (possibly from a remote client)
    must not make the server open arbitrary files.
    """
    searched = model_folders(kind) + model_folders("diffusers")
    if not name:
        raise ModelNotFoundError(f"No {kind} model was chosen; put one in {_folders_text(kind)} and select it.")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ModelNotFoundError(
            f"{kind} model '{name}' must be a name inside the models folder ({_folders_text(kind)}), "
            "not an absolute path or one with '..'."
        )
    for folder in searched:
        path = folder / relative
        if path.exists():  # lexically inside the folder; symlinks placed there by the owner are fine
            return path
    available = list_models(kind)
    listing = f" Available: {', '.join(available)}." if available else " That folder holds no models."
    raise ModelNotFoundError(
        f"{kind} model '{name}' was not found in {', '.join(str(f) for f in searched)}.{listing} "
        f"Put the file there, choose another, or point --models / WAN_MODELS_DIR at the folder that holds {kind}/."
    )


def _folders_text(kind: str) -> str:
    return ", ".join(str(f) for f in model_folders(kind))


def set_io_dirs(*, input: Path | None = None, output: Path | None = None, temp: Path | None = None) -> None:
    """Set the input/output/temp folders used outside ComfyUI."""
    for key, value in (("input", input), ("output", output), ("temp", temp)):
        if value is not None:
            _io_dirs[key] = Path(value).resolve()


@contextlib.contextmanager
def io_dirs_set_to(*, input: Path, output: Path, temp: Path) -> Iterator[None]:
    """Use these input/output/temp folders inside the block, then the previous ones again."""
    saved = dict(_io_dirs)
    set_io_dirs(input=input, output=output, temp=temp)
    try:
        yield
    finally:
        _io_dirs.clear()
        _io_dirs.update(saved)


def _io_dir(key: str) -> Path:
    if key in _io_dirs:
        path = _io_dirs[key]
    else:
        base = Path(os.environ.get("WAN_DATA_DIR", "data")).resolve()
        path = base / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def input_dir() -> Path:
    return Path(_fp.get_input_directory()) if IN_COMFYUI else _io_dir("input")


def output_dir() -> Path:
    return Path(_fp.get_output_directory()) if IN_COMFYUI else _io_dir("output")


def temp_dir() -> Path:
    return Path(_fp.get_temp_directory()) if IN_COMFYUI else _io_dir("temp")
