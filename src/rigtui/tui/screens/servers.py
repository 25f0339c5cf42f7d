"""The Servers screen: running inference servers, what they have loaded, and measured against predicted speed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Label, Static

from rigtui.core.results import FitResult
from rigtui.sources.servers import ServerStatus
from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.widgets.format import speed_range, tokens

GIB = 1 << 30


class ServerBackend(Protocol):
    """Where the screen gets server statuses and measurements; tests pass a fixed one."""

    def probe(self) -> list[ServerStatus]: ...

    def measure(self, status: ServerStatus, model: str | None) -> Any: ...


class LiveServers:
    """Probe the configured addresses (RIGTUI_SERVERS, config.toml, or the local defaults)."""

    def probe(self) -> list[ServerStatus]:
        from rigtui.paths import user_paths
        from rigtui.sources.servers import configured_targets, probe_all

        targets, _ = configured_targets(user_paths().config_file)
        return probe_all(targets)

    def measure(self, status: ServerStatus, model: str | None) -> Any:
        from rigtui.sources.measure import measure_generation

        return measure_generation(status, model)


@dataclass(frozen=True)
class Row:
    """One server with the prediction for its first loaded model on the shared rig."""

    status: ServerStatus
    prediction: FitResult | None
    why: str
    """Why there is no prediction; empty when there is one."""
    workload: Any = None


class ConfirmMeasure(ModalScreen[bool]):
    """Ask before sending a generation request, because it takes the server's time and tokens."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "Measure", id="confirm-measure", tooltip="Send the request"),
        Binding("n,escape", "dismiss(False)", "Cancel", id="cancel-measure", tooltip="Close without measuring"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="dialog")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body"):
            yield Label("Measure speed", classes="dialog-title")
            yield Static(Text(self.question), id="confirm-question")
            yield Label("y measures · n or Esc cancels", classes="dialog-hint")


