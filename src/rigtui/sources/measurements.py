"""The user's stored speed measurements: one JSON object per line in the user data folder.

Each write replaces the file atomically (a temporary file renamed over it), so an
interrupted `rigtui measure` leaves the previous file whole. A line that cannot be read
is skipped and reported; the others still load.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from rigtui.core.rig_calibration import Measurement, measurement_problem
from rigtui.paths import write_atomic

log = logging.getLogger(__name__)

FILE_NAME = "measurements.jsonl"
MAX_RECORDS = 2000
"""Oldest records are dropped beyond this many, so the file stays small."""
_FIELDS = {f.name for f in fields(Measurement)}


def measurements_path() -> Path:
    """Return the measurements file in the user data folder (``RIGTUI_DATA_DIR`` moves it)."""
    from rigtui.paths import user_paths

    return user_paths().data_dir / FILE_NAME


def load_records(path: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Return every stored record as a dict, and a line for each one that could not be read."""
    path = path or measurements_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{path}: cannot read the measurements ({exc}); predictions stay uncalibrated"]
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"{path}:{number}: not valid JSON; the line is skipped")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{number}: not a JSON object; the line is skipped")
            continue
        records.append(record)
    return records, problems


def to_measurement(record: dict[str, Any]) -> Measurement | None:
    """Build a Measurement from a stored record, or None when a required field is missing or invalid."""
    values = {k: v for k, v in record.items() if k in _FIELDS}
    if not isinstance(values.get("rig"), str) or not isinstance(values.get("runtime"), str):
        return None
    for key in ("decode_tps", "prefill_tps", "predicted_decode_tps", "predicted_prefill_tps"):
        value = values.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return None
    if values.get("context") is not None and not isinstance(values.get("context"), int):
        return None
    values.setdefault("model", None)
    values.setdefault("quant", None)
    values.setdefault("context", None)
    values.setdefault("decode_tps", None)
    try:
        return Measurement(**values)
    except TypeError:
        return None


def load_measurements(path: Path | None = None) -> tuple[list[Measurement], list[str]]:
    """Return the usable stored measurements and a line for each record skipped."""
    records, problems = load_records(path)
    measurements = []
    for record in records:
        measurement = to_measurement(record)
        if measurement is None:
            problems.append(f"{path or measurements_path()}: a record lacks rig, runtime or valid speeds; it is skipped")
            continue
        implausible = measurement_problem(measurement)
        if implausible:
            problem = f"{path or measurements_path()}: a record's {implausible}; it is skipped"
            log.warning("%s", problem)
            problems.append(problem)
            continue
        measurements.append(measurement)
    return measurements, problems


def append_record(measurement: Measurement, extra: dict[str, Any] | None = None, path: Path | None = None) -> Path:
    """Add one measurement with extra details to the file and return its path.

    Raises:
        OSError: the folder or file cannot be written; the previous file is unchanged.
    """
    path = path or measurements_path()
    records, _ = load_records(path)
    record = dict(extra or {})
    record.update(asdict(measurement))
    records.append(record)
    records = records[-MAX_RECORDS:]
    write_atomic(path, "".join(json.dumps(item, sort_keys=True) + "\n" for item in records))
    return path
