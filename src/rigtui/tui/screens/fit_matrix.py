"""The fit matrix: models against quantizations or context lengths, on the shared rig.

Cells come from ``core.matrix``, which gives what ``core.fit`` gives, through the app's cache.
A thread worker places the cells that are not cached yet in two batches, the rows on screen
first, so the table paints at once. Filters, sorting and search only re-arrange cached results.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Hashable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, Label
from textual.worker import get_current_worker

from rigtui.core.rig import Workload
from rigtui.core.specs import ModelSpec
from rigtui.tui.app import LOCAL_MARK
from rigtui.tui.compute import Failed
from rigtui.tui.screens.base import ExplorerScreen
from rigtui.tui.screens.settings import quant_choices
from rigtui.tui.state import rig_key
from rigtui.tui.widgets.grid import Grid
from rigtui.tui.widgets.format import context_label, params_label, tokens
from rigtui.tui.widgets.verdict import FIT_MARK, FIT_STYLE, fit_class

log = logging.getLogger(__name__)

CONTEXT_COLUMNS = (4096, 8192, 16384, 32768, 65536, 131072)
# When a runtime loads many GGUF types, the matrix shows this ladder (plus the selected quant)
# instead of every type: one column per common size step.
GGUF_LADDER = ("F16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ3_XXS", "Q2_K", "IQ2_XXS")
MAX_QUANT_COLUMNS = 10
PENDING = "…"
CELL_WIDTH = 6
FIRST_ROWS = 40
"""Rows the worker places before the rest while the table has no size yet: a tall terminal's first screen."""
CHUNK_CELLS = 250
"""Cells the worker places per core call after the first batch; it checks for cancellation between calls."""
GRIDS_KEPT = 48
"""Rig and runtime variants whose cells stay in memory, so undo and redo show the old matrix at once.

About as many matrices as the core service's cache holds; the cells are shared with it, so each
kept variant costs only its dict of about a thousand entries.
"""
"""Room for a mark and a three-digit speed ("● 142")."""
SIZE_FILTERS: tuple[tuple[str, float, float], ...] = (
    ("all sizes", 0, float("inf")),
    ("< 10B", 0, 10e9),
    ("10–40B", 10e9, 40e9),
    ("40–100B", 40e9, 100e9),
    ("> 100B", 100e9, float("inf")),
)
MOE_FILTERS = ("MoE+dense", "MoE only", "dense only")
SORTS = ("name", "speed", "size")
# Kept under 78 characters so the whole line shows at 80 columns.
LEGEND = "● on GPUs  ◐ CPU or expert offload  ○ no fit  — past model context  · tok/s"
MODEL_WIDTH = 24
"""Characters of the model column below the wide layout; longer names end in an ellipsis."""
MODEL_WIDTH_WIDE = 36


def _freeze_survivors() -> None:
    """Move the objects alive now out of the cyclic garbage collector's reach.

    The filled matrix's results live as long as the app, and a full collection rescanned them
    with the catalog and the rows, about 170 ms at a time, during later keys. The collection
    here frees garbage first, and after the first fill it scans only objects made since the
    last one. It runs after the repaint, so the filled matrix is on screen before it.
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug("collected and froze %d objects in %.0f ms", gc.get_freeze_count(), (time.perf_counter() - started) * 1000)


@functools.lru_cache(maxsize=4096)
def _cell_text(text: str, style: str) -> Text:
    """One shared Text per distinct cell: a redraw shows about a thousand cells of a few hundred kinds.

    Building a Text checks its string for control codes, which took most of a filter key's
    redraw. The grid copies a Text before it changes one, so sharing them is safe.
    """
    return Text(text, style=style, justify="right")


def _chunks(rows: list[tuple[ModelSpec, list[Column]]], cells: int) -> list[list[tuple[ModelSpec, list[Column]]]]:
    """Split rows of missing cells into runs of whole rows with about ``cells`` cells each."""
    chunks: list[list[tuple[ModelSpec, list[Column]]]] = [[]]
    size = 0
    for row in rows:
        if size >= cells:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += len(row[1])
    return chunks


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    quant: str
    context: int


class MatrixTable(Grid):
    """The matrix itself; enter opens the cell's detail."""

    BINDINGS = [
        Binding("enter", "screen.open_detail", "Detail", id="open-detail", tooltip="Placement, speed and command"),
        Binding("space", "screen.use_cell", "Use", id="use-cell", tooltip="Use this model and column everywhere"),
    ]


