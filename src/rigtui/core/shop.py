"""The shop: the best sets of cards a budget buys, searched best-first under proven bounds.

Placing a card set takes milliseconds, and a catalog of 40 priced cards has over 100,000
sets of up to four cards, so the search places only the sets whose upper bound can still
beat the ``top``-th best set placed so far. The bounds are relaxations of the speed model
(``core.speed``) and of the memory a card offers, so they never rank below the real figure:
a set skipped by its bound could not have entered the results.

Before placing a set, the search also drops two kinds of set that the idle-card rule would
drop after placing them: a set that cannot run even with CPU RAM, and a set whose fastest
cards already hold the target on the GPUs while its other cards are slower
(``_FasterPartHolds``). Every set's price sum,
memory sum and bound are computed at once (``rigtui.core.shop_sets``).

With the bundled placement (no custom ``evaluate``), the search runs in two stages. It
screens sets with llama.cpp's default and stable split, the layer split over every card of
the set (``fit.plan_every_card``), under the bound of the splits whose devices take turns,
which is much tighter than the bound over every split. The ``finalist_count(top)`` best
screened sets are then placed with every strategy, as ``fit`` does, and ranked. A set whose
screen ranks below the finalists is not placed in full, so a set that only a shared split
(row, tensor) makes fast can be missed. Leaving a slow card out is not screened, but the
set without that card is itself a set, and a cheaper one.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np

from rigtui.core import memory as _memory
from rigtui.core import placement as _placement
from rigtui.core import speed as _speed
from rigtui.core.fit import (
    EXPERIMENTAL_SPLITS,
    STRATEGIES,
    cannot_hold_all_layers,
    every_card_holds_all_layers,
    plan_every_card,
)
from rigtui.core.results import FitResult
from rigtui.core.shop_sets import NO_CARD, CardArrays, affordable_sets, column_sums, turn_taking_bounds
from rigtui.core.rig import MIB, Rig, Workload
from rigtui.core.specs import GpuSpec, ModelSpec
from rigtui.core.upgrade import (
    Goal,
    OptionFigures,
    UpgradeOption,
    UpgradeSettings,
    build_rig,
    decode_of,
    evaluate_option,
    rank_key,
    rank_options,
    weight_bytes_lower_bound,
)

# Synchronisations per layer each shared split needs, as the speed model counts them: a
# gather per weight matrix under llama.cpp row split, two all-reduces under tensor parallel.
_SYNCS_PER_LAYER = {"row": _speed._ROW_SYNCS_PER_LAYER, "tensor": _speed._TP_ALLREDUCES_PER_LAYER,
                    "tensor-parallel": _speed._TP_ALLREDUCES_PER_LAYER}
# Row split divides each matrix by free memory rounded to 0.1 GiB; this slack covers the
# rounding, so the bound's shares never favour a card less than the placement does.
_ROW_SHARE_SLACK = 0.98
# The speed model charges each device an average of bytes per parameter, which can fall
# below the per-tensor sizes that memory.model_weights adds up: a little when a GPU also holds
# the token embedding, more for MoE models whose experts and attention differ in type.
_READ_BYTES_SLACK = {"dense": 0.99, "moe": 0.95}
# fit tries every subset of the cards for the layer split up to this many cards.
_MAX_SUBSET_GPUS = 6


@dataclass(frozen=True)
class ShopResult:
    """The best affordable card sets, with search counts for the benchmark."""

    options: tuple[OptionFigures, ...]
    goal: Goal
    currency: str
    budget: float
    combinations: int
    """Card sets within budget."""
    evaluated: int
    """Card sets placed; the rest were skipped by a bound."""
    purchasable: tuple[str, ...] = ()
    """Cards searched: those with a purchase price in ``currency`` that the runtime drives."""
    notes: tuple[str, ...] = ()
    unpriced: tuple[str, ...] = ()
    """Cards the runtime drives that have no purchase price in ``currency``."""


@dataclass(frozen=True)
class DecodeBound:
    """Decode speeds no placement of the target on a card set can beat, tokens/s."""

    stable: float
    """Over every split except experimental ones (llama.cpp ``-sm tensor``)."""
    any_split: float
    """Over every split; ``fit`` picks an experimental split only when no stable one fits."""
    turn_taking: float = math.inf
    """Over the splits whose devices take turns: one card, layer split, pipeline parallel."""


@dataclass(frozen=True)
class _CardBound:
    """Per-card figures the speed bound needs, computed once per card model."""

    bytes_per_s: float
    capacity: float
    """Bytes it can hold for weights at most."""
    ratio_weight: float
    """Weight of the card in llama.cpp's default row-split ratios (free memory)."""
    token_overhead_ms: float
    layer_overhead_us: float
    sync_latency_us: float


@dataclass(frozen=True)
class _TargetBound:
    """Figures of the target workload the bound needs."""

    read_bytes: float
    """Bytes each decoded token reads at least, over all devices."""
    output_read_bytes: float
    """The part of ``read_bytes`` in the output head, which holds no KV cache."""
    read_density: float
    """Most bytes read per byte a repeating layer's weights and KV cache take on a card. For MoE
    models it counts a layer's dense part and KV cache only, because experts are their own pool."""
    compute_bytes: float
    """Least compute buffer a card that holds layers allocates."""
    cpu_bytes_per_s: float
    token_overhead_ms: float
    layer_overhead_us: float
    """Smallest per-layer cost of the CPU, which may run layers under offload."""
    routed_read_bytes: float = 0.0
    """The part of ``read_bytes`` in routed experts; 0 for dense models."""
    routed_density: float = 0.0
    """Bytes read per byte of routed experts on a card: the share of experts active per token."""

    def as_arrays_kwargs(self) -> dict[str, float]:
        """Return the figures that ``shop_sets.turn_taking_bounds`` takes."""
        return dict(read_bytes=self.read_bytes, output_read_bytes=self.output_read_bytes,
                    read_density=self.read_density, compute_bytes=self.compute_bytes,
                    routed_read_bytes=self.routed_read_bytes, routed_density=self.routed_density,
                    cpu_bytes_per_s=self.cpu_bytes_per_s, token_overhead_ms=self.token_overhead_ms,
                    layer_overhead_us=self.layer_overhead_us)


