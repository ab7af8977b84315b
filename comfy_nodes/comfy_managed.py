"""Our torch modules as models that ComfyUI's model management knows about.

Only imported inside ComfyUI (through `host`). `comfy.model_management` keeps the
models it has placed on the GPU in `current_loaded_models` and unloads them,
oldest and least used first, whenever another model needs room
(`free_memory`), when `POST /free` asks for `unload_models`, and after an
out-of-memory error. Registering our modules there through `load_models_gpu`,
as ComfyUI's own loaders do with their models, gives them the same treatment:

- before one of ours is placed, ComfyUI frees what it needs (native models first);
- a native model that needs room later can evict ours (moved to the offload device);
- `/free` with `unload_models` unloads ours as well.

`ManagedModule` has the part of `comfy.model_patcher.ModelPatcher` that
`model_management` calls. Our modules are placed whole: ComfyUI's partial
("lowvram") loading needs its own layer types, which is what the loader's
`offload="blocks"` option does for ours instead. The patcher holds its module
weakly and lives exactly as long as the module (`_patchers`), so registering a
module never keeps it alive: when the node cache drops it, it is freed and
ComfyUI forgets it.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import torch

logger = logging.getLogger(__name__)

_patchers: weakref.WeakKeyDictionary[torch.nn.Module, ManagedModule] = weakref.WeakKeyDictionary()


def module_bytes(module: torch.nn.Module, device: torch.device | None = None) -> int:
    """Bytes of the module's parameters and buffers (only those on `device` when given)."""
    total = 0
    for tensor in (*module.parameters(), *module.buffers()):
        if device is None or _same_device(tensor.device, device):
            total += tensor.numel() * tensor.element_size()
    return total


def _same_device(a: torch.device, b: torch.device) -> bool:
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    # "cuda" means the current device, cuda:0 under ComfyUI (--cuda-device narrows what is visible).
    return a.type == "cpu" or (a.index or 0) == (b.index or 0)


class ManagedModule:
    """One of our modules, seen by comfy.model_management as a loaded model."""

    parent = None  # no clone chain (ModelPatcher.parent)

    def __init__(self, module: torch.nn.Module, load_device: torch.device, offload_device: torch.device) -> None:
        self._module = weakref.ref(module)
        self.load_device = torch.device(load_device)
        self.offload_device = torch.device(offload_device)
        self.size = module_bytes(module)
        self.name = type(module).__name__

    # -- what LoadedModel / load_models_gpu / free_memory call
    @property
    def model(self) -> torch.nn.Module | None:
        return self._module()

    def model_size(self) -> int:
        return self.size

    def loaded_size(self) -> int:
        module = self.model
        return module_bytes(module, self.load_device) if module is not None else 0

    def current_loaded_device(self) -> torch.device:
        module = self.model
        return self.load_device if module is not None and _on(module, self.load_device) else self.offload_device

    def model_dtype(self) -> torch.dtype | None:
        module = self.model
        return next((p.dtype for p in module.parameters()), None) if module is not None else None

    def model_patches_to(self, device_or_dtype: Any) -> None:
        """ModelPatcher moves its attached patch models here; ours have none."""

    def model_patches_models(self) -> list:
        return []

    def lowvram_patch_counter(self) -> int:
        return 0

    def is_clone(self, other: object) -> bool:
        """Only itself: load_models_gpu uses this to replace its old entry of this model."""
        return other is self

    def partially_load(self, device: torch.device, extra_memory: float = 0, force_patch_weights: bool = False) -> int:
        """Place the whole module on `device`; returns the bytes moved there."""
        module = self.model
        if module is None:
            return 0
        before = self.loaded_size()
        if extra_memory < self.size - before:
            logger.warning(
                "%s needs %.2f GB on %s but ComfyUI suggests %.2f GB; placing it whole. "
                "Use the loader's offload option ('model' or 'blocks') on cards this small.",
                self.name, self.size / 1e9, device, extra_memory / 1e9,
            )  # fmt: skip
        module.to(device)
        return self.loaded_size() - before

    def partially_unload(self, device: torch.device, memory_to_free: float = 0, force_patch_weights: bool = False) -> int:
        """Our modules unload whole (in `detach`), never partly: 0 freed here."""
        return 0

    def detach(self, unpatch_all: bool = True) -> None:
        """Unloaded by ComfyUI: move the module to the offload device. With
        `unpatch_all=False` ComfyUI is only re-listing a model it loads again at once
        (load_models_gpu drops the old entry of the same model): it stays where it is."""
        module = self.model
        if module is not None and unpatch_all:
            module.to(self.offload_device)
            logger.info("ComfyUI unloaded %s to %s.", self.name, self.offload_device)

    def __repr__(self) -> str:
        return f"ManagedModule({self.name}, {self.size / 1e6:.1f} MB, load={self.load_device})"


def _on(module: torch.nn.Module, device: torch.device) -> bool:
    tensor = next(iter((*module.parameters(), *module.buffers())), None)
    return tensor is not None and _same_device(tensor.device, device)


def patcher_for(module: torch.nn.Module, load_device: torch.device, offload_device: torch.device) -> ManagedModule:
    """The one ManagedModule of `module` (made on first use)."""
    patcher = _patchers.get(module)
    if patcher is None or patcher.load_device != torch.device(load_device):
        patcher = ManagedModule(module, load_device, offload_device)
        _patchers[module] = patcher
    return patcher


def load(
    mm: Any, module: torch.nn.Module, device: torch.device, offload_device: torch.device, memory_required: int = 0
) -> None:
    """Place `module` on `device` through ComfyUI: it frees memory first (unloading other
    models as needed, keeping `memory_required` bytes free for the work beside the weights)
    and then keeps ours among its loaded models."""
    patcher = patcher_for(module, device, offload_device)
    patcher.size = module_bytes(module)  # LoRA merges or fp8 casts may have changed it since
    mm.load_models_gpu([patcher], memory_required=memory_required)


def unload(mm: Any, module: torch.nn.Module) -> bool:
    """Move `module` to its offload device and drop it from ComfyUI's loaded models.
    Returns whether ComfyUI had it loaded."""
    patcher = _patchers.get(module)
    if patcher is None:
        return False
    for index, loaded in enumerate(list(mm.current_loaded_models)):
        if loaded.model is patcher:
            loaded.model_unload()
            mm.current_loaded_models.pop(index)
            return True
    patcher.detach()
    return False


def is_loaded(mm: Any, module: torch.nn.Module) -> bool:
    """Whether ComfyUI counts `module` among its loaded models."""
    patcher = _patchers.get(module)
    return patcher is not None and any(loaded.model is patcher for loaded in mm.current_loaded_models)
