"""`rigtui upgrade`: what each way of changing the rig's cards costs, unlocks and runs at, ranked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

GOAL_HELP = "rank by the largest model that fits, decode speed on the target, or net cost per token/s gained"
# The comparison a mixed-pair owner reads about: the same 70B model at 4 bits on matched pairs.
COMPARISON_MODEL = "llama-3.3-70b"
COMPARISON_QUANT = "Q4_K_M"
COMPARISON_PAIRS = ((("rtx-3090", "rtx-3090"), True), (("rtx-4090", "rtx-4090"), False))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upgrade",
        help="rank the ways to change the rig's cards: cost, memory, speed, power",
        description="List the options for the rig (keep, sell a card and buy its match, add a card, "
        "replace every card, bridge a pair), each with its net cost after resale, usable memory, the "
        "largest model that fits, speed on the target model, power and PSU need, running cost and "
        "12-month cost, ranked by the goal. Prices come from the catalog in one currency, never converted.",
    )
    from rigtui.commands.common import add_rig_arguments

    add_rig_arguments(parser)
    add_money_arguments(parser)
    parser.add_argument("--max-cards", type=int, default=4, metavar="N", help="most cards the rig can hold (default: 4)")
    parser.add_argument("--psu", type=int, metavar="W", help="the rig's PSU rating in W, to flag a PSU upgrade")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.set_defaults(func=run)


def add_money_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the target workload, goal, currency, price and electricity options that upgrade and shop share."""
    parser.add_argument("--target-model", required=True, metavar="NAME", help="model to measure speed on, such as llama-3.3-70b")
    parser.add_argument("--quant", default="Q4_K_M", metavar="NAME", help="quantization (default: Q4_K_M)")
    parser.add_argument("--context", type=int, default=8192, metavar="TOKENS", help="context length in tokens (default: 8192)")
    parser.add_argument("--runtime", default="llama.cpp", metavar="NAME", help="inference runtime (default: llama.cpp)")
    parser.add_argument("--goal", choices=("largest", "fastest", "value"), default="fastest", help=GOAL_HELP + " (default: fastest)")
    parser.add_argument("--budget", type=float, metavar="AMOUNT", help="most to spend, net of resale, in --currency")
    parser.add_argument("--currency", default="USD", metavar="CODE", help="currency of prices and budget (default: USD); no conversion")
    parser.add_argument("--condition", choices=("new", "used", "any"), default="any",
                        help="buy new, used, or whichever is cheaper (default: any)")
    parser.add_argument(
        "--price", action="append", default=[], metavar="GPU=AMOUNT[:used|new]",
        help="your own price for a card in --currency, repeatable; without :used or :new it sets both",
    )
    parser.add_argument("--kwh-price", type=float, metavar="AMOUNT", help="electricity price per kWh in --currency")
    parser.add_argument("--hours-per-day", type=float, default=8.0, metavar="H", help="hours per day at load (default: 8)")


def parse_price(text: str, catalog) -> Any:
    """Parse 'RTX 3090=650:used' into a price override for a catalog card."""
    from rigtui.commands.common import UsageError, lookup
    from rigtui.core.money import PriceOverride

    name, sep, rest = text.rpartition("=")
    if not sep or not name.strip():
        raise UsageError(f"--price: invalid value {text!r}; use GPU=AMOUNT or GPU=AMOUNT:used, such as 'RTX 3090=650:used'")
    amount_text, _, condition = rest.partition(":")
    try:
        amount = float(amount_text)
    except ValueError:
        raise UsageError(f"--price: invalid amount {amount_text!r} in {text!r}; use a number such as 650") from None
    if amount < 0:
        raise UsageError(f"--price: amount {amount:g} in {text!r} is negative; use 0 or more")
    if condition not in ("", "new", "used"):
        raise UsageError(f"--price: invalid condition {condition!r} in {text!r}; use :new or :used")
    if name.strip().lower() == "nvlink-bridge":
        return ("nvlink-bridge", amount)
    spec = lookup("gpus", catalog.gpu, name.strip())
    return PriceOverride(spec.id, amount, condition or None)  # type: ignore[arg-type]