def _card_arrays(cards: list[_CardBound]) -> CardArrays:
    return CardArrays(
        bytes_per_s=np.array([c.bytes_per_s for c in cards], dtype=float),
        capacity=np.array([c.capacity for c in cards], dtype=float),
        token_overhead_ms=np.array([c.token_overhead_ms for c in cards], dtype=float),
        layer_overhead_us=np.array([c.layer_overhead_us for c in cards], dtype=float),
    )


def card_bound(spec: GpuSpec, rig: Rig, workload: Workload, used_bytes: int = 0, desktop: bool = False) -> _CardBound:
    """Return the figures of one card that the decode bound needs."""
    params = _speed.gpu_calibration(workload.runtime.engine, spec)
    quantized = workload.quant.format != "float"
    efficiency = params.bandwidth_efficiency * (params.quantized_bandwidth_factor if quantized else 1.0)
    reserve = rig.os.reserve_per_gpu_mib * MIB + (rig.os.desktop_reserve_mib * MIB if desktop else 0) + used_bytes
    free = max(0.0, spec.memory_bytes - reserve)
    capacity = free
    if workload.runtime.engine in ("vllm", "sglang"):
        capacity = max(capacity, spec.memory_bytes * _placement.gpu_memory_utilization(workload))
    capacity -= workload.runtime.per_gpu_overhead_mib * MIB
    return _CardBound(
        bytes_per_s=spec.bandwidth_gbs * 1e9 * efficiency,
        capacity=max(0.0, capacity),
        ratio_weight=free,
        token_overhead_ms=params.token_overhead_ms,
        layer_overhead_us=params.layer_overhead_us,
        sync_latency_us=params.sync_latency_us,
    )


def target_bound(workload: Workload, cpu_ram_bandwidth_gbs: float) -> _TargetBound:
    """Return the target's bytes read per token (a lower bound) and the CPU's speed figures."""
    model = workload.model
    weights = _memory.workload_weights(workload)
    shape = _speed.model_shape(model)
    dense = sum(layer.dense_bytes for layer in weights.layers)
    routed = sum(layer.expert_bytes for layer in weights.layers)
    read = dense + routed * shape.active_routed_fraction + weights.output_bytes
    density = 0.0
    for il, layer in enumerate(weights.layers):
        kv = _memory.kv_layer_bytes(model, il, workload.context, workload.kv_cache, workload.ggml_types,
                                    workload.ubatch, workload.parallel)
        # --n-cpu-moe leaves a layer's dense part alone on the card.
        dense_only = layer.dense_bytes / max(layer.dense_bytes + kv, 1)
        if routed:
            # Routed experts count as a second pool, read at the active share of their bytes.
            density = max(density, dense_only)
            continue
        whole = (layer.dense_bytes + layer.expert_bytes * shape.active_routed_fraction) / max(layer.total_bytes + kv, 1)
        density = max(density, whole, dense_only)
    compute = 0.0
    if workload.runtime.engine in _placement.LLAMACPP_ENGINES:
        shape_ = _memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
        compute = min(_memory.llamacpp_compute_bytes(shape_, holds_output, True) for holds_output in (False, True))
    slack = _READ_BYTES_SLACK["moe" if model.is_moe else "dense"]
    cpu = _speed.calibration_for(workload.runtime.engine, "cpu", "cpu")
    return _TargetBound(
        compute_bytes=float(compute),
        read_bytes=read * slack,
        output_read_bytes=weights.output_bytes * slack,
        read_density=min(density, 1.0) if density > 0 else 1.0,
        cpu_bytes_per_s=cpu_ram_bandwidth_gbs * 1e9 * cpu.cpu_bandwidth_efficiency,
        token_overhead_ms=cpu.token_overhead_ms,
        layer_overhead_us=cpu.layer_overhead_us,
        routed_read_bytes=routed * shape.active_routed_fraction * slack,
        routed_density=shape.active_routed_fraction if routed else 0.0,
    )


def _offered_splits(workload: Workload, n_cards: int) -> list[str]:
    if n_cards <= 1:
        return ["single"]
    offered = set(workload.runtime.split_strategies)
    return [s for s in STRATEGIES if s in offered]


