"""The Runtimes screen: every catalog runtime on this rig and OS, with reasons and launch command."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from rigtui.core.results import FitResult
from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.screens.settings import SettingsActions, adapt_to_runtime
from rigtui.tui.widgets.format import speed_range, tokens
from rigtui.tui.widgets.verdict import FIT_MARK, FIT_STYLE, STATUS_MARK, STATUS_STYLE, fit_class


REASON_STYLE = {"blocker": "red", "degraded": "yellow"}


class RuntimeTable(DataTable[Any]):
    BINDINGS = [
        Binding("enter", "screen.use_runtime", "Use", id="use-runtime", tooltip="Switch every screen to this runtime"),
    ]


class RuntimesScreen(SettingsActions, ExplorerScreen):
    """Every runtime's status on this rig and OS, the reasons, and its best split for the selected model."""

    HELP_TITLE = "Runtimes"
    HELP = (
        "Each runtime is checked against this rig and OS: works, works poorly or does not work, with "
        "the reasons. The split and speed are the core's best placement of the selected model with "
        "a quantization that runtime loads."
    )
    BINDINGS = [
        SettingsActions.SETTINGS_BINDINGS[0],  # o: OS
        Binding("y", "copy_command", "Copy command", id="runtime-copy", tooltip="Copy the launch command (OSC 52)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, tuple[Any, Any, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        yield RuntimeTable(id="runtimes", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="runtimes-detail-pane"):
            yield Static("", id="runtime-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(RuntimeTable)
        for label, key in (("Runtime", "runtime"), ("Status", "status"), ("Best split", "split"),
                           ("Decode", "decode"), ("Why", "why")):
            table.add_column(label, key=key)
        super().on_mount()
        table.focus()

    def _workload_for(self, runtime: Any) -> Any:
        """Return the selected workload moved to ``runtime``, with a quant and KV cache it takes."""
        app = self.rig_app
        changes = adapt_to_runtime(app, runtime)
        changes.pop("split", None)
        return app.state.workload(app.catalog, runtime=runtime.id, split="auto", **changes)

    def redraw(self) -> None:
        app = self.rig_app
        table = self.query_one(RuntimeTable)
        row = table.cursor_row
        table.clear()
        for runtime in app.catalog.runtimes.values():
            name = Text(runtime.name)
            if runtime.id == app.state.settings.runtime:
                name.stylize("bold")
                name.append(" ●", style="cyan")
            table.add_row(name, "…", "…", "…", "", key=runtime.id)
        table.move_cursor(row=row)
        self.sub_title = f"{app.state.rig.os.name} · {app.catalog.models[app.state.settings.model].name}"
        self._compute(app.state.rig)

    @work(thread=True, exclusive=True, group="runtimes", description="runtime compatibility")
    def _compute(self, rig: Any) -> None:
        app = self.rig_app
        for runtime in app.catalog.runtimes.values():
            workload = self._workload_for(runtime)
            compat = app.core.compat(rig, runtime.id, workload)
            blocked = not isinstance(compat, Failed) and compat.status == "does not work"
            fit = None if blocked else app.core.fit(rig, workload)
            self.app.call_from_thread(self._show_row, rig, runtime, workload, compat, fit)

    def _show_row(self, rig: Any, runtime: Any, workload: Any, compat: Any, fit: Any) -> None:
        if rig is not self.rig_app.state.rig:
            return
        self.answers[runtime.id] = (workload, compat, fit)
        table = self.query_one(RuntimeTable)
        if isinstance(compat, Failed):
            status, why = Text("?", style="dim"), compat.message
        else:
            status = Text(f"{STATUS_MARK.get(compat.status, '?')} {compat.status}",
                          style=STATUS_STYLE.get(compat.status, ""))
            first = compat.blockers or compat.reasons
            why = first[0].message if first else ""
        split = decode = Text("—", style="dim")
        if isinstance(fit, FitResult):
            kind = fit_class(fit)
            split = Text(f"{FIT_MARK[kind]} {fit.split}", style=FIT_STYLE[kind])
            if fit.fits and fit.decode:
                decode = Text(f"{tokens(fit.decode.expected)} tok/s")
        table.update_cell(runtime.id, "status", status, update_width=True)
        table.update_cell(runtime.id, "split", split, update_width=True)
        table.update_cell(runtime.id, "decode", decode, update_width=True)
        short = why if len(why) <= 60 else why[:59] + "…"
        table.update_cell(runtime.id, "why", Text(short, no_wrap=True), update_width=True)
        if self._highlighted() == runtime.id:
            self._show_detail(runtime.id)

    def _highlighted(self) -> str | None:
        table = self.query_one(RuntimeTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self._show_detail(event.row_key.value)

    def _show_detail(self, runtime_id: str) -> None:
        detail = self.query_one("#runtime-detail", Static)
        runtime = self.rig_app.catalog.runtimes[runtime_id]
        answer = self.answers.get(runtime_id)
        text = Text()
        text.append(runtime.name, style="bold")
        text.append(f"  ({runtime.engine})\n", style="dim")
        if answer is None:
            detail.update(text.append("computing…", style="dim"))
            return
        workload, compat, fit = answer
        if not isinstance(compat, Failed):
            text.append(f"{STATUS_MARK.get(compat.status, '?')} {compat.status}\n",
                        style=f"bold {STATUS_STYLE.get(compat.status, '')}")
            for reason in compat.reasons:
                style = REASON_STYLE.get(reason.severity, "")
                text.append("• ", style=style or "dim")
                text.append(reason.message + "\n")
        text.append(f"\n{workload.model.name} at {workload.quant.name}, {workload.context:,} tokens: ")
        if isinstance(fit, FitResult):
            kind = fit_class(fit)
            text.append(f"{FIT_MARK[kind]} {fit.split} split\n", style=FIT_STYLE[kind])
            text.append(f"Decode {speed_range(fit.decode)} · prefill {speed_range(fit.prefill)}\n")
            if fit.launch_command:
                text.append("\n" + fit.launch_command + "\n", style="bold")
        elif isinstance(fit, Failed):
            text.append(f"cannot place: {fit.message}\n", style="red")
        else:
            text.append("not placed, because the runtime does not work here\n", style="dim")
        detail.update(text)

    def action_use_runtime(self) -> None:
        runtime_id = self._highlighted()
        if runtime_id:
            self.change_runtime(runtime_id)

    def action_copy_command(self) -> None:
        runtime_id = self._highlighted()
        answer = self.answers.get(runtime_id or "")
        fit = answer[2] if answer else None
        if not isinstance(fit, FitResult) or not fit.launch_command:
            self.notify("No launch command for this runtime on this rig.", severity="warning")
            return
        self.app.copy_to_clipboard(fit.launch_command)
        self.notify("Launch command copied (OSC 52).", title="Copied", timeout=3)

