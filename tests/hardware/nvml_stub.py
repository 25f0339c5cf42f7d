"""A stand-in for the ``pynvml`` module: the same function names over in-memory GPUs.

Errors are the real ``pynvml.NVMLError`` subclasses, built from their codes without the
NVML library, so the backend receives the same exceptions the real module raises. Every call is counted,
and any function can be made to fail for every GPU with any NVML error code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml as _real

# Every NVML error code that nvidia-ml-py maps to its own exception class.
ALL_ERROR_CODES: tuple[int, ...] = tuple(sorted(_real.NVMLError._valClassMapping))


@dataclass
class StubGpu:
    """One simulated GPU with the raw values NVML would return (milliwatts, KB/s, packed ids)."""

    name: str = "NVIDIA GeForce RTX 4090"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    bus_id: bytes = b"00000000:01:00.0"
    pci_device_id: int = 0x268410DE
    mem_total: int = 24_564 * (1 << 20)
    mem_used: int = 1_024 * (1 << 20)
    gen: int = 4
    gen_max: int = 4
    width: int = 16
    width_max: int = 16
    power_mw: int = 300_000
    power_limit_mw: int = 450_000
    temp_c: int = 65
    mem_temp_c: int = 80
    fan_pct: int = 55
    util_gpu: int = 90
    util_mem: int = 40
    sm_mhz: int = 2_500
    mem_mhz: int = 10_501
    rx_kb_s: int = 1_000
    tx_kb_s: int = 200
    throttle: int = 0x4
    ecc: int = 0
    display: int = 0
    nvlink_peers: list[bytes | None] = field(default_factory=list)
    """Remote bus id per NVLink link; None for an inactive link. Empty: no NVLink."""
    compute: list[tuple[int, int | None]] = field(default_factory=list)
    graphics: list[tuple[int, int | None]] = field(default_factory=list)
    unsupported: set[str] = field(default_factory=set)
    """Functions that raise NVMLError_NotSupported on this GPU."""
    lost: bool = False
    """When True every device call on this GPU raises NVMLError_GpuIsLost."""


class StubNvml:
    """The subset of pynvml that rigtui's NVML backend calls."""

    NVMLError = _real.NVMLError

    def __init__(
        self,
        gpus: list[StubGpu] | None = None,
        *,
        errors: dict[str, int] | None = None,
        topology: dict[tuple[int, int], int] | None = None,
        cuda_version: int = 12040,
    ) -> None:
        self.gpus = gpus if gpus is not None else [StubGpu()]
        self.errors = dict(errors or {})
        self.topology = topology or {}
        self.cuda_version = cuda_version
        self.calls: Counter[str] = Counter()
        self.initialized = False

    def __getattr__(self, name: str) -> Any:
        # Constants and exception classes come from the real module.
        if name.startswith(("NVML_", "NVMLError")):
            return getattr(_real, name)
        raise AttributeError(name)

    def _enter(self, name: str, gpu: StubGpu | None = None) -> None:
        self.calls[name] += 1
        if name in self.errors:
            raise _real.NVMLError(self.errors[name])
        if gpu is not None:
            if gpu.lost:
                raise _real.NVMLError(_real.NVML_ERROR_GPU_IS_LOST)
            if name in gpu.unsupported:
                raise _real.NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)

    # -- library and system ---------------------------------------------------------------

    def nvmlInit(self) -> None:
        self._enter("nvmlInit")
        self.initialized = True

    def nvmlShutdown(self) -> None:
        self._enter("nvmlShutdown")
        self.initialized = False

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return "550.54.14"

    def nvmlSystemGetNVMLVersion(self) -> bytes:
        self._enter("nvmlSystemGetNVMLVersion")
        return b"12.550.54.14"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion")
        return self.cuda_version

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        self._enter("nvmlSystemGetProcessName")
        return f"proc-{pid}"

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> StubGpu:
        self._enter("nvmlDeviceGetHandleByIndex")
        return self.gpus[index]

    # -- static device facts --------------------------------------------------------------

    def nvmlDeviceGetName(self, gpu: StubGpu) -> str:
        self._enter("nvmlDeviceGetName", gpu)
        return gpu.name

    def nvmlDeviceGetUUID(self, gpu: StubGpu) -> str:
        self._enter("nvmlDeviceGetUUID", gpu)
        return gpu.uuid

    def nvmlDeviceGetPciInfo(self, gpu: StubGpu) -> SimpleNamespace:
        self._enter("nvmlDeviceGetPciInfo", gpu)
        return SimpleNamespace(busId=gpu.bus_id, pciDeviceId=gpu.pci_device_id)

    def nvmlDeviceGetMemoryInfo(self, gpu: StubGpu) -> SimpleNamespace:
        self._enter("nvmlDeviceGetMemoryInfo", gpu)
        return SimpleNamespace(total=gpu.mem_total, used=gpu.mem_used, free=gpu.mem_total - gpu.mem_used)

    def nvmlDeviceGetDisplayActive(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetDisplayActive", gpu)
        return gpu.display

    def nvmlDeviceGetMaxPcieLinkGeneration(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetMaxPcieLinkGeneration", gpu)
        return gpu.gen_max

    def nvmlDeviceGetMaxPcieLinkWidth(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetMaxPcieLinkWidth", gpu)
        return gpu.width_max

    def nvmlDeviceGetNvLinkState(self, gpu: StubGpu, link: int) -> int:
        self._enter("nvmlDeviceGetNvLinkState", gpu)
        if not gpu.nvlink_peers:
            raise _real.NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        if link >= len(gpu.nvlink_peers):
            raise _real.NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return int(gpu.nvlink_peers[link] is not None)

    def nvmlDeviceGetNvLinkRemotePciInfo(self, gpu: StubGpu, link: int) -> SimpleNamespace:
        self._enter("nvmlDeviceGetNvLinkRemotePciInfo", gpu)
        return SimpleNamespace(busId=gpu.nvlink_peers[link], pciDeviceId=0)

    def nvmlDeviceGetComputeRunningProcesses(self, gpu: StubGpu) -> list[SimpleNamespace]:
        self._enter("nvmlDeviceGetComputeRunningProcesses", gpu)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.compute]

    def nvmlDeviceGetGraphicsRunningProcesses(self, gpu: StubGpu) -> list[SimpleNamespace]:
        self._enter("nvmlDeviceGetGraphicsRunningProcesses", gpu)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.graphics]

    def nvmlDeviceGetTopologyCommonAncestor(self, first: StubGpu, second: StubGpu) -> int:
        self._enter("nvmlDeviceGetTopologyCommonAncestor")
        a, b = sorted((self.gpus.index(first), self.gpus.index(second)))
        return self.topology.get((a, b), _real.NVML_TOPOLOGY_HOSTBRIDGE)

    # -- live readings --------------------------------------------------------------------

    def nvmlDeviceGetUtilizationRates(self, gpu: StubGpu) -> SimpleNamespace:
        self._enter("nvmlDeviceGetUtilizationRates", gpu)
        return SimpleNamespace(gpu=gpu.util_gpu, memory=gpu.util_mem)

    def nvmlDeviceGetTemperature(self, gpu: StubGpu, sensor: int) -> int:
        self._enter("nvmlDeviceGetTemperature", gpu)
        return gpu.temp_c

    def nvmlDeviceGetFieldValues(self, gpu: StubGpu, field_ids: list[int]) -> list[SimpleNamespace]:
        self._enter("nvmlDeviceGetFieldValues", gpu)
        return [
            SimpleNamespace(nvmlReturn=0, valueType=_real.NVML_VALUE_TYPE_UNSIGNED_INT,
                            value=SimpleNamespace(uiVal=gpu.mem_temp_c))
            for _ in field_ids
        ]

    def nvmlDeviceGetFanSpeed(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetFanSpeed", gpu)
        return gpu.fan_pct

    def nvmlDeviceGetPowerUsage(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetPowerUsage", gpu)
        return gpu.power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetEnforcedPowerLimit", gpu)
        return gpu.power_limit_mw

    def nvmlDeviceGetClockInfo(self, gpu: StubGpu, clock: int) -> int:
        self._enter("nvmlDeviceGetClockInfo", gpu)
        return gpu.sm_mhz if clock == _real.NVML_CLOCK_SM else gpu.mem_mhz

    def nvmlDeviceGetCurrPcieLinkGeneration(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetCurrPcieLinkGeneration", gpu)
        return gpu.gen

    def nvmlDeviceGetCurrPcieLinkWidth(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetCurrPcieLinkWidth", gpu)
        return gpu.width

    def nvmlDeviceGetPcieThroughput(self, gpu: StubGpu, counter: int) -> int:
        self._enter("nvmlDeviceGetPcieThroughput", gpu)
        return gpu.rx_kb_s if counter == _real.NVML_PCIE_UTIL_RX_BYTES else gpu.tx_kb_s

    def nvmlDeviceGetCurrentClocksEventReasons(self, gpu: StubGpu) -> int:
        self._enter("nvmlDeviceGetCurrentClocksEventReasons", gpu)
        return gpu.throttle

    def nvmlDeviceGetTotalEccErrors(self, gpu: StubGpu, error_type: int, counter_type: int) -> int:
        self._enter("nvmlDeviceGetTotalEccErrors", gpu)
        return gpu.ecc
