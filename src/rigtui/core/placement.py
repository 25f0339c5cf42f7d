"""Placement of weights, KV cache and buffers across a rig's devices, runtime by runtime.

One function per split strategy turns a rig, a workload and the strategy's knobs (layer
counts, ratios, offloaded layers) into per-device byte counts. Choosing the knobs is the job
of :mod:`rigtui.core.fit`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from dataclasses import dataclass, field

from rigtui.core import memory
from rigtui.core.results import DeviceUsage, Warning_
from rigtui.core.rig import GIB, MIB, Rig, Workload

# NOTE: RAM kept free for the OS and other programs when weights sit in CPU RAM. It is an
# engineering choice, because the catalog has no per-OS RAM figure.
CPU_RAM_RESERVE = 4 * GIB
# Ollama admits a GPU only when it can hold its fixed costs plus two layers and a safety buffer.
# NOTE: the 1 GiB is an Ollama maintainer's public estimate of that buffer, not a constant in its code.
OLLAMA_SAFETY_BUFFER = 1 * GIB
# vLLM's profiling run: tokens in the dummy batch (max_num_batched_tokens in recent V1 servers)
# and sequences the sampler sizes its logits for (max_num_seqs).
# NOTE: both vary by vLLM version and flags; these are the common server defaults.
VLLM_PROFILE_TOKENS = 8192
VLLM_PROFILE_SEQS = 256
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9
LLAMACPP_ENGINES = ("llama.cpp", "ollama")
TP_ENGINES = ("vllm", "sglang", "exllama")


@dataclass
class Placement:
    """Per-device bytes for one strategy with its chosen knobs, before speed is added."""

    split: str
    devices: list[DeviceUsage]
    gpu_indexes: tuple[int, ...]
    tensor_split: tuple[float, ...] | None = None
    n_gpu_layers: int | None = None
    n_cpu_moe: int = 0
    kv_token_budget: int | None = None
    warnings: list[Warning_] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wasted_bytes: int = 0

    @property
    def fits(self) -> bool:
        return all(d.fits for d in self.devices) and not any(w.code in BLOCKING for w in self.warnings)

    def short(self) -> tuple[str | None, int]:
        """Return the device that is short by the most bytes, and by how many."""
        worst = min(self.devices, key=lambda d: d.free_bytes, default=None)
        if worst is None or worst.fits:
            return None, 0
        return worst.name, -worst.free_bytes


# Warnings that make a placement unusable even when every device has room.
BLOCKING = frozenset(
    {
        "tp-heads-indivisible",
        "tensor-mode-unsupported",
        "quantized-v-needs-flash-attn",
        "free-below-utilization",
        "max-model-len-too-large",
    }
)


# --- capacities ---------------------------------------------------------------------------


def gpu_reserved_bytes(rig: Rig, index: int) -> int:
    gpu = rig.gpus[index]
    reserve = rig.os.reserve_per_gpu_mib * MIB
    if gpu.desktop:
        reserve += rig.os.desktop_reserve_mib * MIB
    return reserve + gpu.used_bytes


def gpu_free_bytes(rig: Rig, index: int) -> int:
    """Memory a runtime finds free on a GPU: total minus OS reserve and other processes."""
    return max(rig.gpus[index].spec.memory_bytes - gpu_reserved_bytes(rig, index), 0)


def gpu_memory_utilization(workload: Workload) -> float:
    return workload.gpu_memory_utilization or workload.runtime.gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION


def gpu_capacity(rig: Rig, index: int, workload: Workload) -> int:
    """Bytes the runtime may use on a GPU: vLLM and SGLang take a fraction of total memory."""
    if workload.runtime.engine in ("vllm", "sglang"):
        return int(rig.gpus[index].spec.memory_bytes * gpu_memory_utilization(workload))
    return gpu_free_bytes(rig, index)


def cpu_capacity(rig: Rig) -> int:
    return max(rig.cpu_ram_bytes - CPU_RAM_RESERVE, 0)


def _cpu_device(rig: Rig, weights: int = 0, kv: int = 0, compute: int = 0, layers: int = 0, expert_layers: int = 0, holds_output: bool = False) -> DeviceUsage:
    return DeviceUsage(
        name="CPU RAM",
        kind="cpu",
        index=None,
        capacity_bytes=cpu_capacity(rig),
        weights_bytes=weights,
        kv_cache_bytes=kv,
        compute_buffer_bytes=compute,
        layers=layers,
        expert_layers=expert_layers,
        holds_output=holds_output,
        reserved_bytes=CPU_RAM_RESERVE,
    )


def _gpu_device(rig: Rig, index: int, workload: Workload, **amounts: int | bool | None) -> DeviceUsage:
    return DeviceUsage(
        name=rig.gpus[index].name,
        kind="gpu",
        index=index,
        capacity_bytes=gpu_capacity(rig, index, workload),
        reserved_bytes=gpu_reserved_bytes(rig, index),
        **amounts,  # type: ignore[arg-type]
    )


# --- llama.cpp layer split ----------------------------------------------------------------


def llamacpp_layer_devices(n_layer: int, n_gpu_layers: int, ratios: list[float]) -> list[int | None]:
    """Map each layer (and the output as layer n_layer) to a device slot as llama.cpp does.

    llama.cpp (llama-model.cpp, load_tensors) keeps the first n_layer - ngl layers on the CPU,
    normalizes the cumulative --tensor-split ratios to [0, 1] and gives layer il to the first
    device whose split point exceeds (il - first_gpu_layer) / gpu_layers. The output layer is
    on a GPU only when ngl exceeds the repeating layers. Returns slot indexes, None for the CPU.
    """
    return list(_layer_devices(n_layer, n_gpu_layers, tuple(ratios)))


# fit rebuilds the same layer split many times while it balances the cards.
@functools.lru_cache(maxsize=4096)
def _layer_devices(n_layer: int, n_gpu_layers: int, ratios: tuple[float, ...]) -> tuple[int | None, ...]:
    total = sum(ratios)
    if total <= 0:
        raise ValueError("tensor split ratios must not all be zero")
    splits = []
    running = 0.0
    for ratio in ratios:
        running += ratio
        splits.append(running / total)
    first_gpu = max(n_layer - n_gpu_layers, 0)
    act = min(n_gpu_layers, n_layer + 1)
    placed: list[int | None] = []
    for il in range(n_layer + 1):
        if il < first_gpu or (il - first_gpu) >= act:
            placed.append(None)
            continue
        slot = bisect.bisect_right(splits, (il - first_gpu) / act)
        placed.append(min(slot, len(ratios) - 1))
    return tuple(placed)


@functools.lru_cache(maxsize=4096)
def _layer_runs(n_layer: int, n_gpu_layers: int, ratios: tuple[float, ...]) -> tuple[tuple[tuple[int | None, int, int], ...], int | None]:
    """Return the contiguous runs of repeating layers as (slot, start, end), and the output's slot."""
    placed = _layer_devices(n_layer, n_gpu_layers, ratios)
    runs = []
    start = 0
    for slot, run in itertools.groupby(placed[:n_layer]):
        end = start + sum(1 for _ in run)
        runs.append((slot, start, end))
        start = end
    return tuple(runs), placed[n_layer]