class FitMatrixScreen(ExplorerScreen):
    """Models against quantizations or contexts on the shared rig: fit and decode speed per cell."""

    HELP_TITLE = "Fit matrix"
    HELP = (
        "● fits on the GPUs, ◐ fits with CPU or MoE-expert offload, ○ does not fit; the number is the "
        "expected decode speed in tokens/s. A dash marks a context longer than the model reads. "
        "Columns are quantizations at the selected context, or context lengths at the selected quantization."
    )
    BINDINGS = [
        Binding("slash", "search", "Search", id="matrix-search", tooltip="Filter models by name"),
        Binding("escape", "clear_search", "Clear", id="matrix-clear", tooltip="Clear the search", show=False),
        Binding("c", "toggle_columns", "Columns", id="toggle-columns", tooltip="Quantizations or context lengths"),
        Binding("f", "cycle_family", "Family", id="cycle-family", tooltip="Filter by model family"),
        Binding("z", "cycle_size", "Size", id="cycle-size", tooltip="Filter by parameter count"),
        Binding("m", "cycle_moe", "MoE", id="cycle-moe", tooltip="MoE models, dense models or both"),
        Binding("o", "cycle_sort", "Sort", id="cycle-sort", tooltip="Sort by name, speed or size"),
        Binding("d", "toggle_local", "Disk", id="toggle-local", tooltip="Only the models found on this disk"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.columns_by_context = False
        self.family: str | None = None
        self.size_filter = 0
        self.moe_filter = 0
        self.sort = 0
        self.search = ""
        self.local_only = False
        """Show only models found on this disk."""
        self._local_count = 0
        """Models found on this disk at the last redraw; the footer shows the filter key once there are some."""
        self.rows: list[ModelSpec] = []
        self.columns: list[Column] = []
        self.pending = 0
        """Cells of the current table still waiting for the core."""
        self.grid: dict[tuple[str, str, int], Any] = {}
        """Cells already computed for the current rig and runtime settings, by (model, quant, context)."""
        self._grids: OrderedDict[Hashable, dict[tuple[str, str, int], Any]] = OrderedDict()

    def compose(self) -> ComposeResult:
        yield Header(icon="*")
        yield Label("", id="matrix-status", markup=False)
        yield Input(placeholder="search models: type, enter keeps, esc clears", id="matrix-search")
        yield MatrixTable(id="matrix")
        yield Label(LEGEND, id="matrix-legend", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(MatrixTable).focus()

    # --- model and column selection ----------------------------------------------------------

    def _columns(self) -> list[Column]:
        app = self.rig_app
        settings = app.state.settings
        if self.columns_by_context:
            quant = app.catalog.quants[settings.quant]
            return [Column(f"ctx-{c}", context_label(c), quant.id, c) for c in CONTEXT_COLUMNS]
        runtime = app.catalog.runtimes[settings.runtime]
        quants = quant_choices(app, runtime)
        if len(quants) > MAX_QUANT_COLUMNS:
            # Models found on disk have a cell only in their file's own quant, so it stays a column.
            keep = set(GGUF_LADDER) | {settings.quant} | {quant for _, quant in app.state.local_files.values()}
            quants = [q for q in quants if q.id in keep] or quants[:MAX_QUANT_COLUMNS]
        return [Column(f"q-{q.id}", q.name, q.id, settings.context) for q in quants]

    def _models(self) -> list[ModelSpec]:
        models = list(self.rig_app.catalog.models.values())
        _, low, high = SIZE_FILTERS[self.size_filter]
        models = [m for m in models if low <= m.params_total < high]
        if self.family:
            models = [m for m in models if m.family == self.family]
        if self.moe_filter == 1:
            models = [m for m in models if m.is_moe]
        elif self.moe_filter == 2:
            models = [m for m in models if not m.is_moe]
        if self.local_only:
            models = [m for m in models if m.id in self.rig_app.state.local_files]
        if self.search:
            needle = self.search.lower()
            models = [m for m in models if needle in m.name.lower() or needle in m.id or needle in m.family]
        sort = SORTS[self.sort]
        if sort == "size":
            return sorted(models, key=lambda m: (-m.params_total, m.name))
        if sort == "speed":
            return sorted(models, key=lambda m: (-self._sort_speed(m), m.name))
        return sorted(models, key=lambda m: (m.family, m.params_total, m.name))

    def _sort_speed(self, model: ModelSpec) -> float:
        """Decode speed in the cursor's column, from the cache only; unknown sorts last."""
        table = self.query_one(MatrixTable)
        index = max(0, table.cursor_column - 1)
        if not self.columns or index >= len(self.columns):
            return -1.0
        result = self._peek(model, self._file_column(model, self.columns[index]))
        if result is None or isinstance(result, Failed) or not result.fits or result.decode is None:
            return -1.0
        return result.decode

    def _workload(self, model: ModelSpec, column: Column) -> Workload:
        return self.rig_app.state.workload(self.rig_app.catalog, model=model.id, quant=column.quant,
                                           context=column.context)

    def _peek(self, model: ModelSpec, column: Column) -> Any:
        return self.grid.get((model.id, column.quant, column.context))

    def _file_column(self, model: ModelSpec, column: Column) -> Column:
        """Return the column at the quant of the model's file when the model was found on this disk."""
        local = self.rig_app.state.local_files.get(model.id)
        return column if local is None else replace(column, quant=local[1])

    def _select_grid(self) -> None:
        """Point ``self.grid`` at the cells for the current rig and runtime settings.

        A screen-local dict keyed by short tuples keeps a redraw of the whole catalog cheap;
        building a Workload and its cache key for every cell took most of a redraw's time.
        """
        settings = self.rig_app.state.settings
        key = (rig_key(self.rig_app.state.rig), settings.runtime, settings.kv_cache, settings.flash_attn,
               settings.split)
        grid = self._grids.pop(key, None)
        self.grid = grid if grid is not None else {}
        self._grids[key] = self.grid
        while len(self._grids) > GRIDS_KEPT:
            self._grids.popitem(last=False)

    # --- drawing -----------------------------------------------------------------------------

    def redraw(self) -> None:
        if len(self.rig_app.state.local_files) != self._local_count:
            self._local_count = len(self.rig_app.state.local_files)
            self.refresh_bindings()
        self._select_grid()
        self.columns = self._columns()
        self.rows = self._models()
        table = self.query_one(MatrixTable)
        cursor = table.cursor_coordinate
        table.clear(columns=True)
        table.add_column("Model", key="model", width=MODEL_WIDTH_WIDE if self.has_class("-wide") else MODEL_WIDTH)
        for column in self.columns:
            table.add_column(column.label, key=column.key, width=max(len(column.label), CELL_WIDTH))
        self.pending = 0
        missing: list[tuple[ModelSpec, list[Column]]] = []
        for model in self.rows:
            label = Text(overflow="ellipsis", no_wrap=True)
            label.append(params_label(model.params_total).rjust(6), style="dim")
            local = model.id in self.rig_app.state.local_files
            if local:
                label.append(f" {LOCAL_MARK}", style="bold")
            label.append(f" {model.name}")
            cells = []
            todo = []
            for matrix_column in self.columns:
                column = self._file_column(model, matrix_column)
                if local and column.quant != matrix_column.quant and not self.columns_by_context:
                    cells.append(Text(""))
                    continue
                result = self._peek(model, column)
                if result is None and column.context <= model.max_context:
                    todo.append(column)
                cells.append(self._cell(model, column, result))
            table.add_row(label, *cells, key=model.id)
            if todo:
                missing.append((model, todo))
                self.pending += len(todo)
        table.fixed_columns = 1
        if self.rows:
            table.move_cursor(row=min(cursor.row, len(self.rows) - 1),
                              column=min(max(cursor.column, 1), len(self.columns)))
        self._draw_status()
        self._draw_progress()
        if missing:
            self._fill(self.rig_app.state.rig, self.grid, self._in_view_first(table, missing))

    def _in_view_first(self, table: MatrixTable,
                       missing: list[tuple[ModelSpec, list[Column]]]) -> list[list[tuple[ModelSpec, list[Column]]]]:
        """Split the missing cells into the batch in view and the rest, for the worker to place in that order.

        A what-if edit places the whole matrix again, and on a rig of several cards that takes
        seconds, so the cells on screen come back first. Before the table has a size, the
        first ``FIRST_ROWS`` rows make the first batch.
        """
        if not table.size.height:
            return [missing[:FIRST_ROWS], missing[FIRST_ROWS:]]
        shown_rows = table.visible_rows()
        rows = {model.id for model in self.rows[shown_rows.start:shown_rows.stop]}
        keys = {self.columns[index - 1].key for index in table.visible_data_columns()}
        first, rest = [], []
        for model, columns in missing:
            if model.id not in rows:
                rest.append((model, columns))
                continue
            shown = [column for column in columns if column.key in keys]
            hidden = [column for column in columns if column.key not in keys]
            if shown:
                first.append((model, shown))
            if hidden:
                rest.append((model, hidden))
        return [first, rest]

    def _draw_progress(self) -> None:
        legend = self.query_one("#matrix-legend", Label)
        if self.pending:
            legend.update(f"computing… {self.pending} cells left · keys work meanwhile")
        else:
            legend.update(LEGEND)

    def _draw_status(self) -> None:
        settings = self.rig_app.state.settings
        quant = self.rig_app.catalog.quants[settings.quant]
        columns = f"ctx @{quant.name}" if self.columns_by_context else f"quant @{context_label(settings.context)}"
        parts = [
            f"{len(self.rows)} models",
            columns,
            self.family or "all families",
            SIZE_FILTERS[self.size_filter][0],
            MOE_FILTERS[self.moe_filter],
            f"by {SORTS[self.sort]}",
        ]
        if self.search:
            parts.insert(1, f"/{self.search}")
        if self.rig_app.state.local_files:
            parts.append(f"{LOCAL_MARK} only" if self.local_only else f"{LOCAL_MARK} {len(self.rig_app.state.local_files)}")
        self.query_one("#matrix-status", Label).update(" · ".join(parts))

    def _cell(self, model: ModelSpec, column: Column, result: Any) -> Text:
        if column.context > model.max_context:
            return _cell_text("—", "dim")
        if result is None:
            return _cell_text(PENDING, "dim")
        kind = fit_class(result)
        if kind == "no":
            return _cell_text(FIT_MARK[kind], FIT_STYLE[kind])
        speed = tokens(result.decode) if result.decode is not None else "?"
        return _cell_text(f"{FIT_MARK[kind]} {speed}", FIT_STYLE[kind])

    @work(thread=True, exclusive=True, group="fit-matrix", description="fill the fit matrix")
    def _fill(self, rig: Any, grid: dict[tuple[str, str, int], Any],
              batches: list[list[tuple[ModelSpec, list[Column]]]]) -> None:
        worker = get_current_worker()
        core = self.rig_app.core
        # The cells on screen come back first. The rest follow in chunks, so that after a
        # newer edit cancels this worker, its thread stops within one chunk instead of
        # competing with the new worker for seconds on a rig of several cards.
        for rows in (chunk for batch in batches for chunk in _chunks(batch, CHUNK_CELLS)):
            if worker.is_cancelled:
                return
            if not rows:
                continue
            workloads = [self._workload(model, column) for model, columns in rows for column in columns]
            cells = iter(core.cells(rig, workloads))
            batch = [(model, [(column, next(cells)) for column in columns]) for model, columns in rows]
            if worker.is_cancelled:
                return
            self.app.call_from_thread(self._update_rows, rig, grid, batch)

    def _update_rows(self, rig: Any, grid: dict[tuple[str, str, int], Any],
                     batch: list[tuple[ModelSpec, list[tuple[Column, Any]]]]) -> None:
        for model, cells in batch:
            for column, result in cells:
                grid[(model.id, column.quant, column.context)] = result
        if rig is not self.rig_app.state.rig or grid is not self.grid:
            return
        table = self.query_one(MatrixTable)
        for model, cells in batch:
            if model.id not in table.rows:
                continue
            for column, result in cells:
                if column.key not in table.columns:
                    continue
                previous = table.get_cell(model.id, column.key)
                if previous.plain == PENDING and result is not None:
                    self.pending = max(0, self.pending - 1)
                table.update_cell(model.id, column.key, self._cell(model, column, result))
        self._draw_progress()
        if not self.pending:
            self.call_after_refresh(_freeze_survivors)

    # --- actions -----------------------------------------------------------------------------

    def _selected(self) -> tuple[ModelSpec, Column] | None:
        table = self.query_one(MatrixTable)
        if not self.rows or not self.columns:
            return None
        row = min(table.cursor_row, len(self.rows) - 1)
        column = min(max(table.cursor_column - 1, 0), len(self.columns) - 1)
        return self.rows[row], self._file_column(self.rows[row], self.columns[column])

    def action_open_detail(self) -> None:
        from rigtui.tui.screens.fit_detail import FitDetailScreen

        selected = self._selected()
        if selected is None:
            self.notify("No model matches the filters.", severity="warning")
            return
        model, column = selected
        self.app.push_screen(FitDetailScreen(model.id, column.quant, column.context))

    def action_use_cell(self) -> None:
        selected = self._selected()
        if selected is None:
            return
        model, column = selected
        quant = self.rig_app.catalog.quants[column.quant]
        self.rig_app.set_settings(
            f"select {model.name} at {quant.name}, {context_label(column.context)}",
            model=model.id, quant=column.quant, context=column.context,
        )
        self.notify(f"{model.name} · {quant.name} · {context_label(column.context)} is now the selected workload.",
                    timeout=3, markup=False)

    @on(Grid.CellSelected)
    def _cell_selected(self) -> None:
        self.action_open_detail()

    def _rearrange(self) -> None:
        self._drawn_revision = -1
        self.redraw_if_stale()

    def action_toggle_columns(self) -> None:
        self.columns_by_context = not self.columns_by_context
        self._rearrange()

    def action_cycle_family(self) -> None:
        families = sorted({m.family for m in self.rig_app.catalog.models.values()})
        order = [None, *families]
        self.family = order[(order.index(self.family) + 1) % len(order)] if self.family in order else None
        self._rearrange()

    def action_cycle_size(self) -> None:
        self.size_filter = (self.size_filter + 1) % len(SIZE_FILTERS)
        self._rearrange()

    def action_cycle_moe(self) -> None:
        self.moe_filter = (self.moe_filter + 1) % len(MOE_FILTERS)
        self._rearrange()

    def action_cycle_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self._rearrange()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the disk filter until the scan has found models on this disk."""
        if action == "toggle_local":
            return bool(self.rig_app.state.local_files)
        return True

    def action_toggle_local(self) -> None:
        self.local_only = not self.local_only
        self._rearrange()

    def action_search(self) -> None:
        search = self.query_one("#matrix-search", Input)
        search.add_class("-visible")
        search.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#matrix-search", Input)
        search.value = ""
        search.remove_class("-visible")
        self.search = ""
        self._rearrange()
        self.query_one(MatrixTable).focus()

    @on(Input.Changed, "#matrix-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self._rearrange()

    @on(Input.Submitted, "#matrix-search")
    def _search_done(self) -> None:
        self.query_one(MatrixTable).focus()
        if not self.search:
            self.query_one("#matrix-search", Input).remove_class("-visible")
