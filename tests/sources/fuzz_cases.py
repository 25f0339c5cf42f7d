"""Fuzz targets for the readers in rigtui.sources, shared by the tests and bench/fuzz.py.

Each target is a hypothesis strategy for one kind of untrusted input and a check that feeds
one example to the reader. A check returns normally or raises one of the errors the reader
documents (``GgufError``, ``SourceError`` or another ``RigtuiError``); anything else is a bug.
"""

from __future__ import annotations

import functools
import hashlib
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
from rigtui.sources import huggingface, measure, remote, servers
from rigtui.sources.gguf import MAX_ARRAY, MAX_STRING, NeedMore, model_from_header, parse_header
from rigtui.sources.hf_cache import HubCache
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
    allowed: tuple[type[BaseException], ...] = ALLOWED
    """Errors the reader documents for bad input; any other exception is a finding."""


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


# --- Hugging Face repositories --------------------------------------------------------------

HF_REPO = "fuzz/model"
# Object ids as the tree listing gives them: a git blob id, and an LFS file's SHA-256.
_GIT_OID = "a" * 40
_SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
# One safetensors header per shard, shaped like Llama 3.1 8B's: a name to dtype, shape and
# data_offsets map, and the optional __metadata__ (huggingface/safetensors README).
SAFETENSORS_HEADERS = (
    {
        "__metadata__": {"format": "pt"},
        "model.embed_tokens.weight": {"dtype": "BF16", "shape": [128256, 4096], "data_offsets": [0, 1050673152]},
        "model.layers.0.self_attn.q_proj.weight": {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [1050673152, 1084227584]},
    },
    {
        "model.norm.weight": {"dtype": "BF16", "shape": [4096], "data_offsets": [0, 8192]},
        "lm_head.weight": {"dtype": "BF16", "shape": [128256, 4096], "data_offsets": [8192, 1050681344]},
    },
)
# model.safetensors.index.json as transformers writes it; total_parameters is left out so that
# the reader goes on to the shards' headers, and mutations may add it back.
SAFETENSORS_INDEX = {
    "metadata": {"total_size": 16060522496},
    "weight_map": {name: _SHARDS[i] for i, header in enumerate(SAFETENSORS_HEADERS) for name in header if name != "__metadata__"},
}
_GGUF_FILES = ("Tiny-Q4_K_M.gguf", "Tiny-Q8_0-00001-of-00002.gguf", "Tiny-Q8_0-00002-of-00002.gguf", "mmproj-Tiny-F16.gguf")


def _tree_entry(path: str, size: int, lfs: bool) -> dict[str, Any]:
    """One entry of the recursive tree listing, as the Hub API returns it."""
    entry: dict[str, Any] = {"type": "file", "oid": _GIT_OID, "size": size, "path": path}
    if lfs:
        entry["lfs"] = {"oid": hashlib.sha256(path.encode()).hexdigest(), "size": size, "pointerSize": 135}
    return entry


HF_TREES = {
    "safetensors": [
        {"type": "directory", "oid": _GIT_OID, "size": 0, "path": "original"},
        _tree_entry("config.json", 855, lfs=False),
        _tree_entry("model.safetensors.index.json", 23950, lfs=False),
        *(_tree_entry(name, 4_976_698_672, lfs=True) for name in _SHARDS),
    ],
    "gguf": [_tree_entry("README.md", 1200, lfs=False), *(_tree_entry(name, 1 << 20, lfs=True) for name in _GGUF_FILES)],
}
_LINKS = (
    "", "", "", "", "", '<{tree}?cursor=2>; rel="next"', '<{tree}>; rel="next"', '<http://[::1>; rel="next"',
    '<//other.example/x>; rel="next"', '<?cursor=%zz>; rel=next', "garbage",
)
_STATUSES = [200] * 24 + [302, 401, 403, 404, 500, 503]


@st.composite
def hf_document(draw: st.DrawFn, document: Any) -> bytes:
    """A JSON document as documented, with random changes, any JSON, or bytes that are not JSON.

    Most documents stay valid, so that most examples reach the readers of the later files.
    """
    shape = draw(st.sampled_from(["exact"] * 6 + ["mutated"] * 3 + ["json", "bytes", "deep"]))
    if shape == "exact":
        return json.dumps(document).encode()
    if shape == "mutated":
        return json.dumps(draw(mutated(document))).encode()
    if shape == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    if shape == "deep":
        return b"[" * 100_000 + b"]" * 100_000
    return draw(st.binary(max_size=256))


@st.composite
def safetensors_file(draw: st.DrawFn, header: dict[str, Any]) -> bytes:
    """A safetensors file start: a length prefix (true, forged or cut) and a header."""
    raw = draw(hf_document(header))
    length = draw(st.sampled_from(["true"] * 12 + ["huge", "short", "long", "cut"]))
    if length == "huge":
        return struct.pack("<Q", draw(st.sampled_from(HUGE))) + raw
    if length == "short":
        return struct.pack("<Q", max(len(raw) - draw(st.integers(1, 8)), 0)) + raw
    if length == "long":
        return struct.pack("<Q", len(raw) + draw(st.integers(1, 1 << 20))) + raw
    if length == "cut":
        return struct.pack("<Q", len(raw))[: draw(st.integers(0, 7))]
    return struct.pack("<Q", len(raw)) + raw + bytes(64)


