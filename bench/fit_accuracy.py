"""Print how far rigtui's memory predictions are from published GGUF sizes and llama.cpp logs.

Run from the repository root: ``python bench/fit_accuracy.py``. Reads tests/data/gguf_sizes.csv
and tests/data/llama_logs.csv, and prints the median and maximum absolute error per kind.
"""

from __future__ import annotations

import csv
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


def main() -> int:
    catalog = load_catalog()
    print(_line("GGUF file size", _file_errors(catalog)))
    for kind, errors in sorted(_log_errors(catalog).items()):
        print(_line(f"log: {kind}", errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
