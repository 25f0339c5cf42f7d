"""`rigtui record`: writes a replayable file, and fails with one line where there is no GPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigtui.cli import main
from rigtui.hardware.replay import ReplaySource, read_recording


def test_record_demo_then_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "rec.jsonl"
    code = main(["--demo", "gpu-lost", "record", "--seconds", "0.08", "--interval", "0.01", "--output", str(output)])

    assert code == 0
    info, samples, notices = read_recording(output)
    assert len(samples) == 8
    assert [g.name for g in info.gpus] == ["NVIDIA GeForce RTX 3090"] * 2
    assert [s.gpu(1).lost for s in samples] == [False] * 5 + [True] * 3  # type: ignore[union-attr]
    assert notices == []
    assert "Recorded 8 samples of 2 GPUs" in capsys.readouterr().err
    assert ReplaySource(output).sample() == samples[0]


def test_record_without_driver_exits_1_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "rec.jsonl"
    code = main(["--demo", "no-driver", "record", "--seconds", "1", "--output", str(output)])

    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "driver is not loaded" in err
    assert not output.exists()


def test_record_with_real_nvml_missing_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)
    code = main(["record", "--seconds", "1", "--output", str(tmp_path / "rec.jsonl")])
    assert code == 1
    assert capsys.readouterr().err.startswith("rigtui record: ")


@pytest.mark.parametrize("flags", [["--seconds", "0"], ["--seconds", "1", "--interval", "-1"]])
def test_record_rejects_non_positive_times(tmp_path: Path, flags: list[str]) -> None:
    assert main(["--demo", "gpu-lost", "record", *flags, "--output", str(tmp_path / "x")]) == 2


def test_record_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--demo", "gpu-lost", "record", "--seconds", "0.01", "--interval", "0.01",
                 "--output", str(tmp_path / "missing" / "rec.jsonl")])
    assert code == 1
    assert "cannot write" in capsys.readouterr().err
