"""Detection: catalog matching, slot facts, memory already in use, and NVLink pairs."""

from __future__ import annotations

import pytest

from rigtui.core.catalog import Catalog
from rigtui.core.specs import GpuSpec, OsSpec
from rigtui.hardware import detect_rig
from rigtui.hardware.fake import SCENARIOS, FakeSource
from rigtui.hardware.source import GpuInfo, GpuPair, GpuProcess, RigInfo

MIB = 1 << 20


def gpu_spec(id: str, name: str, device_ids: list[str], lanes: int = 16) -> GpuSpec:
    return GpuSpec(
        id=id, name=name, vendor="nvidia", segment="consumer", architecture="Ampere", memory_mib=24_576,
        bandwidth_gbs=936.2, pcie_gen=4, pcie_lanes=lanes, tdp_w=350, pci_device_ids=device_ids,
        source="test",
    )


@pytest.fixture
def catalog() -> Catalog:
    gpus = {
        "rtx-4090": gpu_spec("rtx-4090", "GeForce RTX 4090", ["0x2684"]),
        "rtx-3090": gpu_spec("rtx-3090", "GeForce RTX 3090", ["0x2204"]),
        "rtx-3060-12gb": gpu_spec("rtx-3060-12gb", "GeForce RTX 3060 12GB", ["0x2504"]),
        "gtx-1080-ti": gpu_spec("gtx-1080-ti", "GeForce GTX 1080 Ti", ["0x1b06"]),
        # Known only by name: no PCI id in the entry.
        "rtx-a5000": gpu_spec("rtx-a5000", "RTX A5000", []),
    }
    return Catalog(gpus=gpus, models={}, quants={}, ggml_types={}, runtimes={}, oses={}, prices=[])


@pytest.fixture
def linux() -> OsSpec:
    return OsSpec(id="linux", name="Linux", reserve_per_gpu_mib=100, desktop_reserve_mib=400, runtimes=[], source="test")


def card(index: int, name: str, device_id: str, **fields: object) -> GpuInfo:
    return GpuInfo(index=index, name=name, uuid=f"GPU-{index}", pci_bus_id=f"00000000:0{index + 1}:00.0",
                   pci_device_id=device_id, mem_total_bytes=24_576 * MIB, **fields)  # type: ignore[arg-type]


def test_match_by_pci_id_before_name(catalog: Catalog, linux: OsSpec) -> None:
    # The name says 3090 but the device id is a 4090's: the id wins.
    info = RigInfo(gpus=(card(0, "NVIDIA GeForce RTX 3090", "0x2684", pcie_gen_max=4, pcie_width_max=16),))
    detected = detect_rig(info, catalog, linux)
    assert detected.rig is not None
    assert detected.rig.gpus[0].spec.id == "rtx-4090"
    assert detected.matched[0].matched_by == "pci-id"


def test_match_by_name_when_id_unknown(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "NVIDIA RTX A5000", "0x2231", pcie_gen_max=4, pcie_width_max=16),))
    detected = detect_rig(info, catalog, linux)
    assert detected.matched[0].spec.id == "rtx-a5000"
    assert detected.matched[0].matched_by == "name"


def test_unmatched_card_prompts_with_nvml_figures(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(
        card(0, "NVIDIA GeForce RTX 4090", "0x2684", pcie_gen_max=4, pcie_width_max=16),
        card(1, "NVIDIA Graphics Device", "0x2bfe", pcie_gen_max=5, pcie_width_max=16),
    ))
    detected = detect_rig(info, catalog, linux)

    assert detected.rig is not None and len(detected.rig.gpus) == 1
    assert [u.info.index for u in detected.unmatched] == [1]
    prompt = detected.unmatched[0].prompt
    assert "NVIDIA Graphics Device" in prompt
    assert "0x2bfe" in prompt
    assert "24.0 GiB" in prompt
    assert "pick a catalog entry" in prompt
    assert prompt in detected.notices


def test_no_match_at_all_gives_no_rig(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "NVIDIA Graphics Device", "0x2bfe"),))
    assert detect_rig(info, catalog, linux).rig is None


def test_slot_uses_max_link_not_idle_link(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "RTX 4090", "0x2684", pcie_gen_current=1, pcie_gen_max=4,
                              pcie_width_current=8, pcie_width_max=8),))
    gpu = detect_rig(info, catalog, linux).rig.gpus[0]  # type: ignore[union-attr]
    assert (gpu.pcie_gen, gpu.pcie_lanes, gpu.via_chipset) == (4, 8, False)


