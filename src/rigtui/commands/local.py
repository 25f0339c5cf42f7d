"""`rigtui local`: list the models already on this disk and, given GPUs, whether each one fits."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "local",
        help="list models on this disk (Hugging Face cache, Ollama, LM Studio) and whether they fit",
        description="Find the models already on this disk and show where each one is, its quantization "
        "and size. With --gpu, each model is placed on that rig at its file's own quantization. "
        "Searched: the Hugging Face hub cache (HF_HUB_CACHE, HF_HOME), Ollama's store (OLLAMA_MODELS), "
        "LM Studio's models folder, and the folders in RIGTUI_SCAN_DIRS. Only file headers are read.",
    )
    from rigtui.commands.common import add_rig_arguments

    add_rig_arguments(parser)
    parser.add_argument("--runtime", default="llama.cpp", metavar="NAME", help="runtime for --gpu (default: llama.cpp)")
    parser.add_argument(
        "--context", type=int, default=8192, metavar="TOKENS",
        help="context length for --gpu, capped at each model's maximum (default: 8192)",
    )
    parser.add_argument(
        "--dir", action="append", default=[], metavar="FOLDER",
        help="another folder to search, repeatable; added to RIGTUI_SCAN_DIRS",
    )
    parser.add_argument(
        "--no-defaults", action="store_true",
        help="search only --dir and RIGTUI_SCAN_DIRS, not the default locations",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.commands.catalog import open_catalog
    from rigtui.commands.common import EXIT_USAGE, UsageError, build_rig, lookup
    from rigtui.paths import user_paths
    from rigtui.sources.local import CACHE_FILE, default_roots, scan_local_models

    for folder in args.dir:
        if not Path(folder).expanduser().is_dir():
            print(f"rigtui: error: --dir: {folder!r} is not a folder; give an existing folder", file=sys.stderr)
            return EXIT_USAGE
    if args.context <= 0:
        print(f"rigtui: error: --context: invalid value {args.context}; use a positive number such as 8192", file=sys.stderr)
        return EXIT_USAGE
    catalog = open_catalog()
    if catalog is None:
        return 1
    rig = runtime = None
    try:
        if args.gpu:
            rig = build_rig(catalog, args)
            runtime = lookup("runtimes", catalog.runtime, args.runtime)
    except (UsageError, ValueError) as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE

    environ = dict(os.environ)
    extra = [str(Path(folder).expanduser()) for folder in args.dir]
    if environ.get("RIGTUI_SCAN_DIRS"):
        extra.append(environ["RIGTUI_SCAN_DIRS"])
    environ["RIGTUI_SCAN_DIRS"] = os.pathsep.join(extra)
    if args.no_defaults:
        environ["RIGTUI_SCAN_DEFAULTS"] = "0"
    roots = default_roots(environ)
    scan = scan_local_models(roots, cache_file=user_paths().cache_dir / CACHE_FILE)
    rows = [_row(model, catalog, rig, runtime, args.context) for model in scan.models]
    if args.json:
        report = {
            "roots": [{"path": str(r.path), "layout": r.layout, "exists": r.path.is_dir()} for r in roots],
            "limit": scan.limit,
            "rig": [gpu.spec.name for gpu in rig.gpus] if rig else None,
            "models": rows,
        }
        print(json.dumps(report, indent=2))
    else:
        _print_table(rows, roots, scan.limit, rig is not None)
    return 0


def _row(model: Any, catalog: Any, rig: Any, runtime: Any, context: int) -> dict[str, Any]:
    """Build one model's entry for the JSON report and the table."""
    from rigtui.sources.local import quant_id

    row: dict[str, Any] = {
        "name": model.name,
        "origin": model.origin,
        "path": str(model.path),
        "repo": model.repo,
        "file_type": model.file_type,
        "quant": None,
        "file_bytes": model.file_bytes,
        "parts": model.parts,
        "params_total": model.spec.params_total if model.spec else None,
        "max_context": model.spec.max_context if model.spec else None,
        "error": model.problem,
        "fit": None,
    }
    if model.spec is None:
        return row
    quant = quant_id(model, catalog)
    row["quant"] = quant
    if rig is None:
        return row
    if quant is None:
        row["fit"] = {"error": f"quantization {model.file_type or 'unknown'} is not in the catalog"}
        return row
    row["fit"] = _fit(model, catalog, rig, runtime, quant, min(context, model.spec.max_context))
    return row


