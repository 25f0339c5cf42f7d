"""Hand-built catalog entries, rigs and placements for the speed model tests.

GPU figures are the vendors' published peaks; model shapes are the config.json values of the
named Hugging Face repositories.
"""

from __future__ import annotations

from rigtui.core.results import DeviceUsage, FitResult
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.specs import GpuSpec, ModelSpec, OsSpec, QuantSpec, RuntimeSpec

LINUX = OsSpec(id="linux", name="Linux", reserve_per_gpu_mib=0, desktop_reserve_mib=0, runtimes=["llama.cpp"], source="test")


def gpu(gpu_id: str, bandwidth_gbs: float, fp16_tflops: float, *, vendor: str = "nvidia",
        architecture: str = "Ampere", memory_mib: int = 24576, segment: str = "consumer",
        nvlink_bandwidth_gbs: float | None = None) -> GpuSpec:
    return GpuSpec(
        id=gpu_id, name=gpu_id, vendor=vendor, segment=segment, architecture=architecture,
        memory_mib=memory_mib, bandwidth_gbs=bandwidth_gbs, fp16_tflops=fp16_tflops,
        pcie_gen=4, pcie_lanes=16, tdp_w=300, source="test",
        nvlink=nvlink_bandwidth_gbs is not None, nvlink_bandwidth_gbs=nvlink_bandwidth_gbs,
    )


RTX_3090 = gpu("rtx-3090", 936.2, 71.0)
RTX_4090 = gpu("rtx-4090", 1008.0, 165.2, architecture="Ada Lovelace")
RTX_A6000 = gpu("rtx-a6000", 768.0, 154.8, segment="workstation", memory_mib=49140, nvlink_bandwidth_gbs=112.5)
RX_6800 = gpu("rx-6800", 512.0, 32.3, vendor="amd", architecture="RDNA 2", memory_mib=16384)
RX_6700_XT = gpu("rx-6700-xt", 384.0, 26.4, vendor="amd", architecture="RDNA 2", memory_mib=12288)

# meta-llama/Meta-Llama-3-8B
LLAMA3_8B = ModelSpec(
    id="llama-3-8b", name="Llama 3 8B", family="llama3", architecture="llama", n_layers=32,
    hidden_size=4096, n_heads=32, n_kv_heads=8, head_dim=128, vocab_size=128256,
    intermediate_size=14336, params_total=8_030_261_248, max_context=8192, source="meta-llama/Meta-Llama-3-8B",
)
# meta-llama/Meta-Llama-3-70B
LLAMA3_70B = ModelSpec(
    id="llama-3-70b", name="Llama 3 70B", family="llama3", architecture="llama", n_layers=80,
    hidden_size=8192, n_heads=64, n_kv_heads=8, head_dim=128, vocab_size=128256,
    intermediate_size=28672, params_total=70_553_706_496, max_context=8192, source="meta-llama/Meta-Llama-3-70B",
)
# meta-llama/Llama-3.2-3B
LLAMA32_3B = ModelSpec(
    id="llama-3.2-3b", name="Llama 3.2 3B", family="llama3.2", architecture="llama", n_layers=28,
    hidden_size=3072, n_heads=24, n_kv_heads=8, head_dim=128, vocab_size=128256,
    intermediate_size=8192, tie_word_embeddings=True, params_total=3_212_749_824, max_context=131072,
    source="meta-llama/Llama-3.2-3B",
)
# Qwen/Qwen3-30B-A3B
QWEN3_30B_A3B = ModelSpec(
    id="qwen3-30b-a3b", name="Qwen3 30B A3B", family="qwen3", architecture="qwen3_moe", n_layers=48,
    hidden_size=2048, n_heads=32, n_kv_heads=4, head_dim=128, vocab_size=151936,
    intermediate_size=6144, n_experts=128, n_experts_per_token=8, moe_intermediate_size=768,
    params_total=30_532_122_624, params_active=3_300_000_000, max_context=40960, source="Qwen/Qwen3-30B-A3B",
)

Q4_K_M = QuantSpec(id="Q4_K_M", name="Q4_K_M", format="gguf", bits_per_weight=4.89, default_type="q4_k", source="test")
F16 = QuantSpec(id="F16", name="F16", format="float", bits_per_weight=16.0, default_type="f16", source="test")

