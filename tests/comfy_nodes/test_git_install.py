"""A git clone of the repository in ComfyUI's custom_nodes/ loads the nodes, the way ComfyUI loads a pack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Just enough of ComfyUI for the pack's host adapter, plus ComfyUI 0.8.0's loader steps
# (nodes.py load_custom_node): a folder is imported from its __init__.py under a name
# made from its path, with the folder as its submodule search location.
FAKE_COMFY = {
    "comfy/__init__.py": "",
    "comfy/model_management.py": (
        "import torch\n"
        "class InterruptProcessingException(Exception):\n    pass\n"
        "def get_torch_device():\n    return torch.device('cpu')\n"
        "def unet_offload_device():\n    return torch.device('cpu')\n"
        "def soft_empty_cache():\n    pass\n"
        "def throw_exception_if_processing_interrupted():\n    pass\n"
        "def interrupt_current_processing(value=True):\n    pass\n"
    ),
    "comfy/utils.py": "class ProgressBar:\n    def __init__(self, total):\n        self.total = total\n"
    "    def update_absolute(self, value, total=None, preview=None):\n        pass\n",
    "folder_paths.py": (
        "import os\nbase = os.path.dirname(os.path.abspath(__file__))\n"
        "def get_folder_paths(kind):\n    return [os.path.join(base, 'models', kind)]\n"
        "def get_input_directory():\n    return os.path.join(base, 'input')\n"
        "def get_output_directory():\n    return os.path.join(base, 'output')\n"
        "def get_temp_directory():\n    return os.path.join(base, 'temp')\n"
    ),
}

LOAD = """
import importlib.util, json, os, sys
module_path = os.path.join(os.getcwd(), "custom_nodes", sys.argv[1])
sys_module_name = module_path.replace(".", "_x_")
spec = importlib.util.spec_from_file_location(
    sys_module_name, os.path.join(module_path, "__init__.py"), submodule_search_locations=[module_path]
)
module = importlib.util.module_from_spec(spec)
sys.modules[sys_module_name] = module
spec.loader.exec_module(module)
mappings = module.NODE_CLASS_MAPPINGS
print(json.dumps({
    "nodes": sorted(mappings),
    "display": sorted(module.NODE_DISPLAY_NAME_MAPPINGS),
    "modules": sorted({cls.__module__.split(".nodes.")[0] for cls in mappings.values()}),
    "in_comfyui": sys.modules[sys_module_name + ".comfy_nodes.host"].IN_COMFYUI,
    "top_level": [m for m in ("comfy_nodes", "orchestrator") if m in sys.modules],
}))
"""


def test_a_git_clone_in_custom_nodes_loads_every_node(tmp_path: Path) -> None:
    from test_pack_import import EXPECTED

    comfy = tmp_path / "ComfyUI"
    for relative, text in FAKE_COMFY.items():
        (comfy / relative).parent.mkdir(parents=True, exist_ok=True)
        (comfy / relative).write_text(text)
    (comfy / "custom_nodes").mkdir()
    clone = "ComfyUI-WAN-I2V.git"  # any folder name, dots included, as a clone may be called
    (comfy / "custom_nodes" / clone).symlink_to(ROOT, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(comfy)  # ComfyUI's folder, never the repository
    done = subprocess.run([sys.executable, "-c", LOAD, clone], cwd=comfy, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["in_comfyui"] is True
    assert set(report["nodes"]) == EXPECTED - {"LoadImage"}  # inside ComfyUI its core LoadImage is used
    assert report["display"] == report["nodes"]
    # Everything came from the clone's own package, not from an installed copy of the project.
    assert report["modules"] == [str(comfy / "custom_nodes" / clone).replace(".", "_x_") + ".comfy_nodes"]
    assert report["top_level"] == []


def test_the_root_init_is_inert_outside_comfyui() -> None:
    code = (
        "import runpy, sys\n"
        f"found = runpy.run_path({str(ROOT / '__init__.py')!r})\n"
        "assert 'NODE_CLASS_MAPPINGS' not in found, 'a loose import must not load the nodes'\n"
        "import comfy_nodes, orchestrator.workflows\n"
        "assert comfy_nodes.__file__.endswith('comfy_nodes/__init__.py')\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.comfyui
@pytest.mark.e2e
def test_a_git_clone_loads_in_a_real_comfyui(tmp_path: Path) -> None:
    """With COMFYUI_DIR set: the repository linked into custom_nodes/ as a clone imports cleanly
    (only it is allowed to load, so an installed copy of the pack cannot stand in for it)."""
    if not os.environ.get("COMFYUI_DIR"):
        pytest.skip("set COMFYUI_DIR to a ComfyUI checkout to run the real-ComfyUI tests")
    from orchestrator.comfy import install as comfy_install

    checkout = comfy_install.check_checkout(Path(os.environ["COMFYUI_DIR"]))
    python = Path(os.environ.get("COMFYUI_PYTHON") or comfy_install.default_python(checkout))
    if not os.environ.get("COMFYUI_SKIP_PIP"):
        comfy_install.install_requirements(python)
    name = "wan-i2v-git-clone-check"
    link = checkout / "custom_nodes" / name
    link.symlink_to(ROOT, target_is_directory=True)
    try:
        done = subprocess.run(
            [str(python), "main.py", "--cpu", "--quick-test-for-ci", "--disable-all-custom-nodes",
             "--whitelist-custom-nodes", name, "--output-directory", str(tmp_path / "output"),
             "--temp-directory", str(tmp_path), "--input-directory", str(tmp_path / "input")],
            cwd=checkout, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        link.unlink()
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    # ComfyUI's own extras may fail for want of optional packages (torchaudio): only the pack's line counts.
    (line,) = [line for line in log.splitlines() if line.strip().endswith(name) and "seconds" in line]
    assert "IMPORT FAILED" not in line, log[-4000:]
