"""Time fit-matrix cells over the whole bundled catalog on the example rig.

Usage: python bench/core_rate.py [--contexts 4096,8192,...] [--fit-cells N] [--runs N] [--json]

A cell is one model at one quantization and context, placed with the split the fit matrix
uses (auto) and its per-device memory and decode speed worked out, as ``rigtui.core.fit``
does. The rig is the explorer's example: RTX 4090 + RTX 3090 on PCIe 4.0 x8/x8 under
llama.cpp. Cells are every quantization column of the fit matrix at each of its context columns.

It prints the cells per second of ``rigtui.core.matrix.evaluate`` over all of them. It also
prints the milliseconds of one full matrix (every model x every quantization column, one
context) on a rig the evaluator has not seen, and for comparison ``core.fit`` cell by cell
over a sample. Weights are
sized once per model and quantization before timing, as a running explorer has them; the
first, cold matrix is printed too. The evaluator keeps the arrays of a cell list that do not
depend on the rig, so the rate is also printed with them rebuilt on every run. Targets: at least 100,000 cells/s and a full matrix in
under 100 ms. The exit status is 1 when a target is missed. ``--json`` prints a JSON list of
records for bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from rigtui.catalog import load_catalog
from rigtui.core import fit, matrix
from rigtui.core.catalog import Catalog
from rigtui.core.rig import Rig, RigGpu, Workload

RATE_TARGET = 100_000.0
MATRIX_TARGET_MS = 100.0
# The fit matrix's quantization columns for llama.cpp (tui.screens.fit_matrix.GGUF_LADDER).
# The fit matrix's context columns (tui.screens.fit_matrix.CONTEXT_COLUMNS).
CONTEXTS = (4096, 8192, 16384, 32768, 65536, 131072)
LADDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_XXS", "Q2_K", "IQ2_XXS")


def example_rig(catalog: Catalog, used_bytes: int = 0) -> Rig:
    """RTX 4090 (desktop on it) + RTX 3090 on PCIe 4.0 x8/x8, Ubuntu 24.04, as tui.edits.example_rig."""
    gpus = [RigGpu(spec=catalog.gpu(name), pcie_gen=4, pcie_lanes=8) for name in ("rtx-4090", "rtx-3090")]
    gpus[0] = replace(gpus[0], desktop=True, used_bytes=used_bytes)
    return Rig(gpus=tuple(gpus), os=catalog.os("ubuntu-24.04"), psu_w=1200, name="example")


def workloads(catalog: Catalog, contexts: list[int]) -> list[Workload]:
    runtime = catalog.runtime("llama-cpp")
    quants = [catalog.quant(q) for q in LADDER]
    return [
        Workload(model=model, quant=quant, runtime=runtime, context=context, ggml_types=catalog.ggml_types)
        for model in catalog.models.values()
        for quant in quants
        for context in contexts
    ]


def _best_of(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default=",".join(map(str, CONTEXTS)),
                        help="context lengths in tokens, comma-separated (default: the fit matrix's context columns)")
    parser.add_argument("--fit-cells", type=int, default=300, help="cells timed through core.fit one by one")
    parser.add_argument("--runs", type=int, default=7, help="timed runs, of which the best counts (default 7)")
    parser.add_argument("--json", action="store_true", help="print the results as a JSON list of records")
    args = parser.parse_args()

    catalog = load_catalog()
    contexts = [int(c) for c in args.contexts.split(",")]
    cells = workloads(catalog, contexts)
    one_context = workloads(catalog, [8192])

    start = time.perf_counter()
    matrix.evaluate(example_rig(catalog), one_context)
    cold_ms = (time.perf_counter() - start) * 1000
    matrix.evaluate(example_rig(catalog), cells)

    rig = example_rig(catalog)
    rate_s = _best_of(args.runs, lambda: matrix.evaluate(rig, cells))

    def fresh_table() -> None:
        matrix._TABLES.clear()
        matrix.evaluate(rig, cells)

    fresh_s = _best_of(args.runs, fresh_table)
    # A what-if edit: each run gets a rig the core has not placed anything on before.
    edits = iter(range(1, 1000))
    matrix_s = _best_of(args.runs, lambda: matrix.evaluate(example_rig(catalog, used_bytes=next(edits) << 20), one_context))

    sample = cells[:: max(len(cells) // args.fit_cells, 1)][: args.fit_cells]
    fit_s = _best_of(1, lambda: [fit.fit(rig, w, with_max_context=False) for w in sample])
    fit_rate = len(sample) / fit_s
    rate = len(cells) / rate_s
    matrix_ms = matrix_s * 1000
    per_cell_matrix_ms = len(one_context) / fit_rate * 1000

    command = f"python bench/core_rate.py --contexts {args.contexts}"
    records = [
        {"name": "core: fit-matrix cells per second (batch)", "value": round(rate), "unit": "cells/s",
         "target": f">= {RATE_TARGET:,.0f}", "ok": rate >= RATE_TARGET, "command": command},
        {"name": "core: full catalog matrix on a new rig (batch)", "value": round(matrix_ms, 1), "unit": "ms",
         "target": f"< {MATRIX_TARGET_MS:.0f}", "ok": matrix_ms < MATRIX_TARGET_MS, "command": command},
        {"name": "core: fit-matrix cells per second, cell table rebuilt (batch)", "value": round(len(cells) / fresh_s),
         "unit": "cells/s", "target": None, "ok": None, "command": command},
        {"name": "core: first full matrix, weights not yet sized (batch)", "value": round(cold_ms, 1), "unit": "ms",
         "target": None, "ok": None, "command": command},
        {"name": "core: fit-matrix cells per second (core.fit per cell)", "value": round(fit_rate), "unit": "cells/s",
         "target": None, "ok": None, "command": command},
    ]
    if args.json:
        print(json.dumps(records, indent=1))
    else:
        models = len(catalog.models)
        print(f"example rig (RTX 4090 + RTX 3090, PCIe 4.0 x8/x8, llama.cpp), {models} models x {len(LADDER)} quants")
        print(f"batch: {len(cells)} cells ({len(contexts)} contexts) in {rate_s * 1000:.1f} ms: {rate:,.0f} cells/s "
              f"(target {RATE_TARGET:,.0f})")
        print(f"batch, cell table rebuilt each run: {fresh_s * 1000:.1f} ms: {len(cells) / fresh_s:,.0f} cells/s")
        print(f"batch: full matrix ({len(one_context)} cells, 8,192 tokens) on a new rig: {matrix_ms:.1f} ms "
              f"(target under {MATRIX_TARGET_MS:.0f}); first one, weights not sized yet: {cold_ms:.0f} ms")
        print(f"core.fit per cell: {len(sample)} cells in {fit_s:.2f} s: {fit_rate:,.0f} cells/s, "
              f"a full matrix would take about {per_cell_matrix_ms:,.0f} ms")
        print(f"the batch places {rate / fit_rate:.0f}x as many cells per second as core.fit")
    return 0 if all(r["ok"] is not False for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
