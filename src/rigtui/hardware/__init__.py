"""GPU detection and live telemetry: NVML, simulated demo rigs, and replayed recordings.

Everything here returns the plain types of ``rigtui.hardware.source``; only
``rigtui.hardware.nvml`` imports ``pynvml``, and only when an NVML source first starts.
"""

from __future__ import annotations

from pathlib import Path

from rigtui.hardware.detect import DetectedRig, MatchedGpu, UnmatchedGpu, detect_rig
from rigtui.hardware.fake import SCENARIOS, FakeSource
from rigtui.hardware.source import GpuInfo, GpuPair, GpuSample, RigInfo, RigSample, TelemetrySource

DEMO_SCENARIOS: dict[str, str] = {name: scenario.description for name, scenario in SCENARIOS.items()}
"""Demo scenario names and a one-line description of each, in the order `rigtui --demo` lists them."""


def open_source(demo: str | None = None, replay: Path | None = None) -> TelemetrySource:
    """Open the telemetry source the command line asked for: a demo, a replay, or NVML.

    The source is started before it is returned, so a machine without a usable GPU fails here
    and not in the middle of the app.

    Raises:
        rigtui.errors.TelemetryUnavailable: NVML cannot start (package or library missing, no
            driver, no GPU), or the demo scenario simulates that.
        rigtui.hardware.replay.RecordingError: the recording is missing or invalid.
        ValueError: ``demo`` names no scenario; the message lists the names.
    """
    source: TelemetrySource
    if demo is not None and replay is not None:
        raise ValueError("choose either a demo scenario or a replay file, not both")
    if demo is not None:
        source = FakeSource(demo)
    elif replay is not None:
        from rigtui.hardware.replay import ReplaySource

        source = ReplaySource(Path(replay))
    else:
        from rigtui.hardware.nvml import NvmlSource

        source = NvmlSource()
    source.info()
    return source


__all__ = [
    "DEMO_SCENARIOS",
    "DetectedRig",
    "FakeSource",
    "GpuInfo",
    "GpuPair",
    "GpuSample",
    "MatchedGpu",
    "RigInfo",
    "RigSample",
    "TelemetrySource",
    "UnmatchedGpu",
    "detect_rig",
    "open_source",
]
