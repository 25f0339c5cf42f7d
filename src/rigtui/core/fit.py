"""Does a workload fit a rig, split how, and how fast: the public entry points of the core.

``fit`` tries every split strategy the runtime supports and returns the fastest placement
that fits, with the others as alternatives. ``plan`` places with one strategy. For llama.cpp's
layer split the core chooses the ``--tensor-split`` ratios itself: each card takes whole,
contiguous layers, the fastest card is filled first, and every subset of the cards is tried,
so leaving a slow card out is found when it is faster.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from rigtui.core import memory, placement as pl
from rigtui.core.launch import launch_values, model_repo, render_launch
from rigtui.core.results import DeviceUsage, FitResult, Warning_
from rigtui.core.rig import GIB, SPLITS, Rig, Workload
from rigtui.core.specs import GgmlType, ModelSpec, QuantSpec
from rigtui.core.speed import estimate_speed

__all__ = ["fit", "plan", "plan_every_card", "max_context", "best_quant", "model_file_bytes", "STRATEGIES"]

# Strategies fit() compares under split "auto", in the order ties are broken.
STRATEGIES = ("layer", "row", "tensor", "tensor-parallel", "pipeline-parallel")
# More GPUs than this and only prefixes of the cards sorted by bandwidth are tried as subsets.
_MAX_SUBSET_GPUS = 6


def model_file_bytes(model: ModelSpec, quant: QuantSpec, ggml_types: dict[str, GgmlType], bpw: float | None = None) -> int:
    """Predict the weight file size of a model at a quantization, from per-tensor types."""
    return memory.model_file_bytes(model, quant, ggml_types, bpw)


def _is_ollama(workload: Workload) -> bool:
    return workload.runtime.id == "ollama" or workload.runtime.engine == "ollama"


def supported_splits(rig: Rig, workload: Workload) -> list[str]:
    """Strategies the runtime offers on this rig, in STRATEGIES order ('single' for one GPU)."""
    offered = set(workload.runtime.split_strategies)
    if len(rig.gpus) <= 1:
        return ["single"]
    return [s for s in STRATEGIES if s in offered]


def fit(rig: Rig, workload: Workload, *, with_max_context: bool = True) -> FitResult:
    """Place a workload on a rig; with split 'auto', the fastest supported strategy that fits.

    The chosen result lists the other strategies' results in ``alternatives``.
    ``with_max_context=False`` skips the search for the largest context that fits, which
    takes most of the time, and leaves ``max_context`` None.
    """
    if workload.split != "auto":
        return plan(rig, workload, workload.split, with_max_context=with_max_context)
    splits = supported_splits(rig, workload)
    if not splits:
        raise ValueError(f"{workload.runtime.name} offers no multi-GPU split strategy; pick one GPU or another runtime")
    results = [plan(rig, workload, split, with_max_context=with_max_context) for split in splits]
    best = max(results, key=_rank)
    others = tuple(r for r in results if r is not best)
    if others:
        notes = best.notes + (_why_chosen(best, others),)
        best = replace(best, alternatives=others, notes=notes)
    return best


# llama.cpp's `-sm tensor` mode is experimental, so auto ranks it below any stable split that
# fits on the GPUs and only names it as the faster alternative; `--split tensor` still picks it.
EXPERIMENTAL_SPLITS = frozenset({"tensor"})


def _rank(result: FitResult) -> tuple[int, int, int, float, int]:
    order = -STRATEGIES.index(result.split) if result.split in STRATEGIES else 0
    if not result.fits:
        # Among strategies that do not fit, the one that needs the least memory freed comes closest.
        return (0, 0, 0, -float(total_shortfall(result.devices)), order)
    on_gpu = 0 if any(w.code in ("cpu-offload", "expert-offload") for w in result.warnings) else 1
    stable = 0 if result.split in EXPERIMENTAL_SPLITS else 1
    decode = result.decode.expected if result.decode else 0.0
    return (1, on_gpu, stable, decode, order)


def device_shortfall(device: DeviceUsage) -> int:
    """Return the bytes a device lacks for its share of a placement, 0 when it has room."""
    return max(-device.free_bytes, 0)


def total_shortfall(devices: tuple[DeviceUsage, ...] | list[DeviceUsage]) -> int:
    """Return the bytes every short device lacks, summed: the memory to free for a placement to fit."""
    return sum(device_shortfall(d) for d in devices)


def _why_closest(best: FitResult, others: tuple[FitResult, ...]) -> str:
    parts = [f"{other.split}: short by {total_shortfall(other.devices) / GIB:.1f} GiB" for other in others if not other.fits]
    return (
        f"No split fits. {best.split} comes closest, short by {total_shortfall(best.devices) / GIB:.1f} GiB "
        "over all devices; others: " + ("; ".join(parts) or "none")
    )


def _why_chosen(best: FitResult, others: tuple[FitResult, ...]) -> str:
    if not best.fits:
        return _why_closest(best, others)
    parts = []
    for other in others:
        if not other.fits:
            parts.append(f"{other.split}: does not fit")
        elif other.decode and best.decode:
            label = f"{other.split} (experimental)" if other.split in EXPERIMENTAL_SPLITS else other.split
            parts.append(f"{label}: {other.decode.expected:.1f} tok/s")
    speed = f" at {best.decode.expected:.1f} tok/s" if best.decode else ""
    return f"Chose {best.split} split{speed}; others: " + ("; ".join(parts) or "none")


def plan(rig: Rig, workload: Workload, split: str, *, with_max_context: bool = True) -> FitResult:
    """Place a workload with one split strategy, choosing that strategy's ratios and offload.

    ``with_max_context`` is as in ``fit``.
    """
    if split == "auto":
        return fit(rig, workload, with_max_context=with_max_context)
    _check_split_offered(workload, split)
    placement, extra_notes = _place(rig, workload, split, for_speed=True)
    result = _to_result(rig, workload, placement)
    context = max_context_for(rig, workload, split, placement) if result.fits and with_max_context else None
    notes = result.notes + tuple(extra_notes)
    return replace(result, max_context=context, notes=notes)


def _check_split_offered(workload: Workload, split: str) -> None:
    """Raise ValueError when the runtime has no such split strategy."""
    runtime = workload.runtime
    if split in runtime.split_strategies:
        return
    offered = [s for s in runtime.split_strategies if s in SPLITS]
    raise ValueError(
        f"{runtime.name} does not offer the {split} split; use one of: {', '.join(offered)} (or auto)"
    )


def plan_every_card(rig: Rig, workload: Workload) -> FitResult:
    """Place a workload with llama.cpp's layer split over every card of a multi-card rig, without the largest context.

    Unlike ``plan(rig, workload, "layer")`` it tries no subset of the cards, so it is several
    times faster on three or four cards. Ollama places layers its own way, so a rig under
    Ollama, one card, or a given --tensor-split gets ``plan``'s placement.
    """
    gpus = tuple(range(len(rig.gpus)))
    if len(gpus) <= 1 or _is_ollama(workload) or workload.tensor_split:
        return plan(rig, workload, "single" if len(gpus) <= 1 else "layer", with_max_context=False)
    placement, notes = _layer_split(rig, workload, True, gpus, every_card=True)
    result = _to_result(rig, workload, placement)
    return replace(result, notes=result.notes + tuple(notes))


def every_card_holds_all_layers(rig: Rig, workload: Workload) -> bool | None:
    """Tell whether ``plan_every_card`` fits with every layer on the GPUs, without placing it in full.

    The layer split's balancing moves never change whether the cards hold every layer, so
    this skips them, and the offload searches that follow a miss. Returns None for the cases
    ``plan_every_card`` places another way: no GPU, Ollama, given ratios or --n-cpu-moe.
    """
    if not rig.gpus or _is_ollama(workload) or workload.tensor_split or workload.n_cpu_moe:
        return None
    gpus = tuple(range(len(rig.gpus)))
    if len(gpus) == 1 and "single" not in workload.runtime.split_strategies:
        return False
    placement = _fill(rig, workload, gpus, n_cpu_moe=0, rebalance=False)
    return placement is not None and placement.fits


def cannot_hold_all_layers(rig: Rig, workload: Workload) -> bool:
    """True when no split ``fit`` tries puts every layer on the GPUs, found without the offload searches.

    The layer split is checked by its contiguous fill over every subset ``fit`` tries (its
    balancing moves never change whether the cards hold every layer), and the other splits are
    placed. False means the answer needs ``fit``: it may hold them, or a case this skips applies
    (Ollama, a given split or ratios, --n-cpu-moe, or a runtime without CPU offload, whose fallback
    placement this does not check).
    """
    runtime = workload.runtime
    if workload.split != "auto" or not rig.gpus or _is_ollama(workload) or workload.tensor_split or workload.n_cpu_moe:
        return False
    if "cpu-offload" not in runtime.split_strategies or runtime.engine not in pl.LLAMACPP_ENGINES:
        return False
    gpus = tuple(range(len(rig.gpus)))
    for split in supported_splits(rig, workload):
        if split not in runtime.split_strategies:
            return False
        if split in ("single", "layer"):
            if split == "single":
                subsets = [(max(gpus, key=lambda i: (pl.gpu_capacity(rig, i, workload), rig.gpus[i].spec.bandwidth_gbs)),)]
            else:
                subsets = _subsets(rig, gpus)
            for subset in subsets:
                placement = _fill(rig, workload, subset, n_cpu_moe=0, rebalance=False)
                if placement is not None and placement.fits:
                    return False
            continue
        result = plan(rig, workload, split, with_max_context=False)
        on_cpu = any(d.kind == "cpu" and (d.layers or d.expert_layers) for d in result.devices)
        if result.fits and not on_cpu and result.gpu_layers >= workload.model.n_layers:
            return False
    return True


# --- choosing a placement -------------------------------------------------------------------


def _place(rig: Rig, workload: Workload, split: str, for_speed: bool) -> tuple[pl.Placement, list[str]]:
    engine = workload.runtime.engine
    gpus = tuple(range(len(rig.gpus)))
    if not gpus:
        return _cpu_only(rig, workload), []
    if split in ("single", "layer") and _is_ollama(workload):
        order = sorted(gpus, key=lambda i: pl.gpu_free_bytes(rig, i), reverse=True)
        placement = pl.build_ollama(rig, workload, order)
        _annotate_offload(workload, placement)
        return placement, []
    if engine in ("vllm", "sglang", "tensorrt-llm", "mlc-llm") and split in ("single", "tensor-parallel"):
        chosen = gpus if split == "tensor-parallel" else (max(gpus, key=lambda i: pl.gpu_capacity(rig, i, workload)),)
        placement = pl.build_tensor_parallel(rig, workload, chosen)
        placement.split = "tensor-parallel" if len(chosen) > 1 else "single"
        return placement, []
    if split == "tensor-parallel":
        return pl.build_tensor_parallel(rig, workload, gpus), []
    if split == "pipeline-parallel":
        return pl.build_pipeline_parallel(rig, workload, gpus), []
    if split in ("row", "tensor"):
        ratios = list(workload.tensor_split) if workload.tensor_split else None
        if ratios is None:
            # Row split defaults to free memory like layer split; tensor split divides evenly.
            ratios = [round(pl.gpu_free_bytes(rig, i) / GIB, 1) for i in gpus] if split == "row" else [1.0] * len(gpus)
        return pl.build_row_or_tensor_split(rig, workload, gpus, ratios, split), []
    if split == "single":
        best = max(gpus, key=lambda i: (pl.gpu_capacity(rig, i, workload), rig.gpus[i].spec.bandwidth_gbs))
        placement, notes = _layer_split(rig, workload, for_speed, (best,))
        placement.split = "single"
        return placement, notes
    return _layer_split(rig, workload, for_speed, gpus)


def _cpu_only(rig: Rig, workload: Workload) -> pl.Placement:
    placement = pl.build_layer_split(rig, workload, pl.LayerPlan((), ()))
    placement.split = "single"
    return placement


def _left_out_message(left_out: list[str], best_speed: float, everything: float | None) -> str:
    """Explain why fewer cards were chosen, with speeds shown to the digits that tell them apart."""
    reason = "under layer split the cards take turns, so a slower card only adds time."
    if not everything:
        return f"Leaving {', '.join(left_out)} out is faster: {reason}"
    for digits in (1, 2):
        fewer, every = f"{best_speed:.{digits}f}", f"{everything:.{digits}f}"
        if fewer != every:
            return f"Leaving {', '.join(left_out)} out is faster ({fewer} tok/s against {every} with every card): {reason}"
    return (
        f"Leaving {', '.join(left_out)} out is as fast ({best_speed:.1f} tok/s either way) and frees "
        f"{'that card' if len(left_out) == 1 else 'those cards'}: {reason}"
    )


def _layer_split(
    rig: Rig, workload: Workload, for_speed: bool, gpus: tuple[int, ...], every_card: bool = False
) -> tuple[pl.Placement, list[str]]:
    notes: list[str] = []
    if workload.tensor_split:
        if len(workload.tensor_split) != len(gpus):
            raise ValueError(f"--tensor-split has {len(workload.tensor_split)} values for {len(gpus)} GPUs; give one per GPU")
        ngl = workload.n_gpu_layers if workload.n_gpu_layers is not None else workload.model.n_layers + 1
        placement = _build_with_ratios(rig, workload, gpus, list(workload.tensor_split), ngl)
        return placement, ["Uses the --tensor-split ratios given."]
    candidates = _layer_candidates(rig, workload, gpus, every_card)
    fitting = [c for c in candidates if c.fits]
    if not fitting:
        # Report the placement over every card, which is short by the least.
        best = max(candidates, key=lambda c: min(d.free_bytes for d in c.devices))
        return best, notes
    if not for_speed or len(fitting) == 1:
        return fitting[0], notes
    scored = [(c, _decode_speed(rig, workload, c)) for c in fitting]
    best, best_speed = max(scored, key=lambda item: (item[1], len(item[0].gpu_indexes)))
    everything = next((s for c, s in scored if len(c.gpu_indexes) == len(gpus) and c.n_gpu_layers == workload.model.n_layers + 1), None)
    if len(best.gpu_indexes) < len(gpus):
        left_out = [rig.gpus[i].name for i in gpus if i not in best.gpu_indexes]
        code = "single-card-faster" if len(best.gpu_indexes) == 1 else "slower-card-left-out"
        best.warnings.append(Warning_(code, _left_out_message(left_out, best_speed, everything)))
    default = _default_ratio_note(rig, workload, gpus)
    if default:
        notes.append(default)
    return best, notes


def _build_with_ratios(rig: Rig, workload: Workload, gpus: tuple[int, ...], ratios: list[float], ngl: int) -> pl.Placement:
    n_layer = workload.model.n_layers
    slots = pl.llamacpp_layer_devices(n_layer, ngl, ratios)
    counts = [sum(1 for s in slots[:n_layer] if s == k) for k in range(len(gpus))]
    plan_ = pl.LayerPlan(gpus, tuple(counts), workload.n_cpu_moe or 0)
    return pl.build_layer_split(rig, workload, plan_, ratios=ratios)


def _default_ratio_note(rig: Rig, workload: Workload, gpus: tuple[int, ...]) -> str | None:
    """Describe llama.cpp's own split (by free memory) for comparison."""
    if len(gpus) < 2:
        return None
    ratios = [pl.gpu_free_bytes(rig, i) / GIB for i in gpus]
    default = _build_with_ratios(rig, workload, gpus, ratios, workload.model.n_layers + 1)
    shown = ",".join(f"{r:.0f}" for r in ratios)
    if default.fits:
        return f"llama.cpp's default split by free memory (-ts {shown}) also fits."
    name, short = default.short()
    return f"llama.cpp's default split by free memory (-ts {shown}) runs {name} out of memory by {short / GIB:.2f} GiB."


