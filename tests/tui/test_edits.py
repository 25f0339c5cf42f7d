"""Rig edits: cards added, removed and duplicated keep NVLink bridges on the same physical cards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rigtui.core.catalog import Catalog
from rigtui.core.rig import Rig
from rigtui.tui import edits


def _three_3090(catalog: Catalog) -> Rig:
    rig = edits.example_rig(catalog)
    spec = catalog.gpus["rtx-3090"]
    rig = replace(rig, gpus=tuple(edits.new_gpu(spec) for _ in range(3)))
    return edits.toggle_nvlink(rig, 1)


def test_example_rig_matches_documented_machine(catalog: Catalog) -> None:
    rig = edits.example_rig(catalog)
    assert [g.spec.id for g in rig.gpus] == ["rtx-4090", "rtx-3090"]
    assert [(g.pcie_gen, g.pcie_lanes) for g in rig.gpus] == [(4, 8), (4, 8)]
    assert rig.os.id == "ubuntu-24.04"


def test_remove_shifts_nvlink_pair(catalog: Catalog) -> None:
    rig = edits.remove_gpu(_three_3090(catalog), 0)
    assert rig.nvlink_pairs == frozenset({(0, 1)})


def test_remove_bridged_card_drops_pair(catalog: Catalog) -> None:
    rig = edits.remove_gpu(_three_3090(catalog), 2)
    assert rig.nvlink_pairs == frozenset()
    assert len(rig.gpus) == 2


def test_duplicate_inserts_after_and_shifts_pair(catalog: Catalog) -> None:
    rig = edits.duplicate_gpu(_three_3090(catalog), 0)
    assert len(rig.gpus) == 4
    assert rig.nvlink_pairs == frozenset({(2, 3)})


def test_duplicate_drops_desktop_role(catalog: Catalog) -> None:
    rig = edits.duplicate_gpu(edits.example_rig(catalog), 0)
    assert rig.gpus[0].desktop
    assert not rig.gpus[1].desktop


def test_set_count_adds_and_removes_same_model(catalog: Catalog) -> None:
    rig = edits.set_count(edits.example_rig(catalog), 1, 3)
    assert [g.spec.id for g in rig.gpus] == ["rtx-4090", "rtx-3090", "rtx-3090", "rtx-3090"]
    rig = edits.set_count(rig, 1, 1)
    assert [g.spec.id for g in rig.gpus] == ["rtx-4090", "rtx-3090"]


def test_nvlink_needs_connectors_on_both_cards(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="no NVLink connector"):
        edits.toggle_nvlink(edits.example_rig(catalog), 0)


def test_nvlink_toggle_off_and_last_card(catalog: Catalog) -> None:
    rig = _three_3090(catalog)
    assert edits.toggle_nvlink(rig, 1).nvlink_pairs == frozenset()
    with pytest.raises(ValueError, match="last card"):
        edits.toggle_nvlink(rig, 2)


def test_cycle_wraps_and_respects_card_limit() -> None:
    assert edits.cycle(edits.PCIE_GENS, 3, limit=4) == 4
    assert edits.cycle(edits.PCIE_GENS, 4, limit=4) == 1
    assert edits.cycle(edits.PCIE_LANE_CHOICES, 16, limit=16) == 1


def test_add_gpu_takes_last_slot_link_within_card_limit(catalog: Catalog) -> None:
    rig = edits.example_rig(catalog)
    rig = edits.add_gpu(rig, catalog.gpus["tesla-p40"])
    assert (rig.gpus[-1].pcie_gen, rig.gpus[-1].pcie_lanes) == (3, 8)


def test_add_gpu_limit(catalog: Catalog) -> None:
    rig = edits.example_rig(catalog)
    for _ in range(edits.MAX_GPUS - 2):
        rig = edits.add_gpu(rig, catalog.gpus["rtx-3090"])
    with pytest.raises(ValueError):
        edits.add_gpu(rig, catalog.gpus["rtx-3090"])
