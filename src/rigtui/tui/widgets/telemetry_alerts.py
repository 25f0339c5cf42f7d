"""The list of live alerts above the GPU panels."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from rigtui.hardware.alerts import Alert


class TelemetryAlerts(Widget):
    """Current alerts, one line each; a single "no alerts" line when all is well."""

    DEFAULT_CSS = """
    TelemetryAlerts {
        height: auto;
        max-height: 6;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._alerts: list[Alert] = []

    def show(self, alerts: list[Alert]) -> None:
        """Replace the alerts shown."""
        resized = len(alerts) != len(self._alerts) or not alerts
        self._alerts = list(alerts)
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
