"""Model facts from a Hugging Face-style server on 127.0.0.1, and model argument resolution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigtui.catalog import load_catalog
from rigtui.core.catalog import NameNotFound
from rigtui.sources.models import resolve_model
from rigtui.sources.remote import SourceError, fetch_hf_model

from gguf_files import write_tiny_llama

MINI = Path(__file__).parents[1] / "catalog" / "mini"

# Values from Qwen/Qwen2.5-7B-Instruct config.json (hidden 3584, 28 layers, 28 heads, 4 KV heads).
QWEN_CONFIG = {
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "sliding_window": 131072,
    "use_sliding_window": False,
}


@pytest.fixture
def hf(file_server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", file_server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return file_server


def test_config_and_weight_index_give_the_model(hf) -> None:
    hf.add("/Qwen/Qwen2.5-7B-Instruct/resolve/main/config.json", json.dumps(QWEN_CONFIG).encode())
    # 7.62B parameters in BF16 is the size the repository's index states.
    index = {"metadata": {"total_size": 15231233024}, "weight_map": {}}
    hf.add("/Qwen/Qwen2.5-7B-Instruct/resolve/main/model.safetensors.index.json", json.dumps(index).encode())
    spec = fetch_hf_model("Qwen/Qwen2.5-7B-Instruct")
    assert (spec.n_layers, spec.hidden_size, spec.n_kv_heads, spec.head_dim) == (28, 3584, 4, 128)
    assert spec.params_total == 15231233024 // 2
    assert spec.sliding_window is None  # use_sliding_window is false
    assert "Qwen/Qwen2.5-7B-Instruct" in spec.aliases


def test_without_index_the_architecture_estimate_is_close(hf) -> None:
    hf.add("/Qwen/Qwen2.5-7B-Instruct/resolve/main/config.json", json.dumps(QWEN_CONFIG).encode())
    spec = fetch_hf_model("Qwen/Qwen2.5-7B-Instruct")
    assert abs(spec.params_total / 7.62e9 - 1) < 0.03


def test_gated_repo_says_to_set_token(hf) -> None:
    hf.status["/meta-llama/Llama-3.1-8B/resolve/main/config.json"] = 403
    with pytest.raises(SourceError, match="HF_TOKEN"):
        fetch_hf_model("meta-llama/Llama-3.1-8B")


def test_config_missing_keys_is_reported(hf) -> None:
    hf.add("/x/y/resolve/main/config.json", b'{"model_type": "llama"}')
    with pytest.raises(SourceError, match="lacks 'num_hidden_layers'"):
        fetch_hf_model("x/y")


def test_non_json_config_is_reported(hf) -> None:
    hf.add("/x/z/resolve/main/config.json", b"<html>")
    with pytest.raises(SourceError, match="not JSON"):
        fetch_hf_model("x/z")


def test_resolve_prefers_catalog_and_never_touches_network(hf) -> None:
    catalog = load_catalog(data_dir=MINI)
    resolved = resolve_model("meta-llama/Llama-3.1-8B-Instruct", catalog)
    assert resolved.origin == "catalog" and resolved.spec.id == "llama-3.1-8b"
    assert hf.requests == []


def test_resolve_local_gguf_file(tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "tiny.gguf")
    resolved = resolve_model(str(path), load_catalog(data_dir=MINI))
    assert resolved.origin == "gguf" and resolved.file_type == "F16"
    assert resolved.file_bytes == path.stat().st_size


def test_resolve_remote_repo_and_unknown_plain_name(hf) -> None:
    hf.add("/Qwen/Qwen2.5-7B-Instruct/resolve/main/config.json", json.dumps(QWEN_CONFIG).encode())
    catalog = load_catalog(data_dir=MINI)
    assert resolve_model("Qwen/Qwen2.5-7B-Instruct", catalog).origin == "huggingface"
    with pytest.raises(NameNotFound):
        resolve_model("llama 3.1 9b", catalog)  # not a repo id, so no download is tried
    with pytest.raises(NameNotFound):
        resolve_model("Qwen/Qwen2.5-7B-Instruct", catalog, allow_network=False)