def _subsets(rig: Rig, gpus: tuple[int, ...]) -> list[tuple[int, ...]]:
    if len(gpus) <= _MAX_SUBSET_GPUS:
        found = []
        for size in range(len(gpus), 0, -1):
            found.extend(itertools.combinations(gpus, size))
        return found
    by_speed = sorted(gpus, key=lambda i: rig.gpus[i].spec.bandwidth_gbs, reverse=True)
    return [tuple(sorted(by_speed[:k])) for k in range(len(gpus), 0, -1)]


def _layer_candidates(rig: Rig, workload: Workload, gpus: tuple[int, ...], every_card: bool = False) -> list[pl.Placement]:
    model = workload.model
    offered = set(workload.runtime.split_strategies)
    allow_cpu = "cpu-offload" in offered and workload.runtime.engine in pl.LLAMACPP_ENGINES
    allow_experts = model.is_moe and "expert-offload" in offered and workload.runtime.engine in pl.LLAMACPP_ENGINES
    out: list[pl.Placement] = []
    for subset in [gpus] if every_card else _subsets(rig, gpus):
        full = _fill(rig, workload, subset, n_cpu_moe=workload.n_cpu_moe or 0)
        if full is not None:
            out.append(full)
            continue
        if allow_experts and workload.n_cpu_moe is None:
            moe = _least_expert_offload(rig, workload, subset)
            if moe is not None:
                out.append(moe)
                continue
        if allow_cpu:
            out.append(_partial(rig, workload, subset))
    if not out:
        out.append(_build_with_ratios(rig, workload, gpus, [float(pl.gpu_free_bytes(rig, i)) or 1.0 for i in gpus], model.n_layers + 1))
    for placement in out:
        _annotate_offload(workload, placement)
    return out


