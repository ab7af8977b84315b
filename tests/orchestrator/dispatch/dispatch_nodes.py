"""Trivial nodes for dispatch tests and benchmarks: read the uploaded image, tick, save two files."""

from __future__ import annotations

import os
import time

from comfy_nodes import host

CATEGORY = "dispatch tests"


class DispatchImage:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("STRING", {"default": "", "tooltip": "A file in the input folder."})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = CATEGORY

    def run(self, image):
        return (len((host.input_dir() / image).read_bytes()) % 1000,)


class DispatchTicker:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "value": ("INT", {"tooltip": "Input number."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**53, "tooltip": "Added to the value."}),
                "steps": ("INT", {"default": 3, "min": 1, "max": 100000, "tooltip": "Progress ticks."}),
                "delay": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 60.0, "tooltip": "Seconds per tick."}),
                "silent": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 60.0, "tooltip": "Seconds without ticks first."}),
            }
        }

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = CATEGORY

    def run(self, value, seed, steps, delay, silent):
        end = time.monotonic() + silent
        while time.monotonic() < end:
            time.sleep(0.02)
            host.throw_if_interrupted()
        tick = host.Progress(steps).update
        for _ in range(steps):
            if delay:
                time.sleep(delay)
            tick(1)
        return (value + seed,)


class DispatchSave:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "value": ("INT", {"tooltip": "Written into the files."}),
                "filename_prefix": ("STRING", {"default": "dispatch/out", "tooltip": "Folder/name prefix."}),
            }
        }

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY

    def save(self, value, filename_prefix):
        subfolder, base = os.path.split(filename_prefix)
        folder = host.output_dir() / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        counter = 1
        while (folder / f"{base}_{counter:05}_.mp4").exists():
            counter += 1
        stem = f"{base}_{counter:05}_"
        (folder / f"{stem}.mp4").write_bytes(f"video {value}\n".encode() * 100)
        (folder / f"{stem}.png").write_bytes(f"poster {value}\n".encode())
        item = {"subfolder": subfolder, "type": "output"}
        return {
            "ui": {
                "images": [{"filename": f"{stem}.mp4", **item}],
                "animated": [True],
                "posters": [{"filename": f"{stem}.png", **item}],
            }
        }


NODE_CLASS_MAPPINGS = {"DispatchImage": DispatchImage, "DispatchTicker": DispatchTicker, "DispatchSave": DispatchSave}
