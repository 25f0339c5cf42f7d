"""The NVML probe script prints valid JSON from the real backend over the stub pynvml."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from nvml_stub import StubGpu, StubNvml

from rigtui.hardware.nvml import NvmlSource

PROBE = Path(__file__).resolve().parents[2] / "bench" / "nvml_probe.py"


def load_probe():
    spec = importlib.util.spec_from_file_location("nvml_probe", PROBE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_probe_prints_info_sample_and_timing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    probe = load_probe()
    monkeypatch.setattr(probe, "NvmlSource", lambda: NvmlSource(StubNvml([StubGpu(), StubGpu(bus_id=b"00000000:02:00.0")])))
    monkeypatch.setattr(sys, "argv", ["nvml_probe.py", "--samples", "2", "--interval", "0"])

    assert probe.main() == 0
    report = json.loads(capsys.readouterr().out)
    assert [g["pci_device_id"] for g in report["info"]["gpus"]] == ["0x2684", "0x2684"]
    assert report["first_sample"]["gpus"][0]["power_w"] == 300.0
    assert report["timing"]["samples"] == 2


def test_probe_without_nvml_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    probe = load_probe()
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(sys, "argv", ["nvml_probe.py"])
    assert probe.main() == 1
    assert "error" in json.loads(capsys.readouterr().out)
