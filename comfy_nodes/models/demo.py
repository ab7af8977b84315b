"""A tiny random-weight WAN 2.1 I2V model, written in both real layouts.

It exercises every loader, node and file format in seconds on a CPU, without
downloading anything. Its weights are random: the videos it makes are noise.
The same weights are written as ComfyUI single files and as a diffusers folder,
so the two loading paths can be compared.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from ..pipeline.image import CLIP_MEAN, CLIP_STD
from . import convert
from .demo_files import DEMO_NOTICE, DIFFUSERS_FOLDER, FILES, demo_paths, is_complete  # noqa: F401 - re-exported
from .tokenizer import SPIECE_KEY



# WAN 2.1's real context widths (umT5-XXL 4096, CLIP ViT-H 1280): ComfyUI's WanModel fixes them, so
# its native UNETLoader takes the demo transformer only with these. The encoders stay tiny otherwise.
TEXT_DIM = 4096
IMAGE_DIM = 1280
_METADATA = {"format": "pt", "notice": DEMO_NOTICE}

# Words for the tokenizer's training text: prompt-like English.
_WORDS = (
    "a the cat dog bird boat car city street forest river ocean mountain sky cloud sun moon night day "
    "walks runs flies swims drives floats rains snows glows slowly quickly camera pans zooms tilts "
    "close up wide shot cinematic golden hour light shadow red blue green white black old young "
    "woman man child people crowd waves wind trees leaves fire smoke water rain snow on in under over"
).split()


def make_demo_model(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write the demo model under `root` (models/-style folders). Returns the paths."""
    from safetensors.torch import save_file

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Writing model shards" bars say nothing for files this small
    paths = demo_paths(Path(root))
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    folder = paths["diffusers"]
    spiece = _train_tokenizer()
    # Each part draws from its own seed, so resizing one leaves the others' weights as they were.
    # The encoders are stored in fp16 like the real files (half the size; loaders cast on the way in).
    torch.manual_seed(seed)
    encoder = _text_encoder(vocab_size=_piece_count(spiece)).half()
    torch.manual_seed(seed + 1)
    clip = _clip_vision().half()
    torch.manual_seed(seed + 2)
    vae = _vae()
    torch.manual_seed(seed + 3)
    transformer = _transformer()
    torch.manual_seed(seed + 4)

    # ComfyUI single files.
    te_sd = {k: v for k, v in encoder.state_dict().items() if k != "encoder.embed_tokens.weight"}
    te_sd[SPIECE_KEY] = torch.frombuffer(bytearray(spiece), dtype=torch.uint8).clone()
    save_file(_contiguous(te_sd), paths["text_encoders"], metadata=_METADATA)
    # ComfyUI's CLIP vision files use Hugging Face names under vision_model.
    clip_sd = {k if k.startswith("vision_model.") else f"vision_model.{k}": v for k, v in clip.state_dict().items()}
    clip_sd["visual_projection.weight"] = (torch.randn(IMAGE_DIM, IMAGE_DIM) * 0.02).half()
    save_file(_contiguous(clip_sd), paths["clip_vision"], metadata=_METADATA)
    save_file(_contiguous(convert.vae_from_diffusers(vae.state_dict())), paths["vae"], metadata=_METADATA)
    save_file(
        _contiguous(convert.transformer_from_diffusers(transformer.state_dict())),
        paths["diffusion_models"],
        metadata=_METADATA,
    )

    # A random LoRA in the lightx2v layout (low-rank pairs, diffs, biases), drawn from its own generator.
    from . import lora_demo

    drawn = lora_demo.draw_lora(transformer, rank=8, alpha=8.0, seed=seed + 1, biases=True, full_deltas=True)
    save_file(lora_demo.to_state_dict(drawn, "lightx2v"), paths["loras"], metadata=_METADATA)

    # The same weights as a diffusers folder.
    transformer.save_pretrained(folder / "transformer")
    vae.save_pretrained(folder / "vae")
    encoder.save_pretrained(folder / "text_encoder")
    clip.save_pretrained(folder / "image_encoder")
    (folder / "tokenizer").mkdir(exist_ok=True)
    (folder / "tokenizer" / "spiece.model").write_bytes(spiece)
    _write_processor_and_scheduler(folder)
    (folder / "model_index.json").write_text(json.dumps(_model_index(), indent=2))
    (Path(root) / "DEMO_MODEL_README.txt").write_text(DEMO_NOTICE + "\n")
    return paths


def _contiguous(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().clone() for k, v in sd.items()}


def _train_tokenizer() -> bytes:
    """A small unigram SentencePiece model with umT5's special ids (pad 0, eos 1, unk 2)."""
    import random

    import sentencepiece as spm

    rng = random.Random(0)
    lines = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12))) for _ in range(400)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=90,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def _piece_count(proto: bytes) -> int:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto)
    return sp.get_piece_size()


def _text_encoder(vocab_size: int) -> torch.nn.Module:
    from transformers import UMT5Config, UMT5EncoderModel

    config = UMT5Config(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=16, num_heads=4, d_ff=128, num_layers=2,
        relative_attention_num_buckets=32, feed_forward_proj="gated-gelu", dropout_rate=0.0,
        is_encoder_decoder=False, use_cache=False,
    )  # fmt: skip
    return UMT5EncoderModel(config).eval()


def _clip_vision() -> torch.nn.Module:
    from transformers import CLIPVisionConfig, CLIPVisionModel

    config = CLIPVisionConfig(
        hidden_size=IMAGE_DIM, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
        image_size=224, patch_size=14, hidden_act="gelu", projection_dim=IMAGE_DIM,
    )  # fmt: skip
    return CLIPVisionModel(config).eval()


def _vae() -> torch.nn.Module:
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(base_dim=8, z_dim=16).eval()


def _transformer() -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    # One 128-dim head, as every WAN size uses 128-dim heads (ComfyUI infers heads = dim / 128).
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=1, attention_head_dim=128, in_channels=36, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=256, num_layers=2, image_dim=IMAGE_DIM, added_kv_proj_dim=128,
    ).eval()  # fmt: skip


def _write_processor_and_scheduler(folder: Path) -> None:
    from diffusers import UniPCMultistepScheduler

    # WAN squashes the image to 224x224 without cropping.
    processor = {
        "image_processor_type": "CLIPImageProcessor",
        "do_resize": True,
        "size": {"height": 224, "width": 224},
        "resample": 3,
        "do_center_crop": False,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": list(CLIP_MEAN),
        "image_std": list(CLIP_STD),
        "do_convert_rgb": True,
    }
    (folder / "image_processor").mkdir(exist_ok=True)
    (folder / "image_processor" / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0).save_pretrained(
        folder / "scheduler"
    )


def _model_index() -> dict:
    import diffusers

    return {
        "_class_name": "WanImageToVideoPipeline",
        "_diffusers_version": diffusers.__version__,
        "_notice": DEMO_NOTICE,
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "T5TokenizerFast"],
        "image_encoder": ["transformers", "CLIPVisionModel"],
        "image_processor": ["transformers", "CLIPImageProcessor"],
    }
