"""Every key of the Rig screen, checked on the shared state and the notifications it leaves."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, Static

from rigtui.core.rig import GIB
from rigtui.tui.screens.rig import GpuTable, RigScreen, SettingsTable
from rigtui.tui.widgets.dialogs import Picker, Prompt

SIZE = (100, 32)


def notes(app: Any) -> list[str]:
    """Messages of the notifications currently shown."""
    return [n.message for n in app._notifications]


async def test_start_screen_is_example_rig(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, RigScreen)
        assert [g.spec.id for g in app.state.rig.gpus] == ["rtx-4090", "rtx-3090"]
        origin = str(app.screen.query_one("#rig-origin").render())
        assert "Example rig" in origin
        assert app.screen.query_one(GpuTable).row_count == 2
        verdict = str(app.screen.query_one("#verdict", Static).render())
        assert "Llama 3.3 70B" in verdict
        assert "computing" not in verdict


async def test_add_card_by_fuzzy_search(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        assert isinstance(app.screen, Picker)
        await pilot.press(*"3060", "enter")
        await settle(pilot)
        assert [g.spec.id for g in app.state.rig.gpus][-1] == "rtx-3060-12gb"
        assert app.screen.query_one(GpuTable).row_count == 3
        assert "edited" in str(app.screen.query_one("#rig-origin").render())


async def test_picker_escape_changes_nothing(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a", "escape")
        await settle(pilot)
        assert len(app.state.rig.gpus) == 2
        assert not app.state.can_undo


async def test_remove_duplicate_and_count(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        assert [g.spec.id for g in app.state.rig.gpus] == ["rtx-4090", "rtx-4090", "rtx-3090"]
        await pilot.press("plus")
        assert sum(g.spec.id == "rtx-4090" for g in app.state.rig.gpus) == 3
        await pilot.press("minus", "minus")
        assert [g.spec.id for g in app.state.rig.gpus] == ["rtx-4090", "rtx-3090"]
        await pilot.press("minus")
        assert len(app.state.rig.gpus) == 2
        assert any("remove the last card" in n for n in notes(app))
        await pilot.press("x")
        assert [g.spec.id for g in app.state.rig.gpus] == ["rtx-3090"]
        await pilot.press("x")
        assert len(app.state.rig.gpus) == 1
        assert any("at least one card" in n for n in notes(app))


async def test_slot_edits_on_selected_card(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await pilot.press("l")
        assert app.state.rig.gpus[1].pcie_lanes == 16
        await pilot.press("g")
        assert app.state.rig.gpus[1].pcie_gen == 1
        await pilot.press("c")
        assert app.state.rig.gpus[1].via_chipset
        assert not app.state.rig.gpus[0].via_chipset


async def test_memory_in_use_prompt(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        assert isinstance(app.screen, Prompt)
        await pilot.press(*"abc", "enter")
        assert isinstance(app.screen, Prompt)
        assert "invalid number" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press(*["backspace"] * 3, *"2.5", "enter")
        await settle(pilot)
        assert app.state.rig.gpus[0].used_bytes == int(2.5 * GIB)


async def test_enter_on_card_opens_memory_prompt(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, Prompt)
        await pilot.press("escape")
        assert isinstance(app.screen, RigScreen)


async def test_nvlink_needs_connector_then_bridges(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        assert app.state.rig.nvlink_pairs == frozenset()
        assert any("no NVLink connector" in n for n in notes(app))
        await pilot.press("down", "d", "n")
        assert app.state.rig.nvlink_pairs == frozenset({(1, 2)})
        await pilot.press("n")
        assert app.state.rig.nvlink_pairs == frozenset()


async def test_machine_settings_keys(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o", *"windows", "enter")
        assert app.state.rig.os.id == "windows-11"
        await pilot.press("h")
        assert not any(g.desktop for g in app.state.rig.gpus)
        await pilot.press("h")
        assert app.state.rig.gpus[0].desktop
        await pilot.press("r", *"128", "enter")
        assert app.state.rig.cpu_ram_bytes == 128 * GIB
        await pilot.press("b", *"100", "enter")
        assert app.state.rig.cpu_ram_bandwidth_gbs == 100
        await pilot.press("p", *"1600", "enter")
        assert app.state.rig.psu_w == 1600
        await pilot.press("p", "0", "enter")
        assert app.state.rig.psu_w is None


async def test_workload_settings_keys(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", *"qwen3 30b", "enter")
        assert app.state.settings.model == "qwen3-30b-a3b"
        await pilot.press("w", *"Q8_0", "enter")
        assert app.state.settings.quant == "Q8_0"
        await pilot.press("e", *"16384", "enter")
        assert app.state.settings.context == 16384
        await pilot.press("left_square_bracket")
        assert app.state.settings.context == 8192
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert app.state.settings.context == 32768
        kv_types = app.catalog.runtimes["llama-cpp"].kv_cache_types
        await pilot.press("k")
        assert app.state.settings.kv_cache == kv_types[kv_types.index("f16") + 1]
        await pilot.press("f")
        assert app.state.settings.flash_attn is False
        await pilot.press("v")
        assert app.state.settings.split == "single"


async def test_context_limits_rejected(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(5):
            await pilot.press("left_square_bracket")
        assert app.state.settings.context == 512
        assert any("Context stays between" in n for n in notes(app))


async def test_context_prompt_accepts_suffixes(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for typed, tokens in (("32k", 32 * 1024), ("128K", 128 * 1024), ("1M", 1 << 20), ("4,096", 4096)):
            await pilot.press("e", *typed, "enter")
            assert app.state.settings.context == tokens, typed


async def test_context_prompt_bounds_as_integers(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e", *"4M", "enter")
        assert isinstance(app.screen, Prompt)
        error = str(app.screen.query_one("#prompt-error").render())
        assert "from 512 to 2,097,152" in error
        assert "e+" not in error
        assert app.state.settings.context == 8192


async def test_verdict_flags_context_past_model_max(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", *"gemma 2 9b", "enter")
        await pilot.press("e", *"16k", "enter")
        await settle(pilot)
        assert app.state.settings.model == "gemma-2-9b"
        assert app.catalog.models["gemma-2-9b"].max_context == 8192
        verdict = str(app.screen.query_one("#verdict", Static).render())
        headline = verdict.splitlines()[1]
        assert headline.startswith("— past the model's maximum context (8k)")
        assert "memory alone at 16k" in verdict
        await pilot.press("e", *"8k", "enter")
        await settle(pilot)
        verdict = str(app.screen.query_one("#verdict", Static).render())
        assert "past the model's maximum context" not in verdict


async def test_runtime_switch_adapts_settings(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t", *"exllamav2", "enter")
        await settle(pilot)
        runtime = app.catalog.runtimes["exllamav2"]
        assert app.state.settings.runtime == "exllamav2"
        assert app.catalog.quants[app.state.settings.quant].format in runtime.quant_formats
        assert app.state.settings.kv_cache in runtime.kv_cache_types
        assert any("does not take the previous" in n for n in notes(app))
        await pilot.press("u")
        assert app.state.settings.runtime == "llama-cpp"
        assert app.state.settings.quant == "Q4_K_M"


async def test_settings_table_enter_edits_row(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("tab")
        assert isinstance(app.focused, SettingsTable)
        for _ in range(8):
            await pilot.press("down")
        await pilot.press("enter")
        assert isinstance(app.screen, Prompt)
        assert "Context" in app.screen.title_text


async def test_undo_redo_keys_and_messages(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        assert any("Nothing to undo" in n for n in notes(app))
        await pilot.press("d")
        assert len(app.state.rig.gpus) == 3
        await pilot.press("u")
        assert len(app.state.rig.gpus) == 2
        assert any(n.startswith("Undid: duplicate GPU 0") for n in notes(app))
        await pilot.press("ctrl+r")
        assert len(app.state.rig.gpus) == 3
        assert any(n.startswith("Redid: duplicate GPU 0") for n in notes(app))
        await pilot.press("ctrl+z")
        assert len(app.state.rig.gpus) == 2
        await pilot.press("ctrl+y")
        assert len(app.state.rig.gpus) == 3
        await pilot.press("ctrl+y")
        assert any("Nothing to redo" in n for n in notes(app))


async def test_verdict_redraws_after_edit(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = str(app.screen.query_one("#verdict", Static).render())
        await pilot.press("p", *"500", "enter")
        await settle(pilot)
        after = str(app.screen.query_one("#verdict", Static).render())
        assert after != before
        assert "500 W" in after


async def test_gpu_table_shows_edits(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "c")
        table = app.screen.query_one(GpuTable)
        assert str(table.get_cell("1", "slot")) == "chipset"
        assert isinstance(table, DataTable)


def _unknown_card_app(app_factory, catalog) -> Any:
    """An app on the 'unknown-card' demo: GPU 0 matched, GPU 1 not in the catalog."""
    from rigtui.hardware import FakeSource, detect_rig

    source = FakeSource("unknown-card")
    detected = detect_rig(source.info(), catalog, catalog.oses["ubuntu-24.04"])
    assert len(detected.rig.gpus) == 1
    assert len(detected.unmatched) == 1
    return app_factory(rig=detected.rig, unmatched=detected.unmatched), detected.unmatched[0]


async def test_unknown_card_listed_and_identified(app_factory, catalog, settle) -> None:
    app, unknown = _unknown_card_app(app_factory, catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(GpuTable)
        assert table.row_count == 2
        name_cell = str(table.get_row_at(1)[1])
        assert "NVIDIA Graphics Device" in name_cell
        assert "unknown" in name_cell

        await pilot.press("down", "x")
        assert len(app.state.rig.gpus) == 1
        assert any("press i" in n for n in notes(app))

        await pilot.press("enter")
        assert isinstance(app.screen, Picker)
        assert "GPU 1" in app.screen.title_text
        await pilot.press(*"rtx 3090", "enter")
        await settle(pilot)
        assert [g.spec.id for g in app.state.rig.gpus] == [app.state.rig.gpus[0].spec.id, "rtx-3090"]
        added = app.state.rig.gpus[1]
        assert added.uuid == unknown.info.uuid
        assert 0 < added.used_bytes <= unknown.info.mem_used_bytes
        assert added.pcie_gen == min(unknown.info.pcie_gen_max, added.spec.pcie_gen)
        assert added.pcie_lanes == min(unknown.info.pcie_width_max, added.spec.pcie_lanes)
        assert app.screen.query_one(GpuTable).row_count == 2

        await pilot.press("u")
        await settle(pilot)
        assert len(app.state.rig.gpus) == 1
        assert app.screen.query_one(GpuTable).row_count == 2


async def test_identify_key_without_unknown_cards(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        assert isinstance(app.screen, RigScreen)
        assert any("Every detected card is in the catalog" in n for n in notes(app))
