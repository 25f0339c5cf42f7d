"""Alerts from single readings: each condition fires alone, and idle states stay quiet."""

from __future__ import annotations

from rigtui.hardware.alerts import gpu_alerts, rig_alerts
from rigtui.hardware.source import GpuSample, RigSample, decode_throttle_reasons, is_throttled

GIB = 1 << 30


def healthy(**fields: object) -> GpuSample:
    base: dict[str, object] = dict(
        index=0, util_gpu_pct=90.0, mem_used_bytes=10 * GIB, mem_total_bytes=24 * GIB, temp_gpu_c=65.0,
        temp_mem_c=80.0, power_w=250.0, power_limit_w=350.0, pcie_gen=4, pcie_width=16, pcie_gen_max=4,
        pcie_width_max=16, throttle_reasons=0,
    )
    base.update(fields)
    return GpuSample(**base)  # type: ignore[arg-type]


def kinds(reading: GpuSample) -> list[str]:
    return [a.kind for a in gpu_alerts(reading)]


def test_healthy_reading_has_no_alerts() -> None:
    assert kinds(healthy()) == []


def test_each_condition_alone() -> None:
    assert kinds(healthy(temp_gpu_c=88.0)) == ["temperature"]
    assert kinds(healthy(temp_mem_c=104.0)) == ["temperature"]
    assert kinds(healthy(power_w=349.0)) == ["power-cap"]
    assert kinds(healthy(throttle_reasons=0x040)) == ["throttle"]
    assert kinds(healthy(pcie_gen=3)) == ["pcie-link"]
    assert kinds(healthy(pcie_width=8)) == ["pcie-link"]
    assert kinds(healthy(mem_used_bytes=int(23.5 * GIB))) == ["memory-full"]


def test_power_cap_bit_not_throttle() -> None:
    assert kinds(healthy(throttle_reasons=0x004)) == ["power-cap"]


def test_idle_link_below_max_is_normal() -> None:
    assert kinds(healthy(util_gpu_pct=3.0, pcie_gen=1, throttle_reasons=0x001)) == []


def test_unknown_figures_raise_nothing() -> None:
    reading = GpuSample(index=0)
    assert gpu_alerts(reading) == []


def test_lost_gpu_is_one_error() -> None:
    alerts = gpu_alerts(GpuSample(index=2, lost=True))
    assert [(a.kind, a.severity) for a in alerts] == [("lost", "error")]
    assert "GPU 2" in alerts[0].text


def test_errors_sorted_first() -> None:
    sample = RigSample(timestamp=0.0, gpus=(healthy(temp_gpu_c=90.0), GpuSample(index=1, lost=True)))
    assert [a.kind for a in rig_alerts(sample)] == ["lost", "temperature"]


def test_throttle_reasons_decoded() -> None:
    assert decode_throttle_reasons(0x004 | 0x040) == ["software power cap", "hardware thermal slowdown"]
    assert decode_throttle_reasons(None) == []
    assert decode_throttle_reasons(0x10000) == ["other (0x10000)"]
    assert is_throttled(0x020)
    assert not is_throttled(0x001)
