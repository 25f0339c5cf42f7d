"""Purchase options for a rig: what each costs, what it unlocks, how fast it runs, and a ranking.

The options come from the current rig (keep, sell one card and buy its match, add a card,
replace every card, bridge a pair with NVLink). Each is turned into a what-if rig and run
through the same placement and speed model as every other screen, so the figures here agree
with the fit matrix. ``shop`` searches every affordable combination of cards instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Literal, Mapping

from rigtui.core import speed as _speed
from rigtui.core.compat import gpu_capacity_bytes
from rigtui.core.money import MoneyRange, PriceBook, Quote, format_money
from rigtui.core.power import PowerReport, PsuStandard, rig_power
from rigtui.core.results import FitResult, SpeedRange
from rigtui.core.rig import MIB, Rig, RigGpu, Workload
from rigtui.core.specs import GpuSpec, ModelSpec

Goal = Literal["largest", "fastest", "value"]
GOALS: tuple[Goal, ...] = ("largest", "fastest", "value")
OptionKind = Literal["keep", "swap", "add", "replace", "nvlink", "buy"]
Evaluate = Callable[[Rig, Workload], FitResult]

# Slots a card takes when a what-if rig grows past the slots the current rig already uses:
# (PCIe generation, lanes, via chipset). A typical desktop board runs its second x16 slot at
# x8 from the CPU and any further slot at x4 from the chipset.
# NOTE: a board-dependent assumption; a rig with a detected or declared topology should
# replace it when the rig model carries empty slots.
EXTRA_SLOTS: tuple[tuple[int, int, bool], ...] = ((4, 16, False), (4, 8, False), (4, 4, True), (4, 4, True))
DAYS_PER_YEAR = 365
# Lower bound on weight bytes per parameter as a share of the quantization's typical bpw,
# used only to skip models and card sets that cannot fit; placement computes the real size.
_WEIGHT_BOUND_SHARE = 0.8


@dataclass(frozen=True)
class UpgradeOption:
    """One way to change the rig's cards."""

    id: str
    """Stable identifier, such as 'keep', 'swap:rtx-3090:rtx-4090' or 'replace:2:rtx-5090'."""
    kind: OptionKind
    title: str
    sell: tuple[int, ...] = ()
    """Indexes of the current rig's GPUs that are sold."""
    buy: tuple[str, ...] = ()
    """GPU ids bought, in the order they take slots."""
    nvlink: bool = False
    """True when the resulting rig bridges its pair of identical cards with NVLink."""


@dataclass(frozen=True)
class UpgradeSettings:
    """Everything the figures depend on besides the rig and the option."""

    target: Workload
    """The model, quantization, runtime and context to measure speed on."""
    gpus: Mapping[str, GpuSpec]
    prices: PriceBook
    models: tuple[ModelSpec, ...] = ()
    """Models to find the largest that fits; empty skips that figure."""
    goal: Goal = "fastest"
    budget: float | None = None
    """Most the user will spend, net of resale, in the price book's currency."""
    kwh_price: float | None = None
    """Electricity price per kWh in the price book's currency; None leaves running cost out."""
    hours_per_day: float = 8.0
    """Hours per day the rig runs at load, for running cost."""
    buy_condition: Literal["new", "used", "any"] = "any"
    max_cards: int = 4
    psu_standard: PsuStandard = "atx3"
    nvlink_bridge_price: float | None = None
    evaluate: Evaluate | None = None
    """Placement function; None uses ``rigtui.core.fit``."""
    decode_bound: Callable[[Rig, Workload], float] | None = None
    """Upper bound on ``evaluate``'s decode speed for the shop's pruning; None with a custom
    ``evaluate`` turns pruning by speed off, because the bound is derived from the speed model."""


@dataclass(frozen=True)
class OptionFigures:
    """The computed figures of one option."""

    option: UpgradeOption
    rig: Rig
    gpu_ids: tuple[str, ...]
    net_cost: MoneyRange | None
    """Purchases minus resale; None when a card to buy has no price."""
    purchases: tuple[Quote, ...]
    sales: tuple[Quote, ...]
    price_notes: tuple[str, ...]
    usable_vram_bytes: int
    largest_models: tuple[ModelSpec, ...]
    fit: FitResult | None
    target_fits: bool
    """The target model fits with every layer on the GPUs."""
    decode: SpeedRange | None
    prefill: SpeedRange | None
    cost_per_token_s: float | None
    """Net cost per expected decode token/s on the target model."""
    power: PowerReport
    slots_needed: float | None
    """Expansion-slot positions the cards cover; None when a card's thickness is unknown."""
    lanes_needed: int
    """PCIe lanes the cards use at full width."""
    electricity_per_year: float | None
    tco_12_months: MoneyRange | None
    within_budget: bool | None
    stale_prices: tuple[str, ...]
    """GPU ids whose price used here is older than six months."""
    rank: int = 0
    rank_reason: str = ""
    notes: tuple[str, ...] = ()

    @property
    def currency(self) -> str:
        return self.net_cost.currency if self.net_cost else ""

    @property
    def psu_upgrade_needed(self) -> bool:
        return self.power.psu_upgrade_needed


