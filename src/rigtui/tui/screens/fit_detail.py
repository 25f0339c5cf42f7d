"""The detail of one fit-matrix cell: where every byte goes, how fast, and the command to run it."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from rigtui.core.results import FitResult
from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.widgets.charts import device_bars, legend, speed_plot
from rigtui.core.rig_calibration import speed_label
from rigtui.tui.widgets.format import context_label, speed_range, tokens
from rigtui.tui.widgets.verdict import FIT_MARK, FIT_STYLE, FIT_WORDS, fit_class

# Depths for the speed plot, as fractions of the largest context that fits.
PLOT_FRACTIONS = (0.0, 0.125, 0.25, 0.5, 0.75, 1.0)
# The summary's last line: whether the weight bytes are the model file's own or an estimate.
WEIGHTS_SOURCE_LINES = {
    "gguf-header": "Weights: exact tensor sizes from the GGUF header",
    "estimate": "Weights: estimated from the quantization's rules",
}


class FitDetailScreen(ExplorerScreen):
    """Placement, speed and launch command for one model, quantization and context on the shared rig."""

    HELP_TITLE = "Fit detail"
    HELP = "Bars show each device's memory by kind against what it offers the runtime."
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", id="detail-back", tooltip="Back to the fit matrix"),
        Binding("y", "copy_command", "Copy command", id="copy-command", tooltip="Copy the launch command (OSC 52)"),
        Binding("space", "use", "Use", id="detail-use", tooltip="Use this model, quant and context everywhere"),
    ]

    def __init__(self, model: str, quant: str, context: int) -> None:
        super().__init__()
        self.model_id = model
        self.quant_id = quant
        self.context = context
        self.result: FitResult | Failed | None = None

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-summary")
            yield Static("", id="detail-bars")
            yield Static("", id="detail-plot")
            yield Static("", id="detail-command")
            yield Static("", id="detail-notes")
        yield Footer(compact=True)

    def _workload(self, **changes: Any) -> Any:
        return self.rig_app.state.workload(self.rig_app.catalog, model=self.model_id, quant=self.quant_id,
                                           context=self.context, **changes)

    def redraw(self) -> None:
        app = self.rig_app
        model = app.catalog.models[self.model_id]
        quant = app.catalog.quants[self.quant_id]
        self.sub_title = f"{model.name} · {quant.name} · {context_label(self.context)}"
        self.query_one("#detail-summary", Static).update(Text("computing…", style="dim"))
        self._compute(app.state.rig)

    @work(thread=True, exclusive=True, group="fit-detail", description="fit detail")
    def _compute(self, rig: Any) -> None:
        core = self.rig_app.core
        workload = self._workload()
        result = core.fit(rig, workload)
        points: list[tuple[int, float]] = []
        if isinstance(result, FitResult) and result.fits:
            limit = result.max_context or self.context
            for fraction in PLOT_FRACTIONS:
                depth = int(limit * fraction)
                estimate = core.speed_at_depth(rig, workload, result, depth)
                if not isinstance(estimate, Failed):
                    points.append((depth, estimate.decode.expected))
        self.app.call_from_thread(self._show, rig, workload, result, points)

    def _show(self, rig: Any, workload: Any, result: Any, points: list[tuple[int, float]]) -> None:
        if rig is not self.rig_app.state.rig:
            return
        self.result = result
        summary = self.query_one("#detail-summary", Static)
        bars = self.query_one("#detail-bars", Static)
        plot = self.query_one("#detail-plot", Static)
        command = self.query_one("#detail-command", Static)
        notes = self.query_one("#detail-notes", Static)
        if isinstance(result, Failed):
            summary.update(Text(f"○ cannot place this workload: {result.message}", style="red"))
            for widget in (bars, plot, command, notes):
                widget.update("")
            return
        summary.update(self._summary(workload, result))
        width = max(10, min(48, self.size.width - 50))
        bars.update(Group(Text("Memory per device", style="bold"), device_bars(result.devices, width), legend()))
        plot.update(Group(Text("\nDecode speed as the context fills", style="bold"), speed_plot(points))
                    if len(points) > 1 else "")
        command.update(Text(result.launch_command or "no launch command for this runtime", no_wrap=False))
        notes.update(self._notes(result))

    def _summary(self, workload: Any, result: FitResult) -> Text:
        kind = fit_class(result)
        text = Text()
        text.append(f"{FIT_MARK[kind]} {FIT_WORDS[kind]}", style=f"bold {FIT_STYLE[kind]}")
        text.append(f" · {result.split} split on {workload.runtime.name}")
        if result.tensor_split:
            text.append(" · tensor split " + "/".join(f"{r:g}" for r in result.tensor_split))
        text.append("\n")
        if not result.fits and result.short_device:
            text.append(f"{result.short_device} is short by {result.short_by_bytes / (1 << 30):.1f} GiB\n", style="red")
        placed = [f"{d.name}: layers {d.first_layer}–{d.first_layer + d.layers - 1}"
                  for d in result.devices if d.layers and d.first_layer is not None]
        if placed:
            text.append("Layers  " + " · ".join(placed) + "\n")
        text.append(f"Largest context that fits: {context_label(result.max_context)}\n")
        text.append(f"Decode  {speed_range(result.decode)}\nPrefill {speed_range(result.prefill)}\n")
        label = speed_label(result)
        if label:
            text.append(f"Speeds {label} on this rig\n", style="cyan")
        text.append(WEIGHTS_SOURCE_LINES.get(result.weights_source, f"Weights: {result.weights_source}") + "\n", style="dim")
        return text

    def _notes(self, result: FitResult) -> Text:
        text = Text()
        if result.warnings:
            text.append("\nWarnings\n", style="bold")
            for warning in result.warnings:
                text.append(f"• {warning.message}\n", style="yellow")
        if result.notes:
            text.append("\nWhy this placement\n", style="bold")
            for note in result.notes:
                text.append(f"• {note}\n")
        if result.alternatives:
            text.append("\nOther strategies\n", style="bold")
            for other in result.alternatives:
                kind = fit_class(other)
                speed = f"{tokens(other.decode.expected)} tok/s" if other.decode and other.fits else ""
                text.append(f"{FIT_MARK[kind]} {other.split:<18} {FIT_WORDS[kind]:<18} {speed}\n",
                            style=FIT_STYLE[kind])
        return text

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_copy_command(self) -> None:
        result = self.result
        if not isinstance(result, FitResult) or not result.launch_command:
            self.notify("There is no launch command to copy for this workload.", severity="warning")
            return
        self.app.copy_to_clipboard(result.launch_command)
        self.notify("Launch command copied (OSC 52: your terminal must allow clipboard writes).",
                    title="Copied", timeout=3)

    def action_use(self) -> None:
        app = self.rig_app
        model = app.catalog.models[self.model_id]
        app.set_settings(f"select {model.name}", model=self.model_id, quant=self.quant_id, context=self.context)
        self.notify(f"{model.name} is now the selected workload.", timeout=3, markup=False)
