"""LoRA files for the WAN transformer: read, convert to diffusers module names, check.

Formats read (the file's keys decide, key by key):
- ComfyUI / Kijai: `diffusion_model.blocks.N.cross_attn.k.lora_down|lora_up.weight`
  (or `lora_A|lora_B`), optional `.alpha`; full deltas `.diff` (weights, norms),
  `.diff_b` (biases) and `blocks.N.diff_m` (modulation), as in the lightx2v files;
- kohya / musubi: `lora_unet_blocks_N_cross_attn_k.lora_down.weight` plus `.alpha`
  (also the `lora_unet__` spelling of Wan-Fun files);
- diffusers: `transformer.blocks.N.attn2.to_k.lora_A.weight`.

The low-rank pairs go through diffusers' own WAN converter
(`WanLoraLoaderMixin.lora_state_dict`) after the keys are put in its ComfyUI form,
on cloned tensors (the converter scales some of them in place). Alpha is folded
into A and B there, so a module's change is `B @ A` per unit of strength. Full
deltas are renamed with the same converter the checkpoints use.

Nothing is dropped silently: every key that matches no module of the model, has
the wrong shape, or lacks its other half is listed in `LoraWeights.skipped`, and
a LoRA without image cross-attention keys on an I2V model says so in `notes`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import host
from ..errors import ModelFormatError, ModelNotFoundError
from . import convert

logger = logging.getLogger(__name__)

LORA_KIND = "loras"
_PREFIXES = ("model.diffusion_model.", "diffusion_model.")
_LOW_RANK = {
    ".lora_down.weight": "down",
    ".lora_A.weight": "down",
    ".lora_up.weight": "up",
    ".lora_B.weight": "up",
    ".alpha": "alpha",
}
_FULL = {".diff": "weight", ".diff_b": "bias"}
# Modules diffusers' WAN converter maps (original names).
_CONVERTIBLE = re.compile(
    r"^(blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.([qkvo]|k_img|v_img)|ffn\.[02])"
    r"|time_projection\.1|head\.head|text_embedding\.[02]|time_embedding\.[02]|img_emb\.proj\.[13])$"
)


@dataclass
class LoraWeights:
    """One LoRA file converted for one model layout (diffusers module names).

    low_rank: module name -> (A [rank, in], B [out, rank]) with alpha folded in.
    full: parameter name -> full delta (`.diff`, `.diff_b`, `diff_m`, diffusers `lora_B.bias`).
    skipped: one line per key that was not applied, with the reason.
    notes: what the user should know (a T2V LoRA on an I2V model).
    """

    name: str
    fingerprint: str
    low_rank: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    full: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def modules(self) -> int:
        return len(self.low_rank) + len(self.full)

    def summary(self) -> str:
        text = f"LoRA {self.name}: {len(self.low_rank)} low-rank modules, {len(self.full)} full deltas"
        if self.skipped:
            text += f"; {len(self.skipped)} keys not applied: " + "; ".join(self.skipped[:8])
            if len(self.skipped) > 8:
                text += f"; ... ({len(self.skipped) - 8} more)"
        return text + "".join(f". {note}" for note in self.notes)


# ---------------------------------------------------------------- files


def lora_folders() -> list[Path]:
    """ComfyUI's `loras` folders, or `<models>/loras` outside ComfyUI."""
    if host.IN_COMFYUI:
        return [Path(p) for p in host._fp.get_folder_paths(LORA_KIND)]
    return [host.models_dir() / LORA_KIND]


def list_loras() -> list[str]:
    names: list[str] = []
    for folder in lora_folders():
        if folder.is_dir():
            names += [
                p.relative_to(folder).as_posix()
                for p in sorted(folder.rglob("*"))
                if p.is_file() and p.suffix.lower() in (".safetensors", ".sft", ".pt", ".pth", ".bin")
            ]
    return names


def find_lora(name: str) -> Path:
    """A LoRA file by its name relative to a loras folder (never outside it)."""
    relative = Path(name or "")
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ModelNotFoundError(f"LoRA '{name}' must be a file name inside {', '.join(map(str, lora_folders()))}.")
    for folder in lora_folders():
        if (folder / relative).is_file():
            return folder / relative
    available = list_loras()
    raise ModelNotFoundError(
        f"LoRA '{name}' was not found in {', '.join(map(str, lora_folders()))}. "
        + (f"Available: {', '.join(available)}." if available else "That folder holds no LoRA files.")
    )