@st.composite
def hf_answer(draw: st.DrawFn, body: st.SearchStrategy[bytes], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    status = draw(st.sampled_from(_STATUSES))
    answer_headers = dict(headers or {})
    if status == 302:
        answer_headers["Location"] = draw(st.sampled_from(["", "/", "?again", "http://[::1", "/fuzz/model/resolve/main/config.json"]))
    return status, answer_headers, draw(body)


@st.composite
def hf_repos(draw: st.DrawFn) -> tuple[str, bool, dict[str, tuple[int, dict[str, str], bytes]]]:
    """A repository of safetensors or GGUF files: the model reference, offline or not, and the
    status, headers and body the server gives each path (tree listing, JSON files, weight files)."""
    kind = draw(st.sampled_from(sorted(HF_TREES)))
    tree_url = f"/api/models/{HF_REPO}/tree/main"
    link = draw(st.sampled_from(_LINKS)).format(tree=tree_url)
    answers = {"tree/main": draw(hf_answer(hf_document(HF_TREES[kind]), {"Link": link} if link else None))}
    if kind == "safetensors":
        ref = HF_REPO
        answers["resolve/main/config.json"] = draw(hf_answer(hf_document(draw(st.sampled_from(HF_CONFIGS)))))
        answers["resolve/main/model.safetensors.index.json"] = draw(hf_answer(hf_document(SAFETENSORS_INDEX)))
        for name, header in zip(_SHARDS, SAFETENSORS_HEADERS):
            answers[f"resolve/main/{name}"] = draw(hf_answer(safetensors_file(header)))
    else:
        ref = draw(st.sampled_from([HF_REPO, f"{HF_REPO}:Q4_K_M", f"{HF_REPO}:Q8_0", f"{HF_REPO}:IQ2_XS"]))
        for name in _GGUF_FILES:
            header = st.sampled_from(valid_headers() * 4) | gguf_mutations() | st.binary(max_size=64)
            answers[f"resolve/main/{name}"] = draw(hf_answer(header))
    return ref, draw(st.booleans()), answers


class _MemoryCache(HubCache):
    """A HubCache in a dict: the cache's own file handling is not under test, and fsync per
    write would slow a 10,000-case run several times over."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/rigtui-fuzz-cache"))
        object.__setattr__(self, "files", {})

    def read(self, path: Path) -> bytes | None:
        return self.files.get(path)

    def write(self, path: Path, data: bytes) -> None:
        self.files[path] = data


def check_hf_repo(example: tuple[str, bool, dict[str, tuple[int, dict[str, str], bytes]]]) -> None:
    """Read a model from a fake Hub that sends the responses in ``example``, over the network or from the cache."""
    ref, offline, answers = example

    def answer(request: httpx.Request) -> httpx.Response:
        _, _, key = request.url.path.partition(f"/{HF_REPO}/")
        status, headers, body = answers.get(key, (404, {}, b"Entry not found"))
        range_header = request.headers.get("Range", "")
        if status == 200 and range_header.startswith("bytes=0-"):
            end = int(range_header.removeprefix("bytes=0-")) + 1
            headers = {**headers, "Content-Range": f"bytes 0-{min(end, len(body)) - 1}/{len(body)}"}
            return httpx.Response(206, headers=headers, content=body[:end])
        return httpx.Response(status, headers=headers, content=body)

    class MockFetcher(remote.Fetcher):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._client.close()
            self._client = httpx.Client(transport=httpx.MockTransport(answer), follow_redirects=False)

    cache = _MemoryCache()
    original = huggingface.Fetcher
    huggingface.Fetcher = MockFetcher  # type: ignore[misc]
    try:
        if offline:
            # An online read first stores every body it received, as it is, so the offline
            # read below parses the same broken documents from the cache.
            try:
                huggingface.fetch_repo_model(ref, cache=cache, offline=False, timeout=5.0)
            except ALLOWED:
                pass
        found = huggingface.fetch_repo_model(ref, cache=cache, offline=offline, timeout=5.0)
    finally:
        huggingface.Fetcher = original  # type: ignore[misc]
    assert found.spec.params_total > 0, found.spec
    assert found.file_bytes is None or found.file_bytes >= 0, found.file_bytes
    if found.weights is not None:
        assert found.weights.file_bytes >= 0, found.weights


# --- timed generation requests (rigtui measure) ---------------------------------------------

# Answers shaped like tests/sources/fake_servers.py's, which follow each runtime's documentation:
# llama-server's /completion timings, Ollama's non-streamed /api/generate, vLLM's streamed
# /v1/completions chunks with a final usage chunk.
LLAMA_COMPLETION = {
    "content": " The afternoon", "model": "/models/m.gguf", "stop": True, "stop_type": "limit", "tokens_evaluated": 310,
    "timings": {"prompt_n": 310, "prompt_ms": 100.0, "prompt_per_token_ms": 0.32, "prompt_per_second": 3100.0,
                "predicted_n": 64, "predicted_ms": 653.1, "predicted_per_token_ms": 10.2, "predicted_per_second": 98.0},
}
OLLAMA_GENERATE = {
    "model": "llama3.1:8b", "created_at": "2025-10-17T23:14:07.414671Z", "response": "The afternoon", "done": True,
    "done_reason": "length", "total_duration": 2_000_000_000, "load_duration": 1_000_000,
    "prompt_eval_count": 300, "prompt_eval_duration": 333_333_333, "eval_count": 64, "eval_duration": 1_422_222_222,
}
VLLM_TOKEN = {"id": "cmpl-1", "object": "text_completion", "model": "m", "choices": [{"index": 0, "text": " w", "finish_reason": None}]}
VLLM_USAGE = {"id": "cmpl-1", "object": "text_completion", "model": "m", "choices": [],
              "usage": {"prompt_tokens": 305, "completion_tokens": 64, "total_tokens": 369}}
# Numbers that break careless arithmetic: below the smallest normal float, beyond float range
# (json.loads reads 1e999 as inf), and huge integers.
_ODD_NUMBERS = st.sampled_from([5e-324, 1e-310, 1e308, 10**400, 2**64, -0.0]) | st.just(float("inf"))


@st.composite
def timing_document(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """A documented response as it is, with some of its numbers set to odd values, or with random changes."""
    shape = draw(st.sampled_from(["exact", "odd", "odd", "odd", "mutated", "mutated"]))
    if shape == "mutated":
        return draw(mutated(document))
    value = json.loads(json.dumps(document))
    if shape == "odd":
        numbers = value.get("timings") or value.get("usage") or value
        keys = sorted(key for key, item in numbers.items() if type(item) in (int, float))
        for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True)):
            numbers[key] = draw(_ODD_NUMBERS)
    return value


@st.composite
def vllm_stream(draw: st.DrawFn) -> list[bytes]:
    """Server-sent event lines: token chunks, a usage chunk and [DONE], each one maybe broken."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        chunk = VLLM_TOKEN if draw(st.integers(0, 3)) else draw(mutated(VLLM_TOKEN))
        lines.append(b"data: " + json.dumps(chunk).encode())
    lines.append(b"data: " + json.dumps(draw(timing_document(VLLM_USAGE))).encode())
    extra = draw(st.sampled_from([b""] * 6 + [b"data: [DONE]", b"data: {", b"data: 1e999", b": ping", b"data:", b"\xff\xfe"]))
    lines.extend([extra, b"data: [DONE]"])
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.binary(max_size=64)))
    return [line + b"\n\n" for line in lines]


