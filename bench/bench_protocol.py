"""Protocol overhead of the embedded server, with trivial nodes on loopback.

Measures, as medians over sequential prompts:
  - submit -> execution_start: from sending POST /prompt to receiving execution_start;
  - executed -> execution_success: from the last node's `executed` frame to `execution_success`;
  - submit -> done: from sending POST /prompt to the final `executing {node: null}`;
and the sustained rate with a few prompts in flight (bounded by a prompt count and a time limit).

    python bench/bench_protocol.py [--prompts 200] [--sustained 1000] [--seconds 20] [--in-flight 4]

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import websocket

from orchestrator.comfy.server import ServerConfig, EmbeddedServer, create_app


class BenchNumber:
    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"value": ("INT", {"default": 0, "min": 0, "max": 10**9, "tooltip": "A number."})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "bench"

    def run(self, value: int) -> tuple[int]:
        return (value,)


class BenchOutput:
    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"value": ("INT", {"tooltip": "A number."})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "bench"

    def run(self, value: int) -> dict[str, Any]:
        return {
            "ui": {
                "images": [{"filename": f"bench_{value}.mp4", "subfolder": "", "type": "output"}],
                "animated": [True],
            }
        }


NODES = {"BenchNumber": BenchNumber, "BenchOutput": BenchOutput}


def prompt_for(value: int) -> dict[str, Any]:
    return {
        "1": {"class_type": "BenchNumber", "inputs": {"value": value}},
        "2": {"class_type": "BenchOutput", "inputs": {"value": ["1", 0]}},
    }


class Stream:
    """A websocket reader thread that timestamps each frame on arrival."""

    def __init__(self, url: str, client_id: str) -> None:
        self.ws = websocket.create_connection(url.replace("http://", "ws://") + f"/ws?clientId={client_id}", timeout=60)
        self.frames: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while True:
                message = self.ws.recv()
                if isinstance(message, str) and message:
                    self.frames.put((time.perf_counter(), json.loads(message)))
                elif not message:  # the socket was closed
                    return
        except (websocket.WebSocketException, OSError):
            pass

    def until_done(self, prompt_id: str) -> dict[str, float]:
        """Arrival time of each event type for `prompt_id`, up to its final executing frame."""
        times: dict[str, float] = {}
        while True:
            at, frame = self.frames.get(timeout=60)
            data = frame["data"]
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue
            times[frame["type"]] = at
            if frame["type"] == "executing" and data.get("node") is None:
                times["done"] = at
                return times

    def close(self) -> None:
        self.ws.close()


def sequential(url: str, count: int) -> dict[str, list[float]]:
    client_id = uuid.uuid4().hex
    stream = Stream(url, client_id)
    http = requests.Session()
    result: dict[str, list[float]] = {"start": [], "success": [], "total": []}
    try:
        for i in range(count):
            sent = time.perf_counter()
            answer = http.post(url + "/prompt", json={"prompt": prompt_for(i), "client_id": client_id}, timeout=60)
            answer.raise_for_status()
            times = stream.until_done(answer.json()["prompt_id"])
            result["start"].append(times["execution_start"] - sent)
            result["success"].append(times["execution_success"] - times["executed"])
            result["total"].append(times["done"] - sent)
    finally:
        stream.close()
        http.close()
    return result


def sustained(url: str, limit: int, seconds: float, in_flight: int) -> tuple[int, float]:
    """Keep `in_flight` prompts queued; stop submitting after `limit` prompts or `seconds`."""
    client_id = uuid.uuid4().hex
    stream = Stream(url, client_id)
    http = requests.Session()
    outstanding: set[str] = set()
    submitted = done = 0
    start = time.perf_counter()
    try:
        while True:
            submitting = submitted < limit and time.perf_counter() - start < seconds
            while submitting and len(outstanding) < in_flight:
                answer = http.post(
                    url + "/prompt", json={"prompt": prompt_for(10**6 + submitted), "client_id": client_id}, timeout=60
                )
                outstanding.add(answer.json()["prompt_id"])
                submitted += 1
                submitting = submitted < limit and time.perf_counter() - start < seconds
            if not outstanding:
                break
            _, frame = stream.frames.get(timeout=60)
            data = frame["data"]
            if frame["type"] == "executing" and isinstance(data, dict) and data.get("node") is None:
                outstanding.discard(data.get("prompt_id"))
                done += 1
        return done, time.perf_counter() - start
    finally:
        stream.close()
        http.close()


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"{statistics.median(values) * 1000:.2f} | {p90 * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=200, help="sequential prompts for the latency medians")
    parser.add_argument("--sustained", type=int, default=1000, help="most prompts in the sustained run")
    parser.add_argument("--seconds", type=float, default=20.0, help="longest sustained run")
    parser.add_argument("--in-flight", type=int, default=4, help="prompts kept queued during the sustained run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data:
        server = EmbeddedServer(create_app(ServerConfig(data_dir=Path(data)), NODES))
        url = server.start()
        try:
            sequential(url, 10)  # warm up
            lat = sequential(url, args.prompts)
            done, elapsed = sustained(url, args.sustained, args.seconds, args.in_flight)
        finally:
            server.stop()

    print(
        f"Embedded server protocol overhead, 2-node prompts over loopback "
        f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})\n"
    )
    print("| measure | median (ms) | p90 (ms) |")
    print("|---|---|---|")
    print(f"| POST /prompt -> execution_start ({args.prompts} prompts) | {_ms(lat['start'])} |")
    print(f"| last executed -> execution_success | {_ms(lat['success'])} |")
    print(f"| POST /prompt -> final executing(null) | {_ms(lat['total'])} |")
    print(
        f"\n| sustained run | value |\n|---|---|\n| prompts completed | {done} |\n| seconds | {elapsed:.2f} |"
        f"\n| prompts/s ({args.in_flight} in flight) | {done / elapsed:.1f} |"
    )


if __name__ == "__main__":
    main()