def load_lora(path: Path, transformer: torch.nn.Module) -> LoraWeights:
    """Read a LoRA file and convert it for `transformer` (which is not changed)."""
    from .loaders import read_state_dict

    stat = os.stat(path)
    sd = read_state_dict(Path(path))
    return convert_lora(sd, transformer, name=Path(path).name, fingerprint=f"{path}:{stat.st_size}:{stat.st_mtime_ns}")


# ---------------------------------------------------------------- conversion


def _name_maps(transformer: torch.nn.Module) -> tuple[dict[str, str], dict[str, torch.Size]]:
    """Original parameter name -> diffusers parameter name, and diffusers shapes."""
    shapes = {name: t.shape for name, t in transformer.state_dict(keep_vars=True).items()}
    to_diffusers = {}
    for name in shapes:
        (orig,) = convert.transformer_from_diffusers({name: torch.empty(0)})
        to_diffusers[orig] = name
    return to_diffusers, shapes


def _split(key: str, suffixes: dict[str, str]) -> tuple[str, str] | None:
    for suffix, kind in suffixes.items():
        if key.endswith(suffix):
            return key[: -len(suffix)], kind
    return None


def convert_lora(
    sd: dict[str, torch.Tensor], transformer: torch.nn.Module, *, name: str = "lora", fingerprint: str = ""
) -> LoraWeights:
    """Convert a LoRA state dict (any supported format) for `transformer`."""
    to_diffusers, shapes = _name_maps(transformer)
    orig_modules = {k.rsplit(".", 1)[0] for k in to_diffusers}
    kohya = {m.replace(".", "_"): m for m in orig_modules}
    diffusers_modules = {k.rsplit(".", 1)[0] for k in shapes}
    out = LoraWeights(name=name, fingerprint=fingerprint or name)

    comfy: dict[str, torch.Tensor] = {}  # original-named low-rank keys for diffusers' converter
    pairs: dict[str, dict[str, torch.Tensor]] = {}  # diffusers-named low-rank keys
    for key, tensor in sd.items():
        if key.startswith("lora_unet_"):
            parts = _split(key[len("lora_unet_") :].lstrip("_"), _LOW_RANK)
            module = kohya.get(parts[0]) if parts else None
            if module is None:
                out.skipped.append(f"{key} (no such module in this model)")
                continue
            comfy[f"{module}.{ {'down': 'lora_down.weight', 'up': 'lora_up.weight', 'alpha': 'alpha'}[parts[1]] }"] = tensor
        elif key.startswith("transformer."):
            _diffusers_key(key, key[len("transformer.") :], tensor, pairs, out, diffusers_modules, shapes)
        else:
            bare = next((key[len(p) :] for p in _PREFIXES if key.startswith(p)), key)
            parts = _split(bare, {**_LOW_RANK, ".lora_B.bias": "bias"})
            if parts is not None and parts[0] not in orig_modules and parts[0] in diffusers_modules:
                _diffusers_key(key, bare, tensor, pairs, out, diffusers_modules, shapes)  # diffusers names, no prefix
            else:
                _original_key(key, bare, tensor, comfy, out, orig_modules, to_diffusers, shapes)

    _convert_low_rank(comfy, out)
    for module, parts in pairs.items():
        if "down" not in parts or "up" not in parts:
            out.skipped.append(f"transformer.{module} (only one of lora_A/lora_B)")
            continue
        down = parts["down"]
        if "alpha" in parts:
            down = down * (float(parts["alpha"]) / down.shape[0])
        out.low_rank[module] = (down, parts["up"])
    _check_shapes(out, shapes)
    _t2v_note(out, diffusers_modules)
    if not out.modules:
        raise ModelFormatError(f"{name} changes nothing in this model. " + out.summary())
    if out.skipped:
        logger.warning("%s", out.summary())
    return out


def _diffusers_key(key, bare, tensor, pairs, out, diffusers_modules, shapes) -> None:
    if bare.endswith(".lora_B.bias"):
        module = bare[: -len(".lora_B.bias")]
        if module + ".bias" in shapes:
            out.full[module + ".bias"] = tensor
        else:
            out.skipped.append(f"{key} (module has no bias)")
        return
    parts = _split(bare, _LOW_RANK)
    if parts is None or parts[0] not in diffusers_modules:
        out.skipped.append(f"{key} (no such module in this model)")
        return
    pairs.setdefault(parts[0], {})[parts[1]] = tensor


