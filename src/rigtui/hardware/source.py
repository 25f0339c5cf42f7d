"""The telemetry source protocol and the immutable data it returns.

Every backend (NVML, the demo scenarios, a replayed recording) returns these frozen
dataclasses, so screens and detection never see which one produced them. A reading that
the GPU or driver does not support is ``None``, never an exception. Field names carry their
unit, and each docstring names the ``nvidia-smi`` query that reports the same figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

TopologyLevel = Literal["board", "switch", "switches", "host-bridge", "cpu", "across-cpus"]
"""Closest common ancestor of two GPUs, as NVML's nvmlDeviceGetTopologyCommonAncestor reports it.

``board``: same card (NVML ``INTERNAL``); ``switch``: one PCIe switch (``SINGLE``, nvidia-smi
``PIX``); ``switches``: several switches, no host bridge (``MULTIPLE``, ``PXB``); ``host-bridge``:
one CPU root complex (``HOSTBRIDGE``, ``PHB``); ``cpu``: host bridges of one CPU or NUMA node
(``NODE``); ``across-cpus``: the inter-socket link (``SYSTEM``, ``SYS``).
"""

# Fields of GpuSample that a GPU may not support; GpuInfo.supported lists the ones it does.
SAMPLE_FIELDS: tuple[str, ...] = (
    "util_gpu_pct",
    "util_mem_pct",
    "mem_used_bytes",
    "temp_gpu_c",
    "temp_mem_c",
    "fan_pct",
    "power_w",
    "power_limit_w",
    "clock_sm_mhz",
    "clock_mem_mhz",
    "pcie_gen",
    "pcie_width",
    "pcie_rx_bytes_s",
    "pcie_tx_bytes_s",
    "throttle_reasons",
    "ecc_uncorrected",
)


@dataclass(frozen=True)
class GpuProcess:
    """A process with a context on a GPU (``nvidia-smi --query-compute-apps=pid,used_memory``)."""

    pid: int
    kind: Literal["compute", "graphics"]
    """``graphics`` for display clients such as Xorg or a browser, ``compute`` for CUDA work."""
    used_bytes: int | None = None
    """GPU memory the process holds, bytes; None where the driver hides it (Windows WDDM)."""
    name: str | None = None
    """Process name when the backend could read it."""


@dataclass(frozen=True)
class NvLinkState:
    """One NVLink link of a GPU (``nvidia-smi nvlink --status``)."""

    link: int
    active: bool
    remote_bus_id: str | None = None
    """PCI bus id of the device at the other end, in NVML's form ``00000000:02:00.0``."""


@dataclass(frozen=True)
class GpuInfo:
    """What a GPU is and how it is installed; read once when the source starts."""

    index: int
    """NVML index (``nvidia-smi --query-gpu=index``)."""
    name: str
    """Product name as the driver reports it (``name``), such as 'NVIDIA GeForce RTX 4090'."""
    uuid: str
    """``uuid``, such as 'GPU-5a4c...'."""
    pci_bus_id: str
    """``pci.bus_id``, such as '00000000:01:00.0'."""
    pci_device_id: str
    """PCI device id as lower-case hex, such as '0x2684' (upper half of ``pci.device_id``)."""
    mem_total_bytes: int
    """``memory.total``, bytes."""
    mem_used_bytes: int | None = None
    """``memory.used`` when the source started, bytes."""
    mem_free_bytes: int | None = None
    """``memory.free`` when the source started, bytes."""
    pcie_gen_current: int | None = None
    """``pcie.link.gen.current``; drops at idle to save power, which is normal."""
    pcie_gen_max: int | None = None
    """``pcie.link.gen.max``: the highest generation card and slot can both run."""
    pcie_width_current: int | None = None
    """``pcie.link.width.current``, lanes."""
    pcie_width_max: int | None = None
    """``pcie.link.width.max``, lanes: the width card and slot can both run."""
    via_chipset: bool | None = None
    """True when the slot hangs off the chipset; None when the backend cannot tell (NVML has no query)."""
    display_active: bool | None = None
    """``display_active``: a display is initialized on this GPU."""
    power_limit_w: float | None = None
    """``power.limit`` (enforced), W."""
    nvlinks: tuple[NvLinkState, ...] = ()
    """NVLink links the GPU has; empty when it has none or NVML does not support the query."""
    processes: tuple[GpuProcess, ...] = ()
    """Processes holding memory on the GPU when the source started."""
    supported: frozenset[str] = frozenset(SAMPLE_FIELDS)
    """Names of the GpuSample fields this GPU reports; the others are always None."""


@dataclass(frozen=True)
class GpuPair:
    """How two GPUs reach each other (one cell of ``nvidia-smi topo -m``)."""

    a: int
    b: int
    """NVML indexes, ``a < b``."""
    level: TopologyLevel | None
    """Closest common PCIe ancestor; None when NVML could not tell."""
    nvlink_links: int = 0
    """Active NVLink links joining the two GPUs directly."""