def _default_evaluate(rig: Rig, workload: Workload) -> FitResult:
    """Place a workload like ``core.fit.fit`` with split "auto", without the largest-context search.

    The options need placement and speed only; ``fit.fit`` also searches the largest context
    for every strategy, which takes about nine tenths of its time.
    """
    from rigtui.core import fit as _fit

    # NOTE: uses fit's private steps (_place, _to_result, _rank); falls back to the public
    # fit() if they change shape.
    try:
        splits = [workload.split] if workload.split != "auto" else _fit.supported_splits(rig, workload)
        if not splits:
            return _fit.fit(rig, workload)
        results = [_fit._to_result(rig, workload, _fit._place(rig, workload, s, True)[0]) for s in splits]
        return max(results, key=_fit._rank)
    except (AttributeError, TypeError):
        return _fit.fit(rig, workload)


def _default_fits_on_gpus(rig: Rig, workload: Workload) -> bool:
    """True when some split the runtime offers holds the whole model on the GPUs, speed aside."""
    from rigtui.core import fit as _fit

    try:
        splits = _fit.supported_splits(rig, workload)
        for split in splits:
            placement = _fit._place(rig, workload, split, False)[0]
            offloaded = any(w.code in ("cpu-offload", "expert-offload") for w in placement.warnings)
            if placement.fits and not offloaded:
                return True
        return False
    except (AttributeError, TypeError):
        return fits_on_gpus(_fit.fit(rig, workload), workload.model)


def fits_on_gpus(result: FitResult | None, model: ModelSpec) -> bool:
    """True when a placement fits with every repeating layer and expert on GPUs."""
    if result is None or not result.fits:
        return False
    if any(d.kind == "cpu" and (d.layers or d.expert_layers) for d in result.devices):
        return False
    return result.gpu_layers >= model.n_layers


def weight_bytes_lower_bound(model: ModelSpec, bits_per_weight: float) -> float:
    """Bytes the weights take at least, for pruning only."""
    return model.params_total * bits_per_weight / 8 * _WEIGHT_BOUND_SHARE


def usable_vram_bytes(rig: Rig) -> int:
    """Memory the rig's cards offer a runtime, summed, bytes."""
    return sum(gpu_capacity_bytes(rig, g) for g in rig.gpus)


def _safe_evaluate(evaluate: Evaluate, rig: Rig, workload: Workload) -> FitResult | None:
    if not rig.gpus:
        return None
    try:
        return evaluate(rig, workload)
    except (ValueError, KeyError, LookupError, ArithmeticError) as exc:
        # The placement rejects workloads it cannot place at all; the option then shows no speed.
        del exc
        return None


def largest_fitting_models(
    rig: Rig,
    workload: Workload,
    models: Iterable[ModelSpec],
    evaluate: Evaluate | None = None,
    limit: int = 1,
) -> tuple[ModelSpec, ...]:
    """Return up to ``limit`` of the largest models (by total parameters) that fit on the GPUs.

    Models run under ``workload``'s quantization, runtime and context; models whose weights
    alone exceed the rig's memory are skipped without placing them.
    """
    capacity = usable_vram_bytes(rig)
    found: list[ModelSpec] = []
    for model in sorted(models, key=lambda m: (-m.params_total, m.id)):
        if weight_bytes_lower_bound(model, workload.quant.bits_per_weight) > capacity:
            continue
        sized = replace(workload, model=model, context=min(workload.context, model.max_context))
        if evaluate is None:
            try:
                fits = bool(rig.gpus) and _default_fits_on_gpus(rig, sized)
            except (ValueError, KeyError, LookupError, ArithmeticError):
                fits = False
        else:
            fits = fits_on_gpus(_safe_evaluate(evaluate, rig, sized), model)
        if fits:
            found.append(model)
            if len(found) >= limit:
                break
    return tuple(found)


