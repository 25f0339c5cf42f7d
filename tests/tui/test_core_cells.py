"""CoreService.cells: the fit matrix's bulk path gives what CoreService.cell gives, cell by cell."""

from __future__ import annotations

from pathlib import Path

from rigtui.core.catalog import Catalog
from rigtui.tui.app import default_settings
from rigtui.tui.compute import CoreService, Failed
from rigtui.tui.edits import example_rig
from rigtui.tui.state import ExplorerState


def _workloads(catalog: Catalog, runtime: str | None = None) -> list:
    state = ExplorerState(rig=example_rig(catalog), settings=default_settings(catalog, runtime))
    quants = [q.id for q in catalog.quants.values() if q.format in catalog.runtimes[state.settings.runtime].quant_formats]
    return [state.workload(catalog, model=m, quant=q, context=c)
            for m in catalog.models for q in quants[:4] for c in (4096, 65536)]


def test_cells_equal_cell_by_cell(catalog: Catalog, tmp_path: Path) -> None:
    rig = example_rig(catalog)
    workloads = _workloads(catalog)
    bulk = CoreService(catalog, measurements_file=tmp_path / "none.jsonl").cells(rig, workloads)
    one_by_one = CoreService(catalog, measurements_file=tmp_path / "none.jsonl")
    expected = [one_by_one.cell(rig, w) for w in workloads]
    assert len(bulk) == len(expected)
    for workload, got, want in zip(workloads, bulk, expected):
        assert type(got) is type(want), workload.model.id
        if isinstance(want, Failed):
            assert got.message == want.message
            continue
        assert (got.fits, got.offload) == (want.fits, want.offload), (workload.model.id, workload.quant.id, workload.context)
        assert (got.decode is None) == (want.decode is None)
        if want.decode is not None:
            assert abs(got.decode - want.decode) <= 1e-6 * want.decode


def test_cells_are_cached_after_one_batch(catalog: Catalog, tmp_path: Path) -> None:
    rig = example_rig(catalog)
    workloads = _workloads(catalog)
    core = CoreService(catalog, measurements_file=tmp_path / "none.jsonl")
    first = core.cells(rig, workloads)
    calls = core.calls
    assert core.cells(rig, workloads) == first
    assert core.calls == calls
    assert core.peek_cell(rig, workloads[0]) == first[0]


def test_runtime_without_bulk_path_still_fills(catalog: Catalog, tmp_path: Path) -> None:
    rig = example_rig(catalog)
    runtime = next((r for r in ("vllm", "ollama") if r in catalog.runtimes), None)
    workloads = _workloads(catalog, runtime)[:6]
    core = CoreService(catalog, measurements_file=tmp_path / "none.jsonl")
    assert core.cells(rig, workloads) == [core.cell(rig, w) for w in workloads]
