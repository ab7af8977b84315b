"""Load WAN 2.1 I2V components from disk, in either layout.

1. ComfyUI single files (`diffusion_models/wan2.1_i2v_480p_14B_bf16.safetensors`,
   `vae/wan_2.1_vae.safetensors`, `text_encoders/umt5_xxl_fp16.safetensors`,
   `clip_vision/clip_vision_h.safetensors`): the architecture is read from the weights.
2. diffusers folders (`Wan2.1-I2V-14B-480P-Diffusers`): each loader takes its
   component subfolder (transformer/, vae/, text_encoder/ + tokenizer/, image_encoder/).

Nothing is fetched from a hub: every from_pretrained call is local-only (per call, never
through HF_HUB_OFFLINE, which would leak into ComfyUI and its child processes).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from accelerate import init_empty_weights

from .. import host
from ..errors import ModelFormatError, WrongModelTypeError
from ..pipeline.types import ClipVision, TextEncoder, Vae, WanModel
from ..pipeline.vae_placement import set_tiles
from . import convert, detect
from .tokenizer import SPIECE_KEY, SentencePieceTokenizer

logger = logging.getLogger(__name__)

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def resolve_dtype(name: str, device: torch.device | None = None) -> torch.dtype:
    """'auto' is bf16 on a GPU and fp32 on the CPU."""
    if name == "auto":
        device = device or host.get_device()
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if name not in DTYPES:
        raise ModelFormatError(f"Unknown dtype '{name}'; choose one of auto, {', '.join(DTYPES)}.")
    return DTYPES[name]


def _device_and_dtype(compute_dtype: str) -> tuple[torch.device, torch.dtype]:
    device = host.get_device()
    return device, resolve_dtype(compute_dtype, device)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors or .pt/.pth file, with a clear error when unreadable.

    safetensors files are read tensor by tensor, each into its own memory, so that
    `_build` can free each source tensor as soon as it has its cast copy.
    """
    try:
        if path.suffix.lower() in (".safetensors", ".sft"):
            from safetensors import safe_open

            with safe_open(str(path), "pt") as f:
                return {key: f.get_tensor(key) for key in f.keys()}
        data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        return data.get("state_dict", data) if isinstance(data, dict) else data
    except Exception as exc:
        raise ModelFormatError(f"Cannot read weights from {path}: {exc}. Is the file complete and a .safetensors/.pth file?") from exc


def _component_dir(path: Path, component: str) -> Path | None:
    """The component folder of a diffusers layout, or None when `path` is a single file."""
    if not path.is_dir():
        return None
    if (path / component / "config.json").exists():
        return path / component
    if (path / "config.json").exists():
        return path
    raise ModelFormatError(f"{path} is a folder but holds no diffusers '{component}/config.json'.")


def _build(
    cls: type, config: object, sd: dict[str, torch.Tensor], dtype: torch.dtype, source: Path, keep: frozenset[str] = frozenset()
) -> torch.nn.Module:
    """The module with `sd` assigned, cast to `dtype`; parameters named in `keep` stay as stored.

    Takes `sd` over and empties it: the module then holds the only reference to each
    source tensor, so each is freed as soon as its cast copy exists and peak memory
    stays near the final weights' size (callers must not keep other references).
    """
    with init_empty_weights():
        module = cls(config) if not isinstance(config, dict) else cls(**config)
    try:
        module.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as exc:
        raise ModelFormatError(f"Weights in {source} do not match the architecture read from them: {str(exc)[:400]}") from exc
    sd.clear()
    # Keep what the library marks as precision-sensitive (time embedding, norms, modulation) in fp32,
    # as its from_pretrained does.
    fp32 = set(getattr(module, "_keep_in_fp32_modules", None) or [])
    for name, param in module.named_parameters():
        target = torch.float32 if fp32.intersection(name.split(".")) else dtype
        if param.is_floating_point() and param.dtype != target and name not in keep:
            param.data = param.data.to(target)
    return module.eval().requires_grad_(False)


# ------------------------------------------------------------------ transformer


