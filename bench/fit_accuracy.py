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
from rigtui.core.rig import MIB  # noqa: E402
from tests.core.conftest import COMMAND_R  # noqa: E402


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
    with open(ROOT / "tests/data/llama_logs.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            model = COMMAND_R if row["model"] == COMMAND_R.id else catalog.models[row["model"]]
            quant = catalog.quant(row["quant"])
            context, ubatch, layers = int(row["context"]), int(row["ubatch"]), int(row["layers"])
            kind = row["kind"]
            if kind == "kv":
                predicted = sum(memory.kv_layer_bytes(model, il, context, row["kv_cache"], catalog.ggml_types, ubatch) for il in range(layers))
            elif kind == "token_embd":
                predicted = memory.model_weights(model, quant, catalog.ggml_types).token_embd_bytes
            elif kind == "file":
                predicted = memory.model_file_bytes(model, quant, catalog.ggml_types)
            else:
                shape = memory.llamacpp_compute_shape(model, context, ubatch, row["flash_attn"] == "on")
                predicted = memory.llamacpp_compute_bytes(shape, holds_output=False, holds_layers=True)
            measured = float(row["measured_mib"]) * MIB
            errors.setdefault(kind, []).append((predicted - measured) / measured)
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