def _gpu_fits(placement: pl.Placement) -> bool:
    return all(d.fits for d in placement.devices if d.kind == "gpu")


def _fill(rig: Rig, workload: Workload, subset: tuple[int, ...], n_cpu_moe: int, rebalance: bool = True) -> pl.Placement | None:
    """Put every layer on the subset's GPUs, fastest card fullest; None when they cannot hold it.

    ``rebalance=False`` skips moving layers to faster cards, which never changes whether the
    result is None, for callers that only test that.
    """
    counts = _filled_counts(rig, workload, subset, n_cpu_moe)
    if counts is None:
        return None
    placement = pl.build_layer_split(rig, workload, pl.LayerPlan(subset, tuple(counts), n_cpu_moe))
    if not rebalance:
        return placement
    return _rebalance_for_speed(rig, workload, subset, list(_counts_of(placement, subset)), n_cpu_moe, placement)


def _filled_counts(rig: Rig, workload: Workload, subset: tuple[int, ...], n_cpu_moe: int) -> list[int] | None:
    """Return the layer counts ``_fill`` places before balancing, or None when the GPUs cannot hold every layer.

    It repairs on per-GPU free bytes alone, so a caller that only tests for None builds no placement.
    """
    counts = _contiguous_counts(rig, workload, subset, n_cpu_moe)
    if sum(counts) < workload.model.n_layers:
        return None
    return _repaired_counts(rig, workload, subset, counts, n_cpu_moe, allow_cpu=False)


