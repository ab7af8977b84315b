"""The embedded server: a ComfyUI-compatible server around the in-process executor.

`create_app(config, node_classes)` builds the aiohttp app. `EmbeddedServer` runs
it on a background thread (tests, benchmarks); `serve` runs it in the
foreground until Ctrl-C (the CLI).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web

from comfy_nodes import host
from orchestrator.executor import Executor

from . import files, system
from .history import History
from .listing import ObjectInfoCache, folders_signature
from .messages import MessageBus, status_data
from .queue import PromptQueue
from .ranks import Leader
from .routes import add_routes
from .runner import Runner
from .security import host_check, origin_check
from .state import STATE_KEY, ServerConfig, ServerState, prune_inputs


def create_app(
    config: ServerConfig,
    node_classes: Mapping[str, type],
    display_names: Mapping[str, str] | None = None,
    executor_factory: Callable[[], Executor] | None = None,
    leader: Leader | None = None,
) -> web.Application:
    """The server app. It points the node pack's host folders at this server's
    own input/output/temp (under `config.data_dir`) and models folder on startup."""
    folders = files.Folders.under(config.data_dir)
    bus = MessageBus(config.max_queued_frames)
    queue = PromptQueue(on_change=lambda remaining: bus.send("status", status_data(remaining)))
    history = History(config.max_history)
    runner = Runner(queue, history, bus, executor_factory or (lambda: Executor(node_classes)), leader)
    names = display_names or {}
    object_info = ObjectInfoCache(
        lambda: system.object_info(node_classes, names, config.python_module),
        lambda: folders_signature(_listed_folders(folders)),
    )
    state = ServerState(config, node_classes, names, folders, queue, history, bus, runner, object_info)

    app = web.Application(client_max_size=config.max_upload_bytes, middlewares=[host_check(lambda: config.allowed_hosts), origin_check])
    app[STATE_KEY] = state
    add_routes(app, state)

    async def on_startup(_: web.Application) -> None:
        folders.create()
        await asyncio.to_thread(prune_inputs, state)
        host.set_io_dirs(input=folders.input, output=folders.output, temp=folders.temp)
        if config.models_dir is not None:
            host.set_models_dir(config.models_dir)
        await bus.start()
        runner.start()

    async def on_shutdown(_: web.Application) -> None:
        await asyncio.to_thread(runner.stop)
        await bus.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app


def _listed_folders(folders: files.Folders) -> list[Path]:
    """What node classes list in INPUT_TYPES: the model folders and the input folder."""
    return [*(path for kind in host.MODEL_KINDS for path in host.model_folders(kind)), folders.input]


class EmbeddedServer:
    """The app served on a background thread; `url` is set once `start()` returns."""

    def __init__(self, app: web.Application, host_name: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host_name
        self.port = port
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def state(self) -> ServerState:
        return self.app[STATE_KEY]

    def start(self, timeout: float = 30.0) -> str:
        allow_listen_address(self.state.config, self.host)
        self._thread = threading.Thread(target=self._serve, name="wan-i2v-server-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the server did not start within {timeout:g} s")
        if self._error is not None:
            raise self._error
        return self.url

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
        loop.close()

    async def _open(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(30)

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def allow_listen_address(config: ServerConfig, host_name: str) -> None:
    """A server listening on one specific address also answers to that address as Host."""
    if host_name not in ("", "0.0.0.0", "::") and host_name.lower() not in config.allowed_hosts:
        config.allowed_hosts = (*config.allowed_hosts, host_name.lower())


def shutdown_report(state: ServerState) -> str:
    """Drop what is still queued and say so (the running prompt is interrupted by the shutdown)."""
    running = state.queue.running
    dropped = state.queue.drop_pending()
    parts = [f"{dropped} queued prompt{'s' if dropped != 1 else ''} dropped"]
    if running is not None:
        parts.append(f"the running prompt {running.prompt_id} interrupted")
    return "Stopping: " + ", ".join(parts) + "."


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def serve(
    app: web.Application,
    host_name: str,
    port: int,
    on_ready: Callable[[str], None] | None = None,
    on_stopping: Callable[[str], None] | None = _to_stderr,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM, then shut down cleanly.

    On the way down, `on_stopping` gets one line saying how many queued prompts were
    dropped and whether a running one was interrupted (stderr by default)."""
    allow_listen_address(app[STATE_KEY].config, host_name)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host_name, port)
            await site.start()
            if on_ready is not None:
                on_ready(f"http://{host_name}:{runner.addresses[0][1]}")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread, or no signal support: Ctrl-C raises instead
            await stop.wait()
            if on_stopping is not None:
                on_stopping(shutdown_report(app[STATE_KEY]))
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
