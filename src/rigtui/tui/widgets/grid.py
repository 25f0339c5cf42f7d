"""A light table for the fit matrix: fixed first column, cell cursor, rows rendered once.

Textual's DataTable re-renders every visible cell whenever any cell changes, which took
most of a keystroke on a whole-catalog matrix. This widget keeps each row's rendered
segments until that row changes, so a repaint only joins cached segments. It offers the
subset of the DataTable interface the fit matrix uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

PADDING = 1
"""Blank cells on each side of a cell."""
SEGMENTS_KEPT = 8192
"""Distinct rendered cells kept; a whole-catalog matrix has a few hundred plus one label per model."""


class Coordinate(NamedTuple):
    row: int
    column: int


@dataclass
class GridColumn:
    key: str
    label: str
    width: int


@dataclass
class GridRow:
    key: str
    cells: list[Text]
    """One Text per column, the first column included."""
    rendered: list[list[Segment]] | None = field(default=None, repr=False)


class Grid(Widget, can_focus=True):
    """Rows of Rich Text cells under a header, with a cell cursor and a fixed first column."""

    DEFAULT_CSS = """
    Grid {
        height: 1fr;
    }
    Grid > .grid--header {
        text-style: bold;
        background: $panel;
    }
    Grid > .grid--fixed {
        background: $panel-darken-1;
    }
    Grid > .grid--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    Grid > .grid--odd {
        background: $surface-lighten-1 20%;
    }
    """
    COMPONENT_CLASSES = {"grid--header", "grid--fixed", "grid--cursor", "grid--odd"}

    BINDINGS = [
        Binding("up", "cursor(-1, 0)", "Up", show=False),
        Binding("down", "cursor(1, 0)", "Down", show=False),
        Binding("left", "cursor(0, -1)", "Left", show=False),
        Binding("right", "cursor(0, 1)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First row", show=False),
        Binding("end", "edge(1)", "Last row", show=False),
    ]

    class CellSelected(Message):
        """A cell was clicked."""

        def __init__(self, coordinate: Coordinate) -> None:
            super().__init__()
            self.coordinate = coordinate

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: list[GridColumn] = []
        self._rows: list[GridRow] = []
        self._row_index: dict[str, int] = {}
        self._column_index: dict[str, int] = {}
        self.cursor_row = 0
        self.cursor_column = 0
        self.first_row = 0
        """Index of the top visible row."""
        self.first_column = 1
        """Index of the leftmost visible column after the fixed one."""
        self.fixed_columns = 1
        self._refresh_pending = False
        self._segments: dict[tuple, list[Segment]] = {}

    # --- the DataTable subset the fit matrix uses ----------------------------------------------

    @property
    def columns(self) -> dict[str, GridColumn]:
        return {c.key: c for c in self._columns}

    @property
    def rows(self) -> dict[str, GridRow]:
        return {r.key: r for r in self._rows}

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_coordinate(self) -> Coordinate:
        return Coordinate(self.cursor_row, self.cursor_column)

    def clear(self, columns: bool = False) -> None:
        self._rows.clear()
        self._row_index.clear()
        if columns:
            self._columns.clear()
            self._column_index.clear()
        self.refresh()

    def add_column(self, label: str, *, key: str, width: int) -> None:
        self._column_index[key] = len(self._columns)
        self._columns.append(GridColumn(key, label, width))

    def add_row(self, *cells: Text, key: str) -> None:
        self._row_index[key] = len(self._rows)
        self._rows.append(GridRow(key, list(cells)))
        # One refresh covers every row added before the next paint; a refresh per row cost
        # about a tenth of a millisecond each, over a hundred rows per filter key.
        if not self._refresh_pending:
            self._refresh_pending = True
            self.refresh()
            self.call_after_refresh(self._refreshed)

    def _refreshed(self) -> None:
        self._refresh_pending = False

    def get_cell(self, row_key: str, column_key: str) -> Text:
        return self._rows[self._row_index[row_key]].cells[self._column_index[column_key]]

    def update_cell(self, row_key: str, column_key: str, value: Text) -> None:
        row = self._rows[self._row_index[row_key]]
        row.cells[self._column_index[column_key]] = value
        row.rendered = None
        self.refresh()

    def move_cursor(self, *, row: int | None = None, column: int | None = None) -> None:
        if row is not None:
            self.cursor_row = max(0, min(row, len(self._rows) - 1))
        if column is not None:
            self.cursor_column = max(0, min(column, len(self._columns) - 1))
        self._scroll_to_cursor()
        self.refresh()

    # --- cursor and scrolling ------------------------------------------------------------------

    @property
    def _body_height(self) -> int:
        return max(1, self.size.height - 1)

    def visible_rows(self) -> range:
        """Return the indexes of the rows on screen."""
        return range(self.first_row, min(self.first_row + self._body_height, len(self._rows)))

    def visible_data_columns(self) -> list[int]:
        """Return the indexes of the columns on screen after the fixed one."""
        return self._visible_columns()

    def _visible_columns(self) -> list[int]:
        """Data column indexes that fit after the fixed column, from ``first_column``."""
        if not self._columns:
            return []
        room = self.size.width - self._columns[0].width - 2 * PADDING
        shown = []
        for index in range(self.first_column, len(self._columns)):
            room -= self._columns[index].width + 2 * PADDING
            if room < 0 and shown:
                break
            shown.append(index)
        return shown

    def _scroll_to_cursor(self) -> None:
        if self.cursor_row < self.first_row:
            self.first_row = self.cursor_row
        elif self.cursor_row >= self.first_row + self._body_height:
            self.first_row = self.cursor_row - self._body_height + 1
        if self.cursor_column >= 1:
            if self.cursor_column < self.first_column:
                self.first_column = self.cursor_column
            while self.size.width and self.cursor_column not in self._visible_columns():
                self.first_column += 1

    def action_cursor(self, rows: int, columns: int) -> None:
        self.move_cursor(row=self.cursor_row + rows, column=self.cursor_column + columns)

    def action_page(self, direction: int) -> None:
        self.move_cursor(row=self.cursor_row + direction * self._body_height)

    def action_edge(self, direction: int) -> None:
        self.move_cursor(row=0 if direction < 0 else len(self._rows) - 1)

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.first_row = max(0, min(self.first_row + 3, len(self._rows) - self._body_height))
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.first_row = max(0, self.first_row - 3)
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        row = self.first_row + event.y - 1
        x = self._columns[0].width + 2 * PADDING if self._columns else 0
        column = 0
        for index in self._visible_columns():
            x += self._columns[index].width + 2 * PADDING
            if event.x < x:
                column = index
                break
        if row < len(self._rows):
            self.move_cursor(row=row, column=column)
            self.post_message(self.CellSelected(self.cursor_coordinate))

    # --- rendering -----------------------------------------------------------------------------

    def _cached_segments(self, text: Text, width: int) -> list[Segment]:
        """Segments of a cell without the row's style, rendered once per distinct cell and width.

        A filter or sort key replaces every row, and a matrix has a few hundred distinct cells,
        so most of a repaint's cells were rendered before. Callers never change the list.
        """
        key = (text.plain, text.style, tuple(text.spans), text.justify, width)
        found = self._segments.get(key)
        if found is None:
            if len(self._segments) > SEGMENTS_KEPT:
                self._segments.clear()
            found = self._segments[key] = self._cell_segments(text, width, Style())
        return found

    def _cell_segments(self, text: Text, width: int, base: Style) -> list[Segment]:
        cell = text.copy()
        if cell.cell_len > width:
            cell.truncate(width, overflow="ellipsis")
        fill = Text(" " * (width - cell.cell_len))
        cell = fill + cell if text.justify == "right" else cell + fill
        padded = Text(" " * PADDING) + cell + Text(" " * PADDING)
        return [Segment(s.text, base + s.style if s.style else base) for s in padded.render(self.app.console)]

    def _render_row(self, row: GridRow, base: Style) -> list[list[Segment]]:
        if row.rendered is None:
            row.rendered = [self._cached_segments(cell, column.width) for cell, column in zip(row.cells, self._columns)]
        return [[Segment(s.text, base + s.style if s.style else base) for s in cell] for cell in row.rendered]

    def render_line(self, y: int) -> Strip:
        if not self._columns:
            return Strip.blank(self.size.width)
        shown = [0, *self._visible_columns()]

        if y == 0:
            header = self.get_component_rich_style("grid--header")
            segments = []
            for index in shown:
                column = self._columns[index]
                segments += self._cell_segments(Text(column.label, style="bold"), column.width, header)
            return Strip(segments).adjust_cell_length(self.size.width, header)

        row_index = self.first_row + y - 1
        if row_index >= len(self._rows):
            return Strip.blank(self.size.width, self.rich_style)
        row = self._rows[row_index]
        base = self.rich_style
        if row_index % 2:
            base = base + self.get_component_rich_style("grid--odd")
        cells = self._render_row(row, base)

        fixed = self.get_component_rich_style("grid--fixed")
        cursor = self.get_component_rich_style("grid--cursor")
        segments: list[Segment] = []
        for index in shown:
            if row_index == self.cursor_row and index == self.cursor_column:
                plain = Text(row.cells[index].plain, justify=row.cells[index].justify)
                segments += self._cell_segments(plain, self._columns[index].width, base + cursor)
            elif index == 0:
                segments += [Segment(s.text, base + fixed + s.style if s.style else base + fixed) for s in cells[0]]
            else:
                segments += cells[index]
        return Strip(segments).adjust_cell_length(self.size.width, base)