def build_rig(rig: Rig, option: UpgradeOption, gpus: Mapping[str, GpuSpec]) -> Rig:
    """Return the what-if rig an option leads to.

    Kept cards stay in their slots; bought cards take the slots of sold cards first, then
    the next slots of ``EXTRA_SLOTS``.
    """
    kept = [(i, g) for i, g in enumerate(rig.gpus) if i not in option.sell]
    free_slots = [(g.pcie_gen, g.pcie_lanes, g.via_chipset) for i, g in enumerate(rig.gpus) if i in option.sell]
    new_gpus = [g for _, g in kept]
    for n, gpu_id in enumerate(option.buy):
        spec = gpus[gpu_id]
        if free_slots:
            gen, lanes, chipset = free_slots.pop(0)
        else:
            position = min(len(new_gpus), len(EXTRA_SLOTS) - 1)
            gen, lanes, chipset = EXTRA_SLOTS[position]
        new_gpus.append(
            RigGpu(spec=spec, pcie_gen=min(gen, spec.pcie_gen), pcie_lanes=min(lanes, spec.pcie_lanes), via_chipset=chipset)
        )
    old_to_new = {old: new for new, (old, _) in enumerate(kept)}
    pairs = {
        (old_to_new[a], old_to_new[b]) for a, b in rig.nvlink_pairs if a in old_to_new and b in old_to_new
    }
    if option.nvlink:
        pair = nvlink_pair(new_gpus)
        if pair is not None:
            pairs.add(pair)
    return replace(rig, gpus=tuple(new_gpus), nvlink_pairs=frozenset(pairs))


def nvlink_pair(gpus: list[RigGpu] | tuple[RigGpu, ...]) -> tuple[int, int] | None:
    """Return the first two identical NVLink-capable cards not yet bridged, by index."""
    for a in range(len(gpus)):
        for b in range(a + 1, len(gpus)):
            if gpus[a].spec.id == gpus[b].spec.id and gpus[a].spec.nvlink:
                return (a, b)
    return None


def _ordinal(n: int) -> str:
    return {1: "a second", 2: "a third", 3: "a fourth"}.get(n, "another")


def upgrade_options(
    rig: Rig,
    candidates: Iterable[str],
    gpus: Mapping[str, GpuSpec],
    max_cards: int = 4,
) -> tuple[UpgradeOption, ...]:
    """Generate the options for a rig: keep, swaps to a matching pair, adds, replacements, NVLink."""
    options: list[UpgradeOption] = [UpgradeOption("keep", "keep", "Keep the rig as it is")]
    current = [g.spec.id for g in rig.gpus]
    distinct = list(dict.fromkeys(current))
    n = len(current)

    for sold_id in distinct:
        for bought_id in distinct:
            if sold_id == bought_id:
                continue
            index = current.index(sold_id)
            copies = current.count(bought_id)
            options.append(
                UpgradeOption(
                    f"swap:{sold_id}:{bought_id}",
                    "swap",
                    f"Sell the {gpus[sold_id].name}, buy {_ordinal(copies)} {gpus[bought_id].name}",
                    sell=(index,),
                    buy=(bought_id,),
                )
            )

    candidate_ids = [c for c in dict.fromkeys(candidates) if c in gpus]
    if n < max_cards:
        for gpu_id in list(dict.fromkeys(distinct + candidate_ids)):
            copies = current.count(gpu_id)
            title = f"Add {_ordinal(copies)} {gpus[gpu_id].name}" if copies else f"Add an {gpus[gpu_id].name}"
            options.append(UpgradeOption(f"add:{gpu_id}", "add", title, buy=(gpu_id,)))

    everything = tuple(range(n))
    for gpu_id in candidate_ids:
        for count in (1, 2):
            if count > max_cards or (count == n and all(c == gpu_id for c in current)):
                continue
            what = f"one {gpus[gpu_id].name}" if count == 1 else f"two {gpus[gpu_id].name}"
            title = f"Replace every card with {what}" if n else f"Buy {what}"
            kind: OptionKind = "replace" if n else "buy"
            options.append(UpgradeOption(f"{kind}:{count}:{gpu_id}", kind, title, sell=everything, buy=(gpu_id,) * count))

    with_bridges = []
    if nvlink_pair(rig.gpus) is not None and not rig.nvlink_pairs:
        with_bridges.append(UpgradeOption("nvlink", "nvlink", "Add an NVLink bridge to the matching pair", nvlink=True))
    for option in options[1:]:
        result = build_rig(rig, option, gpus)
        if nvlink_pair(result.gpus) is not None and not result.nvlink_pairs:
            with_bridges.append(
                replace(option, id=option.id + "+nvlink", title=option.title + ", with an NVLink bridge", nvlink=True)
            )
    return tuple(options + with_bridges)


