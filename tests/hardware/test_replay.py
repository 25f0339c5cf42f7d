"""Recordings: round trip, validation with line numbers, and playback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigtui.hardware import open_source
from rigtui.hardware.fake import FakeSource
from rigtui.hardware.replay import RecordingError, ReplaySource, header_line, read_recording, sample_line, write_recording


def record(path: Path, scenario: str = "gpu-lost", count: int = 8) -> list:
    source = FakeSource(scenario)
    samples = [source.sample() for _ in range(count)]
    with path.open("w", encoding="utf-8") as stream:
        write_recording(stream, source.info(), samples)
    return samples


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    samples = record(path, "geforce-unsupported")
    info, loaded, notices = read_recording(path)

    assert loaded == samples
    assert info == FakeSource("geforce-unsupported").info()
    assert notices == []


def test_replay_plays_samples_in_order_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    samples = record(path, count=3)
    source = ReplaySource(path)

    played = [source.sample() for _ in range(5)]

    assert played == samples + samples[:2]
    assert source.info().backend == "replay:rec.jsonl"
    assert any("Replaying rec.jsonl" in n for n in source.info().notices)


def test_replay_without_loop_holds_last(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    samples = record(path, count=2)
    source = ReplaySource(path, loop=False)
    assert [source.sample() for _ in range(4)] == [samples[0], samples[1], samples[1], samples[1]]


def test_lost_gpu_survives_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    record(path, "gpu-lost", count=7)
    source = open_source(replay=path)
    flags = [source.sample().gpu(1).lost for _ in range(7)]  # type: ignore[union-attr]
    assert flags == [False] * 5 + [True] * 2


def test_bad_lines_reported_with_numbers(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    record(path, count=4)
    lines = path.read_text().splitlines()
    lines[2] = "{not json"
    lines[4] = json.dumps({"timestamp": "yesterday", "gpus": []})
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(RecordingError) as raised:
        read_recording(path)

    message = str(raised.value)
    assert "line 3:" in message
    assert "line 5: timestamp" in message
    assert "line 2:" not in message


def test_unfinished_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    samples = record(path, count=3)
    text = path.read_text()
    path.write_text(text + text.splitlines()[1][:40])

    _, loaded, notices = read_recording(path)

    assert loaded == samples
    assert notices == ["rec.jsonl line 5 is unfinished and was skipped."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("hello\n", "line 1: not JSON"),
        ('{"format": "other"}\n', "not a rigtui telemetry header"),
        ('{"format": "rigtui-telemetry", "version": 99, "info": {}}\n', "version 99 is not supported"),
        ('{"format": "rigtui-telemetry", "version": 1, "info": {"gpus": "x"}}\n', "invalid header"),
    ],
)
def test_bad_header_rejected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_header_only_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(header_line(FakeSource("gpu-lost").info()) + "\n")
    with pytest.raises(RecordingError, match="no samples"):
        read_recording(path)


def test_sample_with_unknown_gpu_rejected(tmp_path: Path) -> None:
    source = FakeSource("desktop-1.5gb")
    other = FakeSource("4x3090-nvlink").sample()
    path = tmp_path / "rec.jsonl"
    path.write_text(header_line(source.info()) + "\n" + sample_line(other) + "\n")
    with pytest.raises(RecordingError, match="line 2: GPU index 1 is not in the header"):
        read_recording(path)


def test_missing_file_is_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="cannot read"):
        ReplaySource(tmp_path / "absent.jsonl")


def test_sample_lines_leave_out_missing_values() -> None:
    sample = FakeSource("geforce-unsupported").sample()
    data = json.loads(sample_line(sample))
    assert "fan_pct" not in data["gpus"][0]
    assert data["gpus"][0]["temp_gpu_c"] == sample.gpus[0].temp_gpu_c
