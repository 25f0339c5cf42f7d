"""A minimal app that shows only the Telemetry screen, for Pilot and snapshot tests."""

from __future__ import annotations

from textual.app import App

from rigtui.hardware.fake import FakeSource
from rigtui.hardware.source import TelemetrySource
from rigtui.tui.screens.telemetry import TelemetryScreen


class TelemetryTestApp(App[None]):
    """Pushes one TelemetryScreen over a fixed source, with a frozen poll clock."""

    def __init__(self, source: TelemetrySource | None, *, autostart: bool = False, interval_s: float = 1.0) -> None:
        super().__init__()
        self.source = source
        self.telemetry = TelemetryScreen(source, interval_s=interval_s, clock=lambda: 0.0, autostart=autostart)

    def on_mount(self) -> None:
        self.push_screen(self.telemetry)


def demo_app(scenario: str, **options: object) -> TelemetryTestApp:
    return TelemetryTestApp(FakeSource(scenario, seed=0), **options)  # type: ignore[arg-type]
