"""Decode and prefill speed of a placement: a roofline over each device, calibrated on public benchmarks.

Decode (one sequence) is memory-bound: every token reads the active weights and the KV cache
written so far. Under layer split the devices take turns, so their times add; under row split
and tensor parallel they read their shards at the same time and the slowest sets the pace,
plus a synchronisation over the link for every layer. Prefill is compute-bound: about
2 x active parameters FLOPs per prompt token plus attention, over each device's tensor
throughput, with llama.cpp's micro-batch pipelining across layer-split GPUs.

Peak figures come from the catalog; the fractions of them a runtime reaches, the fixed
per-token and per-layer costs and the link latencies are fitted on public measurements by
``bench/calibrate.py`` and stored in :mod:`rigtui.core.speed_calibration`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from rigtui.core.results import DeviceUsage, FitResult, SpeedRange
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.speed_calibration import CALIBRATION, SPREAD
from rigtui.core.specs import GpuSpec, ModelSpec

# Runtimes built on another engine's kernels share its calibration.
_ENGINE_ALIASES = {
    "ollama": "llama.cpp",
    "lm-studio": "llama.cpp",
    "lmstudio": "llama.cpp",
    "koboldcpp": "llama.cpp",
    "llamacpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "exllamav2": "exllama",
    "exllamav3": "exllama",
    "tabbyapi": "exllama",
    "sglang": "vllm",
}

_SHARED_SPLITS = ("row", "tensor", "tensor-parallel")
# Weight matrices split across GPUs per layer under llama.cpp row split (q, k, v, output,
# gate, up, down). For each one the main GPU copies the input to every other GPU, each GPU
# multiplies its rows, and the main GPU gathers the partial results.
_ROW_SYNCS_PER_LAYER = 7
# Megatron-style tensor parallelism (vLLM, SGLang, MLC) all-reduces the activations twice per
# layer, after attention and after the feed-forward block.
_TP_ALLREDUCES_PER_LAYER = 2
# Bytes per activation element passed between GPUs: llama.cpp keeps intermediate tensors in
# 32-bit floats, the tensor-parallel runtimes run in 16-bit.
_ROW_ACTIVATION_BYTES = 4.0
_TP_ACTIVATION_BYTES = 2.0
# NOTE: an assumed CPU matrix throughput for CPU-only prefill (a desktop CPU with AVX2/AVX-512);
# the rig carries no CPU compute figure, and no calibration row is CPU-only.
_CPU_TFLOPS = 1.0
# NVLink bandwidth per direction when the catalog gives none: the RTX 3090/A6000 bridge, GB/s.
_DEFAULT_NVLINK_GBS = 56.25


@dataclass(frozen=True)
class DeviceTime:
    """Time one device spends per decoded token and on a whole prompt."""

    name: str
    read_bytes: int
    """Bytes read per decoded token: active weights plus the KV cache at the current depth."""
    decode_ms: float
    prefill_ms: float


@dataclass(frozen=True)
class SpeedEstimate:
    """Decode and prefill speed of one placement, in tokens/s, with the calibration range."""

    decode: SpeedRange
    prefill: SpeedRange
    notes: tuple[str, ...] = ()
    devices: tuple[DeviceTime, ...] = ()
    """Per-device time shares; under row split and tensor parallel they overlap."""
    link_decode_ms: float = 0.0
    """Time per decoded token spent passing activations between devices."""
    overhead_decode_ms: float = 0.0
    """Fixed time per decoded token: kernel launches, sampling, per-layer costs."""


@dataclass(frozen=True)
class _Params:
    bandwidth_efficiency: float
    compute_efficiency: float
    quantized_bandwidth_factor: float
    quantized_compute_factor: float
    token_overhead_ms: float
    layer_overhead_us: float
    hop_latency_us: float
    sync_latency_us: float
    """Latency of one GPU-to-GPU step: one peer's copy in a row-split gather, one ring all-reduce step."""
    row_broadcast_latency_us: float
    """Latency of sending a row-split matmul's input to the other GPUs, paid once because the copies run at the same time."""
    cpu_bandwidth_efficiency: float


def memory_family(spec: GpuSpec) -> str:
    """Memory technology of a GPU as a calibration key part: "hbm", "gddr", "lpddr" or ""."""
    memory = (spec.memory_type or "").lower()
    for family in ("hbm", "gddr", "lpddr"):
        if memory.startswith(family):
            return family
    return ""


