"""A sample start image drawn by the project itself (no downloaded assets)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def draw_sample_image(path: Path, width: int = 832, height: int = 480) -> Path:
    """A boat on the sea under a low sun: simple shapes, 16:9-ish, RGB PNG."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    horizon = int(height * 0.58)
    for y in range(horizon):  # sky: deep blue to warm orange
        t = y / horizon
        draw.line([(0, y), (width, y)], fill=(int(40 + 200 * t), int(70 + 90 * t), int(150 - 60 * t)))
    for y in range(horizon, height):  # sea
        t = (y - horizon) / (height - horizon)
        draw.line([(0, y), (width, y)], fill=(int(20 + 30 * t), int(60 + 40 * t), int(110 + 30 * t)))
    sun_x, sun_y, r = int(width * 0.7), int(horizon * 0.75), int(height * 0.09)
    draw.ellipse([sun_x - r, sun_y - r, sun_x + r, sun_y + r], fill=(255, 214, 120))
    draw.polygon([(0, horizon), (width * 0.18, horizon * 0.62), (width * 0.36, horizon)], fill=(70, 60, 90))
    bx, by = int(width * 0.35), int(horizon + (height - horizon) * 0.35)
    draw.polygon([(bx, by), (bx + 120, by), (bx + 95, by + 28), (bx + 22, by + 28)], fill=(120, 60, 30))
    draw.polygon([(bx + 58, by - 95), (bx + 58, by - 4), (bx + 118, by - 4)], fill=(245, 240, 230))
    draw.line([(bx + 56, by - 100), (bx + 56, by)], fill=(60, 40, 20), width=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
