"""Turn detected GPUs into a rig for the core: match each card to the catalog and describe its slot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rigtui.core.catalog import Catalog, NameNotFound
from rigtui.core.rig import MIB, Rig, RigGpu
from rigtui.core.specs import GpuSpec, OsSpec
from rigtui.hardware.source import GpuInfo, RigInfo

Relation = Literal["same board", "same PCIe switch", "same CPU", "across CPUs", "through the chipset", "unknown"]

_RELATIONS: dict[str | None, Relation] = {
    "board": "same board",
    "switch": "same PCIe switch",
    "switches": "same PCIe switch",
    "host-bridge": "same CPU",
    "cpu": "same CPU",
    "across-cpus": "across CPUs",
    None: "unknown",
}
# A slot that links at x4 or narrower while the card has more lanes is most often a chipset
# slot on desktop boards (Intel DMI and AMD chipset uplinks are x4 links).
_CHIPSET_MAX_LANES = 4


@dataclass(frozen=True)
class MatchedGpu:
    """A detected GPU and the catalog entry it was matched to."""

    info: GpuInfo
    spec: GpuSpec
    matched_by: Literal["pci-id", "name"]
    rig_index: int
    """Position of this card in DetectedRig.rig.gpus."""


@dataclass(frozen=True)
class UnmatchedGpu:
    """A detected GPU that no catalog entry matches; the user picks one."""

    info: GpuInfo
    suggestions: list[str]
    """Catalog names closest to the detected name, best first."""

    @property
    def prompt(self) -> str:
        memory_gib = self.info.mem_total_bytes / (1 << 30)
        hint = f" Closest: {', '.join(self.suggestions)}." if self.suggestions else ""
        return (
            f"GPU {self.info.index} ({self.info.name}, PCI id {self.info.pci_device_id or 'unknown'}, "
            f"{memory_gib:.1f} GiB) is not in the catalog; pick a catalog entry for it on the Rig screen.{hint}"
        )


@dataclass(frozen=True)
class DetectedRig:
    """The detected machine as a rig seed, with what could not be matched and why."""

    info: RigInfo
    rig: Rig | None
    """The rig of matched cards; None when no card matched (or none was found)."""
    matched: tuple[MatchedGpu, ...] = ()
    unmatched: tuple[UnmatchedGpu, ...] = ()
    relations: dict[tuple[int, int], Relation] = field(default_factory=dict)
    """How each pair of GPUs (NVML indexes, lower first) reaches the other over PCIe."""
    notices: list[str] = field(default_factory=list)


def match_gpu(info: GpuInfo, catalog: Catalog) -> tuple[GpuSpec | None, str]:
    """Find the catalog entry for a detected card: by PCI device id first, then by name."""
    if info.pci_device_id:
        spec = catalog.gpu_by_pci_id(info.pci_device_id)
        if spec is not None:
            return spec, "pci-id"
    try:
        return catalog.gpu(info.name), "name"
    except NameNotFound:
        return None, ""


def _suggest(info: GpuInfo, catalog: Catalog) -> list[str]:
    try:
        catalog.gpu(info.name)
    except NameNotFound as exc:
        return exc.suggestions
    return []


def _guess_chipset(info: GpuInfo, spec: GpuSpec) -> bool:
    if info.via_chipset is not None:
        return info.via_chipset
    width = info.pcie_width_max
    return width is not None and width <= _CHIPSET_MAX_LANES < spec.pcie_lanes


def _other_process_bytes(info: GpuInfo, desktop: bool, os_spec: OsSpec) -> int | None:
    """Memory held by processes already on the card, less what the OS desktop reserve covers.

    The core adds ``desktop_reserve_mib`` for a card with a desktop, so display clients count
    here only for what they hold beyond that reserve. Compute processes count in full.
    None when the driver hides per-process figures.
    """
    figures = [p.used_bytes for p in info.processes]
    if not figures or any(f is None for f in figures):
        return None
    compute = sum(p.used_bytes or 0 for p in info.processes if p.kind == "compute")
    graphics = sum(p.used_bytes or 0 for p in info.processes if p.kind == "graphics")
    if desktop:
        graphics = max(0, graphics - os_spec.desktop_reserve_mib * MIB)
    return compute + graphics


def _used_bytes(info: GpuInfo, desktop: bool, os_spec: OsSpec, notices: list[str]) -> int:
    measured = _other_process_bytes(info, desktop, os_spec)
    if measured is not None:
        return measured
    if info.mem_used_bytes is None:
        return 0
    # Without per-process figures, take the card's used memory less what the core already
    # reserves for the OS and desktop.
    reserve = os_spec.reserve_per_gpu_mib + (os_spec.desktop_reserve_mib if desktop else 0)
    used = max(0, info.mem_used_bytes - reserve * MIB)
    if info.processes:
        notices.append(
            f"GPU {info.index}: the driver hides per-process memory, so {used / (1 << 30):.1f} GiB of used memory "
            "is counted as taken by other processes."
        )
    return used


def detect_rig(info: RigInfo, catalog: Catalog, os_spec: OsSpec) -> DetectedRig:
    """Build the rig seed from detected GPUs.

    Each matched card becomes a RigGpu at its slot's maximum PCIe generation and width (a link
    runs slower at idle, which says nothing about the slot), with memory held by other processes
    counted as used and the desktop flag set when a display is active.
    """
    notices: list[str] = list(info.notices)
    matched: list[MatchedGpu] = []
    unmatched: list[UnmatchedGpu] = []
    rig_gpus: list[RigGpu] = []
    chipset: dict[int, bool] = {}

    for gpu in info.gpus:
        if not gpu.uuid and not gpu.mem_total_bytes:
            notices.append(f"GPU {gpu.index} did not answer and is left out of the rig.")
            continue
        spec, how = match_gpu(gpu, catalog)
        if spec is None:
            entry = UnmatchedGpu(info=gpu, suggestions=_suggest(gpu, catalog))
            unmatched.append(entry)
            notices.append(entry.prompt)
            continue
        desktop = bool(gpu.display_active) or any(p.kind == "graphics" for p in gpu.processes)
        via_chipset = _guess_chipset(gpu, spec)
        chipset[gpu.index] = via_chipset
        if via_chipset and gpu.via_chipset is None:
            notices.append(
                f"GPU {gpu.index} links at x{gpu.pcie_width_max}, so rigtui assumes a chipset slot; "
                "correct it on the Rig screen if the slot is wired to the CPU."
            )
        gen = gpu.pcie_gen_max or spec.pcie_gen
        lanes = gpu.pcie_width_max or spec.pcie_lanes
        if gpu.pcie_gen_max is None or gpu.pcie_width_max is None:
            notices.append(f"GPU {gpu.index}: NVML did not report the PCIe link, so the card's own Gen{gen} x{lanes} is assumed.")
        rig_gpus.append(
            RigGpu(
                spec=spec,
                pcie_gen=gen,
                pcie_lanes=lanes,
                via_chipset=via_chipset,
                used_bytes=_used_bytes(gpu, desktop, os_spec, notices),
                desktop=desktop,
                uuid=gpu.uuid or None,
            )
        )
        matched.append(MatchedGpu(info=gpu, spec=spec, matched_by=how, rig_index=len(rig_gpus) - 1))  # type: ignore[arg-type]

    relations: dict[tuple[int, int], Relation] = {}
    for pair in info.pairs:
        relation = _RELATIONS.get(pair.level, "unknown")
        crosses_cpu_root = pair.level in ("host-bridge", "cpu", "across-cpus", None)
        if crosses_cpu_root and (chipset.get(pair.a) or chipset.get(pair.b)):
            relation = "through the chipset"
        relations[(pair.a, pair.b)] = relation

    rig_index = {m.info.index: m.rig_index for m in matched}
    nvlink_pairs = frozenset(
        (rig_index[a], rig_index[b]) for a, b in info.nvlink_pairs if a in rig_index and b in rig_index
    )
    rig = None
    if rig_gpus:
        rig = Rig(gpus=tuple(rig_gpus), os=os_spec, nvlink_pairs=nvlink_pairs, name="detected")
    elif not info.gpus:
        notices.append("No GPU was detected; start from a what-if rig.")
    return DetectedRig(
        info=info,
        rig=rig,
        matched=tuple(matched),
        unmatched=tuple(unmatched),
        relations=relations,
        notices=notices,
    )
