"""Upgrade options: distinct outcomes, titles, value ranking with resale gains, unknown resale."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upgrade_fixtures import PRICES, RTX_3090, RTX_4090, TODAY, card, price, rig, settings  # noqa: E402

from rigtui.core.money import PriceBook, PriceOverride  # noqa: E402
from rigtui.core.upgrade import build_rig, plan_upgrades, upgrade_options, with_article  # noqa: E402

MIXED = rig(RTX_4090, RTX_3090)


def test_options_have_distinct_outcomes():
    gpus = settings().gpus
    options = upgrade_options(MIXED, ["rtx-3090", "rtx-5090"], gpus)
    outcomes = []
    for option in options:
        result = build_rig(MIXED, option, gpus)
        outcomes.append((tuple(sorted(g.spec.id for g in result.gpus)), bool(result.nvlink_pairs)))
    assert len(outcomes) == len(set(outcomes))
    ids = {o.id for o in options}
    # Selling the 4090 for a second 3090 is the same purchase as replacing both with two 3090s;
    # the option with fewer transactions stays.
    assert "swap:rtx-4090:rtx-3090+nvlink" in ids
    assert "replace:2:rtx-3090+nvlink" not in ids
    assert "replace:2:rtx-3090" not in ids


def test_article_follows_sound():
    assert with_article("GeForce RTX 5090") == "a GeForce RTX 5090"
    assert with_article("RTX PRO 6000") == "an RTX PRO 6000"
    assert with_article("A100 80GB PCIe") == "an A100 80GB PCIe"
    assert with_article("Radeon RX 7900 XTX") == "a Radeon RX 7900 XTX"
    assert with_article("Instinct MI300X") == "an Instinct MI300X"
    assert with_article("GTX 1060 6GB") == "a GTX 1060 6GB"


def test_add_title_uses_article():
    geforce = card("rtx-5090", "GeForce RTX 5090", 32, 1792.0, 575)
    gpus = dict(settings().gpus, **{"rtx-5090": geforce})
    titles = {o.id: o.title for o in upgrade_options(MIXED, ["rtx-5090"], gpus)}
    assert titles["add:rtx-5090"] == "Add a GeForce RTX 5090"
    assert not any(" an G" in t or " a R" in t for t in titles.values())


def _book(*overrides: PriceOverride, currency: str = "USD", prices=PRICES) -> PriceBook:
    return PriceBook(prices, currency, overrides, today=TODAY)


def test_value_ranks_resale_gain_first():
    # A used 4090 at 500 for the 3090 (used 650-850, so 750 expected) pays back 250 and
    # swaps the slowest card for a faster one.
    plan = plan_upgrades(MIXED, settings(goal="value", prices=_book(PriceOverride("rtx-4090", 500, "new"),
                                                                      PriceOverride("rtx-4090", 500, "used"))),
                         candidates=[])
    top = plan.options[0]
    assert top.option.id == "swap:rtx-3090:rtx-4090"
    assert top.net_cost.expected == -250
    assert top.rank_reason.startswith("gains 250 USD and +")
    assert "per token/s" not in top.rank_reason


def test_value_rate_below_one_unit_keeps_cents():
    # Buying a 4090 at 760 for the 3090's 750 resale costs 10 net for about 2 tokens/s.
    book = _book(PriceOverride("rtx-4090", 760))
    plan = plan_upgrades(MIXED, settings(goal="value", prices=book), candidates=[])
    swap = next(f for f in plan.options if f.option.id == "swap:rtx-3090:rtx-4090")
    rate = swap.rank_reason.split(" USD per token/s")[0]
    assert float(rate) > 0
    assert "." in rate


def test_rank_puts_fitting_before_not_fitting():
    for goal in ("fastest", "value"):
        plan = plan_upgrades(MIXED, settings(goal=goal, budget=1000), candidates=["rtx-4090", "rtx-5090"])
        eligible = [f for f in plan.options if f.within_budget is not False and f.net_cost is not None]
        fitting = [f.rank for f in eligible if f.target_fits]
        not_fitting = [f.rank for f in eligible if not f.target_fits]
        assert fitting and not_fitting, goal
        assert max(fitting) < min(not_fitting), goal


def test_unknown_resale_makes_cost_upper_bound():
    eur = [price("rtx-5090", "new", 1700, 1900, currency="EUR")]
    book = _book(PriceOverride("rtx-5090", 1800), currency="EUR", prices=PRICES + eur)
    plan = plan_upgrades(MIXED, settings(goal="fastest", prices=book), candidates=["rtx-5090"])
    replace_all = next(f for f in plan.options if f.option.id == "replace:2:rtx-5090")
    assert replace_all.net_cost.expected == 3600
    assert set(replace_all.unpriced_sales) == {"rtx-4090", "rtx-3090"}
    assert "at most 3,600 EUR" in replace_all.rank_reason
    notes = " ".join(replace_all.price_notes)
    assert "Resale of RTX 4090 not counted: no used EUR price" in notes
    assert "--price 'RTX 3090=AMOUNT:used'" in notes
    assert "upper bound" in notes