def test_x4_slot_guessed_as_chipset_with_notice(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(
        gpus=(card(0, "RTX 4090", "0x2684", pcie_gen_max=4, pcie_width_max=16),
              card(1, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=4)),
        pairs=(GpuPair(0, 1, "host-bridge"),),
    )
    detected = detect_rig(info, catalog, linux)
    assert [g.via_chipset for g in detected.rig.gpus] == [False, True]  # type: ignore[union-attr]
    assert detected.relations == {(0, 1): "through the chipset"}
    assert any("assumes a chipset slot" in n for n in detected.notices)


def test_backend_chipset_fact_wins_over_guess(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=4, via_chipset=False),))
    detected = detect_rig(info, catalog, linux)
    assert detected.rig.gpus[0].via_chipset is False  # type: ignore[union-attr]
    assert not any("chipset" in n for n in detected.notices)


def test_missing_link_falls_back_to_card_spec(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204"),))
    detected = detect_rig(info, catalog, linux)
    gpu = detected.rig.gpus[0]  # type: ignore[union-attr]
    assert (gpu.pcie_gen, gpu.pcie_lanes) == (4, 16)
    assert any("did not report the PCIe link" in n for n in detected.notices)


def test_other_processes_count_as_used(catalog: Catalog, linux: OsSpec) -> None:
    processes = (GpuProcess(1, "compute", 6_000 * MIB), GpuProcess(2, "compute", 1_000 * MIB))
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16, processes=processes),))
    gpu = detect_rig(info, catalog, linux).rig.gpus[0]  # type: ignore[union-attr]
    assert gpu.used_bytes == 7_000 * MIB
    assert gpu.desktop is False


def test_desktop_memory_beyond_reserve_counts(catalog: Catalog, linux: OsSpec) -> None:
    processes = (GpuProcess(1, "graphics", 1_536 * MIB, "Xorg"),)
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16,
                              display_active=True, processes=processes),))
    gpu = detect_rig(info, catalog, linux).rig.gpus[0]  # type: ignore[union-attr]
    assert gpu.desktop is True
    # The OS spec's 400 MiB desktop reserve covers part of it; the rest is used memory.
    assert gpu.used_bytes == (1_536 - 400) * MIB


def test_hidden_process_memory_falls_back_to_used(catalog: Catalog, linux: OsSpec) -> None:
    processes = (GpuProcess(1, "compute", None),)
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16,
                              mem_used_bytes=5_100 * MIB, processes=processes),))
    detected = detect_rig(info, catalog, linux)
    assert detected.rig.gpus[0].used_bytes == 5_000 * MIB  # type: ignore[union-attr]
    assert any("hides per-process memory" in n for n in detected.notices)


def test_nvlink_pairs_reindexed_around_unmatched(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(
        gpus=(card(0, "NVIDIA Graphics Device", "0x2bfe"),
              card(1, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16),
              card(2, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16)),
        pairs=(GpuPair(0, 1, "cpu"), GpuPair(0, 2, "cpu"), GpuPair(1, 2, "switch", nvlink_links=4)),
    )
    detected = detect_rig(info, catalog, linux)
    assert detected.rig.nvlink_pairs == frozenset({(0, 1)})  # type: ignore[union-attr]
    assert detected.relations[(1, 2)] == "same PCIe switch"
    assert [m.rig_index for m in detected.matched] == [0, 1]


def test_uuid_carried_to_rig(catalog: Catalog, linux: OsSpec) -> None:
    info = RigInfo(gpus=(card(0, "RTX 3090", "0x2204", pcie_gen_max=4, pcie_width_max=16),))
    assert detect_rig(info, catalog, linux).rig.gpus[0].uuid == "GPU-0"  # type: ignore[union-attr]


def test_no_gpus_gives_notice(catalog: Catalog, linux: OsSpec) -> None:
    detected = detect_rig(RigInfo(gpus=()), catalog, linux)
    assert detected.rig is None
    assert any("No GPU was detected" in n for n in detected.notices)


@pytest.mark.parametrize("name", [n for n, s in SCENARIOS.items() if s.failure is None])
def test_demo_cards_match_bundled_catalog(name: str) -> None:
    from rigtui.catalog import load_catalog

    bundled = load_catalog()
    os_spec = next(iter(bundled.oses.values()))
    detected = detect_rig(FakeSource(name).info(), bundled, os_spec)
    expected_unmatched = [g.index for g in FakeSource(name).info().gpus if g.name == "NVIDIA Graphics Device"]
    assert [u.info.index for u in detected.unmatched] == expected_unmatched
    assert all(m.matched_by == "pci-id" for m in detected.matched)


def test_mixed_demo_seeds_expected_rig(catalog: Catalog, linux: OsSpec) -> None:
    detected = detect_rig(FakeSource("mixed-4090-3090").info(), catalog, linux)
    rig = detected.rig
    assert rig is not None
    assert [(g.spec.id, g.pcie_gen, g.pcie_lanes, g.via_chipset) for g in rig.gpus] == [
        ("rtx-4090", 4, 8, False),
        ("rtx-3090", 4, 4, True),
    ]