@st.composite
def generation_answers(draw: st.DrawFn) -> tuple[str, int, str, Any]:
    """A server kind and its response to the timed request: status, content type and body."""
    kind = draw(st.sampled_from(servers.KINDS))
    status = draw(st.sampled_from([200] * 20 + [301, 401, 404, 500, 503]))
    if kind == "vllm":
        return kind, status, "text/event-stream", draw(vllm_stream())
    document = LLAMA_COMPLETION if kind == "llama-server" else OLLAMA_GENERATE
    shape = draw(st.sampled_from(["document"] * 8 + ["json", "bytes", "html"]))
    if shape == "document":
        return kind, status, "application/json", json.dumps(draw(timing_document(document))).encode()
    if shape == "json":
        return kind, status, "application/json", json.dumps(draw(JSON_VALUES)).encode()
    if shape == "bytes":
        return kind, status, "application/json", draw(st.binary(max_size=256))
    return kind, status, "text/html", b"<html>not json</html>"


def check_generation(example: tuple[str, int, str, Any]) -> None:
    """Time one generation against a fake server; a failure must be a MeasureFailed line."""
    kind, status, content_type, body = example

    def answer(request: httpx.Request) -> httpx.Response:
        content = iter(body) if isinstance(body, list) else body
        return httpx.Response(status, headers={"content-type": content_type}, content=content)

    original = measure._client
    measure._client = lambda read_timeout_s=None: httpx.Client(transport=httpx.MockTransport(answer))
    try:
        server = servers.ServerStatus(kind, "http://127.0.0.1:9", models=(servers.LoadedModel("m"),))
        timing = measure.measure_generation(server, n_predict=8, timeout_s=5.0)
    finally:
        measure._client = original
    assert timing.decode_tps is not None, timing
    assert math.isfinite(timing.decode_tps), timing
    assert timing.decode_tps > 0, timing
    assert timing.prefill_tps is None or (math.isfinite(timing.prefill_tps) and timing.prefill_tps > 0), timing
    for count in (timing.prompt_tokens, timing.generated_tokens):
        assert count is None or (type(count) is int and count > 0), timing


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
    Target("hf-repository", hf_repos(), check_hf_repo),
    Target("generation-timings", generation_answers(), check_generation, allowed=(*ALLOWED, measure.MeasureFailed)),
)


def run_checked(target: Target, example: Any) -> None:
    """Run one example through a target, letting only the errors readers document pass."""
    try:
        target.check(example)
    except target.allowed:
        pass
