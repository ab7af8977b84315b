"""A small model hub on 127.0.0.1: the file listing API and file downloads with Range, redirects and cuts.

Paths follow the public hub: `/api/models/<repo>/tree/main/<folder>?recursive=true` lists files
(with `lfs.oid` = sha256), `/<repo>/resolve/main/<path>` redirects to `/cdn/<repo>/<path>`,
which serves the bytes (206 for a Range request).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class Hub:
    files: dict[str, bytes]  # "<repo>/<path>" -> content
    wrong_sha: set[str] = field(default_factory=set)  # keys listed with a wrong sha256
    cut_after: dict[str, int] = field(default_factory=dict)  # key -> bytes sent before the first response breaks
    no_range: bool = False
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    url: str = ""

    def sha(self, key: str) -> str:
        digest = hashlib.sha256(self.files[key]).hexdigest()
        return "0" * 64 if key in self.wrong_sha else digest

    def downloads(self, key: str) -> list[str | None]:
        """The Range headers of the byte requests for one file."""
        return [r for p, r in self.requests if p == f"/cdn/{key}"]


def _handler(hub: Hub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            hub.requests.append((path, self.headers.get("Range")))
            if path.startswith("/api/models/"):
                return self._tree(path[len("/api/models/") :])
            if "/resolve/main/" in path:
                repo, _, inner = path[1:].partition("/resolve/main/")
                key = f"{repo}/{inner}"
                if key not in hub.files:
                    return self._send(404, b"Entry not found")
                self.send_response(302)
                self.send_header("Location", f"/cdn/{key}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if path.startswith("/cdn/"):
                return self._bytes(path[len("/cdn/") :])
            return self._send(404, b"not found")

        def _tree(self, rest: str) -> None:
            repo_and_folder, _, _ = rest.partition("?")
            owner, name, _, _, *folder = repo_and_folder.split("/")
            repo, prefix = f"{owner}/{name}", "/".join(folder)
            entries = []
            for key, data in sorted(hub.files.items()):
                if not key.startswith(repo + "/"):
                    continue
                inner = key[len(repo) + 1 :]
                if prefix and not inner.startswith(prefix + "/"):
                    continue
                entries.append(
                    {
                        "type": "file",
                        "path": inner,
                        "size": len(data),
                        "oid": "1" * 40,
                        "lfs": {"oid": hub.sha(key), "size": len(data), "pointerSize": 130},
                    }
                )
            if not entries:
                return self._send(404, b'{"error":"not found"}')
            return self._send(200, json.dumps(entries).encode(), "application/json")

        def _bytes(self, key: str) -> None:
            data = hub.files.get(key)
            if data is None:
                return self._send(404, b"not found")
            start = 0
            header = self.headers.get("Range")
            if header and not hub.no_range:
                start = int(header.split("=")[1].split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            cut = hub.cut_after.pop(key, None)
            if cut is not None:
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return None
            self.wfile.write(body)
            return None

        def _send(self, status: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class HubServer:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        self.server.daemon_threads = True
        hub.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self.hub

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
