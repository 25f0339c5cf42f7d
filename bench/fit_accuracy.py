"""Print how far rigtui's memory predictions are from published GGUF sizes and llama.cpp logs.

Run from the repository root: ``python bench/fit_accuracy.py [--json]``. Reads
tests/data/gguf_sizes.csv and tests/data/llama_logs.csv, and prints the median and maximum
absolute error per kind. ``--json`` prints a JSON list of records for bench/run.py: median and
90th-percentile error of the file sizes and of all log rows, with a target median of at most 3 %.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rigtui.catalog import load_catalog  # noqa: E402
from rigtui.core import memory  # noqa: E402
from tests.core.llama_logs import load_log_rows, relative_error  # noqa: E402


def _file_errors(catalog) -> list[float]:
    errors = []
    with open(ROOT / "tests/data/gguf_sizes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            model = catalog.models[row["model"]]
            predicted = memory.model_file_bytes(model, catalog.quant(row["quant"]), catalog.ggml_types) / 1e9
            errors.append((predicted - float(row["size_gb"])) / float(row["size_gb"]))
    return errors


def _log_errors(catalog) -> dict[str, list[float]]:
    errors: dict[str, list[float]] = {}
    for row in load_log_rows():
        errors.setdefault(row["kind"], []).append(relative_error(catalog, row))
    return errors


def _line(name: str, errors: list[float]) -> str:
    absolute = [abs(e) for e in errors]
    return f"{name:<22} rows {len(errors):>3}  median {statistics.median(absolute):6.2%}  max {max(absolute):6.2%}  mean signed {statistics.fmean(errors):+6.2%}"


MAX_MEDIAN_ERROR = 0.03
"""Target for the median absolute relative error of the memory predictions."""


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def records(catalog) -> list[dict[str, object]]:
    """Return the benchmark records bench/run.py collects, errors in percent."""
    log_errors = _log_errors(catalog)
    # NOTE: every log row comes from a multi-GPU run, so no record covers a single GPU yet.
    groups = (
        ("GGUF file size", _file_errors(catalog)),
        ("llama.cpp log buffers, multi-GPU", [error for errors in log_errors.values() for error in errors]),
    )
    result: list[dict[str, object]] = []
    for label, errors in groups:
        absolute = [abs(error) for error in errors]
        median = statistics.median(absolute)
        name = f"memory accuracy: {label} ({len(errors)} rows)"
        command = "python bench/fit_accuracy.py"
        result.append({"name": f"{name}, median error", "value": round(median * 100, 2), "unit": "%",
                       "target": f"<= {MAX_MEDIAN_ERROR * 100:g} %", "ok": median <= MAX_MEDIAN_ERROR, "command": command})
        result.append({"name": f"{name}, p90 error", "value": round(_p90(absolute) * 100, 2), "unit": "%",
                       "target": None, "ok": None, "command": command})
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as a JSON list of records")
    args = parser.parse_args()
    catalog = load_catalog()
    if args.json:
        print(json.dumps(records(catalog), indent=1))
        return 0
    print(_line("GGUF file size", _file_errors(catalog)))
    for kind, errors in sorted(_log_errors(catalog).items()):
        print(_line(f"log: {kind}", errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
