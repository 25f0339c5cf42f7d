"""The shop's bounds against the real placement and speed model, on bundled catalog cards."""

from __future__ import annotations

import itertools

import pytest

from rigtui.core.fit import EXPERIMENTAL_SPLITS, cannot_hold_all_layers, every_card_holds_all_layers, fit
from rigtui.core.money import PriceBook
from rigtui.core.rig import Rig
from rigtui.core.shop import decode_upper_bound, finalist_count, screen_evaluate, screens, shop
from rigtui.core.upgrade import UpgradeOption, UpgradeSettings, decode_of, evaluate_option, fits_on_gpus, rank_key, rank_options
from tests.core.conftest import make_rig, make_workload
from tests.core.test_upgrade_shop import without_idle_cards

CARD_SETS = [
    ("RTX 4090",), ("RTX 3090", "RTX 3090"), ("RTX 4090", "RTX 3090"), ("RTX 3060 12GB", "RTX 3060 12GB", "RTX 3060 12GB"),
    ("RTX 5090", "RTX 3060 12GB"), ("Tesla P40", "Tesla P40"), ("RTX A6000",), ("RTX 4090", "RTX 3090", "RTX 3060 12GB"),
]
TARGETS = [("llama-3.3-70b", "Q4_K_M", "llama.cpp"), ("qwen2.5-32b", "Q4_K_M", "llama.cpp"),
           ("qwen3-30b-a3b", "Q4_K_M", "llama.cpp"), ("llama-3.1-8b", "Q8_0", "llama.cpp"),
           ("llama-3.3-70b", "Q4_K_M", "ollama"), ("qwen2.5-32b", "awq-4bit", "vllm")]


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: "-".join(t))
def test_decode_bound_is_above_real_speed(catalog, target) -> None:
    model, quant, runtime = target
    for cards in CARD_SETS:
        rig = make_rig(catalog, *cards)
        workload = make_workload(catalog, model, quant, runtime)
        try:
            result = fit(rig, workload, with_max_context=False)
        except ValueError:
            continue
        bound = decode_upper_bound(rig, workload)
        assert bound.stable <= bound.any_split
        assert bound.turn_taking <= bound.stable
        screened = screen_evaluate(rig, workload)
        if screened.fits and screened.decode is not None and "layer" in workload.runtime.split_strategies:
            assert screened.decode.expected <= bound.turn_taking * (1 + 1e-9), (cards, screened.split)
        for placed in (result, *result.alternatives):
            if not placed.fits or placed.decode is None:
                continue
            limit = bound.any_split if placed.split in EXPERIMENTAL_SPLITS else bound.stable
            if placed.split in ("single", "layer", "pipeline-parallel"):
                limit = bound.turn_taking
            assert placed.decode.expected <= limit * (1 + 1e-9), (cards, placed.split)


SMALL_CATALOG = ("rtx-3060-12gb", "rtx-3090", "rtx-4090", "tesla-p40")


def _settings(catalog, goal: str, model: str = "llama-3.3-70b") -> UpgradeSettings:
    target = make_workload(catalog, model)
    gpus = {g: catalog.gpus[g] for g in SMALL_CATALOG}
    models = tuple(catalog.models[m] for m in ("llama-3.1-8b", "qwen2.5-32b", "llama-3.3-70b", "qwen2.5-72b"))
    return UpgradeSettings(target=target, gpus=gpus, prices=PriceBook(catalog.prices, "USD"), models=models,
                           goal=goal, max_cards=3)  # type: ignore[arg-type]


