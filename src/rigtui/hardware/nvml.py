"""The NVML backend: the only rigtui module that imports ``pynvml`` (nvidia-ml-py).

NVML is a management library: it reads counters from the driver and never creates a CUDA
context or allocates GPU memory, so polling it does not take memory away from the models the
user wants to fit. The library is imported and initialised on first use, never at import.

Every per-GPU query goes through ``NvmlSource._query``. It turns "not supported" into None
(and stops asking), a lost GPU into ``lost=True``, and any other NVML error into None plus
one log record per distinct (GPU, query, error).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

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
    TopologyLevel,
)

log = logging.getLogger(__name__)

# nvmlGpuTopologyLevel_t values (nvml.h) and rigtui's names for them.
_TOPOLOGY_LEVELS: dict[int, TopologyLevel] = {
    0: "board",
    10: "switch",
    20: "switches",
    30: "host-bridge",
    40: "cpu",
    50: "across-cpus",
}
# NVML error codes (nvml.h nvmlReturn_t) that this module treats specially.
_NOT_SUPPORTED = 3
_FUNCTION_NOT_FOUND = 13
_GPU_IS_LOST = 15
_RESET_REQUIRED = 16
_INVALID_ARGUMENT = 2
_MEMORY_TEMP_FIELD = 82  # NVML_FI_DEV_MEMORY_TEMP
_MAX_NVLINKS = 36  # NVML_NVLINK_MAX_LINKS in nvidia-ml-py 13

_FIX_DRIVER = "Install or load the NVIDIA driver (check with `nvidia-smi`); until then rigtui works on what-if rigs."


class _GpuLost(Exception):
    """Raised inside one GPU's reading when NVML says the GPU is gone."""


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _normalize_bus_id(bus_id: str) -> str:
    """Return a PCI bus id as 'dddddddd:bb:dd.f', lower case, whatever domain width NVML used."""
    text = bus_id.strip().lower()
    domain, _, rest = text.rpartition(":")
    domain, _, bus = domain.rpartition(":") if domain.count(":") else ("", "", domain)
    try:
        return f"{int(domain or '0', 16):08x}:{int(bus, 16):02x}:{rest}"
    except ValueError:
        return text


