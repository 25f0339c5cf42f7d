"""Verdict facts: each one appears because a computed figure calls for it."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upgrade_fixtures import M70, M120, RTX_3090, RTX_4090, TARGET, rig, stand_in_fit  # noqa: E402

from rigtui.core.rig import RigGpu  # noqa: E402
from rigtui.core.verdict import rig_verdict, speed_tier  # noqa: E402


def single_split(result):
    return replace(result, split="single")


def test_speed_tiers_by_reading_speed():
    assert speed_tier(70).startswith("fast")
    assert speed_tier(25).startswith("comfortable")
    assert speed_tier(9).startswith("usable")
    assert speed_tier(4).startswith("slow")
    assert speed_tier(1).startswith("too slow")


def test_verdict_lists_largest_model_and_speed():
    r = rig(RTX_4090, RTX_3090)
    verdict = rig_verdict(r, TARGET, single_split(stand_in_fit(r, TARGET)), largest=M70)
    good = verdict.of_kind("good")
    assert any(f.code == "largest-model" and "M70" in f.message for f in good)
    assert any(f.code == "speed-tier" for f in verdict.facts)


def test_verdict_reports_target_not_fitting():
    r = rig(RTX_4090)
    big = replace(TARGET, model=M120)
    verdict = rig_verdict(r, big, single_split(stand_in_fit(r, big)))
    assert "target-does-not-fit" in verdict.codes


def test_verdict_psu_too_small():
    r = rig(RTX_4090, RTX_3090, psu=850)
    verdict = rig_verdict(r, TARGET, single_split(stand_in_fit(r, TARGET)))
    fact = next(f for f in verdict.facts if f.code == "psu-too-small")
    assert "950 W sustained" in fact.message
    assert fact.kind == "warning"


def test_verdict_chipset_slot_and_desktop_reserve():
    r = rig(RTX_4090, RTX_3090)
    slow = RigGpu(RTX_3090, 4, 4, via_chipset=True)
    desktop = RigGpu(RTX_4090, 4, 16, desktop=True)
    os_spec = r.os.model_copy(update={"desktop_reserve_mib": 600})
    r = replace(r, gpus=(desktop, slow), os=os_spec)
    verdict = rig_verdict(r, TARGET, single_split(stand_in_fit(r, TARGET)))
    assert "chipset-slot" in verdict.codes
    assert "narrow-link" in verdict.codes
    assert any(f.code == "desktop-reserve" and "600 MiB" in f.message for f in verdict.facts)


def test_verdict_thermal_placement_for_unequal_cards():
    r = rig(RTX_3090, RTX_4090)
    verdict = rig_verdict(r, TARGET, single_split(stand_in_fit(r, TARGET)))
    assert any(f.code == "thermal-placement" and "450 W" in f.message for f in verdict.facts)


def test_good_facts_come_first():
    r = rig(RTX_4090, RTX_3090, psu=850)
    verdict = rig_verdict(r, TARGET, single_split(stand_in_fit(r, TARGET)), largest=M70)
    order = {"good": 0, "bad": 1, "warning": 2, "info": 3}
    kinds = [order[f.kind] for f in verdict.facts]
    assert kinds == sorted(kinds)