def transition_option(rig: Rig, target: Iterable[str], gpus: Mapping[str, GpuSpec], nvlink: bool = False) -> UpgradeOption:
    """Return the option that turns the rig into the target set of cards, keeping cards it already has."""
    wanted = list(target)
    sell = []
    for i, g in enumerate(rig.gpus):
        if g.spec.id in wanted:
            wanted.remove(g.spec.id)
        else:
            sell.append(i)
    names = " + ".join(gpus[g].name for g in target)
    bridge = " with NVLink" if nvlink else ""
    if not sell and not wanted:
        title = "Keep the rig as it is" if not nvlink or rig.nvlink_pairs else f"Add an NVLink bridge ({names})"
    else:
        title = f"Move to {names}{bridge}"
    target_id = "+".join(sorted(target)) + ("+nvlink" if nvlink else "")
    return UpgradeOption(f"to:{target_id}", "replace", title, sell=tuple(sell), buy=tuple(wanted), nvlink=nvlink)


def _price_option(rig: Rig, option: UpgradeOption, settings: UpgradeSettings) -> tuple[
    MoneyRange | None, tuple[Quote, ...], tuple[Quote, ...], tuple[str, ...], tuple[str, ...]
]:
    book = settings.prices
    notes: list[str] = []
    purchases: list[Quote] = []
    unpriced = False
    for gpu_id in option.buy:
        quote = book.buy_quote(gpu_id, settings.buy_condition)
        if quote is None:
            unpriced = True
            condition = settings.buy_condition if settings.buy_condition != "any" else "new"
            notes.append(book.missing_message(gpu_id, settings.gpus[gpu_id].name, condition))
        else:
            purchases.append(quote)
    sales: list[Quote] = []
    for index in option.sell:
        spec = rig.gpus[index].spec
        quote = book.sell_quote(spec.id)
        if quote is None:
            notes.append(
                book.missing_message(spec.id, spec.name, "used").replace(":", ", so its resale counts as 0:", 1)
            )
        else:
            sales.append(quote)
    stale = tuple(dict.fromkeys(q.gpu for q in purchases + sales if q.stale))
    if unpriced:
        return None, tuple(purchases), tuple(sales), tuple(notes), stale
    cost = MoneyRange.zero(book.currency)
    for quote in purchases:
        cost = cost + MoneyRange(quote.low, quote.expected, quote.high, book.currency)
    for quote in sales:
        cost = cost - MoneyRange(quote.low, quote.expected, quote.high, book.currency)
    if option.nvlink and not rig.nvlink_pairs:
        if settings.nvlink_bridge_price is not None:
            bridge = settings.nvlink_bridge_price
            cost = cost + MoneyRange(bridge, bridge, bridge, book.currency)
        else:
            notes.append("The NVLink bridge has no price in the catalog and is not counted: pass --price 'nvlink-bridge=AMOUNT'.")
    return cost, tuple(purchases), tuple(sales), tuple(notes), stale


def _slots_needed(rig: Rig) -> float | None:
    widths = [g.spec.slot_width for g in rig.gpus]
    if any(w is None for w in widths):
        return None
    return float(sum(math.ceil(w) for w in widths if w is not None))


