"""Feed random and mutated input to every reader of untrusted data in rigtui.sources.

Usage: python bench/fuzz.py [--cases 10000] [--only NAME ...] [--seed N] [--json]

The readers and inputs are the ones tests/sources/test_fuzz_sources.py checks: GGUF headers
(random bytes and real headers with bit flips, cuts and forged lengths), config.json files,
inference server responses, stored measurement records, Hugging Face repositories (tree
listing, safetensors index and headers, GGUF headers, online and from the cache) and the
responses to `rigtui measure`'s timed generation request. For each reader it prints the
cases run, the failures (an exception other than the errors the reader documents, or a case
slower than MAX_CASE_S), the slowest case and the time taken. ``--json`` prints one record
per figure as a JSON list for bench/run.py instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "sources"))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from fuzz_cases import TARGETS, Target, run_checked  # noqa: E402

DEFAULT_CASES = 10_000
# The tests' deadline: a case slower than this counts as a hang.
MAX_CASE_S = 5.0
SHOWN_FAILURES = 3


@dataclass
class Outcome:
    """Counts and timings from fuzzing one reader."""

    name: str
    cases: int = 0
    failures: int = 0
    slowest_s: float = 0.0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)
    """The first failures: the exception and the input that raised it."""


def fuzz(target: Target, cases: int, random_seed: int) -> Outcome:
    """Run ``cases`` examples through one target, counting failures instead of stopping at the first."""
    outcome = Outcome(target.name)

    @seed(random_seed)
    @settings(max_examples=cases, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def run(example: Any) -> None:
        outcome.cases += 1
        started = time.perf_counter()
        failure = None
        try:
            run_checked(target, example)
        except Exception as exc:  # noqa: BLE001 - every unexpected exception is a finding to count
            failure = f"{type(exc).__name__}: {str(exc)[:200]}"
        elapsed = time.perf_counter() - started
        outcome.slowest_s = max(outcome.slowest_s, elapsed)
        if failure is None and elapsed > MAX_CASE_S:
            failure = f"took {elapsed:.1f} s"
        if failure is not None:
            outcome.failures += 1
            if len(outcome.examples) < SHOWN_FAILURES:
                outcome.examples.append(f"{failure}\n      input: {repr(example)[:300]}")

    started = time.perf_counter()
    run()
    outcome.seconds = time.perf_counter() - started
    return outcome


def records(outcome: Outcome, cases: int, command: str) -> list[dict[str, Any]]:
    """Return bench/run.py records: failures and the slowest case against targets, the time as information."""
    return [
        {"name": f"fuzz {outcome.name}: failures", "value": outcome.failures, "unit": f"in {outcome.cases:,} cases",
         "target": f"0 in >= {cases:,} cases", "ok": outcome.failures == 0 and outcome.cases >= cases, "command": command},
        {"name": f"fuzz {outcome.name}: slowest case", "value": round(outcome.slowest_s * 1000, 1), "unit": "ms",
         "target": f"< {MAX_CASE_S * 1000:g} ms", "ok": outcome.slowest_s < MAX_CASE_S, "command": command},
        {"name": f"fuzz {outcome.name}: time", "value": round(outcome.seconds, 1), "unit": "s",
         "target": None, "ok": None, "command": command},
    ]


def main() -> int:
    names = [target.name for target in TARGETS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help=f"examples per reader (default {DEFAULT_CASES:,})")
    parser.add_argument("--only", action="append", choices=names, metavar="NAME",
                        help=f"fuzz only this reader; repeat for several ({', '.join(names)})")
    parser.add_argument("--seed", type=int, default=0, help="random seed, so a run can be repeated (default 0)")
    parser.add_argument("--json", action="store_true", help="print records as a JSON list for bench/run.py")
    args = parser.parse_args()
    if args.cases <= 0:
        parser.error(f"--cases: invalid value {args.cases}; use a positive number such as 10000")

    command = f"python bench/fuzz.py --cases {args.cases} --seed {args.seed}"
    selected = [target for target in TARGETS if not args.only or target.name in args.only]
    outcomes = []
    for target in selected:
        if not args.json:
            print(f"fuzzing {target.name} …", file=sys.stderr, flush=True)
        outcomes.append(fuzz(target, args.cases, args.seed))

    if args.json:
        print(json.dumps([r for outcome in outcomes for r in records(outcome, args.cases, command)], indent=1))
    else:
        print(f"{'reader':<22} {'cases':>7} {'failures':>8} {'slowest ms':>10} {'seconds':>8}")
        for outcome in outcomes:
            print(f"{outcome.name:<22} {outcome.cases:>7,} {outcome.failures:>8} "
                  f"{outcome.slowest_s * 1000:>10.1f} {outcome.seconds:>8.1f}")
            for example in outcome.examples:
                print(f"    {example}")
    return 1 if any(o.failures or o.cases < args.cases for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
