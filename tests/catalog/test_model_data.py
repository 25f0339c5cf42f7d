"""Checks on the shipped model and runtime catalogs in data/.

The files are read with tomllib directly so that a loader bug cannot hide a data error.
Spot-check values are the config.json values of the named Hugging Face repositories,
read from the published files and not from the catalog itself.
"""

from __future__ import annotations

import string
import tomllib
from pathlib import Path

import pytest

from rigtui.core.specs import ModelSpec, RuntimeSpec

DATA = Path(__file__).resolve().parents[2] / "data"

OS_IDS = {"ubuntu-22.04", "ubuntu-24.04", "linux", "windows-11", "wsl2", "macos"}
TEMPLATE_PLACEHOLDERS = {
    "model_path", "model_repo", "ngl", "tensor_split", "split_mode", "context", "kv_type",
    "flash_attn", "ubatch", "batch", "tp", "pp", "gpu_util", "max_model_len", "devices",
    "n_cpu_moe", "quant", "main_gpu",
}
REQUIRED_RUNTIMES = {
    "llama-cpp", "ollama", "lm-studio", "exllamav2", "exllamav3",
    "vllm", "sglang", "tensorrt-llm", "ktransformers", "mlc-llm",
}

# Models whose config.json sets head_dim so that n_heads * head_dim differs from hidden_size.
HEAD_DIM_EXCEPTIONS = {
    "mistral-nemo-12b": "config sets head_dim 128 with 32 heads on a 5120 hidden size",
    "mistral-small-24b": "config sets head_dim 128 with 32 heads on a 5120 hidden size",
    "gemma-2-2b": "Gemma uses head_dim 256 independent of hidden_size",
    "gemma-2-9b": "Gemma uses head_dim 256 independent of hidden_size",
    "gemma-2-27b": "config sets head_dim 128 with 32 heads on a 4608 hidden size",
    "gemma-3-1b": "Gemma uses head_dim 256 independent of hidden_size",
    "gpt-oss-20b": "config sets head_dim 64 with 64 heads on a 2880 hidden size",
    "gpt-oss-120b": "config sets head_dim 64 with 64 heads on a 2880 hidden size",
    "qwen3-30b-a3b": "Qwen3 MoE uses head_dim 128 with 32 heads on a 2048 hidden size",
    "qwen3-coder-30b-a3b": "Qwen3 MoE uses head_dim 128 with 32 heads on a 2048 hidden size",
    "qwen3-235b-a22b": "Qwen3 MoE uses head_dim 128 with 64 heads on a 4096 hidden size",
    "glm-4.5-air": "config sets head_dim 128 with 96 heads on a 4096 hidden size",
    "glm-4.5": "head_dim 128 with 96 heads on a 5120 hidden size",
    "glm-4.7": "config sets head_dim 128 with 96 heads on a 5120 hidden size",
    "deepseek-v3": "MLA: head_dim is qk_nope_head_dim + qk_rope_head_dim, not hidden_size / n_heads",
    "deepseek-v2-lite": "MLA: head_dim is qk_nope_head_dim + qk_rope_head_dim, not hidden_size / n_heads",
    "deepseek-v2": "MLA: head_dim is qk_nope_head_dim + qk_rope_head_dim, not hidden_size / n_heads",
    "qwen3-0.6b": "Qwen3 uses head_dim 128 with 16 heads on a 1024 hidden size",
    "qwen3-4b": "Qwen3 uses head_dim 128 with 32 heads on a 2560 hidden size",
    "qwen3-32b": "Qwen3 uses head_dim 128 with 64 heads on a 5120 hidden size",
    "gemma-7b": "Gemma uses head_dim 256 independent of hidden_size",
    "gemma-3-4b": "Gemma uses head_dim 256 independent of hidden_size",
    "gemma-3-12b": "Gemma uses head_dim 256 independent of hidden_size",
    "gemma-3-27b": "config sets head_dim 128 with 32 heads on a 5376 hidden size",
    "mistral-small-3.1-24b": "text_config sets head_dim 128 with 32 heads on a 5120 hidden size",
    "kimi-k2": "MLA: head_dim is qk_nope_head_dim + qk_rope_head_dim, not hidden_size / n_heads",
}


