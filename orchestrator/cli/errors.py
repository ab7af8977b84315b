"""Turn errors into clear messages at the command line: never a bare traceback."""

from __future__ import annotations

import contextlib
import json
import os
import traceback
from collections.abc import Iterator

import typer

# The node pack (and torch) is imported only when a command runs, so `--help` stays fast.


def describe(exc: BaseException) -> str:
    """A one-paragraph message for a user."""
    from comfy_nodes.errors import WanI2VError

    from ..executor import ExecutionFailed, ExecutionInterrupted, PromptValidationError
    if isinstance(exc, PromptValidationError):
        lines = [exc.error.get("message", "The workflow is invalid.")]
        model_names = False
        for node_id, entry in exc.node_errors.items():
            for err in entry.get("errors", []):
                # A node's own check says everything in `details` ("input - text"); other messages stand alone.
                text = err.get("details") if err.get("type") == "custom_validation_failed" else err.get("message")
                lines.append(f"  node {node_id} ({entry.get('class_type')}): {text}")
                model_names |= err.get("extra_info", {}).get("input_name") == "model_name"
        if model_names:
            lines.append(
                "Hint: point the workflow at your files with --set diffusion_model=NAME --set text_encoder=NAME "
                "--set clip_vision=NAME --set vae=NAME (`wan-i2v models list --models DIR` shows what is there)."
            )
        return "\n".join(lines)
    if isinstance(exc, ExecutionFailed):
        inner = exc.exception
        if isinstance(inner, WanI2VError):
            return str(inner)
        return f"Node {exc.node_id} ({exc.node_type}) failed: {exc.exception_type}: {exc.exception_message}"
    if isinstance(exc, ExecutionInterrupted):
        return f"Interrupted at node {exc.node_id} ({exc.node_type})."
    return str(exc)


@contextlib.contextmanager
def report_errors(as_json: bool = False) -> Iterator[None]:
    """Print known errors as messages (and a JSON error line with --json) and exit 1."""
    from comfy_nodes.errors import WanI2VError

    from ..errors import OrchestratorError

    try:
        yield
    except KeyboardInterrupt:
        typer.echo("\nInterrupted.", err=True)
        raise typer.Exit(code=130) from None
    except (WanI2VError, OrchestratorError) as exc:
        _fail(describe(exc), type(exc).__name__, as_json)
    except Exception as exc:  # a bug: still no traceback unless asked for
        if os.environ.get("WAN_I2V_DEBUG"):
            traceback.print_exc()
        _fail(f"Unexpected error: {type(exc).__name__}: {exc} (set WAN_I2V_DEBUG=1 to see the traceback).", type(exc).__name__, as_json)


def _fail(message: str, kind: str, as_json: bool) -> None:
    typer.echo(f"Error: {message}", err=True)
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": {"type": kind, "message": message}}))
    raise typer.Exit(code=1)
