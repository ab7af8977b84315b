"""Where the real WAN 2.1 I2V weights come from: the public model hub's repositories.

- ComfyUI layout (single files): Comfy-Org/Wan_2.1_ComfyUI_repackaged, folder split_files/<kind>/.
- diffusers layout (one folder per variant): Wan-AI/Wan2.1-I2V-14B-{480P,720P}-Diffusers.
- the fast workflows' step/CFG distillation LoRA (lightx2v, rank 64, bf16): Kijai/WanVideo_comfy, folder Lightx2v/.

The file list needs no network; sizes and sha256 sums come from the hub's file listing at
download time (its `lfs.oid` is the file's sha256). The sizes below are what the disk check
and the docs use when the hub gives none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelSourceError

HUB_URL = "https://huggingface.co"
HUB_ENV = "WAN_I2V_HUB_URL"
REVISION = "main"

COMFY_REPO = "Comfy-Org/Wan_2.1_ComfyUI_repackaged"
COMFY_FOLDER = "split_files"
DIFFUSERS_REPOS = {
    "i2v-14b-480p": "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
    "i2v-14b-720p": "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
}
VARIANTS = {"i2v-14b-480p": "480p", "i2v-14b-720p": "720p"}
PRECISIONS = ("bf16", "fp16", "fp8")
FORMATS = ("comfy", "diffusers")
DEFAULT_PRECISION = "bf16"

# The diffusers pipeline's parts; anything else in those repositories (example images, docs) is skipped.
DIFFUSERS_PARTS = ("scheduler", "text_encoder", "tokenizer", "transformer", "vae", "image_encoder", "image_processor")

GB = 1_000_000_000
# precision -> (diffusion model file pattern, text encoder file)
_COMFY_FILES = {
    "bf16": ("wan2.1_i2v_{res}_14B_bf16.safetensors", "umt5_xxl_fp16.safetensors"),
    "fp16": ("wan2.1_i2v_{res}_14B_fp16.safetensors", "umt5_xxl_fp16.safetensors"),
    "fp8": ("wan2.1_i2v_{res}_14B_fp8_scaled.safetensors", "umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
}
_PLAIN_FP8 = "wan2.1_i2v_{res}_14B_fp8_e4m3fn.safetensors"
VAE_FILE = "wan_2.1_vae.safetensors"
CLIP_VISION_FILE = "clip_vision_h.safetensors"
# Approximate sizes in bytes (computed from the parameter counts: 16.4 B transformer, 5.7 B umT5).
APPROX_SIZES = {
    "diffusion_models/16": int(32.8 * GB),
    "diffusion_models/8": int(16.5 * GB),
    "text_encoders/16": int(11.4 * GB),
    "text_encoders/8": int(6.7 * GB),
    "vae": int(0.25 * GB),
    "clip_vision": int(1.26 * GB),
    "diffusers": int(82 * GB),  # the Wan-AI diffusers folders keep the transformer in fp32
}


# The fast workflows' distillation LoRA (models/loras): lightx2v's 4-step, CFG-free LoRA as Kijai publishes it.
DISTILL_LORA_REPO = "Kijai/WanVideo_comfy"
DISTILL_LORA_FILE = "lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors"
DISTILL_LORA_PATH = f"Lightx2v/{DISTILL_LORA_FILE}"
APPROX_SIZES["loras/distill"] = int(0.74 * GB)  # rank 64 over 40 blocks of the 14B transformer, bf16


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where it is on the hub and where it goes under the models folder."""

    repo: str
    path: str  # inside the repository
    dest: str  # relative to the models folder
    size: int | None = None  # bytes, when known
    sha256: str | None = None  # hex, when known
    approx_size: int = 0  # for the disk check when `size` is unknown

    @property
    def expected_size(self) -> int:
        return self.size if self.size is not None else self.approx_size


def hub_url(base_url: str | None = None) -> str:
    """--base-url, else $WAN_I2V_HUB_URL, else the public hub."""
    return (base_url or os.environ.get(HUB_ENV) or HUB_URL).rstrip("/")


def file_url(base: str, repo: str, path: str, revision: str = REVISION) -> str:
    return f"{base}/{repo}/resolve/{revision}/{path}"


def tree_url(base: str, repo: str, folder: str = "", revision: str = REVISION) -> str:
    tail = f"/{folder}" if folder else ""
    return f"{base}/api/models/{repo}/tree/{revision}{tail}?recursive=true"


