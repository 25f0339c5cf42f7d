"""Runtime compatibility: each rule on a rig built to trigger it, and only it."""

from __future__ import annotations

from dataclasses import replace


def copy(spec, **changes):
    return spec.model_copy(update=changes)

from rigtui.core.compat import compat_matrix, runtime_compat
from rigtui.core.rig import GIB, Rig, RigGpu
from rigtui.core.specs import GpuSpec, ModelSpec, OsSpec, QuantSpec, RuntimeSpec

LINUX = OsSpec(id="linux", name="Linux", reserve_per_gpu_mib=0, desktop_reserve_mib=0, runtimes=[], source="t")
WINDOWS = OsSpec(
    id="windows-11", name="Windows 11", reserve_per_gpu_mib=500, desktop_reserve_mib=800, wddm=True,
    runtimes=["llama-cpp"], source="t",
)


def card(gpu_id: str, memory_mib: int = 24576, cc: str | None = "8.6", vendor: str = "nvidia",
         architecture: str = "Ampere", bandwidth: float = 936.0) -> GpuSpec:
    return GpuSpec(
        id=gpu_id, name=gpu_id.upper(), vendor=vendor, segment="consumer", architecture=architecture,
        compute_capability=cc if vendor == "nvidia" else None, memory_mib=memory_mib, bandwidth_gbs=bandwidth,
        pcie_gen=4, pcie_lanes=16, tdp_w=350, source="t",
    )


RTX_3090 = card("rtx-3090")
RTX_4090 = card("rtx-4090", cc="8.9", architecture="Ada Lovelace", bandwidth=1008.0)
RTX_3060 = card("rtx-3060", memory_mib=12288, bandwidth=360.0)
GTX_1080 = card("gtx-1080", memory_mib=8192, cc="6.1", architecture="Pascal", bandwidth=320.0)
RX_7900 = card("rx-7900-xtx", vendor="amd", architecture="RDNA 3", bandwidth=960.0)

VLLM = RuntimeSpec(
    id="vllm", name="vLLM", engine="vllm", os=["linux", "wsl2"], vendors=["nvidia"], min_compute_capability="7.0",
    quant_formats=["awq", "fp8", "float"], split_strategies=["single", "tensor-parallel", "pipeline-parallel"],
    identical_cards_for=["tensor-parallel"], kv_cache_types=["f16"], per_gpu_overhead_mib=0,
    launch_template="", source="t",
)
TP_ONLY = copy(VLLM, id="tp-only", name="TP only", split_strategies=["single", "tensor-parallel"])
LLAMA_CPP = RuntimeSpec(
    id="llama-cpp", name="llama.cpp", engine="llama.cpp", os=["linux", "windows-11"], vendors=["nvidia", "amd"],
    quant_formats=["gguf"], split_strategies=["single", "layer", "row"], kv_cache_types=["f16"],
    per_gpu_overhead_mib=750, launch_template="", source="t",
)
OLLAMA = copy(LLAMA_CPP, id="ollama", name="Ollama", engine="ollama")

FP8 = QuantSpec(id="fp8", name="FP8", format="fp8", bits_per_weight=8, source="t")
GGUF = QuantSpec(id="q4_k_m", name="Q4_K_M", format="gguf", bits_per_weight=4.9, source="t")

# Heads as in Qwen/Qwen2.5-72B (64 query heads, 8 KV heads) and a 40-head shape.
MODEL_64_HEADS = ModelSpec(
    id="m64", name="M64", family="t", architecture="llama", n_layers=80, hidden_size=8192, n_heads=64,
    n_kv_heads=8, head_dim=128, vocab_size=152064, intermediate_size=29568, params_total=72_000_000_000,
    max_context=32768, source="t",
)
MODEL_40_HEADS = copy(MODEL_64_HEADS, id="m40", name="M40", n_heads=40)


def rig(*specs: GpuSpec, os: OsSpec = LINUX) -> Rig:
    return Rig(gpus=tuple(RigGpu(spec=s, pcie_gen=4, pcie_lanes=16) for s in specs), os=os)


def codes(compat) -> list[str]:
    return [r.code for r in compat.reasons]


def test_equal_cards_on_linux_work():
    result = runtime_compat(rig(RTX_3090, RTX_3090), VLLM, MODEL_64_HEADS)
    assert result.status == "works"
    assert result.usable_gpus == (0, 1)


def test_os_unsupported_blocks_and_names_wsl2():
    result = runtime_compat(rig(RTX_3090, os=WINDOWS), VLLM)
    assert result.status == "does not work"
    assert "os-unsupported" in codes(result)
    message = result.blockers[0].message
    assert "Windows 11" in message
    assert "WSL2" in message


