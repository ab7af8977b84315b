"""WAN 2.1 I2V orchestration: the CLI, the in-process executor, the workflow
registry and the embedded ComfyUI-compatible server."""
