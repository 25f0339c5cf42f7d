"""Measure the explorer's resident memory after start-up and over a long telemetry run.

Usage: python bench/memory.py [--minutes 10] [--gpus 8] [--fast] [--json]

Runs the real `rigtui` app (the same entry function, start-up worker, Rig screen and
Telemetry screen a user gets) in a pseudo-terminal of 160x48, with the NVML source replaced
by a simulated rig of ``--gpus`` RTX 3090 cards. Once the Rig screen shows, it reads the
resident set size (VmRSS of the app and its child processes). Then it opens the Telemetry
screen with key 5, which samples at its default 1 s interval for ``--minutes``, and reads
the resident set size once a second.

``--fast`` presses + twice on the Telemetry screen, which sets its interval to 0.25 s. The
simulated source still stamps its samples one second apart, so the run takes the same number
of samples, updates the same widgets and covers the same simulated minutes in a quarter of
the wall time. The recorded figure in docs/benchmarks.md comes from a run without --fast.

Targets: under 100 MB after start-up and at the end, and under 5 MB of growth from the first
telemetry sample to the last (1 MB = 10^6 bytes).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import terminal  # noqa: E402

COLUMNS, LINES = 160, 48
TARGET_RSS_MB = 100.0
TARGET_GROWTH_MB = 5.0
MB = 1e6
ELAPSED = re.compile(rb"t\+(\d+) s")
"""Seconds since the first sample on the Telemetry status line, which the fake source advances by one per sample."""


def simulated_source(gpus: int):  # type: ignore[no-untyped-def]
    """Return a FakeSource with ``gpus`` RTX 3090 cards, each with its own index, UUID and bus id."""
    from rigtui.hardware.fake import SCENARIOS, FakeGpu, FakeSource, Scenario

    template = SCENARIOS["4x3090-nvlink"].gpus[0]
    cards = []
    for index in range(gpus):
        info = replace(
            template.info,
            index=index,
            uuid=f"GPU-be0c0000-0000-4000-8000-{index:012d}",
            pci_bus_id=f"00000000:{index + 1:02x}:00.0",
            nvlinks=(),
        )
        cards.append(FakeGpu(info=info, load=template.load, swing=template.swing, load_temp_c=template.load_temp_c))
    scenario = Scenario(name=f"{gpus}x3090", description="memory benchmark", gpus=tuple(cards))
    return FakeSource(scenario)


def run_app(gpus: int) -> int:
    """Run `rigtui` with no options, as a user does, on a simulated rig instead of NVML."""
    import rigtui.hardware
    from rigtui.cli import main

    source = simulated_source(gpus)

    def open_source(demo: str | None = None, replay: Path | None = None):  # type: ignore[no-untyped-def]
        source.info()
        return source

    # The start-up worker looks open_source up on the package when it runs, so this swaps
    # NVML for the simulated rig and leaves every other step of start-up as it is.
    rigtui.hardware.open_source = open_source  # type: ignore[assignment]
    return main([])


def measure(minutes: float, gpus: int, fast: bool) -> dict[str, float]:
    """Run the app in a pseudo-terminal and return its resident memory at each stage, in bytes."""
    samples = max(2, round(minutes * 60))
    interval_s = 0.25 if fast else 1.0
    with tempfile.TemporaryDirectory() as home:
        env = terminal.user_env(Path(home), COLUMNS, LINES)
        argv = [sys.executable, str(Path(__file__).resolve()), "--app", "--gpus", str(gpus)]
        pid, fd = terminal.spawn(argv, env, COLUMNS, LINES)
        screen = terminal.Screen(fd)
        try:
            if not screen.wait_for(b"RTX 3090", 60):
                raise RuntimeError("the Rig screen never showed the simulated RTX 3090 cards")
            # Let the verdict worker finish, so the figure is the app at rest after start-up.
            screen.drain(2.0)
            started = terminal.tree_rss_bytes(pid)
            terminal.os.write(fd, b"5")
            if not screen.wait_for(b"t+0 s", 30):
                raise RuntimeError("the Telemetry screen never showed its first sample")
            first = terminal.tree_rss_bytes(pid)
            cpu_at_first, wall_at_first = terminal.cpu_seconds(pid), time.monotonic()
            if fast:
                terminal.os.write(fd, b"++")
            readings = [first]
            last_sample = 0
            deadline = time.monotonic() + samples * interval_s * 2 + 60
            next_reading = time.monotonic() + 1.0
            while last_sample < samples - 1:
                if time.monotonic() > deadline or screen.closed:
                    raise RuntimeError(f"telemetry stopped at sample {last_sample + 1} of {samples}")
                text = screen.read(0.05)
                for match in ELAPSED.finditer(text):
                    last_sample = max(last_sample, int(match.group(1)))
                if time.monotonic() >= next_reading:
                    readings.append(terminal.tree_rss_bytes(pid))
                    next_reading += 1.0
            end = terminal.tree_rss_bytes(pid)
            readings.append(end)
            cpu_s = terminal.cpu_seconds(pid) - cpu_at_first
            wall_s = time.monotonic() - wall_at_first
        finally:
            terminal.stop(pid, fd)
    return {
        "started": started,
        "first_sample": first,
        "middle": readings[len(readings) // 2],
        "end": end,
        "peak": max(readings),
        "samples": last_sample + 1,
        "readings": len(readings),
        "cpu_share": cpu_s / wall_s,
    }


def records(result: dict[str, float], minutes: float, gpus: int, fast: bool) -> list[dict[str, object]]:
    """Turn a measurement into the benchmark records bench/run.py collects."""
    command = f"python bench/memory.py --minutes {minutes:g} --gpus {gpus}{' --fast' if fast else ''}"
    growth = (result["end"] - result["first_sample"]) / MB
    where = f"{minutes:g} min telemetry, {gpus} GPUs{' (--fast)' if fast else ''}"
    return [
        {"name": "memory: RSS after start-up", "value": round(result["started"] / MB, 1), "unit": "MB",
         "target": f"< {TARGET_RSS_MB:g} MB", "ok": result["started"] / MB < TARGET_RSS_MB, "command": command},
        {"name": f"memory: RSS after {where}", "value": round(result["end"] / MB, 1), "unit": "MB",
         "target": f"< {TARGET_RSS_MB:g} MB", "ok": result["end"] / MB < TARGET_RSS_MB, "command": command},
        {"name": f"memory: growth over {where}", "value": round(growth, 1), "unit": "MB",
         "target": f"< {TARGET_GROWTH_MB:g} MB", "ok": growth < TARGET_GROWTH_MB, "command": command},
        {"name": f"telemetry: whole app CPU at {COLUMNS}x{LINES}, {where}", "value": round(result["cpu_share"] * 100, 2),
         "unit": "% core", "target": None, "ok": None, "command": command},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="simulated minutes of telemetry (default 10)")
    parser.add_argument("--gpus", type=int, default=8, help="simulated RTX 3090 cards (default 8)")
    parser.add_argument("--fast", action="store_true",
                        help="sample every 0.25 s of wall time, with the same samples and simulated minutes")
    parser.add_argument("--json", action="store_true", help="print the results as a JSON list of records")
    parser.add_argument("--app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minutes <= 0 or args.gpus < 1:
        parser.error(f"--minutes must be positive and --gpus at least 1, got {args.minutes:g} and {args.gpus}")
    if args.app:
        return run_app(args.gpus)

    result = measure(args.minutes, args.gpus, args.fast)
    if args.json:
        print(json.dumps(records(result, args.minutes, args.gpus, args.fast), indent=1))
        return 0
    pace = "0.25 s of wall time per sample (--fast)" if args.fast else "1 s per sample"
    print(f"{args.gpus} simulated RTX 3090, Telemetry screen at {COLUMNS}x{LINES}, "
          f"{int(result['samples'])} samples at {pace}")
    print(f"resident memory after start-up (Rig screen): {result['started'] / MB:.1f} MB")
    print(f"resident memory at the first telemetry sample: {result['first_sample'] / MB:.1f} MB")
    print(f"resident memory after the last sample: {result['end'] / MB:.1f} MB "
          f"(peak {result['peak'] / MB:.1f} MB over {int(result['readings'])} readings)")
    growth = (result["end"] - result["first_sample"]) / MB
    print(f"growth from the first telemetry sample to the last: {growth:+.1f} MB, "
          f"of which {(result['end'] - result['middle']) / MB:+.1f} MB in the second half "
          f"(targets: under {TARGET_RSS_MB:g} MB, growth under {TARGET_GROWTH_MB:g} MB; 1 MB = 10^6 bytes)")
    print(f"app CPU while sampling: {result['cpu_share'] * 100:.1f} % of one core (user + system)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
