"""The base of every explorer screen: redraw when the shared state changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from rigtui.tui.app import RigApp


class ExplorerScreen(Screen[None]):
    """A screen that shows the shared rig and redraws when it changes.

    Only the visible screen redraws at once; a hidden one redraws when it is shown again,
    so one edit costs one redraw however many screens are open.
    """

    _drawn_revision = -1

    @property
    def rig_app(self) -> "RigApp":
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        self.watch(self.app, "revision", self._state_changed, init=False)
        self.redraw_if_stale()

    def on_screen_resume(self) -> None:
        self.redraw_if_stale()

    def _state_changed(self, _revision: int) -> None:
        if self.is_current:
            self.redraw_if_stale()

    def redraw_if_stale(self) -> None:
        revision = self.rig_app.revision
        if revision != self._drawn_revision:
            self._drawn_revision = revision
            self.redraw()

    def redraw(self) -> None:
        """Rebuild the widgets' contents from ``self.rig_app.state``."""
