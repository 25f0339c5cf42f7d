"""The list of live alerts above the GPU panels."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from rigtui.hardware.alerts import Alert


MAX_LINES = 6
"""The maximum number of alert lines shown at once. Alerts past it are cut off."""


class TelemetryAlerts(Widget):
    """Current alerts, one line each; a single "no alerts" line when all is well."""

    DEFAULT_CSS = f"""
    TelemetryAlerts {{
        height: auto;
        max-height: {MAX_LINES};
        padding: 0 1;
    }}
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._alerts: list[Alert] = []

    def show(self, alerts: list[Alert]) -> None:
        """Replace the alerts shown."""
        alerts = list(alerts)
        if alerts == self._alerts:
            return
        # A layout pass costs more than drawing. The height changes only with the number of
        # lines below the height cap, or when a line is long enough to wrap.
        width = self.content_region.width
        resized = min(len(alerts), MAX_LINES) != min(len(self._alerts), MAX_LINES) or any(
            len(alert.text) + 2 > width for alert in (*alerts, *self._alerts)
        )
        self._alerts = alerts
        self.refresh(layout=resized)

    def render(self) -> Text:
        if not self._alerts:
            return Text("No alerts.", style="dim")
        text = Text()
        for number, alert in enumerate(self._alerts):
            if number:
                text.append("\n")
            style = "bold red" if alert.severity == "error" else "yellow"
            mark = "✖" if alert.severity == "error" else "▲"
            text.append(f"{mark} ", style=style)
            text.append(alert.text)
        return text
