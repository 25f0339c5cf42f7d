"""Hostile GGUF headers: each is rejected with GgufError, quickly and without large allocations."""

from __future__ import annotations

import re
import struct
import time
import tracemalloc
from pathlib import Path

import pytest

import rigtui.sources.gguf as gguf_module
from gguf_bytes import (
    ARRAY, F32_TYPE, Q4_0_TYPE, STRING, U8, U64, array, gguf_string, header, kv, kv_f32, kv_str, kv_u32, llama_kvs,
    tensor_info,
)
from gguf_files import write_tiny_llama
from rigtui.sources.gguf import GgufError, NeedMore, model_from_header, parse_header, read_header, read_model_file

# Generous bounds: on a 2-core VM a rejection took under 0.1 ms and a few KB.
MAX_SECONDS = 2.0
MAX_PEAK_BYTES = 16 << 20

HOSTILE = {
    "tensor-count-2^63": (header(n_tensors=1 << 63), "implausible header"),
    "kv-count-2^63": (header(n_kv=1 << 63), "implausible header"),
    "key-length-2^60": (header([gguf_string(b"", 1 << 60)]), "above the 67,108,864 limit"),
    "string-length-2^60": (header([kv("k", STRING, struct.pack("<Q", 1 << 60))]), "above the 67,108,864 limit"),
    "array-2^40-items": (header([kv("k", ARRAY, array(U8, 1 << 40))]), "claims 1,099,511,627,776 items"),
    "string-array-2^40-items": (header([kv("k", ARRAY, array(STRING, 1 << 40))]), "claims 1,099,511,627,776 items"),
    "nested-array": (header([kv("k", ARRAY, array(ARRAY, 1, array(U8, 1, b"\0")))]), "array of arrays"),
    "unknown-value-type": (header([kv("k", 13, b"")]), "unknown value type 13"),
    "unknown-value-type-max": (header([kv("k", 0xFFFFFFFF, b"")]), "unknown value type 4294967295"),
    "unknown-array-item-type": (header([kv("k", ARRAY, array(99, 0))]), "unknown value type 99"),
    "duplicate-key": (header([kv_u32("k", 1), kv_u32("k", 2)]), "duplicate metadata key 'k'"),
    "five-dimensions": (header(tensors=[tensor_info("t", (1, 1, 1, 1, 1))]), "has 5 dimensions"),
    "dimensions-2^32-1": (header(tensors=[tensor_info("t", (), n_dims=0xFFFFFFFF)]), "has 4294967295 dimensions"),
    "dims-product-overflows": (header(tensors=[tensor_info("t", (1 << 32, 1 << 32))]), "too many elements"),
    "dim-2^64-1": (header(tensors=[tensor_info("t", ((1 << 64) - 1,))]), "too many elements"),
    "offset-not-aligned": (
        header(tensors=[tensor_info("a", (8,)), tensor_info("b", (8,), offset=36)]),
        "data offset 36, expected 32",
    ),
    "offset-gap": (header(tensors=[tensor_info("a", (8,), offset=64)]), "data offset 64, expected 0"),
    "unknown-ggml-type": (header(tensors=[tensor_info("t", (32,), ggml_type=4)]), "unknown GGML type 4"),
    "ggml-type-2^32-1": (header(tensors=[tensor_info("t", (32,), ggml_type=0xFFFFFFFF)]), "unknown GGML type"),
    "row-not-whole-blocks": (header(tensors=[tensor_info("t", (33,), ggml_type=Q4_0_TYPE)]), "not a multiple"),
    "name-64-bytes": (header(tensors=[tensor_info("x" * 64, (1,))]), "has 64 bytes"),
    "duplicate-tensor": (
        header(tensors=[tensor_info("t", (8,)), tensor_info("t", (8,), offset=32)]),
        "duplicate tensor name 't'",
    ),
    "alignment-3": (header([kv_u32("general.alignment", 3)]), "not a power of two"),
    "alignment-0": (header([kv_u32("general.alignment", 0)]), "not a power of two"),
    "alignment-string": (header([kv_str("general.alignment", "32")]), "not a power of two"),
    "version-1": (header(version=1), "unsupported GGUF version 1"),
    "version-2^32-1": (header(version=0xFFFFFFFF), "unsupported GGUF version"),
    "magic": (b"GGML" + header()[4:], "not a GGUF file"),
}


