"""Print how close the speed model comes to the public benchmarks.

Usage: ``python bench/accuracy.py``. For decode and prefill, on fitted and set-aside rows,
single-GPU and multi-device rigs separately, it prints the median and 90th-percentile
absolute percentage error, the share of measured values inside the predicted range, and the
median width of that range (high minus low) as a percentage of the expected value.
"""

from __future__ import annotations

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


def main() -> int:
    cases, problems = speed_rows.build_cases()
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
