"""Official WAN 2.1 I2V settings (Wan2.1 generate.py and shared_config.py)."""

from __future__ import annotations

# I2V prepends "camera shake" to the shared negative prompt.
NEGATIVE_PROMPT = (
    "镜头晃动，色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
    "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
    "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)

TEXT_LEN = 512  # the text context is zero-padded to this many tokens
STEPS = 40
CFG = 5.0
SHIFT = 5.0  # 3.0 is recommended at 480p (the 480p workflow sets it)
NUM_FRAMES = 81
FPS = 16
MAX_FRAMES = 1001

# Target pixel area per preset; the output keeps the image's aspect ratio.
RESOLUTION_AREAS = {"480p": 832 * 480, "720p": 1280 * 720}
SIZE_MULTIPLE = 16  # VAE stride 8 x patch 2
VAE_STRIDE_T = 4
VAE_STRIDE_S = 8