# A 70B model needs two cards, an 8B one fits on any card (so most sets have a card that adds
# nothing), and a 235B MoE model fits on no set and runs only with its experts in CPU RAM.
@pytest.mark.parametrize("model", ["llama-3.3-70b", "llama-3.1-8b", "qwen3-235b-a22b"])
@pytest.mark.parametrize("goal", ["fastest", "value", "largest"])
def test_shop_matches_exhaustive_search_with_real_fit(catalog, goal, model) -> None:
    """Rank every affordable set by the shop's two-stage rule, without its bounds or shortcuts.

    Every set is screened with the layer split alone; the ``finalist_count`` best screened
    sets are placed with every strategy and ranked, as the shop does. At both stages a set
    that one of its own cards adds nothing to is left out, found by placing it.
    """
    settings = _settings(catalog, goal, model)
    assert screens(settings)
    empty = Rig(gpus=(), os=catalog.os("ubuntu-24.04"))
    budget = 2500.0
    result = shop(empty, settings, budget, top=4)
    priced = [g for g in SMALL_CATALOG if settings.prices.buy_quote(g) is not None]
    full_settings = UpgradeSettings(**{**settings.__dict__, "budget": budget})
    screen_settings = UpgradeSettings(**{**full_settings.__dict__, "evaluate": screen_evaluate})
    screened = []
    for k in (1, 2, 3):
        for combo in itertools.combinations_with_replacement(sorted(priced, key=lambda g: (settings.prices.buy_quote(g).low, g)), k):
            option = UpgradeOption("x", "buy", "", buy=combo)
            figures = evaluate_option(empty, option, screen_settings, with_largest=goal == "largest")
            if figures.within_budget:
                screened.append(figures)
    assert len(screened) > finalist_count(4)

    def screen_of(combo):
        option = UpgradeOption("x", "buy", "", buy=combo)
        return evaluate_option(empty, option, screen_settings, with_largest=goal == "largest")

    def full_of(combo):
        return evaluate_option(empty, UpgradeOption("x", "buy", "", buy=combo), full_settings)

    screened = without_idle_cards(screened, screen_of, goal)
    finalists = sorted(screened, key=lambda f: rank_key(f, goal, 0.0))[: finalist_count(4)]
    found = [evaluate_option(empty, f.option, full_settings) for f in finalists]
    found = without_idle_cards(found, full_of, goal)
    expected = rank_options(found, goal, settings.target.model)[:4]
    assert [f.option.buy for f in result.options] == [f.option.buy for f in expected]
    assert [decode_of(f) for f in result.options] == pytest.approx([decode_of(f) for f in expected])
    assert [f.net_cost.expected for f in result.options] == pytest.approx([f.net_cost.expected for f in expected])
    assert [f.largest_models for f in result.options] == [f.largest_models for f in expected]
    assert result.evaluated <= result.combinations


@pytest.mark.parametrize("runtime", ["llama.cpp", "ollama"])
def test_every_card_check_matches_placement(catalog, runtime) -> None:
    """The largest-model search's shortcut gives what placing with ``plan_every_card`` gives."""
    models = ["llama-3.1-8b", "qwen2.5-32b", "llama-3.3-70b", "qwen2.5-72b", "qwen3-30b-a3b", "mixtral-8x22b",
              "qwen3-235b-a22b", "command-r-plus-104b", "gpt-oss-120b"]
    answered = 0
    for cards in CARD_SETS:
        rig = make_rig(catalog, *cards)
        for model in models:
            workload = make_workload(catalog, model, runtime=runtime)
            quick = every_card_holds_all_layers(rig, workload)
            if quick is None:
                continue
            answered += 1
            assert quick == fits_on_gpus(screen_evaluate(rig, workload), workload.model), (cards, model)
    assert answered > 0 if runtime == "llama.cpp" else answered == 0


@pytest.mark.parametrize("runtime", ["llama.cpp", "ollama", "vllm"])
def test_cannot_hold_check_never_contradicts_fit(catalog, runtime) -> None:
    """A model the shortcut rules out never fits on the GPUs under ``fit``."""
    models = ["llama-3.1-8b", "qwen2.5-32b", "llama-3.3-70b", "qwen2.5-72b", "qwen3-30b-a3b", "mixtral-8x22b",
              "qwen3-235b-a22b", "command-r-plus-104b", "gpt-oss-120b", "mistral-large-123b"]
    ruled_out = 0
    for cards in CARD_SETS:
        rig = make_rig(catalog, *cards)
        for model in models:
            quant = "awq-4bit" if runtime == "vllm" else "Q4_K_M"
            workload = make_workload(catalog, model, quant, runtime)
            if not cannot_hold_all_layers(rig, workload):
                continue
            ruled_out += 1
            try:
                result = fit(rig, workload, with_max_context=False)
            except ValueError:
                continue
            assert not fits_on_gpus(result, workload.model), (cards, model)
    assert ruled_out > 0 if runtime == "llama.cpp" else ruled_out == 0
