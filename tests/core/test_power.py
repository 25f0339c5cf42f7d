"""PSU sizing, transient peaks and placement advice."""

from __future__ import annotations

import pytest

from rigtui.core.power import TRANSIENT_MULTIPLIER, rig_power, round_up_psu, thermal_advice
from rigtui.core.rig import Rig, RigGpu
from rigtui.core.specs import GpuSpec, OsSpec

LINUX = OsSpec(id="linux", name="Linux", reserve_per_gpu_mib=0, desktop_reserve_mib=0, runtimes=[], source="t")


def card(name: str, tdp: int, peak: int | None = None, width: float | None = None) -> GpuSpec:
    return GpuSpec(
        id=name.lower().replace(" ", "-"), name=name, vendor="nvidia", segment="consumer", architecture="x",
        memory_mib=24576, bandwidth_gbs=900.0, pcie_gen=4, pcie_lanes=16, tdp_w=tdp, transient_peak_w=peak,
        slot_width=width, source="t",
    )


def rig(*specs: GpuSpec, psu: int | None = None, cpu: int = 150) -> Rig:
    return Rig(gpus=tuple(RigGpu(s, 4, 16) for s in specs), os=LINUX, psu_w=psu, cpu_power_w=cpu)


def test_multiplier_comes_from_the_5090_measurement():
    assert TRANSIENT_MULTIPLIER == pytest.approx(901.1 / 575)


def test_sustained_and_peaks_for_mixed_pair():
    report = rig_power(rig(card("RTX 4090", 450), card("RTX 3090", 350)))
    assert report.gpu_board_w == 800
    assert report.sustained_w == 950
    assert report.transient_w == pytest.approx(800 * 901.1 / 575 + 150)


def test_measured_peak_replaces_multiplier():
    report = rig_power(rig(card("RTX 5090", 575, peak=901)))
    assert report.gpus[0].transient_w == 901
    assert report.gpus[0].transient_measured


def test_recommended_psu_atx3_uses_margin():
    # 1.25 x 950 W = 1187.5 W; peaks 1403.7 W / 2 = 702 W; next common size is 1200 W.
    report = rig_power(rig(card("RTX 4090", 450), card("RTX 3090", 350)))
    assert report.recommended_psu_w == 1200


def test_recommended_psu_atx2_covers_peaks():
    # ATX 2.x: max(1.6 x 950 = 1520 W, peaks 1403.7 W) -> 1600 W.
    report = rig_power(rig(card("RTX 4090", 450), card("RTX 3090", 350)), psu_standard="atx2")
    assert report.recommended_psu_w == 1600


@pytest.mark.parametrize(
    ("psu", "status", "upgrade"),
    [(None, "unknown", False), (900, "too small", True), (1000, "below recommended", True), (1300, "ok", False)],
)
def test_psu_status(psu, status, upgrade):
    report = rig_power(rig(card("RTX 4090", 450), card("RTX 3090", 350), psu=psu))
    assert report.status == status
    assert report.psu_upgrade_needed is upgrade


def test_headroom_is_psu_minus_sustained():
    assert rig_power(rig(card("RTX 3090", 350), psu=850)).headroom_w == 850 - 500


def test_round_up_psu_beyond_table():
    assert round_up_psu(700) == 750
    assert round_up_psu(2401) == 2500


def test_thermal_advice_puts_hotter_card_on_top():
    advice = thermal_advice(rig(card("RTX 3090", 350), card("RTX 4090", 450)))
    assert any("RTX 4090 draws 450 W" in line and "top slot" in line for line in advice)


def test_thermal_advice_slot_spacing():
    advice = thermal_advice(rig(card("RTX 4090", 450, width=3.5), card("RTX 3090", 350, width=3)), slot_pitch=3)
    assert any("covers the next slot" in line for line in advice)
    spaced = thermal_advice(rig(card("RTX 3090", 350, width=2), card("RTX 3090", 350, width=2)), slot_pitch=2)
    assert any("no free slot of air" in line for line in spaced)


def test_single_card_has_no_placement_advice():
    assert thermal_advice(rig(card("RTX 4090", 450))) == ()