def calibration_keys(engine: str, vendor: str, architecture: str, segment: str = "", memory: str = "") -> tuple[str, ...]:
    """Keys of the calibration entries that apply to a device, from general to specific.

    The last level is the memory family, because one architecture and segment can mix HBM
    and GDDR cards (A100 and A40 are both datacenter Ampere), and a runtime's decode kernels
    reach a different share of the peak bandwidth on each.
    """
    engine = _ENGINE_ALIASES.get(engine.lower(), engine.lower())
    keys = ("*", engine, f"{engine}/{vendor}", f"{engine}/{vendor}/{architecture}")
    if not segment:
        return keys
    keys += (f"{engine}/{vendor}/{architecture}/{segment}",)
    return keys + (f"{engine}/{vendor}/{architecture}/{segment}/{memory}",) if memory else keys


@lru_cache(maxsize=512)
def calibration_for(engine: str, vendor: str, architecture: str, segment: str = "", memory: str = "") -> _Params:
    """Merge the calibration entries that match a device, from general to specific."""
    merged: dict[str, float] = {}
    for key in calibration_keys(engine, vendor, architecture, segment, memory):
        merged.update(CALIBRATION.get(key, {}))
    return _Params(**{name: float(merged[name]) for name in _Params.__dataclass_fields__})


def gpu_calibration(engine: str, spec: GpuSpec) -> _Params:
    """Calibration of one GPU model under one runtime."""
    return calibration_for(engine, spec.vendor, spec.architecture, spec.segment, memory_family(spec))


# --- model structure -------------------------------------------------------------------------


@dataclass(frozen=True)
class _ModelShape:
    """Parameter counts of one model, split the way the speed model needs them."""

    embedding: float
    """Input token embedding: looked up, never read whole."""
    output: float
    """Output head (LM head), read whole for every token."""
    layer_dense: float
    """Per layer, everything except routed experts (attention, dense or shared FFN, router, norms)."""
    layer_routed: float
    """Per MoE layer, all routed experts."""
    moe_layers: int
    active_routed_fraction: float
    """Share of routed-expert weights each token reads (k of n experts)."""
    attention_width: int
    """n_heads x head_dim, for attention FLOPs."""


def model_shape(model: ModelSpec) -> _ModelShape:
    """Split a model's parameters into embedding, output head, dense and routed-expert parts.

    The architecture fixes the ratios; the totals are then scaled so that they add up to the
    catalog's ``params_total``, which also counts norms, biases and odd projections.
    """
    hidden = model.hidden_size
    embedding = float(model.vocab_size * hidden)
    output = float(model.vocab_size * hidden)
    if model.kv_lora_rank:
        rope = model.qk_rope_head_dim or 64
        nope = model.qk_nope_head_dim or model.head_dim
        v_dim = model.v_head_dim or model.head_dim
        q_rank = model.q_lora_rank
        q_proj = (hidden * q_rank + q_rank * model.n_heads * (nope + rope)) if q_rank else hidden * model.n_heads * (nope + rope)
        attention = q_proj + hidden * (model.kv_lora_rank + rope) + model.kv_lora_rank * model.n_heads * (nope + v_dim)
        attention += model.n_heads * v_dim * hidden
    else:
        attention = hidden * model.head_dim * (model.n_heads + 2 * model.n_kv_heads) + model.n_heads * model.head_dim * hidden

    moe_layers = max(model.n_layers - model.first_dense_layers, 0) if model.is_moe else 0
    expert_size = 3 * hidden * (model.moe_intermediate_size or model.intermediate_size)
    dense_ffn = 3 * hidden * model.intermediate_size
    routed_total = float(moe_layers * model.n_experts * expert_size)
    dense_total = float(
        model.n_layers * attention
        + (model.n_layers - moe_layers) * dense_ffn
        + moe_layers * (model.n_shared_experts * expert_size + hidden * model.n_experts)
    )

    # Scale the repeating layers so the whole adds up to the published parameter count.
    head = embedding + (0.0 if model.tie_word_embeddings else output)
    layers_published = max(model.params_total - head, 0.25 * model.params_total)
    scale = layers_published / max(dense_total + routed_total, 1.0)
    dense_total *= scale
    routed_total *= scale

    active_fraction = 1.0
    if routed_total > 0:
        active_fraction = model.n_experts_per_token / model.n_experts
        if model.params_active:
            # params_active is authoritative when given: it fixes the routed share read per token.
            derived = 1.0 - (model.params_total - model.params_active) / routed_total
            if 0.0 < derived <= 1.0:
                active_fraction = derived
    return _ModelShape(
        embedding=embedding,
        output=output,
        layer_dense=dense_total / model.n_layers,
        layer_routed=routed_total / moe_layers if moe_layers else 0.0,
        moe_layers=moe_layers,
        active_routed_fraction=active_fraction,
        attention_width=model.n_heads * model.head_dim,
    )