def evaluate_option(
    rig: Rig,
    option: UpgradeOption,
    settings: UpgradeSettings,
    cache: dict | None = None,
    with_largest: bool = True,
) -> OptionFigures:
    """Compute every figure of one option.

    ``cache`` maps a card set to its placement and largest models, so options and shop
    combinations that end in the same cards are placed once. ``with_largest=False`` skips
    the search for the largest model that fits, the costliest figure.
    """
    evaluate = settings.evaluate or _default_evaluate
    new_rig = build_rig(rig, option, settings.gpus)
    gpu_ids = tuple(g.spec.id for g in new_rig.gpus)
    key = (
        tuple((g.spec.id, g.pcie_gen, g.pcie_lanes, g.via_chipset) for g in new_rig.gpus),
        tuple(sorted(new_rig.nvlink_pairs)),
    )
    if cache is None:
        cache = {}
    if ("fit", key) not in cache:
        cache[("fit", key)] = _safe_evaluate(evaluate, new_rig, settings.target)
    result = cache[("fit", key)]
    largest: tuple[ModelSpec, ...] = ()
    if with_largest and settings.models:
        if ("largest", key) not in cache:
            cache[("largest", key)] = largest_fitting_models(new_rig, settings.target, settings.models, settings.evaluate)
        largest = cache[("largest", key)]

    cost, purchases, sales, price_notes, stale = _price_option(rig, option, settings)
    target_fits = fits_on_gpus(result, settings.target.model)
    decode = result.decode if result is not None and result.fits else None
    prefill = result.prefill if result is not None and result.fits else None
    cost_per_tps = None
    if cost is not None and decode is not None and decode.expected > 0:
        cost_per_tps = cost.expected / decode.expected

    power = rig_power(new_rig, settings.psu_standard)
    electricity = None
    tco = cost
    if settings.kwh_price is not None:
        kwh = power.sustained_w * settings.hours_per_day * DAYS_PER_YEAR / 1000
        electricity = kwh * settings.kwh_price
        if cost is not None:
            tco = cost + MoneyRange(electricity, electricity, electricity, cost.currency)
    within = None
    if settings.budget is not None and cost is not None:
        within = cost.expected <= settings.budget
    return OptionFigures(
        option=option,
        rig=new_rig,
        gpu_ids=gpu_ids,
        net_cost=cost,
        purchases=purchases,
        sales=sales,
        price_notes=price_notes,
        usable_vram_bytes=usable_vram_bytes(new_rig),
        largest_models=largest,
        fit=result,
        target_fits=target_fits,
        decode=decode,
        prefill=prefill,
        cost_per_token_s=cost_per_tps,
        power=power,
        slots_needed=_slots_needed(new_rig),
        lanes_needed=sum(g.spec.pcie_lanes for g in new_rig.gpus),
        electricity_per_year=electricity,
        tco_12_months=tco,
        within_budget=within,
        stale_prices=stale,
    )


# --- ranking -----------------------------------------------------------------------------

def _decode_of(figures: OptionFigures) -> float:
    return figures.decode.expected if figures.decode is not None else 0.0


def _largest_params(figures: OptionFigures) -> int:
    return figures.largest_models[0].params_total if figures.largest_models else 0


def _gain(figures: OptionFigures, baseline_tps: float) -> float:
    return _decode_of(figures) - baseline_tps


def _rank_key(figures: OptionFigures, goal: Goal, baseline_tps: float) -> tuple:
    cost = figures.net_cost.expected if figures.net_cost is not None else math.inf
    eligible = 0 if figures.within_budget is not False and figures.net_cost is not None else 1
    if goal == "largest":
        return (eligible, -_largest_params(figures), cost, -_decode_of(figures))
    if goal == "fastest":
        return (eligible, 0 if figures.target_fits else 1, -_decode_of(figures), cost)
    gain = _gain(figures, baseline_tps)
    if figures.target_fits and gain > 0 and figures.net_cost is not None:
        return (eligible, 0, max(cost, 0.0) / gain, -gain)
    return (eligible, 1, cost, -_decode_of(figures))


def _reason(figures: OptionFigures, goal: Goal, baseline_tps: float, model: ModelSpec) -> str:
    """Explain an option's place in the ranking from its figures."""
    currency = figures.currency
    if figures.net_cost is None:
        return "unranked: a card it needs has no price"
    spent = format_money(figures.net_cost.expected, currency)
    if figures.within_budget is False:
        return f"over budget: costs {spent} net"
    if goal == "largest":
        if not figures.largest_models:
            return f"fits no catalog model on its GPUs; costs {spent} net"
        top = figures.largest_models[0]
        return f"fits {top.name} ({top.params_total / 1e9:.0f}B) on its GPUs for {spent} net"
    if not figures.target_fits:
        return f"{model.name} does not fit on its GPUs"
    tps = _decode_of(figures)
    if goal == "fastest":
        return f"{tps:.1f} tokens/s on {model.name} for {spent} net"
    gain = _gain(figures, baseline_tps)
    if gain <= 0:
        return f"no gain over the current {baseline_tps:.1f} tokens/s on {model.name}"
    per = format_money(max(figures.net_cost.expected, 0.0) / gain, currency)
    return f"{per} per token/s gained: {spent} net for +{gain:.1f} tokens/s on {model.name}"


def rank_options(
    options: Iterable[OptionFigures], goal: Goal, model: ModelSpec, baseline_tps: float = 0.0
) -> tuple[OptionFigures, ...]:
    """Order options by the goal and number them, each with the reason for its place.

    Options over budget or without a price come last. "largest" ranks by the largest model
    that fits on the GPUs, "fastest" by decode speed on the target model, and "value" by net
    cost per token/s gained over ``baseline_tps`` (the current rig's speed).
    """
    ordered = sorted(options, key=lambda f: _rank_key(f, goal, baseline_tps))
    return tuple(
        replace(f, rank=i + 1, rank_reason=_reason(f, goal, baseline_tps, model)) for i, f in enumerate(ordered)
    )