def _contiguous_counts(rig: Rig, workload: Workload, subset: tuple[int, ...], n_cpu_moe: int) -> list[int]:
    """Fill the subset's GPUs in slot order with whole layers until each is full."""
    model = workload.model
    weights = memory.workload_weights(workload)
    shape = memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
    overhead = workload.runtime.per_gpu_overhead_mib * (1 << 20)
    kv_sizes = memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types, workload.ubatch, workload.parallel)
    costs = _layer_costs(weights, kv_sizes, n_cpu_moe)
    counts = []
    cursor = 0
    for slot, gpu in enumerate(subset):
        last = slot == len(subset) - 1
        room = pl.gpu_capacity(rig, gpu, workload) - overhead
        room -= memory.llamacpp_compute_bytes(shape, last, True)
        if last:
            room -= weights.output_bytes
        taken = 0
        while cursor < len(costs) and room >= costs[cursor]:
            room -= costs[cursor]
            cursor += 1
            taken += 1
        counts.append(taken)
    return counts


def _layer_costs(weights: memory.ModelWeights, kv_sizes: tuple[int, ...], n_cpu_moe: int) -> tuple[int, ...]:
    """Bytes each layer takes on a GPU: weights (without experts under --n-cpu-moe) plus KV cache."""
    key = (id(weights), id(kv_sizes), n_cpu_moe)
    cached = _LAYER_COSTS.get(key)
    if cached is not None and cached[0] is weights and cached[1] is kv_sizes:
        return cached[2]
    costs = tuple(
        (layer.dense_bytes if il < n_cpu_moe else layer.total_bytes) + kv_sizes[il] for il, layer in enumerate(weights.layers)
    )
    if len(_LAYER_COSTS) > 256:
        _LAYER_COSTS.clear()
    # The entry keeps both inputs alive, so no other object can take their ids while it is stored.
    _LAYER_COSTS[key] = (weights, kv_sizes, costs)
    return costs