LLAMA_CPP = RuntimeSpec(
    id="llama.cpp", name="llama.cpp", engine="llama.cpp", os=["linux"], vendors=["nvidia", "amd"],
    quant_formats=["gguf"], split_strategies=["single", "layer", "row", "tensor"], kv_cache_types=["f16"],
    per_gpu_overhead_mib=0, launch_template="", source="test",
)
VLLM = RuntimeSpec(
    id="vllm", name="vLLM", engine="vllm", os=["linux"], vendors=["nvidia"], quant_formats=["float"],
    split_strategies=["single", "tensor-parallel", "pipeline-parallel"], kv_cache_types=["f16"],
    per_gpu_overhead_mib=0, launch_template="", source="test",
)


def rig(*specs: GpuSpec, nvlink: bool = False, cpu_ram_bandwidth_gbs: float = 83.2) -> Rig:
    gpus = tuple(RigGpu(spec=s, pcie_gen=4, pcie_lanes=16) for s in specs)
    pairs = frozenset({(0, 1)}) if nvlink else frozenset()
    return Rig(gpus=gpus, os=LINUX, nvlink_pairs=pairs, cpu_ram_bandwidth_gbs=cpu_ram_bandwidth_gbs)


def workload(model: ModelSpec = LLAMA3_8B, quant: QuantSpec = Q4_K_M, runtime: RuntimeSpec = LLAMA_CPP,
             **kwargs) -> Workload:
    return Workload(model=model, quant=quant, runtime=runtime, **kwargs)


def placement(the_rig: Rig, model: ModelSpec, quant: QuantSpec, split: str = "layer",
              shares: tuple[float, ...] | None = None, cpu_layers: int = 0, cpu_expert_layers: int = 0,
              context: int = 8192) -> FitResult:
    """Spread a model's layers over a rig's GPUs by ``shares`` (default: even), the output last.

    Under row split and tensor parallel every GPU holds a share of every layer, so each device
    lists all layers and ``shares`` of the bytes. ``cpu_layers`` keeps the first layers in CPU
    RAM; ``cpu_expert_layers`` keeps the routed experts of that many layers there.
    """
    count = len(the_rig.gpus)
    shares = shares or tuple(1.0 / count for _ in range(count))
    bytes_per_param = quant.bits_per_weight / 8
    gpu_layers = model.n_layers - cpu_layers
    layer_bytes = (model.params_total - 2 * model.vocab_size * model.hidden_size) * bytes_per_param / model.n_layers
    output_bytes = model.vocab_size * model.hidden_size * bytes_per_param
    devices: list[DeviceUsage] = []
    first = cpu_layers
    for index, share in enumerate(shares):
        if split in ("row", "tensor", "tensor-parallel"):
            layers = gpu_layers
            weights = share * (gpu_layers * layer_bytes + output_bytes)
            first_layer = cpu_layers
            holds_output = True
        else:
            layers = round(gpu_layers * sum(shares[: index + 1])) - (first - cpu_layers)
            weights = layers * layer_bytes + (output_bytes if index == count - 1 else 0.0)
            first_layer = first
            holds_output = index == count - 1
        devices.append(DeviceUsage(
            name=f"GPU{index}", kind="gpu", index=index, capacity_bytes=the_rig.gpus[index].spec.memory_bytes,
            weights_bytes=int(weights), layers=layers, first_layer=first_layer, holds_output=holds_output,
        ))
        first += layers if split not in ("row", "tensor", "tensor-parallel") else 0
    if cpu_layers or cpu_expert_layers:
        devices.insert(0, DeviceUsage(
            name="CPU", kind="cpu", index=None, capacity_bytes=the_rig.cpu_ram_bytes,
            weights_bytes=int(cpu_layers * layer_bytes), layers=cpu_layers, first_layer=0,
            expert_layers=cpu_expert_layers,
        ))
    return FitResult(fits=True, split=split, runtime="llama.cpp", quant=quant.id, context=context,
                     kv_cache="f16", devices=tuple(devices))
