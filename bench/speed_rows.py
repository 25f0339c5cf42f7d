"""Public speed measurements as speed-model inputs: shared by calibrate.py, accuracy.py and the tests.

Each row of ``tests/data/speed_benchmarks.csv`` names a rig (catalog GPU ids joined by "+"),
a runtime, split, model and quantization, and the measured decode (tg) and prefill (pp)
tokens/s. This module turns a row into the ``Rig``, ``Workload`` and ``FitResult`` that
``estimate_speed`` reads, using the bundled catalog for every figure. The placement comes
from ``rigtui.core.fit.plan`` with the row's split and ``--n-cpu-moe`` count, so the
benchmarks check the same placement the app shows.
"""

from __future__ import annotations

import csv
import hashlib
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from rigtui.catalog import load_catalog
from rigtui.core import fit
from rigtui.core.catalog import Catalog
from rigtui.core.results import FitResult
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.speed import SpeedEstimate, estimate_speed, spread_group

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "tests" / "data" / "speed_benchmarks.csv"

def is_set_aside(row: dict[str, str]) -> bool:
    """Return True for the one row in five kept out of the fit.

    The rule hashes the row's source, GPUs and model, so it never looks at the measured
    values, and every row of one rig and model lands on the same side.
    """
    key = f"{row['source']}|{row['gpus']}|{row['model']}".encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % 5 == 0


@dataclass
class Case:
    """One benchmark row ready for the speed model."""

    row: dict[str, str]
    rig: Rig
    decode_workload: Workload
    prefill_workload: Workload
    result: FitResult
    set_aside: bool

    @property
    def multi(self) -> bool:
        return len(self.rig.gpus) > 1 or any(d.kind == "cpu" and (d.layers or d.expert_layers) for d in self.result.devices)

    @property
    def spread_group(self) -> str:
        """Group whose cross-validated spread sets this row's range, as in ``speed.spread_group``."""
        devices = self.result.devices
        cpu_computes = any(d.kind == "cpu" and (d.layers or d.expert_layers) for d in devices)
        gpus = sum(1 for d in devices if d.kind == "gpu" and (d.layers or d.expert_layers or d.holds_output or d.weights_bytes))
        return spread_group(gpus, cpu_computes, self.result.split)

    @property
    def measured_decode(self) -> float | None:
        return _number(self.row["tg_tokens_per_s"])

    @property
    def measured_prefill(self) -> float | None:
        return _number(self.row["pp_tokens_per_s"])

    def predict(self) -> tuple[SpeedEstimate, SpeedEstimate]:
        """Estimate with the decode workload and with the prefill workload."""
        return (
            estimate_speed(self.rig, self.decode_workload, self.result),
            estimate_speed(self.rig, self.prefill_workload, self.result),
        )


def _number(text: str) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def read_rows(path: Path = BENCHMARKS) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def build_cases(catalog: Catalog | None = None, path: Path = BENCHMARKS) -> tuple[list[Case], list[str]]:
    """Turn every row into a Case; return the cases and one line per row that could not be used."""
    catalog = catalog or load_catalog()
    cases: list[Case] = []
    problems: list[str] = []
    for number, row in enumerate(read_rows(path), start=2):
        try:
            cases.append(_case(catalog, row))
        except LookupError as error:
            problems.append(f"line {number}: {error}")
    return cases, problems


def _case(catalog: Catalog, row: dict[str, str]) -> Case:
    specs = [catalog.gpu(name) for name in row["gpus"].split("+")]
    model = catalog.model(row["model"])
    quant = catalog.quant(row["quant"])
    runtime = catalog.runtime(row["runtime"])
    os_spec = catalog.os("linux")

    gpus = tuple(RigGpu(spec=spec, pcie_gen=spec.pcie_gen, pcie_lanes=spec.pcie_lanes) for spec in specs)
    pairs = frozenset((i, i + 1) for i in range(0, len(gpus) - 1, 2)) if row["interconnect"] == "nvlink" else frozenset()
    ram_gbs = _number(row["cpu_ram_gbs"])
    rig = Rig(gpus=gpus, os=os_spec, nvlink_pairs=pairs, **({"cpu_ram_bandwidth_gbs": ram_gbs} if ram_gbs else {}))

    depth = int(row["depth"] or 0)
    generated = int(row["gen_tokens"] or 0)
    prompt = int(row["prompt"] or 512)
    ubatch = int(row["ubatch"] or 512)
    split = row["split"]
    cpu_moe = int(row["n_cpu_moe"] or 0)
    context = max(depth + generated + prompt, 512)
    # Without --tensor-split, llama.cpp spreads layers or rows over every visible GPU in
    # proportion to its memory; other runtimes' defaults are what fit.plan already models
    # (ExLlamaV2's auto split fills the first GPUs, vLLM and MLC shard evenly).
    tensor_split = None
    if len(gpus) > 1 and runtime.engine in ("llama.cpp", "ollama"):
        tensor_split = tuple(float(g.spec.memory_mib) for g in gpus)
    common = dict(model=model, quant=quant, runtime=runtime, split=split, prompt=prompt, ubatch=ubatch,
                  context=context, n_cpu_moe=cpu_moe or None, tensor_split=tensor_split,
                  ggml_types=dict(catalog.ggml_types))
    # A generation run averages the per-token time over its depths, and time grows linearly
    # with depth, so the mean depth gives the mean time.
    decode = Workload(depth=depth + generated // 2, **common)
    prefill = Workload(depth=depth, **common)
    result = fit.plan(rig, decode, split if len(gpus) > 1 else "single")
    return Case(row=row, rig=rig, decode_workload=decode, prefill_workload=prefill, result=result, set_aside=is_set_aside(row))


# --- error summaries ---------------------------------------------------------------------------


def percent_error(predicted: float, measured: float) -> float:
    return abs(predicted - measured) / measured * 100.0


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan
