"""The base of every explorer screen: redraw when the shared state changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.screen import Screen

if TYPE_CHECKING:
    from rigtui.tui.app import RigApp


WIDE_COLUMNS = 120
"""Terminal width from which screens use their wide layout (class ``-wide``)."""


class ExplorerScreen(Screen[None]):
    """A screen that shows the shared rig and redraws when it changes.

    Only the visible screen redraws at once; a hidden one redraws when it is shown again,
    so one edit costs one redraw however many screens are open.
    """

    _drawn_revision: object = -1
    _ready = False
    """True once the subclass has built its widgets, so a redraw can fill them."""

    @property
    def rig_app(self) -> "RigApp":
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self._ready = True
        self.set_class(self.app.size.width >= WIDE_COLUMNS, "-wide")
        self.watch(self.app, "revision", self._state_changed, init=False)
        self.redraw_if_stale()

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE_COLUMNS
        if wide != self.has_class("-wide"):
            self.set_class(wide, "-wide")
            if self._ready:
                self._drawn_revision = -1
                self.redraw_if_stale()

    def on_screen_resume(self) -> None:
        self.redraw_if_stale()

    def _state_changed(self, _revision: int) -> None:
        if self.is_current:
            self.redraw_if_stale()

    def redraw_if_stale(self) -> None:
        # New speed measurements change figures without a rig edit, so they count too.
        revision = (self.rig_app.revision, getattr(self.rig_app.core, "measurements_version", 0))
        if revision != self._drawn_revision:
            self._drawn_revision = revision
            self.redraw()

    def redraw(self) -> None:
        """Rebuild the widgets' contents from ``self.rig_app.state``."""
