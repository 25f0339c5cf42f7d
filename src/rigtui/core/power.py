"""Board power, transient peaks, PSU sizing and card placement for heat.

Sizing follows the ATX 3.x practice of sizing for sustained load with a margin, then checking
that the summed millisecond peaks stay within what the PSU standard lets a unit ride out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from rigtui.core.rig import Rig

PsuStandard = Literal["atx3", "atx2"]
PsuStatus = Literal["ok", "below recommended", "too small", "unknown"]

# Transient multiplier for cards with no measured peak: Igor's Lab measured 901.1 W for under
# 1 ms on an RTX 5090 Founders Edition rated 575 W (reported by SlashGear), about 1.57x.
REFERENCE_PEAK_W = 901.1
REFERENCE_BOARD_W = 575.0
TRANSIENT_MULTIPLIER = REFERENCE_PEAK_W / REFERENCE_BOARD_W

# Sustained-load margin: 1.25x for ATX 3.x units, 1.6x (middle of the usual 1.5-1.7x) for
# ATX 2.x units, whose over-current protection trips on GPU transients.
SUSTAINED_MARGIN: dict[PsuStandard, float] = {"atx3": 1.25, "atx2": 1.6}
# ATX 3.x units must carry 200% of their rating for short excursions (about 100 us); an ATX
# 2.x unit is given no excursion allowance here.
EXCURSION_ALLOWANCE: dict[PsuStandard, float] = {"atx3": 2.0, "atx2": 1.0}
# Common retail PSU ratings, W; above the last one a rig needs two units.
PSU_SIZES_W = (450, 550, 650, 750, 850, 1000, 1200, 1300, 1500, 1600, 2000, 2400)


@dataclass(frozen=True)
class GpuPower:
    """Power figures of one card."""

    index: int
    name: str
    board_w: int
    transient_w: float
    transient_measured: bool
    """True when the catalog has a measured peak; False when the multiplier estimated it."""


@dataclass(frozen=True)
class PowerReport:
    """Power draw of a rig and how its PSU copes."""

    gpus: tuple[GpuPower, ...]
    gpu_board_w: int
    system_w: int
    """CPU, board, drives and fans under load."""
    sustained_w: int
    transient_w: float
    """Sum of every card's short peak plus the system load: the worst case if peaks coincide."""
    psu_standard: PsuStandard
    recommended_psu_w: int
    """Smallest common PSU rating that meets both the sustained margin and the peak check."""
    psu_w: int | None
    status: PsuStatus
    headroom_w: int | None
    """PSU rating minus sustained load; None when the PSU is unknown."""
    messages: tuple[str, ...]

    @property
    def psu_upgrade_needed(self) -> bool:
        return self.status in ("below recommended", "too small")


def gpu_transient_w(board_w: int, measured_peak_w: int | None) -> tuple[float, bool]:
    """Return a card's short peak, W, and whether it was measured rather than estimated."""
    if measured_peak_w:
        return float(measured_peak_w), True
    return board_w * TRANSIENT_MULTIPLIER, False


def round_up_psu(watts: float) -> int:
    """Return the smallest common PSU rating at or above ``watts`` (in 100 W steps above 2400 W)."""
    for size in PSU_SIZES_W:
        if size >= watts:
            return size
    return int(math.ceil(watts / 100.0) * 100)


