"""Live GPU telemetry: per-GPU figures, history sparklines and alerts.

Sampling runs in a thread worker. The next poll is scheduled only after the previous one has
been drawn, so a slow driver can never pile up polls, and polling stops while the screen is
hidden or paused. History lives in deques owned by the UI thread; the worker only hands over
immutable samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from rigtui.errors import TelemetryUnavailable
from rigtui.hardware.alerts import rig_alerts
from rigtui.hardware.source import RigInfo, RigSample, TelemetrySource
from rigtui.tui.widgets.telemetry_alerts import TelemetryAlerts
from rigtui.tui.widgets.telemetry_gpu import GpuHistory, GpuPanel

INTERVALS_S: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
IDLE_LINK_NOTE = "PCIe links drop to a lower generation when idle to save power; that is normal."


class TelemetryScreen(Screen[None]):
    """Per-GPU live figures from a telemetry source.

    Args:
        source: where samples come from; None shows a notice that telemetry is off.
        interval_s: seconds between the end of one poll and the start of the next.
        clock: monotonic seconds, used to time each poll for the status line.
        autostart: poll as soon as the screen is shown; tests turn it off and call ``poll_now``.
    """

    DEFAULT_CSS = """
    TelemetryScreen #telemetry-status { height: auto; padding: 0 1; background: $boost; }
    TelemetryScreen #telemetry-notice { padding: 1 2; color: $warning; }
    TelemetryScreen #telemetry-note { height: auto; padding: 0 1; color: $text-muted; }
    TelemetryScreen #telemetry-gpus { height: 1fr; }
    """

    HELP_TITLE = "Telemetry"
    HELP = "Live figures of each GPU from the open telemetry source, with history and alerts."
    BINDINGS = [
        Binding("p", "toggle_pause", "Pause", id="telemetry.pause", tooltip="Pause or resume sampling"),
        Binding("plus,equals_sign", "faster", "Faster", id="telemetry.faster", tooltip="Sample more often"),
        Binding("minus", "slower", "Slower", id="telemetry.slower", tooltip="Sample less often"),
    ]

    @dataclass
    class SampleReceived(Message):
        """A new sample was drawn."""

        sample: RigSample

        def can_replace(self, message: Message) -> bool:
            # Only the newest sample matters when the app falls behind.
            return isinstance(message, TelemetryScreen.SampleReceived)

    def __init__(
        self,
        source: TelemetrySource | None,
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        autostart: bool = True,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        if interval_s <= 0:
            raise ValueError(f"telemetry interval must be positive, got {interval_s}")
        self.source = source
        self.interval_s = interval_s
        self.clock = clock
        self.autostart = autostart
        self.paused = False
        self.info: RigInfo | None = None
        self.unavailable: str | None = None
        self.sample_count = 0
        self.histories: dict[int, GpuHistory] = {}
        self._first_timestamp: float | None = None
        self._last_sample: RigSample | None = None
        self._timer: Timer | None = None
        self._polling = False
        self._hidden = False
        self._last_poll_s: float | None = None
        self._status_line = ""

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self.info = self._read_info()
        yield Static(id="telemetry-status", markup=False)
        if self.info is None:
            yield Static(self.unavailable or "", id="telemetry-notice", markup=False)
        else:
            yield TelemetryAlerts(id="telemetry-alerts")
            with VerticalScroll(id="telemetry-gpus"):
                for gpu in self.info.gpus:
                    history = self.histories.setdefault(gpu.index, GpuHistory())
                    yield GpuPanel(gpu, history)
            yield Static("\n".join((*self.info.notices, IDLE_LINK_NOTE)), id="telemetry-note", markup=False)
        yield Footer()

    def _read_info(self) -> RigInfo | None:
        if self.source is None:
            self.unavailable = "Live telemetry is off: no GPU source is open. rigtui works on what-if rigs."
            return None
        try:
            return self.source.info()
        except TelemetryUnavailable as exc:
            self.unavailable = exc.message
            return None

    def on_mount(self) -> None:
        self._draw_status()
        if self.autostart and self.info is not None:
            self._schedule(0)

    # -- polling --------------------------------------------------------------------------

    def _schedule(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        # Textual's Timer divides by its delay, so "now" is the shortest positive delay.
        self._timer = self.set_timer(max(delay, 0.001), self._start_poll, name="telemetry-next-poll")

    def _start_poll(self) -> None:
        self._timer = None
        if self.paused or self._hidden or self._polling or self.info is None:
            return
        self._polling = True
        self.run_worker(
            self._sample_in_thread,
            name="telemetry-poll",
            group="telemetry",
            description="read one telemetry sample",
            thread=True,
            exclusive=True,
        )

    def _sample_in_thread(self) -> None:
        assert self.source is not None
        started = self.clock()
        try:
            sample = self.source.sample()
        except TelemetryUnavailable as exc:
            self.app.call_from_thread(self._lose_source, exc.message)
            return
        self.app.call_from_thread(self._finish_poll, sample, self.clock() - started)

    def _finish_poll(self, sample: RigSample, poll_s: float) -> None:
        self._polling = False
        self.apply_sample(sample, poll_s)
        if not self.paused and not self._hidden:
            self._schedule(self.interval_s)

    def _lose_source(self, message: str) -> None:
        self._polling = False
        self.unavailable = message
        self.notify(message, title="Telemetry stopped", severity="error")
        self._draw_status()

    def poll_now(self) -> RigSample | None:
        """Take one sample on the calling (UI) thread and draw it; for tests and a manual refresh."""
        if self.source is None or self.info is None:
            return None
        started = self.clock()
        sample = self.source.sample()
        self.apply_sample(sample, self.clock() - started)
        return sample

    def apply_sample(self, sample: RigSample, poll_s: float | None = None) -> None:
        """Add a sample to the history and redraw every panel."""
        self.sample_count += 1
        self._last_sample = sample
        self._last_poll_s = poll_s
        if self._first_timestamp is None:
            self._first_timestamp = sample.timestamp
        for reading in sample.gpus:
            self.histories.setdefault(reading.index, GpuHistory()).add(reading)
        for panel in self.query(GpuPanel):
            panel.show(sample.gpu(panel.info.index))
        self.query_one(TelemetryAlerts).show(rig_alerts(sample))
        self._draw_status()
        self.post_message(self.SampleReceived(sample))

    # -- visibility and keys --------------------------------------------------------------

    def on_screen_suspend(self) -> None:
        self._hidden = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        was_hidden = self._hidden
        self._hidden = False
        if was_hidden and self.autostart and not self.paused and self.info is not None:
            self._schedule(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without a source there is nothing to pause or speed up, so the keys leave the footer.
        if action in ("toggle_pause", "faster", "slower") and self.info is None:
            return False
        return True

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.info is not None:
            self._schedule(0)
        self._draw_status()

    def action_faster(self) -> None:
        self._step_interval(-1)

    def action_slower(self) -> None:
        self._step_interval(1)

    def _step_interval(self, step: int) -> None:
        steps = sorted(set(INTERVALS_S) | {self.interval_s})
        position = steps.index(self.interval_s) + step
        self.interval_s = steps[max(0, min(len(steps) - 1, position))]
        self._draw_status()

    # -- status line ----------------------------------------------------------------------

    def _draw_status(self) -> None:
        status = self.query_one("#telemetry-status", Static)
        if self.info is None:
            status.update("Telemetry off")
            self._status_line = ""
            return
        parts = ["Telemetry", self.info.backend]
        if self.info.driver_version:
            parts.append(f"driver {self.info.driver_version}")
        if self.info.cuda_version:
            parts.append(f"CUDA {self.info.cuda_version}")
        parts.append(f"every {self.interval_s:g} s")
        if self._last_sample is not None and self._first_timestamp is not None:
            parts.append(f"t+{self._last_sample.timestamp - self._first_timestamp:.0f} s")
        if self._last_poll_s is not None:
            parts.append(f"poll {self._last_poll_s * 1000:.0f} ms")
        if self.paused:
            parts.append("PAUSED")
        if self.unavailable:
            parts.append("STOPPED")
        line = " · ".join(parts)
        if line == self._status_line:
            return
        # A layout pass is only needed when the line's length changes or it may wrap. Most
        # samples change neither.
        previous, self._status_line = self._status_line, line
        width = status.content_region.width
        status.update(line, layout=len(line) != len(previous) or len(line) >= width)
