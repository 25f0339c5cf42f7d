"""Fuzz targets for the readers in rigtui.sources, shared by the tests and bench/fuzz.py.

Each target is a hypothesis strategy for one kind of untrusted input and a check that feeds
one example to the reader. A check returns normally or raises one of the errors the reader
documents (``GgufError``, ``SourceError`` or another ``RigtuiError``); anything else is a bug.
"""

from __future__ import annotations

import functools
import json
import math
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st

from gguf_files import write_tiny_llama
from gguf_mixed import write_mixed_llama
from rigtui.errors import RigtuiError
from rigtui.sources import servers
from rigtui.sources.gguf import MAX_ARRAY, MAX_STRING, NeedMore, model_from_header, parse_header
from rigtui.sources.measurements import to_measurement
from rigtui.sources.remote import model_from_hf_config

# Errors a reader may raise on bad input; GgufError and SourceError are RigtuiErrors.
ALLOWED = (RigtuiError,)


@dataclass(frozen=True)
class Target:
    """One reader to fuzz: the examples and the check each one goes through."""

    name: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


# --- GGUF headers ---------------------------------------------------------------------------


@functools.cache
def valid_headers() -> tuple[bytes, ...]:
    """Return the header bytes of real GGUF files: a tiny F16 llama and a Q8_0/Q4_0 mix."""
    with tempfile.TemporaryDirectory() as folder:
        tiny = write_tiny_llama(Path(folder) / "tiny.gguf", tokens=20).read_bytes()
        mixed = write_mixed_llama(Path(folder) / "mixed.gguf")[0].read_bytes()
    return tuple(raw[: parse_header(raw).data_offset] for raw in (tiny, mixed))


# Lengths and counts at and around every limit, and values that overflow signed types.
HUGE = (
    1 << 63, (1 << 64) - 1, 1 << 60, 1 << 40, 1 << 32, (1 << 32) - 1, 1 << 31,
    MAX_STRING, MAX_STRING + 1, MAX_ARRAY, MAX_ARRAY + 1,
)


@st.composite
def gguf_random_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, some behind a valid magic, version and small counts so parsing goes deeper."""
    body = draw(st.binary(max_size=2048))
    prefix = draw(st.sampled_from(["none", "magic", "counts"]))
    if prefix == "none":
        return body
    if prefix == "magic":
        return b"GGUF" + body
    counts = struct.pack("<IQQ", draw(st.sampled_from([2, 3])), draw(st.integers(0, 4)), draw(st.integers(0, 6)))
    return b"GGUF" + counts + body


@st.composite
def gguf_mutations(draw: st.DrawFn) -> bytes:
    """A real header after a few bit flips, overwritten lengths, insertions, deletions or a cut."""
    data = bytearray(draw(st.sampled_from(valid_headers())))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "u64", "u32", "insert", "delete", "cut"]))
        if kind == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "u64":
            value = draw(st.sampled_from(HUGE) | st.integers(0, (1 << 64) - 1))
            data[where : where + 8] = struct.pack("<Q", value)
        elif kind == "u32":
            data[where : where + 4] = struct.pack("<I", draw(st.integers(0, (1 << 32) - 1)))
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 16))]
        else:
            del data[where:]
    return bytes(data)


def check_gguf(data: bytes) -> None:
    """Parse bytes as a complete file's header, then build the model and its weights."""
    try:
        header = parse_header(data)
    except NeedMore:
        return
    model_from_header(header, source="fuzz")


# --- JSON values ----------------------------------------------------------------------------

_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 1, 1 << 31, 1 << 63, 10**30, -(10**30)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    _LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


# Values that break careless readers: non-finite and huge numbers, negatives, and the wrong types.
_ODD_LEAVES = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308]) | st.sampled_from(
    [-1, 0, 1 << 63, 10**30, 0.5, True, "12", "", None, [], {}]
)


