"""The detail pane of the Servers screen: one server's models, speeds and the GPUs' memory in use."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from rigtui.tui.widgets.format import speed_range, tokens

GIB = 1 << 30


def _gib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / GIB:.1f} GiB"


def detail_text(row: Any, measured: dict[str, Any] | None, memory: tuple[Any, ...], memory_problem: str | None,
                probing: bool) -> Text:
    """Describe the selected server, then every GPU's memory in use."""
    text = Text()
    if row is None:
        text.append("Probing the server addresses…" if probing else "No server address is configured.", style="dim")
        return text
    status = row.status
    text.append(f"{status.kind} at {status.url}", style="bold")
    if not status.ok:
        text.append(f"\n{status.error}\n", style="red")
    else:
        text.append(f"  version {status.version or 'n/a'}" + ("  · busy" if status.busy else "") + "\n")
        _models(text, status)
        _speeds(text, row, status, measured)
    for note in status.notes:
        text.append(f"note: {note}\n", style="dim")
    _gpus(text, memory, memory_problem)
    return text


def _models(text: Text, status: Any) -> None:
    if not status.models:
        text.append("No model loaded", style="yellow")
        if status.available:
            text.append(f"; downloaded: {', '.join(status.available[:4])}", style="dim")
        text.append("\n")
    for model in status.models:
        text.append(f"• {model.name}\n")
        facts = [f"context {model.context:,}" if model.context else None,
                 f"quant {model.quant}" if model.quant else None,
                 f"size {_gib(model.size_bytes)}" if model.size_bytes else None,
                 f"in VRAM {_gib(model.vram_bytes)}" if model.vram_bytes is not None else None]
        shown = [f for f in facts if f]
        if shown:
            text.append("  " + " · ".join(shown) + "\n", style="dim")


def _speeds(text: Text, row: Any, status: Any, measured: dict[str, Any] | None) -> None:
    if status.speeds is not None:
        text.append(f"Server average: decode {tokens(status.speeds.decode_tps)} tok/s, "
                    f"prefill {tokens(status.speeds.prefill_tps)} tok/s ({status.speeds.source})\n")
    if measured:
        text.append(f"Measured: decode {tokens(measured.get('decode_tps'))} tok/s, "
                    f"prefill {tokens(measured.get('prefill_tps'))} tok/s ({measured.get('measured_at', '')})\n")
    else:
        text.append("Not measured yet; press m to time one short generation.\n", style="dim")
    if row.prediction is not None:
        workload = row.workload
        text.append(f"Predicted for {workload.model.name} at {workload.quant.name}, context {workload.context:,}, "
                    f"{row.prediction.split} split: decode {speed_range(row.prediction.decode)}, "
                    f"prefill {speed_range(row.prediction.prefill)}\n")
    elif row.why:
        text.append(f"No prediction: {row.why}\n", style="yellow")


def _gpus(text: Text, memory: tuple[Any, ...], problem: str | None) -> None:
    text.append("\nGPU memory in use\n", style="bold")
    if problem:
        text.append(problem + "\n", style="dim")
        return
    for gpu in memory:
        text.append(f"GPU {gpu.index} {gpu.name}: {_gib(gpu.used_bytes)} of {_gib(gpu.total_bytes)}\n")
        for process in gpu.processes:
            name = process.name or f"pid {process.pid}"
            text.append(f"  {name} (pid {process.pid}): {_gib(process.used_bytes)}\n", style="dim")
    if any(gpu.processes for gpu in memory):
        text.append("Processes as listed when rigtui started.\n", style="dim")
