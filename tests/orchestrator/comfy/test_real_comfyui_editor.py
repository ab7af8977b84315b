"""The pack's example workflow in real ComfyUI's editor, in headless Chromium.

Needs COMFYUI_DIR (a ComfyUI checkout with its requirements, its web page package and
the pack's requirements in COMFYUI_DIR/.venv or COMFYUI_PYTHON), the `playwright`
package and Chromium (/usr/bin/chromium, or CHROMIUM); skipped without them. The pack
is linked into custom_nodes/ for the run and removed afterwards. A screenshot of the
loaded workflow goes to WAN_I2V_EDITOR_SCREENSHOT (else to the test's tmp_path).
"""

from __future__ import annotations

import copy
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from real_comfyui_support import pack_linked, running

from orchestrator.comfy import install as comfy_install

pytestmark = [pytest.mark.comfyui, pytest.mark.e2e]

COMFYUI_DIR = os.environ.get("COMFYUI_DIR")
if not COMFYUI_DIR:
    pytest.skip("set COMFYUI_DIR to a ComfyUI checkout to run the real-ComfyUI editor test", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: `.venv/bin/pip install playwright`"
)
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.is_file():
    pytest.skip(f"Chromium is missing at {CHROMIUM}: `apt-get install -y chromium` (or set CHROMIUM)",
                allow_module_level=True)

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / "comfy_nodes" / "example_workflows" / "wan_i2v_480p.json"
CHECKOUT = comfy_install.check_checkout(Path(COMFYUI_DIR))
PYTHON = Path(os.environ.get("COMFYUI_PYTHON") or comfy_install.default_python(CHECKOUT))
VIEWPORT = {"width": 1600, "height": 900}
# Settings of a fresh editor: no template browser on first start (a returning user's view), no
# minimap or canvas statistics over the graph, and the missing-nodes warning on, as by default.
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.Minimap.Visible": False,
    "Comfy.Graph.CanvasInfo": False,
    "Comfy.Workflow.ShowMissingNodesWarning": True,
}
MISSING_NODES_TITLE = "This workflow has missing nodes"

# Scale and move the canvas so every node fits inside the part of the page the editor's own
# bars leave free (left sidebar, top bar with floating toolbars, canvas controls at the bottom).
FIT_GRAPH = """
([left, top, right, bottom]) => {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const node of app.graph.nodes) {
    const [x, y, w, h] = node.boundingRect;
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + w); y1 = Math.max(y1, y + h);
  }
  const ds = app.canvas.ds;
  const scale = Math.min((right - left) / (x1 - x0), (bottom - top) / (y1 - y0));
  ds.scale = scale;
  ds.offset = [(left + right) / 2 / scale - (x0 + x1) / 2, (top + bottom) / 2 / scale - (y0 + y1) / 2];
  app.canvas.setDirty(true, true);
  return scale;
}
"""
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
LOAD = "async ([graph, name]) => { await window.app.loadGraphData(graph, true, true, name); }"
# Loading into a new tab leaves the editor's start-up graph open beside it: close that one.
CLOSE_OTHER_TABS = """
async () => {
  const store = app.extensionManager.workflow;
  for (const workflow of [...store.openWorkflows]) {
    if (workflow !== store.activeWorkflow) await store.closeWorkflow(workflow);
  }
  return store.openWorkflows.length;
}
"""
GRAPH_NODES = """
() => app.graph.nodes.map(node => ({
  type: node.type,
  comfy_class: node.constructor.comfyClass ?? null,
  module: node.constructor.nodeData?.python_module ?? null,
  has_errors: Boolean(node.has_errors),
}))
"""


@pytest.fixture(scope="module")
def comfyui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ComfyUI on the CPU with the pack, its user settings in a temporary folder; yields its URL."""
    work = tmp_path_factory.mktemp("comfyui-editor")
    user = work / "user"
    (user / "default").mkdir(parents=True)
    (user / "default" / "comfy.settings.json").write_text(json.dumps(SETTINGS))
    args = ["--user-directory", str(user), "--database-url", "sqlite:///:memory:", "--disable-api-nodes"]
    with pack_linked(CHECKOUT), running(CHECKOUT, PYTHON, work, args) as url:
        yield url


def _screenshot_path(tmp_path: Path) -> Path:
    path = Path(os.environ.get("WAN_I2V_EDITOR_SCREENSHOT") or tmp_path / "comfyui-editor.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _missing_nodes_dialogs(page) -> list[str]:
    return [text for text in page.get_by_role("dialog").all_inner_texts() if MISSING_NODES_TITLE in text]


def test_example_workflow_loads_in_the_editor_with_every_node(comfyui: str, tmp_path: Path) -> None:
    workflow = json.loads(WORKFLOW.read_text())
    types = {node["type"] for node in workflow["nodes"]}
    with urllib.request.urlopen(f"{comfyui}/object_info", timeout=60) as response:
        server_types = set(json.load(response))
    assert types <= server_types, f"ComfyUI does not list {sorted(types - server_types)}"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport=VIEWPORT)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(comfyui)
            ready = "() => window.app?.vueAppReady && window.app.graph && window.LiteGraph"
            page.wait_for_function(ready, timeout=120_000)
            registered = set(page.evaluate("() => Object.keys(LiteGraph.registered_node_types)"))
            assert types <= registered, f"the editor has no node type {sorted(types - registered)}"

            page.evaluate(LOAD, [workflow, WORKFLOW.stem])
            assert page.evaluate(CLOSE_OTHER_TABS) == 1
            nodes = page.evaluate(GRAPH_NODES)
            assert len(nodes) == len(workflow["nodes"])
            assert sorted(node["type"] for node in nodes) == sorted(node["type"] for node in workflow["nodes"])
            # Each node is built from its definition (a missing one has no class and is flagged).
            assert all(node["comfy_class"] == node["type"] and not node["has_errors"] for node in nodes), nodes
            ours = {node["module"] for node in nodes if node["type"].startswith("WanI2V")}
            assert ours == {f"custom_nodes.{comfy_install.DEFAULT_PACK_NAME}"}
            assert _missing_nodes_dialogs(page) == []
            assert page.get_by_role("dialog").count() == 0  # nor any other dialog over the graph

            scale = page.evaluate(FIT_GRAPH, [80, 110, VIEWPORT["width"] - 15, VIEWPORT["height"] - 65])
            assert scale >= 0.6, f"the graph is drawn at {scale:.2f}x: too small to read"
            page.evaluate(NEXT_FRAMES)
            shot = _screenshot_path(tmp_path)
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 50_000  # a drawn graph, not an empty canvas

            # The same check on a workflow with an unknown node: the editor does warn, naming it.
            broken = copy.deepcopy(workflow)
            broken["nodes"][0]["type"] = "WanI2VNoSuchNode"
            page.evaluate(LOAD, [broken, "broken"])
            page.get_by_role("dialog").first.wait_for(timeout=10_000)
            warnings = _missing_nodes_dialogs(page)
            assert len(warnings) == 1 and "WanI2VNoSuchNode" in warnings[0], warnings
            assert errors == []
        finally:
            browser.close()
