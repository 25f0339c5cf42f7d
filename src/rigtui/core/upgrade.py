"""Purchase options for a rig: what each costs, what it unlocks, how fast it runs, and a ranking.

The options come from the current rig (keep, sell one card and buy its match, add a card,
replace every card, bridge a pair with NVLink). Each is turned into a what-if rig and run
through the same placement and speed model as every other screen, so the figures here agree
with the fit matrix. ``rigtui.core.shop`` searches every affordable combination of cards instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Literal, Mapping

from rigtui.core.compat import gpu_capacity_bytes
from rigtui.core.money import MoneyRange, PriceBook, Quote, format_money
from rigtui.core.power import PowerReport, PsuStandard, rig_power
from rigtui.core.results import FitResult, SpeedRange
from rigtui.core.rig import Rig, RigGpu, Workload
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
    evaluate_sizes_like_fit: bool = False
    """True when ``evaluate`` sizes weights and KV cache with ``rigtui.core.memory`` as ``fit`` does,
    so that models whose layers exceed the GPUs' memory are skipped without placing them."""
    gpu_fit_check: Callable[[Rig, Workload], bool | None] | None = None
    """A faster test of whether ``evaluate`` fits a model with every layer on the GPUs, for the
    largest-model search; None from it, or no check, places the model with ``evaluate``."""
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
    unpriced_sales: tuple[str, ...] = ()
    """GPU ids sold that have no used price in the currency; ``net_cost`` then leaves their
    resale out and is an upper bound."""

    @property
    def currency(self) -> str:
        return self.net_cost.currency if self.net_cost else ""

    @property
    def psu_upgrade_needed(self) -> bool:
        return self.power.psu_upgrade_needed


def _default_evaluate(rig: Rig, workload: Workload) -> FitResult:
    """Place a workload like ``core.fit.fit``, without the search for the largest context.

    The options need placement and speed only, and that search takes most of fit's time.
    """
    from rigtui.core import fit as _fit

    return _fit.fit(rig, workload, with_max_context=False)


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


def gpu_bytes_needed(workload: Workload) -> float:
    """Return the bytes a workload's layers take on the GPUs when every layer is there, for pruning.

    That is every layer's weights, plus its KV cache under llama.cpp and Ollama, which keep it
    with the layer; vLLM and SGLang size their cache to the memory left, so it does not count.
    Returns 0 when the sizing rejects the workload, so that placement decides about it.
    """
    from rigtui.core import memory
    from rigtui.core.placement import LLAMACPP_ENGINES

    try:
        total = float(sum(memory.workload_weights(workload).layer_totals))
        if workload.runtime.engine in LLAMACPP_ENGINES:
            model = workload.model
            total += sum(memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types,
                                               workload.ubatch, workload.parallel))
    except (ValueError, KeyError, LookupError, ArithmeticError):
        return 0.0
    return total


def _gpu_room(rig: Rig, workload: Workload) -> float:
    """Return the most bytes a placement of ``workload`` can put on the rig's GPUs, summed."""
    from rigtui.core.placement import gpu_memory_utilization

    room = 0.0
    for gpu in rig.gpus:
        free = float(gpu_capacity_bytes(rig, gpu))
        if workload.runtime.engine in ("vllm", "sglang"):
            free = max(free, gpu.spec.memory_bytes * gpu_memory_utilization(workload))
        room += free
    return room


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


def _cannot_hold_all_layers(rig: Rig, workload: Workload) -> bool:
    from rigtui.core import fit as _fit

    try:
        return _fit.cannot_hold_all_layers(rig, workload)
    except (ValueError, KeyError, LookupError, ArithmeticError):
        return False


def _checked_fit(check: Callable[[Rig, Workload], bool | None] | None, rig: Rig, workload: Workload) -> bool | None:
    if check is None or not rig.gpus:
        return None
    try:
        return check(rig, workload)
    except (ValueError, KeyError, LookupError, ArithmeticError):
        # As in _safe_evaluate: a workload the placement rejects does not fit.
        return False


