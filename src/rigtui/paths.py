"""Where rigtui keeps the user's config, catalogs, saved rigs and caches.

Every location comes from ``user_paths()``, so tests point them all at a temporary folder
by setting ``RIGTUI_CONFIG_DIR`` (and, for data and cache, ``RIGTUI_DATA_DIR`` and
``RIGTUI_CACHE_DIR``). Nothing here creates a folder; writers create what they need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class UserPaths:
    """The user's rigtui folders and files."""

    config_dir: Path
    """Config folder (``RIGTUI_CONFIG_DIR`` or the platform's user config folder)."""
    data_dir: Path
    """Data folder for saved rigs (``RIGTUI_DATA_DIR`` or the platform's user data folder)."""
    cache_dir: Path
    """Cache folder (``RIGTUI_CACHE_DIR`` or the platform's user cache folder)."""

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def catalog_dir(self) -> Path:
        """User catalog files that add or override entries: gpus.toml, models.toml, ..."""
        return self.config_dir / "catalog"

    @property
    def rigs_dir(self) -> Path:
        return self.data_dir / "rigs"

    @property
    def log_dir(self) -> Path:
        return self.cache_dir / "log"


def user_paths() -> UserPaths:
    """Return the user's folders, honouring the RIGTUI_*_DIR environment overrides."""
    import platformdirs

    def pick(variable: str, default: Path) -> Path:
        value = os.environ.get(variable)
        return Path(value).expanduser() if value else default

    config = pick("RIGTUI_CONFIG_DIR", platformdirs.user_config_path("rigtui"))
    return UserPaths(
        config_dir=config,
        data_dir=pick("RIGTUI_DATA_DIR", platformdirs.user_data_path("rigtui")),
        cache_dir=pick("RIGTUI_CACHE_DIR", platformdirs.user_cache_path("rigtui")),
    )


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` so that a reader sees the old file or the new one, never half.

    The data goes to a temporary file in the same folder and is flushed to disk before
    ``os.replace`` swaps it in. The folder entry is then flushed too where the platform allows it.
    A failure removes the temporary file and leaves the previous file as it was.

    Raises:
        OSError: the folder cannot be created or the file cannot be written.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(payload)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