@dataclass(frozen=True)
class _LayerPrefixSums:
    """Running totals over the repeating layers: entry i covers layers 0 to i - 1."""

    kv: tuple[int, ...]
    totals: tuple[int, ...]
    experts: tuple[int, ...]
    expert_layers: tuple[int, ...]
    """Layers with routed experts."""
    expert_thirds_max: tuple[int, ...]
    """Running maximum of a third of each layer's expert bytes, 0 before the first layer."""


def _layer_prefix_sums(weights: memory.ModelWeights, kv_sizes: tuple[int, ...]) -> _LayerPrefixSums:
    key = (id(weights), id(kv_sizes))
    cached = _PREFIX_SUMS.get(key)
    if cached is not None and cached[0] is weights and cached[1] is kv_sizes:
        return cached[2]
    thirds = [0]
    for size in weights.layer_experts:
        thirds.append(max(thirds[-1], size // 3))
    sums = _LayerPrefixSums(
        kv=(0, *itertools.accumulate(kv_sizes)),
        totals=(0, *itertools.accumulate(weights.layer_totals)),
        experts=(0, *itertools.accumulate(weights.layer_experts)),
        expert_layers=(0, *itertools.accumulate(1 if size else 0 for size in weights.layer_experts)),
        expert_thirds_max=tuple(thirds),
    )
    if len(_PREFIX_SUMS) > 256:
        _PREFIX_SUMS.clear()
    # The entry keeps both inputs alive, so no other object can take their ids while it is stored.
    _PREFIX_SUMS[key] = (weights, kv_sizes, sums)
    return sums


_PREFIX_SUMS: dict[tuple[int, int], tuple[memory.ModelWeights, tuple[int, ...], _LayerPrefixSums]] = {}


def ratios_for_counts(counts: list[int]) -> list[float]:
    """Turn per-GPU layer counts (output on the last GPU) into --tensor-split values that reproduce them."""
    values = [float(c) for c in counts]
    values[-1] += 1
    return values


@dataclass(frozen=True)
class LayerPlan:
    """A llama.cpp layer placement: which GPUs, how many repeating layers each, what stays on the CPU."""

    gpu_indexes: tuple[int, ...]
    counts: tuple[int, ...]
    n_cpu_moe: int = 0
    output_on_gpu: bool = True
    """With every layer on GPUs, whether the output layer joins them (-ngl n_layer + 1)."""

    @property
    def gpu_layers(self) -> int:
        return sum(self.counts)


@dataclass
class _LayerSplitSums:
    """Bytes and layers per device of a llama.cpp layer split, before devices are built."""

    ngl: int
    ratios: list[float]
    n_cpu_moe: int
    per_slot: dict[int, dict]
    cpu: dict
    offload_scratch: int
    copies: int
    shape: memory.ComputeShape


def build_layer_split(rig: Rig, workload: Workload, plan: LayerPlan, ratios: list[float] | None = None) -> Placement:
    """Place weights, KV and buffers for a llama.cpp layer split (with CPU and expert offload)."""
    sums = _layer_split_sums(workload, plan, ratios)
    ngl, ratios, n_cpu_moe, per_slot, cpu, copies = sums.ngl, sums.ratios, sums.n_cpu_moe, sums.per_slot, sums.cpu, sums.copies
    model = workload.model
    devices: list[DeviceUsage] = []
    overhead = workload.runtime.per_gpu_overhead_mib * MIB
    for slot, gpu_index in enumerate(plan.gpu_indexes):
        info = per_slot[slot]
        devices.append(
            _gpu_device(
                rig,
                gpu_index,
                workload,
                weights_bytes=info["weights"],
                kv_cache_bytes=info["kv"],
                compute_buffer_bytes=_slot_compute_bytes(sums, slot),
                overhead_bytes=overhead,
                layers=info["layers"],
                first_layer=info["first"],
                holds_output=bool(info["output"]),
            )
        )
    cpu_compute = memory.host_compute_bytes(
        model,
        workload.context,
        workload.ubatch,
        workload.flash_attn,
        n_copies=copies,
        cpu_layers=cpu["layers"] > 0,
        cpu_output=bool(cpu["output"]),
    )
    devices.append(
        _cpu_device(
            rig,
            weights=cpu["weights"],
            kv=cpu["kv"],
            compute=cpu_compute,
            layers=cpu["layers"],
            expert_layers=cpu["experts"],
            holds_output=bool(cpu["output"]),
        )
    )
    tensor_split = tuple(round(r, 3) for r in ratios) if len(plan.gpu_indexes) > 1 else None
    return Placement(
        split="layer",
        devices=devices,
        gpu_indexes=plan.gpu_indexes,
        tensor_split=tensor_split,
        n_gpu_layers=ngl,
        n_cpu_moe=n_cpu_moe,
    )


def layer_split_gpus_fit(rig: Rig, workload: Workload, plan: LayerPlan) -> bool:
    """True when every GPU of ``build_layer_split(rig, workload, plan)`` fits, found without building it."""
    return all(room >= 0 for room in layer_split_gpu_free(rig, workload, plan))


def layer_split_gpu_free(rig: Rig, workload: Workload, plan: LayerPlan) -> list[int]:
    """Return each GPU's ``free_bytes`` in ``build_layer_split(rig, workload, plan)``, in slot order, without building it."""
    sums = _layer_split_sums(workload, plan, None)
    overhead = workload.runtime.per_gpu_overhead_mib * MIB
    free = []
    for slot, gpu_index in enumerate(plan.gpu_indexes):
        info = sums.per_slot[slot]
        total = info["weights"] + info["kv"] + _slot_compute_bytes(sums, slot) + overhead
        free.append(gpu_capacity(rig, gpu_index, workload) - total)
    return free


def _slot_compute_bytes(sums: _LayerSplitSums, slot: int) -> int:
    info = sums.per_slot[slot]
    holds_layers = info["layers"] > 0
    compute = memory.llamacpp_compute_bytes(sums.shape, bool(info["output"]), holds_layers, first_device=slot == 0, n_copies=sums.copies)
    if slot == 0:
        compute = max(compute, sums.shape.activations) + sums.offload_scratch
    return compute


def _layer_split_sums(workload: Workload, plan: LayerPlan, ratios: list[float] | None) -> _LayerSplitSums:
    model = workload.model
    n_layer = model.n_layers
    weights = memory.workload_weights(workload)
    shape = memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
    full = plan.gpu_layers >= n_layer and plan.output_on_gpu
    ngl = n_layer + 1 if full else min(plan.gpu_layers, n_layer)
    if ratios is None:
        if not plan.counts:
            ratios = [1.0]
        else:
            ratios = ratios_for_counts(list(plan.counts)) if full else [float(c) for c in plan.counts]
    if sum(ratios) <= 0:
        # No card has room for a single layer, so every layer stays on the CPU (-ngl 0).
        ngl = 0
    if plan.gpu_indexes and ngl > 0:
        runs, output_slot = _layer_runs(n_layer, ngl, tuple(ratios))
    else:
        runs = ((None, 0, n_layer),) if n_layer else ()
        output_slot = None
    n_cpu_moe = min(plan.n_cpu_moe, n_layer)

    per_slot = {s: dict(weights=0, kv=0, layers=0, first=None, output=False) for s in range(len(plan.gpu_indexes))}
    cpu = dict(weights=weights.token_embd_bytes, kv=0, layers=0, experts=0, output=False)
    kv_sizes = memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types, workload.ubatch, workload.parallel)
    prefix = _layer_prefix_sums(weights, kv_sizes)
    # llama.cpp gives each device one contiguous run of layers, so whole runs are summed at once.
    for slot, start, end in runs:
        kv = prefix.kv[end] - prefix.kv[start]
        body = prefix.totals[end] - prefix.totals[start]
        if slot is None:
            cpu["weights"] += body
            cpu["kv"] += kv
            cpu["layers"] += end - start
            continue
        target = per_slot[slot]
        target["layers"] += end - start
        target["first"] = start if target["first"] is None else target["first"]
        target["kv"] += kv
        # --n-cpu-moe keeps the experts of the first layers in CPU RAM.
        moved_end = max(start, min(end, n_cpu_moe))
        moved = prefix.experts[moved_end] - prefix.experts[start]
        target["weights"] += body - moved
        cpu["weights"] += moved
        cpu["experts"] += prefix.expert_layers[moved_end] - prefix.expert_layers[start]
    if output_slot is None:
        cpu["weights"] += weights.output_bytes
        cpu["output"] = True
    else:
        per_slot[output_slot]["weights"] += weights.output_bytes
        per_slot[output_slot]["output"] = True

    cpu_weights_present = cpu["layers"] > 0 or cpu["experts"] > 0
    # NOTE: with weights in CPU RAM, llama.cpp copies large-batch matrices to the GPU for prompt
    # processing, so the first GPU's compute buffer also holds the largest CPU-side tensor.
    offload_scratch = 0
    if cpu_weights_present:
        offload_scratch = prefix.expert_thirds_max[max(n_cpu_moe, cpu["layers"])]
        if cpu["layers"]:
            offload_scratch = max(offload_scratch, weights.max_layer_bytes // 3)
    copies = memory.pipeline_copies(len(plan.gpu_indexes), full, "layer", tensor_overrides=n_cpu_moe > 0)
    return _LayerSplitSums(ngl, ratios, n_cpu_moe, per_slot, cpu, offload_scratch, copies, shape)


# --- llama.cpp row split and tensor split -------------------------------------------------

# Architectures `-sm tensor` rejects (llama.cpp docs/multi-gpu.md), as config.json model_type.
# kimi_k2 is the DeepSeek V3 layout under its own model_type, so it is excluded with it.
TENSOR_MODE_EXCLUDED = frozenset(
    {
        "grok", "mpt", "olmoe", "deepseek_v2", "deepseek_v3", "kimi_k2", "glm_moe_dsa", "nemotron_h",
        "granitemoehybrid", "lfm2_moe", "minimax_m2", "mistral4", "kimi_linear", "jamba",
        "falcon_h1", "mamba", "mamba2", "plamo2", "minicpm3", "gemma3n", "olmo2", "bitnet", "t5",
    }
)


def build_row_or_tensor_split(rig: Rig, workload: Workload, gpu_indexes: tuple[int, ...], ratios: list[float], mode: str) -> Placement:
    """Place a llama.cpp row split (matrices split by rows, KV on the main GPU) or tensor split.

    Row split keeps norms, the KV cache and the full compute graph on the main (first) GPU
    and splits every weight matrix by the ratios. Tensor split also splits the KV cache and
    needs flash attention and an unquantized cache (llama.cpp docs/multi-gpu.md).
    """
    model = workload.model
    weights = memory.workload_weights(workload)
    shape = memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
    kv_total = sum(memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types, workload.ubatch, workload.parallel))
    total_ratio = sum(ratios)
    shares = [r / total_ratio for r in ratios]
    splittable = weights.layer_bytes + weights.output_bytes
    overhead = workload.runtime.per_gpu_overhead_mib * MIB
    full_compute = memory.llamacpp_compute_bytes(shape, True, True)
    partial_compute = shape.activations + max(shape.feed_forward, shape.logits) // max(len(gpu_indexes), 1)
    devices = []
    for slot, (gpu_index, share) in enumerate(zip(gpu_indexes, shares)):
        main = slot == 0
        if mode == "tensor":
            kv = int(kv_total * share)
            compute = full_compute if main else partial_compute + shape.attention
        else:
            kv = kv_total if main else 0
            compute = full_compute if main else partial_compute
        devices.append(
            _gpu_device(
                rig,
                gpu_index,
                workload,
                weights_bytes=int(splittable * share),
                kv_cache_bytes=kv,
                compute_buffer_bytes=compute,
                overhead_bytes=overhead,
                layers=model.n_layers,
                first_layer=0,
                holds_output=True,
            )
        )
    devices.append(_cpu_device(rig, weights=weights.token_embd_bytes, compute=memory.host_compute_bytes(model, workload.context, workload.ubatch, workload.flash_attn)))
    placement = Placement(
        split=mode,
        devices=devices,
        gpu_indexes=gpu_indexes,
        tensor_split=tuple(round(r, 3) for r in ratios),
        n_gpu_layers=model.n_layers + 1,
    )
    if mode == "tensor":
        _check_tensor_mode(workload, placement)
    return placement


def _check_tensor_mode(workload: Workload, placement: Placement) -> None:
    problems = []
    if not workload.flash_attn:
        problems.append("flash attention must be on (--flash-attn on)")
    if workload.kv_cache.lower() not in ("f16", "bf16", "f32"):
        problems.append(f"the KV cache must not be quantized (got {workload.kv_cache}; use f16)")
    if workload.model.architecture in TENSOR_MODE_EXCLUDED:
        problems.append(f"llama.cpp does not support architecture {workload.model.architecture!r} in this mode")
    if problems:
        placement.warnings.append(
            Warning_("tensor-mode-unsupported", "llama.cpp --split-mode tensor cannot run this: " + "; ".join(problems) + ".")
        )
    placement.notes.append("--split-mode tensor is experimental in llama.cpp and does not work with --fit.")


# --- Ollama -------------------------------------------------------------------------------


def build_ollama(rig: Rig, workload: Workload, gpu_order: list[int]) -> Placement:
    """Place layers the way Ollama's estimator does before handing llama.cpp a --tensor-split.

    Every GPU that takes layers must hold Ollama's minimum reserve, the compute graph, the
    vision projector and its graph, and one layer as a buffer; a GPU is used only when it
    also has room for another layer and a safety buffer. Layers go round-robin to the GPUs with
    room (ollama llm/memory.go, EstimateGPULayers); what does not fit stays on the CPU.
    """
    model = workload.model
    weights = memory.workload_weights(workload)
    shape = memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
    graph = workload.compute_graph_bytes or memory.llamacpp_compute_bytes(shape, True, True)
    projector = (workload.projector_bytes or 0) + (workload.projector_graph_bytes or 0)
    minimum = workload.runtime.per_gpu_overhead_mib * MIB
    kv_sizes = memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types, workload.ubatch, workload.parallel)
    layer_sizes = [l.total_bytes + kv for l, kv in zip(weights.layers, kv_sizes)]
    buffer_layer = layer_sizes[0] if layer_sizes else 0
    fixed = minimum + graph + projector + buffer_layer
    free = {i: gpu_free_bytes(rig, i) for i in gpu_order}
    admitted = [i for i in gpu_order if free[i] >= fixed + buffer_layer + OLLAMA_SAFETY_BUFFER]
    rejected = [i for i in gpu_order if i not in admitted]
    used = {i: fixed for i in admitted}
    counts = {i: 0 for i in gpu_order}
    with_space = list(admitted)
    placed = 0
    for il, size in enumerate(layer_sizes):
        while with_space:
            gpu = with_space[il % len(with_space)]
            if free[gpu] > used[gpu] + size:
                used[gpu] += size
                counts[gpu] += 1
                placed += 1
                break
            with_space.remove(gpu)
        else:
            break
    gpus_with_layers = tuple(i for i in sorted(gpu_order) if counts[i] > 0)
    # The output layer goes last, on the last GPU llama.cpp fills, when it has room.
    output_on_gpu = False
    if placed == len(layer_sizes) and gpus_with_layers:
        last = gpus_with_layers[-1]
        output_on_gpu = free[last] > used[last] + weights.output_bytes
    plan = LayerPlan(gpus_with_layers, tuple(counts[i] for i in gpus_with_layers), output_on_gpu=output_on_gpu)
    placement = build_layer_split(rig, workload, plan)
    # Ollama charges the projector, its graph and one buffer layer to every GPU it uses.
    devices = []
    for device in placement.devices:
        if device.kind == "gpu" and device.layers:
            extra = projector + buffer_layer
            devices.append(_replace(device, compute_buffer_bytes=max(device.compute_buffer_bytes, graph) + extra))
        else:
            devices.append(device)
    placement.devices = devices
    placement.split = "layer"
    for index in rejected:
        placement.warnings.append(
            Warning_(
                "ollama-gpu-unused",
                f"Ollama leaves {rig.gpus[index].name} (GPU {index}) empty: each GPU that takes layers must hold "
                f"{_gib(fixed + buffer_layer + OLLAMA_SAFETY_BUFFER)} of fixed costs (compute graph {_gib(graph)}, "
                f"projector and its graph {_gib(projector)}, minimum reserve {_gib(minimum)}, two layers and a "
                f"{_gib(OLLAMA_SAFETY_BUFFER)} safety buffer), and it has {_gib(free[index])} free.",
            )
        )
    return placement


