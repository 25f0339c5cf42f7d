"""Modal dialogs: pick one entry from a list with fuzzy search, or type a value."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class Choice:
    """One entry of a picker: the value returned, the text shown and matched, and a hint."""

    value: str
    label: str
    hint: str = ""


class Picker(ModalScreen[str | None]):
    """Choose one entry; typing filters the list by fuzzy match on the label and hint."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="picker-cancel", tooltip="Close without choosing"),
        Binding("down", "cursor_down", "Next", show=False),
        Binding("up", "cursor_up", "Previous", show=False),
    ]

    def __init__(
        self,
        title: str,
        choices: list[Choice],
        current: str | None = None,
        take_text: Callable[[str], bool] | None = None,
    ) -> None:
        """Build the picker. ``take_text``, when given, selects the typed text that Enter returns as it is,
        instead of a choice. With it, Enter also returns the typed text when no choice matches."""
        super().__init__(classes="dialog")
        self.title_text = title
        self.choices = choices
        self.current = current
        self.take_text = take_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(placeholder="type to filter", id="picker-filter")
            yield OptionList(id="picker-options")
            yield Label("Enter chooses · Esc cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill("")
        options = self.query_one(OptionList)
        for index, choice in enumerate(self.shown):
            if choice.value == self.current:
                options.highlighted = index
                break

    def _fill(self, text: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        if text:
            matcher = Matcher(text)
            scored = [(matcher.match(f"{c.label} {c.hint}"), c) for c in self.choices]
            self.shown = [c for score, c in sorted(scored, key=lambda s: -s[0]) if score > 0]
        else:
            self.shown = list(self.choices)
        for choice in self.shown:
            prompt = Text(choice.label)
            if choice.hint:
                prompt.append(f"  {choice.hint}", style="dim")
            options.add_option(Option(prompt, id=choice.value))
        if self.shown:
            options.highlighted = 0

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _submit_filter(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.take_text is not None and text and (self.take_text(text) or not self.shown):
            self.dismiss(text)
            return
        options = self.query_one(OptionList)
        if options.highlighted is not None and self.shown:
            self.dismiss(self.shown[options.highlighted].value)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()


class Busy(ModalScreen[None]):
    """A long task's progress. Escape sets ``cancel`` and closes the dialog."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="busy-cancel", tooltip="Stop the task")]

    def __init__(self, title: str, cancel: threading.Event) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.cancel = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Label("starting…", id="busy-status", markup=False)
            yield Label("Esc cancels", classes="dialog-hint")

    def report(self, text: str) -> None:
        """Show how far the task has come, unless the dialog is already closed."""
        if self.is_attached:
            self.query_one("#busy-status", Label).update(text)

    def action_cancel(self) -> None:
        self.cancel.set()
        self.dismiss(None)


class Prompt(ModalScreen[str | None]):
    """Ask for one value; ``check`` returns an error message for invalid text, or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="prompt-cancel", tooltip="Close without changing")]

    def __init__(
        self,
        title: str,
        value: str = "",
        hint: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.hint = hint
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-body"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(value=self.value, id="prompt-input", select_on_focus=True)
            yield Label(self.hint, id="prompt-error", classes="dialog-hint", markup=False)

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        problem = self.check(event.value) if self.check else None
        if problem:
            error = self.query_one("#prompt-error", Label)
            error.update(problem)
            error.add_class("-error")
            return
        self.dismiss(event.value)


def number_check(low: float, high: float, unit: str) -> Callable[[str], str | None]:
    """A ``Prompt`` check that accepts a number from ``low`` to ``high``."""

    def check(text: str) -> str | None:
        try:
            value = float(text)
        except ValueError:
            return f"invalid number {text!r}; enter {unit} from {low:g} to {high:g}"
        if not low <= value <= high:
            return f"{value:g} is out of range; enter {unit} from {low:g} to {high:g}"
        return None

    return check


def currency_check(text: str) -> str | None:
    """A ``Prompt`` check that accepts a three-letter currency code."""
    code = text.strip()
    if len(code) != 3 or not code.isalpha():
        return f"invalid currency {text!r}; enter a three-letter code such as USD or EUR"
    return None


def optional_number_check(low: float, high: float, unit: str) -> Callable[[str], str | None]:
    """A ``Prompt`` check like ``number_check`` that also accepts an empty value."""
    check = number_check(low, high, unit)
    return lambda text: None if not text.strip() else check(text)


TOKEN_SUFFIXES = {"k": 1 << 10, "m": 1 << 20}
"""Binary multipliers, as llama.cpp users write contexts: 32k is 32,768 tokens."""


def parse_tokens(text: str) -> int:
    """Parse a token count such as 32768, 32k, 128K or 1M (k = 1024, M = 1024²).

    Raises:
        ValueError: the text is not a number, or not a whole number of tokens.
    """
    cleaned = text.strip().replace(",", "").replace("_", "")
    multiplier = TOKEN_SUFFIXES.get(cleaned[-1:].lower(), 1)
    if multiplier != 1:
        cleaned = cleaned[:-1]
    tokens = float(cleaned) * multiplier
    if not math.isfinite(tokens) or tokens != int(tokens):
        raise ValueError(f"{text!r} is not a whole number of tokens")
    return int(tokens)


def tokens_check(low: int, high: int) -> Callable[[str], str | None]:
    """A ``Prompt`` check that accepts a token count from ``low`` to ``high``, with k and M suffixes."""
    bounds = f"enter tokens from {low:,} to {high:,} (32k = 32,768)"

    def check(text: str) -> str | None:
        try:
            tokens = parse_tokens(text)
        except ValueError:
            return f"invalid token count {text!r}; {bounds}"
        if not low <= tokens <= high:
            return f"{tokens:,} is out of range; {bounds}"
        return None

    return check
