"""`rigtui catalog`: list catalog entries, and check every catalog for errors."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

KINDS = ("gpus", "models", "quants", "runtimes", "os", "prices")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "catalog",
        help="list GPUs, models, quantizations, runtimes, operating systems or prices; or check the catalogs",
        description="List catalog entries (bundled, with the user's files merged on top), "
        "or check every catalog for errors with `rigtui catalog check`.",
    )
    parser.add_argument("what", choices=(*KINDS, "check"), help="which catalog to list, or 'check'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def open_catalog():
    """Load the catalogs for a command, printing user-file problems to stderr as warnings.

    Returns None, after printing the error, when a bundled catalog is broken; the caller then
    exits with status 1.
    """
    from rigtui.catalog import load_user_catalog
    from rigtui.errors import CatalogError

    try:
        catalog = load_user_catalog()
    except CatalogError as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return None
    for problem in catalog.problems:
        print(f"rigtui: warning: user catalog: {problem}; ignored, so bundled entries apply", file=sys.stderr)
    return catalog


def run(args: argparse.Namespace) -> int:
    catalog = open_catalog()
    if catalog is None:
        return 1
    if args.what == "check":
        return _check(catalog, as_json=args.json)
    entries = _entries(catalog, args.what)
    if args.json:
        print(json.dumps([e.model_dump(mode="json", exclude_none=True) for e in entries], indent=2))
        return 0
    _print_table(args.what, entries)
    return 0


def _entries(catalog, what: str) -> list[Any]:
    if what == "prices":
        return sorted(catalog.prices, key=lambda p: (p.gpu, p.condition, p.currency))
    table = {
        "gpus": catalog.gpus,
        "models": catalog.models,
        "quants": catalog.quants,
        "runtimes": catalog.runtimes,
        "os": catalog.oses,
    }[what]
    return list(table.values())


def _check(catalog, as_json: bool) -> int:
    from rigtui.catalog.check import check_catalog

    problems = catalog.problems + check_catalog(catalog)
    counts = {
        "gpus": len(catalog.gpus),
        "models": len(catalog.models),
        "quants": len(catalog.quants),
        "ggml_types": len(catalog.ggml_types),
        "runtimes": len(catalog.runtimes),
        "os": len(catalog.oses),
        "prices": len(catalog.prices),
    }
    if as_json:
        print(json.dumps({"ok": not problems, "counts": counts, "problems": problems}, indent=2))
    else:
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        for problem in problems:
            print(problem)
        verdict = f"{len(problems)} problem(s)" if problems else "no problems"
        print(f"Checked {summary}: {verdict}.")
    return 1 if problems else 0


def _gib(mib: int) -> str:
    return f"{mib / 1024:g} GiB"


def _columns(what: str) -> list[tuple[str, Any]]:
    if what == "gpus":
        return [
            ("id", lambda e: e.id),
            ("name", lambda e: e.name),
            ("memory", lambda e: _gib(e.memory_mib)),
            ("GB/s", lambda e: f"{e.bandwidth_gbs:g}"),
            ("FP16 TFLOPS", lambda e: f"{e.fp16_tflops:g}" if e.fp16_tflops else "n/a"),
            ("PCIe", lambda e: f"{e.pcie_gen}.0 x{e.pcie_lanes}"),
            ("W", lambda e: str(e.tdp_w)),
        ]
    if what == "models":
        return [
            ("id", lambda e: e.id),
            ("name", lambda e: e.name),
            ("params", lambda e: f"{e.params_total / 1e9:.1f}B"),
            ("active", lambda e: f"{e.active_params / 1e9:.1f}B" if e.is_moe else ""),
            ("layers", lambda e: str(e.n_layers)),
            ("context", lambda e: f"{e.max_context:,}"),
        ]
    if what == "quants":
        return [
            ("id", lambda e: e.id),
            ("format", lambda e: e.format),
            ("bpw", lambda e: "any" if e.variable_bpw else f"{e.bits_per_weight:g}"),
            ("name", lambda e: e.name),
        ]
    if what == "runtimes":
        return [
            ("id", lambda e: e.id),
            ("name", lambda e: e.name),
            ("OS", lambda e: ", ".join(e.os)),
            ("splits", lambda e: ", ".join(e.split_strategies)),
        ]
    if what == "os":
        return [
            ("id", lambda e: e.id),
            ("name", lambda e: e.name),
            ("reserve/GPU", lambda e: f"{e.reserve_per_gpu_mib} MiB"),
            ("desktop", lambda e: f"{e.desktop_reserve_mib} MiB"),
        ]
    return [
        ("gpu", lambda e: e.gpu),
        ("condition", lambda e: e.condition),
        ("range", lambda e: f"{e.low:,.0f}-{e.high:,.0f} {e.currency}"),
        ("as of", lambda e: e.as_of.isoformat()),
    ]


def _print_table(what: str, entries: list[Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(entries)} {what}", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    columns = _columns(what)
    for label, _ in columns:
        # Ids are what users type back, so they never wrap; long names fold instead.
        table.add_column(label, overflow="fold", no_wrap=label in ("id", "gpu"))
    for entry in entries:
        table.add_row(*(escape(get(entry)) for _, get in columns))
    # A pipe has no width; print the whole table rather than Rich's 80-column default.
    Console(width=None if sys.stdout.isatty() else 200).print(table)
