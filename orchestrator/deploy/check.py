"""`wan-i2v models check`: which files a workflow needs, which are there (size, dtype, architecture), what is missing.

The needed files are the workflow manifest's parameters with a `model_kind` (their defaults).
Where a default is missing but the demo model is complete, the service runs the demo file
instead (as job submission does), and the check says so. Architectures are read from the
safetensors header alone (names and shapes), as ComfyUI detects them, without torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from comfy_nodes.models.demo_files import FILES as DEMO_FILES
from comfy_nodes.models.demo_files import is_complete as demo_complete

from . import sources
from .errors import SafetensorsHeaderError
from .safetensors_header import Header, read_header

DIFFUSION_PREFIXES = ("model.diffusion_model.", "model.model.", "net.", "model.")


@dataclass(frozen=True)
class Detected:
    kind: str | None  # diffusion_models, text_encoders, clip_vision, vae, or None (unknown)
    description: str


@dataclass
class FileReport:
    parameter: str
    kind: str
    wanted: str  # the workflow's file name
    status: str  # "present", "demo", "missing", "wrong"
    path: str | None = None  # what is (or would be) used, relative to the models folder
    size: int | None = None
    dtype: str | None = None
    architecture: str | None = None
    problem: str | None = None


@dataclass
class WorkflowReport:
    workflow: str
    title: str
    files: list[FileReport] = field(default_factory=list)
    fetch: str | None = None  # the command that fetches what is missing

    @property
    def ok(self) -> bool:
        return all(f.status in ("present", "demo") for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _count(keys: list[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def _strip_prefix(header: Header) -> dict[str, tuple[int, ...]]:
    shapes = {k: t.shape for k, t in header.tensors.items()}
    for prefix in DIFFUSION_PREFIXES:
        if sum(k.startswith(prefix) for k in shapes) > 5:
            return {k[len(prefix) :] if k.startswith(prefix) else k: v for k, v in shapes.items()}
    return shapes


def _billions(n: int) -> str:
    return f"{n / 1e9:.1f} B" if n >= 1e8 else f"{n / 1e6:.1f} M"


def transformer_dim(header: Header) -> int | None:
    """The width of the WAN transformer a header holds (heads x 128), or None for another file."""
    shapes = _strip_prefix(header)
    return shapes["head.modulation"][-1] if "head.modulation" in shapes else None


def detect(header: Header) -> Detected:
    """What a file holds, from its tensor names and shapes."""
    shapes = _strip_prefix(header)
    keys = list(shapes)
    params = _billions(header.parameters())
    if "head.modulation" in shapes and "patch_embedding.weight" in shapes:
        dim = shapes["head.modulation"][-1]
        in_dim = shapes["patch_embedding.weight"][1]
        layers = _count(keys, r"blocks\.(\d+)\.")
        size = {5120: "14B", 1536: "1.3B"}.get(dim, "custom size")
        quant = (
            ", fp8 scaled"
            if "scaled_fp8" in shapes or any(k.endswith((".scale_weight", ".weight_scale")) for k in keys)
            else ""
        )
        if "img_emb.emb_pos" in shapes:
            return Detected(None, f"WAN first-last-frame (FLF2V) transformer, dim {dim} - not an I2V model")
        if "img_emb.proj.0.bias" not in shapes:
            return Detected(None, f"WAN text-to-video (T2V) transformer, dim {dim}, {layers} layers - not an I2V model")
        if in_dim != 36:
            return Detected(None, f"WAN transformer with {in_dim} input channels - WAN 2.1 I2V takes 36")
        return Detected(
            "diffusion_models",
            f"WAN 2.1 I2V transformer {size}: dim {dim}, {layers} layers, {params} parameters{quant}",
        )
    if "decoder.middle.0.residual.0.gamma" in shapes and "conv1.weight" in shapes:
        if "decoder.upsamples.0.upsamples.0.residual.2.weight" in shapes:
            return Detected(None, "WAN 2.2 VAE - WAN 2.1 needs wan_2.1_vae")
        base = shapes.get("encoder.conv1.weight", (0,))[0]
        z = shapes["conv1.weight"][0] // 2
        return Detected("vae", f"WAN 2.1 VAE: base dim {base}, {z} latent channels, {params} parameters")
    bias = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
    if "shared.weight" in shapes and bias in shapes:
        vocab, d_model = shapes["shared.weight"]
        layers = _count(keys, r"encoder\.block\.(\d+)\.")
        per_layer = "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight" in shapes
        name = "umT5-XXL" if (d_model, layers) == (4096, 24) else "umT5-style encoder"
        tokenizer = ", tokenizer inside" if "spiece_model" in shapes else ", no tokenizer inside"
        kind_note = "" if per_layer else " (shared position bias: T5, not umT5)"
        return Detected(
            "text_encoders", f"{name}: d_model {d_model}, {layers} layers, vocab {vocab}{tokenizer}{kind_note}"
        )
    if "token_embedding.weight" in shapes and any(k.startswith("blocks.0.attn.") for k in keys):
        return Detected(None, "umT5 in the official .pth naming - ComfyUI needs the Comfy-Org umt5_xxl file")
    patch = "vision_model.embeddings.patch_embedding.weight"
    if patch in shapes:
        width, _, p, _ = shapes[patch]
        layers = _count(keys, r"vision_model\.encoder\.layers\.(\d+)\.")
        name = {(1280, 32, 14): "ViT-H/14", (1024, 24, 14): "ViT-L/14", (1664, 48, 14): "ViT-bigG/14"}.get(
            (width, layers, p), "ViT"
        )
        return Detected("clip_vision", f"CLIP vision {name}: width {width}, {layers} layers, patch {p}")
    downs = [k for k in keys if k.endswith((".lora_down.weight", ".lora_A.weight"))]
    if downs:
        ranks = sorted({shapes[k][0] for k in downs})
        return Detected("loras", f"LoRA: {len(downs)} low-rank modules, rank {'/'.join(map(str, ranks))}")
    return Detected(None, "not a WAN 2.1 I2V component (unknown tensor names)")


def describe_file(path: Path) -> tuple[str | None, str, Detected | None]:
    """(dtype summary, architecture text, detection) for one file."""
    if path.suffix not in (".safetensors", ".sft"):
        return None, "not a safetensors file: architecture not read", None
    try:
        header = read_header(path)
    except SafetensorsHeaderError as exc:
        return None, str(exc), Detected(None, str(exc))
    shares = header.dtype_shares()
    dtype = ", ".join(f"{k} {v:.0%}" for k, v in list(shares.items())[:2]) if len(shares) > 1 else header.main_dtype()
    found = detect(header)
    return dtype, found.description, found


def _inspect(report: FileReport, models: Path) -> None:
    assert report.path is not None
    path = models / report.path
    report.size = path.stat().st_size
    report.dtype, report.architecture, found = describe_file(path)
    if found is not None and found.kind != report.kind:
        report.status = "wrong"
        report.problem = f"{report.path} is not a {report.kind} file: {found.description}."


def check_workflow(workflow: Any, models: Path) -> WorkflowReport:
    """Report on every model file `workflow` (a registry Workflow) needs under `models`."""
    report = WorkflowReport(workflow.ref, workflow.manifest.title)
    use_demo = demo_complete(models)
    for p in workflow.manifest.parameters:
        if p.model_kind is None:
            continue
        wanted = str(p.default)
        entry = FileReport(p.name, p.model_kind, wanted, "missing")
        found = sources.installed_alternative(models, p.model_kind, wanted)
        if found is not None:  # the named file, or the same file at another precision (used instead)
            entry.status, entry.path = "present", f"{p.model_kind}/{found}"
        elif use_demo and p.model_kind in DEMO_FILES:
            entry.status, entry.path = "demo", f"{p.model_kind}/{DEMO_FILES[p.model_kind]}"
        if entry.path:
            if (models / entry.path).is_dir():
                entry.size = sum(f.stat().st_size for f in (models / entry.path).rglob("*") if f.is_file())
                entry.architecture = "a folder"
            else:
                _inspect(entry, models)
        report.files.append(entry)
    missing = {f.wanted for f in report.files if f.status in ("missing", "demo", "wrong")}
    lora = any(f.kind == "loras" and sources.known_lora(f.wanted) for f in report.files
               if f.status in ("missing", "demo", "wrong"))
    base = {f.wanted for f in report.files if f.status in ("missing", "demo", "wrong") and f.kind != "loras"}
    if missing:
        prefer = next((v for v, res in sources.VARIANTS.items() if res in workflow.name), None)
        choice = sources.comfy_choice_for(base, prefer) if base else None
        if choice or lora:
            variant, precision = choice if choice else (None, None)
            report.fetch = sources.download_command(variant, precision, str(models), distill_lora=lora)
    return report


def diffusers_folders(models: Path) -> list[dict[str, Any]]:
    """The diffusers folders under models/diffusers: complete or not, and the transformer's shape."""
    found = []
    root = models / "diffusers"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        index = folder / "model_index.json"
        entry: dict[str, Any] = {
            "path": f"diffusers/{folder.name}",
            "complete": False,
            "architecture": None,
            "missing": [],
        }
        if not index.is_file():
            entry["missing"] = ["model_index.json"]
            found.append(entry)
            continue
        try:
            parts = [k for k, v in json.loads(index.read_text()).items() if isinstance(v, list)]
        except (OSError, ValueError):
            parts = []
        entry["missing"] = [p for p in parts if not (folder / p).is_dir()]
        weights = [p for p in parts if p not in ("scheduler", "tokenizer", "image_processor", "feature_extractor")]
        for p in weights:
            if (folder / p).is_dir() and not any((folder / p).glob("*.safetensors")):
                entry["missing"].append(f"{p}/*.safetensors")
        config = folder / "transformer" / "config.json"
        if config.is_file():
            try:
                c = json.loads(config.read_text())
                heads, head_dim = c.get("num_attention_heads", 0), c.get("attention_head_dim", 0)
                entry["architecture"] = (
                    f"WAN transformer: dim {heads * head_dim}, {c.get('num_layers')} layers, "
                    f"{c.get('in_channels')} input channels"
                )
            except (OSError, ValueError):
                pass
        entry["complete"] = not entry["missing"]
        found.append(entry)
    return found
