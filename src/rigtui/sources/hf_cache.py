"""Keep what rigtui fetched from a Hugging Face server in the user cache folder.

Small files (config.json, the safetensors index, the repository's file list) are stored per
server, repository and revision. Header bytes of weight files are stored once per content
hash, because the file list gives each weight file's SHA-256 and a header never changes for
the same content. Every write goes to a temporary file in the same folder that then replaces
the old one with ``os.replace``, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from rigtui.paths import write_atomic

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _component(text: str) -> str:
    """Quote ``text`` into one safe file name: no separators, no '.' or '..'."""
    quoted = quote(text, safe="-_.+=@")
    return quoted if quoted.strip(".") else quoted.replace(".", "%2E")


@dataclass(frozen=True)
class HubCache:
    """A cache folder for files and headers read from Hugging Face servers."""

    root: Path

    @classmethod
    def default(cls) -> HubCache:
        """Return the cache under the user cache folder (``RIGTUI_CACHE_DIR`` moves it)."""
        from rigtui.paths import user_paths

        return cls(user_paths().cache_dir / "huggingface")

    def file_path(self, endpoint: str, repo: str, revision: str, name: str) -> Path:
        """Return where a repository file (or a listing such as ``.tree.json``) is stored."""
        server = _component(urlsplit(endpoint).netloc or endpoint)
        parts = [_component(part) for part in repo.split("/")]
        return self.root.joinpath(server, *parts, _component(revision), _component(name))

    def blob_path(self, sha256: str, kind: str) -> Path:
        """Return where a header of the weight file with this content hash is stored."""
        if not _SHA256.match(sha256):
            raise ValueError(f"invalid SHA-256 {sha256!r}")
        return self.root / "blobs" / f"{sha256}.{_component(kind)}"

    def read(self, path: Path) -> bytes | None:
        """Return the cached bytes, or None when nothing is cached there or it cannot be read."""
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read cached %s: %s", path, exc)
            return None

    def write(self, path: Path, data: bytes) -> None:
        """Store ``data`` atomically. A cache that cannot be written is logged and skipped."""
        try:
            write_atomic(path, data)
        except OSError as exc:
            log.warning("cannot write cache file %s: %s", path, exc)
