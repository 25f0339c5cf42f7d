"""Calibrating predictions with speeds measured on the rig, and matching served model names."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigtui.core.fit import fit
from rigtui.core.results import SpeedRange
from rigtui.core.rig_calibration import (
    MAX_DECODE_TPS,
    MAX_FACTOR,
    MAX_PREFILL_TPS,
    MIN_FACTOR,
    CalibratedFitResult,
    Measurement,
    calibrate,
    calibrated_range,
    calibrates,
    correction_factor,
    measurement_problem,
    rig_fingerprint,
    speed_label,
    speed_problem,
)
from rigtui.core.served import match_model, match_quant, name_candidates
from tests.core.conftest import make_rig, make_workload

ratios = st.lists(st.floats(min_value=0.01, max_value=100, allow_nan=False), min_size=1, max_size=20)
ranges = st.tuples(
    st.floats(min_value=0.3, max_value=1.0), st.floats(min_value=0.1, max_value=1000), st.floats(min_value=1.0, max_value=3.0)
).map(lambda t: SpeedRange(low=t[1] * t[0], expected=t[1], high=t[1] * t[2]))


def _measure(rig, workload, decode, predicted, **changes) -> Measurement:
    values = dict(
        rig=rig_fingerprint(rig), runtime=workload.runtime.id, model=workload.model.id, quant=workload.quant.id,
        context=workload.context, decode_tps=decode, prefill_tps=None, predicted_decode_tps=predicted,
    )
    values.update(changes)
    return Measurement(**values)


@given(ratios)
def test_factor_stays_within_clamp(values: list[float]) -> None:
    factor = correction_factor(values)
    assert factor is not None
    assert MIN_FACTOR <= factor <= MAX_FACTOR


@given(ratios)
def test_factor_ignores_order(values: list[float]) -> None:
    assert correction_factor(values) == correction_factor(list(reversed(values)))


@given(st.floats(min_value=MIN_FACTOR, max_value=MAX_FACTOR))
def test_factor_of_agreeing_ratios_is_that_ratio(ratio: float) -> None:
    assert correction_factor([ratio, ratio, ratio]) == pytest.approx(ratio)


def test_factor_without_usable_ratio_is_none() -> None:
    assert correction_factor([]) is None
    assert correction_factor([0.0, -1.0, math.nan, math.inf]) is None


@given(ranges, ratios)
def test_calibrated_range_brackets_expected(predicted: SpeedRange, values: list[float]) -> None:
    result = calibrated_range(predicted, values)
    assert result.low < result.expected < result.high
    assert result.expected == pytest.approx(predicted.expected * correction_factor(values))


@given(ranges, st.floats(min_value=0.5, max_value=2.0))
def test_more_agreeing_measurements_narrow_the_range(predicted: SpeedRange, ratio: float) -> None:
    one = calibrated_range(predicted, [ratio])
    many = calibrated_range(predicted, [ratio] * 9)
    assert many.high / many.low <= one.high / one.low + 1e-9


def test_calibrated_range_is_centred() -> None:
    predicted = SpeedRange(low=60.0, expected=100.0, high=110.0)
    result = calibrated_range(predicted, [0.8, 0.8, 0.8])
    assert result.expected == pytest.approx(80.0)
    assert result.expected / result.low == pytest.approx(result.high / result.expected)


def test_no_measurement_leaves_result_unchanged(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090")
    workload = make_workload(catalog, "llama-3.1-8b")
    result = fit(rig, workload, with_max_context=False)
    assert calibrate(rig, workload, result, []) is result


def test_other_rig_measurement_is_ignored(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090")
    other = make_rig(catalog, "RTX 3090")
    workload = make_workload(catalog, "llama-3.1-8b")
    result = fit(rig, workload, with_max_context=False)
    measurement = _measure(other, workload, 50.0, 100.0)
    assert calibrate(rig, workload, result, [measurement]) is result


def test_exact_match_shows_measured_speed(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090")
    workload = make_workload(catalog, "llama-3.1-8b")
    result = fit(rig, workload, with_max_context=False)
    measured = [_measure(rig, workload, 120.0, result.decode.expected), _measure(rig, workload, 124.0, result.decode.expected)]
    calibrated = calibrate(rig, workload, result, measured)
    assert isinstance(calibrated, CalibratedFitResult)
    assert calibrated.decode_source == "measured"
    assert calibrated.decode.expected == pytest.approx(122.0)
    assert calibrated.decode.low == pytest.approx(120.0)
    assert calibrated.decode.high == pytest.approx(124.0)
    assert calibrated.prefill_source == "model"
    assert speed_label(calibrated) == "measured (2 runs)"


def test_other_model_calibrates_by_ratio(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090")
    measured_workload = make_workload(catalog, "llama-3.1-8b")
    workload = make_workload(catalog, "qwen2.5-32b")
    result = fit(rig, workload, with_max_context=False)
    measurement = _measure(rig, measured_workload, 90.0, 100.0)
    calibrated = calibrate(rig, workload, result, [measurement])
    assert calibrated.decode_source == "calibrated"
    assert calibrated.calibration_count == 1
    assert calibrated.decode.expected == pytest.approx(result.decode.expected * 0.9)
    assert speed_label(calibrated) == "calibrated (1 measurement)"
    assert [a.split for a in calibrated.alternatives] == [a.split for a in result.alternatives]


def test_measurement_without_prediction_does_not_calibrate(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090")
    workload = make_workload(catalog, "qwen2.5-32b")
    result = fit(rig, workload, with_max_context=False)
    measurement = _measure(rig, workload, 90.0, None, model=None, context=4096)
    calibrated = calibrate(rig, workload, result, [measurement])
    assert getattr(calibrated, "decode_source", "model") == "model"
    assert calibrated.decode == result.decode


def test_fingerprint_keeps_slot_order(catalog) -> None:
    assert rig_fingerprint(make_rig(catalog, "RTX 4090", "RTX 3090")) == "rtx-4090+rtx-3090"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "llama-3.1-8b"),
        ("llama3.1:8b-instruct-q4_K_M", "llama-3.1-8b"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b"),
        ("Qwen2.5-32B-Instruct-Q5_K_S-00001-of-00002.gguf", "qwen2.5-32b"),
    ],
)
def test_served_names_match_catalog(catalog, name: str, expected: str) -> None:
    model, suggestions = match_model(catalog, [name])
    assert model is not None, suggestions
    assert model.id == expected


def test_unknown_served_name_gives_suggestions(catalog) -> None:
    model, suggestions = match_model(catalog, ["llama-3.1-9b-unknown"])
    assert model is None
    assert len(suggestions) <= 3


def test_name_candidates_strip_quant_and_tag() -> None:
    assert "Meta-Llama-3.1-8B-Instruct" in name_candidates("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf")
    assert "llama3.1:8b" in name_candidates("llama3.1:8b-instruct-q4_K_M")


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("Q4_K_M", "ollama", "Q4_K_M"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "llama-server", "Q4_K_M"),
        ("model-IQ4_XS.gguf", "llama-server", "IQ4_XS"),
        ("Qwen/Qwen2.5-32B-Instruct-AWQ", "vllm", "awq-4bit"),
        ("meta-llama/Llama-3.1-8B-Instruct", "vllm", "safetensors-bf16"),
    ],
)
def test_served_quant_matches_catalog(catalog, text: str, kind: str, expected: str) -> None:
    quant = match_quant(catalog, [text], kind)
    assert quant is not None
    assert quant.id == expected


def test_unknown_quant_for_llama_server_is_none(catalog) -> None:
    assert match_quant(catalog, ["model.gguf"], "llama-server") is None


# --- plausible speeds ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "value"), [
    ("decode", 1e308), ("decode", float("nan")), ("decode", float("inf")), ("decode", 0.0), ("decode", -5.0),
    ("decode", MAX_DECODE_TPS * 1.01), ("prefill", MAX_PREFILL_TPS * 1.01), ("prefill", float("nan")),
    ("decode", True), ("decode", "98"), ("decode", 10**400),
])
def test_speed_problem_rejects(kind: str, value: object) -> None:
    problem = speed_problem(kind, value)
    assert problem is not None
    assert problem.startswith(kind)


@given(st.floats(min_value=1e-3, max_value=MAX_DECODE_TPS))
def test_speed_problem_accepts_real_decode(value: float) -> None:
    assert speed_problem("decode", value) is None
    assert speed_problem("prefill", value) is None


def test_prefill_bound_is_above_decode_bound() -> None:
    assert speed_problem("prefill", MAX_DECODE_TPS * 50) is None
    assert speed_problem("decode", MAX_DECODE_TPS * 50) is not None


def _stored(**changes: object) -> Measurement:
    values: dict = dict(rig="rtx-4090", runtime="llama-cpp", model="llama-3.1-8b", quant="Q4_K_M", context=8192,
                        decode_tps=98.0, prefill_tps=3100.0, predicted_decode_tps=120.0, predicted_prefill_tps=6000.0)
    values.update(changes)
    return Measurement(**values)


def test_calibrates_needs_model_prediction_and_plausible_speeds() -> None:
    assert calibrates(_stored())
    assert not calibrates(_stored(model=None))
    assert not calibrates(_stored(predicted_decode_tps=None))
    assert not calibrates(_stored(decode_tps=1e308))
    assert not calibrates(_stored(prefill_tps=float("nan")))
    assert measurement_problem(_stored(decode_tps=1e308)) == speed_problem("decode", 1e308)
    assert measurement_problem(_stored(prefill_tps=None)) is None