def largest_fitting_models(
    rig: Rig,
    workload: Workload,
    models: Iterable[ModelSpec],
    evaluate: Evaluate | None = None,
    limit: int = 1,
    sizes_like_fit: bool = False,
    gpu_fit_check: Callable[[Rig, Workload], bool | None] | None = None,
) -> tuple[ModelSpec, ...]:
    """Return up to ``limit`` of the largest models (by total parameters) that fit on the GPUs.

    Models run under ``workload``'s quantization, runtime and context; models whose weights
    alone exceed the rig's memory are skipped without placing them. With ``rigtui.core.fit``
    (``evaluate`` None) or ``sizes_like_fit``, so are models whose layers, KV cache included,
    exceed it. ``gpu_fit_check``, where it gives an answer, stands in for placing a model.
    """
    capacity = usable_vram_bytes(rig)
    room = _gpu_room(rig, workload) if evaluate is None or sizes_like_fit else math.inf
    found: list[ModelSpec] = []
    for model in sorted(models, key=lambda m: (-m.params_total, m.id)):
        if weight_bytes_lower_bound(model, workload.quant.bits_per_weight) > capacity:
            continue
        sized = replace(workload, model=model, context=min(workload.context, model.max_context))
        if gpu_bytes_needed(sized) > room:
            continue
        fits = _checked_fit(gpu_fit_check, rig, sized)
        if fits is None and evaluate is None and _cannot_hold_all_layers(rig, sized):
            fits = False
        if fits is None:
            fits = fits_on_gpus(_safe_evaluate(evaluate or _default_evaluate, rig, sized), model)
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


# Letters whose spoken name starts with a vowel sound ("an RTX", "an A100", "an MI300X").
_VOWEL_SOUND_LETTERS = set("AEFHILMNORSX")


def with_article(name: str) -> str:
    """Prefix a card name with "a" or "an" by the sound of its first word.

    A first word in capitals or with digits is read letter by letter ("an RTX PRO 6000",
    "an A100", "a GTX 1080"); any other word goes by its first letter ("a GeForce", "an Instinct").
    """
    first = name.split(" ", 1)[0]
    if not first:
        return name
    spelled = first.isupper() or any(ch.isdigit() for ch in first)
    if spelled:
        vowel = first[0].upper() in _VOWEL_SOUND_LETTERS
    else:
        vowel = first[0].lower() in "aeio"
    return f"{'an' if vowel else 'a'} {name}"


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
            title = f"Add {_ordinal(copies)} {gpus[gpu_id].name}" if copies else f"Add {with_article(gpus[gpu_id].name)}"
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
    return _distinct_outcomes(rig, options + with_bridges, gpus)


