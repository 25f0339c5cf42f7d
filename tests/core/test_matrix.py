"""The bulk fit-matrix evaluator against ``fit``, cell by cell, over the whole bundled catalog."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigtui.core import fit, matrix, memory
from rigtui.core.catalog import Catalog
from rigtui.core.rig import Rig, RigGpu, Workload
from tests.core.conftest import make_rig, make_workload

# The fit matrix's quantization columns for llama.cpp.
LADDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_XXS", "Q2_K", "IQ2_XXS")


def example_rig(catalog: Catalog) -> Rig:
    """RTX 4090 (desktop) + RTX 3090 on PCIe 4.0 x8/x8, as the explorer starts without a GPU."""
    gpus = tuple(RigGpu(spec=catalog.gpu(name), pcie_gen=4, pcie_lanes=8) for name in ("rtx-4090", "rtx-3090"))
    return Rig(gpus=(replace(gpus[0], desktop=True), gpus[1]), os=catalog.os("ubuntu-24.04"), psu_w=1200)


def _rigs(catalog: Catalog) -> dict[str, Rig]:
    nvlinked = replace(make_rig(catalog, "rtx-3090", "rtx-3090", "rtx-3090"), nvlink_pairs=frozenset({(0, 1)}))
    return {
        "example": example_rig(catalog),
        "one 4090": make_rig(catalog, "rtx-4090"),
        "slow card first": make_rig(catalog, "rtx-3060-12gb", "rtx-4090", cpu_ram_gib=32),
        "three 3090, two bridged": nvlinked,
        "three mixed, memory in use": make_rig(catalog, "rtx-a6000", "rtx-4090", "rtx-4060-ti-16gb",
                                              cpu_ram_gib=128, used_gib={1: 3.5}),
        "4090 and two 3090": make_rig(catalog, "rtx-4090", "rtx-3090", "rtx-3090"),
        "4090 and three 3090": make_rig(catalog, "rtx-4090", "rtx-3090", "rtx-3090", "rtx-3090", used_gib={2: 6.0}),
        "five mixed with a 16 GB card": make_rig(catalog, "rtx-4090", "rtx-4060-ti-16gb", "rtx-3090", "rtx-3060-12gb",
                                                 "rtx-3090", cpu_ram_gib=32, used_gib={0: 2.0}),
        "4090 and five 3090": make_rig(catalog, "rtx-4090", "rtx-3090", "rtx-3090", "rtx-3090", "rtx-3090", "rtx-3090",
                                       cpu_ram_gib=256),
    }


def _same(got: matrix.MatrixCell | Exception, want: matrix.MatrixCell | Exception) -> bool:
    if isinstance(want, Exception) or isinstance(got, Exception):
        return type(got) is type(want) and str(got) == str(want)
    if (got.fits, got.offload) != (want.fits, want.offload):
        return False
    if got.decode is None or want.decode is None:
        return got.decode is None and want.decode is None
    return abs(got.decode - want.decode) <= 1e-6 * abs(want.decode)


def _check(rig: Rig, workloads: list[Workload]) -> None:
    got = matrix.evaluate(rig, workloads)
    wrong = []
    for workload, cell in zip(workloads, got):
        want = matrix._fit_cell(rig, workload)
        if not _same(cell, want):
            wrong.append(f"{workload.model.id} {workload.quant.id} {workload.context}: {cell} != {want}")
    assert not wrong, f"{len(wrong)} of {len(workloads)} cells differ from fit:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize("rig_name", ["example", "one 4090", "slow card first", "three 3090, two bridged", "three mixed, memory in use",
                                      "4090 and two 3090", "4090 and three 3090", "five mixed with a 16 GB card",
                                      "4090 and five 3090"])
def test_every_catalog_cell_agrees_with_fit(catalog: Catalog, rig_name: str) -> None:
    rig = _rigs(catalog)[rig_name]
    workloads = [make_workload(catalog, model.id, quant, "llama-cpp") for model in catalog.models.values() for quant in LADDER]
    assert all(matrix.fast_path_covers(rig, w) for w in workloads)
    _check(rig, workloads)


def test_context_columns_agree_with_fit(catalog: Catalog) -> None:
    rig = example_rig(catalog)
    workloads = [
        make_workload(catalog, model.id, "Q4_K_M", "llama-cpp", context=context)
        for model in catalog.models.values()
        for context in (4096, 32768, 131072)
    ]
    _check(rig, workloads)


@pytest.mark.parametrize(
    "changes",
    [
        {"kv_cache": "q8_0", "flash_attn": False},
        {"kv_cache": "q4_0", "depth": 4096},
        {"split": "row"},
        {"split": "layer", "context": 32768},
        {"split": "single"},
    ],
    ids=["quantized-kv-no-flash", "deep-context", "row", "layer", "single"],
)
def test_other_settings_agree_with_fit(catalog: Catalog, changes: dict) -> None:
    rig = example_rig(catalog)
    models = list(catalog.models.values())[::3]
    workloads = [make_workload(catalog, model.id, quant, "llama-cpp", **changes) for model in models for quant in LADDER[::2]]
    _check(rig, workloads)


@pytest.mark.parametrize("runtime", ["ollama", "vllm"])
def test_other_runtimes_go_through_fit(catalog: Catalog, runtime: str) -> None:
    rig = example_rig(catalog)
    quants = [q.id for q in catalog.quants.values() if q.format in catalog.runtime(runtime).quant_formats][:2]
    workloads = [make_workload(catalog, model.id, quant, runtime) for model in list(catalog.models.values())[:12] for quant in quants]
    assert not any(matrix.fast_path_covers(rig, w) for w in workloads)
    _check(rig, workloads)


def test_rejected_cell_carries_fit_error(catalog: Catalog) -> None:
    rig = example_rig(catalog)
    workload = make_workload(catalog, "llama-3.1-8b", "Q4_K_M", "llama-cpp", split="tensor-parallel")
    (cell,) = matrix.evaluate(rig, [workload])
    with pytest.raises(ValueError) as raised:
        fit.fit(rig, workload)
    assert isinstance(cell, ValueError) and str(cell) == str(raised.value)


def test_cell_of_offload_needs_layers_in_ram(catalog: Catalog) -> None:
    rig = example_rig(catalog)
    small = fit.fit(rig, make_workload(catalog, "llama-3.1-8b", "Q4_K_M", "llama-cpp"), with_max_context=False)
    assert matrix.cell_of(small) == matrix.MatrixCell(True, False, small.decode.expected)
    big = fit.fit(rig, make_workload(catalog, "llama-3.1-70b", "Q8_0", "llama-cpp"), with_max_context=False)
    assert matrix.cell_of(big).fits
    assert matrix.cell_of(big).offload


def test_weights_are_sized_tensor_by_tensor(catalog: Catalog) -> None:
    """Sizing each kind of layer once gives the bytes of sizing every tensor."""
    for model in list(catalog.models.values())[::4]:
        for quant in catalog.quants.values():
            try:
                weights = memory._size_weights(model, quant, catalog.ggml_types, None)
            except (KeyError, ValueError):
                continue
            dense, experts, by_type = [0] * model.n_layers, [0] * model.n_layers, {}
            for tensor in memory.model_tensors(model):
                size, type_id = memory.tensor_bytes_and_type(tensor, model, quant, catalog.ggml_types)
                by_type[type_id] = by_type.get(type_id, 0) + size
                if tensor.layer is not None:
                    (experts if tensor.is_expert else dense)[tensor.layer] += size
            assert [layer.dense_bytes for layer in weights.layers] == dense, (model.id, quant.id)
            assert [layer.expert_bytes for layer in weights.layers] == experts, (model.id, quant.id)
            assert list(weights.tensor_types.items()) == list(by_type.items()), (model.id, quant.id)


def test_rig_without_room_falls_back_to_fit(catalog: Catalog) -> None:
    full = make_rig(catalog, "rtx-3090", "rtx-3090", used_gib={0: 24, 1: 24})
    workloads = [make_workload(catalog, "llama-3.1-8b", "Q4_K_M", "llama-cpp")]
    assert not matrix.fast_path_covers(full, workloads[0])
    _check(full, workloads)



GPU_CHOICES = ("rtx-4090", "rtx-3090", "rtx-3060-12gb", "rtx-4060-ti-16gb", "rtx-a6000", "tesla-p40", "rtx-5090")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cards=st.lists(st.tuples(st.sampled_from(GPU_CHOICES), st.floats(0, 20), st.booleans()), min_size=1, max_size=2),
    ram_gib=st.sampled_from([16, 32, 64, 256]),
    context=st.sampled_from([2048, 8192, 32768, 131072]),
    kv_cache=st.sampled_from(["f16", "q8_0"]),
    start=st.integers(0, 90),
)
def test_random_rigs_agree_with_fit(catalog: Catalog, cards: list, ram_gib: int, context: int, kv_cache: str, start: int) -> None:
    """Cards with memory in use push fit's repair through every kind of run of moves."""
    rig = make_rig(catalog, *(name for name, _, _ in cards), cpu_ram_gib=ram_gib,
                   used_gib={i: used for i, (_, used, _) in enumerate(cards)})
    rig = replace(rig, gpus=tuple(replace(g, desktop=desk) for g, (_, _, desk) in zip(rig.gpus, cards)))
    models = list(catalog.models.values())[start : start + 12]
    workloads = [make_workload(catalog, m.id, q, "llama-cpp", context=context, kv_cache=kv_cache)
                 for m in models for q in ("Q8_0", "Q4_K_M", "IQ2_XXS")]
    _check(rig, workloads)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cards=st.lists(st.tuples(st.sampled_from(GPU_CHOICES), st.floats(0, 20)), min_size=3, max_size=6),
    ram_gib=st.sampled_from([16, 64, 256]),
    context=st.sampled_from([8192, 131072]),
    start=st.integers(0, 95),
)
def test_random_larger_rigs_agree_with_fit(catalog: Catalog, cards: list, ram_gib: int, context: int, start: int) -> None:
    """Rigs of three to six cards take repair runs that pass over the cards in between."""
    rig = make_rig(catalog, *(name for name, _ in cards), cpu_ram_gib=ram_gib,
                   used_gib={i: used for i, (_, used) in enumerate(cards)})
    models = list(catalog.models.values())[start : start + 8]
    workloads = [make_workload(catalog, m.id, q, "llama-cpp", context=context) for m in models for q in ("Q8_0", "Q4_K_M")]
    _check(rig, workloads)
