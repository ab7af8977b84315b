"""ComfyUI entry point for a git clone of this repository.

ComfyUI-Manager's "Install via Git URL" clones the whole repository into
`ComfyUI/custom_nodes/<name>/` and ComfyUI imports that folder as a package, so
this file hands it the node pack's mappings from `comfy_nodes/` (imported
relative to the clone, whatever the folder is called). Installing only the
`comfy_nodes/` folder (`wan-i2v comfy install`, the registry) does not use it.

Nothing else imports this file: the project's packages are `comfy_nodes` and
`orchestrator`, found from the repository root as before.
"""

if __package__:  # imported as a package (ComfyUI's loader); a loose import gets nothing
    from .comfy_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