def _original_key(key, bare, tensor, comfy, out, orig_modules, to_diffusers, shapes) -> None:
    if bare.endswith(".diff_m"):  # blocks.N.diff_m: the modulation table
        target = to_diffusers.get(bare[: -len(".diff_m")] + ".modulation")
        kind = "full"
    elif (parts := _split(bare, _FULL)) is not None:
        target = to_diffusers.get(f"{parts[0]}.{parts[1]}")
        kind = "full"
    elif (parts := _split(bare, _LOW_RANK)) is not None:
        if parts[0] not in orig_modules:
            out.skipped.append(f"{key} (no such module in this model)")
        elif not _CONVERTIBLE.match(parts[0]):
            out.skipped.append(f"{key} (diffusers' WAN LoRA converter has no mapping for {parts[0]})")
        else:
            comfy[f"{parts[0]}.{ {'down': 'lora_down.weight', 'up': 'lora_up.weight', 'alpha': 'alpha'}[parts[1]] }"] = tensor
        return
    else:
        out.skipped.append(f"{key} (not a LoRA key)")
        return
    if target is None:
        out.skipped.append(f"{key} (no such parameter in this model)")
    elif tensor.shape != shapes[target]:
        out.skipped.append(f"{key} (shape {tuple(tensor.shape)}, the model's {target} is {tuple(shapes[target])})")
    elif torch.count_nonzero(tensor) == 0:
        pass  # an all-zero delta (the norm diffs of lightx2v files) changes nothing
    else:
        out.full[target] = tensor


def _convert_low_rank(comfy: dict[str, torch.Tensor], out: LoraWeights) -> None:
    """Complete down/up pairs through diffusers' converter; incomplete ones are reported."""
    from diffusers.loaders.lora_pipeline import WanLoraLoaderMixin

    modules: dict[str, set[str]] = {}
    for key in comfy:
        module, kind = key.rsplit(".lora_", 1) if ".lora_" in key else (key[: -len(".alpha")], "alpha")
        modules.setdefault(module, set()).add(kind.split(".")[0])
    complete = {m for m, kinds in modules.items() if {"down", "up"} <= kinds}
    for module in sorted(set(modules) - complete):
        out.skipped.append(f"{module} (only one of lora_down/lora_up)")
    if not complete:
        return
    # Clones: the converter scales some tensors in place, which would change the caller's dict.
    legacy = {
        f"diffusion_model.{k}": v.clone()
        for k, v in comfy.items()
        if (k[: -len(".alpha")] if k.endswith(".alpha") else k.rsplit(".lora_", 1)[0]) in complete
    }
    if not any(k.startswith("diffusion_model.blocks.") for k in legacy):
        raise ModelFormatError("The LoRA adapts no transformer block; diffusers' WAN converter needs block keys.")
    try:
        converted = WanLoraLoaderMixin.lora_state_dict(legacy)
    except (ValueError, KeyError) as exc:
        raise ModelFormatError(f"diffusers could not convert this WAN LoRA: {exc}") from exc
    for key, tensor in converted.items():
        module, kind = key.removeprefix("transformer.").rsplit(".lora_", 1)
        if kind == "B.bias":
            out.full[module + ".bias"] = tensor
            continue
        down, up = out.low_rank.get(module, (None, None))
        out.low_rank[module] = (tensor, up) if kind == "A.weight" else (down, tensor)


def _check_shapes(out: LoraWeights, shapes: dict[str, torch.Size]) -> None:
    for module, (down, up) in list(out.low_rank.items()):
        weight = shapes.get(module + ".weight")
        if weight is None or len(weight) != 2:
            out.skipped.append(f"{module} (not a linear layer in this model)")
            del out.low_rank[module]
        elif down.ndim != 2 or up.ndim != 2 or (up.shape[0], down.shape[1]) != tuple(weight) or up.shape[1] != down.shape[0]:
            out.skipped.append(
                f"{module} (LoRA {tuple(up.shape[:1])}x{tuple(down.shape[1:])}, the model's weight is {tuple(weight)})"
            )
            del out.low_rank[module]
    for target, delta in list(out.full.items()):
        if delta.shape != shapes.get(target):
            out.skipped.append(f"{target} (delta shape {tuple(delta.shape)}, the model's is {tuple(shapes.get(target, ()))})")
            del out.full[target]


def _t2v_note(out: LoraWeights, diffusers_modules: set[str]) -> None:
    has_image_path = any(m.endswith("attn2.add_k_proj") for m in diffusers_modules)
    adapts_cross = any(".attn2." in m for m in out.low_rank)
    adapts_image = any(m.endswith(("attn2.add_k_proj", "attn2.add_v_proj")) for m in out.low_rank)
    if has_image_path and adapts_cross and not adapts_image:
        out.notes.append(
            "It has no image cross-attention keys (k_img/v_img): it was made for text-to-video, so the start image's "
            "attention path keeps the base weights"
        )
