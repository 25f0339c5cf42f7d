"""Speeds measured on this rig, and the correction they give the speed model for it.

``rigtui measure`` stores one ``Measurement`` per generation request it times, together
with what the model predicted for the same configuration. For a rig and runtime, the
median of measured / predicted scales every prediction (``decode_source = "calibrated"``),
and an exact configuration match shows the measured figure itself (``"measured"``).
Everything here is pure: the command and app layers read the stored file and pass the
measurements in.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rigtui.core.results import FitResult, SpeedRange
from rigtui.core.rig import Rig, Workload

# A server that runs 5x faster or slower than predicted points at a wrong configuration
# (another model loaded, CPU offload the fit did not expect), not at a constant to learn.
MIN_FACTOR = 0.2
MAX_FACTOR = 5.0
# Half-width of the range, as a log ratio, kept however many measurements agree: two
# runs of the same request on one rig differ by a few percent.
MIN_HALF_WIDTH = 0.03
# Upper bounds on a plausible measured speed for one request. The fastest single-GPU
# decode of even a tiny model stays in the low thousands of tokens/s, and prefill in the
# low hundreds of thousands, so a server that reports more is broken or not what it
# claims; its figure would skew every calibrated prediction for the rig.
MAX_DECODE_TPS = 10_000.0
MAX_PREFILL_TPS = 1_000_000.0

SpeedSource = str
"""'model' (the speed model alone), 'calibrated' (scaled by this rig's measurements) or 'measured'."""


@dataclass(frozen=True)
class Measurement:
    """One timed generation on a rig, with the model's uncalibrated prediction for it."""

    rig: str
    """Fingerprint of the rig's GPUs (``rig_fingerprint``)."""
    runtime: str
    """Catalog runtime id: 'llama-cpp', 'ollama' or 'vllm'."""
    model: str | None
    """Catalog model id, None when the server's model matched no catalog entry."""
    quant: str | None
    """Catalog quantization id, None when unknown."""
    context: int | None
    """Context length the server runs with, tokens."""
    decode_tps: float | None
    """Measured decode speed, tokens/s."""
    prefill_tps: float | None = None
    """Measured prefill speed, tokens/s."""
    predicted_decode_tps: float | None = None
    """The speed model's expected decode for the same configuration when it was measured."""
    predicted_prefill_tps: float | None = None
    measured_at: str = ""
    """ISO 8601 time of the measurement."""


@dataclass(frozen=True)
class CalibratedFitResult(FitResult):
    """A FitResult whose speeds were corrected or replaced by measurements on this rig."""

    decode_source: SpeedSource = "model"
    prefill_source: SpeedSource = "model"
    calibration_count: int = 0
    """Measurements behind a 'calibrated' or 'measured' decode figure."""


def speed_problem(kind: str, value: object) -> str | None:
    """Return why a measured speed is not a real measurement, or None when it is plausible.

    ``kind`` is 'decode' or 'prefill'. A speed must be a finite number above zero and at
    most MAX_DECODE_TPS or MAX_PREFILL_TPS.
    """
    limit = MAX_DECODE_TPS if kind == "decode" else MAX_PREFILL_TPS
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{kind} speed {value!r} is not a number"
    try:
        number = float(value)
    except OverflowError:
        return f"{kind} speed {value} is beyond any real speed (at most {limit:,.0f} tok/s)"
    if not math.isfinite(number) or number <= 0:
        return f"{kind} speed {number:g} tok/s is not a finite positive number"
    if number > limit:
        return f"{kind} speed {number:g} tok/s is above the plausible {limit:,.0f} tok/s"
    return None


def measurement_problem(measurement: Measurement) -> str | None:
    """Return why a stored measurement is ignored, or None when its speeds are plausible."""
    if measurement.decode_tps is not None and (problem := speed_problem("decode", measurement.decode_tps)):
        return problem
    if measurement.prefill_tps is not None and (problem := speed_problem("prefill", measurement.prefill_tps)):
        return problem
    return None


def calibrates(measurement: Measurement) -> bool:
    """Whether calibration uses this measurement: a catalog model, a prediction and plausible speeds."""
    predicted = measurement.predicted_decode_tps
    return (
        measurement.model is not None
        and measurement.decode_tps is not None
        and predicted is not None
        and math.isfinite(predicted)
        and predicted > 0
        and measurement_problem(measurement) is None
    )


def rig_fingerprint(rig: Rig) -> str:
    """Identify a rig by its GPUs' catalog ids in slot order, such as 'rtx-4090+rtx-3090'."""
    return "+".join(gpu.spec.id for gpu in rig.gpus) or "cpu-only"


def correction_factor(ratios: Iterable[float]) -> float | None:
    """Return the median of measured / predicted ratios, clamped, or None without a usable ratio."""
    usable = [r for r in ratios if r > 0 and math.isfinite(r)]
    if not usable:
        return None
    return min(max(statistics.median(usable), MIN_FACTOR), MAX_FACTOR)


def calibrated_range(predicted: SpeedRange, ratios: Sequence[float]) -> SpeedRange:
    """Scale a predicted range by the measured ratios and centre it on the corrected figure.

    The speed model's range is lopsided because it carries the model's typical error on
    unseen rigs. Once this rig's own error is known that bias is gone, so the range becomes
    symmetric in log space. Its half-width shrinks with 1/sqrt(1 + n) from the model's, but
    never below the spread of the measured ratios themselves.
    """
    factor = correction_factor(ratios)
    if factor is None or predicted.expected <= 0:
        return predicted
    expected = predicted.expected * factor
    low, high = predicted.low / predicted.expected, predicted.high / predicted.expected
    model_half = (math.log(high) - math.log(low)) / 2 if low > 0 and high > 0 else 0.0
    usable = [r for r in ratios if r > 0 and math.isfinite(r)]
    scatter = max(abs(math.log(r) - math.log(factor)) for r in usable)
    half = max(model_half / math.sqrt(1 + len(usable)), scatter, MIN_HALF_WIDTH)
    return SpeedRange(low=expected * math.exp(-half), expected=expected, high=expected * math.exp(half))


def measured_range(values: Sequence[float]) -> SpeedRange:
    """Turn repeated measurements of one configuration into a range: min, median, max."""
    return SpeedRange(low=min(values), expected=statistics.median(values), high=max(values))


def matching(measurements: Iterable[Measurement], rig: Rig, runtime: str) -> list[Measurement]:
    """Return the measurements taken on a rig with the same GPUs, under the same runtime."""
    fingerprint = rig_fingerprint(rig)
    return [m for m in measurements if m.rig == fingerprint and m.runtime == runtime]


def exact_matches(measurements: Iterable[Measurement], workload: Workload) -> list[Measurement]:
    """Return the measurements of exactly this model, quantization and context."""
    return [
        m for m in measurements
        if m.model == workload.model.id and m.quant == workload.quant.id and m.context == workload.context
    ]


def _ratios(measurements: Iterable[Measurement], kind: str) -> list[float]:
    # NOTE: the ratio uses the prediction stored when the speed was measured, so a later
    # change to the speed model leaves old ratios against the old prediction.
    ratios = []
    for m in measurements:
        measured = m.decode_tps if kind == "decode" else m.prefill_tps
        predicted = m.predicted_decode_tps if kind == "decode" else m.predicted_prefill_tps
        if measured and predicted and measured > 0 and predicted > 0:
            ratios.append(measured / predicted)
    return ratios


def _speed(
    predicted: SpeedRange | None, same_rig: list[Measurement], exact: list[Measurement], kind: str, exact_ok: bool
) -> tuple[SpeedRange | None, SpeedSource, int]:
    if predicted is None:
        return None, "model", 0
    values = [v for v in ((m.decode_tps if kind == "decode" else m.prefill_tps) for m in exact) if v and v > 0]
    if exact_ok and values:
        return measured_range(values), "measured", len(values)
    ratios = _ratios(same_rig, kind)
    if not ratios:
        return predicted, "model", 0
    return calibrated_range(predicted, ratios), "calibrated", len(ratios)


def calibrate(rig: Rig, workload: Workload, result: FitResult, measurements: Sequence[Measurement]) -> FitResult:
    """Apply this rig's measurements to a fit result's speeds.

    Returns ``result`` unchanged when no measurement matches the rig's GPUs and runtime.
    Otherwise returns a ``CalibratedFitResult``: the chosen placement shows the measured
    speed when model, quantization and context match a measurement exactly, else the
    calibrated one. Alternatives are calibrated, never 'measured', because the server's
    own split is not known.
    """
    same_rig = matching(measurements, rig, workload.runtime.id)
    if not same_rig or not result.fits:
        return result
    exact = exact_matches(same_rig, workload)
    decode, decode_source, count = _speed(result.decode, same_rig, exact, "decode", True)
    prefill, prefill_source, _ = _speed(result.prefill, same_rig, exact, "prefill", True)
    alternatives = tuple(_calibrated_alternative(a, same_rig) for a in result.alternatives)
    fields = {f: getattr(result, f) for f in FitResult.__dataclass_fields__}
    fields.update(decode=decode, prefill=prefill, alternatives=alternatives)
    return CalibratedFitResult(
        **fields, decode_source=decode_source, prefill_source=prefill_source, calibration_count=count
    )


def _calibrated_alternative(result: FitResult, same_rig: list[Measurement]) -> FitResult:
    if not result.fits:
        return result
    decode, _, _ = _speed(result.decode, same_rig, [], "decode", False)
    prefill, _, _ = _speed(result.prefill, same_rig, [], "prefill", False)
    return replace(result, decode=decode, prefill=prefill)


def speed_label(result: FitResult) -> str:
    """Return how a result's decode figure was obtained, for display: '', 'measured' or 'calibrated (n)'."""
    source = getattr(result, "decode_source", "model")
    count = getattr(result, "calibration_count", 0)
    if source == "measured":
        return "measured" if count <= 1 else f"measured ({count} runs)"
    if source == "calibrated":
        return f"calibrated ({count} measurement{'s' if count != 1 else ''})"
    return ""