@dataclass(frozen=True)
class UpgradePlan:
    """The ranked options for a rig."""

    options: tuple[OptionFigures, ...]
    goal: Goal
    currency: str
    baseline_tps: float
    """Decode speed of the current rig on the target model, 0 when it does not fit."""
    notes: tuple[str, ...] = ()


def default_candidates(rig: Rig, settings: UpgradeSettings) -> list[str]:
    """Return the cards worth offering: priced, supported by the runtime, and at least as large as the rig's largest card."""
    floor = max((g.spec.memory_bytes for g in rig.gpus), default=0)
    vendors = settings.target.runtime.vendors
    return [
        gpu_id
        for gpu_id in settings.prices.purchasable(settings.buy_condition)
        if gpu_id in settings.gpus
        and settings.gpus[gpu_id].memory_bytes >= floor
        and settings.gpus[gpu_id].vendor in vendors
    ]


def plan_upgrades(
    rig: Rig,
    settings: UpgradeSettings,
    candidates: Iterable[str] | None = None,
) -> UpgradePlan:
    """Generate, evaluate and rank the upgrade options of a rig."""
    chosen = list(candidates) if candidates is not None else default_candidates(rig, settings)
    options = upgrade_options(rig, chosen, settings.gpus, settings.max_cards)
    cache: dict = {}
    figures = [evaluate_option(rig, o, settings, cache) for o in options]
    keep = next(f for f in figures if f.option.kind == "keep")
    baseline = _decode_of(keep) if keep.target_fits else 0.0
    notes = []
    if not chosen:
        notes.append(f"No card has a {settings.prices.currency} purchase price for the catalog to offer.")
    return UpgradePlan(rank_options(figures, settings.goal, settings.target.model, baseline), settings.goal,
                       settings.prices.currency, baseline, tuple(notes))


def mixed_rig_comparison(rig: Rig, settings: UpgradeSettings, pairs: Iterable[tuple[tuple[str, ...], bool]]) -> tuple[OptionFigures, ...]:
    """Compare the current rig with target card sets, each reached by selling what does not belong.

    Args:
        rig: The current rig.
        settings: Its target should be the comparison workload (a 70B model at 4 bits).
        pairs: Card sets as (GPU ids, NVLink bridged), such as (("rtx-3090", "rtx-3090"), True).
    """
    cache: dict = {}
    rows = [evaluate_option(rig, UpgradeOption("keep", "keep", "Current rig"), settings, cache)]
    for ids, nvlink in pairs:
        if not all(i in settings.gpus for i in ids):
            continue
        rows.append(evaluate_option(rig, transition_option(rig, ids, settings.gpus, nvlink), settings, cache))
    return tuple(rows)


# --- shop --------------------------------------------------------------------------------

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
    notes: tuple[str, ...] = ()
    unpriced: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _CardBound:
    """Per-card figures the shop's speed bound needs, computed once per card model."""

    bytes_per_s: float
    capacity: float
    token_overhead_ms: float
    layer_overhead_us: float
    sync_latency_us: float
    cpu_efficiency: float
    segment: str


def _card_bound(spec: GpuSpec, rig: Rig, workload: Workload) -> _CardBound:
    params = _speed.calibration_for(workload.runtime.engine, spec.vendor, spec.architecture, spec.segment)
    quantized = workload.quant.format != "float"
    efficiency = params.bandwidth_efficiency * (params.quantized_bandwidth_factor if quantized else 1.0)
    reserve = rig.os.reserve_per_gpu_mib * MIB + workload.runtime.per_gpu_overhead_mib * MIB
    return _CardBound(
        spec.bandwidth_gbs * 1e9 * efficiency,
        max(0.0, spec.memory_bytes - reserve),
        params.token_overhead_ms,
        params.layer_overhead_us,
        params.sync_latency_us,
        params.cpu_bandwidth_efficiency,
        spec.segment,
    )


def _stored_bytes_lower_bound(workload: Workload) -> float:
    """Bytes the target's weights take at least: the predicted file size less 5%, else the bpw estimate."""
    try:
        from rigtui.core import fit as _fit

        return 0.95 * _fit.model_file_bytes(workload.model, workload.quant, workload.ggml_types, workload.bpw)
    except (ImportError, KeyError, ValueError, AttributeError, TypeError):
        return weight_bytes_lower_bound(workload.model, workload.quant.bits_per_weight)


