"""A Hugging Face-shaped HTTP server on 127.0.0.1 for tests, and servers that misbehave.

``HubServer`` serves repositories the way the Hub API does: the file list at
``/api/models/{repo}/tree/{revision}``, paged by a ``Link`` header, and files at
``/{repo}/resolve/{revision}/{path}`` with Range support. Tests add routes for redirects,
error statuses and slow responses, and read back every request with its headers.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.0
    """Pause between bytes of the body, to make a slow server."""


@dataclass(frozen=True)
class Seen:
    path: str
    range: str | None
    authorization: str | None


class HubServer:
    """Serves routes by path (query included when the route has one, else ignored)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(Seen(self.path, self.headers.get("Range"), self.headers.get("Authorization")))
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    route = Route(404)
                body, status, headers = route.body, route.status, dict(route.headers)
                range_header = self.headers.get("Range")
                if status == 200 and range_header and body:
                    start, _, end = range_header.removeprefix("bytes=").partition("-")
                    first, last = int(start), min(int(end or len(body) - 1), len(body) - 1)
                    headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
                    body, status = body[first : last + 1], 206
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if route.trickle_s:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(route.trickle_s)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._stopped = False

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; later calls do nothing, so a test may stop the server early."""
        if self._stopped:
            return
        self._stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_file(self, repo: str, path: str, body: bytes | Path, revision: str = "main") -> str:
        data = body.read_bytes() if isinstance(body, Path) else body
        self.routes[f"/{repo}/resolve/{revision}/{path}"] = Route(body=data)
        return f"{self.url}/{repo}/resolve/{revision}/{path}"

    def add_repo(self, repo: str, files: dict[str, bytes | Path], revision: str = "main", lfs: bool = True) -> None:
        """Serve every file and a one-page file list in the Hub's tree format."""
        entries = []
        for path, body in files.items():
            data = body.read_bytes() if isinstance(body, Path) else body
            self.add_file(repo, path, data, revision)
            entry: dict[str, Any] = {"type": "file", "oid": "0" * 40, "size": len(data), "path": path}
            if lfs and path.endswith((".gguf", ".safetensors")):
                import hashlib

                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        self.set_tree(repo, entries, revision)

    def set_tree(self, repo: str, entries: list[dict[str, Any]], revision: str = "main", headers: dict[str, str] | None = None) -> None:
        self.routes[f"/api/models/{repo}/tree/{revision}"] = Route(body=json.dumps(entries).encode(), headers=headers or {})

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status, headers={"Location": location})

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]


def safetensors_bytes(shapes: dict[str, list[int]], dtype: str = "BF16", metadata: dict[str, str] | None = None) -> bytes:
    """Build a safetensors file whose tensors have these shapes (zero-filled data)."""
    item = {"BF16": 2, "F16": 2, "F32": 4, "F8_E4M3": 1, "I32": 4}[dtype]
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = item
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never responds, like a hung server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._held:
            conn.close()
        self.sock.close()
