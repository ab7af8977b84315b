"""Client commands for a running orchestrator: login, submit, status, download, cancel.

The token from `wan-i2v login` is kept per server in $WAN_I2V_CONFIG_DIR (default
~/.config/wan-i2v)/credentials.json (mode 600); $WAN_I2V_TOKEN or --token (an API key) overrides it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_SERVER = "http://127.0.0.1:8000"
ServerOpt = Annotated[str, typer.Option("--server", envvar="WAN_I2V_SERVER", help="Orchestrator URL.")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="WAN_I2V_TOKEN", help="Access token or API key.")]
JobIdArg = Annotated[
    str, typer.Argument(help="The job's id, as `wan-i2v submit` prints it (or the web page shows).", show_default=False)
]


class ClientError(Exception):
    """A request the orchestrator refused, or one that could not reach it; the message says why."""


def _credentials_file() -> Path:
    base = os.environ.get("WAN_I2V_CONFIG_DIR") or Path.home() / ".config" / "wan-i2v"
    return Path(base) / "credentials.json"


def _saved() -> dict[str, str]:
    try:
        return json.loads(_credentials_file().read_text())
    except (OSError, ValueError):
        return {}


def _token(server: str, token: str | None) -> str:
    found = token or _saved().get(server.rstrip("/"))
    if not found:
        raise ClientError(f"Not logged in to {server}: run `wan-i2v login --server {server}` or pass --token.")
    return found


def _client(server: str, token: str | None = None, timeout: float | None = 60.0):  # type: ignore[no-untyped-def]
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=timeout)


def _check(response) -> Any:  # type: ignore[no-untyped-def]
    if response.status_code >= 400:
        try:
            err = response.json()["error"]
            where = f" ({err['field']})" if err.get("field") else ""
            raise ClientError(f"{err['message']}{where}")
        except (ValueError, KeyError, TypeError):
            raise ClientError(f"The server answered {response.status_code}.") from None
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else response


def _run(action) -> None:  # type: ignore[no-untyped-def]
    import httpx

    try:
        action()
    except ClientError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    except httpx.HTTPError as exc:
        typer.echo(f"Error: cannot reach the orchestrator: {exc}. Is `wan-i2v serve` running?", err=True)
        raise typer.Exit(code=1) from None


def login(
    username: Annotated[str, typer.Option(prompt=True, show_default=False, help="User name (asked when not given).")] = "",
    password: Annotated[
        str | None,
        typer.Option(
            show_default=False,
            help="Password (asked when not given; read from standard input when that is a pipe).",
        ),
    ] = None,
    server: ServerOpt = DEFAULT_SERVER,
) -> None:
    """Log in and keep the token for the other commands.

    Piped: printf '%s\\n' "$PASSWORD" | wan-i2v login --username alice
    """
    if password is None:
        password = _read_password()

    def act() -> None:
        with _client(server) as c:
            body = _check(c.post("/api/auth/login", json={"username": username, "password": password}))
        path = _credentials_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {**_saved(), server.rstrip("/"): body["access_token"]}
        path.write_text(json.dumps(saved))
        path.chmod(0o600)
        typer.echo(f"Logged in to {server} as {body['user']['username']} (token kept in {path}).")
    _run(act)


def _read_password() -> str:
    """Asked without echo on a terminal; one line of standard input otherwise (no getpass warning)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return typer.prompt("Password", hide_input=True)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _print_job(job: dict[str, Any]) -> None:
    line = f"{job['id']}  {job['state']:9}  {job['progress'] * 100:5.1f}%"
    if job.get("queue_position"):
        line += f"  queue position {job['queue_position']}"
    if job.get("node"):  # the running node, and its own progress (sampler steps, encode chunks, ...)
        line += f"  {job['node']}"
    if job.get("step") and job.get("steps"):
        line += f" {job['step']}/{job['steps']}"
    if job.get("error"):
        line += f"\n  error: {job['error']}"
    typer.echo(line)


def _follow(server: str, token: str, job_id: str) -> dict[str, Any]:
    """Events until the end; a bar on a terminal, a line per change otherwise."""
    tty = sys.stderr.isatty()
    job: dict[str, Any] = {}
    last = ""
    with _client(server, token, timeout=None) as c, c.stream("GET", f"/api/jobs/{job_id}/events") as r:
        if r.status_code >= 400:
            r.read()
            _check(r)
        kind = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                job = json.loads(line[5:])
                text = f"{job['state']} {job['progress'] * 100:5.1f}%"
                if job.get("steps"):
                    text += f" step {job['step']}/{job['steps']}"
                if job.get("node"):
                    text += f" {job['node']}"
                if text != last:
                    sys.stderr.write(("\r" + text.ljust(60)) if tty else text + "\n")
                    sys.stderr.flush()
                    last = text
                if kind == "end":
                    break
    if tty:
        sys.stderr.write("\n")
    return job


