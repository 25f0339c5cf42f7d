"""Time one short generation on a running server and read its decode and prefill speed.

One bounded request per measurement: a fixed prompt of about 300 tokens and 64 generated
tokens by default. Each runtime reports its own timings, used as they are:

- llama-server ``POST /completion``: ``timings.prompt_per_second`` and
  ``timings.predicted_per_second`` (llama.cpp ``tools/server/README.md``).
- Ollama ``POST /api/generate`` with ``stream: false``: ``prompt_eval_count`` over
  ``prompt_eval_duration`` and ``eval_count`` over ``eval_duration``, durations in
  nanoseconds (docs.ollama.com/api/usage).
- vLLM ``POST /v1/completions`` streamed: the time to the first token gives prefill and
  the tokens after it over the remaining time give decode, with the token counts from the
  final ``usage`` chunk (``stream_options.include_usage``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import httpx

from rigtui.core.rig_calibration import speed_problem
from rigtui.sources.servers import (
    ProbeFailed,
    ServerStatus,
    _client,
    _check_status,
    clean,
    decode_json,
    request,
)

DEFAULT_PREDICT = 64
MAX_PREDICT = 512
DEFAULT_TIMEOUT_S = 180.0
"""Whole-request limit: 64 tokens of a 70B model half in CPU RAM take about a minute."""
MAX_RESPONSE_BYTES = 1 << 20
MAX_TOKEN_COUNT = 1 << 31
"""Token counts above this are no real request's, so an answer that states one is ignored."""
# Plain prose of 234 words, an estimated 280 to 310 tokens at the usual 1.2 to 1.3 tokens
# per English word. The text is fixed so that runs compare, and a per-run prefix keeps the
# servers' prompt caches from skipping the prefill.
MEASURE_PROMPT = (
    "The following is a short report about a small workshop that repairs bicycles in a quiet town. "
    "Every morning the owner opens the shutters at seven, sweeps the floor, and checks the list of "
    "repairs that customers left the day before. Most jobs are simple: a flat tyre, a loose chain, "
    "brakes that squeal on wet days, or a bell that no longer rings. Some jobs take longer, such as "
    "rebuilding a wheel with new spokes, replacing a worn bottom bracket, or adjusting gears that skip "
    "under load. The workshop keeps a notebook for each bicycle, with the date, the work done, the parts "
    "used and the time it took, so that the next repair starts from what is already known. Customers "
    "often stay to watch and ask questions, and the owner explains each step: why a chain stretches, how "
    "tyre pressure changes grip, what makes a wheel true, and when a part is better replaced than fixed. "
    "In spring the queue grows as people bring out bicycles that stood in sheds all winter, and in autumn "
    "the work turns to lights, mudguards and tyres with more tread. Over the years the notebook has "
    "become a record of the town itself: which streets have the worst potholes, which hills wear out "
    "brake pads, and which families ride together on Sundays. Write the next paragraph of the report, "
    "describing a typical afternoon in the workshop."
)


class MeasureFailed(Exception):
    """The measurement request failed; the message is the line shown to the user."""


@dataclass(frozen=True)
class GenerationTiming:
    """Speeds read from one timed generation request."""

    kind: str
    url: str
    model_name: str | None
    """The model the server generated with, as it names it."""
    decode_tps: float | None
    prefill_tps: float | None
    prompt_tokens: int | None
    generated_tokens: int | None
    wall_s: float
    """Time the whole request took, seconds, as rigtui measured it."""
    method: str
    """Where the speeds come from, for display."""