def kv_bytes_per_token(model: ModelSpec, kv_cache: str = "f16") -> float:
    """KV cache bytes one token adds across all layers (full attention; MLA stores its latent)."""
    element = _KV_ELEMENT_BYTES.get(kv_cache.lower(), 2.0)
    if model.kv_lora_rank:
        return model.n_layers * (2 * model.kv_lora_rank + (model.qk_rope_head_dim or 64)) * element
    return 2.0 * model.n_layers * model.n_kv_heads * model.head_dim * element


_KV_ELEMENT_BYTES = {
    "f32": 4.0, "f16": 2.0, "bf16": 2.0, "fp16": 2.0, "q8_0": 1.0625, "fp8": 1.0, "q8": 1.0625,
    "q6": 0.8125, "q5_1": 0.75, "q5_0": 0.6875, "q4_1": 0.625, "q4_0": 0.5625, "iq4_nl": 0.5625, "q4": 0.5625,
}


# --- per-device content ----------------------------------------------------------------------


@dataclass(frozen=True)
class _DeviceLoad:
    usage: DeviceUsage
    gpu: RigGpu | None
    params: _Params
    read_bytes: float
    """Active weights read per decoded token (no KV)."""
    routed_read_bytes: float
    """The routed-expert part of ``read_bytes``."""
    routed_stored_bytes: float
    """All routed-expert weights this device holds."""
    kv_bytes: float
    """KV cache read per decoded token at the workload's depth."""
    stored_weight_bytes: float
    """All weights held, as streamed to a GPU during prefill when they live in CPU RAM."""
    active_params: float
    """Parameters this device multiplies per token, for FLOPs."""
    layers: int
    share: float
    """Slice of each of its layers this device computes: 1 except under row split and tensor parallel."""

    @property
    def bandwidth_bps(self) -> float:
        if self.gpu is None:
            return 0.0
        return self.gpu.spec.bandwidth_gbs * 1e9

    @property
    def name(self) -> str:
        return self.usage.name


