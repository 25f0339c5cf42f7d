"""Cached calls into the core for the screens.

Every figure the screens show comes from a core function. This module only memoises the
results per (rig, workload) key so that moving the cursor or switching screens never
recomputes, and turns a core exception into a value a screen can show in place of a result.
It is safe to call from worker threads: the cache is a dict that only ever gains whole
entries, and each entry is computed from immutable inputs.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

from rigtui.core.catalog import Catalog
from rigtui.core.results import FitResult
from rigtui.core.rig import Rig, Workload
from rigtui.tui.state import rig_key, workload_key

log = logging.getLogger(__name__)

CACHE_LIMIT = 50_000
"""Cached results kept; a whole fit matrix over the bundled catalog is about 1,000."""


@dataclass(frozen=True)
class Cell:
    """The part of a placement a fit-matrix cell keeps: a few bytes instead of the whole result."""

    fits: bool
    offload: bool
    """True when the placement puts repeating layers or MoE experts in CPU RAM."""
    decode: float | None
    """Expected decode tokens/s, None when the placement gives no estimate."""


@dataclass(frozen=True)
class Failed:
    """A core call that raised: the screens show ``message`` where the result would be."""

    message: str
    kind: str


def core_module(name: str) -> Any | None:
    """Import ``rigtui.core.<name>``, or return None while that part of the core is missing."""
    try:
        return importlib.import_module(f"rigtui.core.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"rigtui.core.{name}":
            raise
        return None


class CoreService:
    """Memoised access to the core functions the screens need."""

    def __init__(self, catalog: Catalog, measurements_file: Path | None = None) -> None:
        self.catalog = catalog
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.calls = 0
        """Core calls made, for tests and benchmarks that check the cache works."""
        self.measurements_file = measurements_file
        """Stored speed measurements (`rigtui measure`); None means the user data folder's file."""
        self.measurements: tuple[Any, ...] | None = None
        """Measurements that calibrate speeds, read from the file on first use."""
        self.records: list[dict[str, Any]] = []
        """The stored records with their server details, for the Servers screen."""
        self.measurements_version = 0
        """Bumped when the measurements change, so that screens redraw their speeds."""

    def reload_measurements(self) -> None:
        """Read the measurements file again and drop every cached speed."""
        from rigtui.sources.measurements import load_measurements, load_records

        measurements, problems = load_measurements(self.measurements_file)
        for problem in problems:
            log.warning("%s", problem)
        records, _ = load_records(self.measurements_file)
        with self._lock:
            first = self.measurements is None
            self.measurements = tuple(measurements)
            self.records = records
            if not first:
                self._cache.clear()
                self.measurements_version += 1

    def _calibrate(self, rig: Rig, workload: Workload, result: Any) -> Any:
        if self.measurements is None:
            self.reload_measurements()
        if not self.measurements or not isinstance(result, FitResult):
            return result
        from rigtui.core.rig_calibration import calibrate

        return calibrate(rig, workload, result, self.measurements)

    def _memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        self.calls += 1
        try:
            value = compute()
        except (ValueError, KeyError, LookupError, ArithmeticError) as exc:
            # The core raises these for workloads it cannot place, such as an unsupported
            # quant for the runtime. The screen shows the reason in place of a result.
            log.debug("core call %r failed: %s", key[0] if isinstance(key, tuple) else key, exc)
            value = Failed(str(exc) or type(exc).__name__, type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a core bug must not take the explorer down
            log.warning("core call %r raised unexpectedly", key[0] if isinstance(key, tuple) else key, exc_info=True)
            value = Failed(f"internal error in the core: {type(exc).__name__}: {exc}", "bug")
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_LIMIT:
                self._cache.popitem(last=False)
        return value

    def cell(self, rig: Rig, workload: Workload) -> Cell | Failed:
        """Return the placement for a fit-matrix cell, reduced to what the cell shows.

        The full result is not kept, so a matrix over the whole catalog stays small. The
        detail view calls ``fit`` again for the one cell it opens.
        """
        module = core_module("fit")
        if module is None:
            return Failed("the placement engine is not installed", "missing")
        return self._memo(
            ("cell", rig_key(rig), workload_key(workload)),
            # A cell shows no largest context, whose search is most of a fit.
            lambda: _cell(self._calibrate(rig, workload, module.fit(rig, workload, with_max_context=False))),
        )

    def peek_cell(self, rig: Rig, workload: Workload) -> Cell | Failed | None:
        """Return the cached cell for this workload, or None when it has not been computed yet."""
        with self._lock:
            return self._cache.get(("cell", rig_key(rig), workload_key(workload)))

    def cells(self, rig: Rig, workloads: list[Workload]) -> list[Cell | Failed]:
        """Return ``cell`` for many workloads on one rig, placing the uncached ones in one batch.

        ``core.matrix.evaluate`` gives every cell that ``fit`` gives, many times faster. While
        measurements on this rig correct its speeds, each cell goes through ``cell`` instead.
        """
        module = core_module("matrix")
        if module is None or not workloads or self._speeds_measured(rig, workloads[0]):
            return [self.cell(rig, workload) for workload in workloads]
        machine = rig_key(rig)
        keys = [("cell", machine, workload_key(workload)) for workload in workloads]
        with self._lock:
            found: list[Any] = [self._cache.get(key) for key in keys]
        todo = [i for i, value in enumerate(found) if value is None]
        if not todo:
            return found
        self.calls += len(todo)
        try:
            values = module.evaluate(rig, [workloads[i] for i in todo])
        except Exception:  # noqa: BLE001 - a bug in the bulk path must not blank the matrix
            log.warning("bulk fit-matrix evaluation failed; placing cells one by one", exc_info=True)
            return [self.cell(rig, workload) for workload in workloads]
        with self._lock:
            for i, value in zip(todo, values):
                if isinstance(value, Exception):
                    cell: Cell | Failed = Failed(str(value) or type(value).__name__, type(value).__name__)
                else:
                    cell = Cell(fits=value.fits, offload=value.offload, decode=value.decode)
                found[i] = self._cache[keys[i]] = cell
            while len(self._cache) > CACHE_LIMIT:
                self._cache.popitem(last=False)
        return found

    def _speeds_measured(self, rig: Rig, workload: Workload) -> bool:
        """True when stored measurements correct the speeds of this rig under the workload's runtime."""
        if self.measurements is None:
            self.reload_measurements()
        if not self.measurements:
            return False
        from rigtui.core.rig_calibration import matching

        return bool(matching(self.measurements, rig, workload.runtime.id))

    def has(self, name: str) -> bool:
        """True when ``rigtui.core.<name>`` exists."""
        return core_module(name) is not None

    def fit(self, rig: Rig, workload: Workload, *, calibrated: bool = True) -> FitResult | Failed:
        """Return the core's placement for this workload: the fastest split that fits when split is auto.

        With ``calibrated``, the speeds measured on this rig correct the predicted ones.
        """
        module = core_module("fit")
        if module is None:
            return Failed("the placement engine is not installed", "missing")
        if not calibrated:
            return self._memo(("fit-model", rig_key(rig), workload_key(workload)), lambda: module.fit(rig, workload))
        return self._memo(
            ("fit", rig_key(rig), workload_key(workload)),
            lambda: self._calibrate(rig, workload, module.fit(rig, workload)),
        )

    def speed_at_depth(self, rig: Rig, workload: Workload, result: FitResult, depth: int) -> Any:
        """Decode and prefill estimate with ``depth`` tokens already in the context."""
        module = core_module("speed")
        if module is None:
            return Failed("the speed model is not installed", "missing")
        deeper = _with(workload, depth=depth)
        key = ("speed", rig_key(rig), workload_key(deeper), result.split, result.tensor_split)
        return self._memo(key, lambda: module.estimate_speed(rig, deeper, result))

    def topology(self, rig: Rig, workload: Workload) -> Any:
        module = core_module("topology")
        if module is None:
            return Failed("the topology model is not installed", "missing")
        key = ("topology", rig_key(rig), workload_key(workload))
        return self._memo(key, lambda: module.topology(rig, workload))

    def compat(self, rig: Rig, runtime_id: str, workload: Workload | None) -> Any:
        """Return whether a runtime works on this rig and OS, with reasons (``core.compat``)."""
        module = core_module("compat")
        if module is None:
            return Failed("the compatibility rules are not installed", "missing")
        runtime = self.catalog.runtimes[runtime_id]
        model = workload.model if workload else None
        quant = workload.quant if workload else None
        key = ("compat", rig_key(rig), runtime_id, model and model.id, quant and quant.id)
        return self._memo(key, lambda: module.runtime_compat(rig, runtime, model=model, quant=quant))

    def power(self, rig: Rig) -> Any:
        """PSU headroom with transient peaks, and thermal placement advice (``core.power``)."""
        module = core_module("power")
        if module is None:
            return Failed("the power model is not installed", "missing")
        return self._memo(("power", rig_key(rig)), lambda: (module.rig_power(rig), module.thermal_advice(rig)))

    def verdict(self, rig: Rig, workload: Workload) -> Any:
        """Return the facts behind the rig's verdict panel (``core.verdict.rig_verdict``)."""
        module = core_module("verdict")
        if module is None:
            return Failed("the verdict rules are not installed", "missing")
        fit = self.fit(rig, workload)
        compat = self.compat(rig, workload.runtime.id, workload)
        key = ("verdict", rig_key(rig), workload_key(workload))
        return self._memo(
            key,
            lambda: module.rig_verdict(
                rig,
                workload,
                fit_result=None if isinstance(fit, Failed) else fit,
                compat=None if isinstance(compat, Failed) else compat,
            ),
        )


def _cell(result: FitResult) -> Cell:
    decode = result.decode.expected if result.decode is not None else None
    return Cell(fits=result.fits, offload=result.fits and result.uses_offload, decode=decode)


def _with(workload: Workload, **changes: Any) -> Workload:
    from dataclasses import replace

    return replace(workload, **changes)