def _distinct_outcomes(rig: Rig, options: list[UpgradeOption], gpus: Mapping[str, GpuSpec]) -> tuple[UpgradeOption, ...]:
    """Keep one option per resulting rig: the same cards in any order, bridged or not.

    Selling a card and buying the same model back only adds two transactions, so among options
    that end in the same cards the one with the fewest cards sold and bought stays, and on a
    tie the first generated (keep, swap and add come before replace).
    """
    chosen: dict[tuple, UpgradeOption] = {}
    for option in options:
        result = build_rig(rig, option, gpus)
        outcome = (tuple(sorted(g.spec.id for g in result.gpus)), bool(result.nvlink_pairs))
        known = chosen.get(outcome)
        if known is None or len(option.sell) + len(option.buy) < len(known.sell) + len(known.buy):
            chosen[outcome] = option
    kept = set(id(o) for o in chosen.values())
    return tuple(o for o in options if id(o) in kept)


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
    MoneyRange | None, tuple[Quote, ...], tuple[Quote, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]
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
    unpriced_sales: list[str] = []
    for index in option.sell:
        spec = rig.gpus[index].spec
        quote = book.sell_quote(spec.id)
        if quote is None:
            unpriced_sales.append(spec.id)
            notes.append(book.unpriced_resale_message(spec.id, spec.name))
        else:
            sales.append(quote)
    stale = tuple(dict.fromkeys(q.gpu for q in purchases + sales if q.stale))
    if unpriced:
        return None, tuple(purchases), tuple(sales), tuple(notes), stale, tuple(unpriced_sales)
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
    return cost, tuple(purchases), tuple(sales), tuple(notes), stale, tuple(unpriced_sales)


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
    with_target: bool = True,
) -> OptionFigures:
    """Compute every figure of one option.

    ``cache`` maps a card set to its placement and largest models, so options and shop
    combinations that end in the same cards are placed once. ``with_largest=False`` skips
    the search for the largest model that fits, the costliest figure. ``with_target=False``
    skips placing the target, for callers that need the other figures only: the target then
    has no placement, does not fit and has no speed.
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
    result = None
    if with_target:
        if ("fit", key) not in cache:
            cache[("fit", key)] = _safe_evaluate(evaluate, new_rig, settings.target)
        result = cache[("fit", key)]
    largest: tuple[ModelSpec, ...] = ()
    if with_largest and settings.models:
        if ("largest", key) not in cache:
            cache[("largest", key)] = largest_fitting_models(new_rig, settings.target, settings.models, settings.evaluate,
                                                             sizes_like_fit=settings.evaluate_sizes_like_fit,
                                                             gpu_fit_check=settings.gpu_fit_check)
        largest = cache[("largest", key)]

    cost, purchases, sales, price_notes, stale, unpriced_sales = _price_option(rig, option, settings)
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
        unpriced_sales=unpriced_sales,
    )


# --- ranking -----------------------------------------------------------------------------

def decode_of(figures: OptionFigures) -> float:
    """Return the expected decode speed of an option, 0 when the target does not run."""
    return figures.decode.expected if figures.decode is not None else 0.0


def _largest_params(figures: OptionFigures) -> int:
    return figures.largest_models[0].params_total if figures.largest_models else 0


def _gain(figures: OptionFigures, baseline_tps: float) -> float:
    return decode_of(figures) - baseline_tps


def rank_key(figures: OptionFigures, goal: Goal, baseline_tps: float) -> tuple:
    """Return the sort key that ``rank_options`` orders by: smaller ranks first.

    Options over budget or without a price rank last. Among the others, for "fastest" and
    "value", an option where the target does not fit on the GPUs ranks after every option
    where it fits.
    """
    cost = figures.net_cost.expected if figures.net_cost is not None else math.inf
    eligible = 0 if figures.within_budget is not False and figures.net_cost is not None else 1
    if goal == "largest":
        return (eligible, -_largest_params(figures), cost, -decode_of(figures))
    fits = 0 if figures.target_fits else 1
    if goal == "fastest":
        return (eligible, fits, -decode_of(figures), cost)
    gain = _gain(figures, baseline_tps)
    if figures.target_fits and gain > 0 and figures.net_cost is not None:
        # An option that pays money back and gains speed costs nothing per token/s; among
        # those, the one that pays back the most ranks first.
        return (eligible, fits, 0, max(cost, 0.0) / gain, min(cost, 0.0), -gain)
    return (eligible, fits, 1, cost, 0.0, -decode_of(figures))


def _reason(figures: OptionFigures, goal: Goal, baseline_tps: float, model: ModelSpec) -> str:
    """Explain an option's place in the ranking from its figures."""
    currency = figures.currency
    if figures.net_cost is None:
        return "unranked: a card it needs has no price"
    spent = format_money(figures.net_cost.expected, currency)
    if figures.unpriced_sales:
        spent = "at most " + spent
    if figures.within_budget is False:
        return f"over budget: costs {spent} net"
    if goal == "largest":
        if not figures.largest_models:
            return f"fits no catalog model on its GPUs; costs {spent} net"
        top = figures.largest_models[0]
        return f"fits {top.name} ({top.params_total / 1e9:.0f}B) on its GPUs for {spent} net"
    if not figures.target_fits:
        return f"{model.name} does not fit on its GPUs"
    tps = decode_of(figures)
    if goal == "fastest":
        return f"{tps:.1f} tokens/s on {model.name} for {spent} net"
    gain = _gain(figures, baseline_tps)
    if gain <= 0:
        return f"no gain over the current {baseline_tps:.1f} tokens/s on {model.name}"
    net = figures.net_cost.expected
    if net < 0 and not figures.unpriced_sales:
        return f"gains {format_money(-net, currency)} and +{gain:.1f} tokens/s on {model.name}: resale exceeds purchases"
    per = _format_rate(max(net, 0.0) / gain, currency)
    return f"{per} per token/s gained: {spent} net for +{gain:.1f} tokens/s on {model.name}"


def _format_rate(amount: float, currency: str) -> str:
    """Format a cost per token/s, with cents below 10 so that a small rate does not read as 0."""
    if 0 < amount < 10:
        return f"{amount:,.2f} {currency}"
    return format_money(amount, currency)


def rank_options(
    options: Iterable[OptionFigures], goal: Goal, model: ModelSpec, baseline_tps: float = 0.0
) -> tuple[OptionFigures, ...]:
    """Order options by the goal and number them, each with the reason for its place.

    Options over budget or without a price come last. "largest" ranks by the largest model
    that fits on the GPUs, "fastest" by decode speed on the target model, and "value" by net
    cost per token/s gained over ``baseline_tps`` (the current rig's speed).
    """
    ordered = sorted(options, key=lambda f: rank_key(f, goal, baseline_tps))
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
    baseline = decode_of(keep) if keep.target_fits else 0.0
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