def _device_loads(rig: Rig, workload: Workload, result: FitResult) -> list[_DeviceLoad]:
    model = workload.model
    shape = model_shape(model)
    bpw = workload.bpw or workload.quant.bits_per_weight
    engine = workload.runtime.engine
    devices = [d for d in result.devices if d.layers or d.expert_layers or d.holds_output or d.weights_bytes]
    has_cpu = any(d.kind == "cpu" for d in devices)

    # Layers whose routed experts were moved to another device: the first layers lose them,
    # as llama.cpp --n-cpu-moe does, so charge the loss to devices in layer order.
    experts_elsewhere = sum(d.expert_layers for d in devices)
    moe_share = shape.moe_layers / model.n_layers

    depth = max(workload.depth, 0)
    kv_total_per_token = kv_bytes_per_token(model, workload.kv_cache)
    total_layers = max(d.layers for d in devices) if result.split in _SHARED_SPLITS else sum(d.layers for d in devices)
    total_layers = total_layers or model.n_layers

    # Under row split and tensor parallel every GPU holds a slice of every layer: the slice is
    # its share of the GPUs' weight bytes, or an even share when the placement gives no bytes.
    shared = result.split in _SHARED_SPLITS and sum(1 for d in devices if d.kind == "gpu") > 1
    gpu_bytes = [d.weights_bytes for d in devices if d.kind == "gpu"]
    even = not all(gpu_bytes)

    loads: list[_DeviceLoad] = []
    first_gpu_seen = False
    for usage in sorted(devices, key=lambda d: (d.first_layer if d.first_layer is not None else 1 << 30)):
        gpu = rig.gpus[usage.index] if usage.kind == "gpu" and usage.index is not None else None
        params = gpu_calibration(engine, gpu.spec) if gpu else calibration_for(engine, "cpu", "cpu")

        moe_layers_here = usage.layers * moe_share
        lost = min(experts_elsewhere, moe_layers_here)
        experts_elsewhere -= lost
        routed_layers = moe_layers_here - lost + usage.expert_layers
        holds_embedding = (usage.kind == "cpu") if has_cpu else (gpu is not None and not first_gpu_seen)
        if gpu is not None:
            first_gpu_seen = True

        routed_stored = routed_layers * shape.layer_routed
        routed_read = routed_stored * shape.active_routed_fraction
        stored = usage.layers * shape.layer_dense + routed_stored
        read = usage.layers * shape.layer_dense + routed_read
        if usage.holds_output:
            stored += shape.output
            read += shape.output
        held = stored + (shape.embedding if holds_embedding else 0.0)
        share = 1.0
        if shared and gpu is not None:
            share = 1.0 / len(gpu_bytes) if even else usage.weights_bytes / sum(gpu_bytes)
            stored, read, held = stored * share, read * share, held * share
            routed_stored, routed_read = routed_stored * share, routed_read * share

        if usage.weights_bytes and held > 0:
            bytes_per_param = usage.weights_bytes / held
        else:
            bytes_per_param = bpw / 8
        if usage.kv_cache_bytes and result.context:
            kv_per_token = usage.kv_cache_bytes / result.context
        else:
            kv_per_token = kv_total_per_token * usage.layers / total_layers * share
        loads.append(
            _DeviceLoad(
                usage=usage,
                gpu=gpu,
                params=params,
                read_bytes=read * bytes_per_param,
                routed_read_bytes=routed_read * bytes_per_param,
                routed_stored_bytes=routed_stored * bytes_per_param,
                kv_bytes=kv_per_token * depth,
                stored_weight_bytes=stored * bytes_per_param,
                active_params=read,
                layers=usage.layers,
                share=share,
            )
        )
    return loads


# --- links -----------------------------------------------------------------------------------


def _link(rig: Rig, a: RigGpu | None, b: RigGpu | None) -> tuple[str, float]:
    """Kind of the link between two devices and its one-direction bandwidth, GB/s.

    Kinds: "nvlink"; "p2p" (PCIe peer to peer, same workstation or datacenter card);
    "host" (copies staged through system RAM, as on GeForce cards and mixed pairs).
    """
    if a is None or b is None:
        gpu = a or b
        return "host", gpu.link_gbs if gpu else rig.cpu_ram_bandwidth_gbs
    ia, ib = _gpu_index(rig, a), _gpu_index(rig, b)
    if rig.linked(ia, ib):
        nv = a.spec.nvlink_bandwidth_gbs
        return "nvlink", nv / 2 if nv else _DEFAULT_NVLINK_GBS
    pcie = min(a.link_gbs, b.link_gbs)
    if a.spec.id == b.spec.id and a.spec.segment != "consumer":
        return "p2p", pcie
    return "host", pcie / 2


def _gpu_index(rig: Rig, gpu: RigGpu) -> int:
    # Identical cards compare equal, so look for the very object first.
    for index, candidate in enumerate(rig.gpus):
        if candidate is gpu:
            return index
    return rig.gpus.index(gpu)


_LINK_LATENCY_SCALE = {"nvlink": 0.3, "p2p": 0.6, "host": 1.0}


def _stages(loads: list[_DeviceLoad]) -> list[_DeviceLoad]:
    """Devices that compute part of the model, in layer order.

    A CPU that only holds the token embedding (llama.cpp keeps it in system RAM) looks up
    one row per token and passes no activations between layers, so it is not a pipeline stage.
    """
    return [l for l in loads if l.layers or l.usage.expert_layers or l.usage.holds_output]


def _shared_link(rig: Rig, gpus: list[_DeviceLoad]) -> tuple[str, float]:
    """Slowest link kind and bandwidth, GB/s, between the main GPU and the others."""
    kinds = [_link(rig, gpus[0].gpu, other.gpu) for other in gpus[1:]]
    kind = max(kinds, key=lambda k: _LINK_LATENCY_SCALE[k[0]])[0]
    return kind, min(k[1] for k in kinds)