def test_os_listed_in_os_runtimes_counts_as_supported():
    other = copy(VLLM, os=["macos"])
    linux_with_vllm = copy(LINUX, runtimes=["vllm"])
    assert runtime_compat(rig(RTX_3090, os=linux_with_vllm), other).status == "works"


def test_low_compute_capability_names_the_card():
    result = runtime_compat(rig(RTX_3090, GTX_1080), VLLM)
    assert result.status == "works poorly"
    reason = next(r for r in result.reasons if r.code == "compute-capability")
    assert "GTX-1080" in reason.message
    assert "6.1" in reason.message and "7.0" in reason.message
    assert result.usable_gpus == (0,)


def test_no_usable_card_does_not_work():
    result = runtime_compat(rig(GTX_1080), VLLM)
    assert result.status == "does not work"
    assert "no-usable-gpu" in codes(result)


def test_unsupported_quant_format_blocks():
    result = runtime_compat(rig(RTX_3090), VLLM, quant=GGUF)
    assert result.status == "does not work"
    assert "quant-format" in codes(result)


def test_fp8_on_ampere_is_weight_only():
    result = runtime_compat(rig(RTX_3090, RTX_4090), VLLM, quant=FP8)
    fp8 = [r for r in result.reasons if r.code == "fp8-weight-only"]
    assert len(fp8) == 1
    assert "RTX-3090" in fp8[0].message


def test_tensor_parallel_unequal_cards_reports_waste():
    result = runtime_compat(rig(RTX_3090, RTX_3060), VLLM, MODEL_64_HEADS)
    assert result.status == "works poorly"
    reason = next(r for r in result.reasons if r.code == "tp-unequal-memory")
    # 24 GiB and 12 GiB cards: equal shards give 2 x 12 GiB, and 12 GiB of the larger card is idle.
    assert "2 x 12.0 GiB = 24.0 GiB" in reason.message
    assert "12.0 GiB on GPU 0" in reason.message


def test_layer_split_runtime_ignores_unequal_cards():
    result = runtime_compat(rig(RTX_3090, RTX_3060), LLAMA_CPP)
    assert "tp-unequal-memory" not in codes(result)


def test_heads_not_divisible_suggests_pipeline():
    result = runtime_compat(rig(RTX_3090, RTX_3090, RTX_3090), VLLM, MODEL_64_HEADS)
    reason = next(r for r in result.reasons if r.code == "tp-heads-indivisible")
    assert reason.severity == "degraded"
    assert "64 attention heads" in reason.message
    assert "1, 2" in reason.message
    assert "pipeline parallel" in reason.message


def test_heads_not_divisible_without_pipeline_blocks():
    result = runtime_compat(rig(RTX_3090, RTX_3090, RTX_3090), TP_ONLY, MODEL_40_HEADS)
    assert result.status == "does not work"


def test_wddm_overhead_is_a_note():
    result = runtime_compat(rig(RTX_3090, os=WINDOWS), LLAMA_CPP)
    assert result.status == "works"
    reason = next(r for r in result.reasons if r.code == "wddm-overhead")
    assert "500 MiB" in reason.message and "800 MiB" in reason.message


def test_mixed_vendors_llama_cpp_needs_vulkan():
    result = runtime_compat(rig(RTX_3090, RX_7900), LLAMA_CPP)
    assert result.status == "works poorly"
    assert "Vulkan" in next(r.message for r in result.reasons if r.code == "mixed-vendors")
    assert result.usable_gpus == (0, 1)


def test_mixed_vendors_other_engine_uses_one_vendor():
    result = runtime_compat(rig(RTX_3090, RX_7900, RX_7900), OLLAMA)
    assert result.status == "works poorly"
    assert result.usable_gpus == (1, 2)


def test_no_p2p_note_for_ada_pair():
    result = runtime_compat(rig(RTX_4090, RTX_4090), VLLM, MODEL_64_HEADS)
    assert "tp-no-p2p" in codes(result)
    bridged = replace(rig(RTX_3090, RTX_3090), nvlink_pairs=frozenset({(0, 1)}))
    assert "tp-no-p2p" not in codes(runtime_compat(bridged, VLLM, MODEL_64_HEADS))


def test_used_memory_lowers_capacity_in_tp_check():
    busy = Rig(
        gpus=(RigGpu(RTX_3090, 4, 16), RigGpu(RTX_3090, 4, 16, used_bytes=4 * GIB)), os=LINUX
    )
    reason = next(r for r in runtime_compat(busy, VLLM).reasons if r.code == "tp-unequal-memory")
    assert "4.0 GiB on GPU 0" in reason.message


def test_matrix_orders_best_first():
    results = compat_matrix(rig(RTX_3090, os=WINDOWS), [VLLM, LLAMA_CPP])
    assert [c.runtime for c in results] == ["llama-cpp", "vllm"]
    assert [c.status for c in results] == ["works", "does not work"]
