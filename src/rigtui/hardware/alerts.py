"""Alerts drawn from one telemetry sample: heat, throttling, power cap, slow links, full memory, lost GPUs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rigtui.hardware.source import GpuSample, RigSample, decode_throttle_reasons

# NOTE: these thresholds are rigtui's defaults for drawing attention, not vendor limits.
# Whether the GPU itself slows down is read from the throttle reason bits instead.
HOT_GPU_C = 85.0
HOT_MEMORY_C = 100.0
POWER_CAP_FRACTION = 0.98
MEMORY_FULL_FRACTION = 0.95
BUSY_UTIL_PCT = 50.0
"""Utilisation above which a link below its maximum is worth an alert; idle links slow down by design."""

_POWER_CAP_BIT = 0x004
_IDLE_BIT = 0x001

AlertKind = Literal["lost", "temperature", "throttle", "power-cap", "pcie-link", "memory-full"]


@dataclass(frozen=True)
class Alert:
    """One condition worth the user's attention on one GPU."""

    gpu: int
    kind: AlertKind
    severity: Literal["warning", "error"]
    text: str


def gpu_alerts(reading: GpuSample) -> list[Alert]:
    """Return the alerts for one GPU reading, most severe first."""
    index = reading.index
    if reading.lost:
        return [Alert(index, "lost", "error", f"GPU {index} is lost: it stopped answering (fell off the bus?)")]
    alerts: list[Alert] = []
    if reading.temp_gpu_c is not None and reading.temp_gpu_c >= HOT_GPU_C:
        alerts.append(Alert(index, "temperature", "warning", f"GPU {index} core at {reading.temp_gpu_c:.0f} °C"))
    if reading.temp_mem_c is not None and reading.temp_mem_c >= HOT_MEMORY_C:
        alerts.append(Alert(index, "temperature", "warning", f"GPU {index} memory at {reading.temp_mem_c:.0f} °C"))

    mask = reading.throttle_reasons
    power_capped = (
        reading.power_w is not None
        and reading.power_limit_w is not None
        and reading.power_w >= reading.power_limit_w * POWER_CAP_FRACTION
    ) or bool(mask and mask & _POWER_CAP_BIT)
    if power_capped:
        draw = f"{reading.power_w:.0f} W" if reading.power_w is not None else "its"
        limit = f" of {reading.power_limit_w:.0f} W" if reading.power_limit_w is not None else ""
        alerts.append(Alert(index, "power-cap", "warning", f"GPU {index} at its power cap ({draw}{limit})"))
    if mask:
        # The power cap has its own alert; idle and display clocks are normal.
        others = decode_throttle_reasons(mask & ~(_POWER_CAP_BIT | _IDLE_BIT | 0x100 | 0x002 | 0x010))
        if others:
            alerts.append(Alert(index, "throttle", "warning", f"GPU {index} clocks held back: {', '.join(others)}"))

    busy = reading.util_gpu_pct is not None and reading.util_gpu_pct >= BUSY_UTIL_PCT
    if busy and _link_below_max(reading):
        alerts.append(Alert(
            index, "pcie-link", "warning",
            f"GPU {index} PCIe link at Gen{reading.pcie_gen} x{reading.pcie_width} under load; "
            f"the slot can do Gen{reading.pcie_gen_max} x{reading.pcie_width_max} (riser or seating?)",
        ))
    if reading.mem_used_bytes is not None and reading.mem_total_bytes:
        share = reading.mem_used_bytes / reading.mem_total_bytes
        if share >= MEMORY_FULL_FRACTION:
            alerts.append(Alert(index, "memory-full", "warning", f"GPU {index} memory {share:.0%} full"))
    return alerts


def _link_below_max(reading: GpuSample) -> bool:
    gen_short = reading.pcie_gen is not None and reading.pcie_gen_max is not None and reading.pcie_gen < reading.pcie_gen_max
    width_short = (
        reading.pcie_width is not None and reading.pcie_width_max is not None and reading.pcie_width < reading.pcie_width_max
    )
    return gen_short or width_short


def rig_alerts(sample: RigSample) -> list[Alert]:
    """Return the alerts of every GPU in a sample: errors first, then by GPU."""
    alerts = [alert for reading in sample.gpus for alert in gpu_alerts(reading)]
    return sorted(alerts, key=lambda a: (a.severity != "error", a.gpu))
