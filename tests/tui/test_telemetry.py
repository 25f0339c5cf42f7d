"""The Telemetry screen driven by every demo scenario, in Pilot and snapshot tests."""

from __future__ import annotations

import pytest
from telemetry_app import TelemetryTestApp, demo_app
from textual.screen import Screen

from rigtui.hardware.fake import SCENARIOS, FakeSource
from rigtui.hardware.source import RigSample
from rigtui.tui.screens.telemetry import IDLE_LINK_NOTE, TelemetryScreen
from rigtui.tui.widgets.telemetry_alerts import TelemetryAlerts
from rigtui.tui.widgets.telemetry_gpu import GpuPanel

SAMPLES_BEFORE_SNAPSHOT = 12


class CountingSource(FakeSource):
    """A demo source that counts how often it is sampled."""

    def __init__(self) -> None:
        super().__init__("mixed-4090-3090")
        self.calls = 0

    def sample(self) -> RigSample:
        self.calls += 1
        return super().sample()


def rendered(panel: GpuPanel) -> str:
    return panel.render().plain


async def test_panels_for_every_gpu() -> None:
    app = demo_app("4x3090-nvlink")
    async with app.run_test(size=(80, 24)) as pilot:
        app.telemetry.poll_now()
        await pilot.pause()
        panels = list(app.telemetry.query(GpuPanel))
        assert [p.info.index for p in panels] == [0, 1, 2, 3]
        assert all(p.reading is not None for p in panels)


async def test_polling_runs_in_worker_and_repeats() -> None:
    source = CountingSource()
    app = TelemetryTestApp(source, autostart=True, interval_s=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(50):
            await pilot.pause(0.02)
            if app.telemetry.sample_count >= 3:
                break
        assert app.telemetry.sample_count >= 3
        assert source.calls == app.telemetry.sample_count or source.calls == app.telemetry.sample_count + 1


async def test_pause_stops_polling() -> None:
    source = CountingSource()
    app = TelemetryTestApp(source, autostart=True, interval_s=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.telemetry.sample_count < 1:
            await pilot.pause(0.02)
        await pilot.press("p")
        await pilot.pause(0.1)
        paused_at = source.calls
        await pilot.pause(0.2)
        assert source.calls == paused_at
        assert "PAUSED" in str(app.telemetry.query_one("#telemetry-status").render())
        await pilot.press("p")
        await pilot.pause(0.2)
        assert source.calls > paused_at


async def test_hidden_screen_stops_polling() -> None:
    source = CountingSource()
    app = TelemetryTestApp(source, autostart=True, interval_s=0.02)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.telemetry.sample_count < 1:
            await pilot.pause(0.02)
        app.push_screen(Screen())
        await pilot.pause(0.1)
        hidden_at = source.calls
        await pilot.pause(0.2)
        assert source.calls == hidden_at
        app.pop_screen()
        await pilot.pause(0.2)
        assert source.calls > hidden_at


async def test_interval_keys_step_through_choices() -> None:
    app = demo_app("desktop-1.5gb")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("minus")
        assert app.telemetry.interval_s == 2.0
        await pilot.press("plus", "plus")
        assert app.telemetry.interval_s == 0.5
        assert "every 0.5 s" in str(app.telemetry.query_one("#telemetry-status").render())


async def test_lost_gpu_marked_and_others_continue() -> None:
    app = demo_app("gpu-lost")
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(7):
            app.telemetry.poll_now()
        await pilot.pause()
        first, second = app.telemetry.query(GpuPanel)
        assert second.has_class("-lost")
        assert not first.has_class("-lost")
        assert "stopped answering" in rendered(second)
        assert "util" in rendered(first)
        assert "%" in rendered(first)
        alerts = str(app.telemetry.query_one(TelemetryAlerts).render())
        assert "GPU 1 is lost" in alerts


async def test_unsupported_fields_show_na() -> None:
    app = demo_app("geforce-unsupported")
    async with app.run_test(size=(100, 30)) as pilot:
        app.telemetry.poll_now()
        await pilot.pause()
        text = rendered(app.telemetry.query_one(GpuPanel))
        assert "fan n/a" in text
        assert "memory n/a" in text  # memory temperature
        assert "RX n/a" in text
        assert "ECC errors n/a" in text


async def test_alerts_for_power_cap_and_slow_link() -> None:
    app = demo_app("4x3090-nvlink")
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            app.telemetry.poll_now()
        await pilot.pause()
        alerts = str(app.telemetry.query_one(TelemetryAlerts).render())
        assert "GPU 3 PCIe link at Gen3 x16 under load" in alerts
        assert "power cap" in alerts
        assert "memory 95% full" in alerts


async def test_no_driver_shows_one_notice() -> None:
    app = demo_app("no-driver")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        notice = str(app.telemetry.query_one("#telemetry-notice").render())
        assert "driver is not loaded" in notice
        assert not list(app.telemetry.query(GpuPanel))
        assert app.telemetry.poll_now() is None


async def test_no_source_shows_notice() -> None:
    app = TelemetryTestApp(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Live telemetry is off" in str(app.telemetry.query_one("#telemetry-notice").render())


async def test_samples_bubble_to_app() -> None:
    received: list[RigSample] = []

    class Listening(TelemetryTestApp):
        def on_telemetry_screen_sample_received(self, message: TelemetryScreen.SampleReceived) -> None:
            received.append(message.sample)

    app = Listening(FakeSource("desktop-1.5gb"))
    async with app.run_test(size=(80, 24)) as pilot:
        sample = app.telemetry.poll_now()
        await pilot.pause()
        assert received and received[-1] == sample


async def test_idle_link_note_shown() -> None:
    app = demo_app("desktop-1.5gb")
    async with app.run_test(size=(80, 24)) as pilot:
        app.telemetry.poll_now()
        await pilot.pause()
        assert IDLE_LINK_NOTE in str(app.telemetry.query_one("#telemetry-note").render())
        assert "Gen1 x16 of Gen4 x16" in rendered(app.telemetry.query_one(GpuPanel))


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TelemetryScreen(None, interval_s=0)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_snapshot(snap_compare, scenario: str, size: tuple[int, int]) -> None:
    app = demo_app(scenario)

    async def take_samples(pilot) -> None:
        for _ in range(SAMPLES_BEFORE_SNAPSHOT):
            app.telemetry.poll_now()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=take_samples)


async def test_scrolled_panel_shows_latest() -> None:
    # Panels out of view skip drawing samples; scrolling to them must show the newest reading.
    app = demo_app("4x3090-nvlink")
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):
            app.telemetry.poll_now()
            await pilot.pause()
        last = list(app.telemetry.query(GpuPanel))[-1]
        assert not app.telemetry.query_one("#telemetry-gpus").can_view_partial(last)
        for _ in range(3):
            app.telemetry.poll_now()
            await pilot.pause()
        app.telemetry.query_one("#telemetry-gpus").scroll_end(animate=False)
        await pilot.pause()
        drawn = [last.render_line(y).text.rstrip() for y in range(6)]
        assert drawn == [line.rstrip() for line in rendered(last).split("\n")]
        app.telemetry.poll_now()
        await pilot.pause()
        drawn = [last.render_line(y).text.rstrip() for y in range(6)]
        assert drawn == [line.rstrip() for line in rendered(last).split("\n")]
