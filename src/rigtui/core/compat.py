"""Whether a runtime works on a rig: works, works poorly, or does not work, with the reasons.

Every reason is a sentence built from the rig, the runtime's catalog entry and, when given,
the model and quantization, so the Runtimes screen and the CLI can show why, not only what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rigtui.core.rig import GIB, MIB, Rig, RigGpu
from rigtui.core.specs import ModelSpec, QuantSpec, RuntimeSpec

CompatStatus = Literal["works", "works poorly", "does not work"]
Severity = Literal["blocker", "degraded", "note"]

_STATUS_ORDER: dict[CompatStatus, int] = {"works": 0, "works poorly": 1, "does not work": 2}

# Strategies that shard every weight matrix across the cards, so all cards work on every layer.
TENSOR_PARALLEL = ("tensor-parallel", "tensor", "row")

# FP8 matrix multiplies need compute capability 8.9 (Ada, Hopper); from 7.5 vLLM runs FP8
# checkpoints as weight-only W8A16 through FP8 Marlin (vLLM docs, features/quantization/fp8).
_FP8_COMPUTE_CC = (8, 9)
# BF16 needs compute capability 8.0 in vLLM (_check_if_gpu_supports_dtype).
_BF16_CC = (8, 0)
# Architectures whose GeForce cards have no peer-to-peer access with stock drivers
# (RTX 4090: NVIDIA/nccl issue 1127; RTX 5090: NVIDIA/nccl issue 1637).
_NO_P2P_CONSUMER_ARCHITECTURES = ("Ada Lovelace", "Blackwell")
# Engines that can drive cards of two vendors in one process (llama.cpp through its Vulkan
# backend, or one RPC server per vendor). Ollama picks one GPU library (CUDA or ROCm).
_MIXED_VENDOR_ENGINES = ("llama.cpp",)


@dataclass(frozen=True)
class CompatReason:
    """One fact behind a compatibility status."""

    code: str
    """Stable identifier for scripts, such as 'os-unsupported' or 'tp-unequal-memory'."""
    severity: Severity
    message: str


@dataclass(frozen=True)
class Compat:
    """How one runtime fares on one rig."""

    runtime: str
    runtime_name: str
    status: CompatStatus
    reasons: tuple[CompatReason, ...]
    usable_gpus: tuple[int, ...]
    """Indexes of the GPUs this runtime can use on this rig."""

    @property
    def blockers(self) -> tuple[CompatReason, ...]:
        return tuple(r for r in self.reasons if r.severity == "blocker")


def _cc_text(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def _parse_cc(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / GIB:.1f} GiB"


def gpu_capacity_bytes(rig: Rig, gpu: RigGpu) -> int:
    """Memory a card offers a runtime before that runtime's own overhead, bytes.

    Total memory minus the OS reserve, the desktop reserve on the display card, and memory
    that other processes already use.
    """
    reserve = rig.os.reserve_per_gpu_mib * MIB
    if gpu.desktop:
        reserve += rig.os.desktop_reserve_mib * MIB
    return max(0, gpu.spec.memory_bytes - reserve - gpu.used_bytes)


def multi_gpu_strategies(runtime: RuntimeSpec) -> tuple[str, ...]:
    """Strategies the runtime offers for spreading one model over several cards."""
    return tuple(s for s in runtime.split_strategies if s not in ("single", "cpu-offload", "expert-offload"))


def needs_tensor_parallel(runtime: RuntimeSpec) -> bool:
    """True when the runtime's default way to use several cards shards every layer evenly.

    Runtimes with a layer split default to it; the others (vLLM, SGLang) reach for tensor
    parallel first, with pipeline parallel as the fallback.
    """
    strategies = multi_gpu_strategies(runtime)
    return any(s in TENSOR_PARALLEL for s in strategies) and "layer" not in strategies


def _check_os(rig: Rig, runtime: RuntimeSpec) -> list[CompatReason]:
    os_spec = rig.os
    if os_spec.id in runtime.os or runtime.id in os_spec.runtimes:
        reasons = []
        if os_spec.id == "wsl2" or ("wsl" in os_spec.id and os_spec.wddm):
            reasons.append(
                CompatReason(
                    "wsl2-notes",
                    "note",
                    f"{runtime.name} runs under {os_spec.name}, which reaches the GPU through the Windows "
                    "WDDM driver, so the Windows memory reserve applies; the WSL2 VM also gets half of the "
                    "host RAM by default (raise it with memory= in .wslconfig).",
                )
            )
        return reasons
    hint = ""
    if "wsl2" in runtime.os and os_spec.wddm:
        hint = " It runs under WSL2 on the same machine."
    supported = ", ".join(runtime.os) or "no listed OS"
    return [
        CompatReason(
            "os-unsupported",
            "blocker",
            f"{runtime.name} does not run natively on {os_spec.name} (supported: {supported}).{hint}",
        )
    ]


def _check_vendor_and_cc(rig: Rig, runtime: RuntimeSpec, usable: list[int]) -> list[CompatReason]:
    reasons = []
    min_cc = _parse_cc(runtime.min_compute_capability)
    for index, gpu in enumerate(rig.gpus):
        spec = gpu.spec
        if spec.vendor not in runtime.vendors:
            usable.remove(index)
            reasons.append(
                CompatReason(
                    "vendor-unsupported",
                    "degraded",
                    f"GPU {index} ({gpu.name}) is {spec.vendor.upper()}, which {runtime.name} does not support "
                    f"(supported: {', '.join(v.upper() for v in runtime.vendors)}).",
                )
            )
            continue
        cc = spec.cc_tuple
        if min_cc and spec.vendor == "nvidia" and cc is not None and cc < min_cc:
            usable.remove(index)
            reasons.append(
                CompatReason(
                    "compute-capability",
                    "degraded",
                    f"GPU {index} ({gpu.name}) has compute capability {_cc_text(cc)}; {runtime.name} needs "
                    f"{_cc_text(min_cc)} or newer.",
                )
            )
    if rig.gpus and not usable:
        reasons.append(
            CompatReason("no-usable-gpu", "blocker", f"{runtime.name} can use none of this rig's GPUs.")
        )
    return reasons


def _check_mixed_vendors(rig: Rig, runtime: RuntimeSpec, usable: list[int]) -> list[CompatReason]:
    vendors = sorted({rig.gpus[i].spec.vendor for i in usable})
    if len(vendors) < 2:
        return []
    names = " and ".join(v.upper() for v in vendors)
    if runtime.engine in _MIXED_VENDOR_ENGINES:
        return [
            CompatReason(
                "mixed-vendors",
                "degraded",
                f"This rig mixes {names} cards: {runtime.name} can use them together only through its Vulkan "
                "backend or one RPC server per vendor, both slower than CUDA or ROCm alone.",
            )
        ]
    counts = {v: sum(1 for i in usable if rig.gpus[i].spec.vendor == v) for v in vendors}
    keep = max(vendors, key=lambda v: (counts[v], v == "nvidia"))
    for i in list(usable):
        if rig.gpus[i].spec.vendor != keep:
            usable.remove(i)
    return [
        CompatReason(
            "mixed-vendors",
            "degraded",
            f"This rig mixes {names} cards and {runtime.name} loads one GPU library per process, "
            f"so it uses only the {counts[keep]} {keep.upper()} card(s).",
        )
    ]


def _check_quant(rig: Rig, runtime: RuntimeSpec, quant: QuantSpec, usable: list[int]) -> list[CompatReason]:
    if quant.format not in runtime.quant_formats:
        formats = ", ".join(runtime.quant_formats)
        return [
            CompatReason(
                "quant-format",
                "blocker",
                f"{runtime.name} cannot load {quant.name} ({quant.format.upper()}); it loads {formats}.",
            )
        ]
    reasons = []
    if runtime.engine in ("vllm", "sglang"):
        for i in usable:
            gpu = rig.gpus[i]
            cc = gpu.spec.cc_tuple
            if cc is None:
                continue
            if quant.format == "fp8" and cc < _FP8_COMPUTE_CC:
                reasons.append(
                    CompatReason(
                        "fp8-weight-only",
                        "degraded",
                        f"GPU {i} ({gpu.name}, compute capability {_cc_text(cc)}) has no FP8 matrix units, so "
                        f"{quant.name} runs as weight-only FP8 with 16-bit compute, slower in prefill.",
                    )
                )
            if quant.format == "float" and quant.bits_per_weight == 16 and "bf16" in quant.id.lower() and cc < _BF16_CC:
                reasons.append(
                    CompatReason(
                        "bf16-unsupported",
                        "degraded",
                        f"GPU {i} ({gpu.name}, compute capability {_cc_text(cc)}) has no BF16 support; "
                        f"{runtime.name} must load the weights as FP16 (--dtype half).",
                    )
                )
    return reasons


def _valid_tp_sizes(n_heads: int, n_gpus: int) -> list[int]:
    return [n for n in range(1, n_gpus + 1) if n_heads % n == 0]


def _check_tensor_parallel(
    rig: Rig, runtime: RuntimeSpec, model: ModelSpec | None, usable: list[int]
) -> list[CompatReason]:
    """Facts that apply when the runtime shards layers evenly across every card."""
    if len(usable) < 2 or not needs_tensor_parallel(runtime):
        return []
    reasons = []
    n = len(usable)
    capacities = {i: gpu_capacity_bytes(rig, rig.gpus[i]) for i in usable}
    smallest = min(capacities.values())
    wasted = {i: cap - smallest for i, cap in capacities.items() if cap - smallest >= 256 * MIB}
    needs_equal = any(s in runtime.identical_cards_for for s in TENSOR_PARALLEL) or not runtime.identical_cards_for
    if wasted and needs_equal:
        small = min(usable, key=lambda i: capacities[i])
        parts = ", ".join(f"{_gib(w)} on GPU {i} ({rig.gpus[i].name})" for i, w in wasted.items())
        reasons.append(
            CompatReason(
                "tp-unequal-memory",
                "degraded",
                f"{runtime.name} gives every card an equal shard, so GPU {small} ({rig.gpus[small].name}, "
                f"{_gib(smallest)} usable) sets the limit: {n} x {_gib(smallest)} = {_gib(n * smallest)} "
                f"usable, and {parts} stays unused.",
            )
        )
    bandwidths = {i: rig.gpus[i].spec.bandwidth_gbs for i in usable}
    slow = min(usable, key=lambda i: bandwidths[i])
    fast = max(usable, key=lambda i: bandwidths[i])
    if bandwidths[fast] > bandwidths[slow] * 1.05:
        reasons.append(
            CompatReason(
                "tp-slowest-card",
                "note",
                f"With equal shards every card waits for GPU {slow} ({rig.gpus[slow].name}, "
                f"{bandwidths[slow]:.0f} GB/s) on each layer; GPU {fast} ({rig.gpus[fast].name}, "
                f"{bandwidths[fast]:.0f} GB/s) idles {1 - bandwidths[slow] / bandwidths[fast]:.0%} of the time.",
            )
        )
    if model is not None and model.n_heads % n:
        sizes = ", ".join(str(s) for s in _valid_tp_sizes(model.n_heads, n))
        has_pp = "pipeline-parallel" in runtime.split_strategies
        fallback = " Use pipeline parallel instead, which has no such constraint." if has_pp else ""
        reasons.append(
            CompatReason(
                "tp-heads-indivisible",
                "degraded" if has_pp else "blocker",
                f"{model.name} has {model.n_heads} attention heads, which {n} GPUs cannot divide evenly; "
                f"tensor parallel sizes that work: {sizes}.{fallback}",
            )
        )
    elif model is not None and model.n_kv_heads % n and n % model.n_kv_heads:
        reasons.append(
            CompatReason(
                "tp-kv-heads-indivisible",
                "blocker",
                f"{model.name} has {model.n_kv_heads} KV heads; tensor parallel over {n} GPUs needs a KV head "
                "count that divides by the GPU count or divides it.",
            )
        )
    no_p2p = [
        i
        for i in usable
        if rig.gpus[i].spec.segment == "consumer"
        and rig.gpus[i].spec.architecture in _NO_P2P_CONSUMER_ARCHITECTURES
        and not any(rig.linked(i, j) for j in usable if j != i)
    ]
    if no_p2p:
        names = ", ".join(f"GPU {i} ({rig.gpus[i].name})" for i in no_p2p)
        reasons.append(
            CompatReason(
                "tp-no-p2p",
                "note",
                f"{names} has no peer-to-peer access with stock drivers, so every all-reduce goes through "
                "host memory over PCIe.",
            )
        )
    return reasons


def _check_wddm(rig: Rig, runtime: RuntimeSpec) -> list[CompatReason]:
    if not rig.os.wddm or not rig.gpus:
        return []
    reserve = rig.os.reserve_per_gpu_mib
    desktop = rig.os.desktop_reserve_mib
    return [
        CompatReason(
            "wddm-overhead",
            "note",
            f"{rig.os.name} runs the GPUs under WDDM, which keeps {reserve} MiB on every card plus "
            f"{desktop} MiB on the desktop card, and with the default sysmem fallback an allocation that "
            "does not fit spills into system RAM and slows down instead of failing.",
        )
    ]


def runtime_compat(
    rig: Rig,
    runtime: RuntimeSpec,
    model: ModelSpec | None = None,
    quant: QuantSpec | None = None,
) -> Compat:
    """Check one runtime against a rig, and against a model and quantization when given."""
    usable = list(range(len(rig.gpus)))
    reasons: list[CompatReason] = []
    reasons += _check_os(rig, runtime)
    reasons += _check_vendor_and_cc(rig, runtime, usable)
    reasons += _check_mixed_vendors(rig, runtime, usable)
    if quant is not None:
        reasons += _check_quant(rig, runtime, quant, usable)
    reasons += _check_tensor_parallel(rig, runtime, model, usable)
    reasons += _check_wddm(rig, runtime)
    status: CompatStatus = "works"
    if any(r.severity == "blocker" for r in reasons):
        status = "does not work"
    elif any(r.severity == "degraded" for r in reasons):
        status = "works poorly"
    return Compat(runtime.id, runtime.name, status, tuple(reasons), tuple(usable))


def compat_matrix(
    rig: Rig,
    runtimes: list[RuntimeSpec] | tuple[RuntimeSpec, ...],
    model: ModelSpec | None = None,
    quant: QuantSpec | None = None,
) -> tuple[Compat, ...]:
    """Check every runtime; the result is ordered best status first, then by runtime name."""
    results = [runtime_compat(rig, r, model, quant) for r in runtimes]
    return tuple(sorted(results, key=lambda c: (_STATUS_ORDER[c.status], c.runtime_name.lower())))
