"""The rig being explored and the workload asked of it: plain, immutable inputs to the core."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from rigtui.core.memory import ModelWeights
from rigtui.core.specs import GgmlType, GpuSpec, ModelSpec, OsSpec, QuantSpec, RuntimeSpec

GIB = 1 << 30
MIB = 1 << 20

SplitName = Literal["auto", "single", "layer", "row", "tensor", "tensor-parallel", "pipeline-parallel"]
SPLITS: tuple[str, ...] = ("auto", "single", "layer", "row", "tensor", "tensor-parallel", "pipeline-parallel")


@dataclass(frozen=True)
class RigGpu:
    """One card in a rig: a catalog GPU as it is installed."""

    spec: GpuSpec
    pcie_gen: int
    """PCIe generation of the slot as it links (the lower of card and slot)."""
    pcie_lanes: int
    """Electrical lanes of the slot as it links."""
    via_chipset: bool = False
    """True when the slot hangs off the chipset instead of the CPU's own lanes."""
    used_bytes: int = 0
    """Memory already taken by other processes (another model, a browser), bytes."""
    desktop: bool = False
    """True when a desktop session draws on this card, so the OS desktop reserve applies."""
    label: str | None = None
    """Name shown to the user; defaults to the catalog name."""
    uuid: str | None = None
    """NVML UUID when the card was detected."""

    @property
    def name(self) -> str:
        return self.label or self.spec.name

    @property
    def link_gbs(self) -> float:
        """One-direction PCIe bandwidth of this slot, GB/s."""
        return pcie_bandwidth_gbs(self.pcie_gen, self.pcie_lanes)


# Usable one-direction bandwidth per lane after line encoding, GB/s: Gen1/2 use 8b/10b,
# Gen3+ use 128b/130b (PCI-SIG base specifications; Gen6 FLIT mode counted like Gen5 doubled).
_PCIE_LANE_GBS = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


def pcie_bandwidth_gbs(gen: int, lanes: int) -> float:
    """Theoretical one-direction PCIe bandwidth for a generation and lane count, GB/s."""
    return _PCIE_LANE_GBS[gen] * lanes


@dataclass(frozen=True)
class Rig:
    """One machine: its GPUs in slot order, their links, CPU RAM, OS and PSU."""

    gpus: tuple[RigGpu, ...]
    os: OsSpec
    cpu_ram_bytes: int = 64 * GIB
    cpu_ram_bandwidth_gbs: float = 83.2
    """System RAM bandwidth, GB/s. Default: dual-channel DDR5-5200 (2 x 8 B x 5.2 GT/s)."""
    nvlink_pairs: frozenset[tuple[int, int]] = frozenset()
    """Pairs of GPU indexes (lower first) joined by an NVLink bridge."""
    psu_w: int | None = None
    cpu_power_w: int = 150
    """Power of CPU, board, drives and fans under load, W, for PSU sizing."""
    name: str = "rig"

    def __post_init__(self) -> None:
        for a, b in self.nvlink_pairs:
            if not (0 <= a < b < len(self.gpus)):
                raise ValueError(f"NVLink pair ({a}, {b}) does not name two GPUs of this rig")

    def linked(self, a: int, b: int) -> bool:
        """True when GPUs a and b share an NVLink bridge."""
        return (min(a, b), max(a, b)) in self.nvlink_pairs

    def with_gpus(self, gpus: tuple[RigGpu, ...]) -> "Rig":
        """Return a copy with other GPUs; NVLink pairs that no longer exist are dropped."""
        pairs = frozenset(p for p in self.nvlink_pairs if p[1] < len(gpus))
        return replace(self, gpus=gpus, nvlink_pairs=pairs)


@dataclass(frozen=True)
class Workload:
    """What is asked of the rig: a model at a quantization under a runtime, and how to run it."""

    model: ModelSpec
    quant: QuantSpec
    runtime: RuntimeSpec
    context: int = 8192
    kv_cache: str = "f16"
    """KV cache element type: f16, bf16, q8_0, q4_0, ... (llama.cpp names), or fp8 for vLLM."""
    split: str = "auto"
    tensor_split: tuple[float, ...] | None = None
    """Explicit per-GPU ratios (llama.cpp --tensor-split); None lets the core choose."""
    flash_attn: bool = True
    ubatch: int = 512
    batch: int = 2048
    depth: int = 0
    """Tokens already in the context while decoding."""
    prompt: int = 512
    """Prompt length for prefill speed."""
    n_gpu_layers: int | None = None
    """Layers on GPUs (llama.cpp -ngl); None places as many as fit."""
    n_cpu_moe: int | None = None
    """Layers whose MoE experts stay in CPU RAM (llama.cpp --n-cpu-moe); None lets the core choose."""
    gpu_memory_utilization: float | None = None
    """vLLM/SGLang memory fraction; None takes the runtime's default."""
    bpw: float | None = None
    """Bits per weight for formats the user sizes freely (EXL2/EXL3)."""
    parallel: int = 1
    """Concurrent sequences sharing the KV cache."""
    projector_bytes: int | None = None
    """Vision projector (mmproj) weights when the model is run with images; None: none loaded."""
    projector_graph_bytes: int | None = None
    """Compute graph of the vision projector, bytes, when known (Ollama reports it)."""
    compute_graph_bytes: int | None = None
    """Compute graph per GPU measured from a runtime log (Ollama prints it); None: estimate it."""
    ggml_types: dict[str, GgmlType] = field(default_factory=dict, compare=False, hash=False)
    """GGML tensor types from the catalog, which size GGUF weights and quantized KV caches."""
    weights: ModelWeights | None = None
    """Per-tensor sizes read from the model's GGUF file; None sizes the weights from quantization rules."""
    extra: dict[str, str] = field(default_factory=dict)