class ServersScreen(ExplorerScreen):
    """Servers found at the configured addresses, their models, memory use and speeds."""

    HELP_TITLE = "Servers"
    HELP = (
        "rigtui probes llama-server (127.0.0.1:8080), Ollama (127.0.0.1:11434) and vLLM (127.0.0.1:8000), "
        "or the addresses in RIGTUI_SERVERS or the servers list of config.toml. Predicted speeds are the "
        "core's for the server's model on the shared rig. A measurement sends one short generation request "
        "and is stored, so every screen calibrates its speeds for this rig."
    )
    BINDINGS = [
        Binding("r", "reprobe", "Re-probe", id="servers-reprobe", tooltip="Probe every server address again"),
        Binding("m", "measure", "Measure", id="servers-measure", tooltip="Time one short generation on this server"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[ServerStatus] | None = None
        self.rows: dict[str, Row] = {}
        self.memory: tuple[Any, ...] = ()
        self.memory_problem: str | None = None
        self.probing = False

    @property
    def backend(self) -> ServerBackend:
        return getattr(self.app, "server_backend", None) or LiveServers()

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        yield DataTable(id="servers", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="servers-detail-pane"):
            yield Static("", id="server-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#servers", DataTable)
        # The model name goes last: it is the longest cell, and the detail pane shows it whole.
        for label, key in (("Server", "kind"), ("Address", "url"), ("State", "state"), ("Measured", "measured"),
                           ("Predicted", "predicted"), ("VRAM", "vram"), ("Model", "model")):
            table.add_column(label, key=key)
        super().on_mount()
        table.focus()
        self.action_reprobe()

    def redraw(self) -> None:
        self.sub_title = "probing…" if self.probing else f"{len(self.statuses or [])} addresses"
        if self.statuses is not None:
            self._predict(self.statuses, self.rig_app.state.rig)

    # --- probing ---------------------------------------------------------------------------

    def action_reprobe(self) -> None:
        self.probing = True
        self.sub_title = "probing…"
        self._probe()

    @work(thread=True, exclusive=True, group="servers", description="probe inference servers")
    def _probe(self) -> None:
        statuses = self.backend.probe()
        memory, problem = self._memory()
        self.app.call_from_thread(self._probed, statuses, memory, problem)

    def _memory(self) -> tuple[tuple[Any, ...], str | None]:
        source = getattr(self.app, "source", None)
        if source is None:
            return (), "No GPU telemetry source is open, so the memory in use per GPU is not shown."
        from rigtui.hardware.memory_use import memory_use

        return memory_use(source)

    def _probed(self, statuses: list[ServerStatus], memory: tuple[Any, ...], problem: str | None) -> None:
        self.probing = False
        self.statuses = statuses
        self.memory, self.memory_problem = memory, problem
        self.sub_title = f"{sum(s.ok for s in statuses)} of {len(statuses)} addresses answer"
        self._predict(statuses, self.rig_app.state.rig)

    @work(thread=True, exclusive=True, group="servers-predict", description="predict server speeds")
    def _predict(self, statuses: list[ServerStatus], rig: Any) -> None:
        rows = {f"{s.kind} {s.url}": self._row(s, rig) for s in statuses}
        self.app.call_from_thread(self._show, rows, rig)

    def _row(self, status: ServerStatus, rig: Any) -> Row:
        from rigtui.core.served import RUNTIME_FOR_KIND, match_model, match_quant

        if not status.ok or not status.models:
            return Row(status, None, "")
        app = self.rig_app
        loaded = status.models[0]
        model, suggestions = match_model(app.catalog, [loaded.name])
        if model is None:
            hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
            return Row(status, None, f"{loaded.name} matches no catalog model{hint}")
        quant = match_quant(app.catalog, [loaded.quant, loaded.name], status.kind)
        runtime = RUNTIME_FOR_KIND[status.kind]
        if quant is None or runtime not in app.catalog.runtimes:
            return Row(status, None, f"the quantization of {loaded.name} is unknown")
        context = loaded.context or app.state.settings.context
        workload = app.state.workload(app.catalog, model=model.id, quant=quant.id, runtime=runtime,
                                      context=context, split="auto")
        result = app.core.fit(rig, workload, calibrated=False)
        if isinstance(result, Failed):
            return Row(status, None, result.message, workload)
        if not result.fits or result.decode is None:
            return Row(status, None, f"{model.name} at {quant.name} does not fit this rig", workload)
        return Row(status, result, "", workload)

    def _show(self, rows: dict[str, Row], rig: Any) -> None:
        if rig is not self.rig_app.state.rig:
            return
        self.rows = rows
        table = self.query_one("#servers", DataTable)
        cursor = table.cursor_row
        table.clear()
        for key, row in rows.items():
            table.add_row(*self._cells(row), key=key)
        table.move_cursor(row=cursor)
        self._show_detail()

    def _cells(self, row: Row) -> list[Any]:
        status = row.status
        address = status.url.split("://", 1)[-1]
        if not status.ok:
            return [status.kind, address, Text("× no answer", style="red"), "", "", "", ""]
        state = Text(f"✓ {status.version or 'up'}", style="green")
        model = status.models[0] if status.models else None
        vram = ""
        if model and model.vram_bytes is not None:
            vram = f"{model.vram_bytes / GIB:.1f} GiB"
        measured = self._latest(status)
        shown = f"{tokens(measured['decode_tps'])} tok/s" if measured else ""
        predicted = f"{tokens(row.prediction.decode.expected)} tok/s" if row.prediction and row.prediction.decode else "—"
        name = model.name.replace("\\", "/").rsplit("/", 1)[-1] if model else "no model loaded"
        return [status.kind, address, state, shown, predicted, vram, _short(name, 40)]

    def _latest(self, status: ServerStatus) -> dict[str, Any] | None:
        records = getattr(self.app.core, "records", [])
        matching = [r for r in records if r.get("server_url") == status.url and r.get("server_kind") == status.kind
                    and isinstance(r.get("decode_tps"), (int, float))]
        return matching[-1] if matching else None

    # --- detail ----------------------------------------------------------------------------

    def _selected(self) -> Row | None:
        table = self.query_one("#servers", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key or "")

    @on(DataTable.RowHighlighted)
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        from rigtui.tui.screens.servers_detail import detail_text

        row = self._selected()
        self.query_one("#server-detail", Static).update(
            detail_text(row, self._latest(row.status) if row else None, self.memory, self.memory_problem,
                        self.statuses is None)
        )

    # --- measuring -------------------------------------------------------------------------

    def action_measure(self) -> None:
        row = self._selected()
        if row is None or not row.status.ok:
            self.notify("Select a server that answers; press r to probe again.", title="Measure", severity="warning")
            return
        if not row.status.models:
            self.notify(f"{row.status.kind} at {row.status.url} has no model loaded; load a model first, then press r.",
                        title="Measure", severity="warning", markup=False)
            return
        model = row.status.models[0].name
        question = (f"Send one generation request to {row.status.kind} at {row.status.url}"
                    + (f" with {model}" if model else "") + ": a prompt of about 300 tokens and 64 new tokens.")

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.notify("Measuring…", timeout=3)
                self._measure(row, model)

        self.app.push_screen(ConfirmMeasure(question), confirmed)

    @work(thread=True, exclusive=True, group="servers-measure", description="measure a server's speed")
    def _measure(self, row: Row, model: str | None) -> None:
        from rigtui.sources.measure import MeasureFailed

        try:
            timing = self.backend.measure(row.status, model)
        except (MeasureFailed, ValueError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Measurement failed", severity="error", markup=False)
            return
        problem, calibrating = self._store(row, timing)
        self.app.call_from_thread(self._measured, row, timing, problem, calibrating)

    def _store(self, row: Row, timing: Any) -> tuple[str | None, bool]:
        """Store the measurement; returns why it was not stored (or None) and whether it calibrates."""
        from rigtui.core.rig_calibration import Measurement, calibrates, rig_fingerprint
        from rigtui.core.served import RUNTIME_FOR_KIND
        from rigtui.sources.measurements import append_record

        rig = self.rig_app.state.rig
        workload = row.workload
        if workload is None:
            # Without a catalog model the record could never calibrate a prediction.
            return "the server's model matches no catalog model", False
        prediction = row.prediction
        measurement = Measurement(
            rig=rig_fingerprint(rig), runtime=RUNTIME_FOR_KIND[row.status.kind],
            model=workload.model.id if workload else None, quant=workload.quant.id if workload else None,
            context=workload.context if workload else None, decode_tps=timing.decode_tps, prefill_tps=timing.prefill_tps,
            predicted_decode_tps=prediction.decode.expected if prediction and prediction.decode else None,
            predicted_prefill_tps=prediction.prefill.expected if prediction and prediction.prefill else None,
            measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        )
        extra = {"server_kind": row.status.kind, "server_url": row.status.url, "server_version": row.status.version,
                 "server_model": timing.model_name, "gpus": [g.name for g in rig.gpus],
                 "prompt_tokens": timing.prompt_tokens, "generated_tokens": timing.generated_tokens}
        try:
            append_record(measurement, extra, self.app.core.measurements_file)
        except OSError as exc:
            return f"could not store it: {exc.strerror or exc}", False
        self.app.core.reload_measurements()
        return None, calibrates(measurement)

    def _measured(self, row: Row, timing: Any, problem: str | None, calibrating: bool) -> None:
        predicted = row.prediction.decode if row.prediction else None
        against = f" against {speed_range(predicted)} predicted" if predicted else ""
        message = f"{row.status.kind}: decode {tokens(timing.decode_tps)} tok/s{against}."
        if problem:
            self.notify(f"{message} The measurement is not stored: {problem}.", title="Measured", severity="warning", markup=False)
        elif calibrating:
            self.notify(f"{message} Stored; every screen now calibrates this rig's speeds.", title="Measured", markup=False)
        else:
            self.notify(f"{message} Stored; with no prediction to compare it does not calibrate speeds.",
                        title="Measured", markup=False)
        self._predict(self.statuses or [], self.rig_app.state.rig)


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
