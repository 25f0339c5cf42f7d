"""Weights per tensor, GGUF file sizes, KV cache and compute buffer sizes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rigtui.core import memory
from rigtui.core.fit import model_file_bytes
from rigtui.core.rig import MIB
from tests.core.conftest import COMMAND_R

DATA = Path(__file__).parent.parent / "data"
# Published sizes are rounded to 3 significant digits or 2 decimals of a GB; older uploads
# used earlier llama.cpp quantizer rules. 2 % covers both.
FILE_SIZE_TOLERANCE = 0.02


def _size_rows() -> list[dict[str, str]]:
    with open(DATA / "gguf_sizes.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_size_table_covers_families() -> None:
    rows = _size_rows()
    assert len(rows) >= 40
    assert len({r["model"] for r in rows}) >= 4
    assert all(r["source"].startswith("https://") for r in rows)


@pytest.mark.parametrize("row", _size_rows(), ids=lambda r: f"{r['model']}-{r['quant']}")
def test_gguf_file_size_matches_published(catalog, row) -> None:
    model = catalog.models[row["model"]]
    predicted = model_file_bytes(model, catalog.quant(row["quant"]), catalog.ggml_types) / 1e9
    published = float(row["size_gb"])
    assert abs(predicted - published) / published <= FILE_SIZE_TOLERANCE, f"predicted {predicted:.2f} GB"


def test_q4_k_m_is_a_mixture(catalog) -> None:
    weights = memory.model_weights(catalog.model("llama-3.1-8b"), catalog.quant("Q4_K_M"), catalog.ggml_types)
    assert set(weights.tensor_types) >= {"Q4_K", "Q6_K", "F32"}
    # Half of attn_v and ffn_down (use_more_bits) and the output head get Q6_K.
    assert weights.tensor_types["Q6_K"] > 0.15 * weights.file_bytes


def test_use_more_bits_matches_llama_quant() -> None:
    picked = [i for i in range(32) if memory._more_bits(i, 32)]
    assert picked[:4] == [0, 1, 2, 3]
    assert picked[-4:] == [28, 29, 30, 31]
    assert 6 in picked and 5 not in picked


def test_tied_embedding_uses_output_type(catalog) -> None:
    # A public two-GPU llama.cpp log shows Command R's CPU buffer at 1640.62 MiB: the
    # tied token_embd quantized as the output head (Q6_K).
    weights = memory.model_weights(COMMAND_R, catalog.quant("Q4_K_M"), catalog.ggml_types)
    assert weights.token_embd_bytes / MIB == pytest.approx(1640.62, rel=0.001)
    assert weights.output_bytes >= weights.token_embd_bytes


def test_kv_llama_70b_per_token(catalog) -> None:
    model = catalog.model("llama-3.1-70b")
    per_token = memory.kv_bytes_per_token(model, "f16", catalog.ggml_types)
    assert per_token == 320 * 1024


def test_kv_quantized_cache_is_smaller(catalog) -> None:
    model = catalog.model("llama-3.1-70b")
    f16 = memory.kv_layer_bytes(model, 0, 8192, "f16", catalog.ggml_types)
    q8 = memory.kv_layer_bytes(model, 0, 8192, "q8_0", catalog.ggml_types)
    q4 = memory.kv_layer_bytes(model, 0, 8192, "q4_0", catalog.ggml_types)
    assert q8 == pytest.approx(f16 * 1.0625 / 2)
    assert q4 == pytest.approx(f16 * 0.5625 / 2)


def test_kv_context_padded_to_256(catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    assert memory.kv_layer_bytes(model, 0, 1000, "f16", catalog.ggml_types) == memory.kv_layer_bytes(model, 0, 1024, "f16", catalog.ggml_types)


def test_kv_sliding_window_layers(catalog) -> None:
    model = catalog.model("gemma-2-9b")
    assert model.sliding_window
    swa = [il for il in range(model.n_layers) if memory.is_swa_layer(model, il)]
    assert 0 < len(swa) < model.n_layers
    long_swa = memory.kv_layer_bytes(model, swa[0], 32768, "f16", catalog.ggml_types)
    full = next(il for il in range(model.n_layers) if il not in swa)
    long_full = memory.kv_layer_bytes(model, full, 32768, "f16", catalog.ggml_types)
    assert long_swa < long_full / 4


def test_kv_latent_attention(catalog) -> None:
    model = catalog.model("deepseek-v3")
    per_token = memory.kv_bytes_per_token(model, "f16", catalog.ggml_types)
    # (kv_lora_rank 512 + rope 64) for K and 512 for V, one head, 61 layers, 2 bytes.
    assert per_token == 61 * (576 + 512) * 2


def test_compute_buffer_without_flash_attention_grows_with_context(catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    short = memory.llamacpp_compute_shape(model, 2048, 512, flash_attn=False)
    long = memory.llamacpp_compute_shape(model, 32768, 512, flash_attn=False)
    # The F32 scores hold one value per cache cell, token and query head.
    assert long.attention - short.attention == (32768 - 2048) * 512 * model.n_heads * 4


def test_compute_buffer_with_flash_attention_grows_only_by_mask(catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    short = memory.llamacpp_compute_bytes(memory.llamacpp_compute_shape(model, 2048, 512, True), True, True)
    long = memory.llamacpp_compute_bytes(memory.llamacpp_compute_shape(model, 32768, 512, True), True, True)
    # Only the mask scales with context: the F32 input plus its F16 cast, one value per cell and token.
    assert long - short == (32768 - 2048) * 512 * (4 + 2)


def test_pipeline_copies_multiply_graph_inputs(catalog) -> None:
    model = catalog.model("qwen2.5-32b")
    shape = memory.llamacpp_compute_shape(model, 32768, 256, flash_attn=True)
    single = memory.llamacpp_compute_bytes(shape, False, True, first_device=True, n_copies=1)
    piped = memory.llamacpp_compute_bytes(shape, False, True, first_device=True, n_copies=4)
    # Three more copies of the F32 mask, the index inputs and four persistent copies of the hidden state.
    assert piped - single == 3 * (shape.mask + shape.index_inputs) + 4 * shape.activations


def test_pipeline_copies_need_full_offload_on_several_gpus() -> None:
    assert memory.pipeline_copies(2, full_offload=True) == 4
    assert memory.pipeline_copies(1, full_offload=True) == 1
    assert memory.pipeline_copies(2, full_offload=False) == 1
    assert memory.pipeline_copies(2, full_offload=True, split_mode="row") == 1
    assert memory.pipeline_copies(2, full_offload=True, tensor_overrides=True) == 1


def test_later_gpu_reads_f16_mask_copies(catalog) -> None:
    model = catalog.model("llama-3.1-8b")
    shape = memory.llamacpp_compute_shape(model, 16384, 512, flash_attn=True)
    first = memory.llamacpp_compute_bytes(shape, False, True, first_device=True, n_copies=4)
    later = memory.llamacpp_compute_bytes(shape, False, True, first_device=False, n_copies=4)
    assert shape.device_mask * 2 == shape.mask
    assert first - later == 4 * shape.mask + shape.device_mask - 4 * shape.device_mask


def test_awq_group_overhead(catalog) -> None:
    bits = memory.linear_bits_per_weight(catalog.quant("awq-4bit"))
    assert bits == pytest.approx(4 + 20 / 128)
