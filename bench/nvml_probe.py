"""Print what the NVML backend detects on this machine, one sample, and what sampling costs, as JSON.

Usage: ``python bench/nvml_probe.py [--samples 10] [--interval 1.0]``. Run it on a machine with
NVIDIA GPUs and a driver; elsewhere it prints the TelemetryUnavailable message and exits 1.
It only reads NVML counters: it creates no CUDA context and allocates no GPU memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time

from pydantic import TypeAdapter

from rigtui.errors import TelemetryUnavailable
from rigtui.hardware.nvml import NvmlSource
from rigtui.hardware.source import RigInfo, RigSample


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="samples to time after the first (default 10)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between timed samples (default 1)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    source = NvmlSource()
    started = time.perf_counter()
    try:
        info = source.info()
    except TelemetryUnavailable as exc:
        print(json.dumps({"error": exc.message}), file=sys.stdout)
        return 1
    info_s = time.perf_counter() - started

    first = source.sample()
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(args.samples):
        time.sleep(args.interval)
        wall, cpu = time.perf_counter(), time.process_time()
        source.sample()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    last = source.sample()

    gpus = max(1, len(info.gpus))
    report = {
        "host": {"python": platform.python_version(), "machine": platform.machine(), "system": platform.system()},
        "info": TypeAdapter(RigInfo).dump_python(info, mode="json"),
        "first_sample": TypeAdapter(RigSample).dump_python(first, mode="json"),
        "last_sample": TypeAdapter(RigSample).dump_python(last, mode="json"),
        "timing": {
            "info_s": round(info_s, 4),
            "samples": len(walls),
            "sample_wall_ms_mean": round(1000 * sum(walls) / max(1, len(walls)), 3),
            "sample_wall_ms_max": round(1000 * max(walls, default=0.0), 3),
            "sample_cpu_ms_mean": round(1000 * sum(cpus) / max(1, len(cpus)), 3),
            "sample_cpu_ms_per_gpu": round(1000 * sum(cpus) / max(1, len(cpus)) / gpus, 3),
            "cpu_percent_of_one_core_at_1hz": round(100 * sum(cpus) / max(1, len(cpus)), 3),
        },
    }
    source.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