def decode_bound_of(
    cards: list[_CardBound], workload: Workload, target: _TargetBound, link_scale: float, shared: bool = True
) -> DecodeBound:
    """Return the decode speeds no placement on these cards can beat.

    Each term is one of the speed model's terms at its smallest. The read time fills the
    fastest cards first, up to what each card can hold, and the rest comes from CPU RAM.
    The per-token and per-layer costs are the smallest any device has, and link hops are free. Shared splits (row, tensor, tensor parallel) read their shards at once and pay
    the speed model's synchronisations per layer at the fastest latency. ``shared=False``
    skips them and returns the turn-taking bound in every field, for callers that need only it.
    """
    if not cards:
        return DecodeBound(0.0, 0.0, 0.0)
    model = workload.model
    read = target.read_bytes
    token_s = min(min(c.token_overhead_ms for c in cards), target.token_overhead_ms) * 1e-3
    layer_s = min(min(c.layer_overhead_us for c in cards), target.layer_overhead_us) * 1e-6

    # Turn-taking splits (single, layer, pipeline parallel): device times add. The output
    # head is read at the fastest card's speed without taking its memory, and each card
    # takes layers at most at their densest mix of weights and KV cache. For MoE models the
    # fastest cards take the dense parts first and routed experts with the room left, because
    # that puts the most bytes read per byte of memory on the fastest cards.
    fastest = max(c.bytes_per_s for c in cards)
    seconds = target.output_read_bytes / fastest
    remaining = read - target.output_read_bytes - target.routed_read_bytes
    routed_left = target.routed_read_bytes
    for card in sorted(cards, key=lambda c: -c.bytes_per_s):
        room = max(0.0, card.capacity - target.compute_bytes)
        taken = min(remaining, room * target.read_density)
        routed_taken = 0.0
        if routed_left > 0:
            routed_taken = min(routed_left, max(0.0, room - taken / target.read_density) * target.routed_density)
            routed_left -= routed_taken
        seconds += (taken + routed_taken) / card.bytes_per_s
        remaining -= taken
    remaining += routed_left
    seconds += remaining / target.cpu_bytes_per_s if remaining > 0 else 0.0
    seconds += model.n_layers * layer_s + token_s
    stable = 1.0 / seconds
    turn_taking = stable
    best_any = stable
    if not shared:
        return DecodeBound(turn_taking, turn_taking, turn_taking)

    n = len(cards)
    gpu_layer_s = min(c.layer_overhead_us for c in cards) * 1e-6
    sync_s = min(c.sync_latency_us for c in cards) * 1e-6 * link_scale
    for split in _offered_splits(workload, n):
        if split not in _SYNCS_PER_LAYER:
            continue
        # Shared splits keep every weight on the GPUs; a set that cannot hold them does not fit.
        if read > sum(c.capacity for c in cards):
            continue
        if split in ("tensor", "tensor-parallel") and not workload.tensor_split and read / n > min(c.capacity for c in cards):
            # Even shards: the smallest card must hold its share of the weights.
            continue
        if split == "row" and not workload.tensor_split:
            total = sum(c.ratio_weight for c in cards) or 1.0
            shard = _ROW_SHARE_SLACK * max(read * c.ratio_weight / total / c.bytes_per_s for c in cards)
        elif split == "tensor" and not workload.tensor_split:
            shard = read / n / min(c.bytes_per_s for c in cards)
        else:
            shard = read / sum(c.bytes_per_s for c in cards)
        syncs = _SYNCS_PER_LAYER[split] * model.n_layers * (n - 1)
        # Every GPU holds a slice of every layer, so each launches every layer's kernels.
        together = shard + syncs * sync_s + model.n_layers * gpu_layer_s + token_s
        speed = 1.0 / together
        if split not in EXPERIMENTAL_SPLITS:
            stable = max(stable, speed)
        best_any = max(best_any, speed)
    return DecodeBound(stable, best_any, turn_taking)


def link_scale(rig: Rig) -> float:
    """Return the smallest latency scale the speed model may apply to the rig's synchronisations."""
    if len(rig.gpus) < 2:
        return 1.0
    first = rig.gpus[0]
    scales = []
    for index, other in enumerate(rig.gpus[1:], start=1):
        if rig.linked(0, index):
            kind = "nvlink"
        elif first.spec.id == other.spec.id and first.spec.segment != "consumer":
            kind = "p2p"
        else:
            kind = "host"
        scales.append(_speed._LINK_LATENCY_SCALE[kind])
    return max(scales)


def decode_upper_bound(rig: Rig, workload: Workload) -> DecodeBound:
    """Return the decode speeds no placement of ``workload`` on ``rig`` can beat."""
    cards = [card_bound(g.spec, rig, workload, g.used_bytes, g.desktop) for g in rig.gpus]
    return decode_bound_of(cards, workload, target_bound(workload, rig.cpu_ram_bandwidth_gbs), link_scale(rig))


def screen_evaluate(rig: Rig, workload: Workload) -> FitResult:
    """Place a workload with the layer split over every card, the shop's first stage.

    ``decode_bound_of``'s ``turn_taking`` bound covers this placement.
    """
    return plan_every_card(rig, workload)


def _layer_split_floor(model: ModelSpec, workload: Workload) -> float:
    """Return the bytes a layer split needs on the GPUs to hold every layer of ``model``: weights and KV cache.

    The model runs at ``workload``'s quantization and cache type, and at its context capped at
    the model's maximum, as ``largest_fitting_models`` sizes it.
    """
    try:
        weights = _memory.model_weights(model, workload.quant, workload.ggml_types, workload.bpw)
        kv = _memory.layer_kv_bytes(model, min(workload.context, model.max_context), workload.kv_cache,
                                    workload.ggml_types, workload.ubatch, workload.parallel)
    except (ValueError, KeyError, LookupError, ArithmeticError):
        # A model the sizing rejects is never pruned here; placement decides about it.
        return 0.0
    return float(sum(weights.layer_totals) + sum(kv))


def finalist_count(top: int) -> int:
    """Return how many screened sets the shop places with every strategy to rank the ``top``."""
    return max(3 * top, 20)


