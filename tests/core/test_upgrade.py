"""Upgrade options: generation, money, power, ranking and the mixed-rig comparison."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upgrade_fixtures import (  # noqa: E402
    M70,
    M120,
    M235,
    PRICES,
    RTX_3090,
    RTX_4090,
    TODAY,
    price,
    rig,
    settings,
    stand_in_decode,
)

from rigtui.core.money import MoneyRange, PriceBook, PriceOverride, is_stale, months_before  # noqa: E402
from rigtui.core.upgrade import (  # noqa: E402
    UpgradeOption,
    build_rig,
    evaluate_option,
    mixed_rig_comparison,
    plan_upgrades,
    rank_options,
    upgrade_options,
)

MIXED = rig(RTX_4090, RTX_3090)


def option_ids(options) -> set[str]:
    return {o.id for o in options}


def test_options_for_mixed_pair():
    ids = option_ids(upgrade_options(MIXED, ["rtx-5090"], settings().gpus))
    assert {"keep", "swap:rtx-4090:rtx-3090", "swap:rtx-3090:rtx-4090"} <= ids
    assert {"add:rtx-4090", "add:rtx-3090", "add:rtx-5090"} <= ids
    assert {"replace:1:rtx-5090", "replace:2:rtx-5090"} <= ids
    # Selling the 4090 for a second 3090 gives a pair that takes a bridge.
    assert "swap:rtx-4090:rtx-3090+nvlink" in ids
    assert "swap:rtx-3090:rtx-4090+nvlink" not in ids


def test_bridge_option_for_unbridged_pair():
    ids = option_ids(upgrade_options(rig(RTX_3090, RTX_3090), [], settings().gpus))
    assert "nvlink" in ids
    assert "nvlink" not in option_ids(upgrade_options(rig(RTX_3090, RTX_3090, nvlink=True), [], settings().gpus))


def test_max_cards_stops_adds():
    ids = option_ids(upgrade_options(rig(RTX_3090, RTX_3090), ["rtx-5090"], settings().gpus, max_cards=2))
    assert not any(i.startswith("add:") for i in ids)


def test_build_rig_reuses_sold_slot():
    slow = rig(RTX_4090, RTX_3090)
    slow = slow.with_gpus((slow.gpus[0], slow.gpus[1].__class__(RTX_3090, 3, 4, via_chipset=True)))
    option = UpgradeOption("swap", "swap", "", sell=(1,), buy=("rtx-4090",))
    result = build_rig(slow, option, settings().gpus)
    assert [g.spec.id for g in result.gpus] == ["rtx-4090", "rtx-4090"]
    assert (result.gpus[1].pcie_gen, result.gpus[1].pcie_lanes, result.gpus[1].via_chipset) == (3, 4, True)


def test_swap_net_cost_subtracts_resale_range():
    option = UpgradeOption("swap", "swap", "", sell=(1,), buy=("rtx-4090",))
    figures = evaluate_option(MIXED, option, settings(buy_condition="new"))
    # Buy a new 4090 at 1600-1800, sell the 3090 at 650-850.
    assert figures.net_cost == MoneyRange(1600 - 850, 1700 - 750, 1800 - 650, "USD")


def test_buy_any_takes_cheaper_condition():
    option = UpgradeOption("add", "add", "", buy=("rtx-4090",))
    figures = evaluate_option(MIXED, option, settings())
    assert figures.purchases[0].condition == "used"
    assert figures.net_cost.expected == 1400
    new_only = evaluate_option(MIXED, option, settings(buy_condition="new"))
    assert new_only.net_cost.expected == 1700


def test_price_override_for_one_condition():
    book = PriceBook(PRICES, "USD", [PriceOverride("rtx-3090", 500, "used")], today=TODAY)
    option = UpgradeOption("swap", "swap", "", sell=(1,), buy=("rtx-4090",))
    figures = evaluate_option(MIXED, option, settings(prices=book, buy_condition="new"))
    assert figures.sales[0].overridden
    assert figures.net_cost == MoneyRange(1600 - 500, 1700 - 500, 1800 - 500, "USD")
    assert book.quote("rtx-3090", "new") is None


def test_price_override_without_condition_sets_both():
    book = PriceBook(PRICES, "USD", [PriceOverride("rtx-5090", 1999)], today=TODAY)
    assert book.quote("rtx-5090", "new").expected == 1999
    assert book.quote("rtx-5090", "used").expected == 1999


def test_missing_resale_counts_zero_and_says_so():
    book = PriceBook([p for p in PRICES if p.gpu != "rtx-3090"], "USD", today=TODAY)
    option = UpgradeOption("swap", "swap", "", sell=(1,), buy=("rtx-4090",))
    figures = evaluate_option(MIXED, option, settings(prices=book))
    assert figures.net_cost.expected == 1400
    assert figures.unpriced_sales == ("rtx-3090",)
    assert any("not counted" in n and "RTX 3090=AMOUNT:used" in n for n in figures.price_notes)
    assert any("upper bound" in n for n in figures.price_notes)


def test_missing_purchase_price_leaves_cost_unknown():
    book = PriceBook([p for p in PRICES if p.gpu != "rtx-5090"], "USD", today=TODAY)
    option = UpgradeOption("add", "add", "", buy=("rtx-5090",))
    figures = evaluate_option(MIXED, option, settings(prices=book))
    assert figures.net_cost is None
    assert figures.tco_12_months is None


def test_other_currency_is_not_converted():
    book = PriceBook(PRICES, "EUR", today=TODAY)
    assert book.buy_quote("rtx-4090") is None
    message = book.missing_message("rtx-4090", "RTX 4090", "new")
    assert "No new EUR price for RTX 4090" in message
    assert "USD" in message and "does not convert" in message


def test_prices_in_requested_currency_are_used():
    book = PriceBook(PRICES + [price("rtx-4090", "new", 1500, 1700, currency="EUR")], "eur", today=TODAY)
    assert book.buy_quote("rtx-4090").currency == "EUR"
    assert book.buy_quote("rtx-4090").expected == 1600


def test_newest_price_wins():
    older = price("rtx-5090", "new", 1999, 1999, as_of=dt.date(2025, 1, 30))
    book = PriceBook([older] + PRICES, "USD", today=TODAY)
    assert book.quote("rtx-5090", "new").low == 2000


@pytest.mark.parametrize(
    ("as_of", "stale"),
    [(dt.date(2026, 2, 1), False), (dt.date(2026, 1, 31), True), (dt.date(2024, 5, 1), True), (None, False)],
)
def test_stale_after_six_months(as_of, stale):
    assert is_stale(as_of, TODAY) is stale


def test_months_before_clamps_day():
    assert months_before(dt.date(2026, 8, 31), 6) == dt.date(2026, 2, 28)


def test_stale_prices_are_listed_per_option():
    old = [price("rtx-4090", "new", 1600, 1800, as_of=dt.date(2025, 1, 1))] + [p for p in PRICES if p.gpu != "rtx-4090"]
    figures = evaluate_option(MIXED, UpgradeOption("add", "add", "", buy=("rtx-4090",)),
                              settings(prices=PriceBook(old, "USD", today=TODAY), buy_condition="new"))
    assert figures.stale_prices == ("rtx-4090",)


def test_electricity_and_tco():
    figures = evaluate_option(MIXED, UpgradeOption("keep", "keep", ""), settings(kwh_price=0.30, hours_per_day=8))
    # (450 + 350 + 150 W) x 8 h x 365 days = 2774 kWh.
    assert figures.electricity_per_year == pytest.approx(950 * 8 * 365 / 1000 * 0.30)
    assert figures.tco_12_months.expected == pytest.approx(figures.electricity_per_year)


def test_psu_upgrade_flagged_when_adding_card():
    small = rig(RTX_4090, RTX_3090, psu=1200)
    keep = evaluate_option(small, UpgradeOption("keep", "keep", ""), settings())
    added = evaluate_option(small, UpgradeOption("add", "add", "", buy=("rtx-5090",)), settings())
    assert not keep.psu_upgrade_needed
    assert added.psu_upgrade_needed
    assert added.power.sustained_w == 450 + 350 + 575 + 150


def test_slots_and_lanes():
    figures = evaluate_option(MIXED, UpgradeOption("add", "add", "", buy=("rtx-5090",)), settings())
    assert figures.slots_needed == 3 + 3 + 2
    assert figures.lanes_needed == 48


def test_usable_vram_and_largest_model():
    keep = evaluate_option(MIXED, UpgradeOption("keep", "keep", ""), settings())
    assert keep.usable_vram_bytes == 48 * 2**30
    # 48 GiB holds 70B at 4 bits (35 GB) but not 120B (60 GB).
    assert keep.largest_models[0] is M70
    pro = evaluate_option(MIXED, UpgradeOption("r", "replace", "", sell=(0, 1), buy=("rtx-pro-6000",)), settings())
    assert pro.largest_models[0] is M120


def test_cost_per_token_s():
    option = UpgradeOption("swap", "swap", "", sell=(1,), buy=("rtx-4090",))
    figures = evaluate_option(MIXED, option, settings())
    expected_tps = stand_in_decode(build_rig(MIXED, option, settings().gpus), M70)
    assert figures.decode.expected == pytest.approx(expected_tps)
    # A used 4090 (1300-1500) for the 3090 (650-850): 650 net.
    assert figures.cost_per_token_s == pytest.approx(650 / expected_tps)


def test_rank_fastest_orders_by_decode():
    plan = plan_upgrades(MIXED, settings(goal="fastest"), candidates=["rtx-5090"])
    ranked = [f for f in plan.options if f.within_budget is not False and f.target_fits]
    speeds = [f.decode.expected for f in ranked]
    assert speeds == sorted(speeds, reverse=True)
    assert plan.options[0].rank == 1
    assert "tokens/s on M70" in plan.options[0].rank_reason
    # One RTX 5090 (32 GiB) cannot hold the 35 GB model, so the top pick is two of them.
    assert plan.options[0].gpu_ids == ("rtx-5090", "rtx-5090")


def test_rank_respects_budget():
    plan = plan_upgrades(MIXED, settings(goal="fastest", budget=1000), candidates=["rtx-5090"])
    within = [f for f in plan.options if f.within_budget]
    over = [f for f in plan.options if f.within_budget is False]
    assert within and over
    assert max(f.rank for f in within) < min(f.rank for f in over)
    assert all(f.net_cost.expected <= 1000 for f in within)
    assert all(f.rank_reason.startswith("over budget") for f in over)


def test_rank_value_is_cost_per_gained_token_s():
    plan = plan_upgrades(MIXED, settings(goal="value"), candidates=["rtx-5090"])
    baseline = stand_in_decode(MIXED, M70)
    assert plan.baseline_tps == pytest.approx(baseline)
    gaining = [f for f in plan.options if f.target_fits and f.decode.expected > baseline + 1e-9]
    ratios = [max(f.net_cost.expected, 0) / (f.decode.expected - baseline) for f in gaining]
    assert ratios == sorted(ratios)
    top = plan.options[0]
    assert "per token/s gained" in top.rank_reason
    # Two 5090s: 4400 - (1400 + 750) resale = 2250 for 1792/936 of the speed, about 92 USD per
    # token/s gained; a used 4090 for the 3090 costs 650 for 1008/936, about 316 per token/s.
    assert top.option.id == "replace:2:rtx-5090"


def test_rank_largest_prefers_bigger_model_then_cheaper():
    plan = plan_upgrades(MIXED, settings(goal="largest"), candidates=["rtx-pro-6000"])
    top = plan.options[0]
    assert top.largest_models[0] in (M120, M235)
    assert all(_params(top) >= _params(f) for f in plan.options)


def _params(figures) -> int:
    return figures.largest_models[0].params_total if figures.largest_models else 0


def test_rank_options_puts_unpriced_last():
    book = PriceBook([p for p in PRICES if p.gpu != "rtx-5090"], "USD", today=TODAY)
    s = settings(prices=book)
    options = [evaluate_option(MIXED, UpgradeOption("keep", "keep", ""), s),
               evaluate_option(MIXED, UpgradeOption("a", "add", "", buy=("rtx-5090",)), s)]
    ranked = rank_options(options, "fastest", M70)
    assert ranked[-1].option.id == "a"
    assert ranked[-1].rank_reason.startswith("unranked")


def test_mixed_rig_comparison_rows():
    rows = mixed_rig_comparison(
        MIXED, settings(), [(("rtx-3090", "rtx-3090"), True), (("rtx-4090", "rtx-4090"), False)]
    )
    assert [r.gpu_ids for r in rows] == [("rtx-4090", "rtx-3090"), ("rtx-3090", "rtx-3090"), ("rtx-4090", "rtx-4090")]
    assert rows[1].rig.nvlink_pairs == frozenset({(0, 1)})
    assert rows[1].option.sell == (0,) and rows[1].option.buy == ("rtx-3090",)
    # Sell the 4090 (used 1300-1500), buy a used 3090 (650-850).
    assert rows[1].net_cost.expected == 750 - 1400
    assert rows[2].net_cost.expected == 1400 - 750
    assert rows[0].net_cost.expected == 0
