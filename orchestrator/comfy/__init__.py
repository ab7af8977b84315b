"""Everything that talks ComfyUI: the embedded ComfyUI-compatible server (`server/`),
and the helpers that install the node pack into a real ComfyUI (`install`) and
launch one per GPU (`launch`)."""
