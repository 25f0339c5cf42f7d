"""Fit matrix, fit detail, topology and runtimes: every key, and the shared rig across screens."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from textual.widgets import Input, Label, Static

from rigtui.core.results import FitResult
from rigtui.tui.screens.fit_detail import FitDetailScreen
from rigtui.tui.screens.fit_matrix import CONTEXT_COLUMNS, FitMatrixScreen, MatrixTable
from rigtui.tui.screens.runtimes import RuntimeTable, RuntimesScreen
from rigtui.tui.screens.topology import TopologyScreen
from rigtui.tui.widgets.dialogs import Picker

SIZE = (120, 40)


def notes(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


def text_of(widget: Static) -> str:
    """The plain text a Static shows, for any Rich renderable it holds."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def row_ids(app: Any) -> list[str]:
    return [model.id for model in app.screen.rows]


async def open_matrix(app: Any, pilot: Any, settle: Any) -> MatrixTable:
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    assert isinstance(app.screen, FitMatrixScreen)
    return app.screen.query_one(MatrixTable)


async def test_matrix_cells_show_core_results(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        assert table.row_count == len(app.catalog.models)
        assert app.screen.pending == 0
        column = next(c for c in app.screen.columns if c.quant == "Q4_K_M")
        workload = app.state.workload(app.catalog, model="llama-3.1-8b", quant="Q4_K_M")
        result = app.core.fit(app.state.rig, workload)
        assert isinstance(result, FitResult) and result.fits
        cell = table.get_cell("llama-3.1-8b", column.key).plain
        assert cell.startswith("●")
        assert cell.split()[-1] == f"{result.decode.expected:.0f}"
        legend = str(app.screen.query_one("#matrix-legend", Label).render())
        assert "no fit" in legend


async def test_matrix_second_visit_uses_cache(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_matrix(app, pilot, settle)
        calls = app.core.calls
        await pilot.press("1", "2")
        await settle(pilot)
        await pilot.press("o", "o", "o")
        await settle(pilot)
        assert app.core.calls == calls


async def test_matrix_search_and_clear(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_matrix(app, pilot, settle)
        await pilot.press("slash")
        search = app.screen.query_one("#matrix-search", Input)
        assert search.has_class("-visible") and search.has_focus
        await pilot.press(*"qwen")
        await settle(pilot)
        assert row_ids(app) and all("qwen" in m for m in row_ids(app))
        await pilot.press("enter")
        assert isinstance(app.focused, MatrixTable)
        await pilot.press("escape")
        await settle(pilot)
        assert len(row_ids(app)) == len(app.catalog.models)
        assert not search.has_class("-visible")


async def test_matrix_column_toggle(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        await pilot.press("c")
        await settle(pilot)
        assert [c.context for c in app.screen.columns] == list(CONTEXT_COLUMNS)
        assert all(c.quant == app.state.settings.quant for c in app.screen.columns)
        assert len(table.columns) == len(CONTEXT_COLUMNS) + 1
        # Phi-3.5 mini reads 128k tokens but Gemma 2 9B only 8k: longer columns show a dash.
        assert table.get_cell("gemma-2-9b", "ctx-131072").plain == "—"
        await pilot.press("c")
        await settle(pilot)
        assert all(c.context == app.state.settings.context for c in app.screen.columns)


async def test_matrix_filters(app_factory, settle) -> None:
    app = app_factory()
    catalog = app.catalog
    async with app.run_test(size=SIZE) as pilot:
        await open_matrix(app, pilot, settle)
        await pilot.press("f")
        first_family = sorted({m.family for m in catalog.models.values()})[0]
        assert {catalog.models[m].family for m in row_ids(app)} == {first_family}
        await pilot.press("z")
        assert all(catalog.models[m].params_total < 10e9 for m in row_ids(app))
        await pilot.press("f")
        await pilot.press(*["f"] * (len({m.family for m in catalog.models.values()}) - 1))
        assert app.screen.family is None
        await pilot.press("z", "z", "z", "z")
        assert len(row_ids(app)) == len(catalog.models)
        await pilot.press("m")
        assert set(row_ids(app)) == {m.id for m in catalog.models.values() if m.is_moe}
        await pilot.press("m")
        assert all(not catalog.models[m].is_moe for m in row_ids(app))
        await pilot.press("m")
        assert len(row_ids(app)) == len(catalog.models)


async def test_matrix_sort_by_speed_and_size(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        q4 = next(i for i, c in enumerate(app.screen.columns) if c.quant == "Q4_K_M")
        table.move_cursor(column=q4 + 1)
        await pilot.press("o")
        speeds = [app.screen._sort_speed(m) for m in app.screen.rows]
        assert speeds == sorted(speeds, reverse=True)
        assert speeds[0] > 0
        await pilot.press("o")
        sizes = [m.params_total for m in app.screen.rows]
        assert sizes == sorted(sizes, reverse=True)
        await pilot.press("o")
        assert "by name" in str(app.screen.query_one("#matrix-status", Label).render())


async def test_detail_copy_and_back(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        q4 = next(i for i, c in enumerate(app.screen.columns) if c.quant == "Q4_K_M")
        table.move_cursor(row=app.screen.rows.index(app.catalog.models["llama-3.1-8b"]), column=q4 + 1)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FitDetailScreen)
        assert app.screen.model_id == "llama-3.1-8b" and app.screen.quant_id == "Q4_K_M"
        summary = str(app.screen.query_one("#detail-summary", Static).render())
        assert "fits on GPUs" in summary
        assert "Largest context that fits" in summary
        result = app.screen.result
        assert isinstance(result, FitResult) and result.launch_command
        await pilot.press("y")
        assert app.clipboard == result.launch_command
        assert any("copied" in n for n in notes(app))
        plot = text_of(app.screen.query_one("#detail-plot", Static))
        assert "tok/s" in plot
        await pilot.press("escape")
        assert isinstance(app.screen, FitMatrixScreen)


async def test_use_cell_selects_workload(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        model = app.screen.rows[2]
        column = app.screen.columns[1]
        table.move_cursor(row=2, column=2)
        await pilot.press("space")
        assert app.state.settings.model == model.id
        assert app.state.settings.quant == column.quant
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("u")
        assert app.state.settings.model != model.id or app.state.settings.quant != column.quant
        await pilot.press("ctrl+r", "space")
        assert app.state.settings.model == model.id


async def test_rig_edit_updates_matrix(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        key = next(c.key for c in app.screen.columns if c.quant == "Q4_K_M")
        assert table.get_cell("llama-3.3-70b", key).plain.startswith("●")
        await pilot.press("1", "down", "x", "2")
        await settle(pilot)
        assert len(app.state.rig.gpus) == 1
        assert not table.get_cell("llama-3.3-70b", key).plain.startswith("●")


async def test_topology_draws_links_and_problems(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, TopologyScreen)
        drawing = str(app.screen.query_one("#topology-drawing", Static).render())
        assert "GPU 0" in drawing and "GPU 1" in drawing and "4.0 x8" in drawing
        links = text_of(app.screen.query_one("#topology-links", Static))
        assert "GPU 0 ↔ 1" in links
        await pilot.press("1", "down", "c", "l", "l", "l", "3")
        await settle(pilot)
        assert app.state.rig.gpus[1].via_chipset
        problems = str(app.screen.query_one("#topology-problems", Static).render())
        assert "chipset" in problems
        assert "x4" in problems


async def test_runtimes_table_and_switch(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        assert isinstance(app.screen, RuntimesScreen)
        table = app.screen.query_one(RuntimeTable)
        assert table.row_count == len(app.catalog.runtimes)
        assert set(app.screen.answers) == set(app.catalog.runtimes)
        status = table.get_cell("llama-cpp", "status").plain
        assert "works" in status
        detail = str(app.screen.query_one("#runtime-detail", Static).render())
        assert "llama-server" in detail
        await pilot.press("y")
        assert app.clipboard and app.clipboard.startswith("llama-server")
        vllm = list(app.catalog.runtimes).index("vllm")
        table.move_cursor(row=vllm)
        await pilot.press("enter")
        await settle(pilot)
        assert app.state.settings.runtime == "vllm"
        assert app.catalog.quants[app.state.settings.quant].format in app.catalog.runtimes["vllm"].quant_formats


async def test_runtimes_os_switch_blocks_linux_only(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("o")
        assert isinstance(app.screen, Picker)
        await pilot.press(*"macos", "enter")
        await settle(pilot)
        assert app.state.rig.os.id == "macos"
        status = app.screen.query_one(RuntimeTable).get_cell("vllm", "status").plain
        assert "does not work" in status
        await pilot.press("1")
        assert "macOS" in str(app.screen.query_one("#settings").get_cell("os", "value"))


async def test_detail_space_selects_workload(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        table.move_cursor(row=app.screen.rows.index(app.catalog.models["qwen3-30b-a3b"]), column=1)
        quant = app.screen.columns[0].quant
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("space")
        assert app.state.settings.model == "qwen3-30b-a3b"
        assert app.state.settings.quant == quant
        await pilot.press("backspace")
        assert isinstance(app.screen, FitMatrixScreen)


async def test_matrix_click_opens_detail(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_matrix(app, pilot, settle)
        model_width = table.columns["model"].width + 2
        await pilot.click("#matrix", offset=(model_width + 3, 2))
        await settle(pilot)
        assert isinstance(app.screen, FitDetailScreen)
        assert app.screen.model_id == app.screen_stack[-2].rows[1].id


async def test_matrix_cursor_scrolls_into_view(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_matrix(app, pilot, settle)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        for _ in range(len(app.screen.columns)):
            await pilot.press("right")
        assert table.cursor_column == len(app.screen.columns)
        assert table.cursor_column in table._visible_columns()
        # Ten quantization columns do not fit in 80 columns, so the view has scrolled right.
        assert table.first_column > 1
        await pilot.press("home", "pageup")
        assert table.cursor_row == 0 and table.first_row == 0
