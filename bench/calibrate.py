"""Fit the speed model's efficiency fractions and fixed costs on the public benchmarks.

Usage: ``python bench/calibrate.py [--write]``. Rows chosen by ``speed_rows.is_set_aside``
are never used here. Every fit starts from ``DEFAULTS``, never from the calibration file
it replaces, so a refit on the same rows gives the same file. The fit is a coordinate
search: each parameter in turn tries a grid of multiples of its current value and keeps
the one with the smallest sum of absolute log errors over the fitted rows, and the passes
repeat until nothing improves. The key levels (engine, vendor, architecture, segment) are
fitted one after the other, general first. A parameter specific to one engine, vendor, architecture or
segment is only fitted when at least ``MIN_ROWS`` fitted rows depend on it, so thin data
falls back to the general entry.

The predicted range comes from cross-validation. The fitted rows are split into ``FOLDS``
folds by rig and model, so every row of one rig and model lands in the same fold. Each fold
is predicted by a fit on the other folds, and the range spans the 5th to 95th percentile of
those out-of-fold errors. Errors on rows a fit never saw are what a user's unseen rig gets.
With ``--write`` the result replaces ``src/rigtui/core/speed_calibration.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pprint
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed_rows  # noqa: E402
from rigtui.core import speed, speed_calibration  # noqa: E402

MIN_ROWS = 4
GRID = [0.1, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.4, 2.0, 10.0]
PASSES = 8
FOLDS = 5
# Starting point of every fit: round physical guesses, not fitted values. Efficiencies are
# fractions of the catalog's peak figures; latencies and overheads are in the units their
# names carry.
DEFAULTS: dict[str, float] = {
    "bandwidth_efficiency": 0.75,
    "compute_efficiency": 0.5,
    "cpu_bandwidth_efficiency": 0.6,
    "hop_latency_us": 200.0,
    "layer_overhead_us": 40.0,
    "quantized_bandwidth_factor": 1.0,
    "quantized_compute_factor": 0.8,
    "sync_latency_us": 30.0,
    "row_broadcast_latency_us": 20.0,
    "token_overhead_ms": 0.5,
}
# Per-engine and per-device parameters; the rest are fitted once for every runtime ("*").
DEVICE_FIELDS = ("bandwidth_efficiency", "compute_efficiency")
ENGINE_FIELDS = (
    "bandwidth_efficiency", "compute_efficiency", "quantized_bandwidth_factor", "quantized_compute_factor",
    "token_overhead_ms", "layer_overhead_us", "hop_latency_us", "sync_latency_us", "row_broadcast_latency_us",
)
# The memory family only changes how much of the peak bandwidth decode reaches.
MEMORY_FIELDS = ("bandwidth_efficiency",)
# Link costs differ by vendor stack (CUDA peer copies against ROCm host staging).
LINK_FIELDS = ("hop_latency_us", "sync_latency_us", "row_broadcast_latency_us")
VENDOR_FIELDS = DEVICE_FIELDS + LINK_FIELDS
GLOBAL_FIELDS = ("cpu_bandwidth_efficiency",)
# Fractions of a peak figure cannot pass 1.
CAPPED = {"bandwidth_efficiency": 1.0, "compute_efficiency": 1.0, "cpu_bandwidth_efficiency": 1.0}
# No copy between devices takes less than about a microsecond. The floor also keeps the
# multiplicative search from shrinking a latency towards zero, where no grid step can
# bring it back for a more specific key that needs a large one.
FLOORED = {"hop_latency_us": 1.0, "sync_latency_us": 1.0, "row_broadcast_latency_us": 1.0}
SPREAD_QUANTILES = (0.05, 0.95)


def _device_keys(case: speed_rows.Case) -> set[str]:
    keys: set[str] = set()
    engine = case.decode_workload.runtime.engine
    for gpu in case.rig.gpus:
        keys.update(
            speed.calibration_keys(
                engine, gpu.spec.vendor, gpu.spec.architecture, gpu.spec.segment, speed.memory_family(gpu.spec)
            )
        )
    return keys


def _loss(cases: list[speed_rows.Case]) -> float:
    total = 0.0
    for case in cases:
        decode, prefill = case.predict()
        if case.measured_decode:
            total += abs(math.log(decode.decode.expected / case.measured_decode))
        if case.measured_prefill:
            total += abs(math.log(prefill.prefill.expected / case.measured_prefill))
    return total


def _set(key: str, field: str, value: float) -> None:
    speed_calibration.CALIBRATION.setdefault(key, {})[field] = value
    speed.calibration_for.cache_clear()


def _current(key: str, field: str) -> float:
    for candidate in (key, key.rsplit("/", 1)[0] if "/" in key else "*", "*"):
        if field in speed_calibration.CALIBRATION.get(candidate, {}):
            return speed_calibration.CALIBRATION[candidate][field]
    parts = key.split("/")
    for end in range(len(parts), 0, -1):
        entry = speed_calibration.CALIBRATION.get("/".join(parts[:end]), {})
        if field in entry:
            return entry[field]
    return speed_calibration.CALIBRATION["*"][field]


def _parameters(cases: list[speed_rows.Case]) -> list[tuple[str, str, list[speed_rows.Case]]]:
    """List (key, field, rows that depend on it) for every parameter with enough rows."""
    parameters = [("*", field, cases) for field in GLOBAL_FIELDS]
    keys: dict[str, list[speed_rows.Case]] = {}
    for case in cases:
        for key in _device_keys(case):
            keys.setdefault(key, []).append(case)
    for key, rows in sorted(keys.items()):
        if key == "*":
            continue
        depth = key.count("/")
        if depth == 0:
            fields = ENGINE_FIELDS
        elif depth == 1:
            fields = VENDOR_FIELDS
        elif depth < 4:
            fields = DEVICE_FIELDS
        else:
            fields = MEMORY_FIELDS
        for field in fields:
            if field.startswith("compute") or field == "quantized_compute_factor":
                relevant = [c for c in rows if c.measured_prefill]
            elif field == "row_broadcast_latency_us":
                relevant = [c for c in rows if c.multi and c.result.split == "row"]
            elif field in LINK_FIELDS:
                relevant = [c for c in rows if c.multi]
            else:
                relevant = [c for c in rows if c.measured_decode]
            # NOTE: a vendor's link costs are fitted from as little as one multi-GPU row,
            # because a single layer-split measurement is all the data holds for some stacks.
            needed = 1 if field in LINK_FIELDS else MIN_ROWS
            if len(relevant) >= needed:
                parameters.append((key, field, rows))
    return parameters


def reset_to_defaults() -> None:
    """Replace the loaded calibration with ``DEFAULTS`` alone."""
    speed_calibration.CALIBRATION.clear()
    speed_calibration.CALIBRATION["*"] = dict(DEFAULTS)
    speed.calibration_for.cache_clear()


def _stage(key: str) -> int:
    """Level of a calibration key: 0 for "*" and engines, then vendor, architecture, segment."""
    return 0 if key == "*" else key.count("/")


def fit(cases: list[speed_rows.Case], verbose: bool = True) -> None:
    """Fit the calibration on ``cases``, starting from ``DEFAULTS``.

    The levels are fitted in turn, general first, and a level is frozen before the next one
    starts. An engine/vendor entry is then the best single value over all of that vendor's
    rows, which is what a device of an architecture with no fitted rows falls back to. Fitted
    together, it would drift to suit only the few rows that no more specific entry covers.
    """
    reset_to_defaults()
    parameters = _parameters(cases)
    best = _loss(cases)
    for stage in sorted({_stage(key) for key, _, _ in parameters}):
        for number in range(PASSES):
            improved = False
            for key, field, rows in parameters:
                if _stage(key) != stage:
                    continue
                start = _current(key, field)
                row_best, choice = _loss(rows), start
                for factor in GRID:
                    value = start * factor
                    if field in CAPPED:
                        value = min(value, CAPPED[field])
                    if field in FLOORED:
                        value = max(value, FLOORED[field])
                    _set(key, field, value)
                    loss = _loss(rows)
                    if loss < row_best - 1e-9:
                        row_best, choice = loss, value
                _set(key, field, choice)
                improved |= choice != start
            new_best = _loss(cases)
            if verbose:
                print(f"level {stage}, pass {number + 1}: sum of absolute log errors {best:.2f} -> {new_best:.2f}")
            best = new_best
            if not improved:
                break


def fold_of(case: speed_rows.Case) -> int:
    """Cross-validation fold of a row: a hash of its rig and model, so a rig and model never straddle folds."""
    key = f"{case.row['gpus']}|{case.row['model']}".encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % FOLDS


def _residuals(cases: list[speed_rows.Case], into: dict[tuple[str, str], list[float]]) -> None:
    """Append log(measured / predicted) of each row to ``into[(kind, spread group)]``."""
    for case in cases:
        decode, prefill = case.predict()
        group = case.spread_group
        if case.measured_decode:
            into.setdefault(("decode", group), []).append(math.log(case.measured_decode / decode.decode.expected))
        if case.measured_prefill:
            into.setdefault(("prefill", group), []).append(math.log(case.measured_prefill / prefill.prefill.expected))


def cross_validated_residuals(cases: list[speed_rows.Case], verbose: bool = True) -> dict[tuple[str, str], list[float]]:
    """Out-of-fold log errors: each fold predicted by a fit on the other folds."""
    residuals: dict[tuple[str, str], list[float]] = {}
    for fold in range(FOLDS):
        held_out = [c for c in cases if fold_of(c) == fold]
        training = [c for c in cases if fold_of(c) != fold]
        if not held_out or not training:
            continue
        fit(training, verbose=False)
        _residuals(held_out, residuals)
        if verbose:
            print(f"fold {fold + 1}/{FOLDS}: {len(training)} rows fitted, {len(held_out)} predicted")
    return residuals


def spreads(residuals: dict[tuple[str, str], list[float]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Range bounds, as log factors, from the quantiles of out-of-fold errors by kind and spread group."""
    result: dict[str, dict[str, tuple[float, float]]] = {"decode": {}, "prefill": {}}
    for (kind, group), values in sorted(residuals.items()):
        low = min(speed_rows.quantile(values, SPREAD_QUANTILES[0]), -0.05)
        high = max(speed_rows.quantile(values, SPREAD_QUANTILES[1]), 0.05)
        result[kind][group] = (round(low, 3), round(high, 3))
    for kind in result:
        result[kind].setdefault("single", (-0.2, 0.2))
        result[kind].setdefault("multi", result[kind]["single"])
        result[kind].setdefault("shared", result[kind]["multi"])
    return result