class NvmlSource:
    """A TelemetrySource that reads the local NVIDIA GPUs through NVML.

    Args:
        nvml: the module to call; ``pynvml`` by default. Tests pass a stub with the same names.
        clock: returns sample timestamps, seconds since the Unix epoch.
    """

    def __init__(self, nvml: ModuleType | Any | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._nvml = nvml
        self._clock = clock
        self._handles: list[Any] | None = None
        self._info: RigInfo | None = None
        self._supported: dict[int, set[str]] = {}
        self._lost: set[int] = set()
        self._logged: set[tuple[int, str, str]] = set()
        self._started = False

    # -- start and stop -------------------------------------------------------------------

    def _start(self) -> list[Any]:
        if self._handles is not None:
            return self._handles
        if self._nvml is None:
            try:
                import pynvml
            except ImportError as exc:
                raise TelemetryUnavailable(
                    "The nvidia-ml-py package (module pynvml) is not installed, so live telemetry and detection "
                    "are off. Install it with `pip install nvidia-ml-py`; until then rigtui works on what-if rigs."
                ) from exc
            self._nvml = pynvml
        nvml = self._nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise TelemetryUnavailable(self._init_message(exc)) from exc
        self._started = True
        try:
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as exc:
            self.close()
            raise TelemetryUnavailable(f"NVML started but could not count the GPUs ({exc}). {_FIX_DRIVER}") from exc
        if count == 0:
            self.close()
            raise TelemetryUnavailable(
                "NVML found no NVIDIA GPU, so live telemetry and detection are off; rigtui works on what-if rigs."
            )
        log.info("NVML started: %d GPU(s)", count)
        handles: list[Any] = []
        for index in range(count):
            try:
                handles.append(nvml.nvmlDeviceGetHandleByIndex(index))
            except nvml.NVMLError as exc:
                # One unreachable GPU should not hide the others.
                self._log_once(index, "nvmlDeviceGetHandleByIndex", exc)
                self._lost.add(index)
                handles.append(None)
        self._handles = handles
        return handles

    def _init_message(self, exc: Exception) -> str:
        code = getattr(exc, "value", None)
        messages = {
            12: "NVML (libnvidia-ml.so / nvml.dll) was not found, so live telemetry and detection are off. "
            "The NVIDIA driver installs it. " + _FIX_DRIVER,
            9: "The NVIDIA driver is not loaded (NVML: Driver Not Loaded), so live telemetry and detection are off. "
            + _FIX_DRIVER,
            4: "NVML refused access (Insufficient Permissions), so live telemetry and detection are off. "
            "Check the permissions of /dev/nvidia*; until then rigtui works on what-if rigs.",
            18: "The NVIDIA driver library and kernel module versions differ (usually right after a driver update), "
            "so live telemetry and detection are off. Reboot, or reload the nvidia kernel module.",
        }
        message = messages.get(code) if isinstance(code, int) else None
        return message or f"NVML failed to start ({exc}), so live telemetry and detection are off. {_FIX_DRIVER}"

    def close(self) -> None:
        if not self._started or self._nvml is None:
            return
        self._started = False
        self._handles = None
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError as exc:
            log.warning("nvmlShutdown failed: %s", exc)

    # -- one query ------------------------------------------------------------------------

    def _log_once(self, index: int, what: str, exc: Exception) -> None:
        key = (index, what, type(exc).__name__)
        if key in self._logged:
            return
        self._logged.add(key)
        log.warning("GPU %d: %s failed: %s; showing n/a", index, what, exc)

    def _query(self, index: int, field: str, call: Callable[[], Any]) -> Any:
        """Run one NVML call for one GPU and return its result, or None when it fails.

        Raises:
            _GpuLost: NVML reports the GPU as lost or needing a reset.
        """
        nvml = self._nvml
        try:
            return call()
        except nvml.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code in (_GPU_IS_LOST, _RESET_REQUIRED):
                self._lost.add(index)
                self._log_once(index, field, exc)
                raise _GpuLost from exc
            if code in (_NOT_SUPPORTED, _FUNCTION_NOT_FOUND):
                supported = self._supported.get(index)
                if supported is not None and field in supported:
                    supported.discard(field)
                    log.info("GPU %d does not support %s; it stays n/a", index, field)
                return None
            self._log_once(index, field, exc)
            return None

    # -- static facts ---------------------------------------------------------------------

    def info(self) -> RigInfo:
        if self._info is not None:
            return self._info
        handles = self._start()
        nvml = self._nvml
        gpus: list[GpuInfo] = []
        for index, handle in enumerate(handles):
            gpu = None
            if handle is not None:
                try:
                    gpu = self._gpu_info(index, handle)
                except _GpuLost:
                    gpu = None
            gpus.append(gpu or GpuInfo(index=index, name="unreachable GPU", uuid="", pci_bus_id="",
                                       pci_device_id="", mem_total_bytes=0, supported=frozenset()))
        pairs = self._pairs(handles, gpus)
        notices = tuple(f"GPU {i} did not answer when rigtui started; it is shown as lost." for i in sorted(self._lost))
        self._info = RigInfo(
            gpus=tuple(gpus),
            driver_version=self._system(lambda: _text(nvml.nvmlSystemGetDriverVersion())),
            cuda_version=self._system(self._cuda_version),
            nvml_version=self._system(lambda: _text(nvml.nvmlSystemGetNVMLVersion())),
            pairs=pairs,
            backend="nvml",
            notices=notices,
        )
        return self._info

    def _system(self, call: Callable[[], str]) -> str | None:
        try:
            return call()
        except self._nvml.NVMLError as exc:
            self._log_once(-1, "system query", exc)
            return None

    def _cuda_version(self) -> str:
        version = int(self._nvml.nvmlSystemGetCudaDriverVersion())
        return f"{version // 1000}.{version % 1000 // 10}"

    def _gpu_info(self, index: int, handle: Any) -> GpuInfo:
        nvml = self._nvml
        q = self._query
        self._supported[index] = set(SAMPLE_FIELDS)
        pci = q(index, "pci", lambda: nvml.nvmlDeviceGetPciInfo(handle))
        memory = q(index, "memory", lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        power_mw = q(index, "power_limit_w", lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        display = q(index, "display", lambda: nvml.nvmlDeviceGetDisplayActive(handle))
        info = GpuInfo(
            index=index,
            name=_text(q(index, "name", lambda: nvml.nvmlDeviceGetName(handle)) or "unknown NVIDIA GPU"),
            uuid=_text(q(index, "uuid", lambda: nvml.nvmlDeviceGetUUID(handle)) or ""),
            pci_bus_id=_normalize_bus_id(_text(pci.busId)) if pci is not None else "",
            pci_device_id=f"0x{(int(pci.pciDeviceId) >> 16) & 0xFFFF:04x}" if pci is not None else "",
            mem_total_bytes=int(memory.total) if memory is not None else 0,
            mem_used_bytes=int(memory.used) if memory is not None else None,
            mem_free_bytes=int(memory.free) if memory is not None else None,
            pcie_gen_current=q(index, "pcie_gen", lambda: nvml.nvmlDeviceGetCurrPcieLinkGeneration(handle)),
            pcie_gen_max=q(index, "pcie_gen_max", lambda: nvml.nvmlDeviceGetMaxPcieLinkGeneration(handle)),
            pcie_width_current=q(index, "pcie_width", lambda: nvml.nvmlDeviceGetCurrPcieLinkWidth(handle)),
            pcie_width_max=q(index, "pcie_width_max", lambda: nvml.nvmlDeviceGetMaxPcieLinkWidth(handle)),
            display_active=None if display is None else bool(display),
            power_limit_w=None if power_mw is None else power_mw / 1000.0,
            nvlinks=self._nvlinks(index, handle),
            processes=self._processes(index, handle),
        )
        # Probe every sample field once, so that unsupported ones are known before the
        # first sample and are never queried again.
        self._read_fields(index, handle)
        return replace(info, supported=frozenset(self._supported[index]))

    def _nvlinks(self, index: int, handle: Any) -> tuple[NvLinkState, ...]:
        nvml = self._nvml
        links: list[NvLinkState] = []
        for link in range(_MAX_NVLINKS):
            try:
                active = bool(nvml.nvmlDeviceGetNvLinkState(handle, link))
            except nvml.NVMLError as exc:
                code = getattr(exc, "value", None)
                if code in (_GPU_IS_LOST, _RESET_REQUIRED):
                    self._lost.add(index)
                    raise _GpuLost from exc
                # NOT_SUPPORTED on link 0 means no NVLink; INVALID_ARGUMENT marks the end of the links.
                if code not in (_NOT_SUPPORTED, _INVALID_ARGUMENT, _FUNCTION_NOT_FOUND):
                    self._log_once(index, "nvlink state", exc)
                break
            remote = None
            if active:
                pci = self._query(index, "nvlink remote", lambda: nvml.nvmlDeviceGetNvLinkRemotePciInfo(handle, link))
                remote = _normalize_bus_id(_text(pci.busId)) if pci is not None else None
            links.append(NvLinkState(link=link, active=active, remote_bus_id=remote))
        return tuple(links)

    def _processes(self, index: int, handle: Any) -> tuple[GpuProcess, ...]:
        nvml = self._nvml
        found: list[GpuProcess] = []
        for kind, function in (
            ("compute", nvml.nvmlDeviceGetComputeRunningProcesses),
            ("graphics", nvml.nvmlDeviceGetGraphicsRunningProcesses),
        ):
            entries = self._query(index, f"{kind} processes", lambda f=function: f(handle)) or []
            for entry in entries:
                pid = int(entry.pid)
                used = getattr(entry, "usedGpuMemory", None)
                found.append(GpuProcess(pid=pid, kind=kind, used_bytes=None if used is None else int(used),  # type: ignore[arg-type]
                                        name=self._process_name(pid)))
        return tuple(found)

    def _process_name(self, pid: int) -> str | None:
        try:
            return _text(self._nvml.nvmlSystemGetProcessName(pid)) or None
        except self._nvml.NVMLError:
            # Names of other users' processes are often hidden; a missing name is normal.
            return None

    def _pairs(self, handles: list[Any], gpus: list[GpuInfo]) -> tuple[GpuPair, ...]:
        nvml = self._nvml
        by_bus = {g.pci_bus_id: g.index for g in gpus if g.pci_bus_id}
        pairs: list[GpuPair] = []
        for a in range(len(handles)):
            for b in range(a + 1, len(handles)):
                level = None
                if handles[a] is not None and handles[b] is not None:
                    try:
                        raw = nvml.nvmlDeviceGetTopologyCommonAncestor(handles[a], handles[b])
                        level = _TOPOLOGY_LEVELS.get(int(raw))
                    except nvml.NVMLError as exc:
                        self._log_once(a, f"topology with GPU {b}", exc)
                links = sum(1 for link in gpus[a].nvlinks if link.active and by_bus.get(link.remote_bus_id or "") == b)
                pairs.append(GpuPair(a, b, level, links))
        return tuple(pairs)

    # -- live readings --------------------------------------------------------------------

    def sample(self) -> RigSample:
        info = self.info()
        handles = self._handles or []
        readings = []
        for gpu in info.gpus:
            index = gpu.index
            handle = handles[index] if index < len(handles) else None
            if index in self._lost or handle is None:
                readings.append(GpuSample(index=index, lost=True))
                continue
            try:
                values = self._read_fields(index, handle)
            except _GpuLost:
                readings.append(GpuSample(index=index, lost=True, failures=("device: GPU is lost",)))
                continue
            readings.append(GpuSample(index=index, mem_total_bytes=gpu.mem_total_bytes or None,
                                      pcie_gen_max=gpu.pcie_gen_max, pcie_width_max=gpu.pcie_width_max, **values))
        return RigSample(timestamp=self._clock(), gpus=tuple(readings))

    def _read_fields(self, index: int, handle: Any) -> dict[str, Any]:
        """Read every supported sample field of one GPU."""
        nvml = self._nvml
        supported = self._supported.setdefault(index, set(SAMPLE_FIELDS))
        values: dict[str, Any] = {}

        def read(fields: tuple[str, ...], call: Callable[[], Any]) -> Any:
            if not any(f in supported for f in fields):
                return None
            return self._query(index, fields[0], call)

        utilization = read(("util_gpu_pct", "util_mem_pct"), lambda: nvml.nvmlDeviceGetUtilizationRates(handle))
        if "util_gpu_pct" not in supported:
            supported.discard("util_mem_pct")
        values["util_gpu_pct"] = None if utilization is None else float(utilization.gpu)
        values["util_mem_pct"] = None if utilization is None else float(utilization.memory)
        memory = read(("mem_used_bytes",), lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
        values["mem_used_bytes"] = None if memory is None else int(memory.used)
        values["temp_gpu_c"] = read(("temp_gpu_c",), lambda: nvml.nvmlDeviceGetTemperature(handle, 0))
        values["temp_mem_c"] = read(("temp_mem_c",), lambda: self._memory_temperature(handle))
        values["fan_pct"] = read(("fan_pct",), lambda: nvml.nvmlDeviceGetFanSpeed(handle))
        power_mw = read(("power_w",), lambda: nvml.nvmlDeviceGetPowerUsage(handle))
        values["power_w"] = None if power_mw is None else power_mw / 1000.0
        limit_mw = read(("power_limit_w",), lambda: nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
        values["power_limit_w"] = None if limit_mw is None else limit_mw / 1000.0
        values["clock_sm_mhz"] = read(("clock_sm_mhz",), lambda: nvml.nvmlDeviceGetClockInfo(handle, 1))
        values["clock_mem_mhz"] = read(("clock_mem_mhz",), lambda: nvml.nvmlDeviceGetClockInfo(handle, 2))
        values["pcie_gen"] = read(("pcie_gen",), lambda: nvml.nvmlDeviceGetCurrPcieLinkGeneration(handle))
        values["pcie_width"] = read(("pcie_width",), lambda: nvml.nvmlDeviceGetCurrPcieLinkWidth(handle))
        # NVML counts PCIe bytes over a 20 ms window per call (NVML API reference), so these two
        # calls add about 40 ms of wall time per GPU to each sample, though little CPU.
        rx = read(("pcie_rx_bytes_s",), lambda: nvml.nvmlDeviceGetPcieThroughput(handle, 1))
        tx = read(("pcie_tx_bytes_s",), lambda: nvml.nvmlDeviceGetPcieThroughput(handle, 0))
        # NOTE: the NVML reference gives the unit as KB/s without saying whether K is 1000 or 1024.
        # rigtui assumes 1024.
        values["pcie_rx_bytes_s"] = None if rx is None else rx * 1024.0
        values["pcie_tx_bytes_s"] = None if tx is None else tx * 1024.0
        values["throttle_reasons"] = read(("throttle_reasons",), lambda: self._clock_event_reasons(handle))
        values["ecc_uncorrected"] = read(
            ("ecc_uncorrected",), lambda: nvml.nvmlDeviceGetTotalEccErrors(handle, 1, 0)
        )  # NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC
        return values

    def _memory_temperature(self, handle: Any) -> float:
        nvml = self._nvml
        value = nvml.nvmlDeviceGetFieldValues(handle, [_MEMORY_TEMP_FIELD])[0]
        if value.nvmlReturn != 0:
            raise nvml.NVMLError(value.nvmlReturn)
        union = value.value
        readers = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}
        reading = float(getattr(union, readers.get(int(value.valueType), "uiVal")))
        if reading <= 0:
            # Some boards return success with 0 for a sensor they lack.
            raise nvml.NVMLError(_NOT_SUPPORTED)
        return reading

    def _clock_event_reasons(self, handle: Any) -> int:
        nvml = self._nvml
        function = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
        if function is None:  # nvidia-ml-py before 12.535 only has the older name
            function = nvml.nvmlDeviceGetCurrentClocksThrottleReasons
        return int(function(handle))