_LAYER_COSTS: dict[tuple[int, int, int], tuple[memory.ModelWeights, tuple[int, ...], tuple[int, ...]]] = {}


def _counts_of(placement: pl.Placement, subset: tuple[int, ...]) -> tuple[int, ...]:
    by_index = {d.index: d.layers for d in placement.devices if d.kind == "gpu"}
    return tuple(by_index.get(i, 0) for i in subset)


def _repair(
    rig: Rig, workload: Workload, subset: tuple[int, ...], counts: list[int], n_cpu_moe: int, placement: pl.Placement, allow_cpu: bool
) -> pl.Placement | None:
    """Move layers off GPUs the estimate overfilled, to a GPU with room or (if allowed) the CPU.

    ``placement`` is the layer split of ``counts``, returned as it is when every GPU fits.
    """
    start = list(counts)
    repaired = _repaired_counts(rig, workload, subset, counts, n_cpu_moe, allow_cpu)
    if repaired is None:
        return None
    if repaired == start:
        return placement
    return pl.build_layer_split(rig, workload, pl.LayerPlan(subset, tuple(repaired), n_cpu_moe))


def _repaired_counts(
    rig: Rig, workload: Workload, subset: tuple[int, ...], counts: list[int], n_cpu_moe: int, allow_cpu: bool
) -> list[int] | None:
    """Return ``counts`` after ``_repair``'s moves, changed in place, or None when it gives up."""
    free = pl.layer_split_gpu_free(rig, workload, pl.LayerPlan(subset, tuple(counts), n_cpu_moe))
    for _ in range(workload.model.n_layers + 1):
        over = next((slot for slot, room in enumerate(free) if room < 0), None)
        if over is None:
            return counts
        if counts[over] == 0:
            return None
        counts[over] -= 1
        # The first of the roomiest GPUs takes the layer, in slot order.
        roomy = [slot for slot, room in enumerate(free) if room >= 0 and slot != over]
        if roomy:
            counts[max(roomy, key=lambda slot: free[slot])] += 1
        elif not allow_cpu:
            return None
        free = pl.layer_split_gpu_free(rig, workload, pl.LayerPlan(subset, tuple(counts), n_cpu_moe))
    return counts if all(room >= 0 for room in free) else None


