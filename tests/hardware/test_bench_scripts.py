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


RUNNER = Path(__file__).resolve().parents[2] / "bench" / "run.py"


def load_runner():
    spec = importlib.util.spec_from_file_location("bench_run", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write_bench(folder: Path, script: str, records: list[dict[str, object]] | None, exit_code: int = 0) -> None:
    """Write a tiny benchmark script that prints ``records`` as JSON (or garbage when None)."""
    output = "not json" if records is None else json.dumps(records)
    folder.joinpath(script).write_text(f"import sys\nprint({output!r})\nsys.exit({exit_code})\n")


def bench_record(name: str, ok: bool | None) -> dict[str, object]:
    return {"name": name, "value": 1.5, "unit": "s", "target": "< 2 s" if ok is not None else None, "ok": ok,
            "command": "python bench/x.py"}


def test_runner_fails_on_missed_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = load_runner()
    write_bench(tmp_path, "fit_accuracy.py", [bench_record("memory fits", True), bench_record("info only", None)])
    write_bench(tmp_path, "accuracy.py", [bench_record("decode error", False)])

    assert runner.main(["--scripts-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "memory fits" in out
    assert "info only" in out
    assert "MISSED" in out
    assert "not run: tui_speed" in out
    assert "not run: fuzz" in out
    assert "3 results from 2 scripts, 6 not run, 1 missed" in out


def test_runner_passes_when_targets_met(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = load_runner()
    write_bench(tmp_path, "fit_accuracy.py", [bench_record("memory fits", True)])
    write_bench(tmp_path, "accuracy.py", [bench_record("decode error", True)])

    assert runner.main(["--scripts-dir", str(tmp_path), "--only", "accuracy"]) == 0
    out = capsys.readouterr().out
    assert "decode error" in out
    assert "memory fits" not in out


def test_runner_counts_broken_script_as_miss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = load_runner()
    write_bench(tmp_path, "accuracy.py", None)
    write_bench(tmp_path, "fit_accuracy.py", [bench_record("memory fits", True)], exit_code=3)

    assert runner.main(["--scripts-dir", str(tmp_path), "--json"]) == 1
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["accuracy: script failed", "fit_accuracy: script failed"]
    assert all(r["ok"] is False for r in records)


def test_runner_rejects_record_without_keys() -> None:
    runner = load_runner()
    with pytest.raises(ValueError, match="lacks target, ok, command"):
        runner.parse_records('[{"name": "x", "value": 1, "unit": "s"}]')


def test_runner_keeps_records_of_script_exiting_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runner = load_runner()
    write_bench(tmp_path, "core_rate.py", [bench_record("cells per second", False)], exit_code=1)

    assert runner.main(["--scripts-dir", str(tmp_path), "--only", "core_rate", "--json"]) == 1
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["cells per second"]
