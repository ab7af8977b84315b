"""Tiny nodes for protocol tests: fast, no models.

They run in the embedded server (through comfy_nodes.host) and, copied into a
real ComfyUI's custom_nodes, through ComfyUI's own progress bar and folders, so
the same checks can run against both servers.
"""

from __future__ import annotations

import os
import time

try:  # inside ComfyUI
    import comfy.utils  # type: ignore[import-not-found]
    import folder_paths  # type: ignore[import-not-found]

    def _ticker(total: int):
        return comfy.utils.ProgressBar(total).update

    def _output_dir() -> str:
        return folder_paths.get_output_directory()

except ImportError:  # the embedded server
    from comfy_nodes import host

    def _ticker(total: int):
        return host.Progress(total).update

    def _output_dir() -> str:
        return str(host.output_dir())


CATEGORY = "protocol tests"
PAYLOAD_BYTES = 4096


def payload(value: int) -> bytes:
    """What ProtoSave writes for `value`: deterministic and long enough for Range requests."""
    line = f"protocol-test value={value}\n".encode()
    return (line * (PAYLOAD_BYTES // len(line) + 1))[:PAYLOAD_BYTES]


class ProtoNumber:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1, "min": 0, "max": 1000, "tooltip": "A number."})}}

    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("value",)
    OUTPUT_TOOLTIPS = ("The number.",)
    FUNCTION = "run"
    CATEGORY = CATEGORY
    DESCRIPTION = "Passes a number on."

    def run(self, value):
        return (value,)


class ProtoTicker:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "value": ("INT", {"tooltip": "Input number."}),
                "steps": ("INT", {"default": 3, "min": 1, "max": 10000, "tooltip": "Progress ticks."}),
                "delay": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 5.0, "tooltip": "Seconds per tick."}),
            },
            "optional": {"mode": (["add", "keep"], {"default": "add", "tooltip": "add: value + 1."})},
        }

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = CATEGORY

    def run(self, value, steps, delay, mode="add"):
        tick = _ticker(steps)
        for _ in range(steps):
            if delay:
                time.sleep(delay)
            tick(1)  # also the interrupt point
        return (value + 1 if mode == "add" else value,)


class ProtoSave:
    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "value": ("INT", {"tooltip": "Number to write."}),
                "filename_prefix": ("STRING", {"default": "proto/out", "tooltip": "Folder/name prefix."}),
            }
        }

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY

    def save(self, value, filename_prefix):
        subfolder, base = os.path.split(filename_prefix)
        folder = os.path.join(_output_dir(), subfolder)
        os.makedirs(folder, exist_ok=True)
        counter = 1
        while os.path.exists(os.path.join(folder, f"{base}_{counter:05}_.mp4")):
            counter += 1
        name = f"{base}_{counter:05}_.mp4"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(payload(value))
        return {"ui": {"images": [{"filename": name, "subfolder": subfolder, "type": "output"}], "animated": [True]}}


class ProtoText:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "", "tooltip": "Some text."})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "run"
    CATEGORY = CATEGORY

    def run(self, text):
        return (text,)


class ProtoFail:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"tooltip": "Ignored."})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = CATEGORY

    def run(self, value):
        raise ValueError(f"deliberate failure for value {value}")


NODE_CLASS_MAPPINGS = {
    "ProtoNumber": ProtoNumber,
    "ProtoTicker": ProtoTicker,
    "ProtoSave": ProtoSave,
    "ProtoText": ProtoText,
    "ProtoFail": ProtoFail,
}
NODE_DISPLAY_NAME_MAPPINGS = {"ProtoNumber": "Proto Number", "ProtoSave": "Proto Save"}
