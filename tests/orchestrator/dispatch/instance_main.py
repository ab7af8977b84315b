"""One embedded ComfyUI-compatible instance with the dispatch test nodes, in its own process
(the node pack's host folders are per process). Prints its URL, then serves until SIGTERM.

    python instance_main.py DATA_DIR [PORT]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dispatch_nodes  # noqa: E402

from orchestrator.comfy.server import ServerConfig, create_app, serve  # noqa: E402

if __name__ == "__main__":
    data = Path(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    app = create_app(ServerConfig(data_dir=data, models_dir=data / "models"), dispatch_nodes.NODE_CLASS_MAPPINGS)
    serve(app, "127.0.0.1", port, on_ready=lambda url: print(url, flush=True))