def rig_power(rig: Rig, psu_standard: PsuStandard = "atx3") -> PowerReport:
    """Compute board power, worst-case peaks and the PSU a rig needs."""
    gpus = []
    for index, gpu in enumerate(rig.gpus):
        transient, measured = gpu_transient_w(gpu.spec.tdp_w, gpu.spec.transient_peak_w)
        gpus.append(GpuPower(index, gpu.name, gpu.spec.tdp_w, transient, measured))
    board = sum(g.board_w for g in gpus)
    sustained = board + rig.cpu_power_w
    transient = sum(g.transient_w for g in gpus) + rig.cpu_power_w
    by_margin = sustained * SUSTAINED_MARGIN[psu_standard]
    by_peaks = transient / EXCURSION_ALLOWANCE[psu_standard]
    recommended = round_up_psu(max(by_margin, by_peaks))

    messages = [
        f"Sustained load {sustained} W: {board} W of GPU board power plus {rig.cpu_power_w} W for CPU and system.",
        f"If every card peaks at once the draw reaches {transient:.0f} W for a few milliseconds"
        + ("" if all(g.transient_measured for g in gpus) else f" (peaks without a measurement: {TRANSIENT_MULTIPLIER:.2f} x board power)")
        + ".",
    ]
    standard_name = "ATX 3.x" if psu_standard == "atx3" else "ATX 2.x"
    why = "sustained margin" if by_margin >= by_peaks else "peak check"
    messages.append(
        f"Recommended {standard_name} PSU: {recommended} W (set by the {why}: "
        f"{SUSTAINED_MARGIN[psu_standard]:.2f} x {sustained} W = {by_margin:.0f} W, "
        f"peaks {transient:.0f} W / {EXCURSION_ALLOWANCE[psu_standard]:.1f} = {by_peaks:.0f} W)."
    )

    status: PsuStatus = "unknown"
    headroom = None
    if rig.psu_w is not None:
        headroom = rig.psu_w - sustained
        if rig.psu_w < sustained:
            status = "too small"
            messages.append(f"The {rig.psu_w} W PSU is below the sustained load by {-headroom} W: replace it.")
        elif rig.psu_w < recommended:
            status = "below recommended"
            messages.append(
                f"The {rig.psu_w} W PSU leaves {headroom} W over the sustained load, under the {recommended} W "
                "recommended, so coinciding peaks may trip its over-current protection; "
                "a power limit (nvidia-smi -pl) lowers both."
            )
        else:
            status = "ok"
            messages.append(f"The {rig.psu_w} W PSU leaves {headroom} W over the sustained load.")
    return PowerReport(
        gpus=tuple(gpus),
        gpu_board_w=board,
        system_w=rig.cpu_power_w,
        sustained_w=sustained,
        transient_w=transient,
        psu_standard=psu_standard,
        recommended_psu_w=recommended,
        psu_w=rig.psu_w,
        status=status,
        headroom_w=headroom,
        messages=tuple(messages),
    )


def thermal_advice(rig: Rig, slot_pitch: int | None = None) -> tuple[str, ...]:
    """Return placement advice for cards of different power and thickness.

    Args:
        rig: The rig; GPUs are in slot order, top slot first.
        slot_pitch: Expansion-slot positions from one x16 slot to the next on the board,
            when known (often 2, 3 or 4 on consumer boards).

    Note:
        The guidance is a rule of thumb, not a measurement: a lower card preheats the air the
        card above draws in, and a card needs about one free slot position in front of its
        fans to breathe.
    """
    if len(rig.gpus) < 2:
        return ()
    advice = []
    powers = [(g.spec.tdp_w, i) for i, g in enumerate(rig.gpus)]
    hottest_w, hottest = max(powers)
    coolest_w, coolest = min(powers)
    if hottest_w > coolest_w:
        advice.append(
            f"{rig.gpus[hottest].name} draws {hottest_w} W against {coolest_w} W for {rig.gpus[coolest].name}: "
            f"put it in the top slot, so the card below heats its intake with {coolest_w} W "
            f"instead of the top card receiving {hottest_w} W of exhaust."
        )
    widths = [g.spec.slot_width for g in rig.gpus]
    for i in range(len(rig.gpus) - 1):
        width = widths[i]
        if width is None:
            continue
        need = math.ceil(width) + 1
        if slot_pitch is None:
            advice.append(
                f"{rig.gpus[i].name} is {width:g} slots thick: the next x16 slot should be {need} or more slot "
                "positions lower to leave one free slot of air in front of the card below."
            )
        elif slot_pitch < math.ceil(width):
            advice.append(
                f"{rig.gpus[i].name} is {width:g} slots thick but the x16 slots are {slot_pitch} positions apart: "
                f"it covers the next slot, so the card below needs a riser or another slot."
            )
        elif slot_pitch < need:
            gap = slot_pitch - width
            air = "no free slot" if gap <= 0 else f"{gap:g} slot"
            advice.append(
                f"{rig.gpus[i].name} ({width:g} slots) leaves {air} of air in front of GPU {i + 1} with x16 slots "
                f"{slot_pitch} positions apart; GPU {i + 1} will draw heated air and throttle first."
            )
    return tuple(advice)
