"""Time the shop search over the bundled catalog for a few budgets, models and goals.

Usage: python bench/shop_speed.py [--budget 3000 ...] [--model llama-3.3-70b ...]
       [--goal fastest ...] [--max-cards 4] [--timeout-s 600] [--json]

For each case it prints the wall time of ``core.shop.shop`` on an empty rig with llama.cpp
at Q4_K_M and 8,192 tokens of context, the card sets within budget, how many were placed,
and the top set. The target for interactive use is under 2 s. The default cases are
budgets of 1,000, 3,000 and 10,000 USD for a small dense model, a 70B dense model and a
235B MoE model. ``--json`` prints instead one record per goal with the slowest case's time.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import time

from rigtui.catalog import load_catalog
from rigtui.core.money import PriceBook
from rigtui.core.rig import Rig, Workload
from rigtui.core.shop import shop
from rigtui.core.upgrade import UpgradeSettings

TARGET_S = 2.0
DEFAULT_BUDGETS = [1000.0, 3000.0, 10000.0]
DEFAULT_MODELS = ["llama-3.1-8b", "llama-3.3-70b", "qwen3-235b-a22b"]
GOALS = ("fastest", "value", "largest")


class _TimedOut(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _TimedOut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, action="append", help="budgets in USD (default: 1000, 3000, 10000)")
    parser.add_argument("--model", action="append",
                        help="target models (default: llama-3.1-8b, llama-3.3-70b, qwen3-235b-a22b)")
    parser.add_argument("--goal", action="append", choices=GOALS, help="goals (default: all three)")
    parser.add_argument("--max-cards", type=int, default=4)
    parser.add_argument("--timeout-s", type=int, default=600, help="give up on one case after this many seconds")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of records, one per goal, with the slowest case's seconds")
    args = parser.parse_args()

    catalog = load_catalog()
    book = PriceBook(catalog.prices, "USD")
    rig = Rig(gpus=(), os=catalog.os("ubuntu-24.04"))
    signal.signal(signal.SIGALRM, _alarm)
    goals = args.goal or list(GOALS)
    slowest: dict[str, float] = {}
    if not args.json:
        print(f"{len(book.purchasable())} cards with a USD price; max {args.max_cards} cards")
        print(f"{'model':<18} {'budget':>7} {'goal':<8} {'seconds':>8} {'sets':>7} {'placed':>7}  top set")
    for model_id in args.model or DEFAULT_MODELS:
        target = Workload(
            model=catalog.model(model_id),
            quant=catalog.quant("Q4_K_M"),
            runtime=catalog.runtime("llama.cpp"),
            ggml_types=dict(catalog.ggml_types),
        )
        for budget in args.budget or DEFAULT_BUDGETS:
            for goal in goals:
                settings = UpgradeSettings(
                    target=target, gpus=catalog.gpus, prices=book, models=tuple(catalog.models.values()),
                    goal=goal, max_cards=args.max_cards,
                )
                signal.alarm(args.timeout_s)
                start = time.perf_counter()
                try:
                    result = shop(rig, settings, budget)
                except _TimedOut:
                    slowest[goal] = max(slowest.get(goal, 0.0), float(args.timeout_s))
                    if not args.json:
                        print(f"{model_id:<18} {budget:>7.0f} {goal:<8} {'>' + str(args.timeout_s):>8}")
                    continue
                finally:
                    signal.alarm(0)
                seconds = time.perf_counter() - start
                slowest[goal] = max(slowest.get(goal, 0.0), seconds)
                if not args.json:
                    top = " + ".join(result.options[0].gpu_ids) if result.options else "-"
                    print(f"{model_id:<18} {budget:>7.0f} {goal:<8} {seconds:>8.2f} {result.combinations:>7} "
                          f"{result.evaluated:>7}  {top}")
    if args.json:
        # The command as run from the repository root, so that a reader can repeat it.
        command = shlex.join([".venv/bin/python", *sys.argv])
        records = [
            {
                "name": f"shop {goal}, slowest case",
                "value": round(slowest[goal], 3),
                "unit": "s",
                "target": TARGET_S,
                "ok": slowest[goal] < TARGET_S,
                "command": command,
            }
            for goal in goals if goal in slowest
        ]
        print(json.dumps(records, indent=2))


if __name__ == "__main__":
    main()
