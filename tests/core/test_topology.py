"""Link costs and link problems of the topology view."""

from __future__ import annotations

from rigtui.core.catalog import Catalog
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.topology import topology


def _workload(catalog: Catalog, model: str) -> Workload:
    return Workload(
        model=catalog.model(model),
        quant=catalog.quant("Q4_K_M"),
        runtime=catalog.runtime("llama-cpp"),
        ggml_types=catalog.ggml_types,
    )


def _rig(catalog: Catalog, *cards: tuple[str, int, int], chipset: int | None = None, nvlink: bool = False) -> Rig:
    gpus = tuple(
        RigGpu(spec=catalog.gpu(name), pcie_gen=gen, pcie_lanes=lanes, via_chipset=(i == chipset))
        for i, (name, gen, lanes) in enumerate(cards)
    )
    pairs = frozenset({(0, 1)}) if nvlink else frozenset()
    return Rig(gpus=gpus, os=catalog.os("ubuntu-24.04"), nvlink_pairs=pairs)


def _codes(found) -> set[str]:
    return {p.code for p in found.problems}


def test_full_width_rig_has_no_problems(catalog: Catalog) -> None:
    rig = _rig(catalog, ("rtx-3090", 4, 16), ("rtx-3090", 4, 16))
    found = topology(rig, _workload(catalog, "llama-3.1-8b"))
    assert found.problems == ()
    assert [(s.index, s.pcie_lanes) for s in found.slots] == [(0, 16), (1, 16)]


def test_chipset_x4_and_mixed_generations_flagged(catalog: Catalog) -> None:
    rig = _rig(catalog, ("rtx-4090", 4, 16), ("rtx-3090", 3, 4), chipset=1)
    found = topology(rig, catalog.model("llama-3.1-8b"), "llama.cpp", 512)
    assert found.links == ()
    assert {"chipset-slot", "narrow-link", "mixed-generations", "link-below-card"} <= _codes(found)
    assert all(p.gpu == 1 for p in found.problems if p.gpu is not None)


def test_layer_split_moves_one_activation_per_token(catalog: Catalog) -> None:
    workload = _workload(catalog, "llama-3.1-8b")
    rig = _rig(catalog, ("rtx-3090", 4, 16), ("rtx-3090", 4, 16))
    link = topology(rig, workload).links[0]
    # One F32 hidden-state vector per decoded token crosses the boundary.
    assert link.layer_split_token_bytes == workload.model.hidden_size * 4
    assert 0 < link.layer_split_token_us < link.allreduce_token_us


def test_nvlink_is_cheaper_than_pcie(catalog: Catalog) -> None:
    workload = _workload(catalog, "llama-3.3-70b")
    pcie = topology(_rig(catalog, ("rtx-3090", 4, 8), ("rtx-3090", 4, 8)), workload)
    bridged = topology(_rig(catalog, ("rtx-3090", 4, 8), ("rtx-3090", 4, 8), nvlink=True), workload)
    assert bridged.links[0].nvlink
    assert not pcie.links[0].nvlink
    assert bridged.links[0].layer_split_token_us < pcie.links[0].layer_split_token_us
    assert bridged.links[0].allreduce_token_us < pcie.links[0].allreduce_token_us
    assert bridged.slots[0].nvlink_to == (1,)


def test_narrower_slots_cost_more_allreduce(catalog: Catalog) -> None:
    workload = _workload(catalog, "llama-3.3-70b")
    wide = topology(_rig(catalog, ("rtx-3090", 4, 16), ("rtx-3090", 4, 16)), workload)
    narrow = topology(_rig(catalog, ("rtx-3090", 4, 4), ("rtx-3090", 4, 4)), workload)
    assert narrow.tensor_parallel_token_us > wide.tensor_parallel_token_us


def test_single_card_has_no_links(catalog: Catalog) -> None:
    rig = _rig(catalog, ("rtx-4090", 4, 16))
    found = topology(rig, _workload(catalog, "llama-3.1-8b"))
    assert found.links == ()
    assert found.tensor_parallel_token_us is None


def test_tensor_parallel_scales_with_layers(catalog: Catalog) -> None:
    rig = _rig(catalog, ("rtx-3090", 4, 16), ("rtx-3090", 4, 16))
    small = topology(rig, _workload(catalog, "llama-3.1-8b"))
    large = topology(rig, _workload(catalog, "llama-3.3-70b"))
    assert large.tensor_parallel_token_us > small.tensor_parallel_token_us
