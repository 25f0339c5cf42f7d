"""`rigtui shop`: the best sets of up to four cards a budget buys, for a target model and goal."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "shop",
        help="search every set of cards a budget buys and rank the best for a model",
        description="Search every combination of up to --max-cards cards with a price in --currency that "
        "the budget buys, optionally selling the current cards (--gpu with --sell-current), and rank the "
        "best by the goal with the same figures as `rigtui upgrade`.",
    )
    from rigtui.commands.upgrade import add_money_arguments

    parser.add_argument(
        "--gpu", action="append", default=[], metavar="NAME",
        help="a card you already have, repeatable; bought cards join them unless --sell-current",
    )
    parser.add_argument("--sell-current", action="store_true", help="sell the --gpu cards and add their used price to the budget")
    parser.add_argument("--os", default="ubuntu-24.04", metavar="NAME", help="operating system (default: ubuntu-24.04)")
    parser.add_argument("--cpu-ram", default="64G", metavar="SIZE", help="system RAM, such as 64G (default: 64G)")
    add_money_arguments(parser)
    parser.add_argument("--max-cards", type=int, default=4, metavar="N", help="most cards in the rig, current ones included (default: 4)")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="how many sets to list (default: 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.commands.catalog import open_catalog
    from rigtui.commands.common import EXIT_USAGE, UsageError, lookup, parse_size
    from rigtui.commands.upgrade import build_settings, option_to_json, print_options, workload_json
    from rigtui.core.rig import Rig, RigGpu
    from rigtui.core.shop import shop

    catalog = open_catalog()
    if catalog is None:
        return 1
    try:
        if args.budget is None:
            raise UsageError("--budget is required; give the most to spend, such as --budget 3000")
        if args.top < 1:
            raise UsageError(f"--top: invalid value {args.top}; use 1 or more")
        if args.sell_current and not args.gpu:
            raise UsageError("--sell-current needs the cards to sell; add --gpu NAME")
        specs = []
        for text in args.gpu:
            try:
                specs.extend(lookup("gpus", catalog.gpus_from, text))
            except ValueError as exc:
                if isinstance(exc, UsageError):
                    raise
                raise UsageError(f"--gpu: {exc}") from None
        multi = len(specs) > 1
        gpus = tuple(RigGpu(spec=s, pcie_gen=min(4, s.pcie_gen), pcie_lanes=min(8 if multi else 16, s.pcie_lanes)) for s in specs)
        rig = Rig(gpus=gpus, os=lookup("os", catalog.os, args.os), cpu_ram_bytes=parse_size(args.cpu_ram, "--cpu-ram"))
        if not args.sell_current and len(gpus) >= args.max_cards:
            raise UsageError(f"--max-cards: the rig already has {len(gpus)} cards; raise --max-cards or add --sell-current")
        settings = build_settings(catalog, args, rig)
    except UsageError as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = shop(rig, settings, args.budget, sell_current=args.sell_current, top=args.top)
    if args.json:
        print(json.dumps({
            "goal": result.goal,
            "currency": result.currency,
            "budget": result.budget,
            "target": workload_json(settings),
            "sell_current": args.sell_current,
            "combinations": result.combinations,
            "evaluated": result.evaluated,
            "purchasable": list(result.purchasable),
            "options": [option_to_json(f) for f in result.options],
            "notes": list(result.notes),
        }, indent=2))
        return 0
    from rich.console import Console

    console = Console()
    target = settings.target
    console.print(
        f"Best card sets for {args.budget:,.0f} {result.currency} by {result.goal}, target {target.model.name} "
        f"{target.quant.name} with {target.runtime.name} ({result.combinations:,} sets within budget, "
        f"{result.evaluated:,} placed)", markup=False,
    )
    if not result.options:
        console.print("No set of cards fits the budget.", markup=False)
    else:
        print_options("card sets", result.options, result.currency)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    return 0