_HEADER = '''"""Fitted constants of the speed model.

Produced by ``bench/calibrate.py --write`` from the public measurements in
``tests/data/speed_benchmarks.csv`` (set-aside rows excluded); rerun that script to
regenerate this file instead of editing the numbers by hand. Keys run from general to
specific: "*" (every runtime), then an engine ("llama.cpp"), then engine/vendor
("llama.cpp/nvidia"), engine/vendor/architecture ("llama.cpp/nvidia/Ada Lovelace"),
engine/vendor/architecture/segment and engine/vendor/architecture/segment/memory family
("llama.cpp/nvidia/Ampere/datacenter/hbm"). The speed model merges the entries that match
a device, the most specific last.
"""

from __future__ import annotations

'''


def write(path: Path) -> None:
    calibration = {
        key: {field: round(value, 4) for field, value in sorted(entry.items())}
        for key, entry in sorted(speed_calibration.CALIBRATION.items())
    }
    text = _HEADER
    text += "CALIBRATION: dict[str, dict[str, float]] = " + pprint.pformat(calibration, width=100, sort_dicts=False) + "\n\n"
    text += (
        "# Quantiles (5th and 95th) of log(measured / predicted) speed on rows each fit did not\n"
        "# see (5-fold cross-validation by rig and model over the fitted rows): the range an\n"
        "# estimate spans. Keys: \"decode\" or \"prefill\", then the group from\n"
        "# speed.spread_group: \"single\", \"multi\" or \"shared\" (row split, tensor parallel).\n"
    )
    text += "SPREAD: dict[str, dict[str, tuple[float, float]]] = " + pprint.pformat(speed_calibration.SPREAD, width=100) + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="overwrite src/rigtui/core/speed_calibration.py")
    args = parser.parse_args()

    cases, problems = speed_rows.build_cases()
    for problem in problems:
        print(f"skipped {problem}")
    fitted = [c for c in cases if not c.set_aside]
    print(f"{len(cases)} usable rows, {len(fitted)} fitted, {len(cases) - len(fitted)} set aside")
    fitted_spreads = spreads(cross_validated_residuals(fitted))
    fit(fitted)
    speed_calibration.SPREAD.clear()
    speed_calibration.SPREAD.update(fitted_spreads)
    pprint.pprint(speed_calibration.CALIBRATION, width=100)
    pprint.pprint(speed_calibration.SPREAD)
    if args.write:
        target = speed_rows.ROOT / "src" / "rigtui" / "core" / "speed_calibration.py"
        write(target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