def load_transformer(
    path: Path, compute_dtype: str = "auto", *, weight_dtype: str = "default", offload: str = "none"
) -> WanModel:
    """The I2V transformer; FP8 checkpoints (plain or scaled) are read too.

    weight_dtype stores block weights in FP8 (layerwise upcast while running); offload
    keeps weights in RAM ("model") or streams blocks ("blocks") to the compute device.
    """
    from diffusers import WanTransformer3DModel

    from ..accel import fp8
    from ..accel import offload as offload_mod

    device, dtype = _device_and_dtype(compute_dtype)
    fp8.storage_dtype(weight_dtype)  # reject unknown values before the (slow) load
    folder = _component_dir(path, "transformer")
    if folder is not None:
        model = WanTransformer3DModel.from_pretrained(folder, torch_dtype=dtype, local_files_only=True)
        if model.config.image_dim is None:
            raise WrongModelTypeError(
                f"{path} is a WAN text-to-video (T2V) model (no image embedding). The I2V nodes need an I2V model."
            )
    elif _has_scales(path):
        # Scaled fp8: the weights stay fp8 with their scales (never upcast, never requantised).
        sd, scales = fp8.take_scales(convert.strip_diffusion_prefix(read_state_dict(path)), dtype)
        config = detect.transformer_config(sd, str(path))
        scales = convert.transformer_to_diffusers(scales)  # the same renames as the weights
        model = _build(WanTransformer3DModel, config, _converted(sd), dtype, path, frozenset(scales))
        fp8.apply_scaled(model, scales, dtype)
        weight_dtype = "fp8_scaled"
    else:
        sd = convert.strip_diffusion_prefix(read_state_dict(path))
        stored = fp8.stored_fp8(sd)
        # A plain fp8 file holds fp8-exact values: keep them in fp8 unless told otherwise.
        if weight_dtype == "default" and stored is not None:
            weight_dtype = {torch.float8_e4m3fn: "fp8_e4m3fn", torch.float8_e5m2: "fp8_e5m2"}[stored]
        config = detect.transformer_config(sd, str(path))
        if stored is not None and fp8.storage_dtype(weight_dtype) == stored:
            # Tensors that will be stored in fp8 anyway stay as read: no upcast copy (half the peak RAM).
            converted = _converted(sd)
            keep = frozenset(k for k, t in converted.items() if t.dtype == stored and fp8.stays_fp8(k))
        else:
            sd, _ = fp8.prepare_state_dict(sd, dtype)
            converted, keep = _converted(sd), frozenset()
        model = _build(WanTransformer3DModel, config, converted, dtype, path, keep)
    if weight_dtype != "fp8_scaled":
        fp8.apply_fp8(model, weight_dtype, dtype)
    offload_mod.apply_offload(model, offload, device)
    options = {"weight_dtype": weight_dtype, "offload": offload}
    return WanModel(transformer=model, dtype=dtype, source=str(path), options=options)


def _converted(sd: dict[str, torch.Tensor], to_diffusers=convert.transformer_to_diffusers) -> dict[str, torch.Tensor]:
    """The diffusers-keyed dict; `sd` is emptied so `_build` holds the only references."""
    out = to_diffusers(sd)
    sd.clear()
    return out


def _has_scales(path: Path) -> bool:
    if path.suffix.lower() not in (".safetensors", ".sft"):
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return any(k.endswith(("scaled_fp8", ".scale_weight", ".weight_scale")) for k in f.keys())
    except Exception:  # unreadable: read_state_dict says so clearly
        return False


# ------------------------------------------------------------------ VAE


def load_vae(path: Path, compute_dtype: str = "fp32", tile_size: int = 0) -> Vae:
    """The video VAE; `tile_size` > 0 always encodes and decodes in overlapping tiles of that many
    pixels (stride 3/4 of it, seams blended). With 0 each call tiles only when the whole frames
    would not fit the card (pipeline/vae_placement.py)."""
    from diffusers import AutoencoderKLWan

    dtype = resolve_dtype(compute_dtype)
    folder = _component_dir(path, "vae")
    if folder is not None:
        vae = AutoencoderKLWan.from_pretrained(folder, torch_dtype=dtype, local_files_only=True)
    else:
        sd = read_state_dict(path)
        config = detect.vae_config(sd, str(path))
        vae = _build(AutoencoderKLWan, config, _converted(sd, convert.vae_to_diffusers), dtype, path)
    if tile_size:
        set_tiles(vae, tile_size)
    # It waits in CPU memory; each encode or decode places it (pipeline/vae_placement.py), so
    # inside ComfyUI its model management makes the room and may unload it again.
    return Vae(vae=vae.to(host.offload_device()), dtype=dtype, tile_size=tile_size)



