"""`wan-i2v models ...`: the demo model, real weights (download and check) and what is on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Model files: the tiny demo model, real weights (download, check), what a models folder holds.",
    no_args_is_help=True,
)


@app.command("make-demo")
def make_demo(
    directory: Annotated[
        Path, typer.Argument(help="models folder to write into (ComfyUI layout: diffusion_models/, vae/, ...)")
    ],
    force: Annotated[bool, typer.Option(help="Rewrite the files even if they exist.")] = False,
) -> None:
    """Write a tiny random-weight WAN 2.1 I2V model in both layouts. Its videos are noise."""
    from comfy_nodes.models import demo

    if directory.exists() and not directory.is_dir():
        typer.echo(f"Error: {directory} is a file; give a folder to write the demo model into.", err=True)
        raise typer.Exit(code=1)
    if demo.is_complete(directory) and not force:
        typer.echo(f"Demo model already in {directory} (use --force to rewrite).")
    else:
        demo.make_demo_model(directory)
        typer.echo(f"Wrote the demo model to {directory}.")
    for kind, path in demo.demo_paths(directory).items():
        typer.echo(f"  {kind:17} {path}")
    typer.echo(demo.DEMO_NOTICE)


@app.command("list")
def list_models(
    models: Annotated[
        Path, typer.Option("--models", help="models folder (default: $WAN_MODELS_DIR or ./models)")
    ] = None,
) -> None:
    """List model files and diffusers folders by kind."""
    from comfy_nodes import host

    if models is not None:
        if not models.is_dir():
            typer.echo(f"Error: models folder {models} does not exist.", err=True)
            raise typer.Exit(code=1)
        host.set_models_dir(models)
    typer.echo(f"Models folder: {host.models_dir()}")
    for kind in host.MODEL_KINDS:
        names = (
            host.list_models_diffusers()
            if kind == "diffusers"
            else [n for n in host.list_models(kind) if n not in host.list_models_diffusers()]
        )
        typer.echo(f"{kind}:")
        for name in names or ["(none)"]:
            typer.echo(f"  {name}")


@app.command("download")
def download(
    variant: Annotated[
        str | None,
        typer.Option("--variant", help="i2v-14b-480p or i2v-14b-720p (needed unless only --distill-lora is wanted)."),
    ] = None,
    distill_lora: Annotated[
        bool,
        typer.Option(
            "--distill-lora",
            help="Also fetch the fast workflows' lightx2v step/CFG distillation LoRA into loras/ "
            "(Kijai/WanVideo_comfy, Lightx2v/lightx2v_I2V_14B_480p_cfg_step_distill_rank64_bf16.safetensors).",
        ),
    ] = False,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision", help="bf16 (default), fp16 or fp8 (scaled; about half the size). Comfy format only."
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="comfy (single files, as the workflows use) or diffusers (a folder).")
    ] = "comfy",
    dest: Annotated[
        Path, typer.Option("--dest", help="models folder (ComfyUI layout)", envvar="WAN_MODELS_DIR")
    ] = Path("models"),
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="The hub or a mirror with the same paths (default: $WAN_I2V_HUB_URL or the public hub)."
        ),
    ] = None,
    verify: Annotated[bool, typer.Option(help="Also hash files that are already in place.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the files and sizes, fetch nothing.")] = False,
    retries: Annotated[int, typer.Option(help="Resumes allowed per file after a cut connection.")] = 5,
) -> None:
    """Fetch the real WAN 2.1 I2V weights (resumable, sha256-checked, disk space checked first).

    The fast workflows also need the distillation LoRA: add --distill-lora (alone, it fetches only the LoRA).
    """
    from orchestrator.deploy import download as dl
    from orchestrator.deploy.errors import DeployError
    from orchestrator.deploy.sources import hub_url

    base = hub_url(base_url)
    try:
        with dl.make_client() as client:
            files = dl.plan(variant, precision, fmt, client, base, distill_lora=distill_lora)
            total = sum(f.expected_size for f in files)
            typer.echo(f"{len(files)} files, {dl.human_size(total)} in all, from {base} into {dest}:")
            for f in files:
                state = "in place" if (dest / f.dest).exists() else "to fetch"
                typer.echo(f"  {f.dest:70} {dl.human_size(f.expected_size):>9}  {state}")
            if dry_run:
                return
            dest.mkdir(parents=True, exist_ok=True)
            outcomes = dl.download_files(files, dest, client, base, verify=verify, retries=retries)
    except DeployError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        typer.echo("\nInterrupted; run the same command again to resume.", err=True)
        raise typer.Exit(code=130) from None
    fetched = sum(o.status == "downloaded" for o in outcomes)
    typer.echo(
        f"Done: {fetched} fetched, {len(outcomes) - fetched} already in place. "
        f"Check them with: wan-i2v models check --models {dest}"
    )


@app.command("check")
def check(
    models: Annotated[
        Path, typer.Option("--models", help="models folder (ComfyUI layout)", envvar="WAN_MODELS_DIR")
    ] = Path("models"),
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="A workflow name (or name@version); default: all.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Which model files a workflow needs, which are present (size, dtype, architecture), what is missing."""
    import json

    from orchestrator.deploy import check as checks
    from orchestrator.deploy.download import human_size
    from orchestrator.workflows import WorkflowError, get_workflow, list_workflows

    if not models.is_dir():
        typer.echo(
            f"Error: models folder {models} does not exist. Fetch the weights with "
            f"`wan-i2v models download --variant i2v-14b-480p --dest {models}`.",
            err=True,
        )
        raise typer.Exit(code=1)
    try:
        chosen = [get_workflow(workflow)] if workflow else [w for w in list_workflows() if w == get_workflow(w.name)]
        reports = [checks.check_workflow(w, models) for w in chosen]
    except WorkflowError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    folders = checks.diffusers_folders(models)
    ok = all(r.ok for r in reports)
    if as_json:
        typer.echo(
            json.dumps(
                {"models": str(models), "ok": ok, "workflows": [r.to_dict() for r in reports], "diffusers": folders},
                indent=2,
            )
        )
        raise typer.Exit(code=0 if ok else 1)
    typer.echo(f"Models folder: {models}")
    demo_used = False
    for report in reports:
        typer.echo(f"\n{report.workflow}: {report.title} - {'ready' if report.ok else 'NOT READY'}")
        for f in report.files:
            label = {"present": "ok", "demo": "demo", "missing": "MISSING", "wrong": "WRONG"}[f.status]
            typer.echo(f"  [{label:7}] {f.parameter:16} {f.kind}/{f.wanted}")
            if f.status == "demo":
                demo_used = True
                typer.echo(f"            missing; the demo model stands in: {f.path}")
            if f.path:
                typer.echo(f"            {human_size(f.size)}, {f.dtype or '?'}, {f.architecture}")
            if f.problem:
                typer.echo(f"            {f.problem}")
        if report.fetch:
            typer.echo(f"  Fetch the real files with: {report.fetch}")
    for folder in folders:
        state = "complete" if folder["complete"] else "incomplete, missing " + ", ".join(folder["missing"])
        typer.echo(
            f"\nDiffusers folder {folder['path']}: {state}"
            + (f"; {folder['architecture']}" if folder["architecture"] else "")
        )
    if demo_used:
        from comfy_nodes.models.demo_files import DEMO_NOTICE

        typer.echo(f"\n{DEMO_NOTICE}")
    raise typer.Exit(code=0 if ok else 1)
