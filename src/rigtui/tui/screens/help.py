"""The help dialog (every key of the screen below) and the terminal-too-small notice."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from rigtui.tui.widgets.format import key_name


def bindings_table(screen: Screen[Any]) -> Table:
    """Build a two-column table of the keys active on ``screen`` and what each does."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    rows: dict[str, list[str]] = {}
    text: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or not (binding.show or binding.id):
            continue
        rows.setdefault(binding.action, []).append(key_name(key))
        text[binding.action] = binding.tooltip or binding.description
        if binding.tooltip:
            text[binding.action] = f"{binding.description}: {binding.tooltip}"
    for action, keys in rows.items():
        table.add_row(" ".join(dict.fromkeys(keys)), Text(text[action]))
    table.add_row("ctrl+p", Text("Command palette: every action by name"))
    return table


class HelpScreen(ModalScreen[None]):
    """Every key binding of the screen it was opened over."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help-close", tooltip="Close the help"),
    ]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__(classes="dialog")
        self.under = under

    def compose(self) -> ComposeResult:
        title = getattr(self.under, "HELP_TITLE", None) or type(self.under).__name__
        with Vertical(classes="dialog-body help-body"):
            yield Label(f"Keys: {title}", classes="dialog-title", markup=False)
            with VerticalScroll():
                yield Static(bindings_table(self.under), id="help-keys")
                about = getattr(self.under, "HELP", None)
                if about:
                    yield Static(Text(about), id="help-about")
            yield Label("Esc closes · the mouse works too but is never needed", classes="dialog-hint")


class TooSmallScreen(ModalScreen[None]):
    """Shown instead of a broken layout while the terminal is below the minimum size."""

    BINDINGS = [Binding("q,ctrl+q", "app.quit", "Quit", id="too-small-quit")]

    def __init__(self, min_width: int, min_height: int) -> None:
        super().__init__(id="too-small")
        self.min_width = min_width
        self.min_height = min_height

    def compose(self) -> ComposeResult:
        yield Static(self._message(), id="too-small-message")

    def _message(self, width: int | None = None, height: int | None = None) -> str:
        if width is None or height is None:
            width, height = self.app.size
        return (
            f"The terminal is {width}×{height}; rigtui needs at least "
            f"{self.min_width}×{self.min_height}.\nEnlarge the window, or press q to quit."
        )

    def refresh_size(self, width: int, height: int) -> None:
        self.query_one("#too-small-message", Static).update(self._message(width, height))
