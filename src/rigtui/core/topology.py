"""The rig's links and what each costs a split strategy, for the topology view.

The link kinds, bandwidths and latencies are the speed model's own (``rigtui.core.speed``),
so the figures here always agree with the decode and prefill estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigtui.core import speed as _speed
from rigtui.core.rig import Rig, RigGpu
from rigtui.core.specs import ModelSpec

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
    """What one device-to-device link costs per decoded token and per prompt micro-batch."""

    a: int
    b: int
    kind: str
    """"nvlink", "p2p" (PCIe peer to peer) or "host" (copies staged through system RAM)."""
    gbs: float
    """One-direction bandwidth the link gives the runtime, GB/s."""
    layer_split_token_bytes: int
    """Activation bytes crossing this link per decoded token under layer split."""
    layer_split_token_us: float
    """Time those bytes take, with the hop latency, microseconds."""
    layer_split_ubatch_us: float
    """Time one prompt micro-batch's activations take to cross, microseconds."""
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
    """Links between neighbouring cards, the path a layer split takes."""
    problems: tuple[TopologyProblem, ...]
    tensor_parallel_token_us: float | None
    """All-reduce time per decoded token with every card in tensor parallel, None for one card."""


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


def _params(rig: Rig, engine: str, gpu: RigGpu) -> object:
    return _speed.calibration_for(engine, gpu.spec.vendor, gpu.spec.architecture)


def _allreduce_us(rig: Rig, gpus: list[RigGpu], model: ModelSpec, engine: str) -> float:
    """Per-token all-reduce time for tensor parallel over ``gpus``, as the speed model counts it."""
    params = _params(rig, engine, gpus[0])
    links = [_speed._link(rig, gpus[0], other) for other in gpus[1:]]
    kind = max(links, key=lambda k: _speed._LINK_LATENCY_SCALE[k[0]])[0]
    gbs = min(k[1] for k in links)
    n = len(gpus)
    size = 2.0 * (n - 1) / n * model.hidden_size * 2.0
    syncs = _speed._TP_ALLREDUCES_PER_LAYER * model.n_layers
    return syncs * _speed._sync_s(params, kind, gbs, size) * 1e6


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


def topology(rig: Rig, model: ModelSpec, engine: str, ubatch: int = 512) -> Topology:
    """Describe the rig's slots and links and cost each link for layer split and tensor parallel.

    Args:
        rig: the rig.
        model: the model whose activation size sets the bytes per token.
        engine: the runtime's engine, which selects the calibrated latencies.
        ubatch: prompt micro-batch size in tokens (llama.cpp ``-ub``).
    """
    slots = tuple(_slot(rig, i, g) for i, g in enumerate(rig.gpus))
    # llama.cpp passes activations between layer-split devices as F32.
    activation = model.hidden_size * 4
    links = []
    for i, (a, b) in enumerate(zip(rig.gpus, rig.gpus[1:])):
        kind, gbs = _speed._link(rig, a, b)
        params = _params(rig, engine, a)
        hop_us = params.hop_latency_us * _speed._LINK_LATENCY_SCALE[kind]  # type: ignore[attr-defined]
        links.append(
            LinkCost(
                a=i,
                b=i + 1,
                kind=kind,
                gbs=gbs,
                layer_split_token_bytes=activation,
                layer_split_token_us=hop_us + activation / (gbs * 1e9) * 1e6,
                layer_split_ubatch_us=hop_us + ubatch * activation / (gbs * 1e9) * 1e6,
                allreduce_token_us=_allreduce_us(rig, [a, b], model, engine),
            )
        )
    tp = _allreduce_us(rig, list(rig.gpus), model, engine) if len(rig.gpus) > 1 else None
    return Topology(slots=slots, links=tuple(links), problems=tuple(_problems(rig)), tensor_parallel_token_us=tp)
