"""The model picker takes a repo id or GGUF path: read in a worker, with progress and cancel."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gguf
import pytest
from textual.widgets import Input

from rigtui.tui.screens import settings as settings_module
from rigtui.tui.widgets.dialogs import Busy, Picker

SIZE = (120, 40)
SOURCES = Path(__file__).parents[1] / "sources"


def _load(name: str) -> Any:
    """Import a helper module that the source tests share."""
    spec = importlib.util.spec_from_file_location(f"{name}_for_typed_model", SOURCES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gguf_files = _load("gguf_files")
hub_server = _load("hub_server")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    server = hub_server.HubServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield server
    server.stop()


def notes(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def type_model(app: Any, pilot: Any, settle: Any, text: str) -> None:
    """Open the model picker on the Rig screen, type ``text`` and press Enter."""
    await settle(pilot)
    await pilot.press("s")
    await pilot.pause()
    assert isinstance(app.screen, Picker)
    app.screen.query_one("#picker-filter", Input).value = text
    await pilot.pause()
    await pilot.press("enter")


async def test_local_gguf_path_becomes_the_model(app_factory, settle, tmp_path: Path) -> None:
    path = gguf_files.write_tiny_llama(tmp_path / "Tiny-Q8_0.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q8_0)
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await type_model(app, pilot, settle, str(path))
        await settle(pilot)
        model_id = app.state.settings.model
        assert model_id.startswith("local-")
        assert app.state.settings.quant == "Q8_0"
        assert app.state.local_files[model_id] == (str(path), "Q8_0")
        workload = app.workload()
        assert workload.weights is not None and workload.weights.model_id == model_id
        assert workload.extra == {"model_path": str(path)}
        assert not isinstance(app.screen, Busy)


async def test_repo_id_becomes_the_model(app_factory, settle, hub: Any, tmp_path: Path) -> None:
    path = gguf_files.write_tiny_llama(tmp_path / "Tiny-Q4_K_M.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M)
    hub.add_repo("acme/Tiny-GGUF", {path.name: path})
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await type_model(app, pilot, settle, "acme/Tiny-GGUF")
        await settle(pilot)
        model_id = app.state.settings.model
        assert model_id.startswith("local-")
        assert app.state.settings.quant == "Q4_K_M"
        assert app.state.local_files[model_id] == ("Tiny-Q4_K_M.gguf", "Q4_K_M")
        assert app.workload().weights is not None
        assert any(p.endswith("Tiny-Q4_K_M.gguf") for p in hub.paths())


async def test_missing_repo_notifies_and_changes_nothing(app_factory, settle, hub: Any) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        before = app.state.settings
        models = set(app.catalog.models)
        await type_model(app, pilot, settle, "acme/missing")
        await settle(pilot)
        assert app.state.settings == before
        assert set(app.catalog.models) == models
        assert any("HTTP 404" in note and "The model is unchanged." in note for note in notes(app)), notes(app)


async def test_unknown_plain_name_notifies(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        before = app.state.settings
        await type_model(app, pilot, settle, "zzzzqqqq")
        await settle(pilot)
        assert app.state.settings == before
        assert any("unknown model 'zzzzqqqq'" in note for note in notes(app)), notes(app)


async def test_escape_cancels_a_hung_download(app_factory, settle, monkeypatch: pytest.MonkeyPatch) -> None:
    server = hub_server.SilentServer().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(settings_module, "RESOLVE_TIMEOUT_S", 1.0)
    app = app_factory()
    try:
        async with app.run_test(size=SIZE) as pilot:
            before = app.state.settings
            await type_model(app, pilot, settle, "acme/hung")
            await pilot.pause(0.2)
            assert isinstance(app.screen, Busy)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, Busy)
            assert any("cancelled" in note for note in notes(app)), notes(app)
            await settle(pilot)
            assert app.state.settings == before
            # The timed-out request after the cancel adds no error of its own.
            assert not any("timed out" in note for note in notes(app)), notes(app)
    finally:
        server.stop()