def check_choice(variant: str, precision: str | None, fmt: str) -> None:
    if variant not in VARIANTS:
        raise ModelSourceError(f"Unknown variant '{variant}'; choose one of: {', '.join(VARIANTS)}.")
    if fmt not in FORMATS:
        raise ModelSourceError(f"Unknown format '{fmt}'; choose comfy (single files) or diffusers (a folder).")
    if precision is not None and precision not in PRECISIONS:
        raise ModelSourceError(f"Unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
    if fmt == "diffusers" and precision is not None:
        raise ModelSourceError(
            "The diffusers repositories publish one precision (fp32 transformer); the loader casts it when it loads. "
            "Drop --precision, or use --format comfy for bf16, fp16 or fp8 files."
        )


def comfy_files(variant: str, precision: str | None = None) -> list[RemoteFile]:
    """The four ComfyUI files of a variant at a precision (bf16 when not given)."""
    check_choice(variant, precision, "comfy")
    precision = precision or DEFAULT_PRECISION
    diffusion, text_encoder = _COMFY_FILES[precision]
    bits = "8" if precision == "fp8" else "16"
    wanted = [
        ("diffusion_models", diffusion.format(res=VARIANTS[variant]), APPROX_SIZES[f"diffusion_models/{bits}"]),
        ("text_encoders", text_encoder, APPROX_SIZES[f"text_encoders/{bits}"]),
        ("clip_vision", CLIP_VISION_FILE, APPROX_SIZES["clip_vision"]),
        ("vae", VAE_FILE, APPROX_SIZES["vae"]),
    ]
    return [
        RemoteFile(COMFY_REPO, f"{COMFY_FOLDER}/{kind}/{name}", f"{kind}/{name}", approx_size=size)
        for kind, name, size in wanted
    ]


def distill_lora_files() -> list[RemoteFile]:
    """The distillation LoRA the fast workflows name (i2v_480p_fast and i2v_720p_fast use the same file)."""
    return [RemoteFile(DISTILL_LORA_REPO, DISTILL_LORA_PATH, f"loras/{DISTILL_LORA_FILE}",
                       approx_size=APPROX_SIZES["loras/distill"])]


def known_lora(name: str) -> bool:
    """A LoRA file name that `models download --distill-lora` fetches."""
    return name == DISTILL_LORA_FILE


def precision_alternatives(kind: str, name: str) -> list[str]:
    """The same ComfyUI file at the other precisions, in the order bf16, fp16, fp8 (e.g. the fp8
    transformer for the bf16 one a workflow names); [] for a name not in the table."""
    for variant in VARIANTS:
        files = {precision: {f.dest for f in comfy_files(variant, precision)} for precision in PRECISIONS}
        if any(f"{kind}/{name}" in dests for dests in files.values()):
            others = [dest.split("/", 1)[1] for precision in PRECISIONS for dest in sorted(files[precision])
                      if dest.startswith(f"{kind}/") and dest != f"{kind}/{name}"]
            if kind == "diffusion_models":  # ComfyUI's plain (unscaled) fp8 file, which we do not fetch
                others.append(_PLAIN_FP8.format(res=VARIANTS[variant]))
            return [other for other in dict.fromkeys(others) if other != name]
    return []


def installed_alternative(models: Path, kind: str, name: str) -> str | None:
    """`name` itself when it is under models/kind, else the first other precision of it that is."""
    for candidate in (name, *precision_alternatives(kind, name)):
        if (models / kind / candidate).exists():
            return candidate
    return None


def diffusers_folder(variant: str) -> str:
    """Where a variant's diffusers folder goes, relative to the models folder."""
    return f"diffusers/{DIFFUSERS_REPOS[variant].split('/')[-1]}"


def comfy_choice_for(file_names: set[str], prefer_variant: str | None = None) -> tuple[str, str] | None:
    """The (variant, precision) whose ComfyUI files include all of `file_names`, if any."""
    variants = sorted(VARIANTS, key=lambda v: v != prefer_variant)
    for variant in variants:
        for precision in PRECISIONS:
            names = {f.dest.split("/")[-1] for f in comfy_files(variant, precision)}
            if file_names <= names:
                return variant, precision
    return None


def download_command(
    variant: str | None, precision: str | None, dest: str, fmt: str = "comfy", distill_lora: bool = False
) -> str:
    """The `models download` line for a variant's files and/or the distillation LoRA."""
    parts = ["wan-i2v models download"]
    if variant:
        parts.append(f"--variant {variant}")
        if precision:
            parts.append(f"--precision {precision}")
        if fmt != "comfy":
            parts.append(f"--format {fmt}")
    if distill_lora:
        parts.append("--distill-lora")
    parts.append(f"--dest {dest}")
    return " ".join(parts)