def _shared_sync_s(params: _Params, split: str, kind: str, gbs: float, n: int, n_layers: int, tokens: int, hidden: int) -> float:
    """Time the GPUs of a row or tensor-parallel split spend communicating for ``tokens`` tokens.

    llama.cpp row split: for each split matmul the main GPU copies the input to the n - 1
    other GPUs at once. It then gathers their (n - 1) / n of the output one peer after the
    other, so the latency is one broadcast plus one step per other GPU. Tensor parallel: each
    of the two all-reduces per layer is a ring all-reduce of 2 (n - 1) latency-bound steps
    that moves 2 (n - 1) / n of the activation bytes over each link. Latencies scale with the
    link kind.
    """
    # NOTE: the latencies are fitted on 2 to 8 A10G and 2 to 4 A100 PCIe. On 8 A100 PCIe the
    # public rows run vLLM about 25 % slower and llama.cpp row split 25 to 35 % faster than
    # predicted.
    latency = params.sync_latency_us * 1e-6 * _LINK_LATENCY_SCALE[kind]
    bandwidth = gbs * 1e9
    if split == "row":
        activation = tokens * hidden * _ROW_ACTIVATION_BYTES
        per_matmul = (
            params.row_broadcast_latency_us * 1e-6 * _LINK_LATENCY_SCALE[kind]
            + (n - 1) * latency
            + (n - 1) * (1.0 + 1.0 / n) * activation / bandwidth
        )
        return _ROW_SYNCS_PER_LAYER * n_layers * per_matmul
    activation = tokens * hidden * _TP_ACTIVATION_BYTES
    per_allreduce = 2 * (n - 1) * latency + 2.0 * (n - 1) / n * activation / bandwidth
    return _TP_ALLREDUCES_PER_LAYER * n_layers * per_allreduce


# --- decode ----------------------------------------------------------------------------------


def _read_time_s(load: _DeviceLoad, rig: Rig, quantized: bool) -> float:
    total = load.read_bytes + load.kv_bytes
    if load.gpu is None:
        return total / (rig.cpu_ram_bandwidth_gbs * 1e9 * load.params.cpu_bandwidth_efficiency)
    efficiency = load.params.bandwidth_efficiency
    if quantized:
        efficiency *= load.params.quantized_bandwidth_factor
    return total / (load.bandwidth_bps * efficiency)


def _decode(rig: Rig, workload: Workload, result: FitResult, loads: list[_DeviceLoad]) -> tuple[float, float, float, list[float]]:
    """Return (seconds per token, link seconds, overhead seconds, per-device seconds)."""
    quantized = workload.quant.format != "float"
    model = workload.model
    per_device = [_read_time_s(load, rig, quantized) for load in loads]
    lead = loads[0].params if loads else calibration_for(workload.runtime.engine, "cpu", "cpu")
    layer_costs = [l.layers * l.params.layer_overhead_us * 1e-6 for l in loads]
    # NOTE: the per-layer cost is fitted on llama.cpp builds from 2023 and 2024. A late-2025
    # build decodes gpt-oss-20b on an RTX PRO 6000 about 1.6x faster than this predicts.
    if result.split in _SHARED_SPLITS:
        # Every GPU launches every layer's kernels at the same time, so one GPU's cost counts.
        overhead = lead.token_overhead_ms * 1e-3 + max(layer_costs)
    else:
        overhead = lead.token_overhead_ms * 1e-3 + sum(layer_costs)
    activation = model.hidden_size * 4.0

    split = result.split
    gpus = [l for l in loads if l.gpu is not None]
    cpus = [l for l in loads if l.gpu is None]
    if split in ("row", "tensor", "tensor-parallel") and len(gpus) > 1:
        parallel = max(per_device[loads.index(l)] for l in gpus)
        serial = sum(per_device[loads.index(l)] for l in cpus)
        kind, gbs = _shared_link(rig, gpus)
        link = _shared_sync_s(lead, split, kind, gbs, len(gpus), model.n_layers, 1, model.hidden_size)
        return parallel + serial + link + overhead, link, overhead, per_device

    link = 0.0
    stages = _stages(loads)
    for previous, current in zip(stages, stages[1:]):
        kind, gbs = _link(rig, previous.gpu, current.gpu)
        link += lead.hop_latency_us * 1e-6 * _LINK_LATENCY_SCALE[kind] + activation / (gbs * 1e9)
    return sum(per_device) + link + overhead, link, overhead, per_device


