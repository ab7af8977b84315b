"""A websocket client that stops reading never delays the others, and is disconnected instead of buffered for."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import server_protocol_nodes
import websocket

from orchestrator.comfy.server import EmbeddedServer, ServerConfig, create_app

FRAMES = 1500
PAD = "x" * 10_000  # 15 MB in all: far more than the socket buffers of a client that never reads


@pytest.fixture
def small_queue_server(tmp_path: Path, module_host_folders: None) -> Iterator[EmbeddedServer]:
    config = ServerConfig(data_dir=tmp_path, max_queued_frames=50)
    server = EmbeddedServer(create_app(config, server_protocol_nodes.NODE_CLASS_MAPPINGS))
    server.start()
    yield server
    server.stop()


def _stalled_client(port: int, sid: str) -> socket.socket:
    """A websocket handshake, then never another read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws?clientId={sid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0]
    return sock


def _wait(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_client_that_never_reads_is_dropped_and_delays_nobody(small_queue_server: EmbeddedServer) -> None:
    server, bus = small_queue_server, small_queue_server.state.bus
    stalled = _stalled_client(server.port, "stalled")
    reader = websocket.create_connection(f"ws://127.0.0.1:{server.port}/ws?clientId=reader", timeout=10)
    _wait(lambda: {"stalled", "reader"} <= set(bus.connected()))
    received: list[int] = []

    def read() -> None:
        while len(received) < FRAMES:
            frame = json.loads(reader.recv())
            if frame["type"] == "blob":
                received.append(frame["data"]["i"])

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    started = time.monotonic()
    for i in range(FRAMES):
        bus.send("blob", {"i": i, "pad": PAD})  # a broadcast: both clients are addressed
        if i % 10 == 9:
            _wait(lambda: len(received) > i - 30)  # the reading client keeps up; the stalled one cannot
    thread.join(30)
    assert received == list(range(FRAMES)), f"the reading client got {len(received)} of {FRAMES} frames"
    assert time.monotonic() - started < 20
    assert "stalled" not in bus.connected() and "reader" in bus.connected()
    assert bus.dropped_clients == 1
    stalled.close()
    reader.close()