def _load(name: str, key: str) -> list[dict]:
    with open(DATA / name, "rb") as fh:
        return tomllib.load(fh)[key]


@pytest.fixture(scope="module")
def models() -> dict[str, ModelSpec]:
    specs = [ModelSpec.model_validate(entry) for entry in _load("models.toml", "models")]
    return {spec.id: spec for spec in specs}


@pytest.fixture(scope="module")
def runtimes() -> dict[str, RuntimeSpec]:
    specs = [RuntimeSpec.model_validate(entry) for entry in _load("runtimes.toml", "runtimes")]
    return {spec.id: spec for spec in specs}


def test_model_entries_validate():
    entries = _load("models.toml", "models")
    assert len(entries) >= 88
    for entry in entries:
        ModelSpec.model_validate(entry)


def test_model_ids_and_aliases_unique():
    seen: dict[str, str] = {}
    for entry in _load("models.toml", "models"):
        for name in [entry["id"], *entry.get("aliases", [])]:
            key = name.casefold()
            assert key not in seen, f"{name!r} in {entry['id']} also names {seen[key]}"
            seen[key] = entry["id"]


def test_model_ids_are_lowercase_slugs(models):
    for model_id in models:
        assert model_id == model_id.lower(), model_id
        assert " " not in model_id, model_id


def test_model_head_dim_matches_hidden_size(models):
    for model in models.values():
        if model.id in HEAD_DIM_EXCEPTIONS:
            continue
        assert model.head_dim * model.n_heads == model.hidden_size, model.id


def test_head_dim_exceptions_are_real(models):
    # An exception that no longer differs, or names a removed model, is a stale list entry.
    for model_id, reason in HEAD_DIM_EXCEPTIONS.items():
        assert model_id in models, f"{model_id} is listed as an exception but not in the catalog"
        model = models[model_id]
        assert model.head_dim * model.n_heads != model.hidden_size, f"{model_id}: {reason}"


def test_mla_head_dim_is_nope_plus_rope(models):
    mla = [m for m in models.values() if m.kv_lora_rank]
    assert mla, "expected DeepSeek MLA entries"
    for model in mla:
        assert model.head_dim == model.qk_nope_head_dim + model.qk_rope_head_dim, model.id
        assert model.kv_lora_rank == 512, model.id
        assert model.qk_rope_head_dim == 64, model.id
        assert model.v_head_dim == 128, model.id


def test_model_heads_divisible_by_kv_heads(models):
    for model in models.values():
        assert model.n_heads % model.n_kv_heads == 0, model.id


def test_moe_active_below_total(models):
    moe = [m for m in models.values() if m.is_moe]
    assert len(moe) >= 8
    for model in moe:
        assert model.params_active is not None, model.id
        assert model.params_active < model.params_total, model.id
        assert model.moe_intermediate_size, model.id


def test_dense_models_have_no_expert_fields(models):
    for model in models.values():
        if model.is_moe:
            continue
        assert model.params_active is None, model.id
        assert model.n_experts_per_token == 0, model.id
        assert model.first_dense_layers == 0, model.id


def test_sliding_window_pattern_needs_window(models):
    for model in models.values():
        if model.sliding_window_pattern is not None:
            assert model.sliding_window is not None, model.id


