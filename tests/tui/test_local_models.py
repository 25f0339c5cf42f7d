"""Models found on this disk in the explorer: rows marked in the fit matrix, the disk filter, notifications."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import gguf
import pytest

from rigtui.core.results import FitResult
from rigtui.sources.local import FOLDER, ScanRoot, scan_local_models
from rigtui.tui.app import LOCAL_MARK, RigApp
from rigtui.tui.screens.fit_detail import FitDetailScreen
from rigtui.tui.screens.fit_matrix import FitMatrixScreen, MatrixTable
from rigtui.tui.startup import Startup

SIZE = (120, 40)


def _gguf_files() -> Any:
    """Import the GGUF writer helper that the source tests share."""
    path = Path(__file__).parents[1] / "sources" / "gguf_files.py"
    spec = importlib.util.spec_from_file_location("gguf_files_for_tui", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def models_folder(tmp_path: Path) -> Path:
    """Two readable GGUF files and one truncated file in a publisher/model layout."""
    write_tiny_llama = _gguf_files().write_tiny_llama
    folder = tmp_path / "models" / "publisher" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    # A context longer than every matrix column, so no cell shows "past the model's context".
    context = 1 << 18
    write_tiny_llama(folder / "Tiny-Q8_0.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q8_0, context_length=context)
    write_tiny_llama(folder / "Tiny-Q4_K_M.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M, context_length=context)
    whole = write_tiny_llama(tmp_path / "whole.gguf")
    (folder / "Cut-F16.gguf").write_bytes(whole.read_bytes()[:2000])
    return tmp_path / "models"


def notes(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def local_rows(app: Any) -> list[Any]:
    return [model for model in app.screen.rows if model.id in app.state.local_files]


async def open_matrix(app: Any, pilot: Any, settle: Any) -> MatrixTable:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    assert isinstance(app.screen, FitMatrixScreen)
    return app.screen.query_one(MatrixTable)


async def test_local_rows_marked_in_matrix(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        rows = local_rows(app)
        assert sorted(model.name for model in rows) == ["Tiny-Q4_K_M", "Tiny-Q8_0"]
        for model in rows:
            assert LOCAL_MARK in table.get_cell(model.id, "model").plain
        assert f"{LOCAL_MARK} 2" in str(app.screen.query_one("#matrix-status").render())


async def test_local_row_fills_only_file_quant(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        model = next(m for m in local_rows(app) if m.name == "Tiny-Q8_0")
        assert app.screen.pending == 0
        for column in app.screen.columns:
            cell = table.get_cell(model.id, column.key).plain
            if column.quant == "Q8_0":
                workload = app.state.workload(app.catalog, model=model.id, quant="Q8_0")
                result = app.core.fit(app.state.rig, workload)
                assert isinstance(result, FitResult)
                assert result.fits
                assert cell == f"● {result.decode.expected:.0f}"
            else:
                assert cell == "", column.quant


async def test_disk_key_shows_only_local(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        await open_matrix(app, pilot, settle)
        everything = len(app.screen.rows)
        await pilot.press("d")
        await settle(pilot)
        assert len(app.screen.rows) == 2
        assert all(model.id in app.state.local_files for model in app.screen.rows)
        assert f"{LOCAL_MARK} only" in str(app.screen.query_one("#matrix-status").render())
        await pilot.press("d")
        await settle(pilot)
        assert len(app.screen.rows) == everything


async def test_disk_key_hidden_without_local(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_matrix(app, pilot, settle)
        everything = len(app.screen.rows)
        assert "toggle_local" not in {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        await pilot.press("d")
        await settle(pilot)
        assert len(app.screen.rows) == everything
        assert app.screen.local_only is False


async def test_context_columns_use_file_quant(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        await pilot.press("c")
        await settle(pilot)
        model = next(m for m in local_rows(app) if m.name == "Tiny-Q4_K_M")
        column = app.screen.columns[0]
        assert column.quant == app.state.settings.quant
        workload = app.state.workload(app.catalog, model=model.id, quant="Q4_K_M", context=column.context)
        result = app.core.fit(app.state.rig, workload)
        assert table.get_cell(model.id, column.key).plain == f"● {result.decode.expected:.0f}"


async def test_detail_of_local_row_launches_file(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        await pilot.press("d")
        await settle(pilot)
        row = next(i for i, m in enumerate(app.screen.rows) if m.name == "Tiny-Q8_0")
        table.move_cursor(row=row, column=1)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FitDetailScreen)
        assert app.screen.quant_id == "Q8_0"
        result = app.screen.result
        assert isinstance(result, FitResult)
        assert str(models_folder / "publisher" / "Tiny-GGUF" / "Tiny-Q8_0.gguf") in result.launch_command


async def test_unreadable_file_becomes_notification(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        messages = notes(app)
        assert any(m.startswith("Found 2 models on this disk") for m in messages)
        skipped = [m for m in messages if "could not be used" in m]
        assert len(skipped) == 1
        assert "Cut-F16.gguf" in skipped[0]


async def test_failing_scan_becomes_notification(app_factory, settle) -> None:
    def broken() -> Any:
        raise PermissionError("no access to /models")

    app = app_factory(local_scan=broken)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any("no access to /models" in m for m in notes(app))
        assert app.state.local_files == {}


async def test_app_without_scan_adds_nothing(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.state.local_files == {}
        assert not [m for m in app.catalog.models if m.startswith("local-")]


async def test_scan_starts_after_background_load(catalog, settle, models_folder: Path) -> None:
    app = RigApp(
        load=lambda: Startup(catalog=catalog),
        local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await settle(pilot)
        assert len(app.state.local_files) == 2
        assert all(model_id in app.catalog.models for model_id in app.state.local_files)


def _gguf_tensor_bytes(path: Path) -> int:
    """Bytes of every tensor in a GGUF file, as the gguf package reads them."""
    return sum(int(tensor.n_bytes) for tensor in gguf.GGUFReader(path).tensors)


async def test_detail_of_local_row_uses_header_sizes(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        await pilot.press("d")
        await settle(pilot)
        row = next(i for i, m in enumerate(app.screen.rows) if m.name == "Tiny-Q4_K_M")
        table.move_cursor(row=row, column=1)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FitDetailScreen)
        result = app.screen.result
        assert isinstance(result, FitResult)
        assert result.weights_source == "gguf-header"
        summary = str(app.screen.query_one("#detail-summary").render())
        assert "Weights: exact tensor sizes from the GGUF header" in summary
        path = models_folder / "publisher" / "Tiny-GGUF" / "Tiny-Q4_K_M.gguf"
        assert sum(device.weights_bytes for device in result.devices) == _gguf_tensor_bytes(path)
        assert result.model_file_bytes == _gguf_tensor_bytes(path)


async def test_local_row_at_other_quant_is_estimated(app_factory, settle, models_folder: Path) -> None:
    app = app_factory(local_scan=lambda: scan_local_models([ScanRoot(models_folder, FOLDER)]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model_id = next(m for m, (_, quant) in app.state.local_files.items() if quant == "Q4_K_M")
        exact = app.state.workload(app.catalog, model=model_id, quant="Q4_K_M")
        other = app.state.workload(app.catalog, model=model_id, quant="Q8_0")
        assert exact.weights is not None and exact.weights.model_id == model_id
        assert app.core.fit(app.state.rig, exact).weights_source == "gguf-header"
        assert app.core.fit(app.state.rig, other).weights_source == "estimate"