def _builds_layer_split(workload: Workload) -> bool:
    """True when ``screen_evaluate`` places with ``placement.build_layer_split``: llama.cpp engines but Ollama."""
    runtime = workload.runtime
    return runtime.engine in _placement.LLAMACPP_ENGINES and runtime.engine != "ollama" and runtime.id != "ollama" \
        and not workload.tensor_split


def screens(settings: UpgradeSettings) -> bool:
    """True when the shop screens sets with ``screen_evaluate`` before placing them in full."""
    return settings.evaluate is None and "layer" in settings.target.runtime.split_strategies


def _layer_split_is_monotone(workload: Workload, max_cards: int) -> bool:
    """True when adding cards can never take away a fitting layer split.

    ``fit`` builds llama.cpp's layer split itself and tries every subset of up to six cards
    in slot order; the shop's sets list bought cards in one fixed order, so a smaller set's
    placement is one of the larger set's candidates. Ollama places layers its own way.
    """
    engine = workload.runtime.engine
    offered = set(workload.runtime.split_strategies) & EXPERIMENTAL_SPLITS
    return bool(offered) and engine in _placement.LLAMACPP_ENGINES and engine != "ollama" and workload.runtime.id != "ollama" \
        and max_cards <= _MAX_SUBSET_GPUS and not workload.tensor_split


def _layer_split_fits(figures: OptionFigures) -> bool:
    """True when the layer split (or one card alone) holds the target with nothing on the CPU."""
    result = figures.fit
    if result is None:
        return False
    for candidate in (result, *result.alternatives):
        offloaded = any(w.code in ("cpu-offload", "expert-offload") for w in candidate.warnings)
        if candidate.split in ("layer", "single") and candidate.fits and not offloaded:
            return True
    return False


def _buy_option(combo: tuple[str, ...], sell: tuple[int, ...], gpus) -> UpgradeOption:
    return UpgradeOption(
        "buy:" + "+".join(combo),
        "buy",
        "Buy " + " + ".join(gpus[c].name for c in combo),
        sell=sell,
        buy=combo,
    )


# Half the 0.1 tokens/s step that decode speeds are shown in: a card that adds less than this
# adds nothing a user can see.
_NO_GAIN_TOKENS_S = 0.05


def _has_idle_card(
    rig: Rig, figures: OptionFigures, settings: UpgradeSettings, cache: dict, baseline: float,
    largest_seen: dict[tuple[str, ...], int] | None = None,
) -> tuple[bool, list[tuple[str, ...]]]:
    """Check whether leaving one bought card out gives a set as good for the goal and no dearer.

    Such a card takes no layers, or adds nothing the goal measures, so the set is dominated by
    the set without it. Returns the verdict and the sets checked, each as sorted GPU ids. A set of one bought card is never dominated, because buying nothing is not a shop result.
    ``largest_seen``, when given, receives the largest model's parameter count of each set
    placed, by its bought cards in slot order.
    """
    combo = figures.option.buy
    if len(combo) < 2 or figures.net_cost is None:
        return False, []
    goal = settings.goal
    own_key = rank_key(figures, goal, baseline)
    placed: list[tuple[str, ...]] = []
    for card in dict.fromkeys(combo):
        rest = list(combo)
        rest.remove(card)
        option = _buy_option(tuple(rest), figures.option.sell, settings.gpus)
        if goal != "largest" and figures.target_fits and _cannot_fit(rig, option, settings):
            # Where the set fits the target on its GPUs, a smaller set that cannot is not as good.
            continue
        # The largest goal compares the largest model only, so the target is not placed for it.
        smaller = evaluate_option(rig, option, settings, cache, with_largest=goal == "largest", with_target=goal != "largest")
        placed.append(tuple(sorted(rest)))
        if largest_seen is not None:
            largest_seen[tuple(rest)] = _largest_params(smaller)
        if smaller.net_cost is None or smaller.net_cost.expected > figures.net_cost.expected:
            continue
        if goal == "largest":
            as_good = rank_key(smaller, goal, baseline)[:2] <= own_key[:2]
        else:
            as_good = (smaller.target_fits or not figures.target_fits) \
                and decode_of(smaller) >= decode_of(figures) - _NO_GAIN_TOKENS_S
        if as_good:
            return True, placed
    return False, placed


@dataclass(frozen=True)
class _CardSpeed:
    """What decides whether one card can speed up a layer split that another card is in."""

    bandwidth_gbs: float
    """Memory bandwidth from the spec, which the layer split's balancing moves layers by."""
    bound: _CardBound


def _no_faster(card: _CardSpeed, other: _CardSpeed) -> bool:
    """True when ``card`` is no faster than ``other`` in any term of the speed model."""
    return card.bandwidth_gbs <= other.bandwidth_gbs and card.bound.bytes_per_s <= other.bound.bytes_per_s \
        and card.bound.layer_overhead_us >= other.bound.layer_overhead_us \
        and card.bound.token_overhead_ms >= other.bound.token_overhead_ms


