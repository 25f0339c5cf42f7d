"""`rigtui fit`: does a model fit these GPUs, split how, with what context, and how fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rigtui.core.rig import SPLITS

_BAR_WIDTH = 10
# How `FitResult.weights_source` reads in the summary line.
_WEIGHTS_SOURCE_WORDS = {"gguf-header": "exact, GGUF header", "estimate": "estimated"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="check whether a model fits the given GPUs, with the split, context and speed",
        description="Place a model on a rig: bytes per device by kind, the split ratios, the largest "
        "context that fits, decode and prefill speed, and the launch command. A model that does not "
        "fit is a normal answer (exit status 0).",
    )
    from rigtui.commands.common import add_rig_arguments

    add_rig_arguments(parser)
    parser.add_argument(
        "--model", required=True, metavar="NAME",
        help="catalog model name, Hugging Face repo id (config.json is fetched when not in the catalog), "
        "or a local or http(s) GGUF file",
    )
    parser.add_argument(
        "--quant", metavar="NAME",
        help="quantization, such as Q4_K_M, awq-4bit or fp8 (default: the GGUF file's own type, else Q4_K_M)",
    )
    parser.add_argument("--runtime", default="llama.cpp", metavar="NAME", help="inference runtime (default: llama.cpp)")
    parser.add_argument("--context", type=int, default=8192, metavar="TOKENS", help="context length in tokens (default: 8192)")
    parser.add_argument("--split", default="auto", choices=[s for s in SPLITS if s != "single"], help="split strategy; auto picks the fastest that fits")
    parser.add_argument("--tensor-split", metavar="RATIOS", help="llama.cpp --tensor-split ratios, one per GPU, such as 44,36")
    parser.add_argument("--kv-cache", metavar="TYPE", help="KV cache type: f16, q8_0, q4_0, ... (llama.cpp) or fp8 (vLLM)")
    parser.add_argument("--flash-attn", choices=("on", "off"), default="on", help="flash attention (default: on)")
    parser.add_argument("--ubatch", type=int, default=512, metavar="N", help="micro-batch size in tokens (default: 512)")
    parser.add_argument("--depth", type=int, default=0, metavar="N", help="tokens already in the context while decoding (default: 0)")
    parser.add_argument("--prompt", type=int, default=512, metavar="N", help="prompt length for prefill speed (default: 512)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rigtui.commands.catalog import open_catalog
    from rigtui.commands.common import EXIT_USAGE, UsageError, build_rig, build_workload
    from rigtui.core.fit import fit
    from rigtui.errors import RigtuiError

    catalog = open_catalog()
    if catalog is None:
        return 1
    try:
        if args.ubatch <= 0:
            raise UsageError(f"--ubatch: invalid value {args.ubatch}; use a positive number such as 512")
        rig = build_rig(catalog, args)
        workload = build_workload(catalog, args)
        result = _calibrated(rig, workload, fit(rig, workload))
    except UsageError as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RigtuiError as exc:  # a download failed: not the user's input, so status 1
        print(f"rigtui: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        # Where a downloaded model's parameter count came from; None for catalog models.
        print(json.dumps(result_to_json(result) | {"params_source": workload.extra.get("params_source")}, indent=2))
    else:
        _print_summary(rig, workload, result)
    return 0


def _calibrated(rig, workload, result):
    """Apply the speeds measured on this rig (`rigtui measure`) to the result."""
    from rigtui.core.rig_calibration import calibrate
    from rigtui.sources.measurements import load_measurements

    measurements, problems = load_measurements()
    for problem in problems:
        print(f"rigtui: warning: {problem}", file=sys.stderr)
    return calibrate(rig, workload, result, measurements)


def result_to_json(result) -> dict[str, Any]:
    """The JSON shape of a FitResult that `rigtui fit --json` prints."""
    return {
        "fits": result.fits,
        "runtime": result.runtime,
        "split": result.split,
        "quant": result.quant,
        "context": result.context,
        "kv_cache": result.kv_cache,
        "devices": [
            {
                "name": d.name,
                "kind": d.kind,
                "index": d.index,
                "capacity_bytes": d.capacity_bytes,
                "weights_bytes": d.weights_bytes,
                "kv_cache_bytes": d.kv_cache_bytes,
                "compute_buffer_bytes": d.compute_buffer_bytes,
                "overhead_bytes": d.overhead_bytes,
                "reserved_bytes": d.reserved_bytes,
                "total_bytes": d.total_bytes,
                "free_bytes": d.free_bytes,
                "short_by_bytes": max(-d.free_bytes, 0),
                "layers": d.layers,
                "expert_layers": d.expert_layers,
                "holds_output": d.holds_output,
            }
            for d in result.devices
        ],
        "short_device": result.short_device,
        "short_by_bytes": result.short_by_bytes,
        "tensor_split": list(result.tensor_split) if result.tensor_split else None,
        "max_context": result.max_context,
        "model_file_bytes": result.model_file_bytes,
        "weights_source": result.weights_source,
        "decode_tokens_per_s": result.decode.as_dict() if result.decode else None,
        "prefill_tokens_per_s": result.prefill.as_dict() if result.prefill else None,
        "decode_source": getattr(result, "decode_source", "model"),
        "prefill_source": getattr(result, "prefill_source", "model"),
        "calibration_measurements": getattr(result, "calibration_count", 0),
        "launch_command": result.launch_command,
        "warnings": [{"code": w.code, "message": w.message} for w in result.warnings],
        "notes": list(result.notes),
        "alternatives": [
            {
                "split": a.split,
                "fits": a.fits,
                "decode_tokens_per_s": a.decode.as_dict() if a.decode else None,
                "max_context": a.max_context,
                "short_device": a.short_device,
                "short_by_bytes": a.short_by_bytes,
            }
            for a in result.alternatives
        ],
    }


def _num(value: int) -> str:
    return f"{value / (1 << 30):.1f}"


def _gib(value: int) -> str:
    return f"{value / (1 << 30):.2f} GiB"


def _print_summary(rig, workload, result) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not result.fits:
        verdict = Text("does not fit", style="bold red")
    elif result.uses_offload:
        verdict = Text("fits with CPU or expert offload", style="bold yellow")
    else:
        verdict = Text("fits on the GPUs", style="bold green")
    title = Text.assemble(
        f"{workload.model.name} {workload.quant.name} on ",
        " + ".join(g.name for g in rig.gpus),
        f" with {workload.runtime.name}: ",
        verdict,
    )
    console.print(title)
    if workload.extra.get("params_source"):
        console.print(f"parameters {workload.model.params_total:,} ({escape(workload.extra['params_source'])})")
    console.print(
        f"split {result.split}, context {result.context:,}, KV cache {escape(result.kv_cache)}, "
        f"file {_gib(result.model_file_bytes)} ({_WEIGHTS_SOURCE_WORDS.get(result.weights_source, result.weights_source)})"
        + (f", tensor split {','.join(f'{v:g}' for v in result.tensor_split)}" if result.tensor_split else "")
    )
    table = Table(show_edge=False, pad_edge=False, title="memory per device, GiB", title_justify="left")
    for column in ("device", "layers", "weights", "KV", "compute", "runtime", "used/cap", ""):
        table.add_column(column, justify="left" if column in ("device", "") else "right", no_wrap=column != "device")
    for d in result.devices:
        if d.kind == "cpu" and not d.total_bytes:
            continue
        table.add_row(
            escape(d.name.removeprefix("GeForce ")),
            str(d.layers) + (f"+{d.expert_layers}e" if d.expert_layers else ""),
            _num(d.weights_bytes),
            _num(d.kv_cache_bytes),
            _num(d.compute_buffer_bytes),
            _num(d.overhead_bytes),
            f"{_num(d.total_bytes)}/{_num(d.capacity_bytes)}",
            _bar(d),
        )
    console.print(table)
    if result.max_context:
        console.print(f"largest context that fits: {result.max_context:,} tokens")
    if result.decode and result.prefill:
        console.print(
            f"decode {result.decode.expected:.1f} tok/s ({result.decode.low:.1f}-{result.decode.high:.1f}), "
            f"prefill {result.prefill.expected:.0f} tok/s ({result.prefill.low:.0f}-{result.prefill.high:.0f})"
            + _speed_label(result)
        )
    for w in result.warnings:
        console.print(f"[yellow]warning[/yellow] [{escape(w.code)}] {escape(w.message)}")
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/dim]")
    if result.launch_command:
        console.print("launch:", markup=False)
        console.print("  " + result.launch_command, markup=False, soft_wrap=True)


def _speed_label(result) -> str:
    """Say when the speeds come from this rig's measurements instead of the speed model alone."""
    from rigtui.core.rig_calibration import speed_label

    label = speed_label(result)
    return f"; {label} on this rig" if label else ""


def _bar(device):
    """A stacked bar of weights (W), KV cache (K), compute (C) and runtime overhead (O) against capacity."""
    from rich.text import Text

    capacity = max(device.capacity_bytes, 1)
    scale = max(capacity, device.total_bytes)
    text = Text()
    used = 0
    for amount, char, style in (
        (device.weights_bytes, "W", "blue"),
        (device.kv_cache_bytes, "K", "magenta"),
        (device.compute_buffer_bytes, "C", "cyan"),
        (device.overhead_bytes, "O", "white"),
    ):
        cells = round(amount / scale * _BAR_WIDTH)
        text.append(char * cells, style=style)
        used += cells
    free_cells = max(round(capacity / scale * _BAR_WIDTH) - used, 0)
    text.append("·" * free_cells, style="dim")
    if device.total_bytes > capacity:
        text.append(" over", style="bold red")
    return text