def _rebalance_for_speed(
    rig: Rig, workload: Workload, subset: tuple[int, ...], counts: list[int], n_cpu_moe: int, placement: pl.Placement
) -> pl.Placement:
    """Move layers from slower to faster cards while everything still fits.

    Under layer split one sequence passes through the cards in turn, so each layer costs its
    bytes over its card's bandwidth. A layer on a faster card therefore takes less time.
    """
    if len(subset) < 2:
        return placement
    bandwidth = {i: rig.gpus[i].spec.bandwidth_gbs for i in subset}
    start_counts = list(counts)
    for _ in range(workload.model.n_layers):
        moved = False
        for fast in sorted(subset, key=lambda i: bandwidth[i], reverse=True):
            for slow in sorted(subset, key=lambda i: bandwidth[i]):
                if bandwidth[slow] >= bandwidth[fast] or counts[subset.index(slow)] == 0:
                    continue
                trial = list(counts)
                trial[subset.index(slow)] -= 1
                trial[subset.index(fast)] += 1
                if pl.layer_split_gpus_fit(rig, workload, pl.LayerPlan(subset, tuple(trial), n_cpu_moe)):
                    counts, moved = trial, True
                    break
            if moved:
                break
        if not moved:
            break
    if counts == start_counts:
        return placement
    return pl.build_layer_split(rig, workload, pl.LayerPlan(subset, tuple(counts), n_cpu_moe))


def _least_expert_offload(rig: Rig, workload: Workload, subset: tuple[int, ...]) -> pl.Placement | None:
    """Keep the experts of the fewest leading layers in CPU RAM so that the rest fits (--n-cpu-moe)."""
    n_layer = workload.model.n_layers
    if _filled_counts(rig, workload, subset, n_layer) is None:
        return None
    low, high = 1, n_layer
    while low < high:
        mid = (low + high) // 2
        if _filled_counts(rig, workload, subset, mid) is not None:
            high = mid
        else:
            low = mid + 1
    return _fill(rig, workload, subset, low)


def _partial(rig: Rig, workload: Workload, subset: tuple[int, ...]) -> pl.Placement:
    """Offload as many of the last layers as fit (llama.cpp -ngl); the first layers run on the CPU."""
    counts = _contiguous_counts(rig, workload, subset, 0)
    placement = pl.build_layer_split(rig, workload, pl.LayerPlan(subset, tuple(counts)))
    repaired = _repair(rig, workload, subset, list(counts), 0, placement, allow_cpu=True)
    return repaired or placement


def _annotate_offload(workload: Workload, placement: pl.Placement) -> None:
    cpu = next(d for d in placement.devices if d.kind == "cpu")
    n_layer = workload.model.n_layers
    if cpu.layers:
        placement.warnings.append(
            Warning_(
                "cpu-offload",
                f"{cpu.layers} of {n_layer} layers stay in CPU RAM (-ngl {placement.n_gpu_layers}); decode runs at "
                "system-memory speed for those layers.",
            )
        )
    if cpu.expert_layers:
        placement.warnings.append(
            Warning_(
                "expert-offload",
                f"The experts of the first {cpu.expert_layers} layers stay in CPU RAM (--n-cpu-moe {cpu.expert_layers}), "
                f"{cpu.weights_bytes / GIB:.1f} GiB of RAM in all; attention and the rest stay on the GPUs.",
            )
        )


def _decode_speed(rig: Rig, workload: Workload, placement: pl.Placement) -> float:
    result = _bare_result(workload, placement)
    return estimate_speed(rig, workload, result).decode.expected


# --- assembling the result -------------------------------------------------------------------


def _with_idle_gpus(rig: Rig, workload: Workload, placement: pl.Placement) -> None:
    """List every GPU of the rig, the ones a placement leaves out with nothing on them."""
    present = {d.index for d in placement.devices if d.kind == "gpu"}
    idle = [
        DeviceUsage(
            name=rig.gpus[i].name,
            kind="gpu",
            index=i,
            capacity_bytes=pl.gpu_capacity(rig, i, workload),
            reserved_bytes=pl.gpu_reserved_bytes(rig, i),
        )
        for i in range(len(rig.gpus))
        if i not in present
    ]
    if idle:
        gpus = sorted([d for d in placement.devices if d.kind == "gpu"] + idle, key=lambda d: d.index)
        placement.devices = gpus + [d for d in placement.devices if d.kind == "cpu"]


def _bare_result(workload: Workload, placement: pl.Placement) -> FitResult:
    name, short = placement.short()
    return FitResult(
        fits=placement.fits,
        split=placement.split,
        runtime=workload.runtime.id,
        quant=workload.quant.id,
        context=workload.context,
        kv_cache=workload.kv_cache,
        devices=tuple(placement.devices),
        tensor_split=placement.tensor_split,
        short_device=name,
        short_by_bytes=short,
    )


