"""Property tests that feed random and mutated input to every reader of untrusted data.

Each reader may reject an example only with the errors it documents (GgufError, SourceError
or another RigtuiError), and no example may take longer than the deadline. A normal run tries
200 examples per reader; the slow run (--run-slow) tries 10,000, as bench/fuzz.py does.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_cases import TARGETS, Target, run_checked

FAST_EXAMPLES = 200
SLOW_EXAMPLES = 10_000
# A hang shows up as a deadline error; a loaded 2-core VM needs a few milliseconds per example.
DEADLINE = timedelta(seconds=5)
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _fuzz(target: Target, examples: int) -> None:
    @settings(max_examples=examples, deadline=DEADLINE, suppress_health_check=_SUPPRESSED)
    @given(target.strategy)
    def run(example: object) -> None:
        run_checked(target, example)

    run()


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_reader_survives_fuzzing(target: Target) -> None:
    _fuzz(target, FAST_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_reader_survives_10000_cases(target: Target) -> None:
    _fuzz(target, SLOW_EXAMPLES)
