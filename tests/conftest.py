"""Fixtures shared by every test: keep the host's config, data, caches and colours out."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point rigtui's folders at a fresh temporary folder, turn off the local model scan, drop NO_COLOR.

    Textual removes NO_COLOR from the environment when an App starts, and greyscale output
    would change every snapshot, so tests start without it.
    """
    home = tmp_path_factory.mktemp("rigtui-home")
    monkeypatch.setenv("RIGTUI_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("RIGTUI_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("RIGTUI_CACHE_DIR", str(home / "cache"))
    # The local model scan reads only folders a test names, never the host's model caches.
    monkeypatch.setenv("RIGTUI_SCAN_DEFAULTS", "0")
    monkeypatch.delenv("RIGTUI_SCAN_DIRS", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