def _fit(model: Any, catalog: Any, rig: Any, runtime: Any, quant: str, context: int) -> dict[str, Any]:
    """Place one model on the rig at its file's quantization; a core error becomes the reason."""
    from rigtui.core.fit import fit
    from rigtui.core.rig import Workload
    from rigtui.sources.local import bound_weights

    spec = catalog.quants[quant]
    extra = {"model_path": str(model.path)} if spec.format == "gguf" else {}
    kv = "auto" if runtime.engine in ("vllm", "sglang") else "f16"
    workload = Workload(
        model=model.spec, quant=spec, runtime=runtime, context=context, kv_cache=kv,
        ggml_types=dict(catalog.ggml_types), extra=extra, weights=bound_weights(model, model.spec.id, quant),
    )
    try:
        result = fit(rig, workload)
    except (ValueError, KeyError, LookupError, ArithmeticError) as exc:
        return {"error": str(exc) or type(exc).__name__}
    return {
        "fits": result.fits,
        "offload": result.fits and result.uses_offload,
        "context": context,
        "split": result.split,
        "decode_tokens_per_s": result.decode.expected if result.decode else None,
        "short_device": result.short_device,
        "short_by_bytes": result.short_by_bytes,
        "launch_command": result.launch_command,
        "weights_source": result.weights_source,
    }


def _fit_text(row: dict[str, Any]) -> str:
    fit = row["fit"]
    if fit is None:
        return ""
    if "error" in fit:
        return f"n/a: {fit['error']}"
    if not fit["fits"]:
        short = f", {fit['short_device']} short by {fit['short_by_bytes'] / (1 << 30):.1f} GiB" if fit["short_device"] else ""
        return f"○ no fit{short}"
    mark = "◐ offload" if fit["offload"] else "● fits"
    speed = f" {fit['decode_tokens_per_s']:.0f} tok/s" if fit["decode_tokens_per_s"] is not None else ""
    return f"{mark}{speed} @{fit['context']:,}"


def _print_table(rows: list[dict[str, Any]], roots: list[Any], limit: str | None, with_fit: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from rigtui.sources.local import ORIGIN_LABELS

    console = Console()
    readable = [row for row in rows if row["error"] is None]
    if not rows:
        searched = ", ".join(str(r.path) for r in roots if r.path.is_dir()) or "none of the default folders exist"
        console.print(f"No models found on this disk. Searched: {searched}.", markup=False, soft_wrap=True)
        console.print("Add folders with --dir or RIGTUI_SCAN_DIRS.", markup=False)
    if readable:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("model", "from", "quant", "size", "params", *(("fit",) if with_fit else ())):
            table.add_column(column, justify="right" if column in ("size", "params") else "left")
        for row in readable:
            size = f"{row['file_bytes'] / (1 << 30):.2f} GiB" if row["file_bytes"] is not None else "?"
            params = f"{row['params_total'] / 1e9:.1f}B" if row["params_total"] else "?"
            cells = [row["name"], ORIGIN_LABELS[row["origin"]], row["file_type"] or "?", size, params]
            if with_fit:
                cells.append(_fit_text(row))
            table.add_row(*cells)
        console.print(table)
        # Paths are long, so they follow the table instead of squeezing its columns.
        for row in readable:
            console.print(f"{row['name']}: {row['path']}", markup=False, soft_wrap=True, style="dim")
    for row in rows:
        if row["error"] is not None:
            console.print(f"skipped {row['error']}", markup=False, soft_wrap=True, style="yellow")
    if limit:
        console.print(f"The search {limit}; narrow it with --dir and --no-defaults.", markup=False, style="yellow")