def _decode_bound_of(cards: list[_CardBound], workload: Workload, stored: float, cpu_gbs: float, link_scale: float) -> float:
    """Return a decode speed no placement on these cards can beat, tokens/s.

    Every token reads the active weights once, each card at its calibrated bandwidth: under
    a layer split the cards take turns, so the bound fills the fastest cards first; with a
    split that runs cards together the summed bandwidth applies, plus at least two
    synchronisations per layer. Weights beyond the GPUs' memory are read from CPU RAM, and
    the speed model's fixed per-token overhead is added.
    """
    if not cards:
        return 0.0
    model = workload.model
    active = stored * model.active_params / model.params_total
    # The KV cache for the context sits beside each card's layers, so a byte of capacity
    # holds less than a byte of weights.
    kv = _speed.kv_bytes_per_token(model, workload.kv_cache) * workload.context
    read_share = active / (stored + kv) if stored else 1.0
    cpu_bps = cpu_gbs * 1e9 * max(max(c.cpu_efficiency for c in cards), 1e-3)
    remaining = active
    seconds = 0.0
    for card in sorted(cards, key=lambda c: -c.bytes_per_s):
        taken = min(remaining, card.capacity * read_share)
        seconds += taken / card.bytes_per_s
        remaining -= taken
    seconds += remaining / cpu_bps
    layer_us = min(c.layer_overhead_us for c in cards)
    seconds += model.n_layers * layer_us * 1e-6
    if len(cards) > 1 and any(s in workload.runtime.split_strategies for s in ("tensor-parallel", "tensor", "row")):
        on_gpus = min(active, sum(c.capacity for c in cards) * read_share)
        # Shards are even under tensor parallel and llama.cpp's tensor mode, and follow free
        # memory under row split; the card that takes longest on its shard sets the pace.
        shard_times = []
        strategies = workload.runtime.split_strategies
        if "tensor-parallel" in strategies or "tensor" in strategies:
            shard_times.append(on_gpus / len(cards) / min(c.bytes_per_s for c in cards))
        if "row" in strategies:
            total_capacity = sum(c.capacity for c in cards) or 1.0
            shard_times.append(0.98 * max(on_gpus * c.capacity / total_capacity / c.bytes_per_s for c in cards))
        together = min(shard_times) + (active - on_gpus) / cpu_bps
        syncs = 2 * model.n_layers * (len(cards) - 1)
        together += syncs * min(c.sync_latency_us for c in cards) * 1e-6 * link_scale
        together += model.n_layers / len(cards) * layer_us * 1e-6
        seconds = min(seconds, together)
    seconds += min(c.token_overhead_ms for c in cards) * 1e-3
    return 1.0 / seconds if seconds > 0 else math.inf


def _decode_upper_bound(rig: Rig, workload: Workload) -> float:
    """Return a decode speed no placement on this rig can beat, tokens/s."""
    if not rig.gpus:
        return 0.0
    cards = [_card_bound(g.spec, rig, workload) for g in rig.gpus]
    for card, gpu in zip(cards, rig.gpus):
        object.__setattr__(card, "capacity", max(0.0, card.capacity - gpu.used_bytes))
    return _decode_bound_of(cards, workload, _stored_bytes_lower_bound(workload), rig.cpu_ram_bandwidth_gbs, _sync_scale(rig))


def _sync_scale(rig: Rig) -> float:
    """Latency scale of the slowest link from the first card, as the speed model weighs link kinds."""
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


def _largest_upper_bound(rig: Rig, settings: UpgradeSettings) -> int:
    capacity = usable_vram_bytes(rig)
    bpw = settings.target.quant.bits_per_weight
    fitting = [m.params_total for m in settings.models if weight_bytes_lower_bound(m, bpw) <= capacity]
    return max(fitting, default=0)


def _multisets(prices: list[tuple[str, float]], budget: float, max_count: int) -> Iterable[tuple[str, ...]]:
    """Yield every multiset of cards, sorted by price, whose low prices sum within ``budget``."""
    def grow(start: int, chosen: list[str], spent: float) -> Iterable[tuple[str, ...]]:
        if chosen:
            yield tuple(chosen)
        if len(chosen) == max_count:
            return
        for i in range(start, len(prices)):
            gpu_id, low = prices[i]
            if spent + low > budget:
                break
            chosen.append(gpu_id)
            yield from grow(i, chosen, spent + low)
            chosen.pop()

    yield from grow(0, [], 0.0)


