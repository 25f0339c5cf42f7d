"""Print how close the speed model comes to the public benchmarks.

Usage: ``python bench/accuracy.py [--json]``. For decode and prefill, on fitted and set-aside
rows, single-GPU and multi-device rigs separately, it prints the median and 90th-percentile
absolute percentage error, the share of measured values inside the predicted range, and the
median width of that range (high minus low) as a percentage of the expected value.

``--json`` prints the set-aside rows as a JSON list of records for bench/run.py. The targets
apply to all set-aside rows together: a median decode error of at most 12 % and a median
prefill error of at most 20 %, each with at least 80 % of measured values inside the range.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed_rows  # noqa: E402


@dataclass
class Summary:
    """Errors of one group of rows."""

    count: int
    median_error: float
    p90_error: float
    inside_range: float
    """Share of measured values between the predicted low and high, 0 to 1."""
    median_width: float
    """Median of (high - low) / expected, in percent."""


def summarize(cases: list[speed_rows.Case]) -> dict[tuple[str, str, str], Summary]:
    """Group errors by (decode or prefill, fitted or set-aside, single or multi or all)."""
    errors: dict[tuple[str, str, str], list[tuple[float, bool, float]]] = {}
    for case in cases:
        decode, prefill = case.predict()
        side = "set-aside" if case.set_aside else "fitted"
        group = "multi" if case.multi else "single"
        for kind, measured, estimate in (
            ("decode", case.measured_decode, decode.decode),
            ("prefill", case.measured_prefill, prefill.prefill),
        ):
            if not measured:
                continue
            entry = (
                speed_rows.percent_error(estimate.expected, measured),
                estimate.low <= measured <= estimate.high,
                (estimate.high - estimate.low) / estimate.expected * 100.0,
            )
            errors.setdefault((kind, side, group), []).append(entry)
            errors.setdefault((kind, side, "all"), []).append(entry)
    return {
        key: Summary(
            count=len(values),
            median_error=speed_rows.median([error for error, _, _ in values]),
            p90_error=speed_rows.quantile([error for error, _, _ in values], 0.9),
            inside_range=sum(1 for _, inside, _ in values if inside) / len(values),
            median_width=speed_rows.median([width for _, _, width in values]),
        )
        for key, values in errors.items()
    }


MAX_MEDIAN_ERROR = {"decode": 12.0, "prefill": 20.0}
"""Target for the median absolute percentage error of all set-aside rows, per kind."""
MIN_INSIDE_RANGE = 0.8
"""Target for the share of set-aside measured values inside the predicted range."""


def records(summaries: dict[tuple[str, str, str], Summary]) -> list[dict[str, object]]:
    """Turn the set-aside summaries into the benchmark records bench/run.py collects."""
    command = "python bench/accuracy.py"
    result: list[dict[str, object]] = []
    for kind in ("decode", "prefill"):
        for group in ("all", "single", "multi"):
            summary = summaries.get((kind, "set-aside", group))
            if summary is None:
                continue
            label = f"speed accuracy: {kind}, set-aside {group} rigs ({summary.count} rows)"
            targeted = group == "all"
            limit = MAX_MEDIAN_ERROR[kind]
            result.append({
                "name": f"{label}, median error", "value": round(summary.median_error, 1), "unit": "%",
                "target": f"<= {limit:g} %" if targeted else None,
                "ok": summary.median_error <= limit if targeted else None, "command": command,
            })
            result.append({
                "name": f"{label}, p90 error", "value": round(summary.p90_error, 1), "unit": "%",
                "target": None, "ok": None, "command": command,
            })
            result.append({
                "name": f"{label}, inside range", "value": round(summary.inside_range * 100), "unit": "%",
                "target": f">= {MIN_INSIDE_RANGE * 100:g} %" if targeted else None,
                "ok": summary.inside_range >= MIN_INSIDE_RANGE if targeted else None, "command": command,
            })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the set-aside results as a JSON list of records")
    args = parser.parse_args()
    cases, problems = speed_rows.build_cases()
    if args.json:
        print(json.dumps(records(summarize(cases)), indent=1))
        return 0
    for problem in problems:
        print(f"skipped {problem}")
    print(f"{len(cases)} usable rows ({sum(c.set_aside for c in cases)} set aside), {len(problems)} skipped\n")
    print(f"{'kind':8} {'rows':10} {'rigs':7} {'n':>4} {'median %':>9} {'p90 %':>7} {'in range':>9} {'width %':>8}")
    for key, summary in sorted(summarize(cases).items()):
        kind, side, group = key
        print(
            f"{kind:8} {side:10} {group:7} {summary.count:4d} {summary.median_error:9.1f} "
            f"{summary.p90_error:7.1f} {summary.inside_range:9.0%} {summary.median_width:8.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
