"""The Upgrade screen: options from the core, the goal, target and budget keys, and what-if rigs."""

from __future__ import annotations

from typing import Any

import pytest

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


async def test_upgrade_currency_key(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("c", "e", "u", "r", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.currency == "EUR"
        assert screen.settings.prices.currency == "EUR"
        assert screen.plan.currency == "EUR"
        # The fixed catalog has USD prices only, so no card can be bought in EUR.
        assert all(f.net_cost is None for f in screen.plan.options if f.option.buy)


async def test_upgrade_currency_rejects_bad_code(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("c", "e", "u", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, UpgradeScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.currency == "USD"


async def test_upgrade_kwh_and_hours_keys(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("e", "0", ".", "3", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.kwh_price == 0.3
        for figures in screen.plan.options:
            yearly = figures.power.sustained_w * 8 * 365 / 1000 * 0.3
            assert figures.electricity_per_year == pytest.approx(yearly)
            if figures.net_cost is not None:
                assert figures.tco_12_months.expected == pytest.approx(figures.net_cost.expected + yearly)
        await pilot.press("h", "1", "2", "enter")
        await settle(pilot)
        assert screen.hours_per_day == 12
        for figures in screen.plan.options:
            assert figures.electricity_per_year == pytest.approx(figures.power.sustained_w * 12 * 365 / 1000 * 0.3)
        await pilot.press("e", "backspace", "enter")
        await settle(pilot)
        assert screen.kwh_price is None
        assert all(f.electricity_per_year is None for f in screen.plan.options)


async def test_upgrade_hours_rejects_out_of_range(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("h", "2", "5", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, UpgradeScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.hours_per_day == 8


async def test_upgrade_price_override_key(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        await pilot.press("o", *"3090", "enter")
        await pilot.pause()
        await pilot.press("5", "0", "0", "enter")
        await settle(pilot)
        screen = app.screen
        assert screen.price_overrides == {"rtx-3090": 500.0}
        bought = [q for f in screen.plan.options for q in f.purchases if q.gpu == "rtx-3090"]
        assert bought
        assert all(q.overridden and q.expected == 500.0 for q in bought)
        await pilot.press("o", *"3090", "enter")
        await pilot.pause()
        await pilot.press("backspace", "enter")
        await settle(pilot)
        assert screen.price_overrides == {}
        assert not any(q.overridden for f in screen.plan.options for q in f.purchases)


async def test_upgrade_keys_in_palette(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await open_upgrade(app, pilot, settle)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for name in ("Currency", "kWh", "Hours", "Price", "Target", "Goal", "Budget"):
            assert any(title.startswith(name + ":") for title in titles), name
        shown = {binding.id for _, binding, enabled, _ in app.screen.active_bindings.values() if binding.show}
        assert {"upgrade-currency", "upgrade-kwh-price", "upgrade-hours", "upgrade-price"} <= shown


async def test_upgrade_detail_shows_running_cost_and_psu(app_factory, settle) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        table = await open_upgrade(app, pilot, settle)
        await pilot.press("e", "0", ".", "3", "enter")
        await settle(pilot)
        screen = app.screen
        row = next(i for i, f in enumerate(screen.plan.options) if f.psu_upgrade_needed)
        table.move_cursor(row=row)
        await settle(pilot)
        figures = screen.plan.options[row]
        detail = str(screen.query_one("#upgrade-detail").render())
        assert "PSU upgrade needed" in detail
        assert f"{figures.power.transient_w:.0f} W peak with transients" in detail
        assert "Electricity " in detail
        assert f"12-month cost {figures.tco_12_months.expected:,.0f} USD (net cost plus electricity)" in detail
        assert "as of 20" in detail