# --- prefill ---------------------------------------------------------------------------------


def _tensor_tflops(gpu: RigGpu) -> float:
    spec = gpu.spec
    if spec.fp16_tflops:
        return spec.fp16_tflops
    # NOTE: without an FP16 figure, assume the usual 2:1 FP16:FP32 rate of packed half math.
    if spec.fp32_tflops:
        return 2.0 * spec.fp32_tflops
    # NOTE: a catalog entry with no compute figure at all gets a nominal 10 TFLOPS.
    return 10.0


def experts_touched_fraction(active_fraction: float, tokens: int) -> float:
    """Expected share of a layer's routed experts that a batch of ``tokens`` tokens uses.

    With k of E experts per token, routed independently and uniformly, an expert is missed
    by one token with probability 1 - k/E, so a batch touches E (1 - (1 - k/E)^B) of them.
    Real routers are not uniform, so this is an upper estimate for small batches.
    """
    if active_fraction >= 1.0:
        return 1.0
    return 1.0 - (1.0 - active_fraction) ** max(tokens, 1)


def _prefill(rig: Rig, workload: Workload, result: FitResult, loads: list[_DeviceLoad]) -> tuple[float, list[float]]:
    """Return (seconds for the whole prompt, per-device seconds)."""
    model = workload.model
    shape = model_shape(model)
    quantized = workload.quant.format != "float"
    prompt = max(workload.prompt, 1)
    ubatch = max(min(workload.ubatch, workload.batch, prompt), 1)
    micro_batches = math.ceil(prompt / ubatch)
    depth = max(workload.depth, 0)

    # Attention FLOPs per layer for the whole prompt: QK^T and PV, each 2 FLOPs per
    # multiply-add, over the causal average context (depth + half the prompt).
    attention_per_layer = 4.0 * shape.attention_width * prompt * (depth + prompt / 2)
    first_gpu = next((l.gpu for l in loads if l.gpu is not None), None)
    touched = experts_touched_fraction(shape.active_routed_fraction, ubatch)

    stage_s: list[float] = []
    for load in loads:
        flops = 2.0 * load.active_params * prompt + attention_per_layer * load.layers * load.share
        if load.gpu is not None:
            compute = _tensor_tflops(load.gpu)
            efficiency = load.params.compute_efficiency * (load.params.quantized_compute_factor if quantized else 1.0)
            seconds = flops / (compute * 1e12 * efficiency)
            # Every micro-batch reads the device's weights once more, including every expert
            # that at least one of its tokens is routed to.
            # NOTE: a 128-token gpt-oss-20b prompt on an RTX PRO 6000 still measures about 3x
            # slower than this, probably because each expert then multiplies only about 16 tokens.
            weight_bytes = load.read_bytes - load.routed_read_bytes + load.routed_stored_bytes * touched
            seconds = max(seconds, micro_batches * weight_bytes / (load.bandwidth_bps * load.params.bandwidth_efficiency))
        elif first_gpu is not None and ubatch >= 32:
            # llama.cpp copies CPU-held weights to the GPU for large batches and multiplies there.
            stream = micro_batches * load.stored_weight_bytes / (first_gpu.link_gbs * 1e9 * 0.8)
            gpu_params = gpu_calibration(workload.runtime.engine, first_gpu.spec)
            compute = _tensor_tflops(first_gpu)
            seconds = max(stream, flops / (compute * 1e12 * gpu_params.compute_efficiency))
        else:
            seconds = flops / (_CPU_TFLOPS * 1e12)
        seconds += micro_batches * load.layers * load.params.layer_overhead_us * 1e-6
        stage_s.append(seconds)

    lead = loads[0].params if loads else calibration_for(workload.runtime.engine, "cpu", "cpu")
    gpus = [l for l in loads if l.gpu is not None]
    split = result.split
    if split in ("row", "tensor", "tensor-parallel") and len(gpus) > 1:
        kind, gbs = _shared_link(rig, gpus)
        link = micro_batches * _shared_sync_s(lead, split, kind, gbs, len(gpus), model.n_layers, ubatch, model.hidden_size)
        parallel = max(stage_s[loads.index(l)] for l in gpus)
        serial = sum(s for s, l in zip(stage_s, loads) if l.gpu is None)
        return parallel + serial + link, stage_s

    hop = 0.0
    stages = _stages(loads)
    for previous, current in zip(stages, stages[1:]):
        kind, gbs = _link(rig, previous.gpu, current.gpu)
        hop += lead.hop_latency_us * 1e-6 * _LINK_LATENCY_SCALE[kind] + ubatch * model.hidden_size * 4.0 / (gbs * 1e9)
    pipelined = (
        len(stages) > 1
        and micro_batches > 1
        and all(l.gpu is not None for l in stages)
        and split in ("layer", "pipeline-parallel")
    )
    if pipelined:
        # Micro-batches flow through the stages: the first fills the pipe and the rest follow
        # at the pace of the slowest stage.
        per_batch = [s / micro_batches for s in stage_s]
        seconds = sum(per_batch) + (micro_batches - 1) * max(per_batch) + micro_batches * hop
        return seconds, stage_s
    return sum(stage_s) + micro_batches * hop, stage_s


