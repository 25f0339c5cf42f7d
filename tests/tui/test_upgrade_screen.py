"""The Upgrade screen: options from the core, the goal, target and budget keys, and what-if rigs."""

from __future__ import annotations

from typing import Any

from rigtui.core.upgrade import UpgradeSettings, plan_upgrades
from rigtui.tui.screens.upgrade import OptionTable, UpgradeScreen, short_title

SIZE = (160, 48)


async def open_upgrade(app: Any, pilot: Any, settle: Any) -> OptionTable:
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    assert isinstance(app.screen, UpgradeScreen)
    return app.screen.query_one(OptionTable)


def plan_for(app: Any, screen: UpgradeScreen):
    settings: UpgradeSettings = screen._settings()
    return plan_upgrades(app.state.rig, settings)


async def test_upgrade_rows_follow_core_ranking(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_upgrade(app, pilot, settle)
        expected = plan_for(app, app.screen)
        assert table.row_count == len(expected.options)
        shown = [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]
        assert shown == [f.option.id for f in expected.options]


async def test_upgrade_goal_key_reranks(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("g")
        await settle(pilot)
        screen = app.screen
        assert screen.goal == "value"
        assert screen.plan is not None and screen.plan.goal == "value"


async def test_upgrade_budget_prompt(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("1", "0", "0", "0", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.budget == 1000
        over = [f for f in screen.plan.options if f.within_budget is False]
        assert all(f.net_cost.expected > 1000 for f in over)
        assert all(f.rank > max(g.rank for g in screen.plan.options if g.within_budget) for f in over)


async def test_upgrade_option_opens_as_what_if_with_undo(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_upgrade(app, pilot, settle)
        before = app.state.rig
        screen = app.screen
        row = next(i for i, f in enumerate(screen.plan.options) if f.option.kind != "keep")
        table.move_cursor(row=row)
        chosen = screen.plan.options[row]
        await pilot.press("enter")
        await settle(pilot)
        assert [g.spec.id for g in app.state.rig.gpus] == list(chosen.gpu_ids)
        await pilot.press("u")
        await settle(pilot)
        assert app.state.rig is before


def test_short_title_fixes_article() -> None:
    assert short_title("Add a GeForce RTX 5090") == "Add an RTX 5090"
    assert short_title("Add a GeForce GTX 1080 Ti") == "Add a GTX 1080 Ti"
    assert short_title("Sell the GeForce RTX 4090, buy a second GeForce RTX 3090") == "Sell the RTX 4090, buy a second RTX 3090"