def shop(
    rig: Rig,
    settings: UpgradeSettings,
    budget: float,
    sell_current: bool = False,
    top: int = 10,
) -> ShopResult:
    """Search every set of up to ``settings.max_cards`` cards that the budget buys, and rank the best.

    With ``sell_current`` the current cards are sold and their used prices add to the budget;
    otherwise bought cards join them and count toward ``max_cards``. The search places only
    the card sets whose upper bound (on decode speed, or on the largest model) can still
    beat the ``top``-th best found, and caches placements per card set.
    """
    book = settings.prices
    currency = book.currency
    evaluate_settings = replace(settings, budget=budget)
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
    stored = _stored_bytes_lower_bound(target)
    kept = [] if sell_current else list(rig.gpus)
    kept_bounds = [_card_bound(g.spec, rig, target) for g in kept]
    card_bounds = {gpu_id: _card_bound(settings.gpus[gpu_id], rig, target) for gpu_id, _ in priced}
    price_of = dict(priced)
    bpw = target.quant.bits_per_weight
    model_floors = sorted((weight_bytes_lower_bound(m, bpw), m.params_total) for m in settings.models)
    candidates = []
    for combo in _multisets(priced, budget + credit, max(0, slots_left)):
        low_cost = sum(price_of[c] for c in combo) - credit
        cards = kept_bounds + [card_bounds[c] for c in combo]
        if settings.goal == "largest":
            capacity = sum(c.capacity for c in cards)
            bound: float = max((p for floor, p in model_floors if floor <= capacity), default=0)
        elif settings.evaluate is not None:
            if settings.decode_bound is None:
                bound = math.inf
            else:
                what_if = build_rig(rig, UpgradeOption("bound", "buy", "", sell=sell, buy=combo), settings.gpus)
                bound = settings.decode_bound(what_if, target)
        else:
            ids = [g.spec.id for g in kept] + list(combo)
            identical_pro = len(set(ids)) == 1 and all(c.segment != "consumer" for c in cards)
            scale = 0.3 if (kept and rig.nvlink_pairs) else 0.6 if identical_pro else 1.0
            bound = _decode_bound_of(cards, target, stored, rig.cpu_ram_bandwidth_gbs, scale)
        candidates.append((combo, bound, low_cost))

    baseline = 0.0
    cache: dict = {}
    if rig.gpus:
        keep = evaluate_option(rig, UpgradeOption("keep", "keep", ""), evaluate_settings, cache, with_largest=False)
        baseline = _decode_of(keep) if keep.target_fits else 0.0
    with_largest = settings.goal == "largest"

    def optimistic(bound: float, low_cost: float) -> tuple:
        if settings.goal == "largest":
            return (-bound, low_cost)
        if settings.goal == "fastest":
            return (-bound, low_cost)
        gain = bound - baseline
        return (max(low_cost, 0.0) / gain if gain > 0 else math.inf, low_cost)

    candidates.sort(key=lambda c: optimistic(c[1], c[2]))
    best: list[OptionFigures] = []
    evaluated = 0
    for combo, bound, low_cost in candidates:
        if len(best) >= top:
            kth = _rank_key(best[top - 1], settings.goal, baseline)
            if optimistic(bound, low_cost) > _optimistic_of(kth, settings.goal):
                break
        evaluated += 1
        option = UpgradeOption(
            "buy:" + "+".join(combo),
            "buy",
            "Buy " + " + ".join(settings.gpus[c].name for c in combo),
            sell=sell,
            buy=combo,
        )
        figures = evaluate_option(rig, option, evaluate_settings, cache, with_largest=with_largest)
        if figures.within_budget is False:
            continue
        best.append(figures)
        best.sort(key=lambda f: _rank_key(f, settings.goal, baseline))
        del best[top:]
    if not with_largest:
        best = [evaluate_option(rig, f.option, evaluate_settings, cache) for f in best]
    ranked = rank_options(best, settings.goal, settings.target.model, baseline)
    if unpriced:
        notes.append(f"{len(unpriced)} cards have no {currency} purchase price and were left out.")
    return ShopResult(ranked, settings.goal, currency, budget, len(candidates), evaluated, tuple(notes), tuple(unpriced))


def _optimistic_of(rank_key: tuple, goal: Goal) -> tuple:
    """Map a computed rank key onto the scale of the bounds, to compare the k-th best with a bound."""
    eligible, *rest = rank_key
    if eligible:
        return (math.inf, math.inf)
    if goal == "largest":
        return (rest[0], rest[1])
    if goal == "fastest":
        fits, neg_decode, cost = rest
        return (neg_decode, cost) if fits == 0 else (0.0, math.inf)
    tier, per, _ = rest
    return (per, math.inf) if tier == 0 else (math.inf, math.inf)
