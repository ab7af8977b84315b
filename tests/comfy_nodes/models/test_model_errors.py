"""Bad model files give errors that name the file, the folder and the fix."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file, save_file

from comfy_nodes import host
from comfy_nodes.errors import ModelFormatError, ModelNotFoundError, WrongModelTypeError
from comfy_nodes.models import loaders


def test_missing_model_names_file_and_folder(host_dirs, demo_models):
    with pytest.raises(ModelNotFoundError) as err:
        host.find_model("diffusion_models", "wan2.1_i2v_480p_14B_bf16.safetensors")
    message = str(err.value)
    assert "wan2.1_i2v_480p_14B_bf16.safetensors" in message
    assert str(demo_models / "diffusion_models") in message


def test_t2v_checkpoint_is_refused_by_the_i2v_loader(demo_paths, tmp_path):
    sd = {k: v for k, v in load_file(str(demo_paths["diffusion_models"])).items() if not k.startswith("img_emb.")}
    t2v = tmp_path / "wan2.1_t2v_1.3B_bf16.safetensors"
    save_file(sd, str(t2v))
    with pytest.raises(WrongModelTypeError, match="text-to-video"):
        loaders.load_transformer(t2v)


def test_wrong_kind_of_file(demo_paths):
    with pytest.raises(ModelFormatError, match="not a WAN 2.1 diffusion model"):
        loaders.load_transformer(demo_paths["vae"])
    with pytest.raises(ModelFormatError, match="not a WAN 2.1 VAE"):
        loaders.load_vae(demo_paths["diffusion_models"])


def test_unreadable_file(tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelFormatError, match="Cannot read weights"):
        loaders.load_transformer(broken)


def test_text_encoder_without_tokenizer(demo_paths, tmp_path):
    sd = {k: v for k, v in load_file(str(demo_paths["text_encoders"])).items() if k != "spiece_model"}
    path = tmp_path / "umt5_no_tokenizer.safetensors"
    save_file(sd, str(path))
    with pytest.raises(ModelFormatError, match="spiece_model"):
        loaders.load_text_encoder(path)
