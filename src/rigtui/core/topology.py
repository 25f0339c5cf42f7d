"""The rig's slots and links, what each link costs a split strategy, and link problems.

Link costs come from the speed model's public entry point: each is the activation-passing
time (``SpeedEstimate.link_decode_ms``) of a placement that splits the model over just that
pair of cards, so these figures always agree with the decode estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rigtui.core.results import DeviceUsage, FitResult
from rigtui.core.rig import Rig, RigGpu, Workload
from rigtui.core.specs import ModelSpec
from rigtui.core.speed import estimate_speed

# Chipset uplinks on desktop boards are a PCIe 4.0 x4 equivalent (Intel DMI 4.0 x8 is wider,
# AMD's X570/X670 uplink is PCIe 4.0 x4), shared with every drive and port behind it.
CHIPSET_UPLINK_GEN = 4
CHIPSET_UPLINK_LANES = 4


@dataclass(frozen=True)
class Slot:
    """One card's slot and link to the CPU."""

    index: int
    name: str
    pcie_gen: int
    pcie_lanes: int
    card_gen: int
    card_lanes: int
    via_chipset: bool
    link_gbs: float
    """One-direction bandwidth of the slot as it links, GB/s."""
    nvlink_to: tuple[int, ...]


@dataclass(frozen=True)
class LinkCost:
    """The cost of one card-to-card link per decoded token."""

    a: int
    b: int
    nvlink: bool
    """True when an NVLink bridge joins the pair; otherwise the cards talk over PCIe."""
    pcie_gbs: float
    """One-direction PCIe bandwidth of the slower slot of the pair, GB/s."""
    layer_split_token_bytes: int
    """Activation bytes crossing this link per decoded token under layer split."""
    layer_split_token_us: float
    """Time per decoded token spent crossing this link under layer split, microseconds."""
    allreduce_token_us: float
    """Tensor parallel over this pair: all-reduce time per decoded token over every layer, microseconds."""


@dataclass(frozen=True)
class TopologyProblem:
    code: str
    message: str
    gpu: int | None = None


@dataclass(frozen=True)
class Topology:
    slots: tuple[Slot, ...]
    links: tuple[LinkCost, ...]
    """Links between neighbouring cards, the path a layer split takes; empty without a workload."""
    problems: tuple[TopologyProblem, ...]
    tensor_parallel_token_us: float | None
    """All-reduce time per decoded token with every card in tensor parallel; None for one card
    or without a workload."""


def _slot(rig: Rig, index: int, gpu: RigGpu) -> Slot:
    pairs = tuple(b if a == index else a for a, b in sorted(rig.nvlink_pairs) if index in (a, b))
    return Slot(
        index=index,
        name=gpu.name,
        pcie_gen=gpu.pcie_gen,
        pcie_lanes=gpu.pcie_lanes,
        card_gen=gpu.spec.pcie_gen,
        card_lanes=gpu.spec.pcie_lanes,
        via_chipset=gpu.via_chipset,
        link_gbs=gpu.link_gbs,
        nvlink_to=pairs,
    )


def _link_us(rig: Rig, workload: Workload, split: str, cards: tuple[int, ...]) -> float:
    """Activation-passing time per decoded token when ``cards`` alone hold the model, microseconds."""
    layers = workload.model.n_layers
    shared = split != "layer"
    devices = []
    first = 0
    for position, index in enumerate(cards):
        count = layers if shared else layers // len(cards) + (position < layers % len(cards))
        gpu = rig.gpus[index]
        devices.append(
            DeviceUsage(
                name=gpu.name,
                kind="gpu",
                index=index,
                capacity_bytes=gpu.spec.memory_bytes,
                weights_bytes=1,
                layers=count,
                first_layer=0 if shared else first,
                holds_output=position == len(cards) - 1,
            )
        )
        first += 0 if shared else count
    placement = FitResult(
        fits=True,
        split=split,
        runtime=workload.runtime.id,
        quant=workload.quant.id,
        context=workload.context,
        kv_cache=workload.kv_cache,
        devices=tuple(devices),
    )
    estimate = estimate_speed(rig, replace(workload, split=split), placement)
    return estimate.link_decode_ms * 1000


def _problems(rig: Rig) -> list[TopologyProblem]:
    found: list[TopologyProblem] = []
    for i, gpu in enumerate(rig.gpus):
        if gpu.via_chipset:
            found.append(
                TopologyProblem(
                    "chipset-slot",
                    f"GPU {i} ({gpu.name}) hangs off the chipset: its traffic shares the chipset's "
                    f"uplink (about PCIe {CHIPSET_UPLINK_GEN}.0 x{CHIPSET_UPLINK_LANES}) with drives and USB.",
                    i,
                )
            )
        if gpu.pcie_lanes <= 4:
            found.append(
                TopologyProblem(
                    "narrow-link",
                    f"GPU {i} ({gpu.name}) links at x{gpu.pcie_lanes}: loading weights and "
                    "tensor or row split traffic are slow there; layer split suffers least.",
                    i,
                )
            )
        if gpu.pcie_gen < gpu.spec.pcie_gen or gpu.pcie_lanes < gpu.spec.pcie_lanes:
            found.append(
                TopologyProblem(
                    "link-below-card",
                    f"GPU {i} ({gpu.name}) links at PCIe {gpu.pcie_gen}.0 x{gpu.pcie_lanes}, below the "
                    f"card's PCIe {gpu.spec.pcie_gen}.0 x{gpu.spec.pcie_lanes}.",
                    i,
                )
            )
    gens = {g.pcie_gen for g in rig.gpus}
    if len(gens) > 1:
        found.append(
            TopologyProblem(
                "mixed-generations",
                "Cards link at different PCIe generations ("
                + ", ".join(f"{g}.0" for g in sorted(gens))
                + "): split traffic runs at the slower link's pace.",
            )
        )
    return found


def topology(rig: Rig, workload: Workload | ModelSpec, engine: str | None = None, ubatch: int = 512) -> Topology:
    """Describe the rig's slots and link problems, and with a workload, cost each link.

    Args:
        rig: the rig.
        workload: the workload whose model and runtime set the bytes and latencies per token.
            A bare model (with ``engine`` and ``ubatch``, as older callers pass) gives slots
            and problems only.
        engine: unused with a workload.
        ubatch: unused with a workload.
    """
    slots = tuple(_slot(rig, i, g) for i, g in enumerate(rig.gpus))
    problems = tuple(_problems(rig))
    if not isinstance(workload, Workload):
        return Topology(slots=slots, links=(), problems=problems, tensor_parallel_token_us=None)
    # llama.cpp passes activations between layer-split devices as F32.
    activation = workload.model.hidden_size * 4
    links = []
    for i, (a, b) in enumerate(zip(rig.gpus, rig.gpus[1:])):
        links.append(
            LinkCost(
                a=i,
                b=i + 1,
                nvlink=rig.linked(i, i + 1),
                pcie_gbs=min(a.link_gbs, b.link_gbs),
                layer_split_token_bytes=activation,
                layer_split_token_us=_link_us(rig, workload, "layer", (i, i + 1)),
                allreduce_token_us=_link_us(rig, workload, "tensor-parallel", (i, i + 1)),
            )
        )
    every_card = tuple(range(len(rig.gpus)))
    tp = _link_us(rig, workload, "tensor-parallel", every_card) if len(every_card) > 1 else None
    return Topology(slots=slots, links=tuple(links), problems=problems, tensor_parallel_token_us=tp)