@dataclass(frozen=True)
class RigInfo:
    """Static facts about the machine: driver, CUDA, GPUs and how they connect."""

    gpus: tuple[GpuInfo, ...]
    driver_version: str | None = None
    """``driver_version``, such as '550.54.14'."""
    cuda_version: str | None = None
    """Highest CUDA version the driver supports, such as '12.4' (the header of ``nvidia-smi``)."""
    nvml_version: str | None = None
    pairs: tuple[GpuPair, ...] = ()
    """One entry per pair of GPUs, ``a < b``."""
    backend: str = "nvml"
    """Where the data came from: 'nvml', 'demo:<scenario>' or 'replay:<file name>'."""
    notices: tuple[str, ...] = ()
    """Things the user should know about this data, each one sentence."""

    def pair(self, a: int, b: int) -> GpuPair | None:
        """Return the topology entry for GPUs a and b in either order, or None."""
        low, high = min(a, b), max(a, b)
        for entry in self.pairs:
            if entry.a == low and entry.b == high:
                return entry
        return None

    @property
    def nvlink_pairs(self) -> frozenset[tuple[int, int]]:
        """Pairs of NVML indexes joined by at least one active NVLink link."""
        return frozenset((p.a, p.b) for p in self.pairs if p.nvlink_links > 0)


@dataclass(frozen=True)
class GpuSample:
    """One reading of one GPU. Every figure is None when unsupported or when its query failed."""

    index: int
    lost: bool = False
    """True once the GPU stopped answering (fell off the bus, NVML ``GPU_IS_LOST``)."""
    util_gpu_pct: float | None = None
    """``utilization.gpu``, percent of time a kernel ran."""
    util_mem_pct: float | None = None
    """``utilization.memory``, percent of time memory was read or written."""
    mem_used_bytes: int | None = None
    """``memory.used``, bytes."""
    mem_total_bytes: int | None = None
    """``memory.total``, bytes."""
    temp_gpu_c: float | None = None
    """``temperature.gpu``, degrees Celsius."""
    temp_mem_c: float | None = None
    """``temperature.memory``, degrees Celsius; most GeForce cards do not report it."""
    fan_pct: float | None = None
    """``fan.speed``, percent of maximum."""
    power_w: float | None = None
    """``power.draw``, W."""
    power_limit_w: float | None = None
    """``power.limit`` (enforced), W."""
    clock_sm_mhz: int | None = None
    """``clocks.sm``, MHz."""
    clock_mem_mhz: int | None = None
    """``clocks.mem``, MHz."""
    pcie_gen: int | None = None
    """``pcie.link.gen.current``."""
    pcie_width: int | None = None
    """``pcie.link.width.current``, lanes."""
    pcie_gen_max: int | None = None
    """``pcie.link.gen.max``."""
    pcie_width_max: int | None = None
    """``pcie.link.width.max``, lanes."""
    pcie_rx_bytes_s: float | None = None
    """PCIe receive throughput, bytes/s (``nvidia-smi dmon -s t``, column rxpci)."""
    pcie_tx_bytes_s: float | None = None
    """PCIe transmit throughput, bytes/s (``nvidia-smi dmon -s t``, column txpci)."""
    throttle_reasons: int | None = None
    """Clock event reasons bit mask (``clocks_event_reasons.active``); see decode_throttle_reasons."""
    ecc_uncorrected: int | None = None
    """``ecc.errors.uncorrected.volatile.total``; None on cards without ECC or with it off."""
    failures: tuple[str, ...] = ()
    """Queries that failed on this reading, as 'field: reason'."""


@dataclass(frozen=True)
class RigSample:
    """One timestamped reading of every GPU, in NVML index order."""

    timestamp: float
    """Seconds since the Unix epoch."""
    gpus: tuple[GpuSample, ...] = field(default_factory=tuple)

    def gpu(self, index: int) -> GpuSample | None:
        """Return the reading of the GPU with this NVML index, or None."""
        for reading in self.gpus:
            if reading.index == index:
                return reading
        return None


@runtime_checkable
class TelemetrySource(Protocol):
    """Static GPU facts and live readings from one backend.

    ``info`` and ``sample`` raise ``rigtui.errors.TelemetryUnavailable`` when the backend
    cannot start (no NVML library, no driver, no GPU). After a successful start, failures
    of single queries come back as None figures and lost GPUs as ``lost=True``; they never raise.
    """

    def info(self) -> RigInfo:
        """Return the static facts, read once and cached."""
        ...

    def sample(self) -> RigSample:
        """Read every GPU once."""
        ...

    def close(self) -> None:
        """Release the backend; calling it twice is harmless."""
        ...


# Clock event reason bits and their meaning, from nvml.h (nvmlClocksEventReason*).
THROTTLE_REASONS: tuple[tuple[int, str, bool], ...] = (
    # (bit, words, whether it means the GPU is being held back while busy)
    (0x001, "idle", False),
    (0x002, "application clocks setting", False),
    (0x004, "software power cap", True),
    (0x008, "hardware slowdown", True),
    (0x010, "sync boost", False),
    (0x020, "software thermal slowdown", True),
    (0x040, "hardware thermal slowdown", True),
    (0x080, "power brake (external signal)", True),
    (0x100, "display clock setting", False),
    (0x200, "board limit", True),
    (0x400, "reliability limit", True),
)


def decode_throttle_reasons(mask: int | None) -> list[str]:
    """Turn a clock event reasons mask into words, such as ['software power cap']."""
    if mask is None:
        return []
    words = [text for bit, text, _ in THROTTLE_REASONS if mask & bit]
    known = 0
    for bit, _, _ in THROTTLE_REASONS:
        known |= bit
    if mask & ~known:
        words.append(f"other (0x{mask & ~known:x})")
    return words


def is_throttled(mask: int | None) -> bool:
    """True when the mask has a reason that slows a busy GPU (power, thermal, hardware)."""
    if mask is None:
        return False
    return any(mask & bit for bit, _, slows in THROTTLE_REASONS if slows)