def build_settings(catalog, args: argparse.Namespace, rig) -> Any:
    """Build the upgrade settings that the shared options describe."""
    from rigtui.commands.common import UsageError, lookup
    from rigtui.core.money import PriceBook
    from rigtui.core.rig import Workload
    from rigtui.core.upgrade import UpgradeSettings

    if args.context <= 0:
        raise UsageError(f"--context: invalid value {args.context}; use a positive number of tokens such as 8192")
    if args.hours_per_day < 0 or args.hours_per_day > 24:
        raise UsageError(f"--hours-per-day: {args.hours_per_day:g} is out of range; use 0 to 24")
    if args.kwh_price is not None and args.kwh_price < 0:
        raise UsageError(f"--kwh-price: {args.kwh_price:g} is negative; use 0 or more")
    if args.budget is not None and args.budget < 0:
        raise UsageError(f"--budget: {args.budget:g} is negative; use 0 or more")
    currency = args.currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise UsageError(f"--currency: invalid code {args.currency!r}; use a three-letter code such as USD or EUR")
    if not 1 <= args.max_cards <= 8:
        raise UsageError(f"--max-cards: {args.max_cards} is out of range; use 1 to 8")
    model = lookup("models", catalog.model, args.target_model)
    quant = lookup("quants", catalog.quant, args.quant)
    runtime = lookup("runtimes", catalog.runtime, args.runtime)
    kv = "auto" if runtime.engine in ("vllm", "sglang") else "f16"
    target = Workload(model=model, quant=quant, runtime=runtime, context=min(args.context, model.max_context),
                      kv_cache=kv, ggml_types=dict(catalog.ggml_types))
    overrides = []
    bridge = None
    for text in args.price:
        parsed = parse_price(text, catalog)
        if isinstance(parsed, tuple):
            bridge = parsed[1]
        else:
            overrides.append(parsed)
    book = PriceBook(catalog.prices, currency, overrides)
    models = tuple(m for m in catalog.models.values())
    return UpgradeSettings(
        target=target,
        gpus=catalog.gpus,
        prices=book,
        models=models,
        goal=args.goal,
        budget=args.budget,
        kwh_price=args.kwh_price,
        hours_per_day=args.hours_per_day,
        buy_condition=args.condition,
        max_cards=args.max_cards,
        nvlink_bridge_price=bridge,
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from rigtui.commands.catalog import open_catalog
    from rigtui.commands.common import EXIT_USAGE, UsageError, build_rig
    from rigtui.core.upgrade import mixed_rig_comparison, plan_upgrades

    catalog = open_catalog()
    if catalog is None:
        return 1
    try:
        rig = build_rig(catalog, args)
        if args.psu is not None:
            if args.psu <= 0:
                raise UsageError(f"--psu: invalid value {args.psu}; use the PSU rating in W, such as 1200")
            rig = replace(rig, psu_w=args.psu)
        settings = build_settings(catalog, args, rig)
    except UsageError as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    plan = plan_upgrades(rig, settings)
    comparison = mixed_rig_comparison(rig, comparison_settings(catalog, settings), COMPARISON_PAIRS)
    if args.json:
        print(json.dumps(plan_to_json(plan, settings, comparison), indent=2))
    else:
        print_plan(plan, settings, comparison)
    return 0


def comparison_settings(catalog, settings) -> Any:
    """Return the settings with the comparison's 70B model at 4 bits as target, when the catalog has them."""
    from dataclasses import replace

    model = catalog.models.get(COMPARISON_MODEL)
    quant = catalog.quants.get(COMPARISON_QUANT)
    if model is None or quant is None:
        return settings
    return replace(settings, target=replace(settings.target, model=model, quant=quant))


def money_json(figures) -> dict[str, Any] | None:
    """Build the net_cost object: range, currency, the oldest price date used, and staleness."""
    cost = figures.net_cost
    if cost is None:
        return None
    dates = [q.as_of for q in figures.purchases + figures.sales if q.as_of is not None]
    return {
        "low": round(cost.low, 2),
        "expected": round(cost.expected, 2),
        "high": round(cost.high, 2),
        "currency": cost.currency,
        "as_of": min(dates).isoformat() if dates else None,
        "stale": bool(figures.stale_prices),
        "upper_bound": bool(figures.unpriced_sales),
    }


def option_to_json(figures) -> dict[str, Any]:
    """Build the JSON object of one option that `rigtui upgrade --json` and `rigtui shop --json` print."""
    largest = figures.largest_models[0] if figures.largest_models else None
    power = figures.power
    warnings = []
    if power.psu_upgrade_needed:
        warnings.append({"code": "psu-upgrade", "message": power.messages[-1]})
    for gpu_id in figures.stale_prices:
        warnings.append({"code": "stale-price", "message": f"The price used for {gpu_id} is older than six months."})
    for note in figures.price_notes:
        warnings.append({"code": "price", "message": note})
    if figures.fit is not None:
        warnings.extend({"code": w.code, "message": w.message} for w in figures.fit.warnings)
    return {
        "id": figures.option.id,
        "title": figures.option.title,
        "gpus": list(figures.gpu_ids),
        "nvlink": bool(figures.rig.nvlink_pairs),
        "net_cost": money_json(figures),
        "usable_vram_bytes": figures.usable_vram_bytes,
        "largest_model": {"id": largest.id, "name": largest.name, "params": largest.params_total} if largest else None,
        "target_fits": figures.target_fits,
        "decode_tokens_per_s": figures.decode.as_dict() if figures.decode else None,
        "prefill_tokens_per_s": figures.prefill.as_dict() if figures.prefill else None,
        "cost_per_token_s": round(figures.cost_per_token_s, 2) if figures.cost_per_token_s is not None else None,
        "power": {
            "board_w": power.gpu_board_w,
            "sustained_w": power.sustained_w,
            "peak_w": round(power.transient_w),
            "psu_recommended_w": power.recommended_psu_w,
            "psu_upgrade_needed": power.psu_upgrade_needed,
        },
        "slots_needed": figures.slots_needed,
        "lanes": figures.lanes_needed,
        "yearly_electricity": round(figures.electricity_per_year, 2) if figures.electricity_per_year is not None else None,
        "tco_12_months": figures.tco_12_months.as_dict() if figures.tco_12_months else None,
        "within_budget": figures.within_budget,
        "rank": figures.rank,
        "reason": figures.rank_reason,
        "warnings": warnings,
    }


def workload_json(settings) -> dict[str, Any]:
    target = settings.target
    return {"model": target.model.id, "quant": target.quant.id, "runtime": target.runtime.id, "context": target.context}


def plan_to_json(plan, settings, comparison) -> dict[str, Any]:
    return {
        "goal": plan.goal,
        "currency": plan.currency,
        "budget": settings.budget,
        "target": workload_json(settings),
        "baseline_decode_tokens_per_s": round(plan.baseline_tps, 2),
        "options": [option_to_json(f) for f in plan.options],
        "comparison": [option_to_json(f) for f in comparison],
        "notes": list(plan.notes),
    }


def _money(amount: float | None, currency: str) -> str:
    from rigtui.core.money import format_money

    return "—" if amount is None else format_money(amount, currency)


# Figure columns of the text table, each (header, width). The option's title takes its own line
# above its figures, and the largest model takes what is left of the line, so a row fits 80 columns.
_RANK_WIDTH = 3


def _figure_columns(currency: str, with_tco: bool) -> list[tuple[str, int]]:
    columns = [(f"net {currency}", 11), ("VRAM", 7), ("decode", 6), (f"{currency}/tok/s", 9), ("power", 11)]
    if with_tco:
        columns.append((f"12-mo {currency}", 9))
    return columns


def _figure_cells(f, with_tco: bool) -> list[str]:
    if f.net_cost is None:
        cost = "no price"
    else:
        cost = ("≤ " if f.unpriced_sales else "") + f"{f.net_cost.expected:,.0f}" + (" *" if f.stale_prices else "")
    cells = [
        cost,
        f"{f.usable_vram_bytes / (1 << 30):.0f} GiB",
        f"{f.decode.expected:.1f}" if f.decode and f.target_fits else "no fit",
        # A rig that runs the target partly on the CPU has a speed, but no per-token/s cost worth comparing.
        "—" if f.cost_per_token_s is None or not f.target_fits else f"{f.cost_per_token_s:,.0f}",
        f"{f.power.sustained_w} W" + (" PSU!" if f.psu_upgrade_needed else ""),
    ]
    if with_tco:
        cells.append("—" if f.tco_12_months is None else f"{f.tco_12_months.expected:,.0f}")
    return cells


def print_options(title: str, options, currency: str, show_reason: bool = True) -> None:
    """Print options two lines each: the rank and title, then cost, memory, speed, power and the largest model."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    # 12-month cost equals the net cost unless an electricity price adds running cost.
    with_tco = any(f.electricity_per_year is not None for f in options)
    columns = _figure_columns(currency, with_tco)
    used = _RANK_WIDTH + 1 + sum(width + 2 for _, width in columns)
    largest_width = max(console.width - used, 10)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", width=_RANK_WIDTH)
    grid.add_column()
    header = "  ".join(label.rjust(width) for label, width in columns) + "  largest"
    grid.add_row("", Text(header, style="dim", no_wrap=True, overflow="ellipsis"))
    for f in options:
        # A long title wraps under itself, clear of the rank.
        grid.add_row(f"{f.rank}." if f.rank else "", Text(f.option.title))
        cells = _figure_cells(f, with_tco)
        largest = f.largest_models[0].name if f.largest_models else "—"
        if len(largest) > largest_width:
            largest = largest[: largest_width - 1] + "…"
        line = "  ".join(cell.rjust(width) for cell, (_, width) in zip(cells, columns)) + "  " + largest
        grid.add_row("", Text(line, no_wrap=True, overflow="ellipsis"))
    console.print(title, markup=False, style="bold")
    console.print(grid)
    if show_reason:
        for f in options[:5]:
            console.print(f"{f.rank}. {f.rank_reason}", markup=False, style="dim")


def print_plan(plan, settings, comparison) -> None:
    from rich.console import Console

    target = settings.target
    console = Console()
    console.print(
        f"Upgrade options by {plan.goal}, target {target.model.name} {target.quant.name} with {target.runtime.name}; "
        f"prices in {plan.currency} (* older than six months)", markup=False,
    )
    print_options("options", plan.options, plan.currency)
    if comparison:
        print_options("mixed pair against matched pairs, 70B at 4 bits", comparison, plan.currency, show_reason=False)
    for f in plan.options[:3]:
        if f.psu_upgrade_needed:
            console.print(f"warning: {f.option.title}: {f.power.messages[-1]}", markup=False)
    for note in plan.notes:
        console.print(f"note: {note}", markup=False)
    # The table marks a net cost that leaves out a sold card's resale with ≤; say which card and how to price it.
    resale_notes = dict.fromkeys(n for f in plan.options if f.unpriced_sales for n in f.price_notes if n.startswith("Resale of"))
    for note in resale_notes:
        console.print(f"note: {note}", markup=False)