def _served_name(disposition: str, fallback: str) -> str:
    """The file name in a Content-Disposition header (only its last path part), else `fallback`."""
    from email.message import Message

    header = Message()
    header["content-disposition"] = disposition
    name = header.get_filename() or ""
    return Path(name.replace("\\", "/")).name or fallback


def _free_name(path: Path) -> Path:
    """`path`, or NAME-2.EXT, NAME-3.EXT, ... when it exists."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _download(server: str, token: str, job_id: str, out: Path, file: str | None = None) -> Path:
    with _client(server, token, timeout=None) as c:
        params = {"file": file} if file else None
        with c.stream("GET", f"/api/download/{job_id}", params=params) as r:
            if r.status_code >= 400:
                r.read()
                _check(r)
            if out.is_dir():  # the server's name for the file (video, webm or poster), never over another file
                out = _free_name(out / _served_name(r.headers.get("content-disposition", ""), f"{job_id}.mp4"))
            tmp = out.with_name(out.name + ".part")
            with open(tmp, "wb") as f:
                for chunk in r.iter_bytes():
                    f.write(chunk)
            tmp.replace(out)
    return out


def submit(
    image: Annotated[Path, typer.Argument(help="Start image (PNG, JPEG, WebP, BMP, GIF or TIFF).")],
    prompt: Annotated[str, typer.Option(help="What should happen in the video.")] = "",
    workflow: Annotated[str | None, typer.Option(help="Workflow name or name@version (default i2v_480p).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="A workflow parameter, name=value; repeatable.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = False,
    out: Annotated[Path | None, typer.Option(help="Download the video here when done (implies --wait).")] = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
) -> None:
    """Submit a job; print its id (and, with --wait, follow it)."""
    def act() -> None:
        if not image.is_file():
            raise ClientError(f"No image file at {image}.")
        fields: dict[str, str] = {"prompt": prompt}
        if workflow:
            fields["workflow"] = workflow
        for item in set_ or []:
            name, sep, value = item.partition("=")
            if not sep:
                raise ClientError(f"--set takes name=value, got {item!r}.")
            fields[name.strip()] = value
        tok = _token(server, token)
        with _client(server, tok) as c, open(image, "rb") as f:
            body = _check(c.post("/api/generate", data=fields, files={"image": (image.name, f)}))
        typer.echo(body["job_id"])
        if body.get("cached"):
            typer.echo("(answered from the result cache)", err=True)
        if wait or out:
            job = _follow(server, tok, body["job_id"])
            if job.get("state") != "succeeded":
                raise ClientError(f"the job ended {job.get('state')}: {job.get('error') or 'no reason given'}")
            if out:
                typer.echo(f"Saved {_download(server, tok, body['job_id'], out)}")
    _run(act)


def status(job_id: JobIdArg, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Show a job's state and progress."""
    def act() -> None:
        with _client(server, _token(server, token)) as c:
            _print_job(_check(c.get(f"/api/jobs/{job_id}")))
    _run(act)


def download(
    job_id: JobIdArg,
    out: Annotated[Path, typer.Option(help="File or folder to write to.")] = Path("."),
    file: Annotated[str | None, typer.Option(help="'poster' or an output's file name (default: the video).")] = None,
    server: ServerOpt = DEFAULT_SERVER,
    token: TokenOpt = None,
) -> None:
    """Download a finished job's video (or poster)."""
    _run(lambda: typer.echo(f"Saved {_download(server, _token(server, token), job_id, out, file)}"))


def cancel(job_id: JobIdArg, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Cancel a job (waiting: at once; running: interrupted on its instance)."""
    def act() -> None:
        with _client(server, _token(server, token)) as c:
            job = _check(c.post(f"/api/jobs/{job_id}/cancel"))
        # A running job stops on its instance first: say that the cancel is on its way.
        typer.echo("Cancelled." if job["state"] == "cancelled" else "Cancel requested; the job stops on its instance.")
        _print_job(job)
    _run(act)


def openapi() -> None:
    """Print the orchestrator's OpenAPI document (the web page's client is generated from it)."""
    from orchestrator.api.openapi import document

    typer.echo(json.dumps(document(), indent=2, sort_keys=True))
