"""Print the CPU cost of taking one telemetry sample, per GPU, for each backend.

Usage: ``python bench/sampler_cost.py [--gpus 8] [--samples 2000] [--json]``.

The NVML row drives the real NvmlSource over the stub pynvml used by the tests, so it measures
rigtui's own Python work per sample (the stub's bookkeeping included) but not the time the
driver takes per query; ``bench/nvml_probe.py`` measures that on a machine with GPUs. The
screen row adds what the Telemetry screen spends drawing a sample in a headless app.
Target: 8 GPUs sampled once a second cost under 1 % of one core, which is 10 ms of CPU per
sample, or 1.25 ms per GPU. ``--json`` prints a JSON list of records for bench/run.py: the
worst backend's milliseconds per GPU, and the percent of one core that sampling and drawing
take at 1 Hz.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "hardware"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from nvml_stub import StubGpu, StubNvml  # noqa: E402

from rigtui.hardware.alerts import rig_alerts  # noqa: E402
from rigtui.hardware.fake import SCENARIOS, FakeGpu, FakeSource, Scenario  # noqa: E402
from rigtui.hardware.nvml import NvmlSource  # noqa: E402
from rigtui.hardware.replay import sample_line  # noqa: E402

TARGET_MS_PER_GPU = 1.25


def cpu_ms_per_call(call: Callable[[], object], samples: int) -> float:
    """CPU milliseconds (user + system, this process) per call, after a short warm-up."""
    for _ in range(min(50, samples)):
        call()
    start = time.process_time()
    for _ in range(samples):
        call()
    return (time.process_time() - start) * 1000 / samples


def stub_rig(gpus: int) -> StubNvml:
    cards = [
        StubGpu(bus_id=f"00000000:{i + 1:02x}:00.0".encode(), uuid=f"GPU-{i}", compute=[(1000 + i, 20 << 30)])
        for i in range(gpus)
    ]
    return StubNvml(cards)


def fake_rig(gpus: int) -> FakeSource:
    template = SCENARIOS["4x3090-nvlink"].gpus[0]
    cards: list[FakeGpu] = []
    for index in range(gpus):
        info = replace(template.info, index=index, nvlinks=())
        cards.append(FakeGpu(info=info, load=template.load, swing=template.swing))
    return FakeSource(Scenario(name=f"{gpus}-gpus", description="benchmark", gpus=tuple(cards)))


async def screen_ms_per_sample(source: FakeSource, samples: int) -> float:
    from telemetry_app import TelemetryTestApp

    app = TelemetryTestApp(source)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(20):
            app.telemetry.poll_now()
            await pilot.pause()
        start = time.process_time()
        for _ in range(samples):
            await pilot.pause()
        idle = time.process_time() - start
        start = time.process_time()
        for _ in range(samples):
            app.telemetry.poll_now()
            await pilot.pause()
        # Subtract what the test harness spends on a pause with nothing to draw.
        return (time.process_time() - start - idle) * 1000 / samples


def records(rows: list[tuple[str, float]], gpus: int, samples: int) -> list[dict[str, object]]:
    """Turn the measured rows into the benchmark records bench/run.py collects.

    ``rows`` contains the three backend rows first and the Telemetry screen row last, each as
    (name, CPU milliseconds per sample).
    """
    command = f"python bench/sampler_cost.py --gpus {gpus} --samples {samples}"
    worst_name, worst = max(rows[:3], key=lambda row: row[1])
    screen = rows[3][1]
    # At 1 Hz, a sample's CPU milliseconds divided by 1,000 ms is the share of one core.
    return [
        {"name": f"telemetry: sampler CPU per GPU ({worst_name})", "value": round(worst / gpus, 3),
         "unit": "ms", "target": f"< {TARGET_MS_PER_GPU} ms", "ok": worst / gpus < TARGET_MS_PER_GPU,
         "command": command},
        {"name": f"telemetry: sampler, {gpus} GPUs at 1 Hz", "value": round(worst / 10, 2),
         "unit": "% core", "target": "< 1 %", "ok": worst / 10 < 1.0, "command": command},
        {"name": f"telemetry: screen sample + draw at 160x48, {gpus} GPUs at 1 Hz", "value": round(screen / 10, 2),
         "unit": "% core", "target": "< 1 %", "ok": screen / 10 < 1.0, "command": command},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=8, help="simulated GPUs per sample (default 8)")
    parser.add_argument("--samples", type=int, default=2000, help="samples timed per backend (default 2000)")
    parser.add_argument("--json", action="store_true", help="print the results as a JSON list of records")
    args = parser.parse_args()

    nvml = NvmlSource(stub_rig(args.gpus), clock=time.time)
    nvml.info()
    fake = fake_rig(args.gpus)
    fake.info()

    def sample_alert_and_serialize() -> None:
        sample = nvml.sample()
        rig_alerts(sample)
        sample_line(sample)

    rows = [
        ("NvmlSource.sample over stub pynvml", cpu_ms_per_call(nvml.sample, args.samples)),
        ("FakeSource.sample", cpu_ms_per_call(fake.sample, args.samples)),
        ("NvmlSource.sample + alerts + JSON line", cpu_ms_per_call(sample_alert_and_serialize, args.samples)),
        ("Telemetry screen: sample + draw (160x48)", asyncio.run(screen_ms_per_sample(fake_rig(args.gpus),
                                                                                        max(20, args.samples // 20)))),
    ]
    if args.json:
        print(json.dumps(records(rows, args.gpus, args.samples), indent=1))
        return 0
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{platform.processor() or 'unknown CPU'}; {args.gpus} GPUs, {args.samples} samples")
    print(f"{'what':<42} {'ms CPU/sample':>14} {'ms CPU/GPU':>11} {'% core at 1 Hz':>15}")
    for name, per_sample in rows:
        per_gpu = per_sample / args.gpus
        print(f"{name:<42} {per_sample:>14.3f} {per_gpu:>11.3f} {per_sample / 10:>14.2f}%")
    worst_backend = max(per for name, per in rows[:3]) / args.gpus
    verdict = "meets" if worst_backend < TARGET_MS_PER_GPU else "misses"
    print(f"Sampler {verdict} the target of {TARGET_MS_PER_GPU} ms CPU per GPU per sample.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