def _replace(device: DeviceUsage, **changes: int) -> DeviceUsage:
    from dataclasses import replace

    return replace(device, **changes)


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"


# --- tensor parallel and pipeline parallel (vLLM, SGLang, ExLlama) -------------------------


def _kv_heads_per_rank(n_kv_heads: int, tp: int) -> float:
    """KV heads each rank caches: a shard, or one replicated head when ranks outnumber heads."""
    return max(n_kv_heads / tp, 1.0)


def _profile_activation_bytes(workload: Workload, tp: int) -> int:
    """Peak activation memory of vLLM's profiling run on one rank, plus the sampler's logits."""
    model = workload.model
    tokens = VLLM_PROFILE_TOKENS
    width = model.intermediate_size
    if model.is_moe:
        width = (model.moe_intermediate_size or model.intermediate_size) * model.n_experts_per_token
    per_token = 2 * (4 * model.hidden_size + 2 * width // tp)
    # NOTE: an estimate: the sampler keeps float32 logits, probabilities and log-probabilities
    # of every profiled sequence at once.
    logits = 3 * VLLM_PROFILE_SEQS * model.vocab_size * 4
    return tokens * per_token + logits


def build_tensor_parallel(rig: Rig, workload: Workload, gpu_indexes: tuple[int, ...]) -> Placement:
    """Shard weights and KV across GPUs (vLLM/SGLang: evenly; ExLlama: by free memory).

    vLLM and SGLang give every rank the same shard, so the smallest card sets the KV budget of
    all of them ("num_blocks of each rank = the smallest among all ranks", vLLM
    kv_cache_utils.get_kv_cache_configs) and memory above that on larger cards goes unused.
    """
    model = workload.model
    engine = workload.runtime.engine
    tp = len(gpu_indexes)
    weights = memory.workload_weights(workload)
    norms = model.n_layers * 2 * model.hidden_size * 2
    sharded = max(weights.file_bytes - norms, 0)
    kv_type = workload.kv_cache
    element = memory.kv_element_bytes(kv_type, workload.ggml_types)
    k_width, v_width = memory.kv_row_elements(model)
    placement = Placement(split="tensor-parallel", devices=[], gpu_indexes=gpu_indexes)
    if not model.kv_lora_rank and model.n_heads % tp:
        placement.warnings.append(
            Warning_(
                "tp-heads-indivisible",
                f"{model.name} has {model.n_heads} attention heads, which {tp} GPUs do not divide; "
                f"tensor parallel needs a GPU count that divides {model.n_heads}.",
            )
        )
    if model.kv_lora_rank:
        kv_per_token_rank = model.n_layers * (k_width) * element  # MLA latent, replicated on every rank
    else:
        heads = _kv_heads_per_rank(model.n_kv_heads, tp)
        kv_per_token_rank = model.n_layers * 2 * heads * model.head_dim * element
    overhead = workload.runtime.per_gpu_overhead_mib * MIB
    capacities = [gpu_capacity(rig, i, workload) for i in gpu_indexes]
    if engine == "exllama":
        free_for_weights = [max(c - overhead, 1) for c in capacities]
        total_free = sum(free_for_weights)
        shares = [f / total_free for f in free_for_weights]
    else:
        shares = [1.0 / tp] * tp
    activation = _profile_activation_bytes(workload, tp) if engine in ("vllm", "sglang") else memory.host_compute_bytes(model, workload.context, workload.ubatch)
    per_rank_room = []
    for cap, share in zip(capacities, shares):
        used = int(sharded * share) + norms + overhead + activation
        per_rank_room.append(cap - used)
    budget_tokens = max(int(min(r / (kv_per_token_rank * share * tp if engine == "exllama" else kv_per_token_rank) for r, share in zip(per_rank_room, shares))), 0)
    context_tokens = workload.context * max(workload.parallel, 1)
    for slot, (gpu_index, share) in enumerate(zip(gpu_indexes, shares)):
        rank_kv_per_token = kv_per_token_rank * (share * tp if engine == "exllama" else 1.0)
        if engine in ("vllm", "sglang"):
            # vLLM allocates every block it can at start-up; the cache fills the budget.
            kv = int(max(budget_tokens, 0) * rank_kv_per_token)
            kv = max(kv, int(context_tokens * rank_kv_per_token)) if budget_tokens < context_tokens else kv
        else:
            kv = int(context_tokens * rank_kv_per_token)
        placement.devices.append(
            _gpu_device(
                rig,
                gpu_index,
                workload,
                weights_bytes=int(sharded * share) + norms,
                kv_cache_bytes=kv,
                compute_buffer_bytes=activation,
                overhead_bytes=overhead,
                layers=model.n_layers,
                first_layer=0,
                holds_output=True,
            )
        )
    placement.devices.append(_cpu_device(rig))
    placement.kv_token_budget = budget_tokens
    if engine in ("vllm", "sglang"):
        _check_vllm(rig, workload, placement, capacities)
        smallest = min(per_rank_room)
        placement.wasted_bytes = int(sum(r - smallest for r in per_rank_room))
        if placement.wasted_bytes > 256 * MIB:
            small_name = placement.devices[per_rank_room.index(smallest)].name
            placement.warnings.append(
                Warning_(
                    "tp-uneven-waste",
                    f"{workload.runtime.name} shards evenly, so every GPU gets the KV cache that fits on "
                    f"{small_name}; {_gib(placement.wasted_bytes)} on the larger card(s) stays unused.",
                )
            )
        bandwidths = sorted({rig.gpus[i].spec.bandwidth_gbs for i in gpu_indexes})
        if len(bandwidths) > 1:
            placement.notes.append(
                f"Every layer waits for the slowest card ({bandwidths[0]:.0f} GB/s against {bandwidths[-1]:.0f} GB/s), "
                "so the faster card idles for part of each token."
            )
    return placement


def _check_vllm(rig: Rig, workload: Workload, placement: Placement, capacities: list[int]) -> None:
    util = gpu_memory_utilization(workload)
    for gpu_index, cap in zip(placement.gpu_indexes, capacities):
        free = gpu_free_bytes(rig, gpu_index)
        if free < cap:
            placement.warnings.append(
                Warning_(
                    "free-below-utilization",
                    f"{rig.gpus[gpu_index].name} has {_gib(free)} free but gpu_memory_utilization {util:.2f} asks "
                    f"for {_gib(cap)}; lower --gpu-memory-utilization to {max(free / rig.gpus[gpu_index].spec.memory_bytes - 0.01, 0.05):.2f}.",
                )
            )
    budget = placement.kv_token_budget or 0
    wanted = workload.context
    if budget < wanted:
        message = f"The KV cache has room for {budget:,} tokens, below the {wanted:,} requested"
        loadable = workload.quant.format in workload.runtime.quant_formats
        if budget >= 256 and loadable:
            message += f"; start with --max-model-len {budget // 256 * 256} or free memory."
        else:
            message += ", and a shorter --max-model-len alone does not make it run."
        placement.warnings.append(Warning_("max-model-len-too-large", message))


def pipeline_partition(n_layer: int, rooms: list[int], layer_bytes: int) -> list[int]:
    """Split layers across pipeline stages in proportion to each stage's room, at least one each."""
    positive = [max(r, 0) for r in rooms]
    total = sum(positive) or 1
    counts = [max(1, math.floor(n_layer * r / total)) for r in positive]
    while sum(counts) > n_layer:
        counts[counts.index(max(counts))] -= 1
    order = sorted(range(len(rooms)), key=lambda i: positive[i] - counts[i] * layer_bytes, reverse=True)
    i = 0
    while sum(counts) < n_layer:
        counts[order[i % len(order)]] += 1
        i += 1
    return counts


def build_pipeline_parallel(rig: Rig, workload: Workload, gpu_indexes: tuple[int, ...], counts: list[int] | None = None) -> Placement:
    """vLLM pipeline parallel: whole layers per GPU, embeddings on the first, the head on the last.

    Without counts the partition follows each GPU's room (vLLM's VLLM_PP_LAYER_PARTITION);
    vLLM's own default is an even split.
    """
    model = workload.model
    weights = memory.workload_weights(workload)
    element = memory.kv_element_bytes(workload.kv_cache, workload.ggml_types)
    k_width, v_width = memory.kv_row_elements(model)
    kv_layer_per_token = (k_width + v_width) * element
    overhead = workload.runtime.per_gpu_overhead_mib * MIB
    activation = _profile_activation_bytes(workload, 1)
    capacities = [gpu_capacity(rig, i, workload) for i in gpu_indexes]
    layer_avg = weights.layer_bytes // model.n_layers
    if counts is None:
        rooms = [c - overhead - activation for c in capacities]
        rooms[0] -= weights.token_embd_bytes
        rooms[-1] -= weights.output_bytes
        counts = pipeline_partition(model.n_layers, rooms, layer_avg)
    placement = Placement(split="pipeline-parallel", devices=[], gpu_indexes=gpu_indexes)
    first = 0
    rooms_tokens = []
    stage_weights = []
    for slot, (gpu_index, count) in enumerate(zip(gpu_indexes, counts)):
        w = sum(l.total_bytes for l in weights.layers[first : first + count])
        if slot == 0:
            w += weights.token_embd_bytes
        if slot == len(gpu_indexes) - 1:
            w += weights.output_bytes
        stage_weights.append(w)
        room = capacities[slot] - w - overhead - activation
        rooms_tokens.append(room / max(count * kv_layer_per_token, 1))
        first += count
    budget = max(int(min(rooms_tokens)), 0)
    placement.kv_token_budget = budget
    first = 0
    for slot, (gpu_index, count) in enumerate(zip(gpu_indexes, counts)):
        kv = int(max(budget, workload.context) * count * kv_layer_per_token)
        placement.devices.append(
            _gpu_device(
                rig,
                gpu_index,
                workload,
                weights_bytes=stage_weights[slot],
                kv_cache_bytes=kv,
                compute_buffer_bytes=activation,
                overhead_bytes=overhead,
                layers=count,
                first_layer=first,
                holds_output=slot == len(gpu_indexes) - 1,
            )
        )
        first += count
    placement.devices.append(_cpu_device(rig))
    placement.notes.append(
        "Layers per GPU: " + ", ".join(str(c) for c in counts)
        + (f" (set VLLM_PP_LAYER_PARTITION={','.join(str(c) for c in counts)})" if len(set(counts)) > 1 else "")
    )
    placement.tensor_split = tuple(float(c) for c in counts)
    if workload.runtime.engine in ("vllm", "sglang"):
        _check_vllm(rig, workload, placement, capacities)
    return placement
