"""Peak RAM while loading a transformer single file: ours against the plain full-dict load.

Writes a few-hundred-MB WAN I2V checkpoint (random weights, ComfyUI layout) in fp16,
bf16 and fp8, then loads each in a fresh process two ways and reports peak RSS
growth over the file size:
- plain: safetensors.load_file (the whole dict), build, load_state_dict, cast;
- ours:  comfy_nodes.models.loaders.load_transformer.
Both end with the same model in the same dtype (bf16 compute, fp8 kept for fp8 files).

    .venv/bin/python bench/bench_loading.py [--layers 8] [--dim 1024]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import gc, json, sys, threading, time, torch
from pathlib import Path
path, how, dtype = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
import diffusers, safetensors.torch  # import cost outside the measurement
from comfy_nodes.models import convert, detect, loaders
def rss(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) * 1024
gc.collect()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
base, anon_base = rss("VmRSS"), rss("RssAnon")
anon_peak = [anon_base]
def sample():  # RssAnon has no kernel high-water mark: sample it
    while True:
        anon_peak[0] = max(anon_peak[0], rss("RssAnon"))
        time.sleep(0.002)
threading.Thread(target=sample, daemon=True).start()
if how == "plain":
    from accelerate import init_empty_weights
    sd = safetensors.torch.load_file(str(path))
    config = detect.transformer_config(sd, str(path))
    with init_empty_weights():
        model = diffusers.WanTransformer3DModel(**config)
    model.load_state_dict(convert.transformer_to_diffusers(sd), strict=True, assign=True)
    model = model.to(getattr(torch, dtype))
    del sd
else:
    model = loaders.load_transformer(path, {"bfloat16": "bf16"}[dtype]).transformer
gc.collect()
final = sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))
time.sleep(0.01)
print(json.dumps({"peak_growth": rss("VmHWM") - base, "anon_growth": anon_peak[0] - anon_base, "final_bytes": final}))
"""


def write_checkpoint(folder: Path, layers: int, dim: int, dtype: str) -> Path:
    import torch
    from diffusers import WanTransformer3DModel
    from safetensors.torch import save_file

    from comfy_nodes.models import convert

    torch.manual_seed(0)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=dim // 128, attention_head_dim=128, in_channels=36,
        out_channels=16, text_dim=256, freq_dim=256, ffn_dim=dim * 4, num_layers=layers, image_dim=256,
        added_kv_proj_dim=dim,
    )  # fmt: skip
    sd = convert.transformer_from_diffusers({k: v.detach() for k, v in model.state_dict().items()})
    target = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp8": torch.float8_e4m3fn}[dtype]
    out = {}
    for key, tensor in sd.items():
        block_weight = key.startswith("blocks.") and key.endswith(".weight") and tensor.ndim == 2
        out[key] = tensor.to(target if dtype != "fp8" or block_weight else torch.bfloat16).contiguous()
    path = folder / f"wan2.1_i2v_bench_{dtype}.safetensors"
    save_file(out, str(path))
    return path


def measure(path: Path, how: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), how, "bfloat16"], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--dim", type=int, default=1024)
    args = parser.parse_args()
    print(f"Peak memory growth while loading / file size (transformer, {args.layers} layers, dim {args.dim}, bf16 compute)")
    print("RSS counts clean file pages mapped while reading (reclaimable); anon is the process's own memory.")
    print(f"{'file':>5} {'size MB':>8} {'final MB':>9} {'RSS plain':>10} {'RSS ours':>9} {'anon plain':>11} {'anon ours':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in ("fp16", "bf16", "fp8"):
            path = write_checkpoint(Path(tmp), args.layers, args.dim, dtype)
            size = path.stat().st_size
            plain, ours = measure(path, "plain"), measure(path, "ours")
            print(
                f"{dtype:>5} {size / 1e6:8.0f} {ours['final_bytes'] / 1e6:9.0f} {plain['peak_growth'] / size:10.2f} "
                f"{ours['peak_growth'] / size:9.2f} {plain['anon_growth'] / size:11.2f} {ours['anon_growth'] / size:10.2f}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
