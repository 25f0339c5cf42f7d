"""Memory actually in use on each GPU, and by which processes, from a telemetry source."""

from __future__ import annotations

from dataclasses import dataclass

from rigtui.errors import RigtuiError
from rigtui.hardware.source import GpuProcess, TelemetrySource


@dataclass(frozen=True)
class GpuMemoryUse:
    """One GPU's memory in use now, with the processes that held memory when the source started."""

    index: int
    name: str
    used_bytes: int | None
    """``memory.used`` from the latest sample, bytes; None when the GPU does not report it."""
    total_bytes: int | None
    processes: tuple[GpuProcess, ...] = ()
    """Per-process memory as NVML listed it when the source started.

    Note: sources read the process list once, at start, so a server launched later is
    missing here although ``used_bytes`` counts its memory.
    """


def memory_use(source: TelemetrySource) -> tuple[tuple[GpuMemoryUse, ...], str | None]:
    """Read every GPU's memory use; returns the figures, or () and one line saying why not."""
    try:
        info = source.info()
        sample = source.sample()
    except RigtuiError as exc:
        return (), exc.message
    result = []
    for gpu in info.gpus:
        reading = sample.gpu(gpu.index)
        used = reading.mem_used_bytes if reading is not None and not reading.lost else None
        total = (reading.mem_total_bytes if reading is not None else None) or gpu.mem_total_bytes or None
        result.append(GpuMemoryUse(gpu.index, gpu.name, used, total, gpu.processes))
    return tuple(result), None
