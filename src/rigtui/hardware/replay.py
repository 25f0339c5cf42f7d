"""Telemetry recordings: the JSON Lines format that ``rigtui record`` writes, and a source that replays it.

A recording is UTF-8 JSON Lines. The first line is a header object::

    {"format": "rigtui-telemetry", "version": 1, "info": {...RigInfo...}}

and every later line is one RigSample. Fields a reading lacks are left out and read back as
None. A recording replays on any machine, so a bug report can carry the exact data behind it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError

from rigtui.errors import RigtuiError
from rigtui.hardware.source import RigInfo, RigSample

FORMAT = "rigtui-telemetry"
VERSION = 1
_MAX_REPORTED = 10

_INFO = TypeAdapter(RigInfo)
_SAMPLE = TypeAdapter(RigSample)


class RecordingError(RigtuiError):
    """A telemetry recording cannot be read."""

    title = "Invalid telemetry recording"


def header_line(info: RigInfo) -> str:
    """Return the first line of a recording, without the newline."""
    header = {"format": FORMAT, "version": VERSION, "info": _INFO.dump_python(info, mode="json")}
    return json.dumps(header, separators=(",", ":"))


def sample_line(sample: RigSample) -> str:
    """Return one sample as a recording line, without the newline."""
    return _SAMPLE.dump_json(sample, exclude_none=True).decode()


def write_recording(stream: IO[str], info: RigInfo, samples: list[RigSample]) -> None:
    """Write a whole recording to a text stream."""
    stream.write(header_line(info) + "\n")
    for sample in samples:
        stream.write(sample_line(sample) + "\n")


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "line"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def read_recording(path: Path) -> tuple[RigInfo, list[RigSample], list[str]]:
    """Load and validate a recording.

    Returns:
        The static info, the samples in file order, and notices about lines that were skipped.

    Raises:
        RecordingError: the file cannot be read, its header is invalid, it has no samples,
            or a sample line other than an unfinished last line is invalid. The message lists
            the bad lines by number.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"cannot read telemetry recording {path}: {exc}") from exc
    lines = text.split("\n")
    complete_last = text.endswith("\n")
    if complete_last:
        lines.pop()
    if not lines or not lines[0].strip():
        raise RecordingError(f"{path} is empty; record one with `rigtui record --seconds 30 --output FILE`")

    info = _parse_header(path, lines[0])
    samples: list[RigSample] = []
    problems: list[str] = []
    notices: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            samples.append(_SAMPLE.validate_json(line))
        except ValidationError as exc:
            is_last = number == len(lines)
            if is_last and not complete_last:
                # A recording cut off by Ctrl+C or a crash ends in half a line; keep the rest.
                notices.append(f"{path.name} line {number} is unfinished and was skipped.")
                continue
            problems.append(f"line {number}: {_describe(exc)}")
    if problems:
        shown = problems[:_MAX_REPORTED]
        if len(problems) > _MAX_REPORTED:
            shown.append(f"... and {len(problems) - _MAX_REPORTED} more bad lines")
        raise RecordingError(f"{path} has invalid samples:\n" + "\n".join(shown))
    if not samples:
        raise RecordingError(f"{path} holds no samples, only the header")
    known = {gpu.index for gpu in info.gpus}
    for number, sample in enumerate(samples, start=2):
        unknown = {g.index for g in sample.gpus} - known
        if unknown:
            raise RecordingError(f"{path} line {number}: GPU index {sorted(unknown)[0]} is not in the header")
    return info, samples, notices


def _parse_header(path: Path, line: str) -> RigInfo:
    try:
        header: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordingError(f"{path} line 1: not JSON ({exc.msg}); is this a `rigtui record` file?") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(f"{path} line 1: not a rigtui telemetry header (expected format {FORMAT!r})")
    if header.get("version") != VERSION:
        raise RecordingError(
            f"{path} line 1: recording version {header.get('version')!r} is not supported; this rigtui reads {VERSION}"
        )
    try:
        return _INFO.validate_python(header.get("info"))
    except ValidationError as exc:
        raise RecordingError(f"{path} line 1: invalid header: {_describe(exc)}") from exc


class ReplaySource:
    """A TelemetrySource that plays back a recording, one recorded sample per call.

    Args:
        path: a file written by ``rigtui record``.
        loop: start again from the first sample after the last; otherwise keep returning the last one.

    Raises:
        RecordingError: from the constructor, when the file is invalid.
    """

    def __init__(self, path: Path, *, loop: bool = True) -> None:
        self.path = Path(path)
        info, self._samples, notices = read_recording(self.path)
        self._info = replace(
            info,
            backend=f"replay:{self.path.name}",
            notices=(
                *info.notices,
                f"Replaying {self.path.name}: {len(self._samples)} samples recorded on another run, not live data.",
                *notices,
            ),
        )
        self._loop = loop
        self._position = 0

    @property
    def sample_count(self) -> int:
        return len(self._samples)

    def info(self) -> RigInfo:
        return self._info

    def sample(self) -> RigSample:
        if self._position >= len(self._samples):
            if not self._loop:
                return self._samples[-1]
            self._position = 0
        sample = self._samples[self._position]
        self._position += 1
        return sample

    def close(self) -> None:
        """Nothing to release: the whole recording is read when the source is created."""
