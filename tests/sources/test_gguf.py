"""GGUF header parsing on real files written by the gguf package, local and over HTTP."""

from __future__ import annotations

import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigtui.sources.gguf import GgufError, NeedMore, model_from_header, parse_header, read_header
from rigtui.sources.remote import SourceError, fetch_gguf_header

from gguf_files import FFN, HEADS, HIDDEN, KV_HEADS, N_LAYERS, VOCAB, write_tiny_llama


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def test_header_matches_gguf_reader(tiny: Path) -> None:
    header = read_header(tiny)
    reader = gguf.GGUFReader(str(tiny))
    assert header.architecture == "llama"
    assert [t.name for t in header.tensors] == [t.name for t in reader.tensors]
    for mine, theirs in zip(header.tensors, reader.tensors):
        assert mine.dims == tuple(int(d) for d in theirs.shape)
        assert mine.ggml_type == int(theirs.tensor_type)
        assert header.data_offset + mine.offset == int(theirs.data_offset)


def test_model_from_header_reads_shape_and_size(tiny: Path) -> None:
    model = model_from_header(read_header(tiny), source=str(tiny))
    spec = model.spec
    assert (spec.n_layers, spec.hidden_size, spec.n_heads, spec.n_kv_heads) == (N_LAYERS, HIDDEN, HEADS, KV_HEADS)
    assert spec.vocab_size == VOCAB and spec.max_context == 2048
    assert not spec.tie_word_embeddings
    assert model.file_type == "F16"
    assert model.file_bytes == tiny.stat().st_size
    expected_params = 2 * VOCAB * HIDDEN + N_LAYERS * (2 * HIDDEN * HIDDEN + 2 * 32 * HIDDEN + 3 * FFN * HIDDEN + HIDDEN)
    assert spec.params_total == expected_params


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_prefix_parses_or_asks_for_more(tiny: Path, data: st.DataObject) -> None:
    raw = tiny.read_bytes()
    full = parse_header(raw)
    cut = data.draw(st.integers(min_value=0, max_value=full.header_bytes + 16))
    try:
        header = parse_header(raw[:cut])
    except NeedMore as more:
        assert more.size > cut
    else:
        assert header == full


def test_long_token_list_is_skipped_not_kept(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "big-vocab.gguf", tokens=10_000)
    header = read_header(path, first_read=1024)
    tokens = header.metadata["tokenizer.ggml.tokens"]
    assert tokens.length == 10_000
    # llama.cpp takes n_vocab from the token list, so the list wins over the embedding's rows.
    assert model_from_header(header, "x").spec.vocab_size == 10_000


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda raw: b"GGML" + raw[4:], "not a GGUF file"),
        (lambda raw: raw[:4] + struct.pack("<I", 9) + raw[8:], "unsupported GGUF version 9"),
        (lambda raw: raw[:8] + struct.pack("<Q", 10**9) + raw[16:], "implausible header"),
        (lambda raw: raw[:24] + struct.pack("<Q", 1 << 40) + raw[32:], "above the 67,108,864 limit"),
        (lambda raw: raw[:100], "truncated header"),
        (lambda raw: b"", "truncated header"),
    ],
    ids=["magic", "version", "tensor-count", "string-length", "truncated", "empty"],
)
def test_malformed_headers_name_the_file_and_problem(tiny: Path, tmp_path: Path, mangle, message: str) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(mangle(tiny.read_bytes()))
    with pytest.raises(GgufError) as caught:
        read_header(bad)
    assert message in str(caught.value) and str(bad) in str(caught.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GgufError, match="cannot read"):
        read_header(tmp_path / "nope.gguf")


def test_remote_header_by_range_requests(tiny: Path, file_server) -> None:
    url = file_server.add("/tiny.gguf", tiny)
    header = fetch_gguf_header(url, first_read=256)
    assert header == read_header(tiny)
    assert all(r.startswith("bytes=0-") for _, r in file_server.requests)
    assert len(file_server.requests) >= 2  # 256 bytes cannot hold the header, so it grew


def test_remote_header_when_server_ignores_range(tiny: Path, file_server) -> None:
    file_server.honour_range = False
    url = file_server.add("/tiny.gguf", tiny)
    assert fetch_gguf_header(url, first_read=1 << 20) == read_header(tiny)


def test_remote_truncated_file(tiny: Path, file_server) -> None:
    url = file_server.add("/cut.gguf", tiny.read_bytes()[:200])
    with pytest.raises(GgufError, match="truncated header"):
        fetch_gguf_header(url, first_read=128)


def test_remote_not_found_and_timeout(file_server) -> None:
    with pytest.raises(SourceError, match="not found"):
        fetch_gguf_header(file_server.url + "/missing.gguf")
    file_server.delay_s = 1.0
    url = file_server.add("/slow.gguf", b"GGUF")
    with pytest.raises(SourceError, match="timed out"):
        fetch_gguf_header(url, timeout=0.2)
