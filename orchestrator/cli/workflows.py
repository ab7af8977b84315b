"""`wan-i2v workflows ...`: list, show, validate and lock the released workflows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from orchestrator.workflows import WorkflowError, get_workflow, list_workflows, ui_to_api, update_lock, verify_lock
from orchestrator.workflows.check import CheckReport, check_prompt, check_workflow
from orchestrator.workflows.manifest import step_rule

app = typer.Typer(help="List, inspect and validate the versioned workflows.", no_args_is_help=True)


@app.command("list")
def list_command() -> None:
    """Every released workflow version with its content hash and description."""
    workflows = list_workflows()
    if not workflows:
        typer.echo("No workflows found.")
        return
    width = max(len(w.ref) for w in workflows)
    for workflow in workflows:
        typer.echo(f"{workflow.ref:<{width}}  {workflow.content_hash[:12]}  {workflow.description}")


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (latest version when omitted).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest and hash as JSON.")] = False,
) -> None:
    """A workflow's parameters with their defaults and bounds."""
    try:
        workflow = get_workflow(name)
        manifest = workflow.manifest
    except WorkflowError as exc:
        _fail(str(exc))
    if as_json:
        data = {
            "ref": workflow.ref,
            "content_hash": workflow.content_hash,
            "title": manifest.title,
            "description": manifest.description,
            "parameters": json.loads((workflow.path / "manifest.json").read_text(encoding="utf-8"))["parameters"],
        }
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{workflow.ref}  {manifest.title}")
    typer.echo(f"hash {workflow.content_hash}")
    typer.echo(manifest.description)
    typer.echo("")
    from orchestrator.jobs.submit import client_parameters

    for_clients = {p.name for p in client_parameters(workflow)}
    rows = [("PARAMETER", "TYPE", "DEFAULT", "ALLOWED", "DESCRIPTION")]
    rows += [(p.name + ("" if p.name in for_clients or p.type == "image" else " *"), p.type, _short(p.default),
              _allowed(p), p.description) for p in manifest.parameters]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    if any(p.name not in for_clients and p.type != "image" for p in manifest.parameters):
        typer.echo("\n* set by the server (model files, where to save): the API rejects them from clients; "
                   "`wan-i2v run --set` takes them. image is IMAGE on the command line, the upload in the API.")
    typer.echo("\nSet a parameter with --set name=value, e.g. wan-i2v run " + workflow.ref
               + ' cat.png --prompt "a cat turns its head" ' + _example_set(manifest.parameters))


@app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="API-format (or UI-format) workflow files. Without any: every released workflow and the lock."),
    ] = None,
    models: Annotated[
        Path | None, typer.Option(help="Models folder (holds diffusion_models/, vae/, ...) for the file checks.")
    ] = None,
    input_dir: Annotated[Path | None, typer.Option(help="Input folder holding the images the workflow loads.")] = None,
) -> None:
    """Validate workflows against the installed node classes; exit 1 on any error."""
    from comfy_nodes import host  # imports torch; only needed here

    if models is not None:
        host.set_models_dir(models)
    if input_dir is not None:
        host.set_io_dirs(input=input_dir)
    node_classes = _node_classes()
    reports: list[CheckReport] = []
    if paths:
        for path in paths:
            reports.append(_check_file(path, node_classes))
    else:
        reports = [check_workflow(w, node_classes) for w in list_workflows()]
        lock = CheckReport("workflows.lock.json", errors=verify_lock())
        reports.append(lock)
    failed = False
    for report in reports:
        typer.echo(f"{'ok  ' if report.ok else 'FAIL'}  {report.name}")
        for error in report.errors:
            typer.echo(f"      error: {error}")
        for note in report.notes:
            typer.echo(f"      note: {note}")
        failed = failed or not report.ok
    if failed:
        raise typer.Exit(code=1)


@app.command("lock")
def lock_command() -> None:
    """Add workflow versions that are not in workflows.lock.json yet (released ones never change)."""
    added = update_lock()
    typer.echo("Locked: " + ", ".join(added) if added else "Nothing new to lock.")
    problems = verify_lock()
    for problem in problems:
        typer.echo(f"error: {problem}")
    if problems:
        raise typer.Exit(code=1)


def _check_file(path: Path, node_classes: dict[str, type]) -> CheckReport:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        return CheckReport(str(path), errors=[f"cannot read {path}: {exc}"])
    if isinstance(data, dict) and isinstance(data.get("nodes"), list):  # the editor's format
        try:
            data = ui_to_api(data, node_classes)
        except WorkflowError as exc:
            return CheckReport(str(path), errors=[str(exc)])
    return check_prompt(data, node_classes, name=str(path))


def _node_classes() -> dict[str, type]:
    from comfy_nodes import NODE_CLASS_MAPPINGS  # heavy import, only for validation

    return dict(NODE_CLASS_MAPPINGS)


def _allowed(p: Any) -> str:
    """The bounds as the parameter check applies them: a stepped int is min plus a multiple of the step."""
    if p.type != "int" or not p.step or p.is_seed:
        return p.bounds_text()
    base, step = int(p.min or 0), int(p.step)
    first = [base + i * step for i in range(3)]
    rule = step_rule(base, step)  # the check's own words
    span = f"{p.min}..{p.max}, " if p.min is not None and p.max is not None else ""
    return f"{span}{rule} ({', '.join(map(str, first))}, ...)"


def _example_set(parameters: Any) -> str:
    """A --set example that makes sense for this workflow: more steps only where the workflow is not distilled
    to a few (a fast workflow's steps are fixed by its LoRA), else a shorter video."""
    by_name = {p.name: p for p in parameters}
    steps = by_name.get("steps")
    if steps is not None and isinstance(steps.default, int) and steps.default >= 20:
        return "--set steps=30"
    frames = by_name.get("num_frames")
    if frames is not None:
        return "--set num_frames=49"
    return "--set seed=42"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)