def measure_generation(
    status: ServerStatus,
    model: str | None = None,
    n_predict: int = DEFAULT_PREDICT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> GenerationTiming:
    """Send one short generation request to a server that answered a probe.

    Raises:
        MeasureFailed: the request failed or the answer lacks the timings; the message
            is one line with the address and what to do.
        ValueError: ``n_predict`` is outside 1 to MAX_PREDICT.
    """
    if not 1 <= n_predict <= MAX_PREDICT:
        raise ValueError(f"invalid number of tokens to generate {n_predict}; use 1 to {MAX_PREDICT}")
    prompt = f"Run {time.time_ns() % 1_000_000_007}. {MEASURE_PROMPT}"
    deadline = time.monotonic() + timeout_s
    try:
        with _client(read_timeout_s=timeout_s) as client:
            if status.kind == "llama-server":
                return _plausible(_llama_server(client, status, prompt, n_predict, deadline))
            if status.kind == "ollama":
                return _plausible(_ollama(client, status, _pick_model(status, model), prompt, n_predict, deadline))
            if status.kind == "vllm":
                return _plausible(_vllm(client, status, _pick_model(status, model), prompt, n_predict, deadline))
    except ProbeFailed as exc:
        raise MeasureFailed(str(exc)) from None
    raise MeasureFailed(f"{status.url}: cannot measure a server of kind {status.kind!r}")


def _reject(url: str, problem: str) -> MeasureFailed:
    return MeasureFailed(f"{url}: {problem}; the server's answer was rejected and nothing is stored")


def _plausible(timing: GenerationTiming) -> GenerationTiming:
    """Return the timing when its speeds could be real, else raise MeasureFailed naming the value."""
    for kind, value in (("decode", timing.decode_tps), ("prefill", timing.prefill_tps)):
        if value is not None and (problem := speed_problem(kind, value)):
            raise _reject(timing.url, problem)
    return timing


def _pick_model(status: ServerStatus, model: str | None) -> str:
    if model:
        return model
    if status.models:
        return status.models[0].name
    hint = f" (downloaded: {', '.join(status.available[:3])})" if status.available else ""
    raise MeasureFailed(f"{status.url}: no model is loaded; pass --model NAME to load one{hint}")


def _number(data: dict[str, Any], key: str) -> float | None:
    """Return a positive, finite number from a JSON answer, else None.

    JSON allows integers beyond float range, and Python's json reads 1e999 as infinity.
    """
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _count(data: dict[str, Any], key: str) -> int | None:
    """Return a token count from a JSON answer: a whole number from 1 to MAX_TOKEN_COUNT, else None."""
    number = _number(data, key)
    if number is None or number != int(number) or number > MAX_TOKEN_COUNT:
        return None
    return int(number)


def _rate(count: float | None, seconds: float | None) -> float | None:
    """Return ``count`` per second when both are positive and the result is a finite positive number."""
    if not count or not seconds:
        return None
    try:
        rate = count / seconds
    except (ZeroDivisionError, OverflowError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def _post_json(client: httpx.Client, url: str, body: dict[str, Any], deadline: float) -> dict[str, Any]:
    raw, content_type = request(client, "POST", url, deadline, body, MAX_RESPONSE_BYTES)
    data = decode_json(raw, content_type, url)
    if not isinstance(data, dict):
        raise MeasureFailed(f"{url}: expected a JSON object, got {type(data).__name__}")
    return data


def _llama_server(client: httpx.Client, status: ServerStatus, prompt: str, n_predict: int, deadline: float) -> GenerationTiming:
    url = f"{status.url}/completion"
    body = {"prompt": prompt, "n_predict": n_predict, "cache_prompt": False, "temperature": 0.0,
            "ignore_eos": True, "stream": False}
    start = time.monotonic()
    data = _post_json(client, url, body, deadline)
    wall = time.monotonic() - start
    timings = data.get("timings")
    if not isinstance(timings, dict):
        raise MeasureFailed(f"{url}: the response has no timings object; is this llama-server?")
    if timings.get("predicted_per_second") is None:
        raise MeasureFailed(f"{url}: the response has no timings.predicted_per_second; is this llama-server?")
    # A stated speed that is no real figure (NaN, zero, 1e308) rejects the whole response.
    for key, kind in (("predicted_per_second", "decode"), ("prompt_per_second", "prefill")):
        value = timings.get(key)
        if value is not None and (problem := speed_problem(kind, value)):
            raise _reject(url, f"timings.{key}: {problem}")
    decode = _number(timings, "predicted_per_second")
    return GenerationTiming(
        kind=status.kind, url=status.url, model_name=status.models[0].name if status.models else None,
        decode_tps=decode, prefill_tps=_number(timings, "prompt_per_second"),
        prompt_tokens=_count(timings, "prompt_n"), generated_tokens=_count(timings, "predicted_n"),
        wall_s=wall, method="llama-server timings",
    )


def _ollama(client: httpx.Client, status: ServerStatus, model: str, prompt: str, n_predict: int, deadline: float) -> GenerationTiming:
    url = f"{status.url}/api/generate"
    body = {"model": model, "prompt": prompt, "stream": False, "raw": True,
            "options": {"num_predict": n_predict, "temperature": 0}}
    start = time.monotonic()
    data = _post_json(client, url, body, deadline)
    wall = time.monotonic() - start
    if isinstance(data.get("error"), str):
        raise MeasureFailed(f"{url}: Ollama reported: {clean(data['error'], 100)}")
    eval_count, eval_ns = _count(data, "eval_count"), _number(data, "eval_duration")
    if not eval_count or not eval_ns:
        raise MeasureFailed(f"{url}: the response has no eval_count and eval_duration; is this Ollama?")
    decode = _rate(eval_count, eval_ns / 1e9)
    if decode is None:
        raise MeasureFailed(f"{url}: eval_count {eval_count} over eval_duration {eval_ns:g} ns is no valid speed")
    prompt_count, prompt_ns = _count(data, "prompt_eval_count"), _number(data, "prompt_eval_duration")
    return GenerationTiming(
        kind=status.kind, url=status.url, model_name=_string(data.get("model")) or model,
        decode_tps=decode, prefill_tps=_rate(prompt_count, prompt_ns / 1e9 if prompt_ns else None),
        prompt_tokens=prompt_count, generated_tokens=eval_count,
        wall_s=wall, method="Ollama eval_count / eval_duration",
    )


def _string(value: Any) -> str | None:
    return clean(value) if isinstance(value, str) and value.strip() else None


def _vllm(client: httpx.Client, status: ServerStatus, model: str, prompt: str, n_predict: int, deadline: float) -> GenerationTiming:
    url = f"{status.url}/v1/completions"
    body = {"model": model, "prompt": prompt, "max_tokens": n_predict, "temperature": 0.0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    start = time.monotonic()
    first = last = None
    usage: dict[str, Any] | None = None
    received = 0
    try:
        with client.stream("POST", url, json=body) as response:
            _check_status(response, url)
            for line in response.iter_lines():
                received += len(line) + 1
                if received > MAX_RESPONSE_BYTES:
                    raise MeasureFailed(f"{url}: the stream is over the {MAX_RESPONSE_BYTES:,}-byte limit")
                if time.monotonic() > deadline:
                    raise MeasureFailed(f"{url}: the generation did not finish in time; raise --timeout")
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                chunk = _chunk(payload, url)
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                choices = chunk.get("choices")
                if isinstance(choices, list) and any(isinstance(c, dict) and c.get("text") for c in choices):
                    now = time.monotonic()
                    first = first if first is not None else now
                    last = now
    except httpx.TimeoutException:
        raise MeasureFailed(f"{url}: timed out waiting for the response; raise --timeout") from None
    except httpx.HTTPError as exc:
        raise MeasureFailed(f"{url}: request failed ({type(exc).__name__}: {clean(str(exc), 60)})") from None
    wall = time.monotonic() - start
    if usage is None or first is None or last is None:
        raise MeasureFailed(f"{url}: the stream had no tokens or no usage chunk; is this vLLM?")
    prompt_tokens, generated = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    if not generated or generated < 2 or last <= first:
        raise MeasureFailed(f"{url}: too few tokens generated to time decode; raise --tokens")
    decode = _rate(generated - 1, last - first)
    if decode is None:
        raise MeasureFailed(f"{url}: {generated} tokens in {last - first:g} s is not a valid speed")
    return GenerationTiming(
        kind=status.kind, url=status.url, model_name=model,
        decode_tps=decode, prefill_tps=_rate(prompt_tokens, first - start),
        prompt_tokens=prompt_tokens, generated_tokens=generated,
        wall_s=wall, method="vLLM stream timing (prefill includes network and queue time)",
    )


def _chunk(payload: str, url: str) -> dict[str, Any]:
    try:
        chunk = json.loads(payload)
    except ValueError:
        raise MeasureFailed(f"{url}: the stream carried malformed JSON") from None
    if not isinstance(chunk, dict):
        raise MeasureFailed(f"{url}: the stream carried {type(chunk).__name__}, not an object")
    return chunk