# ------------------------------------------------------------------ text encoder


def load_text_encoder(path: Path, compute_dtype: str = "auto") -> TextEncoder:
    from transformers import UMT5Config, UMT5EncoderModel

    from ..accel import fp8

    device, dtype = _device_and_dtype(compute_dtype)
    folder = _component_dir(path, "text_encoder")
    if folder is not None:
        encoder = UMT5EncoderModel.from_pretrained(folder, dtype=dtype, local_files_only=True)
        tokenizer = _folder_tokenizer(folder.parent / "tokenizer")  # tokenizer/ sits beside text_encoder/
    else:
        sd = read_state_dict(path)
        if SPIECE_KEY not in sd:
            raise ModelFormatError(
                f"{path} has no embedded tokenizer (tensor '{SPIECE_KEY}'). Use the ComfyUI umT5 file "
                "(umt5_xxl_fp16.safetensors), which stores it, or a diffusers folder with tokenizer/spiece.model."
            )
        tokenizer = SentencePieceTokenizer.from_tensor(sd.pop(SPIECE_KEY))
        # umt5_xxl_fp8_e4m3fn_scaled: fp8 weights with per-layer scales and a marker; the
        # encoder runs once per prompt, so its weights are simply dequantised (w_fp8 * scale).
        sd, _ = fp8.prepare_state_dict(sd, dtype)
        config = UMT5Config(**detect.umt5_config(sd, str(path)), is_encoder_decoder=False, use_cache=False)
        sd.setdefault("encoder.embed_tokens.weight", sd["shared.weight"])
        sd = {k: v for k, v in sd.items() if k.startswith(("shared.", "encoder."))}
        encoder = _build(UMT5EncoderModel, config, sd, dtype, path)
        encoder.tie_weights()
    _keep_in_ram_between_uses(encoder, device)
    return TextEncoder(encoder=encoder, tokenizer=tokenizer, dtype=dtype)


def _keep_in_ram_between_uses(module: torch.nn.Module, device: torch.device) -> None:
    """The encoders run once per prompt: on a GPU they wait in RAM and visit the GPU only
    while encoding, leaving its memory to the transformer."""
    from ..accel import offload

    offload.apply_offload(module, "model" if device.type != "cpu" else "none", device)


def _folder_tokenizer(folder: Path) -> SentencePieceTokenizer:
    spiece = folder / "spiece.model"
    if not spiece.exists():
        raise ModelFormatError(f"No SentencePiece tokenizer at {spiece}; the diffusers folder is incomplete.")
    return SentencePieceTokenizer.from_file(spiece)


# ------------------------------------------------------------------ CLIP vision


def load_clip_vision(path: Path, compute_dtype: str = "auto") -> ClipVision:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    device, dtype = _device_and_dtype(compute_dtype)
    folder = _component_dir(path, "image_encoder")
    if folder is not None:
        model = CLIPVisionModel.from_pretrained(folder, dtype=dtype, local_files_only=True)
    else:
        sd = read_state_dict(path)
        config = CLIPVisionConfig(**detect.clip_vision_config(sd, str(path)))
        sd = {k: v for k, v in sd.items() if k.startswith("vision_model.") and not k.endswith("position_ids")}
        model = _build(CLIPVisionModel, config, _match_clip_prefix(sd, config), dtype, path)
    _keep_in_ram_between_uses(model, device)
    return ClipVision(model=model, dtype=dtype, image_size=model.config.image_size)


def _match_clip_prefix(sd: dict[str, torch.Tensor], config: object) -> dict[str, torch.Tensor]:
    """ComfyUI's file names keys vision_model.*; recent transformers' CLIPVisionModel has no such level."""
    from transformers import CLIPVisionModel

    with init_empty_weights():
        nested = hasattr(CLIPVisionModel(config), "vision_model")
    return sd if nested else {k.removeprefix("vision_model."): v for k, v in sd.items()}
