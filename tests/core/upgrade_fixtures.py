"""Cards, prices and a stand-in placement for the upgrade tests.

The stand-in placement is deliberately simple and independent of the real one: a model fits
when its weights (parameters x bits per weight / 8) fit in the summed memory, and decode speed
is the slowest card's bandwidth over the weight bytes. Tests of ranking and money compute
their expectations from the same two rules, so they never depend on the real speed model.
"""

from __future__ import annotations

import datetime as dt

from rigtui.core.money import PriceBook
from rigtui.core.results import DeviceUsage, FitResult, SpeedRange
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.specs import GpuSpec, ModelSpec, OsSpec, PriceSpec, QuantSpec, RuntimeSpec
from rigtui.core.upgrade import UpgradeSettings

TODAY = dt.date(2026, 8, 1)
LINUX = OsSpec(id="linux", name="Linux", reserve_per_gpu_mib=0, desktop_reserve_mib=0, runtimes=[], source="t")


def card(gpu_id: str, name: str, memory_gib: int, bandwidth: float, tdp: int, nvlink: bool = False,
         width: float | None = 3.0) -> GpuSpec:
    return GpuSpec(
        id=gpu_id, name=name, vendor="nvidia", segment="consumer", architecture="x", compute_capability="8.6",
        memory_mib=memory_gib * 1024, bandwidth_gbs=bandwidth, pcie_gen=4, pcie_lanes=16, tdp_w=tdp,
        nvlink=nvlink, slot_width=width, source="t",
    )


RTX_3090 = card("rtx-3090", "RTX 3090", 24, 936.0, 350, nvlink=True)
RTX_4090 = card("rtx-4090", "RTX 4090", 24, 1008.0, 450)
RTX_5090 = card("rtx-5090", "RTX 5090", 32, 1792.0, 575, width=2.0)
PRO_6000 = card("rtx-pro-6000", "RTX PRO 6000", 96, 1792.0, 600, width=2.0)
GPUS = {g.id: g for g in (RTX_3090, RTX_4090, RTX_5090, PRO_6000)}


def price(gpu: str, condition: str, low: float, high: float, as_of: dt.date = dt.date(2026, 6, 1),
          currency: str = "USD") -> PriceSpec:
    return PriceSpec(gpu=gpu, condition=condition, low=low, high=high, currency=currency, as_of=as_of, source="t")


PRICES = [
    price("rtx-3090", "used", 650, 850),
    price("rtx-4090", "new", 1600, 1800),
    price("rtx-4090", "used", 1300, 1500),
    price("rtx-5090", "new", 2000, 2400),
    price("rtx-pro-6000", "new", 8000, 9000),
]


def model(model_id: str, billions: float, n_layers: int = 80) -> ModelSpec:
    return ModelSpec(
        id=model_id, name=model_id.upper(), family="t", architecture="llama", n_layers=n_layers, hidden_size=8192,
        n_heads=64, n_kv_heads=8, head_dim=128, vocab_size=128256, intermediate_size=28672,
        params_total=int(billions * 1e9), max_context=131072, source="t",
    )


M8 = model("m8", 8, 32)
M32 = model("m32", 32, 64)
M70 = model("m70", 70)
M120 = model("m120", 120)
M235 = model("m235", 235)
MODELS = (M8, M32, M70, M120, M235)

Q4 = QuantSpec(id="q4", name="Q4", format="gguf", bits_per_weight=4.0, source="t")
RUNTIME = RuntimeSpec(
    id="llama-cpp", name="llama.cpp", engine="llama.cpp", os=["linux"], vendors=["nvidia"], quant_formats=["gguf"],
    split_strategies=["single", "layer"], kv_cache_types=["f16"], per_gpu_overhead_mib=0, launch_template="",
    source="t",
)
TARGET = Workload(model=M70, quant=Q4, runtime=RUNTIME, context=8192)


def weight_bytes(m: ModelSpec, bpw: float = 4.0) -> float:
    return m.params_total * bpw / 8


def stand_in_decode(rig: Rig, m: ModelSpec) -> float:
    return min(g.spec.bandwidth_gbs for g in rig.gpus) * 1e9 / weight_bytes(m)


def stand_in_fit(rig: Rig, workload: Workload) -> FitResult:
    m = workload.model
    capacity = sum(g.spec.memory_bytes for g in rig.gpus)
    fits = weight_bytes(m, workload.quant.bits_per_weight) <= capacity
    per_card = [m.n_layers // len(rig.gpus)] * len(rig.gpus)
    per_card[-1] += m.n_layers - sum(per_card)
    devices = tuple(
        DeviceUsage(name=g.name, kind="gpu", index=i, capacity_bytes=g.spec.memory_bytes, layers=n)
        for i, (g, n) in enumerate(zip(rig.gpus, per_card))
    )
    decode = stand_in_decode(rig, m) if fits else None
    return FitResult(
        fits=fits, split="layer", runtime=workload.runtime.id, quant=workload.quant.id, context=workload.context,
        kv_cache="f16", devices=devices,
        decode=SpeedRange(decode * 0.8, decode, decode * 1.2) if decode else None,
        prefill=SpeedRange(100.0, 200.0, 300.0) if decode else None,
    )


def stand_in_bound(rig: Rig, workload: Workload) -> float:
    """An upper bound on the stand-in decode speed: the fastest card's bandwidth over the weights."""
    return max(g.spec.bandwidth_gbs for g in rig.gpus) * 1e9 / weight_bytes(workload.model) if rig.gpus else 0.0


def rig(*specs: GpuSpec, psu: int | None = None, nvlink: bool = False) -> Rig:
    pairs = frozenset({(0, 1)}) if nvlink else frozenset()
    return Rig(gpus=tuple(RigGpu(s, 4, 16) for s in specs), os=LINUX, psu_w=psu, nvlink_pairs=pairs)


def settings(**changes) -> UpgradeSettings:
    values = dict(
        target=TARGET, gpus=GPUS, prices=PriceBook(PRICES, "USD", today=TODAY), models=MODELS,
        evaluate=stand_in_fit, decode_bound=stand_in_bound,
    )
    values.update(changes)
    return UpgradeSettings(**values)
