"""Time the shop search over the bundled catalog for a few budgets, models and goals.

Usage: python bench/shop_speed.py [--budget 3000 ...] [--model llama-3.3-70b ...]
       [--goal fastest ...] [--max-cards 4] [--timeout-s 600] [--json]

For each case it prints the wall time of ``core.shop.shop`` on an empty rig with llama.cpp
at Q4_K_M and 8,192 tokens of context, the card sets within budget, how many were placed,
and the top set. The target for interactive use is under 2 s. ``--json`` prints one record
per case as a JSON list for bench/run.py instead.
"""

from __future__ import annotations

import argparse
import json
import signal
import time

from rigtui.catalog import load_catalog
from rigtui.core.money import PriceBook
from rigtui.core.rig import Rig, Workload
from rigtui.core.shop import shop
from rigtui.core.upgrade import UpgradeSettings


TARGET_S = 2.0


class _TimedOut(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _TimedOut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, action="append", help="budgets in USD (default: 1500, 3000)")
    parser.add_argument("--model", action="append", help="target models (default: llama-3.3-70b, qwen2.5-32b)")
    parser.add_argument("--goal", action="append", choices=("fastest", "value", "largest"), help="goals (default: all three)")
    parser.add_argument("--max-cards", type=int, default=4)
    parser.add_argument("--timeout-s", type=int, default=600, help="give up on one case after this many seconds")
    parser.add_argument("--json", action="store_true", help="print one record per case as a JSON list")
    args = parser.parse_args()
    records: list[dict[str, object]] = []

    def record(model_id: str, budget: float, goal: str, seconds: float | None) -> None:
        records.append({
            "name": f"shop: {model_id}, {budget:.0f} USD, {goal}",
            "value": None if seconds is None else round(seconds, 2),
            "unit": "s",
            "target": f"< {TARGET_S:g} s",
            "ok": seconds is not None and seconds < TARGET_S,
            "command": f"python bench/shop_speed.py --model {model_id} --budget {budget:g} --goal {goal}",
        })

    catalog = load_catalog()
    book = PriceBook(catalog.prices, "USD")
    rig = Rig(gpus=(), os=catalog.os("ubuntu-24.04"))
    signal.signal(signal.SIGALRM, _alarm)
    if not args.json:
        print(f"{len(book.purchasable())} cards with a USD price; max {args.max_cards} cards")
        print(f"{'model':<18} {'budget':>7} {'goal':<8} {'seconds':>8} {'sets':>7} {'placed':>7}  top set")
    for model_id in args.model or ["llama-3.3-70b", "qwen2.5-32b"]:
        target = Workload(
            model=catalog.model(model_id),
            quant=catalog.quant("Q4_K_M"),
            runtime=catalog.runtime("llama.cpp"),
            ggml_types=dict(catalog.ggml_types),
        )
        for budget in args.budget or [1500.0, 3000.0]:
            for goal in args.goal or ["fastest", "value", "largest"]:
                settings = UpgradeSettings(
                    target=target, gpus=catalog.gpus, prices=book, models=tuple(catalog.models.values()),
                    goal=goal, max_cards=args.max_cards,
                )
                signal.alarm(args.timeout_s)
                start = time.perf_counter()
                try:
                    result = shop(rig, settings, budget)
                except _TimedOut:
                    record(model_id, budget, goal, None)
                    if not args.json:
                        print(f"{model_id:<18} {budget:>7.0f} {goal:<8} {'>' + str(args.timeout_s):>8}")
                    continue
                finally:
                    signal.alarm(0)
                seconds = time.perf_counter() - start
                record(model_id, budget, goal, seconds)
                if args.json:
                    continue
                top = " + ".join(result.options[0].gpu_ids) if result.options else "-"
                print(f"{model_id:<18} {budget:>7.0f} {goal:<8} {seconds:>8.2f} {result.combinations:>7} {result.evaluated:>7}  {top}")
    if args.json:
        print(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