class _FasterPartHolds:
    """Finds card sets whose fastest cards already hold the target, before placing the set.

    Under the screen's layer split the cards take turns on each token, so a card speeds a set
    up only by taking layers off a slower device. When the kept cards and the fastest bought
    cards hold every layer on the GPUs, and every other bought card is no faster than any of
    them, the other cards add cost and no speed. The smaller set is then as good and cheaper,
    which is what ``_has_idle_card`` would find after placing the set.

    NOTE: this follows from the speed model's turn-taking sum, not from a proof over every
    placement detail; the tests compare the shop with and without this rule.
    """

    def __init__(self, kept: list[_CardSpeed], cards: dict[str, _CardSpeed], fit_floor: float, holds) -> None:
        self._kept = kept
        self._cards = cards
        self._fit_floor = fit_floor
        self._holds = holds
        self._known: dict[tuple[str, ...], bool] = {}

    def dominated(self, combo: tuple[str, ...]) -> bool:
        """True when a proper part of ``combo``, its fastest cards, holds the target and the rest are slower."""
        if len(combo) < 2:
            return False
        # A stable sort keeps the shop's slot order among cards of equal bandwidth.
        order = sorted(range(len(combo)), key=lambda i: -self._cards[combo[i]].bandwidth_gbs)
        for size in range(1, len(combo)):
            inside = sorted(order[:size])
            members = self._kept + [self._cards[combo[i]] for i in inside]
            rest = [self._cards[combo[i]] for i in order[size:]]
            if not all(_no_faster(card, member) for card in rest for member in members):
                continue
            if sum(m.bound.capacity for m in members) < self._fit_floor:
                continue
            part = tuple(combo[i] for i in inside)
            if part not in self._known:
                self._known[part] = self._holds(part)
            if self._known[part]:
                return True
        return False


def _cannot_fit(rig: Rig, option: UpgradeOption, settings: UpgradeSettings) -> bool:
    """True when the option's rig provably cannot hold the target on its GPUs under ``settings.evaluate``.

    Telling that takes no offload search, which is most of placing a rig that does not fit.
    """
    what_if = build_rig(rig, option, settings.gpus)
    if not what_if.gpus:
        return False
    try:
        if settings.evaluate is None:
            return cannot_hold_all_layers(what_if, settings.target)
        if settings.evaluate is screen_evaluate:
            return every_card_holds_all_layers(what_if, settings.target) is False
    except (ValueError, KeyError, LookupError, ArithmeticError):
        # The placement rejects such a rig too, so it does not fit; placing it says so.
        return False
    return False


def _largest_params(figures: OptionFigures) -> int:
    return figures.largest_models[0].params_total if figures.largest_models else 0


def _smaller_fits_as_large(combo: tuple[str, ...], bound: float, largest_seen: dict[tuple[str, ...], int]) -> bool:
    """True when a set without one of ``combo``'s cards, placed already, fits a model as large as ``combo`` can.

    ``bound`` is the most parameters a model that fits on ``combo`` has, so the smaller set is as
    good for the largest goal at a lower cost, which is what ``_has_idle_card`` would find.
    """
    if len(combo) < 2:
        return False
    for index, card in enumerate(combo):
        if index and combo[index - 1] == card:
            continue
        rest = combo[:index] + combo[index + 1:]
        if largest_seen.get(rest, -1) >= bound:
            return True
    return False


def optimistic_key(goal: Goal, bound: float, low_cost: float, may_fit: bool, baseline: float) -> tuple:
    """Return a lower bound on the ``rank_key`` of a set from its bound and lowest net cost.

    ``bound`` is the set's largest model's parameter count for "largest" and its decode
    bound otherwise. ``may_fit`` is False when the set's cards cannot hold the target's
    layers even with nothing else on them, so the set ranks among those where it does not
    fit.
    """
    if goal == "largest":
        return (0, -bound, low_cost, -math.inf)
    if goal == "fastest":
        return (0, 0 if may_fit else 1, -bound, low_cost)
    gain = bound - baseline
    if may_fit and gain > 0:
        return (0, 0, 0, max(low_cost, 0.0) / gain, min(low_cost, 0.0), -gain)
    return (0, 0 if may_fit else 1, 1, low_cost, 0.0, -bound)


def optimistic_columns(goal: Goal, bounds: np.ndarray, low_costs: np.ndarray, may_fit: np.ndarray,
                       baseline: float) -> list[np.ndarray]:
    """Return ``optimistic_key`` of many sets as columns, without its constant first field."""
    if goal == "largest":
        return [-bounds, low_costs]
    misfit = np.where(may_fit, 0, 1)
    if goal == "fastest":
        return [misfit, -bounds, low_costs]
    gain = bounds - baseline
    gains = may_fit & (gain > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.maximum(low_costs, 0.0) / gain
    return [misfit, np.where(gains, 0, 1), np.where(gains, per, low_costs),
            np.where(gains, np.minimum(low_costs, 0.0), 0.0), np.where(gains, -gain, -bounds)]


def _target_floor(workload: Workload) -> float:
    """Return the bytes the GPUs must hold for the target to fit on them: every layer's weights.

    Under llama.cpp each layer's KV cache sits with the layer, so it counts too. vLLM and
    SGLang size their cache to the memory left, so only weights count there.
    """
    try:
        weights = _memory.workload_weights(workload)
        total = float(sum(weights.layer_totals))
        if workload.runtime.engine in _placement.LLAMACPP_ENGINES:
            model = workload.model
            total += sum(_memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types,
                                                workload.ubatch, workload.parallel))
    except (ValueError, KeyError, LookupError, ArithmeticError):
        # A target the sizing rejects is never pruned here; placement decides about it.
        return 0.0
    return total


def _run_floor(workload: Workload) -> float:
    """Return the bytes of weights and KV cache that the GPUs and CPU RAM must hold together.

    Only llama.cpp and Ollama place in CPU RAM what the GPUs cannot hold. Under other runtimes a
    set runs only when its GPUs hold the target's layers, which ``_target_floor`` covers, so
    this returns 0 for them.
    """
    if workload.runtime.engine not in _placement.LLAMACPP_ENGINES:
        return 0.0
    try:
        weights = _memory.workload_weights(workload)
        return _target_floor(workload) + weights.token_embd_bytes + weights.output_bytes
    except (ValueError, KeyError, LookupError, ArithmeticError):
        return 0.0


