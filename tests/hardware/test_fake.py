"""The demo scenarios: deterministic, and each one shows the case it is named for."""

from __future__ import annotations

import pytest

from rigtui.errors import TelemetryUnavailable
from rigtui.hardware import DEMO_SCENARIOS, open_source
from rigtui.hardware.fake import SCENARIOS, SYNTHETIC_EPOCH, FakeSource
from rigtui.hardware.source import SAMPLE_FIELDS, TelemetrySource

WORKING = [name for name, s in SCENARIOS.items() if s.failure is None]


def test_demo_scenarios_have_descriptions() -> None:
    assert set(DEMO_SCENARIOS) == set(SCENARIOS)
    required = {"mixed-4090-3090", "4x3090-nvlink", "desktop-1.5gb", "gpu-lost", "geforce-unsupported", "no-driver"}
    assert required <= set(DEMO_SCENARIOS)
    for name, text in DEMO_SCENARIOS.items():
        assert text and "\n" not in text, name


@pytest.mark.parametrize("name", WORKING)
def test_same_seed_same_samples(name: str) -> None:
    first = FakeSource(name, seed=7)
    second = FakeSource(name, seed=7)
    assert [first.sample() for _ in range(10)] == [second.sample() for _ in range(10)]


def test_other_seed_other_samples() -> None:
    first = [FakeSource("mixed-4090-3090", seed=1).sample() for _ in range(1)]
    second = [FakeSource("mixed-4090-3090", seed=2).sample() for _ in range(1)]
    assert first != second


@pytest.mark.parametrize("name", WORKING)
def test_scenario_is_a_telemetry_source(name: str) -> None:
    source = FakeSource(name)
    assert isinstance(source, TelemetrySource)
    info = source.info()
    sample = source.sample()
    assert [g.index for g in sample.gpus] == [g.index for g in info.gpus]
    assert info.backend == f"demo:{name}"
    for gpu in info.gpus:
        assert gpu.mem_used_bytes is not None and gpu.mem_used_bytes <= gpu.mem_total_bytes
        for pair in info.pairs:
            assert pair.a < pair.b < len(info.gpus)


def test_synthetic_clock_and_injected_clock() -> None:
    synthetic = FakeSource("desktop-1.5gb", interval_s=2.0)
    assert [synthetic.sample().timestamp for _ in range(3)] == [SYNTHETIC_EPOCH, SYNTHETIC_EPOCH + 2, SYNTHETIC_EPOCH + 4]
    injected = FakeSource("desktop-1.5gb", clock=lambda: 42.0)
    assert injected.sample().timestamp == 42.0


def test_mixed_rig_has_x8_and_chipset_x4() -> None:
    gpus = FakeSource("mixed-4090-3090").info().gpus
    assert [(g.name, g.pcie_width_max) for g in gpus] == [
        ("NVIDIA GeForce RTX 4090", 8),
        ("NVIDIA GeForce RTX 3090", 4),
    ]


def test_four_3090_have_two_nvlink_pairs() -> None:
    info = FakeSource("4x3090-nvlink").info()
    assert len(info.gpus) == 4
    assert info.nvlink_pairs == frozenset({(0, 1), (2, 3)})


def test_desktop_holds_one_and_a_half_gib() -> None:
    gpu = FakeSource("desktop-1.5gb").info().gpus[0]
    assert gpu.display_active is True
    assert sum(p.used_bytes or 0 for p in gpu.processes) == 1536 << 20


def test_gpu_falls_off_the_bus_mid_run() -> None:
    source = FakeSource("gpu-lost")
    samples = [source.sample() for _ in range(8)]
    lost_flags = [s.gpu(1).lost for s in samples]  # type: ignore[union-attr]
    assert lost_flags == [False] * 5 + [True] * 3
    assert not any(s.gpu(0).lost for s in samples)  # type: ignore[union-attr]


def test_unsupported_fields_read_none() -> None:
    source = FakeSource("geforce-unsupported")
    gpu = source.info().gpus[0]
    missing = set(SAMPLE_FIELDS) - gpu.supported
    assert len(missing) >= 3
    reading = source.sample().gpu(0)
    assert reading is not None
    for name in missing:
        assert getattr(reading, name) is None, name
    for name in gpu.supported:
        assert getattr(reading, name) is not None, name


def test_no_driver_raises_telemetry_unavailable() -> None:
    with pytest.raises(TelemetryUnavailable, match="driver is not loaded"):
        open_source(demo="no-driver")


def test_unknown_scenario_lists_names() -> None:
    with pytest.raises(ValueError, match="mixed-4090-3090"):
        open_source(demo="nope")


def test_demo_and_replay_together_rejected(tmp_path) -> None:
    with pytest.raises(ValueError, match="not both"):
        open_source(demo="gpu-lost", replay=tmp_path / "x.jsonl")