@st.composite
def mutated(draw: st.DrawFn, value: Any, depth: int = 0) -> Any:
    """Return ``value`` with some of its nodes replaced by odd or random JSON and some keys dropped."""
    choice = draw(st.integers(0, 11))
    if choice == 0:
        return draw(JSON_VALUES)
    if choice <= 3:
        return draw(_ODD_LEAVES)
    if isinstance(value, dict) and depth < 4:
        out = {}
        for key, item in value.items():
            if draw(st.integers(0, 14)) == 0:
                continue
            out[key] = draw(mutated(item, depth + 1))
        if draw(st.integers(0, 7)) == 0:
            out[draw(st.text(max_size=8))] = draw(JSON_VALUES)
        return out
    if isinstance(value, list) and depth < 4:
        return [draw(mutated(item, depth + 1)) for item in value]
    return value


# --- Hugging Face config.json ---------------------------------------------------------------

# Shapes of real config.json files: Llama 3.1 8B, Mixtral 8x7B, DeepSeek-V3 and Gemma 3 (whose
# language model sits under text_config).
HF_CONFIGS = (
    {
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 128256, "head_dim": 128,
        "max_position_embeddings": 131072, "torch_dtype": "bfloat16", "tie_word_embeddings": False,
    },
    {
        "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
        "num_hidden_layers": 32, "num_key_value_heads": 8, "vocab_size": 32000, "num_local_experts": 8,
        "num_experts_per_tok": 2, "sliding_window": None, "max_position_embeddings": 32768,
    },
    {
        "model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432, "num_attention_heads": 128,
        "num_hidden_layers": 61, "num_key_value_heads": 128, "vocab_size": 129280, "n_routed_experts": 256,
        "n_shared_experts": 1, "num_experts_per_tok": 8, "moe_intermediate_size": 2048, "first_k_dense_replace": 3,
        "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
        "max_position_embeddings": 163840,
    },
    {
        "model_type": "gemma3", "torch_dtype": "bfloat16",
        "text_config": {
            "model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240, "num_attention_heads": 8,
            "num_hidden_layers": 34, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208,
            "sliding_window": 1024, "max_position_embeddings": 131072,
        },
    },
)


@st.composite
def hf_configs(draw: st.DrawFn) -> tuple[Any, int | None]:
    """A config.json (a real shape with random changes, or any JSON object) and a total weight size."""
    if draw(st.integers(0, 4)) == 0:
        config = draw(st.dictionaries(st.text(max_size=24), JSON_VALUES, max_size=8))
    else:
        config = draw(mutated(draw(st.sampled_from(HF_CONFIGS))))
    total = draw(st.none() | st.integers(min_value=1, max_value=1 << 62))
    return config, total


def check_hf_config(example: tuple[Any, int | None]) -> None:
    config, total = example
    if isinstance(config, dict):
        model_from_hf_config(config, "fuzz/model", total)


# --- inference server responses -------------------------------------------------------------

_METRIC_NAMES = (
    "llamacpp:predicted_tokens_seconds", "llamacpp:prompt_tokens_seconds", "vllm:prompt_tokens_total",
    "vllm:inter_token_latency_seconds_sum", "vllm:inter_token_latency_seconds_count",
    "vllm:time_per_output_token_seconds_sum", "vllm:time_per_output_token_seconds_count",
    "vllm:request_prefill_time_seconds_sum",
)
_METRIC_VALUES = st.sampled_from(["0", "-1", "1.5", "NaN", "+Inf", "-Inf", "1e999", "1e-320", "x", ""]) | st.floats().map(repr)

# The document each server kind returns on each requested path, as its documentation describes it.
SERVER_DOCUMENTS: dict[str, dict[str, Any]] = {
    "llama-server": {
        "/props": {"model_path": "/models/m.gguf", "build_info": "b4000", "total_slots": 1,
                   "default_generation_settings": {"n_ctx": 4096}},
        "/health": {"status": "ok"},
        "/slots": [{"n_ctx": 4096, "is_processing": False}],
        "/v1/models": {"data": [{"id": "m.gguf", "meta": {"size": 4_920_000_000}}]},
        "/metrics": None,
    },
    "ollama": {
        "/api/version": {"version": "0.5.1"},
        "/api/ps": {"models": [{"name": "llama3.1:8b", "size": 6_000_000_000, "size_vram": 6_000_000_000,
                                "context_length": 4096,
                                "details": {"quantization_level": "Q4_K_M", "parameter_size": "8.0B"}}]},
        "/api/tags": {"models": [{"name": "llama3.1:8b"}, {"model": "qwen2.5:7b"}]},
    },
    "vllm": {
        "/v1/models": {"data": [{"id": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 8192}]},
        "/version": {"version": "0.6.3"},
        "/metrics": None,
    },
}