def _to_result(rig: Rig, workload: Workload, placement: pl.Placement) -> FitResult:
    _with_idle_gpus(rig, workload, placement)
    warnings = list(placement.warnings)
    notes = list(placement.notes)
    warnings.extend(_workload_warnings(rig, workload, placement))
    base = _bare_result(workload, placement)
    speed = estimate_speed(rig, workload, base)
    if base.fits:
        notes.extend(speed.notes)
    if not base.fits and base.short_device:
        warnings.insert(0, _does_not_fit_warning(placement.devices))
    loadable = workload.quant.format in workload.runtime.quant_formats
    if not loadable:
        # Nothing else matters until the weights are in a format the runtime loads.
        warnings.sort(key=lambda w: w.code != "runtime-quant-unsupported")
    if placement.wasted_bytes:
        notes.append(f"Unused on the larger card(s) under even sharding: {placement.wasted_bytes / GIB:.1f} GiB.")
    if placement.kv_token_budget is not None:
        notes.append(f"KV cache budget: {placement.kv_token_budget:,} tokens.")
    # A placement that does not fit has no speed and no command that would start.
    runs = base.fits and bool(base.devices)
    launch = _launch(rig, workload, placement) if base.fits and loadable else None
    weights = memory.workload_weights(workload)
    return replace(
        base,
        model_file_bytes=weights.file_bytes,
        weights_source=weights.source,
        decode=speed.decode if runs else None,
        prefill=speed.prefill if runs else None,
        launch_command=launch,
        warnings=tuple(_unique(warnings)),
        notes=tuple(notes),
    )


def _does_not_fit_warning(devices: list[DeviceUsage]) -> Warning_:
    short = sorted((d for d in devices if device_shortfall(d)), key=device_shortfall, reverse=True)
    amounts = ", ".join(f"{d.name} by {device_shortfall(d) / GIB:.2f} GiB" for d in short)
    return Warning_(
        "does-not-fit",
        f"Short of memory: {amounts}. Try a smaller quantization, a shorter context, a quantized KV cache "
        "or another split.",
    )


def _unique(warnings: list[Warning_]) -> list[Warning_]:
    seen: set[tuple[str, str]] = set()
    out = []
    for w in warnings:
        if (w.code, w.message) not in seen:
            seen.add((w.code, w.message))
            out.append(w)
    return out


def _workload_warnings(rig: Rig, workload: Workload, placement: pl.Placement) -> list[Warning_]:
    out = []
    kv = workload.kv_cache.lower()
    if kv.startswith(("q", "iq")) and not workload.flash_attn and workload.runtime.engine in pl.LLAMACPP_ENGINES:
        out.append(
            Warning_("quantized-v-needs-flash-attn", f"A {workload.kv_cache} V cache needs flash attention in llama.cpp; turn --flash-attn on.")
        )
    if workload.quant.format not in workload.runtime.quant_formats:
        out.append(
            Warning_(
                "runtime-quant-unsupported",
                f"{workload.runtime.name} cannot load {workload.quant.name} ({workload.quant.format.upper()} weights), "
                f"so nothing here would run and no launch command is given; pick a quantization in one of "
                f"{', '.join(workload.runtime.quant_formats)} or another runtime.",
            )
        )
    elif workload.quant.format not in ("gguf", "float") and _launch_uses_repo(workload):
        out.append(
            Warning_(
                "quantized-repo-needed",
                f"The launch command names {model_repo(workload.model)}, which holds the original weights. Replace it "
                f"with a checkpoint of that model quantized to {workload.quant.name}.",
            )
        )
    if workload.context > workload.model.max_context:
        out.append(
            Warning_("context-above-model-max", f"{workload.model.name} was trained for {workload.model.max_context:,} tokens; {workload.context:,} is beyond it.")
        )
    mixed = _mixed_vendor_warning(rig, workload, placement)
    if mixed:
        out.append(mixed)
    if rig.os.wddm and placement.fits:
        out.append(
            Warning_(
                "windows-sysmem-fallback",
                "On Windows the NVIDIA driver may spill to system RAM instead of failing when memory runs out, "
                "which is much slower; the figures here assume it does not.",
            )
        )
    return out


_VENDOR_NAMES = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel", "apple": "Apple"}


