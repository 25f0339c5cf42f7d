"""App-wide keys: screens, help, saving and opening rigs, the palette, size limits and quitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Static

from rigtui.tui.app import MIN_HEIGHT, MIN_WIDTH
from rigtui.tui.screens.help import HelpScreen, TooSmallScreen
from rigtui.tui.screens.rig import RigScreen
from rigtui.tui.widgets.dialogs import Picker, Prompt

SIZE = (100, 32)


def notes(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_number_keys_switch_screens(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, mode in (("2", "fit"), ("3", "topology"), ("4", "runtimes"), ("1", "rig")):
            await pilot.press(key)
            await settle(pilot)
            assert app.current_mode == mode
        await pilot.press("5")
        await settle(pilot)
        assert app.current_mode == "telemetry"
        await pilot.press("1", "6")
        await settle(pilot)
        if "upgrade" in app._modes:
            assert app.current_mode == "upgrade"
        else:
            assert app.current_mode == "rig"
            assert any("not installed" in n for n in notes(app))


async def test_help_lists_screen_keys(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys", Static)
        from rich.console import Console
        import io

        console = Console(width=100, record=True, file=io.StringIO())
        console.print(keys.content)
        text = console.export_text()
        for expected in ("Add card", "Undo", "Save", "PCIe gen", "ctrl+p"):
            assert expected in text
        await pilot.press("escape")
        assert isinstance(app.screen, RigScreen)


async def test_save_then_open_rig(app_factory, settle, tmp_path: Path) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        assert any("No saved rigs" in n for n in notes(app))
        await pilot.press("d")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*"bad/name", "enter")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*["backspace"] * 8, *"office", "enter")
        await settle(pilot)
        saved = tmp_path / "rigs" / "office.toml"
        assert saved.is_file()
        assert any("Saved to" in n for n in notes(app))
        await pilot.press("x", "x")
        assert len(app.state.rig.gpus) == 1
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, Picker)
        await pilot.press("enter")
        await settle(pilot)
        assert len(app.state.rig.gpus) == 3
        assert app.state.rig.name == "office"
        await pilot.press("u")
        assert len(app.state.rig.gpus) == 1


async def test_save_failure_is_reported(app_factory, settle, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    app = app_factory(rigs_folder=blocker / "rigs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+s", *"office", "enter")
        await settle(pilot)
        assert any("Could not write the rig file" in n for n in notes(app))


async def test_open_invalid_rig_keeps_current(app_factory, settle, tmp_path: Path) -> None:
    folder = tmp_path / "rigs"
    folder.mkdir()
    (folder / "broken.toml").write_text("os = ")
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.state.rig
        await pilot.press("ctrl+o", "enter")
        await settle(pilot)
        assert app.state.rig is before
        assert any("current rig stays open" in n for n in notes(app))


async def test_palette_offers_every_binding(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Add card", "Remove", "NVLink", "Runtime", "Undo", "Save", "Fit", "Help"):
            assert any(t.startswith(expected) for t in titles), expected
        await pilot.press("2")
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert any(t.startswith("Sort") for t in titles)
        assert any(t.startswith("Detail") for t in titles)


async def test_palette_command_runs_action(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        command = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Duplicate"))
        await command.callback()
        await settle(pilot)
        assert len(app.state.rig.gpus) == 3


async def test_too_small_terminal_shows_message(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=(MIN_WIDTH - 10, MIN_HEIGHT - 4)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, TooSmallScreen)
        message = str(app.screen.query_one("#too-small-message", Static).render())
        assert f"{MIN_WIDTH}×{MIN_HEIGHT}" in message
        await pilot.resize_terminal(MIN_WIDTH, MIN_HEIGHT)
        await settle(pilot)
        assert isinstance(app.screen, RigScreen)


async def test_quit_key_exits(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_startup_notices_become_notifications(app_factory, settle) -> None:
    app = app_factory(notices=[("GPU telemetry unavailable", "NVML missing; started on the example rig.")])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any("started on the example rig" in n for n in notes(app))


async def test_no_color_keeps_fit_marks_distinct(app_factory, settle, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert app.no_color
        from rigtui.tui.screens.fit_matrix import MatrixTable

        table = app.screen.query_one(MatrixTable)
        marks = {
            table.get_cell(model.id, column.key).plain[:1]
            for model in app.screen.rows
            for column in app.screen.columns
        }
        # Without colour the three outcomes still differ by shape.
        assert {"●", "◐", "○"} <= marks


async def test_catalog_problems_one_notice_per_file(app_factory, catalog, settle) -> None:
    from dataclasses import replace

    problems = [
        "/cfg/gpus.toml: gpus[0] (id 'new-card'): memory_gib: Field required",
        "/cfg/gpus.toml: gpus[0] (id 'new-card'): bandwidth_gbs: Field required",
        "/cfg/gpus.toml: gpus[0] (id 'new-card'): tdp_w: Field required",
        "/cfg/models.toml: models[2]: id: Field required",
        "user prices: gpu 'ghost': unknown GPU id; add it to gpus.toml first",
    ]
    app = app_factory()
    app.catalog = replace(catalog, problems=problems)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        catalog_notes = [n for n in app._notifications if n.title == "User catalog entries skipped"]
        assert len(catalog_notes) == 3
        gpus_note = next(n.message for n in catalog_notes if "/cfg/gpus.toml" in n.message)
        assert gpus_note.startswith("3 problems in /cfg/gpus.toml; first: gpus[0] (id 'new-card'): memory_gib")
        assert "rigtui catalog check" in gpus_note
        assert any(n.message.startswith("1 problem in /cfg/models.toml") for n in catalog_notes)
        assert any("the user catalog" in n.message and "ghost" in n.message for n in catalog_notes)


async def test_palette_help_shows_key_symbols(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        commands = {c.title.split(":")[0]: c.help for c in app.get_system_commands(app.screen)}
        assert commands["Ctx ×2"] == "key ]"
        assert commands["Ctx ÷2"] == "key ["
        assert commands["Count +1"] == "key +"
        raw_names = ("bracket", "plus", "minus", "question_mark", "equals")
        for title, help_text in commands.items():
            assert not any(name in (help_text or "") for name in raw_names), (title, help_text)


async def test_palette_finds_telemetry_screen(app_factory, settle) -> None:
    from textual.command import CommandPalette

    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"telemetry")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "telemetry"


async def test_footer_palette_key_reaches_right_edge(app_factory, settle) -> None:
    from textual.widgets import Footer

    app = app_factory()
    async with app.run_test(size=(MIN_WIDTH, MIN_HEIGHT)) as pilot:
        for key in ("1", "2", "3", "4"):
            await pilot.press(key)
            await settle(pilot)
            footer = app.screen.query_one(Footer)
            palette_key = footer.query_one(".-command-palette")
            assert palette_key.region.right == MIN_WIDTH, key