@st.composite
def metrics_text(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(_METRIC_NAMES) | st.text(max_size=12))
        labels = draw(st.sampled_from(["", '{model="m"}', "{", "{}"]))
        lines.append(f"{name}{labels} {draw(_METRIC_VALUES)}")
    return "\n".join(lines).encode("utf-8", errors="replace")


@st.composite
def response_body(draw: st.DrawFn, document: Any) -> tuple[int, str, bytes]:
    status = draw(st.sampled_from([200] * 6 + [301, 401, 404, 500, 501, 503]))
    shape = draw(st.sampled_from(["document", "document", "json", "bytes", "html"]))
    content_type = "application/json"
    if document is None:
        body = draw(metrics_text()) if shape != "bytes" else draw(st.binary(max_size=256))
        content_type = "text/plain"
    elif shape == "document":
        body = json.dumps(draw(mutated(document))).encode()
    elif shape == "json":
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif shape == "bytes":
        body = draw(st.binary(max_size=256))
    else:
        body, content_type = b"<html>not json</html>", "text/html"
    return status, content_type, body


@st.composite
def server_answers(draw: st.DrawFn) -> tuple[str, dict[str, tuple[int, str, bytes]]]:
    """A server kind and, for each path it is asked, a status, content type and body."""
    kind = draw(st.sampled_from(sorted(SERVER_DOCUMENTS)))
    answers = {path: draw(response_body(document)) for path, document in SERVER_DOCUMENTS[kind].items()}
    return kind, answers


def check_server(example: tuple[str, dict[str, tuple[int, str, bytes]]]) -> None:
    """Probe a fake server; the probe must report every failure as a line, never as an exception."""
    kind, answers = example

    def answer(request: httpx.Request) -> httpx.Response:
        status, content_type, body = answers.get(request.url.path, (404, "application/json", b"{}"))
        return httpx.Response(status, headers={"content-type": content_type}, content=body)

    original = servers._client
    servers._client = lambda read_timeout_s=None: httpx.Client(transport=httpx.MockTransport(answer))
    try:
        status = servers.probe(servers.ServerTarget(kind, "http://127.0.0.1:9"), deadline_s=5.0)
    finally:
        servers._client = original
    # probe() turns an exception it did not expect into this line, so it marks a reader bug.
    assert "unexpected failure" not in (status.error or ""), status.error
    for model in status.models:
        for number in (model.size_bytes, model.vram_bytes, model.context):
            assert number is None or number >= 0, model
    if status.speeds:
        for speed in (status.speeds.decode_tps, status.speeds.prefill_tps):
            assert speed is None or (math.isfinite(speed) and speed > 0), status.speeds


# --- stored measurements ----------------------------------------------------------------------

MEASUREMENT = {
    "rig": "2x-rtx-3090", "runtime": "llama-cpp", "model": "llama-3.1-8b", "quant": "Q4_K_M", "context": 8192,
    "decode_tps": 95.1, "prefill_tps": 3100.0, "predicted_decode_tps": 90.0, "predicted_prefill_tps": 2900.0,
    "measured_at": "2025-01-01T00:00:00+00:00",
}


def check_measurement(record: Any) -> None:
    if isinstance(record, dict):
        to_measurement(record)


TARGETS = (
    Target("gguf-random-bytes", gguf_random_bytes(), check_gguf),
    Target("gguf-mutated-header", gguf_mutations(), check_gguf),
    Target("hf-config-json", hf_configs(), check_hf_config),
    Target("server-responses", server_answers(), check_server),
    Target("measurement-records", mutated(MEASUREMENT) | st.dictionaries(st.text(max_size=12), JSON_VALUES), check_measurement),
)


def run_checked(target: Target, example: Any) -> None:
    """Run one example through a target, letting only the errors readers document pass."""
    try:
        target.check(example)
    except ALLOWED:
        pass
