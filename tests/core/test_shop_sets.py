"""The shop's set enumeration and bounds in numpy against the scalar code they replace."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigtui.core.rig import Rig
from rigtui.core.shop import _card_arrays, card_bound, decode_bound_of, optimistic_columns, optimistic_key, target_bound
from rigtui.core.shop_sets import NO_CARD, affordable_sets, column_sums, turn_taking_bounds
from tests.core.conftest import make_rig, make_workload


def depth_first_sets(prices: list[float], budget: float, max_count: int) -> list[tuple[tuple[int, ...], float]]:
    """Enumerate multisets of card indexes within budget one by one, each before its extensions."""
    found = []

    def grow(start: int, chosen: list[int], spent: float) -> None:
        if chosen:
            found.append((tuple(chosen), spent))
        if len(chosen) == max_count:
            return
        for i in range(start, len(prices)):
            if spent + prices[i] > budget:
                break
            chosen.append(i)
            grow(i, chosen, spent + prices[i])
            chosen.pop()

    grow(0, [], 0.0)
    return found


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.floats(min_value=0, max_value=3000, allow_nan=False), min_size=0, max_size=9),
    budget=st.floats(min_value=0, max_value=8000, allow_nan=False),
    max_count=st.integers(min_value=0, max_value=4),
)
def test_affordable_sets_match_depth_first(prices, budget, max_count) -> None:
    prices = sorted(prices)
    sets, sums = affordable_sets(np.array(prices, dtype=float), budget, max_count)
    expected = depth_first_sets(prices, budget, max_count)
    found = [tuple(int(i) for i in row if i != NO_CARD) for row in sets]
    assert found == [combo for combo, _ in expected]
    assert list(sums) == [spent for _, spent in expected]


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.3-70b", "qwen3-30b-a3b", "qwen3-235b-a22b"])
def test_turn_taking_bounds_match_scalar(catalog, model) -> None:
    workload = make_workload(catalog, model)
    kept = make_rig(catalog, "RTX 3060 12GB")
    empty = Rig(gpus=(), os=kept.os)
    ids = sorted(catalog.gpus)[:30]
    target = target_bound(workload, kept.cpu_ram_bandwidth_gbs)
    cards = [card_bound(catalog.gpus[i], empty, workload) for i in ids]
    kept_cards = [card_bound(g.spec, kept, workload, g.used_bytes, g.desktop) for g in kept.gpus]
    rng = np.random.default_rng(7)
    rows = []
    for size in rng.integers(1, 4, size=300):
        chosen = sorted(rng.integers(0, len(ids), size=size).tolist())
        rows.append(chosen + [NO_CARD] * (3 - size))
    sets = np.array(rows)
    bounds = turn_taking_bounds(sets, _card_arrays(kept_cards), _card_arrays(cards),
                                n_layers=workload.model.n_layers, **target.as_arrays_kwargs())
    for row, bound in zip(rows, bounds):
        chosen = kept_cards + [cards[i] for i in row if i != NO_CARD]
        assert bound == decode_bound_of(chosen, workload, target, 1.0, shared=False).turn_taking, row
    capacities = column_sums(sets, np.array([c.capacity for c in cards]), kept_cards[0].capacity)
    for row, total in zip(rows, capacities):
        assert total == sum(c.capacity for c in kept_cards + [cards[i] for i in row if i != NO_CARD])


@pytest.mark.parametrize("goal", ["fastest", "value", "largest"])
def test_optimistic_columns_order_like_keys(goal) -> None:
    rng = np.random.default_rng(3)
    bounds = rng.choice([0.0, 5.0, 12.5, 40.0, 80.0], size=200)
    low_costs = rng.choice([-300.0, 0.0, 700.0, 1500.0, 2500.0], size=200)
    may_fit = rng.random(200) < 0.5
    columns = optimistic_columns(goal, bounds, low_costs, may_fit, 10.0)
    order = np.lexsort((np.arange(200), *reversed(columns)))
    keys = [(optimistic_key(goal, float(b), float(c), bool(f), 10.0), i) for i, (b, c, f) in enumerate(zip(bounds, low_costs, may_fit))]
    assert [int(i) for i in order] == [i for _, i in sorted(keys)]
