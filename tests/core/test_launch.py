"""Launch commands: the flags that make a runtime place the model the way fit did."""

from __future__ import annotations

from rigtui.core.fit import fit, plan
from rigtui.core.launch import render_launch
from tests.core.conftest import make_rig, make_workload


def _cards_with_layers(result) -> list[int]:
    return [d.index for d in result.devices if d.kind == "gpu" and d.layers]


def test_llamacpp_single_card_pins_main_gpu(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = fit(rig, make_workload(catalog, "llama-3.1-8b"))
    cards = _cards_with_layers(result)
    assert len(cards) == 1
    assert "--split-mode none" in result.launch_command
    assert f"--main-gpu {cards[0]}" in result.launch_command


def test_llamacpp_second_card_pinned(catalog) -> None:
    # The 4090 is almost full and the 3090 has room, so the model belongs on GPU 1.
    rig = make_rig(catalog, "RTX 4090", "RTX 3090", used_gib={0: 20})
    result = plan(rig, make_workload(catalog, "llama-3.1-8b"), "single")
    assert _cards_with_layers(result) == [1]
    assert "--main-gpu 1" in result.launch_command


def test_llamacpp_two_card_split_unpinned(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = plan(rig, make_workload(catalog, "llama-3.3-70b"), "layer")
    assert len(_cards_with_layers(result)) == 2
    assert "--main-gpu" not in result.launch_command


def test_llamacpp_subset_gives_left_out_card_zero(catalog) -> None:
    # Two fast cards hold the model, and the slow third card would only add time to each token.
    rig = make_rig(catalog, "RTX 4090", "RTX 4090", "RTX 3060 12GB")
    result = plan(rig, make_workload(catalog, "llama-3.3-70b", context=4096), "layer")
    cards = _cards_with_layers(result)
    assert cards == [0, 1]
    values = result.launch_command.split("--tensor-split ")[1].split()[0].split(",")
    assert len(values) == 3
    assert float(values[2]) == 0
    # The output layer joins the last card that takes layers, not the idle one.
    assert float(values[1]) == result.devices[1].layers + 1


def test_vllm_single_card_sets_visible_devices(catalog) -> None:
    rig = make_rig(catalog, "RTX 3090", "RTX 4090")
    result = plan(rig, make_workload(catalog, "llama-3.1-8b", quant="awq-4bit", runtime="vllm", kv_cache="auto"), "single")
    index = next(d.index for d in result.devices if d.kind == "gpu" and d.weights_bytes)
    assert result.launch_command.startswith(f"CUDA_VISIBLE_DEVICES={index} ")


def test_exllama_single_card_sets_visible_devices(catalog) -> None:
    rig = make_rig(catalog, "RTX 3090", "RTX 4090")
    result = plan(rig, make_workload(catalog, "llama-3.1-8b", quant="exl2", runtime="exllamav2", kv_cache="FP16", bpw=4.0), "single")
    assert result.launch_command.startswith("CUDA_VISIBLE_DEVICES=")


def test_render_drops_empty_environment_assignment() -> None:
    assert render_launch("CUDA_VISIBLE_DEVICES={devices} serve -x {ngl}", {"devices": "", "ngl": "3"}) == "serve -x 3"


def test_unloadable_quant_warns_first_without_command(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = fit(rig, make_workload(catalog, "llama-3.3-70b", runtime="sglang", kv_cache="auto"))
    assert result.warnings[0].code == "runtime-quant-unsupported"
    assert result.launch_command is None
    for warning in result.warnings:
        assert "start with --max-model-len" not in warning.message


def test_vllm_gguf_serves_file_with_tokenizer(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = fit(rig, make_workload(catalog, "llama-3.1-8b", runtime="vllm", kv_cache="auto"))
    served = result.launch_command.split("vllm serve ")[1].split()[0]
    assert served.endswith(".gguf")
    assert "--tokenizer meta-llama/" in result.launch_command


def test_vllm_awq_warns_about_original_repo(catalog) -> None:
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = fit(rig, make_workload(catalog, "llama-3.1-8b", quant="awq-4bit", runtime="vllm", kv_cache="auto"))
    assert "quantized-repo-needed" in {w.code for w in result.warnings}


def test_vllm_short_kv_suggests_max_model_len(catalog) -> None:
    # The weights fit and only the KV cache for the full context is missing, so a shorter
    # --max-model-len is the fix.
    rig = make_rig(catalog, "RTX 4090", "RTX 3090")
    result = plan(rig, make_workload(catalog, "llama-3.3-70b", quant="awq-4bit", runtime="vllm", kv_cache="auto", context=65536), "tensor-parallel")
    message = next(w.message for w in result.warnings if w.code == "max-model-len-too-large")
    assert "start with --max-model-len" in message