def _read_bounded(path: Path) -> GgufError:
    """Read ``path`` and return the GgufError, checking the time and memory it took."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(GgufError) as caught:
            read_model_file(path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < MAX_SECONDS
    assert peak < MAX_PEAK_BYTES
    return caught.value


@pytest.mark.parametrize(("data", "message"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_header_rejected(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(data)
    error = _read_bounded(path)
    assert message in str(error)
    assert str(path) in str(error)


@pytest.mark.parametrize(("data", "message"), list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_bytes_rejected_by_parser(data: bytes, message: str) -> None:
    with pytest.raises(GgufError, match=re.escape(message)):
        parse_header(data)


def test_claimed_length_inside_limit_is_truncation(tmp_path: Path) -> None:
    # 40 MB is under every limit, so only the file's real length can stop the read.
    path = tmp_path / "short.gguf"
    path.write_bytes(header([kv("k", ARRAY, array(U8, 40_000_000))]))
    assert "truncated header" in str(_read_bounded(path))


def test_header_above_read_limit_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_module, "MAX_HEADER_BYTES", 4096)
    path = tmp_path / "big.gguf"
    path.write_bytes(header([kv("k", ARRAY, array(U8, 10_000, bytes(10_000)))]))
    with pytest.raises(GgufError, match="header larger than"):
        read_header(path, first_read=1024)


def test_every_header_prefix_needs_more(tmp_path: Path) -> None:
    raw = write_tiny_llama(tmp_path / "tiny.gguf", tokens=40).read_bytes()
    end = parse_header(raw).header_bytes
    for cut in range(end):
        with pytest.raises(NeedMore):
            parse_header(raw[:cut])


def test_every_truncated_file_rejected(tmp_path: Path) -> None:
    raw = write_tiny_llama(tmp_path / "tiny.gguf", tokens=40).read_bytes()
    end = parse_header(raw).header_bytes
    path = tmp_path / "cut.gguf"
    # Every byte of the header, then every 997th byte of the tensor data; every 100th cut is
    # also timed and measured.
    for cut in [*range(end), *range(end, len(raw), 997)]:
        path.write_bytes(raw[:cut])
        error = _read_bounded(path) if cut % 100 == 0 else pytest.raises(GgufError, read_model_file, path).value
        assert "truncated" in str(error), cut


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"block_count": 0}, "llama.block_count is missing or not a positive number"),
        ({"attention.head_count": float("nan")}, "llama.attention.head_count is missing"),
        ({"embedding_length": float("inf")}, "llama.embedding_length is missing"),
        ({"block_count": 1 << 40}, "impossible model"),
        ({"embedding_length": 2}, "impossible model"),
    ],
    ids=["zero-layers", "nan-heads", "infinite-width", "2^40-layers", "zero-head-dim"],
)
def test_impossible_model_rejected(values: dict, message: str) -> None:
    tensors = [tensor_info("token_embd.weight", (8,))]
    parsed = parse_header(header(llama_kvs(**values), tensors))
    with pytest.raises(GgufError, match=message):
        model_from_header(parsed, source="x")


def test_block_beyond_count_rejected() -> None:
    tensors = [tensor_info("blk.5.attn_q.weight", (8,))]
    parsed = parse_header(header(llama_kvs(), tensors))
    with pytest.raises(GgufError, match="belongs to block 5, but block_count is 2"):
        model_from_header(parsed, source="x")


def test_tensorless_file_rejected() -> None:
    parsed = parse_header(header(llama_kvs()))
    with pytest.raises(GgufError, match="holds no tensors"):
        model_from_header(parsed, source="x")


def test_numeric_arrays_use_largest_positive() -> None:
    per_layer = kv("llama.attention.head_count_kv", ARRAY, array(U64, 3, struct.pack("<3Q", 0, 2, 1)))
    kvs = [*llama_kvs(**{"attention.head_count_kv": None}), per_layer, kv_f32("llama.rope.freq_base", float("nan"))]
    parsed = parse_header(header(kvs, [tensor_info("token_embd.weight", (8,), ggml_type=F32_TYPE)]))
    assert model_from_header(parsed, source="x").spec.n_kv_heads == 2