def shop(
    rig: Rig,
    settings: UpgradeSettings,
    budget: float,
    sell_current: bool = False,
    top: int = 10,
) -> ShopResult:
    """Search every set of up to ``settings.max_cards`` cards that the budget buys, and rank the best.

    Only cards with a purchase price in the price book's currency are searched, because only
    they can be bought. With ``sell_current`` the current cards are sold and their used
    prices add to the budget; otherwise bought cards join them and count toward
    ``max_cards``. Sets are placed in order of their upper bound (on decode speed, or on the
    largest model), and the search stops once no remaining bound can beat the ``top``-th
    best set placed; placements are cached per card set. When ``screens(settings)``, the
    search ranks sets by ``screen_evaluate`` and keeps ``finalist_count(top)`` of them, which
    are then placed with every strategy and ranked (see the module docstring). A set that
    leaving one bought card out makes no worse for the goal, at no higher cost, is left out.
    """
    book = settings.prices
    currency = book.currency
    evaluate_settings = replace(settings, budget=budget)
    screening = screens(settings)
    screen_settings = evaluate_settings
    if screening:
        screen_settings = replace(evaluate_settings, evaluate=screen_evaluate, evaluate_sizes_like_fit=True,
                                  gpu_fit_check=every_card_holds_all_layers)
    kept_count = finalist_count(top) if screening else top
    notes: list[str] = []
    sell = tuple(range(len(rig.gpus))) if sell_current else ()
    # The most the sold cards can fetch, so that the search never skips a set the budget
    # reaches at the expected resale price.
    credit = 0.0
    if sell_current:
        for g in rig.gpus:
            quote = book.sell_quote(g.spec.id)
            if quote is None:
                notes.append(book.missing_message(g.spec.id, g.spec.name, "used"))
            else:
                credit += quote.high
    slots_left = settings.max_cards - (0 if sell_current else len(rig.gpus))
    vendors = settings.target.runtime.vendors
    priced: list[tuple[str, float]] = []
    unpriced = []
    for gpu_id, spec in sorted(settings.gpus.items()):
        if spec.vendor not in vendors:
            continue
        quote = book.buy_quote(gpu_id, settings.buy_condition)
        if quote is None:
            unpriced.append(gpu_id)
            continue
        priced.append((gpu_id, quote.low))
    priced.sort(key=lambda p: (p[1], p[0]))

    target = settings.target
    kept = [] if sell_current else list(rig.gpus)
    kept_bounds = [card_bound(g.spec, rig, target, g.used_bytes, g.desktop) for g in kept]
    card_bounds = {gpu_id: card_bound(settings.gpus[gpu_id], rig, target) for gpu_id, _ in priced}
    # The stand-in placements of tests have no per-tensor sizes, and need no speed bound.
    target_figures = target_bound(target, rig.cpu_ram_bandwidth_gbs) if settings.evaluate is None else None
    price_of = dict(priced)
    bpw = target.quant.bits_per_weight
    model_floors = sorted((weight_bytes_lower_bound(m, bpw), m.params_total) for m in settings.models)
    # A card's bound capacity excludes the runtime's overhead. A device's capacity in a
    # placement is at most that capacity plus the overhead.
    overhead = 0.0
    if screening and settings.goal == "largest" and _builds_layer_split(target):
        # The screen's layer split must hold every layer's weights and KV cache on the GPUs,
        # which bounds the largest model much tighter than a share of the parameter count.
        model_floors = sorted((_layer_split_floor(m, target), m.params_total) for m in settings.models)
        overhead = target.runtime.per_gpu_overhead_mib * MIB
    # Bought cards join over PCIe, so only a bridge among kept cards lowers the latency scale.
    scale = 0.3 if (kept and rig.nvlink_pairs) else None

    baseline = 0.0
    cache: dict = {}
    if rig.gpus:
        keep = evaluate_option(rig, UpgradeOption("keep", "keep", ""), evaluate_settings, cache, with_largest=False)
        baseline = decode_of(keep) if keep.target_fits else 0.0

    # A set whose cards cannot hold the target's layers ranks among the sets where it does not
    # fit, which lets the bound prune when no affordable set fits. Stand-in placements skip it.
    fit_floor = _target_floor(target) if settings.evaluate is None else 0.0
    run_floor = _run_floor(target) if settings.evaluate is None else 0.0

    def optimistic(bound: float, low_cost: float, may_fit: bool) -> tuple:
        return optimistic_key(settings.goal, bound, low_cost, may_fit, baseline)

    def scale_of(combo: tuple[str, ...]) -> float:
        gpu_ids = [g.spec.id for g in kept] + list(combo)
        identical_pro = len(set(gpu_ids)) == 1 and settings.gpus[gpu_ids[0]].segment != "consumer"
        if scale is not None:
            return scale
        return 0.6 if identical_pro else 1.0

    def bound_of(combo: tuple[str, ...]) -> float:
        """Return the decode bound of one set, for stand-in placements and searches without a screen."""
        if settings.evaluate is not None:
            if settings.decode_bound is None:
                return math.inf
            what_if = build_rig(rig, UpgradeOption("bound", "buy", "", sell=sell, buy=combo), settings.gpus)
            return settings.decode_bound(what_if, target)
        assert target_figures is not None
        cards = kept_bounds + [card_bounds[c] for c in combo]
        return decode_bound_of(cards, target, target_figures, scale_of(combo)).any_split

    ids = [gpu_id for gpu_id, _ in priced]
    sets, price_sums = affordable_sets(np.array([low for _, low in priced], dtype=float), budget + credit, max(0, slots_left))
    combinations = len(sets)
    low_costs = price_sums - credit
    capacities = np.array([card_bounds[gpu_id].capacity for gpu_id in ids], dtype=float)
    gpu_room = column_sums(sets, capacities, sum(c.capacity for c in kept_bounds))
    may_fit = gpu_room >= fit_floor
    # A set that cannot hold the target even with CPU RAM does not run: its decode speed is 0.
    may_run = gpu_room + _placement.cpu_capacity(rig) >= run_floor
    search_may_fit = may_fit
    if screening and target_figures is not None:
        # Under the screen's layer split every card that holds layers also holds a compute buffer.
        compute = target_figures.compute_bytes
        search_may_fit = column_sums(sets, np.maximum(capacities - compute, 0.0),
                                     sum(max(c.capacity - compute, 0.0) for c in kept_bounds)) >= fit_floor

    def combo_of(row: int) -> tuple[str, ...]:
        return tuple(ids[i] for i in sets[row] if i != NO_CARD)

    if settings.goal == "largest":
        capacity = column_sums(sets, capacities + overhead, sum(c.capacity + overhead for c in kept_bounds))
        floors = np.array([floor for floor, _ in model_floors], dtype=float)
        largest_so_far = np.maximum.accumulate(np.array([p for _, p in model_floors], dtype=float)) if model_floors else np.zeros(0)
        fitting = np.searchsorted(floors, capacity, side="right")
        bounds = np.where(fitting > 0, np.append(largest_so_far, 0.0)[fitting - 1], 0.0)
    elif screening and settings.evaluate is None:
        assert target_figures is not None
        bounds = turn_taking_bounds(sets, _card_arrays(kept_bounds), _card_arrays([card_bounds[i] for i in ids]),
                                    n_layers=target.model.n_layers, **target_figures.as_arrays_kwargs())
    else:
        bounds = np.array([bound_of(combo_of(row)) for row in range(combinations)], dtype=float)
    if settings.goal != "largest":
        bounds = np.where(may_run, bounds, 0.0)
    order = np.lexsort((np.arange(combinations), *reversed(optimistic_columns(settings.goal, bounds, low_costs, search_may_fit, baseline))))

    refined: set[tuple[str, ...]] = set()
    pushed: list[tuple[tuple, int, tuple[str, ...], float, bool]] = []
    """Sets put back with a tighter bound, merged into ``order`` by key."""
    sequence = itertools.count(combinations)

    def candidates() -> Iterable[tuple[tuple, int, tuple[str, ...], float, bool]]:
        """Yield the sets in order of their optimistic key, then of the order they were found in."""
        position = 0
        while position < len(order) or pushed:
            if position < len(order):
                row = int(order[position])
                key = optimistic(float(bounds[row]), float(low_costs[row]), bool(search_may_fit[row]))
                if not pushed or (key, row) < pushed[0][:2]:
                    position += 1
                    yield key, row, combo_of(row), float(low_costs[row]), bool(search_may_fit[row])
                    continue
            yield heapq.heappop(pushed)

    with_largest = settings.goal == "largest"

    def rank_finalists(finalists: list[OptionFigures]) -> list[OptionFigures]:
        """Place the screened finalists with every strategy and return the ``top`` best, in order.

        Finalists go in order of a bound on their full rank key, and once ``top`` are known the
        rest, whose bound ranks after them, are not placed: the result is what placing every
        finalist gives. The full placement may leave a card idle where the screen's split used
        it, so ``_has_idle_card`` runs again. Like the finalists' own full placements, these
        placements do not count in ``evaluated``.
        """
        def full_bound(combo: tuple[str, ...]) -> tuple:
            row = row_of[combo]
            if settings.goal == "largest":
                bound = float(bounds[row])
            elif not may_run[row]:
                bound = 0.0
            else:
                assert target_figures is not None
                cards = kept_bounds + [card_bounds[c] for c in combo]
                bound = decode_bound_of(cards, target, target_figures, scale_of(combo)).any_split
            return optimistic(bound, float(low_costs[row]), bool(may_fit[row]))

        order = sorted((full_bound(f.option.buy), position, f) for position, f in enumerate(finalists))
        chosen: list[tuple[tuple, int, OptionFigures]] = []
        for optimistic_full, position, screened in order:
            if len(chosen) >= top and (optimistic_full, position) > chosen[top - 1][:2]:
                break
            if with_largest:
                # As in the search, the target's speed only breaks ties of model size and cost.
                sized = evaluate_option(rig, screened.option, evaluate_settings, cache, with_target=False)
                if len(chosen) >= top and rank_key(sized, settings.goal, baseline)[:3] > chosen[top - 1][0][:3]:
                    continue
            figures = evaluate_option(rig, screened.option, evaluate_settings, cache, with_largest=with_largest)
            key = rank_key(figures, settings.goal, baseline)
            if len(chosen) >= top and (key, position) > chosen[top - 1][:2]:
                continue
            if _has_idle_card(rig, figures, evaluate_settings, cache, baseline)[0]:
                continue
            chosen.append((key, position, figures))
            chosen.sort(key=lambda item: item[:2])
            del chosen[top:]
        return [figures for _, _, figures in chosen]
    # Screening bounds the layer split alone, so the refinement below has nothing to tighten.
    refine = not screening and settings.evaluate is None and settings.goal != "largest" \
        and _layer_split_is_monotone(target, settings.max_cards)
    screen_cache: dict = {} if screening else cache
    layer_fits: list[Counter[str]] = []
    """Minimal bought sets on which a stable layer split holds the target on the GPUs."""
    best: list[OptionFigures] = []
    largest_seen: dict[tuple[str, ...], int] = {}
    """Largest model's parameter count on each set placed for the largest goal, by its cards."""
    row_of: dict[tuple[str, ...], int] = {}
    """Row of each placed set in ``sets``, for its bound in the final stage."""
    placed_sets: set[tuple[str, ...]] = set()
    """Sets placed in the search, by sorted GPU ids; the cache places each once."""

    def holds(part: tuple[str, ...]) -> bool:
        placed_sets.add(tuple(sorted(part)))
        figures = evaluate_option(rig, _buy_option(part, sell, settings.gpus), screen_settings, screen_cache, with_largest=False)
        return figures.target_fits

    faster_part = None
    if screening and settings.goal != "largest" and _builds_layer_split(target):
        speeds = {gpu_id: _CardSpeed(settings.gpus[gpu_id].bandwidth_gbs, card_bounds[gpu_id]) for gpu_id, _ in priced}
        kept_speeds = [_CardSpeed(g.spec.bandwidth_gbs, b) for g, b in zip(kept, kept_bounds)]
        faster_part = _FasterPartHolds(kept_speeds, speeds, fit_floor, holds)
    for key, row, combo, low_cost, combo_may_fit in candidates():
        if len(best) >= kept_count and key > rank_key(best[kept_count - 1], settings.goal, baseline):
            break
        if refine and combo not in refined:
            # A set that contains one with a fitting layer split also has one (fit tries every
            # subset of the cards, in slot order), so fit never picks an experimental split
            # for it and its stable bound applies.
            counts = Counter(combo)
            if any(not (known - counts) for known in layer_fits):
                refined.add(combo)
                cards = kept_bounds + [card_bounds[c] for c in combo]
                assert target_figures is not None
                stable = decode_bound_of(cards, target, target_figures, scale_of(combo)).stable
                new_key = optimistic(stable, low_cost, combo_may_fit)
                if new_key > key:
                    heapq.heappush(pushed, (new_key, next(sequence), combo, low_cost, combo_may_fit))
                    continue
        if settings.goal != "largest" and len(combo) >= 2 and row < combinations and not may_run[row]:
            # It does not run, and neither does the set without one of its bought cards, which
            # is as good at a lower cost.
            continue
        if faster_part is not None and faster_part.dominated(combo):
            continue
        if with_largest and row < combinations and _smaller_fits_as_large(combo, float(bounds[row]), largest_seen):
            continue
        if screening and not with_largest and combo_may_fit and len(best) >= kept_count and row < combinations \
                and optimistic(float(bounds[row]), low_cost, False) > rank_key(best[kept_count - 1], settings.goal, baseline):
            # Unless it fits on the GPUs it cannot enter the results, and telling that takes no
            # offload search, which is most of placing a set that does not fit.
            what_if = build_rig(rig, _buy_option(combo, sell, settings.gpus), settings.gpus)
            if every_card_holds_all_layers(what_if, target) is False:
                continue
        placed_sets.add(tuple(sorted(combo)))
        row_of[combo] = row
        option = _buy_option(combo, sell, settings.gpus)
        # For the largest goal the target's speed only breaks ties of model size and cost, so it is
        # placed once the set could enter the results on those two.
        figures = evaluate_option(rig, option, screen_settings, screen_cache, with_largest=with_largest,
                                  with_target=not with_largest)
        if with_largest:
            largest_seen[combo] = _largest_params(figures)
            if figures.within_budget is False or \
                    (len(best) >= kept_count and rank_key(figures, settings.goal, baseline)[:3] > rank_key(best[-1], settings.goal, baseline)[:3]):
                continue
            figures = evaluate_option(rig, option, screen_settings, screen_cache, with_largest=True)
        if refine and _layer_split_fits(figures):
            counts = Counter(combo)
            if not any(not (known - counts) for known in layer_fits):
                layer_fits.append(counts)
        if figures.within_budget is False:
            continue
        key = rank_key(figures, settings.goal, baseline)
        if len(best) >= kept_count and key >= rank_key(best[-1], settings.goal, baseline):
            continue
        # A set with an idle card must not take a finalist's place, or the idle variants of one
        # good set fill the results.
        dominated, checked = _has_idle_card(rig, figures, screen_settings, screen_cache, baseline,
                                            largest_seen if with_largest else None)
        placed_sets.update(checked)
        if dominated:
            continue
        best.append(figures)
        best.sort(key=lambda f: rank_key(f, settings.goal, baseline))
        del best[kept_count:]
    evaluated = len(placed_sets)
    if screening:
        best = rank_finalists(best)
    if not with_largest:
        best = [evaluate_option(rig, f.option, evaluate_settings, cache) for f in best]
    ranked = rank_options(best, settings.goal, settings.target.model, baseline)
    searched = tuple(gpu_id for gpu_id, _ in priced)
    notes.insert(0, f"Searched the {len(searched)} cards with a purchase price in {currency}; only they can be bought.")
    if unpriced:
        notes.append(
            f"{len(unpriced)} cards the runtime drives have no {currency} purchase price and were left out; "
            "give one with --price NAME=AMOUNT."
        )
    return ShopResult(ranked, settings.goal, currency, budget, combinations, evaluated, searched, tuple(notes), tuple(unpriced))