def test_llama_3_1_70b_matches_config(models):
    model = models["llama-3.1-70b"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (80, 8192, 64, 8)
    assert model.vocab_size == 128256
    assert model.intermediate_size == 28672
    assert model.max_context == 131072


def test_qwen3_30b_a3b_matches_config(models):
    model = models["qwen3-30b-a3b"]
    assert model.architecture == "qwen3_moe"
    assert model.n_layers == 48
    assert (model.n_experts, model.n_experts_per_token) == (128, 8)
    assert model.moe_intermediate_size == 768
    assert model.n_shared_experts == 0
    assert model.first_dense_layers == 0


def test_gpt_oss_120b_matches_config(models):
    model = models["gpt-oss-120b"]
    assert model.n_layers == 36
    assert (model.n_experts, model.n_experts_per_token) == (128, 4)
    assert (model.sliding_window, model.sliding_window_pattern) == (128, 2)
    assert model.native_quant == "MXFP4"


def test_gemma_windows_match_config(models):
    assert (models["gemma-2-9b"].sliding_window, models["gemma-2-9b"].sliding_window_pattern) == (4096, 2)
    assert (models["gemma-3-1b"].sliding_window, models["gemma-3-1b"].sliding_window_pattern) == (512, 6)


def test_deepseek_v3_matches_config(models):
    model = models["deepseek-v3"]
    assert (model.n_layers, model.hidden_size, model.vocab_size) == (61, 7168, 129280)
    assert (model.n_experts, model.n_experts_per_token, model.n_shared_experts) == (256, 8, 1)
    assert model.first_dense_layers == 3
    assert model.q_lora_rank == 1536


def test_qwen3_32b_matches_config(models):
    # NeMo Qwen3Config32B, which mirrors Qwen/Qwen3-32B's config.json.
    model = models["qwen3-32b"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (64, 5120, 64, 8)
    assert model.head_dim == 128
    assert model.intermediate_size == 25600
    assert model.tie_word_embeddings is False


def test_gemma_3_27b_matches_config(models):
    # NeMo Gemma3Config27B: 62 layers, 32 heads over 16 KV heads of 128, 1024-token window.
    model = models["gemma-3-27b"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (62, 5376, 32, 16)
    assert model.head_dim == 128
    assert model.intermediate_size == 21504
    assert (model.sliding_window, model.sliding_window_pattern) == (1024, 6)
    assert model.vision_params is not None


def test_llama_4_maverick_matches_config(models):
    # NeMo Llama4Experts128Config: 128 routed experts, top-1, one shared expert, vocab 25256 * 8.
    model = models["llama-4-maverick"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (48, 5120, 40, 8)
    assert (model.n_experts, model.n_experts_per_token, model.n_shared_experts) == (128, 1, 1)
    assert model.moe_intermediate_size == 8192
    assert model.intermediate_size == 16384
    assert model.vocab_size == 202048


def test_starcoder2_7b_matches_config(models):
    # mlc-llm's copy of bigcode/starcoder2-7b's config.json.
    model = models["starcoder2-7b"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (32, 4608, 36, 4)
    assert model.intermediate_size == 18432
    assert model.vocab_size == 49152
    assert model.sliding_window == 4096


def test_deepseek_v2_matches_config(models):
    # NeMo DeepSeekV2Config: 60 layers, 160 experts top-6, first layer dense, 2 shared experts.
    model = models["deepseek-v2"]
    assert (model.n_layers, model.hidden_size) == (60, 5120)
    assert (model.n_experts, model.n_experts_per_token, model.n_shared_experts) == (160, 6, 2)
    assert model.first_dense_layers == 1
    assert model.moe_intermediate_size == 1536
    assert model.q_lora_rank == 1536


def test_command_r_matches_config(models):
    # c4ai-command-r-v01 config.json: full multi-head attention, tied head, 256k vocab.
    model = models["command-r-35b"]
    assert model.architecture == "cohere"
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (40, 8192, 64, 64)
    assert model.intermediate_size == 22528
    assert model.vocab_size == 256000
    assert model.tie_word_embeddings is True


def test_command_r_plus_matches_config(models):
    # c4ai-command-r-plus config.json: grouped-query attention over 8 KV heads.
    model = models["command-r-plus-104b"]
    assert model.architecture == "cohere"
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (64, 12288, 96, 8)
    assert model.intermediate_size == 33792
    assert model.vocab_size == 256000


def test_mistral_large_2_matches_config(models):
    # Mistral-Large-Instruct-2407 config.json.
    model = models["mistral-large-123b"]
    assert (model.n_layers, model.hidden_size, model.n_heads, model.n_kv_heads) == (88, 12288, 96, 8)
    assert model.head_dim == 128
    assert model.intermediate_size == 28672
    assert model.vocab_size == 32768
    assert model.tie_word_embeddings is False


def test_computed_params_match_published_counts(models):
    # Published figures: Llama 3 8B 8.03B (llama.cpp quantize table), Qwen3-30B-A3B 30.5B total
    # and 3.3B active, DeepSeek-V3 671B total (model card), gpt-oss-120b 117B (OpenRouter).
    expected = {
        "llama-3.1-8b": (8.03e9, None),
        "qwen3-30b-a3b": (30.5e9, 3.3e9),
        "deepseek-v3": (671e9, None),
        "gpt-oss-120b": (117e9, None),
        # Keras Hub text-only Gemma 3 presets: 3,880,099,328 and 11,765,788,416 parameters.
        "gemma-3-4b": (3_880_099_328, None),
        "gemma-3-12b": (11_765_788_416, None),
        # Model cards: Qwen3-14B 14.8B, DeepSeek-V2 236B total and 21B active.
        "qwen3-14b": (14.8e9, None),
        "deepseek-v2": (236e9, 21e9),
        # Model cards: Gemma 7B 8.54B, Qwen1.5-MoE-A2.7B 14.3B total and 2.7B active.
        "gemma-7b": (8.54e9, None),
        "qwen1.5-moe-a2.7b": (14.3e9, 2.7e9),
        # Model cards: Command R 35B and Command R+ 104B. Mistral's Large 2 release notes: 123B.
        "command-r-35b": (35e9, None),
        "command-r-plus-104b": (104e9, None),
        "mistral-large-123b": (123e9, None),
    }
    for model_id, (total, active) in expected.items():
        model = models[model_id]
        assert model.params_total == pytest.approx(total, rel=0.01), model_id
        if active is not None:
            assert model.params_active == pytest.approx(active, rel=0.02), model_id


def test_runtime_entries_validate(runtimes):
    assert len(runtimes) >= 10
    assert REQUIRED_RUNTIMES <= set(runtimes)


def test_runtime_ids_and_aliases_unique():
    seen: dict[str, str] = {}
    for entry in _load("runtimes.toml", "runtimes"):
        for name in [entry["id"], *entry.get("aliases", [])]:
            key = name.casefold()
            assert key not in seen, f"{name!r} in {entry['id']} also names {seen[key]}"
            seen[key] = entry["id"]


def test_runtime_os_ids_known(runtimes):
    for runtime in runtimes.values():
        assert runtime.os, runtime.id
        unknown = set(runtime.os) - OS_IDS
        assert not unknown, f"{runtime.id}: {unknown}"


def test_runtime_templates_use_known_placeholders(runtimes):
    for runtime in runtimes.values():
        fields = {name for _, name, _, _ in string.Formatter().parse(runtime.launch_template) if name is not None}
        assert fields, runtime.id
        unknown = fields - TEMPLATE_PLACEHOLDERS
        assert not unknown, f"{runtime.id}: {unknown}"


def test_runtime_templates_format_cleanly(runtimes):
    values = {name: "x" for name in TEMPLATE_PLACEHOLDERS}
    for runtime in runtimes.values():
        rendered = runtime.launch_template.format(**values)
        assert "{" not in rendered, runtime.id


def test_runtime_identical_cards_are_supported_strategies(runtimes):
    for runtime in runtimes.values():
        assert set(runtime.identical_cards_for) <= set(runtime.split_strategies), runtime.id


def test_runtime_engines(runtimes):
    assert {runtimes[r].engine for r in ("llama-cpp", "ollama", "lm-studio")} == {"llama.cpp"}
    assert {runtimes[r].engine for r in ("exllamav2", "exllamav3")} == {"exllama"}
    assert runtimes["vllm"].min_compute_capability == "7.0"
    assert runtimes["vllm"].gpu_memory_utilization == 0.9
    assert "tensor-parallel" in runtimes["vllm"].identical_cards_for
