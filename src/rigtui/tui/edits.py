"""Rig edits as pure functions: each takes a rig and returns the edited copy.

They keep NVLink pairs pointing at the same physical cards when cards are added or removed,
which ``Rig.with_gpus`` alone does not do.
"""

from __future__ import annotations

from dataclasses import replace

from rigtui.core.catalog import Catalog
from rigtui.core.rig import GIB, Rig, RigGpu
from rigtui.core.specs import GpuSpec

MAX_GPUS = 16
PCIE_GENS = (1, 2, 3, 4, 5, 6)
PCIE_LANE_CHOICES = (1, 2, 4, 8, 16)

EXAMPLE_GPUS = ("rtx-4090", "rtx-3090")
EXAMPLE_OS = "ubuntu-24.04"
EXAMPLE_RUNTIME = "llama-cpp"


def new_gpu(spec: GpuSpec, pcie_gen: int | None = None, pcie_lanes: int | None = None) -> RigGpu:
    """A card as installed in a slot that links at the card's own generation unless told otherwise."""
    gen = min(pcie_gen or spec.pcie_gen, spec.pcie_gen)
    lanes = min(pcie_lanes or spec.pcie_lanes, spec.pcie_lanes)
    return RigGpu(spec=spec, pcie_gen=gen, pcie_lanes=lanes)


def example_rig(catalog: Catalog) -> Rig:
    """The rig shown when no GPU is detected: RTX 4090 + RTX 3090 on PCIe 4.0 x8/x8, Ubuntu 24.04."""
    gpus = tuple(new_gpu(catalog.gpu(gpu_id), pcie_gen=4, pcie_lanes=8) for gpu_id in EXAMPLE_GPUS)
    gpus = (replace(gpus[0], desktop=True),) + gpus[1:]
    os_spec = catalog.oses.get(EXAMPLE_OS) or next(iter(catalog.oses.values()))
    return Rig(gpus=gpus, os=os_spec, psu_w=1200, name="example")


def _remap_pairs(rig: Rig, mapping: dict[int, int]) -> frozenset[tuple[int, int]]:
    """Move NVLink pairs to new GPU indexes; pairs with a removed card disappear."""
    pairs = set()
    for a, b in rig.nvlink_pairs:
        if a in mapping and b in mapping:
            new_a, new_b = mapping[a], mapping[b]
            pairs.add((min(new_a, new_b), max(new_a, new_b)))
    return frozenset(pairs)


def add_gpu(rig: Rig, spec: GpuSpec) -> Rig:
    """Append a card; it links like the last card does when the slot allows it."""
    if len(rig.gpus) >= MAX_GPUS:
        raise ValueError(f"a rig can have at most {MAX_GPUS} GPUs; remove a card first")
    last = rig.gpus[-1] if rig.gpus else None
    gpu = new_gpu(spec, last.pcie_gen if last else None, last.pcie_lanes if last else None)
    return replace(rig, gpus=rig.gpus + (gpu,))


def append_gpu(rig: Rig, gpu: RigGpu) -> Rig:
    """Append a card as given, such as a detected card once its catalog entry is known."""
    if len(rig.gpus) >= MAX_GPUS:
        raise ValueError(f"a rig can have at most {MAX_GPUS} GPUs; remove a card first")
    return replace(rig, gpus=rig.gpus + (gpu,))


def remove_gpu(rig: Rig, index: int) -> Rig:
    """Remove the card at ``index``."""
    gpus = rig.gpus[:index] + rig.gpus[index + 1 :]
    mapping = {old: old - (old > index) for old in range(len(rig.gpus)) if old != index}
    return replace(rig, gpus=gpus, nvlink_pairs=_remap_pairs(rig, mapping))


def duplicate_gpu(rig: Rig, index: int) -> Rig:
    """Insert a copy of the card at ``index`` right after it, without its desktop role or UUID."""
    if len(rig.gpus) >= MAX_GPUS:
        raise ValueError(f"a rig can have at most {MAX_GPUS} GPUs; remove a card first")
    copy = replace(rig.gpus[index], desktop=False, uuid=None, used_bytes=0)
    gpus = rig.gpus[: index + 1] + (copy,) + rig.gpus[index + 1 :]
    mapping = {old: old + (old > index) for old in range(len(rig.gpus))}
    return replace(rig, gpus=gpus, nvlink_pairs=_remap_pairs(rig, mapping))


def set_count(rig: Rig, index: int, count: int) -> Rig:
    """Make the rig hold ``count`` cards of the model at ``index``, adding or removing copies."""
    spec_id = rig.gpus[index].spec.id
    same = [i for i, g in enumerate(rig.gpus) if g.spec.id == spec_id]
    count = max(1, count)
    while len(same) < count:
        rig = duplicate_gpu(rig, same[-1])
        same = [i for i, g in enumerate(rig.gpus) if g.spec.id == spec_id]
    while len(same) > count:
        rig = remove_gpu(rig, same[-1])
        same = same[:-1]
    return rig


def update_gpu(rig: Rig, index: int, **changes: object) -> Rig:
    """Change fields of one card (pcie_gen, pcie_lanes, via_chipset, used_bytes, desktop)."""
    gpus = list(rig.gpus)
    gpus[index] = replace(gpus[index], **changes)  # type: ignore[arg-type]
    return replace(rig, gpus=tuple(gpus))


def cycle(choices: tuple[int, ...], current: int, limit: int | None = None) -> int:
    """The next value in ``choices`` after ``current``, wrapping, skipping values above ``limit``."""
    allowed = [c for c in choices if limit is None or c <= limit]
    later = [c for c in allowed if c > current]
    return later[0] if later else allowed[0]


def toggle_nvlink(rig: Rig, index: int) -> Rig:
    """Add or remove the bridge between the card at ``index`` and the next card.

    Raises:
        ValueError: there is no next card, or either card has no NVLink connector.
    """
    if index + 1 >= len(rig.gpus):
        raise ValueError("an NVLink bridge joins this card to the next one, and this is the last card")
    pair = (index, index + 1)
    if pair in rig.nvlink_pairs:
        return replace(rig, nvlink_pairs=rig.nvlink_pairs - {pair})
    for gpu in rig.gpus[index : index + 2]:
        if not gpu.spec.nvlink:
            raise ValueError(f"{gpu.name} has no NVLink connector")
    busy = {i for p in rig.nvlink_pairs for i in p}
    if busy & set(pair):
        raise ValueError("each card takes one bridge here; remove the other bridge first")
    return replace(rig, nvlink_pairs=rig.nvlink_pairs | {pair})


def set_desktop(rig: Rig, desktop: bool) -> Rig:
    """Run a desktop session on the first card (True) or run headless (False)."""
    gpus = tuple(replace(g, desktop=desktop and i == 0) for i, g in enumerate(rig.gpus))
    return replace(rig, gpus=gpus)


def gib(value: float) -> int:
    """Bytes in ``value`` GiB."""
    return int(value * GIB)