def _mixed_vendor_warning(rig: Rig, workload: Workload, placement: pl.Placement) -> Warning_ | None:
    """Warn when one process would have to drive GPUs of different vendors."""
    rig_vendors = {gpu.spec.vendor for gpu in rig.gpus}
    if "apple" in rig_vendors and len(rig_vendors) > 1:
        # Apple GPUs exist only inside Apple silicon Macs, and those drive no other GPU for compute.
        return Warning_(
            "mixed-vendor-backends",
            "Apple GPUs are built into Apple silicon Macs, which cannot add NVIDIA, AMD or Intel cards, so this "
            "combination is not a real machine and no runtime can place one model across it.",
        )
    used = {d.index for d in placement.devices if d.kind == "gpu" and (d.layers or d.weights_bytes)}
    vendors = sorted({rig.gpus[i].spec.vendor for i in used})
    if len(vendors) < 2 or workload.runtime.engine not in pl.LLAMACPP_ENGINES:
        return None
    return Warning_(
        "mixed-vendor-backends",
        f"This placement spreads the model over {' and '.join(_VENDOR_NAMES[v] for v in vendors)} "
        f"GPUs. A CUDA, ROCm or SYCL build of {workload.runtime.name} drives only its own vendor's cards, so one "
        "process needs a Vulkan build, which drives all of them, or RPC servers with one native build per vendor; "
        "the speeds here assume each card's native backend.",
    )


def _launch_uses_repo(workload: Workload) -> bool:
    return "{model_repo}" in workload.runtime.launch_template


def _launch(rig: Rig, workload: Workload, placement: pl.Placement) -> str | None:
    template = workload.runtime.launch_template
    if not template:
        return None
    gpu_util = pl.gpu_memory_utilization(workload) if workload.runtime.engine in ("vllm", "sglang", "tensorrt-llm") else None
    max_len = workload.context
    if placement.kv_token_budget is not None and placement.kv_token_budget < max_len:
        max_len = max(placement.kv_token_budget // 256 * 256, 256)
    tensor_split = placement.tensor_split
    if placement.split == "layer" and placement.gpu_indexes and len(placement.gpu_indexes) > 1:
        # One value per card of the rig, so a card left out gets 0. The output layer goes to
        # the last card llama.cpp fills, which must be the last card that takes layers.
        gpu_devices = sorted((d for d in placement.devices if d.kind == "gpu"), key=lambda d: d.index)
        ratios = [float(d.layers) for d in gpu_devices]
        if placement.n_gpu_layers == workload.model.n_layers + 1:
            ratios[max(placement.gpu_indexes)] += 1
        tensor_split = tuple(ratios)
    values = launch_values(
        workload,
        split=placement.split,
        gpu_indexes=placement.gpu_indexes,
        n_gpus=len(rig.gpus),
        tensor_split=tensor_split,
        n_gpu_layers=placement.n_gpu_layers if placement.n_gpu_layers is not None else None,
        n_cpu_moe=placement.n_cpu_moe,
        max_model_len=max_len,
        gpu_util=gpu_util,
    )
    return render_launch(template, values)


# --- context and quantization searches -------------------------------------------------------


def max_context_for(rig: Rig, workload: Workload, split: str, chosen: pl.Placement) -> int | None:
    """Largest context (a multiple of 256) the split fits without moving more weights to the CPU."""
    if chosen.kv_token_budget is not None:
        return min(chosen.kv_token_budget // 256 * 256, workload.model.max_context) or None
    cpu = next((d for d in chosen.devices if d.kind == "cpu"), None)
    cpu_layers = cpu.layers if cpu else 0
    cpu_experts = cpu.expert_layers if cpu else 0

    def fits_at(context: int) -> bool:
        trial = replace(workload, context=context)
        placement, _ = _place(rig, trial, split, for_speed=False)
        cpu_now = next((d for d in placement.devices if d.kind == "cpu"), None)
        if cpu_now and (cpu_now.layers > cpu_layers or cpu_now.expert_layers > cpu_experts):
            return False
        return placement.fits

    step = 256
    low, high = 1, workload.model.max_context // step
    if not fits_at(low * step):
        return None
    if fits_at(high * step):
        return high * step
    while low < high - 1:
        mid = (low + high) // 2
        if fits_at(mid * step):
            low = mid
        else:
            high = mid
    return low * step


def max_context(rig: Rig, workload: Workload) -> int | None:
    """Largest context that fits with the split fit() chooses, or None when nothing fits."""
    result = fit(rig, workload)
    if result.fits and result.max_context is not None:
        return result.max_context
    return None


def best_quant(rig: Rig, workload: Workload, quants: list[QuantSpec]) -> QuantSpec | None:
    """Return the quantization with the most bits per weight that fits entirely on the GPUs.

    Only formats the runtime loads are tried; EXL2/EXL3 count at their catalog bpw.
    """
    usable = [q for q in quants if q.format in workload.runtime.quant_formats]
    for quant in sorted(usable, key=lambda q: q.bits_per_weight, reverse=True):
        result = fit(rig, replace(workload, quant=quant))
        offloaded = any(w.code in ("cpu-offload", "expert-offload") for w in result.warnings)
        if result.fits and not offloaded:
            return quant
    return None
