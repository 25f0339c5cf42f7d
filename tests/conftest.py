"""Fixtures shared by every test: keep the host's config, data, caches and colours out."""

from __future__ import annotations

import os

import pytest

# Setting this variable to 1 runs the tests marked slow, as --run-slow does.
RUN_SLOW_ENV = "RIGTUI_RUN_SLOW"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help=f"also run tests marked slow (or set {RUN_SLOW_ENV}=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked slow unless --run-slow or RIGTUI_RUN_SLOW=1 requests them."""
    if config.getoption("--run-slow") or os.environ.get(RUN_SLOW_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"slow: run with --run-slow or {RUN_SLOW_ENV}=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


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
