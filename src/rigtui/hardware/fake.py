"""A simulated telemetry source with named scenarios, for demos and tests.

Readings are a pure function of (scenario, seed, sample number), so two runs with the same
seed produce identical samples and snapshot tests stay stable. Timestamps come from an
injected clock, or from a synthetic clock that advances one interval per sample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from rigtui.core.rig import pcie_bandwidth_gbs
from rigtui.errors import TelemetryUnavailable
from rigtui.hardware.source import (
    SAMPLE_FIELDS,
    GpuInfo,
    GpuPair,
    GpuProcess,
    GpuSample,
    NvLinkState,
    RigInfo,
    RigSample,
)

MIB = 1 << 20
GIB = 1 << 30
# 2025-01-01 00:00:00 UTC: a fixed start so timestamps in snapshots never change.
SYNTHETIC_EPOCH = 1_735_689_600.0

_IDLE = 0x001
_SW_POWER_CAP = 0x004
_SW_THERMAL = 0x020
_HW_THERMAL = 0x040


@dataclass(frozen=True)
class FakeGpu:
    """One simulated GPU: its static facts and how its load and heat behave over time."""

    info: GpuInfo
    load: float
    """Mean load, 0 to 1."""
    swing: float = 0.1
    """Amplitude of the slow load wave around the mean."""
    idle_power_w: float = 25.0
    idle_temp_c: float = 35.0
    load_temp_c: float = 70.0
    sm_clock_max_mhz: int = 1900
    mem_clock_mhz: int = 9751
    loaded_pcie_gen: int | None = None
    """Generation the link trains to under load when it falls short of the maximum (a poor riser)."""
    lost_at: int | None = None
    """Sample number from which the GPU no longer answers."""
    ecc_uncorrected: int = 0


@dataclass(frozen=True)
class Scenario:
    """A named rig for ``rigtui --demo``."""

    name: str
    description: str
    gpus: tuple[FakeGpu, ...] = ()
    pairs: tuple[GpuPair, ...] = ()
    failure: TelemetryUnavailable | None = None
    """Raised by info() and sample() instead of returning data (no driver, for instance)."""
    driver_version: str = "550.120"
    cuda_version: str = "12.4"


def _gpu(index: int, name: str, device_id: str, total_mib: int, ecc: bool = False, **fields: object) -> GpuInfo:
    # GeForce cards have no ECC, so NVML reports the ECC counters as not supported on them.
    if "supported" not in fields and not ecc:
        fields["supported"] = frozenset(SAMPLE_FIELDS) - {"ecc_uncorrected"}
    return GpuInfo(
        index=index,
        name=name,
        uuid=f"GPU-fa4e0000-0000-4000-8000-{index:012d}",
        pci_bus_id=f"00000000:{index + 1:02x}:00.0",
        pci_device_id=device_id,
        mem_total_bytes=total_mib * MIB,
        **fields,  # type: ignore[arg-type]
    )


def _with_used(info: GpuInfo, used_bytes: int) -> GpuInfo:
    return replace(info, mem_used_bytes=used_bytes, mem_free_bytes=info.mem_total_bytes - used_bytes)


def _nvlinks(peer: int, count: int) -> tuple[NvLinkState, ...]:
    return tuple(NvLinkState(link=i, active=True, remote_bus_id=f"00000000:{peer + 1:02x}:00.0") for i in range(count))


def _process(pid: int, kind: str, mib: int | None, name: str) -> GpuProcess:
    return GpuProcess(pid=pid, kind=kind, used_bytes=None if mib is None else mib * MIB, name=name)  # type: ignore[arg-type]


def _all_pairs(count: int, level: str, nvlinked: dict[tuple[int, int], int] | None = None) -> tuple[GpuPair, ...]:
    links = nvlinked or {}
    return tuple(
        GpuPair(a, b, level, links.get((a, b), 0))  # type: ignore[arg-type]
        for a in range(count)
        for b in range(a + 1, count)
    )


def _mixed_4090_3090() -> Scenario:
    llama = _process(4242, "compute", 18_944, "llama-server")
    llama_2 = _process(4242, "compute", 17_408, "llama-server")
    gpu0 = _gpu(0, "NVIDIA GeForce RTX 4090", "0x2684", 24_564, pcie_gen_current=4, pcie_gen_max=4,
                pcie_width_current=8, pcie_width_max=8, display_active=False, power_limit_w=450.0,
                processes=(llama,))
    gpu1 = _gpu(1, "NVIDIA GeForce RTX 3090", "0x2204", 24_576, pcie_gen_current=4, pcie_gen_max=4,
                pcie_width_current=4, pcie_width_max=4, display_active=False, power_limit_w=350.0,
                processes=(llama_2,))
    return Scenario(
        name="mixed-4090-3090",
        description="RTX 4090 on CPU lanes at x8 and RTX 3090 on a chipset slot at x4, one model split across both",
        gpus=(
            FakeGpu(_with_used(gpu0, 19_456 * MIB), load=0.55, swing=0.3, sm_clock_max_mhz=2730, mem_clock_mhz=10_501),
            FakeGpu(_with_used(gpu1, 17_920 * MIB), load=0.45, swing=0.3, load_temp_c=76.0, idle_power_w=30.0),
        ),
        pairs=_all_pairs(2, "host-bridge"),
    )


def _four_3090_nvlink() -> Scenario:
    gpus = []
    peers = {0: 1, 1: 0, 2: 3, 3: 2}
    for index in range(4):
        info = _gpu(index, "NVIDIA GeForce RTX 3090", "0x2204", 24_576, pcie_gen_current=4, pcie_gen_max=4,
                    pcie_width_current=16, pcie_width_max=16, display_active=False,
                    power_limit_w=280.0 if index == 2 else 350.0,
                    nvlinks=_nvlinks(peers[index], 4),
                    processes=(_process(9100, "compute", 22_912 if index == 0 else 21_504, "python3 (vLLM)"),))
        used_mib = 23_424 if index == 0 else 22_016
        gpus.append(FakeGpu(
            _with_used(info, used_mib * MIB),
            load=0.8,
            swing=0.15,
            load_temp_c=74.0,
            # GPU 3 sits on a riser that only trains at Gen3 under load.
            loaded_pcie_gen=3 if index == 3 else None,
        ))
    levels = {(0, 1): "cpu", (2, 3): "cpu"}
    pairs = tuple(
        GpuPair(a, b, levels.get((a, b), "across-cpus"), 4 if (a, b) in levels else 0)  # type: ignore[arg-type]
        for a in range(4)
        for b in range(a + 1, 4)
    )
    return Scenario(
        name="4x3090-nvlink",
        description="Four RTX 3090 on a dual-socket board, NVLink bridges on 0-1 and 2-3, GPU 2 power-limited to 280 W",
        gpus=tuple(gpus),
        pairs=pairs,
    )


def _desktop() -> Scenario:
    desktop = (
        _process(1187, "graphics", 448, "Xorg"),
        _process(1402, "graphics", 298, "gnome-shell"),
        _process(3310, "graphics", 790, "firefox"),
    )
    info = _gpu(0, "NVIDIA GeForce RTX 3060", "0x2504", 12_288, pcie_gen_current=1, pcie_gen_max=4,
                pcie_width_current=16, pcie_width_max=16, display_active=True, power_limit_w=170.0,
                processes=desktop)
    return Scenario(
        name="desktop-1.5gb",
        description="One RTX 3060 12GB that also drives the desktop, which holds 1.5 GiB",
        gpus=(FakeGpu(_with_used(info, 1_536 * MIB), load=0.04, swing=0.03, idle_power_w=15.0,
                      sm_clock_max_mhz=1777, mem_clock_mhz=7501),),
    )


def _gpu_lost() -> Scenario:
    gpus = []
    for index in range(2):
        info = _gpu(index, "NVIDIA GeForce RTX 3090", "0x2204", 24_576, pcie_gen_current=4, pcie_gen_max=4,
                    pcie_width_current=8, pcie_width_max=8, display_active=False, power_limit_w=350.0,
                    processes=(_process(5120, "compute", 20_480, "ollama"),))
        gpus.append(FakeGpu(
            _with_used(info, 20_992 * MIB),
            load=0.85,
            swing=0.1,
            load_temp_c=91.0 if index == 1 else 72.0,
            lost_at=5 if index == 1 else None,
        ))
    return Scenario(
        name="gpu-lost",
        description="Two RTX 3090; GPU 1 runs hot and falls off the bus after five samples",
        gpus=tuple(gpus),
        pairs=_all_pairs(2, "host-bridge"),
    )


def _geforce_unsupported() -> Scenario:
    missing = {"temp_mem_c", "fan_pct", "ecc_uncorrected", "pcie_rx_bytes_s", "pcie_tx_bytes_s", "power_limit_w"}
    info = _gpu(0, "NVIDIA GeForce GTX 1080 Ti", "0x1b06", 11_264, pcie_gen_current=3, pcie_gen_max=3,
                pcie_width_current=16, pcie_width_max=16, display_active=False, power_limit_w=None,
                processes=(_process(2210, "compute", None, "koboldcpp"),),
                supported=frozenset(SAMPLE_FIELDS) - missing)
    return Scenario(
        name="geforce-unsupported",
        description="A GTX 1080 Ti on which NVML reports memory temperature, fan, power limit, PCIe throughput, "
        "ECC and per-process memory as not supported",
        gpus=(FakeGpu(_with_used(info, 7_168 * MIB), load=0.6, swing=0.2, sm_clock_max_mhz=1911, mem_clock_mhz=5505),),
        driver_version="535.183.01",
        cuda_version="12.2",
    )


def _unknown_card() -> Scenario:
    known = _gpu(0, "NVIDIA GeForce RTX 4090", "0x2684", 24_564, pcie_gen_current=1, pcie_gen_max=4,
                 pcie_width_current=16, pcie_width_max=16, display_active=False, power_limit_w=450.0)
    unknown = _gpu(1, "NVIDIA Graphics Device", "0x2bfe", 32_607, ecc=True, pcie_gen_current=1, pcie_gen_max=5,
                   pcie_width_current=16, pcie_width_max=16, display_active=False, power_limit_w=600.0)
    return Scenario(
        name="unknown-card",
        description="An RTX 4090 next to a card the catalog does not know, to show the pick-a-catalog-entry prompt",
        gpus=(
            FakeGpu(_with_used(known, 512 * MIB), load=0.02, swing=0.01),
            FakeGpu(_with_used(unknown, 640 * MIB), load=0.02, swing=0.01, idle_power_w=40.0),
        ),
        pairs=_all_pairs(2, "host-bridge"),
        driver_version="570.86.10",
        cuda_version="12.8",
    )


def _no_driver() -> Scenario:
    return Scenario(
        name="no-driver",
        description="A machine with no NVIDIA driver loaded: the app runs in what-if mode",
        failure=TelemetryUnavailable(
            "The NVIDIA driver is not loaded (NVML: Driver Not Loaded), so live telemetry and detection are off. "
            "Install or load the NVIDIA driver (check with `nvidia-smi`); until then rigtui works on what-if rigs.",
        ),
    )


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _mixed_4090_3090(),
        _four_3090_nvlink(),
        _desktop(),
        _gpu_lost(),
        _geforce_unsupported(),
        _unknown_card(),
        _no_driver(),
    )
}


class FakeSource:
    """A TelemetrySource that simulates one scenario.

    Args:
        scenario: a name from SCENARIOS, or a Scenario.
        seed: seeds the small random jitter on every reading.
        clock: returns the timestamp of each sample; by default a synthetic clock that starts at
            2025-01-01 00:00 UTC and advances ``interval_s`` per sample.
        interval_s: simulated seconds between samples, which sets how fast the load wave moves.
    """

    def __init__(
        self,
        scenario: str | Scenario,
        *,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        interval_s: float = 1.0,
    ) -> None:
        if isinstance(scenario, str):
            if scenario not in SCENARIOS:
                names = ", ".join(SCENARIOS)
                raise ValueError(f"unknown demo scenario {scenario!r}; choose one of: {names}")
            scenario = SCENARIOS[scenario]
        self.scenario = scenario
        self.seed = seed
        self.interval_s = interval_s
        self._clock = clock
        self._count = 0
        self._closed = False

    def info(self) -> RigInfo:
        if self.scenario.failure is not None:
            raise self.scenario.failure
        return RigInfo(
            gpus=tuple(g.info for g in self.scenario.gpus),
            driver_version=self.scenario.driver_version,
            cuda_version=self.scenario.cuda_version,
            nvml_version="12." + self.scenario.driver_version,
            pairs=self.scenario.pairs,
            backend=f"demo:{self.scenario.name}",
            notices=(f"Demo scenario {self.scenario.name}: simulated GPUs, not this machine's.",),
        )

    def sample(self) -> RigSample:
        if self.scenario.failure is not None:
            raise self.scenario.failure
        count = self._count
        self._count += 1
        if self._clock is not None:
            timestamp = self._clock()
        else:
            timestamp = SYNTHETIC_EPOCH + count * self.interval_s
        readings = tuple(self._read(gpu, count) for gpu in self.scenario.gpus)
        return RigSample(timestamp=timestamp, gpus=readings)

    def close(self) -> None:
        self._closed = True

    def _read(self, gpu: FakeGpu, count: int) -> GpuSample:
        info = gpu.info
        if gpu.lost_at is not None and count >= gpu.lost_at:
            return GpuSample(index=info.index, lost=True, failures=("device: GPU is lost",))

        # Jitter depends only on (seed, sample number, GPU), so any sample can be recomputed alone.
        jitter = random.Random(self.seed * 1_000_003 + count * 131 + info.index).uniform(-1.0, 1.0)
        seconds = count * self.interval_s
        wave = math.sin(2 * math.pi * seconds / 30.0 + info.index)
        load = min(1.0, max(0.0, gpu.load + gpu.swing * wave + 0.03 * jitter))

        limit_w = info.power_limit_w or 250.0
        power_w = min(limit_w, gpu.idle_power_w + load * (limit_w * 1.05 - gpu.idle_power_w))
        temp_c = gpu.idle_temp_c + load * (gpu.load_temp_c - gpu.idle_temp_c)
        mask = 0
        if load < 0.05:
            mask |= _IDLE
        if power_w >= limit_w * 0.98:
            mask |= _SW_POWER_CAP
        if temp_c >= 83.0:
            mask |= _SW_THERMAL
        if temp_c >= 90.0:
            mask |= _HW_THERMAL

        busy = load >= 0.15
        gen_max = info.pcie_gen_max or 4
        width_max = info.pcie_width_max or 16
        gen = (gpu.loaded_pcie_gen or gen_max) if busy else 1
        link_bytes_s = pcie_bandwidth_gbs(gen, width_max) * 1e9
        if busy:
            sm_clock_mhz = gpu.sm_clock_max_mhz
            sm_clock_mhz -= 150 if mask & _SW_POWER_CAP else 0
            sm_clock_mhz -= 300 if mask & _SW_THERMAL else 0
        else:
            sm_clock_mhz = int(210 + load * (gpu.sm_clock_max_mhz - 210))

        values: dict[str, object] = {
            "util_gpu_pct": round(load * 100),
            "util_mem_pct": round(load * 55),
            "mem_used_bytes": info.mem_used_bytes,
            "temp_gpu_c": round(temp_c),
            "temp_mem_c": round(temp_c + 12),
            "fan_pct": round(30 + 60 * max(0.0, (temp_c - 40) / 45)),
            "power_w": round(power_w, 1),
            "power_limit_w": info.power_limit_w,
            "clock_sm_mhz": sm_clock_mhz,
            "clock_mem_mhz": gpu.mem_clock_mhz if busy else 405,
            "pcie_gen": gen,
            "pcie_width": width_max,
            "pcie_rx_bytes_s": round(link_bytes_s * 0.25 * load, -3),
            "pcie_tx_bytes_s": round(link_bytes_s * 0.08 * load, -3),
            "throttle_reasons": mask,
            "ecc_uncorrected": gpu.ecc_uncorrected,
        }
        for name in SAMPLE_FIELDS:
            if name not in info.supported:
                values[name] = None
        return GpuSample(
            index=info.index,
            mem_total_bytes=info.mem_total_bytes,
            pcie_gen_max=info.pcie_gen_max,
            pcie_width_max=info.pcie_width_max,
            **values,  # type: ignore[arg-type]
        )
