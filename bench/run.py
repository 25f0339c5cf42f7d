"""Run every benchmark, print one table of results against their targets, and fail on a miss.

Usage: python bench/run.py [--quick] [--only NAME ...] [--scripts-dir DIR] [--timeout-s S] [--json]

Each benchmark script runs with ``--json`` under the same Python as this script and prints a
JSON list of records, each with "name", "value", "unit", "target", "ok" and "command". A
record whose "ok" is null is informational and has no target. The exit status is 1 when a
record misses its target or a script fails, and 0 otherwise. A script that does not exist
yet is listed as not run and does not fail the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RECORD_KEYS = ("name", "value", "unit", "target", "ok", "command")


@dataclass(frozen=True)
class Bench:
    """One benchmark script and the options it runs with."""

    name: str
    script: str
    options: tuple[str, ...] = ()
    quick_options: tuple[str, ...] = ()
    """Options for --quick: shorter runs of the same measurement."""


BENCHES = (
    Bench("tui_speed", "tui_speed.py", ("--bare", "--runs", "10", "--keys", "26"),
          ("--bare", "--runs", "5", "--keys", "13")),
    Bench("memory", "memory.py", ("--minutes", "10"), ("--minutes", "1")),
    Bench("sampler_cost", "sampler_cost.py", (), ("--samples", "500")),
    Bench("core_rate", "core_rate.py", (), ("--runs", "1")),
    Bench("shop_speed", "shop_speed.py", (), ("--budget", "3000", "--model", "llama-3.3-70b")),
    Bench("accuracy", "accuracy.py"),
    Bench("fit_accuracy", "fit_accuracy.py"),
    Bench("fuzz", "fuzz.py", (), ("--cases", "1000")),
)


@dataclass
class Outcome:
    """The result of one script: its records, or the reason it produced none."""

    bench: Bench
    records: list[dict[str, object]]
    seconds: float = 0.0
    skipped: str | None = None
    """Reason the script did not run (it does not exist yet)."""
    error: str | None = None
    """Reason the script's run failed (exit status, timeout, output that is not a record list)."""

    def __post_init__(self) -> None:
        # A failed script counts as one missed target, so the run exits 1 and JSON output shows it.
        if self.error:
            self.records = [{
                "name": f"{self.bench.name}: script failed", "value": None, "unit": "", "target": "runs",
                "ok": False, "command": f"python bench/{self.bench.script}",
            }]


def parse_records(stdout: str) -> list[dict[str, object]]:
    """Parse a script's JSON output into records.

    Raises:
        ValueError: the output is not a JSON list of objects with every record key.
    """
    data = json.loads(stdout)
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of records, got {type(data).__name__}")
    for record in data:
        if not isinstance(record, dict):
            raise ValueError(f"expected each record to be an object, got {record!r}")
        missing = [key for key in RECORD_KEYS if key not in record]
        if missing:
            raise ValueError(f"record {record.get('name', record)!r} lacks {', '.join(missing)}")
        if record["ok"] not in (True, False, None):
            raise ValueError(f"record {record['name']!r} has ok={record['ok']!r}; expected true, false or null")
    return data


def run_bench(bench: Bench, scripts_dir: Path, quick: bool, timeout_s: float) -> Outcome:
    """Run one benchmark script with --json and collect its records."""
    script = scripts_dir / bench.script
    if not script.is_file():
        return Outcome(bench, [], skipped=f"{script} does not exist yet")
    options = bench.quick_options if quick else bench.options
    argv = [sys.executable, str(script), *options, "--json"]
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, cwd=BENCH_DIR.parent)
    except subprocess.TimeoutExpired:
        return Outcome(bench, [], time.monotonic() - started, error=f"timed out after {timeout_s:g} s")
    seconds = time.monotonic() - started
    last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
    try:
        records = parse_records(done.stdout)
    except ValueError as exc:
        if done.returncode != 0:
            return Outcome(bench, [], seconds, error=f"exited with status {done.returncode}: {last}")
        return Outcome(bench, [], seconds, error=f"printed no valid record list: {exc}")
    # Some scripts exit 1 when they miss a target; their records already show the miss.
    if done.returncode != 0 and not any(record["ok"] is False for record in records):
        return Outcome(bench, [], seconds, error=f"exited with status {done.returncode}: {last}")
    return Outcome(bench, records, seconds)


def _value(record: dict[str, object]) -> str:
    value, unit = record["value"], record["unit"] or ""
    if value is None:
        return "—"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def _verdict(ok: object) -> str:
    return {True: "ok", False: "MISSED", None: "—"}[ok]  # type: ignore[index]


def table(outcomes: list[Outcome]) -> str:
    """Render the results as a text table: one row per record, one line per skipped or failed script."""
    rows = [("benchmark", "value", "target", "ok")]
    notes = []
    for outcome in outcomes:
        if outcome.skipped:
            notes.append(f"not run: {outcome.bench.name} ({outcome.skipped})")
            continue
        if outcome.error:
            notes.append(f"failed: {outcome.bench.name} {outcome.error}")
        for record in outcome.records:
            rows.append((str(record["name"]), _value(record), str(record["target"] or "—"), _verdict(record["ok"])))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [
        f"{name:<{widths[0]}}  {value:>{widths[1]}}  {target:<{widths[2]}}  {ok}".rstrip()
        for name, value, target, ok in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([*lines, *notes])


def missed(outcomes: list[Outcome]) -> int:
    """Count the records that miss their target, including one for each script that failed."""
    return sum(1 for outcome in outcomes for record in outcome.records if record["ok"] is False)


def main(argv: list[str] | None = None) -> int:
    names = [bench.name for bench in BENCHES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (the memory benchmark runs 1 minute)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=names,
                        help=f"run only this benchmark; repeat for several ({', '.join(names)})")
    parser.add_argument("--scripts-dir", type=Path, default=BENCH_DIR,
                        help="folder with the benchmark scripts (default: this script's folder)")
    parser.add_argument("--timeout-s", type=float, default=3600.0,
                        help="stop a script that runs longer than this many seconds (default 3600)")
    parser.add_argument("--json", action="store_true", help="print every record as one JSON list instead of the table")
    args = parser.parse_args(argv)

    selected = [bench for bench in BENCHES if not args.only or bench.name in args.only]
    outcomes = []
    for bench in selected:
        if not args.json:
            print(f"running {bench.name} …", file=sys.stderr, flush=True)
        outcome = run_bench(bench, args.scripts_dir, args.quick, args.timeout_s)
        if not args.json and not outcome.skipped:
            print(f"  {bench.name} took {outcome.seconds:.0f} s", file=sys.stderr, flush=True)
        outcomes.append(outcome)

    failures = missed(outcomes)
    if args.json:
        print(json.dumps([record for outcome in outcomes for record in outcome.records], indent=1))
    else:
        print(table(outcomes))
        not_run = sum(1 for o in outcomes if o.skipped)
        records = sum(len(o.records) for o in outcomes if not o.error)
        print(f"\n{records} results from {len(outcomes) - not_run} scripts, {not_run} not run, "
              f"{failures} missed (failed scripts included)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
