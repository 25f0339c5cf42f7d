"""The shop search: its bounds must never skip a card set that belongs in the top results."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upgrade_fixtures import GPUS, LINUX, RTX_3090, RTX_4090, rig, settings  # noqa: E402

from rigtui.core.rig import Rig  # noqa: E402
from rigtui.core.shop import shop  # noqa: E402
from rigtui.core.upgrade import UpgradeOption, decode_of, evaluate_option, rank_options  # noqa: E402

EMPTY = Rig(gpus=(), os=LINUX)


def _params(figures) -> int:
    return figures.largest_models[0].params_total if figures.largest_models else 0


def without_idle_cards(found, figures_of, goal: str):
    """Drop sets where leaving one bought card out costs no more and is as good for the goal.

    ``figures_of`` returns the figures of a set of bought cards. Speeds count as equal within
    0.05 tokens/s, half the 0.1 step they are shown in.
    """
    kept = []
    for figures in found:
        combo = list(figures.option.buy)
        dominated = False
        for card in set(combo) if len(combo) > 1 else ():
            rest = list(combo)
            rest.remove(card)
            smaller = figures_of(tuple(rest))
            if smaller.net_cost.expected > figures.net_cost.expected:
                continue
            if goal == "largest":
                dominated = dominated or _params(smaller) >= _params(figures)
            else:
                fits = smaller.target_fits or not figures.target_fits
                dominated = dominated or (fits and decode_of(smaller) >= decode_of(figures) - 0.05)
        if not dominated:
            kept.append(figures)
    return kept


def brute_force(base: Rig, goal: str, budget: float, max_new: int, sell: bool, top: int):
    s = settings(goal=goal, budget=budget)
    sell_idx = tuple(range(len(base.gpus))) if sell else ()
    found = []
    for k in range(1, max_new + 1):
        for combo in itertools.combinations_with_replacement(sorted(GPUS), k):
            option = UpgradeOption("buy:" + "+".join(combo), "buy", "", sell=sell_idx, buy=combo)
            figures = evaluate_option(base, option, s)
            if figures.within_budget:
                found.append(figures)
    baseline = 0.0
    if base.gpus:
        keep = evaluate_option(base, UpgradeOption("keep", "keep", ""), s)
        baseline = keep.decode.expected if keep.target_fits else 0.0

    def figures_of(combo):
        return evaluate_option(base, UpgradeOption("sub", "buy", "", sell=sell_idx, buy=combo), s)

    found = without_idle_cards(found, figures_of, goal)
    return rank_options(found, goal, s.target.model, baseline)[:top]


@pytest.mark.parametrize("goal", ["fastest", "value", "largest"])
@pytest.mark.parametrize("budget", [2500, 6000, 20000])
def test_shop_matches_brute_force_from_scratch(goal, budget):
    result = shop(EMPTY, settings(goal=goal), budget, top=5)
    expected = brute_force(EMPTY, goal, budget, 4, False, 5)
    assert [f.option.buy for f in result.options] == [f.option.buy for f in expected]


@pytest.mark.parametrize("goal", ["fastest", "value", "largest"])
def test_shop_selling_current_cards_matches_brute_force(goal):
    current = rig(RTX_4090, RTX_3090)
    result = shop(current, settings(goal=goal), 3000, sell_current=True, top=5)
    expected = brute_force(current, goal, 3000, 4, True, 5)
    assert [f.option.buy for f in result.options] == [f.option.buy for f in expected]


def test_shop_keeping_current_cards_counts_them_toward_max():
    current = rig(RTX_4090, RTX_3090)
    result = shop(current, settings(goal="fastest", max_cards=3), 10000, top=50)
    assert all(len(f.option.buy) == 1 for f in result.options)
    assert all(len(f.gpu_ids) == 3 for f in result.options)


def test_shop_stays_within_budget():
    result = shop(EMPTY, settings(goal="fastest"), 4000, top=50)
    assert result.options
    assert all(f.net_cost.expected <= 4000 for f in result.options)


def test_shop_resale_raises_reach():
    current = rig(RTX_4090, RTX_3090)
    # 2 x 5090 costs 4400; with 4090 and 3090 sold (2150 expected) a 2500 budget reaches it.
    selling = shop(current, settings(goal="fastest"), 2500, sell_current=True, top=3)
    assert selling.options[0].option.buy == ("rtx-5090", "rtx-5090")
    assert selling.options[0].net_cost.expected == pytest.approx(4400 - 2150)


def test_shop_prunes():
    result = shop(EMPTY, settings(goal="fastest"), 50000, top=3)
    assert result.evaluated < result.combinations


@pytest.mark.parametrize("goal", ["fastest", "value", "largest"])
def test_shop_drops_sets_with_idle_card(goal):
    s = settings(goal=goal, budget=20000)
    result = shop(EMPTY, settings(goal=goal), 20000, top=8)
    assert len(result.options) == 8

    def figures_of(combo):
        return evaluate_option(EMPTY, UpgradeOption("sub", "buy", "", buy=combo), s)

    assert without_idle_cards(list(result.options), figures_of, goal) == list(result.options)
