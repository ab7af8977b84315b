#!/bin/sh
# Start ComfyUI on 0.0.0.0:8188 with the models from /models and its folders under /data.
# COMFYUI_EXTRA_ARGS adds flags, e.g. "--lowvram", "--reserve-vram 2" or "--use-sage-attention".
set -eu
mkdir -p /data/input /data/output /data/temp /data/user
# shellcheck disable=SC2086  # COMFYUI_EXTRA_ARGS is a list of flags
exec python /opt/ComfyUI/main.py \
    --listen 0.0.0.0 --port 8188 \
    --extra-model-paths-config /opt/wan-i2v/extra_model_paths.yaml \
    --input-directory /data/input --output-directory /data/output \
    --temp-directory /data/temp --user-directory /data/user \
    ${COMFYUI_EXTRA_ARGS:-} "$@"
