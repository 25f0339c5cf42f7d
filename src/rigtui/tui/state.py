"""The explorer's shared state: the rig, the workload settings, and their undo history.

Plain Python with no Textual import, so tests and other screens can drive it directly. The
app owns one ``ExplorerState`` and tells every screen when it changes; screens never keep
their own copy of the rig.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Hashable

from rigtui.core.catalog import Catalog
from rigtui.core.memory import ModelWeights
from rigtui.core.rig import Rig, RigGpu, Workload

UNDO_LIMIT = 200
"""Undo steps kept; older steps are dropped first."""


@dataclass(frozen=True)
class Settings:
    """How the rig is asked to run: which model, quantization and runtime, with what context."""

    model: str
    """Model id of the model selected for the verdict, detail and runtime views."""
    quant: str
    """Quantization id."""
    runtime: str
    """Runtime id."""
    context: int = 8192
    """Context length in tokens."""
    kv_cache: str = "f16"
    """KV cache element type (llama.cpp names: f16, q8_0, q4_0)."""
    flash_attn: bool = True
    split: str = "auto"
    """Split strategy; "auto" lets the core pick the fastest that fits."""


@dataclass(frozen=True)
class Snapshot:
    """One point in the undo history."""

    rig: Rig
    settings: Settings
    description: str
    """What the edit that produced this point did, shown by undo and redo."""


@dataclass
class ExplorerState:
    """The rig being explored, its settings, and linear undo/redo over both.

    Every change goes through ``set_rig`` or ``set_settings``; both record an undo step
    named by a description that the UI shows ("Undid: add RTX 3090").
    """

    rig: Rig
    settings: Settings
    revision: int = 0
    """Increases on every change, undo and redo; screens compare it to skip stale redraws."""
    local_files: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Models found on this disk: model id to (path, catalog quant id of the model's own files)."""
    local_weights: dict[str, ModelWeights] = field(default_factory=dict)
    """Exact tensor sizes from the GGUF headers of models found on this disk, by model id."""
    _undo: list[Snapshot] = field(default_factory=list)
    _redo: list[Snapshot] = field(default_factory=list)
    _last: str = "start"

    def add_local_files(
        self, files: dict[str, tuple[str, str]], weights: dict[str, ModelWeights] | None = None
    ) -> None:
        """Record models found on disk and their header sizes; screens redraw, and undo history is untouched."""
        self.local_files.update(files)
        self.local_weights.update(weights or {})
        self.revision += 1

    def set_rig(self, rig: Rig, description: str) -> None:
        """Replace the rig, recording the previous one for undo."""
        self._record(description)
        self.rig = rig
        self.revision += 1

    def set_settings(self, description: str, **changes: Any) -> None:
        """Change settings fields by name, recording the previous settings for undo."""
        new = replace(self.settings, **changes)
        if new == self.settings:
            return
        self._record(description)
        self.settings = new
        self.revision += 1

    def set_both(self, rig: Rig, settings: Settings, description: str) -> None:
        """Replace rig and settings in one undo step (opening a saved rig)."""
        self._record(description)
        self.rig = rig
        self.settings = settings
        self.revision += 1

    def _record(self, description: str) -> None:
        self._undo.append(Snapshot(self.rig, self.settings, self._last))
        del self._undo[:-UNDO_LIMIT]
        self._redo.clear()
        self._last = description

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> str | None:
        """Go back one step; return the description of the edit undone, or None."""
        if not self._undo:
            return None
        undone = self._last
        previous = self._undo.pop()
        self._redo.append(Snapshot(self.rig, self.settings, self._last))
        self.rig, self.settings, self._last = previous.rig, previous.settings, previous.description
        self.revision += 1
        return undone

    def redo(self) -> str | None:
        """Re-apply the step last undone; return its description, or None."""
        if not self._redo:
            return None
        following = self._redo.pop()
        self._undo.append(Snapshot(self.rig, self.settings, self._last))
        self.rig, self.settings, self._last = following.rig, following.settings, following.description
        self.revision += 1
        return self._last

    def workload(self, catalog: Catalog, **overrides: Any) -> Workload:
        """Build the core's Workload for the current settings, with fields overridden by name.

        ``model``, ``quant`` and ``runtime`` overrides are ids, like the settings fields.
        """
        values = {
            "model": self.settings.model,
            "quant": self.settings.quant,
            "runtime": self.settings.runtime,
            "context": self.settings.context,
            "kv_cache": self.settings.kv_cache,
            "flash_attn": self.settings.flash_attn,
            "split": self.settings.split,
        }
        values.update(overrides)
        values.setdefault("ggml_types", catalog.ggml_types)
        local = self.local_files.get(values["model"])
        if local is not None and local[1] == values["quant"] and catalog.quants[local[1]].format == "gguf":
            # The launch command loads the GGUF file found on disk, not a guessed file name, and
            # placement uses that file's tensor sizes (bound to this model and quant id).
            values.setdefault("extra", {"model_path": local[0]})
            values.setdefault("weights", self.local_weights.get(values["model"]))
        return Workload(
            model=catalog.models[values.pop("model")],
            quant=catalog.quants[values.pop("quant")],
            runtime=catalog.runtimes[values.pop("runtime")],
            **values,
        )


def gpu_key(gpu: RigGpu) -> Hashable:
    """Everything about an installed card that placement and speed depend on."""
    return (gpu.spec.id, gpu.pcie_gen, gpu.pcie_lanes, gpu.via_chipset, gpu.used_bytes, gpu.desktop)


def rig_key(rig: Rig) -> Hashable:
    """A hashable key for a rig, by catalog id; the catalog does not change while the app runs.

    Catalog entries are pydantic models with list fields, so ``Rig`` itself cannot be hashed.
    """
    return (
        tuple(gpu_key(g) for g in rig.gpus),
        rig.os.id,
        rig.cpu_ram_bytes,
        rig.cpu_ram_bandwidth_gbs,
        tuple(sorted(rig.nvlink_pairs)),
        rig.psu_w,
        rig.cpu_power_w,
    )


def workload_key(workload: Workload) -> Hashable:
    """A hashable key for a workload, by catalog id."""
    return (
        workload.model.id,
        workload.quant.id,
        workload.runtime.id,
        workload.context,
        workload.kv_cache,
        workload.split,
        workload.tensor_split,
        workload.flash_attn,
        workload.ubatch,
        workload.batch,
        workload.depth,
        workload.prompt,
        workload.n_gpu_layers,
        workload.n_cpu_moe,
        workload.gpu_memory_utilization,
        workload.bpw,
        workload.parallel,
        tuple(sorted(workload.extra.items())),
    )
