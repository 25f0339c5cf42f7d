"""What the core returns: per-device memory, fit verdicts and speed ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class DeviceUsage:
    """Bytes one device holds for a placement, by kind, against its capacity."""

    name: str
    kind: Literal["gpu", "cpu"]
    index: int | None
    """GPU index in the rig, None for the CPU."""
    capacity_bytes: int
    """Memory this device offers the runtime: total minus OS reserve and other processes."""
    weights_bytes: int = 0
    kv_cache_bytes: int = 0
    compute_buffer_bytes: int = 0
    overhead_bytes: int = 0
    """Runtime overhead: CUDA context, runtime reserves and safety margins."""
    layers: int = 0
    """Repeating layers (blocks) whose weights live here."""
    first_layer: int | None = None
    """Index of the first layer placed here, for layer and pipeline splits."""
    expert_layers: int = 0
    """Layers whose MoE experts live here while the rest of the layer is elsewhere."""
    holds_output: bool = False
    """True when the output (LM head) layer lives here."""
    reserved_bytes: int = 0
    """Taken before the runtime starts: OS or desktop reserve and other processes (not in capacity)."""

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.compute_buffer_bytes + self.overhead_bytes

    @property
    def free_bytes(self) -> int:
        """Capacity left after this placement; negative when the device is short."""
        return self.capacity_bytes - self.total_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.capacity_bytes


@dataclass(frozen=True)
class SpeedRange:
    """A speed estimate in tokens/s with the range the calibration spread allows."""

    low: float
    expected: float
    high: float

    def as_dict(self) -> dict[str, float]:
        return {"low": round(self.low, 2), "expected": round(self.expected, 2), "high": round(self.high, 2)}


OFFLOAD_WARNINGS = ("cpu-offload", "expert-offload")
"""Warning codes of a placement that keeps repeating layers or MoE experts in CPU RAM."""


@dataclass(frozen=True)
class Warning_:
    """A warning with a stable code for scripts and a sentence for people."""

    code: str
    message: str


@dataclass(frozen=True)
class FitResult:
    """The answer to "does this workload fit this rig, split how, and how fast"."""

    fits: bool
    split: str
    """The split strategy this placement uses (never 'auto')."""
    runtime: str
    quant: str
    context: int
    kv_cache: str
    devices: tuple[DeviceUsage, ...]
    tensor_split: tuple[float, ...] | None = None
    short_device: str | None = None
    short_by_bytes: int = 0
    max_context: int | None = None
    """Largest context that fits with this split, None when the model does not fit at all."""
    model_file_bytes: int = 0
    weights_source: str = "estimate"
    """Origin of the weight sizes: 'gguf-header' (the file's own tensors) or 'estimate'."""
    decode: SpeedRange | None = None
    prefill: SpeedRange | None = None
    launch_command: str | None = None
    warnings: tuple[Warning_, ...] = ()
    notes: tuple[str, ...] = ()
    """Explanations of choices made (why this split, why a card is left out)."""
    alternatives: tuple["FitResult", ...] = field(default=(), compare=False)
    """Other strategies considered, for comparison screens."""

    @property
    def gpu_layers(self) -> int:
        return sum(d.layers for d in self.devices if d.kind == "gpu")

    @property
    def uses_offload(self) -> bool:
        """True when the placement keeps repeating layers or MoE experts in CPU RAM.

        llama.cpp keeps the token embedding in CPU RAM even on a full offload, so a CPU device
        with weights alone does not count. The core flags real offload with a warning.
        """
        if any(w.code in OFFLOAD_WARNINGS for w in self.warnings):
            return True
        return any(d.kind == "cpu" and (d.layers or d.expert_layers) for d in self.devices)
