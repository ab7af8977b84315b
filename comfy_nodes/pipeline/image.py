"""Start-image conditioning: output size, CLIP features, first-frame latent and mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import host
from ..accel import offload
from ..errors import ParameterError
from .defaults import VAE_STRIDE_S, VAE_STRIDE_T
from .sizes import MAX_SIDE, check_num_frames, target_size  # noqa: F401 - re-exported
from .types import ClipVision, ImageEmbeds, Vae
from .vae_placement import run_vae
from .vae_progress import counted, encode_calls

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _to_chw(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE [B,H,W,C] in 0..1 -> the first frame as [1,3,H,W] in -1..1."""
    if image.ndim != 4 or image.shape[-1] < 3:
        raise ParameterError(f"Expected an IMAGE tensor [batch, height, width, 3]; got shape {tuple(image.shape)}.")
    return image[:1, :, :, :3].permute(0, 3, 1, 2).float() * 2.0 - 1.0


@torch.no_grad()
def clip_features(clip: ClipVision, pixels: torch.Tensor) -> torch.Tensor:
    """Penultimate CLIP states of the image squashed to the model's size (no crop, as WAN does)."""
    size = clip.image_size
    x = F.interpolate(pixels, size=(size, size), mode="bicubic", align_corners=False)
    x = (x * 0.5 + 0.5).clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    device = host.get_device()
    offload.stay_if_room(clip.model, device)  # resident when the card has room
    with offload.on_device(clip.model, device):  # else on the GPU only while encoding
        out = clip.model(pixel_values=((x - mean) / std).to(device, clip.dtype), output_hidden_states=True)
    return out.hidden_states[-2]


def normalise_latent(vae: Vae, latent: torch.Tensor) -> torch.Tensor:
    cfg = vae.vae.config
    mean = torch.tensor(cfg.latents_mean, device=latent.device, dtype=latent.dtype).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg.latents_std, device=latent.device, dtype=latent.dtype).view(1, -1, 1, 1, 1)
    return (latent - mean) / std


def first_frame_mask(num_frames: int, lat_h: int, lat_w: int) -> torch.Tensor:
    """[1,4,T,h,w]: 1 on latent frame 0 (the given image), 0 elsewhere."""
    latent_frames = (num_frames - 1) // VAE_STRIDE_T + 1
    mask = torch.zeros(1, VAE_STRIDE_T, latent_frames, lat_h, lat_w)
    mask[:, :, 0] = 1.0
    return mask


@torch.no_grad()
def encode_start_image(
    clip: ClipVision, vae: Vae, image: torch.Tensor, resolution: str, width: int, height: int, num_frames: int
) -> ImageEmbeds:
    check_num_frames(num_frames)
    pixels = _to_chw(image)
    out_w, out_h = target_size(pixels.shape[-1], pixels.shape[-2], resolution, width, height)
    features = clip_features(clip, pixels)

    resized = F.interpolate(pixels, size=(out_h, out_w), mode="bicubic", align_corners=False).clamp(-1, 1)
    # The image, then num_frames-1 black (zero in -1..1) frames, encoded as one clip.
    video = torch.cat([resized.unsqueeze(2), resized.new_zeros(1, 3, num_frames - 1, out_h, out_w)], dim=2)

    def run(device: torch.device) -> torch.Tensor:
        with counted(vae.vae.encoder, encode_calls(vae.vae, num_frames, out_h, out_w)):
            return vae.vae.encode(video.to(device, vae.dtype)).latent_dist.mode().float()

    latent = normalise_latent(vae, run_vae(vae, "encode", out_h, out_w, run))
    mask = first_frame_mask(num_frames, out_h // VAE_STRIDE_S, out_w // VAE_STRIDE_S).to(latent.device)
    return ImageEmbeds(
        clip_features=features,
        condition=torch.cat([mask, latent], dim=1),
        width=out_w,
        height=out_h,
        num_frames=num_frames,
    )
