"""Tests of the decode and prefill speed model on hand-built rigs and placements."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_fixtures import (  # noqa: E402
    F16,
    LLAMA3_8B,
    LLAMA3_70B,
    LLAMA32_3B,
    LLAMA_CPP,
    Q4_K_M,
    QWEN3_30B_A3B,
    RTX_3090,
    RTX_4090,
    RTX_A6000,
    RX_6700_XT,
    RX_6800,
    VLLM,
    gpu,
    placement,
    rig,
    workload,
)

from rigtui.core.speed import (  # noqa: E402
    calibration_for,
    calibration_keys,
    estimate_speed,
    experts_touched_fraction,
    memory_family,
    model_shape,
    spread_group,
)
from rigtui.core.speed_calibration import CALIBRATION, SPREAD  # noqa: E402


def decode(the_rig, the_workload, result) -> float:
    return estimate_speed(the_rig, the_workload, result).decode.expected


def prefill(the_rig, the_workload, result) -> float:
    return estimate_speed(the_rig, the_workload, result).prefill.expected


def test_range_brackets_expected():
    the_rig = rig(RTX_4090)
    estimate = estimate_speed(the_rig, workload(), placement(the_rig, LLAMA3_8B, Q4_K_M, "single"))
    assert estimate.decode.low < estimate.decode.expected < estimate.decode.high
    assert estimate.prefill.low < estimate.prefill.expected < estimate.prefill.high


def test_single_4090_decode_near_roofline():
    # 8.03 B params at 4.89 bits is about 4.9 GB; at 1008 GB/s the pure roofline is about
    # 205 tokens/s, and llama.cpp reaches well over half of it.
    the_rig = rig(RTX_4090)
    speed = decode(the_rig, workload(), placement(the_rig, LLAMA3_8B, Q4_K_M, "single"))
    assert 100 < speed < 205


def test_mixed_layer_split_slower_than_fast_card_alone():
    # Field report on llama.cpp ROCm: RX 6800 alone 57.2 t/s, RX 6700 XT alone 46.7, both
    # under layer split 25.1 on Llama 3.2 3B F16.
    w = workload(LLAMA32_3B, F16)
    alone = rig(RX_6800)
    both = rig(RX_6800, RX_6700_XT)
    single = decode(alone, w, placement(alone, LLAMA32_3B, F16, "single"))
    split = decode(both, w, placement(both, LLAMA32_3B, F16, "layer", shares=(16 / 28, 12 / 28)))
    slow_alone = rig(RX_6700_XT)
    slow = decode(slow_alone, w, placement(slow_alone, LLAMA32_3B, F16, "single"))
    assert split < single
    assert split < slow


def test_row_split_beats_layer_split_on_nvlink():
    # Field report: on 2 x RTX A6000 with an NVLink bridge, layer split decoded at about 60 %
    # of row split's speed.
    the_rig = rig(RTX_A6000, RTX_A6000, nvlink=True)
    w = workload(LLAMA3_70B, Q4_K_M)
    layer = decode(the_rig, w, placement(the_rig, LLAMA3_70B, Q4_K_M, "layer"))
    row = decode(the_rig, w, placement(the_rig, LLAMA3_70B, Q4_K_M, "row"))
    assert row > layer
    assert layer / row < 0.8


def test_layer_split_adds_no_bandwidth():
    the_rig = rig(RTX_3090, RTX_3090)
    w = workload(LLAMA3_8B)
    one = rig(RTX_3090)
    single = decode(one, w, placement(one, LLAMA3_8B, Q4_K_M, "single"))
    split = decode(the_rig, w, placement(the_rig, LLAMA3_8B, Q4_K_M, "layer"))
    assert split <= single


def test_moe_reads_only_active_experts():
    # Qwen3-30B-A3B reads about 3.3 B of its 30.5 B parameters per token, so it decodes far
    # faster than a dense model of the same file size would.
    the_rig = rig(RTX_4090)
    w = workload(QWEN3_30B_A3B)
    result = placement(the_rig, QWEN3_30B_A3B, Q4_K_M, "single")
    estimate = estimate_speed(the_rig, w, result)
    read = estimate.devices[0].read_bytes
    assert read < 0.2 * QWEN3_30B_A3B.params_total * Q4_K_M.bits_per_weight / 8
    assert read > 0.8 * QWEN3_30B_A3B.params_active * Q4_K_M.bits_per_weight / 8


def test_moe_shape_active_fraction_matches_params_active():
    shape = model_shape(QWEN3_30B_A3B)
    active = shape.embedding * 0 + shape.output + QWEN3_30B_A3B.n_layers * shape.layer_dense
    active += shape.moe_layers * shape.layer_routed * shape.active_routed_fraction
    assert abs(active + shape.embedding - QWEN3_30B_A3B.params_active) / QWEN3_30B_A3B.params_active < 0.02


def test_cpu_experts_slow_decode():
    the_rig = rig(RTX_3090)
    w = workload(QWEN3_30B_A3B)
    on_gpu = decode(the_rig, w, placement(the_rig, QWEN3_30B_A3B, Q4_K_M, "single"))
    offloaded = decode(the_rig, w, placement(the_rig, QWEN3_30B_A3B, Q4_K_M, "single", cpu_expert_layers=36))
    assert offloaded < 0.7 * on_gpu


def test_cpu_offload_note():
    the_rig = rig(RTX_3090)
    result = placement(the_rig, LLAMA3_70B, Q4_K_M, "single", cpu_layers=40)
    estimate = estimate_speed(the_rig, workload(LLAMA3_70B), result)
    assert any("CPU RAM" in note for note in estimate.notes)


def test_prefill_pipelines_across_layer_split():
    # llama.cpp overlaps micro-batches across layer-split GPUs, so a long prompt on two equal
    # cards runs faster than on one.
    w = workload(LLAMA3_8B, prompt=4096, ubatch=512)
    one = rig(RTX_4090)
    two = rig(RTX_4090, RTX_4090)
    single = prefill(one, w, placement(one, LLAMA3_8B, Q4_K_M, "single"))
    split = prefill(two, w, placement(two, LLAMA3_8B, Q4_K_M, "layer"))
    assert split > single


def test_estimate_is_fast():
    import time

    the_rig = rig(RTX_4090, RTX_3090)
    w = workload(LLAMA3_70B)
    result = placement(the_rig, LLAMA3_70B, Q4_K_M, "layer")
    start = time.perf_counter()
    for _ in range(200):
        estimate_speed(the_rig, w, result)
    assert (time.perf_counter() - start) / 200 < 1e-3


# --- properties --------------------------------------------------------------------------------

bandwidths = st.floats(min_value=100, max_value=4000)


@settings(max_examples=40, deadline=None)
@given(low=bandwidths, extra=st.floats(min_value=0, max_value=2000), split=st.sampled_from(["single", "layer", "row"]))
def test_more_bandwidth_never_slower(low, extra, split):
    slow = gpu("slow", low, 80.0)
    fast = gpu("fast", low + extra, 80.0)
    w = workload(LLAMA3_8B)
    count = 1 if split == "single" else 2
    slow_rig = rig(*([slow] * count))
    fast_rig = rig(*([fast] * count))
    assert decode(fast_rig, w, placement(fast_rig, LLAMA3_8B, Q4_K_M, split)) >= decode(
        slow_rig, w, placement(slow_rig, LLAMA3_8B, Q4_K_M, split)
    )


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(min_value=0, max_value=100_000), more=st.integers(min_value=1, max_value=30_000),
       split=st.sampled_from(["single", "layer", "tensor-parallel"]))
def test_deeper_context_never_faster(depth, more, split):
    count = 1 if split == "single" else 2
    the_rig = rig(*([RTX_3090] * count))
    result = placement(the_rig, LLAMA3_8B, Q4_K_M, split)
    shallow = workload(LLAMA3_8B, depth=depth)
    deep = workload(LLAMA3_8B, depth=depth + more)
    assert decode(the_rig, deep, result) <= decode(the_rig, shallow, result)
    assert prefill(the_rig, deep, result) <= prefill(the_rig, shallow, result)


@settings(max_examples=40, deadline=None)
@given(fast_bw=st.floats(min_value=500, max_value=3000), slow_bw=st.floats(min_value=100, max_value=500))
def test_mixed_tensor_parallel_capped_by_slower_card(fast_bw, slow_bw):
    # Even shards: the slower card reads half the model, so the pair can never beat twice
    # the slower card's speed alone.
    fast = gpu("fast", fast_bw, 100.0)
    slow = gpu("slow", slow_bw, 50.0)
    w = replace(workload(LLAMA3_8B, F16, runtime=VLLM), split="tensor-parallel")
    pair = rig(fast, slow)
    alone = rig(slow)
    paired = decode(pair, w, placement(pair, LLAMA3_8B, F16, "tensor-parallel"))
    single = decode(alone, w, placement(alone, LLAMA3_8B, F16, "single"))
    assert paired <= 2 * single


@settings(max_examples=30, deadline=None)
@given(active=st.floats(min_value=3e9, max_value=30e9))
def test_fewer_active_params_never_slower(active):
    # Below about 3 B the dense part alone exceeds params_active, which no real model has.
    the_rig = rig(RTX_4090)
    sparse = QWEN3_30B_A3B.model_copy(update={"params_active": int(active)})
    denser = QWEN3_30B_A3B.model_copy(update={"params_active": int(min(active * 1.5, sparse.params_total))})
    speed_sparse = decode(the_rig, workload(sparse), placement(the_rig, sparse, Q4_K_M, "single"))
    speed_dense = decode(the_rig, workload(denser), placement(the_rig, denser, Q4_K_M, "single"))
    assert speed_sparse >= speed_dense


def test_llama_cpp_fixture_engine():
    assert LLAMA_CPP.engine == "llama.cpp"


def test_experts_touched_fraction_bounds():
    # One token uses exactly its k of E experts; a batch can only touch more of them.
    assert experts_touched_fraction(4 / 32, 1) == 4 / 32
    assert experts_touched_fraction(4 / 32, 8) > 4 / 32
    assert experts_touched_fraction(4 / 32, 512) > 0.999
    assert experts_touched_fraction(1.0, 3) == 1.0


def test_moe_prefill_reads_touched_experts():
    # A 64-token micro-batch routed 8 of 128 experts per token touches 1 - (120/128)^64, about
    # 98 %, of the experts. Reading that share of the weights at the 4090's full peak
    # bandwidth bounds prefill from above, whatever the fitted efficiencies. The extra 0.9
    # leaves room for how the model splits bytes between dense and expert weights.
    the_rig = rig(RTX_4090)
    result = placement(the_rig, QWEN3_30B_A3B, Q4_K_M, "single")
    w = workload(QWEN3_30B_A3B, prompt=64, ubatch=64, batch=64)
    weights_bytes = result.devices[0].weights_bytes
    floor_s = 0.98 * 0.9 * weights_bytes / (RTX_4090.bandwidth_gbs * 1e9)
    assert prefill(the_rig, w, result) < 64 / floor_s


def link_ms(specs, split, runtime=LLAMA_CPP, quant=Q4_K_M):
    the_rig = rig(*specs)
    w = replace(workload(LLAMA3_70B, quant, runtime=runtime), split=split)
    return estimate_speed(the_rig, w, placement(the_rig, LLAMA3_70B, quant, split)).link_decode_ms


def test_tensor_parallel_sync_grows_with_ring_steps():
    # A ring all-reduce takes 2 (n - 1) latency-bound steps and moves 2 (n - 1) / n of the
    # bytes. From 2 to 8 GPUs the decode sync time therefore grows by a factor between 1.75
    # (bytes) and 7 (steps), and near 7 because a 16 KB activation is latency-bound.
    a100 = gpu("a100", 1935.0, 312.0, segment="datacenter", memory_mib=81920)
    two = link_ms([a100] * 2, "tensor-parallel", runtime=VLLM, quant=F16)
    eight = link_ms([a100] * 8, "tensor-parallel", runtime=VLLM, quant=F16)
    assert two > 0
    assert 5.0 < eight / two <= 7.0


def test_row_split_sync_is_affine():
    # llama.cpp row split: one input broadcast per split matmul plus one gather step per other
    # GPU, so the time is affine in the GPU count and two GPUs cost more than one step.
    a100 = gpu("a100", 1935.0, 312.0, segment="datacenter", memory_mib=81920)
    two, three, four = (link_ms([a100] * n, "row") for n in (2, 3, 4))
    step = three - two
    assert step > 0
    assert abs((four - three) - step) < 0.05 * step
    assert two > 1.05 * step


def test_memory_family_extends_calibration_keys():
    hbm = gpu("hbm-card", 1935.0, 312.0, segment="datacenter").model_copy(update={"memory_type": "HBM2e"})
    gddr = RTX_3090.model_copy(update={"memory_type": "GDDR6X"})
    assert memory_family(hbm) == "hbm"
    assert memory_family(gddr) == "gddr"
    assert memory_family(RTX_3090) == ""
    keys = calibration_keys("llama.cpp", "nvidia", "Ampere", "datacenter", "hbm")
    assert keys[-1] == "llama.cpp/nvidia/Ampere/datacenter/hbm"
    assert calibration_keys("llama.cpp", "nvidia", "Ampere", "datacenter")[-1] == "llama.cpp/nvidia/Ampere/datacenter"


def test_unfitted_architecture_gets_typical_vendor_values():
    # An architecture with no fitted rows (a new generation) uses the engine/vendor entry,
    # which is fitted on all of that vendor's rows, so it lies within the fitted
    # architectures' own values rather than at an extreme.
    fallback = calibration_for("llama.cpp", "nvidia", "Unreleased", "consumer", "gddr")
    fitted = [
        calibration_for("llama.cpp", "nvidia", key.split("/")[2])
        for key in CALIBRATION
        if key.startswith("llama.cpp/nvidia/") and key.count("/") == 2
    ]
    assert len(fitted) >= 2
    for field in ("bandwidth_efficiency", "compute_efficiency"):
        values = [getattr(params, field) for params in fitted]
        assert min(values) <= getattr(fallback, field) <= max(values)


def test_spread_groups():
    assert spread_group(1, False, "single") == "single"
    assert spread_group(1, True, "single") == "multi"
    assert spread_group(2, False, "layer") == "multi"
    assert spread_group(2, False, "row") == "shared"
    assert spread_group(4, False, "tensor-parallel") == "shared"


def test_tensor_parallel_range_uses_shared_spread():
    the_rig = rig(RTX_3090, RTX_3090)
    w = replace(workload(LLAMA3_8B, F16, runtime=VLLM), split="tensor-parallel")
    estimate = estimate_speed(the_rig, w, placement(the_rig, LLAMA3_8B, F16, "tensor-parallel"))
    low, high = SPREAD["decode"]["shared"]
    assert math.isclose(estimate.decode.low, estimate.decode.expected * math.exp(low))
    assert math.isclose(estimate.decode.high, estimate.decode.expected * math.exp(high))
