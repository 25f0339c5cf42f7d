"""Fitted constants of the speed model.

Produced by ``bench/calibrate.py`` from the public measurements in
``tests/data/speed_benchmarks.csv``; rerun that script to regenerate this file instead of
editing the numbers by hand. Keys run from general to specific: "*" (every runtime),
then an engine ("llama.cpp"), then engine/vendor ("llama.cpp/nvidia"), then
engine/vendor/architecture ("llama.cpp/nvidia/Ada Lovelace"). The speed model merges
the entries that match a device, the most specific last.
"""

from __future__ import annotations

# NOTE: first hand-set values, before the fit has run; bench/calibrate.py overwrites them.
CALIBRATION: dict[str, dict[str, float]] = {
    "*": {
        "bandwidth_efficiency": 0.75,
        "compute_efficiency": 0.5,
        "quantized_bandwidth_factor": 1.0,
        "quantized_compute_factor": 0.8,
        "token_overhead_ms": 0.5,
        "layer_overhead_us": 40.0,
        "hop_latency_us": 200.0,
        "sync_latency_us": 30.0,
        "cpu_bandwidth_efficiency": 0.6,
    },
}

# Log-ratio quantiles of measured over predicted speed on the fitted rows: the range
# an estimate spans. Keys: "decode" or "prefill", then "single" or "multi".
SPREAD: dict[str, dict[str, tuple[float, float]]] = {
    "decode": {"single": (-0.2, 0.15), "multi": (-0.3, 0.2)},
    "prefill": {"single": (-0.35, 0.25), "multi": (-0.45, 0.3)},
}
