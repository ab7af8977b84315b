"""The async ComfyUI client against the embedded server with the tiny protocol nodes."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import pytest
import server_protocol_nodes
from PIL import Image

from orchestrator.comfy.client import ComfyClient, ComfyUnavailable, PromptRejected


def _prompt(value: int = 1, steps: int = 2, delay: float = 0.0, prefix: str = "client/out") -> dict:
    return {
        "1": {"class_type": "ProtoNumber", "inputs": {"value": value}},
        "2": {"class_type": "ProtoTicker", "inputs": {"value": ["1", 0], "steps": steps, "delay": delay}},
        "3": {"class_type": "ProtoSave", "inputs": {"value": ["2", 0], "filename_prefix": prefix}},
    }


async def _until_done(stream, prompt_id: str, timeout: float = 30.0) -> list[dict]:
    frames = []
    while True:
        frame = await stream.next(timeout)
        assert frame is not None, "no frame in time"
        frames.append(frame)
        data = frame.get("data", {})
        if frame["type"] == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            return frames


def test_submit_follow_collect_delete(server, tmp_path: Path) -> None:
    async def main() -> None:
        async with ComfyClient(server.url) as c:
            stream = await c.connect_events("client-a")
            pid = uuid.uuid4().hex
            await c.submit(_prompt(value=41), pid, "client-a")
            frames = await _until_done(stream, pid)
            await stream.close()
            kinds = [f["type"] for f in frames]
            assert "execution_start" in kinds and "progress" in kinds and "execution_success" in kinds
            entry = await c.history(pid)
            assert entry is not None and entry["status"]["status_str"] == "success"
            item = entry["outputs"]["3"]["images"][0]
            dest = tmp_path / "out.mp4"
            await c.download(item["filename"], item["subfolder"], item["type"], dest)
            assert dest.read_bytes() == server_protocol_nodes.payload(42)
            assert not list(tmp_path.glob(".*.part"))
            await c.delete_history([pid])
            assert await c.history(pid) is None
            assert pid not in await c.queue()

    asyncio.run(main())


def test_rejected_prompt_names_the_node(server) -> None:
    async def main() -> None:
        async with ComfyClient(server.url) as c:
            bad = _prompt()
            bad["2"]["inputs"]["steps"] = 0
            with pytest.raises(PromptRejected) as info:
                await c.submit(bad, uuid.uuid4().hex, "client-b")
            assert "node 2 (ProtoTicker)" in str(info.value)

    asyncio.run(main())


def test_queue_delete_and_targeted_interrupt(server) -> None:
    async def main() -> None:
        async with ComfyClient(server.url) as c:
            stream = await c.connect_events("client-c")
            running, pending = uuid.uuid4().hex, uuid.uuid4().hex
            await c.submit(_prompt(value=5, steps=200, delay=0.05), running, "client-c")
            await c.submit(_prompt(value=6), pending, "client-c")
            state = await c.queue()
            assert pending in state.pending
            await c.delete_queued([pending])
            await c.interrupt(pending)  # not running: must not touch the running prompt
            while (frame := await stream.next(10)) is not None and frame["type"] != "progress":
                pass
            assert running in (await c.queue()).running
            await c.interrupt(running)
            frames = await _until_done(stream, running)
            assert any(f["type"] == "execution_interrupted" for f in frames)
            assert await c.history(pending) is None and pending not in await c.queue()
            await stream.close()

    asyncio.run(main())


def test_upload_names_and_system(server) -> None:
    async def main() -> None:
        async with ComfyClient(server.url) as c:
            buffer = io.BytesIO()
            Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, "PNG")
            name = await c.upload_image(buffer.getvalue(), "start.png", subfolder="jobs/abc")
            assert name == "jobs/abc/start.png"
            assert {"ProtoNumber", "ProtoSave"} <= set(await c.node_types())
            assert "system" in await c.system_stats()
            assert await c.queue_remaining() == 0

    asyncio.run(main())


def test_unreachable_instance_is_an_instance_fault() -> None:
    async def main() -> None:
        async with ComfyClient("http://127.0.0.1:9", timeout=2) as c:
            with pytest.raises(ComfyUnavailable):
                await c.queue()
            with pytest.raises(ComfyUnavailable):
                await c.connect_events("x")

    asyncio.run(main())