# --- public entry point ----------------------------------------------------------------------


def spread_group(gpu_count: int, cpu_computes: bool, split: str) -> str:
    """Error group whose cross-validated spread sets the range of a placement.

    "shared" is row split or tensor parallel on several GPUs, because their synchronisation
    cost is the least certain part of the model. "multi" is any other placement over several
    devices (layer split, CPU-held layers or experts), and "single" is one device.
    """
    if gpu_count > 1 and split in _SHARED_SPLITS:
        return "shared"
    if gpu_count > 1 or cpu_computes:
        return "multi"
    return "single"


def _range(kind: str, tokens_per_s: float, group: str) -> SpeedRange:
    low, high = SPREAD[kind][group]
    return SpeedRange(low=tokens_per_s * math.exp(low), expected=tokens_per_s, high=tokens_per_s * math.exp(high))


def estimate_speed(rig: Rig, workload: Workload, result: FitResult) -> SpeedEstimate:
    """Estimate decode and prefill tokens/s for a placement, with the calibration spread as a range.

    Reads where ``result.devices`` put the weights and KV cache and ``result.split``; the
    workload supplies ``depth`` (tokens already in context) and ``prompt`` (prefill length).
    """
    loads = _device_loads(rig, workload, result)
    notes: list[str] = []
    if not loads:
        zero = SpeedRange(0.0, 0.0, 0.0)
        return SpeedEstimate(decode=zero, prefill=zero, notes=("No device holds any weights.",))

    decode_s, link_s, overhead_s, decode_parts = _decode(rig, workload, result, loads)
    prefill_s, prefill_parts = _prefill(rig, workload, result, loads)
    # A CPU that holds only the token embedding (llama.cpp keeps it in system RAM) does not
    # make the rig multi-device, because it computes no layer.
    cpu_computes = any(l.gpu is None and (l.layers or l.usage.expert_layers) for l in loads)
    gpu_count = sum(1 for l in loads if l.gpu is not None)
    group = spread_group(gpu_count, cpu_computes, result.split)

    if cpu_computes:
        cpu_share = sum(p for p, l in zip(decode_parts, loads) if l.gpu is None) / decode_s
        notes.append(f"CPU RAM reads take {cpu_share:.0%} of each decoded token's time.")
    if link_s > 0.1 * decode_s:
        notes.append(f"Passing activations between devices takes {link_s / decode_s:.0%} of each token's time.")

    devices = tuple(
        DeviceTime(
            name=l.name,
            read_bytes=int(l.read_bytes + l.kv_bytes),
            decode_ms=d * 1e3,
            prefill_ms=p * 1e3,
        )
        for l, d, p in zip(loads, decode_parts, prefill_parts)
    )
    return SpeedEstimate(
        decode=_range("decode", 1.0 / decode_s, group),
        prefill=_range("prefill", max(workload.prompt, 1) / prefill_s, group),
        notes=tuple(notes),
        devices=devices,
        link_decode_ms=link_s * 1e3,
        overhead_decode_ms=overhead_s * 1e3,
    )
