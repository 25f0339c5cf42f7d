"""Fit-matrix cells in bulk: many models, quantizations and contexts on one rig at once.

A cell is what the fit matrix shows for one workload: whether ``fit`` places it on the GPUs,
places it with CPU or MoE-expert offload, or cannot place it, and the expected decode speed.
``evaluate`` returns what ``fit`` returns for each cell, because it runs the same search. For
llama.cpp's layer split that is every subset of the cards, contiguous filling, the repair and
rebalancing moves, the least ``--n-cpu-moe`` and partial offload. Row and tensor split follow,
with the same ranking. What does not change across cells is worked out once: device rooms,
overheads, weights per model and quantization, KV cache and compute buffers per model and
context, and speed constants. Each step of the search then runs over all cells at once in numpy.
Compute buffers, capacities, calibration and link costs come from the functions ``fit``
uses. Workloads this path does not cover (other runtimes, given ratios or layer counts, GGUF
sizes read from a file) go through ``fit`` one by one, so every cell agrees with ``fit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple, Sequence

import numpy as np

from rigtui.core import fit as fit_module, memory, placement as pl, speed as sp
from rigtui.core.results import OFFLOAD_WARNINGS, FitResult
from rigtui.core.rig import GIB, MIB, Rig, Workload

__all__ = ["MatrixCell", "OFFLOAD_WARNINGS", "cell_of", "evaluate", "fast_path_covers"]

# Errors the core raises for a workload it cannot place, so a cell reports them instead of a result.
CELL_ERRORS = (ValueError, KeyError, LookupError, ArithmeticError)
# Cells evaluated together, which bounds the memory of the per-layer arrays.
CHUNK = 8192
# Steps of a repair run on three or more GPUs laid out at once at first; doubled while runs last.
_FIRST_CHUNK = 8
_SPLITS = ("single", "layer", "row", "tensor")


class MatrixCell(NamedTuple):
    """The verdict of ``fit`` for one fit-matrix cell, with its decode speed.

    A named tuple, because a whole-catalog matrix builds thousands of them per evaluation.
    """

    fits: bool
    offload: bool
    """True when the placement keeps repeating layers or MoE experts in CPU RAM."""
    decode: float | None
    """Expected decode tokens/s, None when the placement gives no estimate."""


def cell_of(result: FitResult) -> MatrixCell:
    """Reduce a ``fit`` result to its cell; ``FitResult.uses_offload`` decides the offload mark."""
    decode = result.decode.expected if result.decode is not None else None
    return MatrixCell(fits=result.fits, offload=result.fits and result.uses_offload, decode=decode)


def _fit_cell(rig: Rig, workload: Workload) -> MatrixCell | Exception:
    try:
        return cell_of(fit_module.fit(rig, workload, with_max_context=False))
    except CELL_ERRORS as exc:
        return exc


def evaluate(rig: Rig, workloads: Sequence[Workload]) -> list[MatrixCell | Exception]:
    """Return the cell of every workload on one rig, in order.

    Each entry equals ``cell_of(fit(rig, workload))``, or is the exception ``fit`` raises for
    that workload (a ValueError, KeyError, LookupError or ArithmeticError).
    """
    out: list[MatrixCell | Exception | None] = [None] * len(workloads)
    groups: dict[tuple, list[int]] = {}
    for index, workload in enumerate(workloads):
        groups.setdefault(_settings_key(workload), []).append(index)
    for indexes in groups.values():
        # Everything fast_path_covers reads is in the settings key, so one workload decides for all.
        if not fast_path_covers(rig, workloads[indexes[0]]):
            for index in indexes:
                out[index] = _fit_cell(rig, workloads[index])
            continue
        for start in range(0, len(indexes), CHUNK):
            chunk = indexes[start : start + CHUNK]
            for index, cell in zip(chunk, _Batch(rig, [workloads[i] for i in chunk]).cells()):
                out[index] = cell
    return out  # type: ignore[return-value]


def fast_path_covers(rig: Rig, workload: Workload) -> bool:
    """True when ``evaluate`` places this workload in bulk rather than through ``fit``."""
    runtime = workload.runtime
    offered = set(runtime.split_strategies)
    if runtime.engine != "llama.cpp" or fit_module._is_ollama(workload) or "cpu-offload" not in offered:
        return False
    if workload.tensor_split or workload.n_gpu_layers is not None or workload.n_cpu_moe is not None:
        return False
    if not rig.gpus:
        return False
    splits = _splits(rig, workload)
    if splits is None:
        return False
    if len(rig.gpus) > 1 and any(s in ("row", "tensor") for s in splits):
        # Row split divides by free memory, so a rig without any would divide by zero in fit.
        if sum(round(pl.gpu_free_bytes(rig, i) / GIB, 1) for i in range(len(rig.gpus))) <= 0:
            return False
    return True


def _splits(rig: Rig, workload: Workload) -> list[str] | None:
    """Return the strategies ``fit`` compares for this workload, or None when one is not covered here."""
    if workload.split == "auto":
        splits = fit_module.supported_splits(rig, workload)
    elif workload.split in workload.runtime.split_strategies:
        splits = [workload.split]
    else:
        return None
    if not splits or any(s not in _SPLITS for s in splits):
        return None
    if len(rig.gpus) < 2 and any(s in ("row", "tensor") for s in splits):
        # On one GPU the speed model treats row and tensor split as a single device.
        return None
    return splits


_MODEL, _QUANT, _CONTEXT = attrgetter("model"), attrgetter("quant"), attrgetter("context")
_SETTINGS = attrgetter("kv_cache", "split", "flash_attn", "ubatch", "batch", "depth", "prompt", "parallel", "bpw",
                       "tensor_split", "n_gpu_layers", "n_cpu_moe")


def _settings_key(workload: Workload) -> tuple:
    """Everything but model, quantization and context that ``fast_path_covers`` or a batch reads."""
    return (id(workload.runtime), id(workload.ggml_types), _SETTINGS(workload))


# --- per model and quantization, per model and context ----------------------------------------


@dataclass(frozen=True)
class _WeightRows:
    """Prefix sums over the layers of one model at one quantization (entry j covers layers < j)."""

    prefix: np.ndarray
    """Rows TOTAL, DENSE, EXPERTS, EXPERT_LAYERS (layers with routed experts) and SCRATCH (the
    largest expert_bytes // 3 among the first j layers, the offload scratch of --n-cpu-moe j)."""
    embd: int
    output: int
    max_layer: int


TOTAL, DENSE, EXPERTS, EXPERT_LAYERS, SCRATCH = range(5)


def _prefix(values: list[int]) -> np.ndarray:
    out = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.asarray(values, dtype=np.int64), out=out[1:])
    return out


def _rows_of(weights: memory.ModelWeights) -> _WeightRows:
    experts = list(weights.layer_experts)
    prefix = np.zeros((5, len(experts) + 1), dtype=np.int64)
    prefix[TOTAL] = _prefix(list(weights.layer_totals))
    prefix[DENSE] = _prefix([layer.dense_bytes for layer in weights.layers])
    prefix[EXPERTS] = _prefix(experts)
    prefix[EXPERT_LAYERS] = _prefix([1 if size else 0 for size in experts])
    if experts:
        np.maximum.accumulate(np.asarray(experts, dtype=np.int64) // 3, out=prefix[SCRATCH, 1:])
    return _WeightRows(prefix, weights.token_embd_bytes, weights.output_bytes, weights.max_layer_bytes)


# Rows of weights read from a GGUF file, by the identity of those weights.
_READ_ROWS: dict[int, tuple[memory.ModelWeights, _WeightRows]] = {}
# Rows of estimated weights, by model, quantization, type table and bits per weight. They keep
# only the prefix sums, so a whole-catalog matrix does not keep a ModelWeights per cell alive.
_ESTIMATED_ROWS: dict[tuple, tuple[Any, Any, tuple, _WeightRows]] = {}
ROWS_LIMIT = 4096


def _weight_rows(workload: Workload, ggml_key: tuple) -> _WeightRows:
    """Prefix rows of the weights ``fit`` places for this workload (``memory.workload_weights``)."""
    given = getattr(workload, "weights", None)
    if given is not None and memory.workload_weights(workload) is given:
        cached = _READ_ROWS.get(id(given))
        if cached is None or cached[0] is not given:
            if len(_READ_ROWS) > ROWS_LIMIT:
                _READ_ROWS.clear()
            # The entry keeps the weights alive, so no other object can take their id while it is stored.
            cached = _READ_ROWS[id(given)] = (given, _rows_of(given))
        return cached[1]
    model, quant = workload.model, workload.quant
    key = (id(model), id(quant), id(workload.ggml_types), workload.bpw)
    found = _ESTIMATED_ROWS.get(key)
    if found is not None and found[0] is model and found[1] is quant and found[2] == ggml_key:
        return found[3]
    rows = _rows_of(memory._size_weights(model, quant, workload.ggml_types, workload.bpw))
    if len(_ESTIMATED_ROWS) > ROWS_LIMIT:
        _ESTIMATED_ROWS.clear()
    # The entry keeps model and quantization alive, so no other object can take their ids.
    _ESTIMATED_ROWS[key] = (model, quant, ggml_key, rows)
    return rows


# Index into a row of llamacpp_compute_bytes values: holds_output, holds_layers, first_device, 4 copies.
def _compute_index(holds_output: Any, holds_layers: Any, first: Any, copies4: Any) -> Any:
    return holds_output * 8 + holds_layers * 4 + first * 2 + copies4


# Index into a row of host_compute_bytes values: 4 copies, CPU layers, CPU output.
def _host_index(copies4: Any, cpu_layers: Any, cpu_output: Any) -> Any:
    return copies4 * 4 + cpu_layers * 2 + cpu_output


@dataclass(frozen=True)
class _ContextRows:
    kv: np.ndarray
    """Prefix sums of the per-layer KV cache bytes."""
    compute: tuple[int, ...]
    """llamacpp_compute_bytes for every _compute_index."""
    host: tuple[int, ...]
    """host_compute_bytes for every _host_index."""
    activations: int
    attention: int
    partial_head: int
    """max(feed_forward, logits) of the shape, what row and tensor split divide among the GPUs."""


_CONTEXT_ROWS: dict[tuple, tuple[Any, _ContextRows]] = {}


def _context_rows(workload: Workload) -> _ContextRows:
    model = workload.model
    element = memory.kv_element_bytes(workload.kv_cache, workload.ggml_types)
    key = (id(model), workload.context, element, workload.ubatch, workload.parallel, workload.flash_attn)
    cached = _CONTEXT_ROWS.get(key)
    if cached is not None and cached[0] is model:
        return cached[1]
    kv = memory.layer_kv_bytes(model, workload.context, workload.kv_cache, workload.ggml_types, workload.ubatch, workload.parallel)
    shape = memory.llamacpp_compute_shape(model, workload.context, workload.ubatch, workload.flash_attn)
    compute = tuple(
        memory.llamacpp_compute_bytes(shape, bool(o), bool(h), first_device=bool(f), n_copies=4 if c else 1)
        for o in (0, 1) for h in (0, 1) for f in (0, 1) for c in (0, 1)
    )
    host = tuple(
        memory.host_compute_bytes(model, workload.context, workload.ubatch, workload.flash_attn,
                                  n_copies=4 if c else 1, cpu_layers=bool(l), cpu_output=bool(o))
        for c in (0, 1) for l in (0, 1) for o in (0, 1)
    )
    rows = _ContextRows(_prefix(list(kv)), compute, host, shape.activations, shape.attention,
                        max(shape.feed_forward, shape.logits))
    if len(_CONTEXT_ROWS) > 8192:
        _CONTEXT_ROWS.clear()
    # The entry keeps the model alive, so no other object can take its id while it is stored.
    _CONTEXT_ROWS[key] = (model, rows)
    return rows


# --- one batch: cells that share the rig and every setting but model, quant and context ------


@dataclass
class _Layout:
    """A layer split of some cells over one subset of GPUs: per-slot bytes and the CPU's share."""

    counts: np.ndarray
    ncm: np.ndarray
    full: np.ndarray
    weights: np.ndarray
    kv: np.ndarray
    holds_output: np.ndarray
    free: np.ndarray
    gpu_fit: np.ndarray
    cpu_weights: np.ndarray
    cpu_kv: np.ndarray
    cpu_layers: np.ndarray
    cpu_experts: np.ndarray
    cpu_fit: np.ndarray
    cpu_free: np.ndarray
    scratch: np.ndarray
    """What the first GPU's compute buffer adds for weights in CPU RAM."""
    copies4: np.ndarray
    """1 where llama.cpp keeps four copies of the graph inputs (pipeline parallelism), else 0."""


class _CellTable:
    """Everything about a list of cells that does not depend on the rig, as arrays.

    Per cell: layer count and the per-layer prefix rows (weights of its model at its
    quantization, KV cache at its context) laid end to end, the compute buffers, and the
    speed model's constants. A what-if edit changes only the rig, so the table is kept.
    """

    def __init__(self, workloads: list[Workload]) -> None:
        first = workloads[0]
        model_index: dict[int, int] = {}
        models: list[Any] = []
        pair_index: dict[tuple[int, int, int], int] = {}
        pairs: list[tuple[_WeightRows, float, bool]] = []
        context_index: dict[tuple[int, int], int] = {}
        contexts: list[_ContextRows] = []
        cell_model = np.empty(len(workloads), dtype=np.int64)
        cell_pair = np.empty(len(workloads), dtype=np.int64)
        cell_context = np.empty(len(workloads), dtype=np.int64)
        context_tokens = np.empty(len(workloads), dtype=np.float64)
        ggml_key = memory._ggml_key(first.ggml_types)
        for c, workload in enumerate(workloads):
            model = workload.model
            m = model_index.get(id(model))
            if m is None:
                m = model_index[id(model)] = len(models)
                models.append(model)
            pair = (id(model), id(workload.quant), id(getattr(workload, "weights", None)))
            q = pair_index.get(pair)
            if q is None:
                q = pair_index[pair] = len(pairs)
                bits = workload.bpw or workload.quant.bits_per_weight
                pairs.append((_weight_rows(workload, ggml_key), bits / 8, workload.quant.format != "float"))
            key = (id(model), workload.context)
            x = context_index.get(key)
            if x is None:
                x = context_index[key] = len(contexts)
                contexts.append(_context_rows(workload))
            cell_model[c], cell_pair[c], cell_context[c] = m, q, x
            context_tokens[c] = workload.context
        self.models = models
        self.size = len(workloads)

        n_model = np.array([model.n_layers for model in models], dtype=np.int64)
        self.n = n = n_model[cell_model]
        lengths = n + 1
        self.base = np.zeros(self.size, dtype=np.int64)
        np.cumsum(lengths[:-1], out=self.base[1:])
        spread = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(self.base, lengths)

        rows = [p[0] for p in pairs]
        pair_start = np.zeros(len(rows), dtype=np.int64)
        np.cumsum([r.prefix.shape[1] for r in rows[:-1]], out=pair_start[1:])
        at_pair = np.repeat(pair_start[cell_pair], lengths) + spread
        prefix = np.concatenate([r.prefix for r in rows], axis=1)[:, at_pair]
        self.total, dense, self.experts, self.expert_layers, self.scratch = prefix
        self.embd = np.array([r.embd for r in rows], dtype=np.int64)[cell_pair]
        self.output = np.array([r.output for r in rows], dtype=np.int64)[cell_pair]
        self.max_layer = np.array([r.max_layer for r in rows], dtype=np.int64)[cell_pair]
        self.bytes_per_param = np.array([p[1] for p in pairs], dtype=np.float64)[cell_pair]
        self.quantized = np.array([p[2] for p in pairs], dtype=bool)[cell_pair]

        context_start = np.zeros(len(contexts), dtype=np.int64)
        np.cumsum([len(r.kv) for r in contexts[:-1]], out=context_start[1:])
        self.kv = np.concatenate([r.kv for r in contexts])[np.repeat(context_start[cell_context], lengths) + spread]
        self.compute = np.array([r.compute for r in contexts], dtype=np.int64)[cell_context]
        self.host = np.array([r.host for r in contexts], dtype=np.int64)[cell_context]
        self.activations = np.array([r.activations for r in contexts], dtype=np.int64)[cell_context]
        self.attention = np.array([r.attention for r in contexts], dtype=np.int64)[cell_context]
        self.partial_head = np.array([r.partial_head for r in contexts], dtype=np.int64)[cell_context]

        # Rows laid end to end and lifted by a per-cell offset, so that one searchsorted over
        # the whole array finds, in every row at once, how many layers a room holds.
        ends = self.base + n
        widest = int(max((self.total + self.kv)[ends].max(), 1))
        self.lift = 1 << (widest.bit_length() + 1)
        if self.lift * self.size >= 1 << 62:
            raise ValueError("too many cells in one batch")
        self.row_offset = np.arange(self.size, dtype=np.int64) * self.lift
        offsets = np.repeat(self.row_offset, lengths)
        self.lifted_dense = dense + self.kv + offsets
        self.lifted_total = self.total + self.kv + offsets

        # The speed model's constants, per model.
        shapes = [sp.model_shape(model) for model in models]
        per_model = np.array([
            (shape.layer_dense, shape.layer_routed, shape.moe_layers / model.n_layers, shape.active_routed_fraction,
             shape.embedding, shape.output, sp.kv_bytes_per_token(model, first.kv_cache), float(model.hidden_size))
            for shape, model in zip(shapes, models)
        ], dtype=np.float64)[cell_model].T
        (self.layer_dense, self.layer_routed, self.moe_share, self.active_fraction, self.embedding_params,
         self.output_params, self.kv_per_token, self.hidden) = per_model
        self.context = context_tokens
        self.is_moe = np.array([model.is_moe for model in models], dtype=bool)[cell_model]
        self.tensor_excluded = np.array([model.architecture in pl.TENSOR_MODE_EXCLUDED for model in models], dtype=bool)[cell_model]


_TABLES: dict[tuple, tuple[list[Workload], _CellTable]] = {}
TABLES_KEPT = 4
"""Cell tables kept: the fit matrix's two batches, in quantization and in context columns."""


def _cell_table(workloads: list[Workload]) -> _CellTable:
    key = (
        _settings_key(workloads[0]),
        tuple(map(id, map(_MODEL, workloads))),
        tuple(map(id, map(_QUANT, workloads))),
        tuple(map(id, (getattr(w, "weights", None) for w in workloads))),
        tuple(map(_CONTEXT, workloads)),
    )
    cached = _TABLES.get(key)
    if cached is not None:
        return cached[1]
    table = _CellTable(workloads)
    if len(_TABLES) >= TABLES_KEPT:
        _TABLES.pop(next(iter(_TABLES)))
    # The entry keeps the workloads alive, so no other object can take the ids in its key.
    _TABLES[key] = (list(workloads), table)
    return table


class _Batch:
    def __init__(self, rig: Rig, workloads: list[Workload]) -> None:
        self.rig = rig
        first = workloads[0]
        self.workload = first
        self.table = table = _cell_table(workloads)
        for name, value in vars(table).items():
            setattr(self, name, value)
        n_gpus = len(rig.gpus)
        self.overhead = first.runtime.per_gpu_overhead_mib * MIB
        self.capacity = [pl.gpu_capacity(rig, i, first) for i in range(n_gpus)]
        self.cpu_capacity = pl.cpu_capacity(rig)
        self.expert_offload_offered = "expert-offload" in first.runtime.split_strategies

        # The speed model's constants for this rig.
        engine = first.runtime.engine
        self.depth = max(first.depth, 0)
        self.params = [sp.gpu_calibration(engine, gpu.spec) for gpu in rig.gpus]
        self.cpu_params = sp.calibration_for(engine, "cpu", "cpu")
        self.bandwidth = [gpu.spec.bandwidth_gbs for gpu in rig.gpus]
        self.bandwidth_bps = [gpu.spec.bandwidth_gbs * 1e9 for gpu in rig.gpus]
        self.efficiency = [
            np.where(self.quantized, p.bandwidth_efficiency * p.quantized_bandwidth_factor, p.bandwidth_efficiency)
            for p in self.params
        ]
        self.link_scale = np.ones((n_gpus, n_gpus))
        self.link_gbs = np.ones((n_gpus, n_gpus))
        for a in range(n_gpus):
            for b in range(n_gpus):
                if a != b:
                    kind, gbs = sp._link(rig, rig.gpus[a], rig.gpus[b])
                    self.link_scale[a, b] = sp._LINK_LATENCY_SCALE[kind]
                    self.link_gbs[a, b] = gbs
        self.host_scale = [sp._LINK_LATENCY_SCALE[sp._link(rig, gpu, None)[0]] for gpu in rig.gpus]
        self.host_gbs = [sp._link(rig, gpu, None)[1] for gpu in rig.gpus]

    # --- layer split -------------------------------------------------------------------------

    def _cost_start(self, idx: np.ndarray, start: np.ndarray, ncm: np.ndarray) -> np.ndarray:
        """Bytes the first ``start`` layers take on GPUs when the first ``ncm`` keep their experts in RAM."""
        b = self.base[idx]
        lifted = np.where(start <= ncm, self.lifted_dense[b + start], self.lifted_total[b + start] - self.experts[b + ncm])
        return lifted - self.row_offset[idx]

    def _reach(self, idx: np.ndarray, start: np.ndarray, room: np.ndarray, ncm: np.ndarray) -> np.ndarray:
        """Layer index a GPU filled from ``start`` stops at: whole layers while they fit into ``room``."""
        b = self.base[idx]
        n = self.n[idx]
        target = self._cost_start(idx, start, ncm) + room + self.row_offset[idx]
        mid = np.maximum(ncm, start)
        # Up to ncm each layer costs its dense part, from there its whole size.
        in_dense = np.clip(np.searchsorted(self.lifted_dense, target, side="right") - 1 - b, start, mid)
        in_total = np.clip(np.searchsorted(self.lifted_total, target + self.experts[b + ncm], side="right") - 1 - b, mid, n)
        return np.where(in_dense >= mid, in_total, in_dense)

    def _contiguous(self, idx: np.ndarray, subset: tuple[int, ...], ncm: np.ndarray) -> np.ndarray:
        """fit._contiguous_counts for every cell of idx."""
        counts = np.zeros((idx.size, len(subset)), dtype=np.int64)
        cursor = np.zeros(idx.size, dtype=np.int64)
        for slot, gpu in enumerate(subset):
            last = slot == len(subset) - 1
            room = self.capacity[gpu] - self.overhead - self.compute[idx, _compute_index(int(last), 1, 1, 0)]
            if last:
                room = room - self.output[idx]
            end = self._reach(idx, cursor, room, ncm)
            counts[:, slot] = end - cursor
            cursor = end
        return counts

    def _layout(self, idx: np.ndarray, subset: tuple[int, ...], counts: np.ndarray, ncm: np.ndarray) -> _Layout:
        """placement.build_layer_split for every cell of idx, reduced to bytes and fit."""
        k = len(subset)
        b = self.base[idx]
        n = self.n[idx]
        # Column by column: numpy reduces a short last axis slowly.
        gpu_layers = counts[:, 0].copy()
        for slot in range(1, k):
            gpu_layers += counts[:, slot]
        full = gpu_layers >= n
        first = np.where(full, 0, n - gpu_layers)
        ncm = np.minimum(ncm, n)
        starts = np.empty_like(counts)
        starts[:, 0] = first
        for slot in range(1, k):
            starts[:, slot] = starts[:, slot - 1] + counts[:, slot - 1]
        ends = starts + counts
        bs, be = b[:, None] + starts, b[:, None] + ends
        moved_end = np.clip(ncm[:, None], starts, ends)
        weights = self.total[be] - self.total[bs] - (self.experts[b[:, None] + moved_end] - self.experts[bs])
        weights[:, k - 1] += np.where(full, self.output[idx], 0)
        kv = self.kv[be] - self.kv[bs]
        holds_output = np.zeros((idx.size, k), dtype=bool)
        holds_output[:, k - 1] = full

        cpu_moved = np.clip(ncm, first, n)
        cpu_weights = (self.embd[idx] + self.total[b + first] + self.experts[b + cpu_moved] - self.experts[b + first]
                       + np.where(full, 0, self.output[idx]))
        cpu_kv = self.kv[b + first]
        cpu_experts = self.expert_layers[b + cpu_moved] - self.expert_layers[b + first]
        cpu_layers = first
        scratch = np.where((cpu_layers > 0) | (cpu_experts > 0), self.scratch[b + np.maximum(ncm, cpu_layers)], 0)
        scratch = np.where(cpu_layers > 0, np.maximum(scratch, self.max_layer[idx] // 3), scratch)
        copies4 = (full & (ncm == 0)).astype(np.int64) if k > 1 else np.zeros(idx.size, dtype=np.int64)

        compute = np.empty_like(counts)
        for slot in range(k):
            index = _compute_index(holds_output[:, slot].astype(np.int64), (counts[:, slot] > 0).astype(np.int64), int(slot == 0), copies4)
            value = self.compute[idx, index]
            if slot == 0:
                value = np.maximum(value, self.activations[idx]) + scratch
            compute[:, slot] = value
        capacity = np.array([self.capacity[g] for g in subset], dtype=np.int64)
        free = capacity[None, :] - (weights + kv + compute + self.overhead)
        gpu_fit = free[:, 0] >= 0
        for slot in range(1, k):
            gpu_fit &= free[:, slot] >= 0
        host = self.host[idx, _host_index(copies4, (cpu_layers > 0).astype(np.int64), (~full).astype(np.int64))]
        cpu_free = self.cpu_capacity - (cpu_weights + cpu_kv + host)
        return _Layout(counts, ncm, full, weights, kv, holds_output, free, gpu_fit,
                       cpu_weights, cpu_kv, cpu_layers, cpu_experts, cpu_free >= 0, cpu_free, scratch, copies4)

    def _repair(self, idx: np.ndarray, subset: tuple[int, ...], counts: np.ndarray, ncm: np.ndarray,
                allow_cpu: bool) -> tuple[np.ndarray, np.ndarray]:
        """fit._repair: (placed, counts), moving layers off overfilled GPUs.

        fit moves one layer per step. On one or two GPUs a run of identical steps changes
        each card's bytes monotonically, so the step that ends the run is found directly
        (``_run_length``) and the run is taken at once. On more GPUs each card between the
        giver and the taker keeps a window of layers that slides along the run, so its bytes
        need not change monotonically. There the next steps of the run are laid out together
        and checked one by one (``_trial_run``).
        """
        counts = counts.copy()
        placed = np.zeros(idx.size, dtype=bool)
        steps = np.zeros(idx.size, dtype=np.int64)
        # The previous move: 1 took a layer from slot 0 to slot 1, 2 from slot 1 to slot 0.
        last_move = np.zeros(idx.size, dtype=np.int64)
        # On more than two GPUs: the previous move as a code of (giver, taker), and how many
        # steps of a run to lay out at once.
        last_pair = np.full(idx.size, -1, dtype=np.int64)
        chunk = np.full(idx.size, _FIRST_CHUNK, dtype=np.int64)
        active = np.arange(idx.size)
        while active.size:
            layout = self._layout(idx[active], subset, counts[active], ncm[active])
            done = layout.gpu_fit
            placed[active[done]] = True
            # fit makes at most n + 1 moves; what still does not fit after them fails.
            keep = ~done & (steps[active] <= self.n[idx[active]])
            rows = np.nonzero(keep)[0]
            active = active[keep]
            if not active.size:
                break
            fits_slot = layout.free[rows] >= 0
            jumped = np.zeros(active.size, dtype=bool)
            failed = np.zeros(active.size, dtype=bool)
            if len(subset) <= 2:
                jumped, failed = self._run_length(idx[active], subset, counts, active, layout.ncm[rows], _take(layout, rows),
                                                  fits_slot, steps, last_move, allow_cpu)
            else:
                failed = self._trial_run(idx[active], subset, counts, active, layout.ncm[rows], fits_slot,
                                         layout.free[rows], steps, last_pair, chunk, allow_cpu)
                jumped = ~failed
            single = np.nonzero(~jumped & ~failed)[0]
            failed[single] = ~self._one_step(subset, counts, active[single], fits_slot[single],
                                             layout.free[rows[single]], steps, last_move, allow_cpu)
            active = active[~failed]
        return placed, counts

    def _one_step(self, subset: tuple[int, ...], counts: np.ndarray, cells: np.ndarray, fits_slot: np.ndarray,
                  free: np.ndarray, steps: np.ndarray, last_move: np.ndarray, allow_cpu: bool) -> np.ndarray:
        """One move of fit._repair for each of ``cells``; False where fit gives up."""
        at = np.arange(cells.size)
        over = np.argmax(~fits_slot, axis=1)
        ok = counts[cells, over] > 0
        roomy = fits_slot.copy()
        roomy[at, over] = False
        has_roomy = roomy.any(axis=1)
        target = np.argmax(np.where(roomy, free, np.iinfo(np.int64).min), axis=1)
        counts[cells, over] -= ok
        move = ok & has_roomy
        counts[cells[move], target[move]] += 1
        steps[cells] += 1
        last_move[cells] = np.where(move & (over == 0) & (target == 1), 1, np.where(move & (over == 1) & (target == 0), 2, 0))
        if not allow_cpu:
            ok &= has_roomy
        return ok

    def _trial_run(self, cell_idx: np.ndarray, subset: tuple[int, ...], counts: np.ndarray, cells: np.ndarray,
                   ncm: np.ndarray, fits_slot: np.ndarray, free: np.ndarray, steps: np.ndarray, last_pair: np.ndarray,
                   chunk: np.ndarray, allow_cpu: bool) -> np.ndarray:
        """Take a run of identical repair moves on three or more GPUs for each of ``cells``; True where fit gives up.

        fit's current move takes one layer from the first overfilled card to the roomiest
        card that fits, or to the CPU. That move is repeated for up to ``chunk`` steps, and
        fit's choice of move is worked out on each of those layouts. The run is taken up
        to the first layout that fits or where fit would choose another move, so fit's
        steps are reproduced exactly. A run that ran through the whole chunk doubles it for
        the next call. A move that undoes the previous one returns to a layout that did not
        fit and so starts a cycle that never fits: fit gives up there.
        """
        k = len(subset)
        at = np.arange(cells.size)
        over = np.argmax(~fits_slot, axis=1)
        roomy = fits_slot.copy()
        roomy[at, over] = False
        has_roomy = roomy.any(axis=1)
        lowest = np.iinfo(np.int64).min
        target = np.where(has_roomy, np.argmax(np.where(roomy, free, lowest), axis=1), -1)
        giver_layers = counts[cells, over]
        pair = over * (k + 1) + target + 1
        undo = has_roomy & (last_pair[cells] == target * (k + 1) + over + 1)
        failed = (giver_layers == 0) | (~has_roomy & (not allow_cpu)) | undo
        go = np.nonzero(~failed)[0]
        if not go.size:
            return failed
        live = cells[go]
        # fit makes at most n + 1 moves and cannot take more layers than the card holds.
        limit = np.minimum(giver_layers[go], self.n[cell_idx[go]] + 1 - steps[live])
        tries = np.minimum(limit, chunk[live])
        row_cell = np.repeat(np.arange(go.size), tries)
        group_start = np.cumsum(tries) - tries
        moves = np.arange(row_cell.size) - group_start[row_cell] + 1
        g_over, g_target = over[go], target[go]
        trial = counts[live][row_cell]
        rows = np.arange(row_cell.size)
        trial[rows, g_over[row_cell]] -= moves
        to_gpu = g_target[row_cell] >= 0
        trial[rows[to_gpu], g_target[row_cell][to_gpu]] += moves[to_gpu]
        layout = self._layout(cell_idx[go][row_cell], subset, trial, ncm[go][row_cell])
        t_fits = layout.free >= 0
        t_over = np.argmax(~t_fits, axis=1)
        t_roomy = t_fits.copy()
        t_roomy[rows, t_over] = False
        t_target = np.where(t_roomy.any(axis=1), np.argmax(np.where(t_roomy, layout.free, lowest), axis=1), -1)
        same = ~layout.gpu_fit & (t_over == g_over[row_cell]) & (t_target == g_target[row_cell])
        # The run ends at the first layout that fits or wants another move, else at the chunk's end.
        stop = np.where(same, tries[row_cell], moves)
        length = np.minimum.reduceat(stop, group_start)
        counts[live, g_over] -= length
        gpu = np.nonzero(g_target >= 0)[0]
        counts[live[gpu], g_target[gpu]] += length[gpu]
        steps[live] += length
        last_pair[live] = pair[go]
        whole = length == tries
        chunk[live[whole]] *= 2
        return failed

    def _run_length(self, cell_idx: np.ndarray, subset: tuple[int, ...], counts: np.ndarray, cells: np.ndarray,
                    ncm: np.ndarray, layout: _Layout, fits_slot: np.ndarray, steps: np.ndarray, last_move: np.ndarray,
                    allow_cpu: bool) -> tuple[np.ndarray, np.ndarray]:
        """Take whole runs of identical repair moves on one or two GPUs: (taken, failed) per cell.

        Three runs occur. (a) slot 0 is over and slot 1 has room: layers move to slot 1.
        (c) the reverse. (b) slot 0 is over, slot 1 has no room, and layers already stay on
        the CPU: slot 0 gives its first layers to the CPU. Along (a) and (c) the split point
        moves and each card's bytes change monotonically; along (b) slot 0 shrinks alone.
        The run ends at the first step where the pattern breaks. A move that undoes the
        previous one starts a cycle between two states that both do not fit, so fit fails.
        """
        k = len(subset)
        taken = np.zeros(cells.size, dtype=bool)
        failed = np.zeros(cells.size, dtype=bool)
        n = self.n[cell_idx]
        c0 = counts[cells, 0]
        c1 = counts[cells, 1] if k == 2 else np.zeros(cells.size, dtype=np.int64)
        first = layout.cpu_layers
        full = layout.full
        fit0 = fits_slot[:, 0]
        fit1 = fits_slot[:, 1] if k == 2 else np.zeros(cells.size, dtype=bool)
        c4 = layout.copies4
        activations = self.activations[cell_idx]
        last = lambda holds: self.output[cell_idx] * holds  # noqa: E731 - bytes of the output on the last slot
        slot0_layers = np.maximum(self.compute[cell_idx, _compute_index(0 if k == 2 else full.astype(np.int64), 1, 1, c4)], activations) + layout.scratch
        slot0_empty = np.maximum(self.compute[cell_idx, _compute_index(0 if k == 2 else full.astype(np.int64), 0, 1, c4)], activations) + layout.scratch
        room0 = self.capacity[subset[0]] - self.overhead - slot0_layers
        empty0_fits = slot0_empty + self.overhead + (0 if k == 2 else last(full)) <= self.capacity[subset[0]]
        never = np.iinfo(np.int64).max // 4

        if k == 2:
            holds = full.astype(np.int64)
            slot1_layers = self.compute[cell_idx, _compute_index(holds, 1, 0, c4)]
            slot1_empty = self.compute[cell_idx, _compute_index(holds, 0, 0, c4)]
            room1 = self.capacity[subset[1]] - self.overhead - slot1_layers - last(holds)
            empty1_fits = last(holds) + slot1_empty + self.overhead <= self.capacity[subset[1]]
            end = first + c0 + c1
            # Slot 0 holds layers [first, first + c0 - j) after j moves of run (a), [.., + j) in (c);
            # it fits while that end is at most `limit0`. Slot 1 fits while its start is at least `start1`.
            limit0 = self._reach(cell_idx, first, room0, ncm)
            start1 = self._first_at_least(cell_idx, self._cost_start(cell_idx, end, ncm) - room1, ncm)

            run_a = ~fit0 & fit1 & (c0 > 0)
            ends_fit0 = np.maximum(c0 - (limit0 - first), 1)
            ends_fit0 = np.where(ends_fit0 >= c0, np.where(empty0_fits, c0, never), ends_fit0)
            ends_room1 = np.maximum(first + c0 - start1 + 1, 1)
            length_a = np.minimum(ends_fit0, ends_room1)
            run_a_fails = run_a & ((last_move[cells] == 2) | (length_a > c0))

            run_c = fit0 & ~fit1 & (c1 > 0)
            ends_room0 = np.maximum(limit0 - first - c0 + 1, 1)
            ends_fit1 = np.maximum(start1 - first - c0, 1)
            ends_fit1 = np.where(ends_fit1 >= c1, np.where(empty1_fits, c1, never), ends_fit1)
            length_c = np.minimum(ends_room0, ends_fit1)
            run_c_fails = run_c & ((last_move[cells] == 1) | (length_c > c1))
        else:
            run_a = run_c = run_a_fails = run_c_fails = np.zeros(cells.size, dtype=bool)
            length_a = length_c = np.zeros(cells.size, dtype=np.int64)

        run_b = ~fit0 & ~fit1 & (c0 > 0) & ~full & allow_cpu
        # Slot 0 holds [first + j, first + c0) after j moves of run (b) and fits once that start
        # is at least `start0`.
        start0 = self._first_at_least(cell_idx, self._cost_start(cell_idx, first + c0, ncm) - room0, ncm)
        length_b = np.maximum(start0 - first, 1)
        length_b = np.where(length_b >= c0, np.where(empty0_fits, c0, never), length_b)
        run_b_fails = run_b & (length_b > c0)

        length = np.where(run_a, length_a, np.where(run_c, length_c, length_b))
        run = run_a | run_b | run_c
        # fit stops after n + 1 moves, inside the run, where nothing fits yet.
        failed = run_a_fails | run_b_fails | run_c_fails | (run & (steps[cells] + length > n + 1))
        taken = run & ~failed
        go = np.nonzero(taken)[0]
        moves = length[go]
        target = cells[go]
        counts[target, 0] -= np.where(run_c[go], -moves, moves)
        if k == 2:
            counts[target, 1] += np.where(run_a[go], moves, np.where(run_c[go], -moves, 0))
        steps[target] += moves
        last_move[target] = np.where(run_a[go], 1, np.where(run_c[go], 2, 0))
        return taken, failed

    def _first_at_least(self, idx: np.ndarray, target: np.ndarray, ncm: np.ndarray) -> np.ndarray:
        """Smallest j in [0, n] whose cost of the first j layers (see _cost_start) is at least target; n + 1 if none."""
        b = self.base[idx]
        n = self.n[idx]
        lifted = target + self.row_offset[idx]
        in_dense = np.clip(np.searchsorted(self.lifted_dense, lifted, side="left") - b, 0, ncm + 1)
        in_total = np.clip(np.searchsorted(self.lifted_total, lifted + self.experts[b + ncm], side="left") - b, ncm + 1, n + 1)
        return np.where(in_dense <= ncm, in_dense, in_total)

    def _rebalance(self, idx: np.ndarray, subset: tuple[int, ...], counts: np.ndarray, ncm: np.ndarray) -> np.ndarray:
        """fit._rebalance_for_speed: move layers from slower to faster cards while the GPUs fit."""
        if len(subset) < 2 or not idx.size:
            return counts
        counts = counts.copy()
        bandwidth = [self.bandwidth[g] for g in subset]
        slots = range(len(subset))
        fast_first = sorted(slots, key=lambda s: bandwidth[s], reverse=True)
        slow_first = sorted(slots, key=lambda s: bandwidth[s])
        pairs = [(f, s) for f in fast_first for s in slow_first if bandwidth[s] < bandwidth[f]]
        if not pairs:
            return counts
        active = np.arange(idx.size)
        step = 0
        while active.size:
            moved = np.zeros(active.size, dtype=bool)
            for fast, slow in pairs:
                rows = np.nonzero(~moved & (counts[active, slow] > 0))[0]
                if not rows.size:
                    continue
                cells = active[rows]
                trial = counts[cells]
                trial[:, slow] -= 1
                trial[:, fast] += 1
                fits = self._layout(idx[cells], subset, trial, ncm[cells]).gpu_fit
                counts[cells[fits]] = trial[fits]
                moved[rows[fits]] = True
            step += 1
            active = active[moved & (step < self.n[idx[active]])]
        return counts

    def _fill(self, idx: np.ndarray, subset: tuple[int, ...], ncm: np.ndarray, rebalance: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """fit._fill: (placed, counts); counts hold only where placed."""
        counts = self._contiguous(idx, subset, ncm)
        whole = counts.sum(axis=1) >= self.n[idx]
        placed = np.zeros(idx.size, dtype=bool)
        rows = np.nonzero(whole)[0]
        if rows.size:
            repaired, fixed = self._repair(idx[rows], subset, counts[rows], ncm[rows], allow_cpu=False)
            counts[rows] = fixed
            placed[rows] = repaired
            good = rows[repaired]
            if rebalance and good.size:
                counts[good] = self._rebalance(idx[good], subset, counts[good], ncm[good])
        return placed, counts

    def _least_expert_offload(self, idx: np.ndarray, subset: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """fit._least_expert_offload: (placed, counts, n_cpu_moe)."""
        n = self.n[idx]
        possible, _ = self._fill(idx, subset, n.copy(), rebalance=False)
        low = np.ones(idx.size, dtype=np.int64)
        high = n.copy()
        searching = np.nonzero(possible & (low < high))[0]
        while searching.size:
            mid = (low[searching] + high[searching]) // 2
            placed, _ = self._fill(idx[searching], subset, mid, rebalance=False)
            high[searching[placed]] = mid[placed]
            low[searching[~placed]] = mid[~placed] + 1
            searching = searching[low[searching] < high[searching]]
        placed = np.zeros(idx.size, dtype=bool)
        counts = np.zeros((idx.size, len(subset)), dtype=np.int64)
        rows = np.nonzero(possible)[0]
        if rows.size:
            placed[rows], counts[rows] = self._fill(idx[rows], subset, low[rows], rebalance=True)
        return placed, counts, low

    def _partial(self, idx: np.ndarray, subset: tuple[int, ...]) -> np.ndarray:
        """fit._partial: counts with the first layers left on the CPU."""
        ncm = np.zeros(idx.size, dtype=np.int64)
        counts = self._contiguous(idx, subset, ncm)
        repaired, fixed = self._repair(idx, subset, counts, ncm, allow_cpu=True)
        return np.where(repaired[:, None], fixed, counts)

    def _candidate(self, idx: np.ndarray, subset: tuple[int, ...]) -> _Layout:
        """The placement fit._layer_candidates keeps for one subset, for every cell of idx."""
        ncm = np.zeros(idx.size, dtype=np.int64)
        placed, counts = self._fill(idx, subset, ncm)
        rest = np.nonzero(~placed)[0]
        if rest.size and self.expert_offload_offered:
            moe = rest[self.is_moe[idx[rest]]]
            if moe.size:
                found, moe_counts, moe_ncm = self._least_expert_offload(idx[moe], subset)
                counts[moe[found]] = moe_counts[found]
                ncm[moe[found]] = moe_ncm[found]
                rest = np.setdiff1d(rest, moe[found], assume_unique=True)
        if rest.size:
            counts[rest] = self._partial(idx[rest], subset)
        return self._layout(idx, subset, counts, ncm)

    def _layer_decode(self, idx: np.ndarray, subset: tuple[int, ...], layout: _Layout) -> np.ndarray:
        """speed.estimate_speed(...).decode.expected of a layer split, for every cell of idx."""
        n = self.n[idx].astype(np.float64)
        moe_share = self.moe_share[idx]
        dense, routed_size, active = self.layer_dense[idx], self.layer_routed[idx], self.active_fraction[idx]
        fallback_bpp, kv_per_token, context = self.bytes_per_param[idx], self.kv_per_token[idx], self.context[idx]
        output_params, activation = self.output_params[idx], self.hidden[idx] * 4.0
        elsewhere = layout.cpu_experts.astype(np.float64)
        device_time = np.zeros(idx.size)
        layer_time = np.zeros(idx.size)
        link = np.zeros(idx.size)
        lead = np.full(idx.size, -1, dtype=np.int64)
        previous = np.full(idx.size, -1, dtype=np.int64)
        for slot, gpu in enumerate(subset):
            layers = layout.counts[:, slot]
            holds_output = layout.holds_output[:, slot]
            present = (layers > 0) | holds_output
            here = layers * moe_share
            lost = np.where(present, np.minimum(elsewhere, here), 0.0)
            elsewhere = elsewhere - lost
            routed = (here - lost) * routed_size
            stored = layers * dense + routed + np.where(holds_output, output_params, 0.0)
            read = layers * dense + routed * active + np.where(holds_output, output_params, 0.0)
            weights = layout.weights[:, slot]
            with np.errstate(divide="ignore", invalid="ignore"):
                per_param = np.where((weights > 0) & (stored > 0), weights / stored, fallback_bpp)
                kv = layout.kv[:, slot]
                token_kv = np.where((kv > 0) & (context > 0), kv / context, kv_per_token * layers / n)
            seconds = (read * per_param + token_kv * self.depth) / (self.bandwidth_bps[gpu] * self.efficiency[gpu][idx])
            device_time += np.where(present, seconds, 0.0)
            layer_time += np.where(present, layers * self.params[gpu].layer_overhead_us * 1e-6, 0.0)
            lead = np.where(present & (lead < 0), gpu, lead)
            hop = np.where(lead >= 0, np.array([p.hop_latency_us for p in self.params])[np.maximum(lead, 0)], 0.0)
            pair = np.maximum(previous, 0)
            step = hop * 1e-6 * self.link_scale[pair, gpu] + activation / (self.link_gbs[pair, gpu] * 1e9)
            link += np.where(present & (previous >= 0), step, 0.0)
            previous = np.where(present, gpu, previous)

        cpu = self.cpu_params
        layers = layout.cpu_layers
        holds_output = ~layout.full
        here = layers * moe_share
        lost = np.minimum(elsewhere, here)
        routed = (here - lost + layout.cpu_experts) * routed_size
        stored = layers * dense + routed + np.where(holds_output, output_params, 0.0)
        read = layers * dense + routed * active + np.where(holds_output, output_params, 0.0)
        held = stored + self.embedding_params[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            per_param = np.where((layout.cpu_weights > 0) & (held > 0), layout.cpu_weights / held, fallback_bpp)
            token_kv = np.where((layout.cpu_kv > 0) & (context > 0), layout.cpu_kv / context, kv_per_token * layers / n)
        device_time += (read * per_param + token_kv * self.depth) / (self.rig.cpu_ram_bandwidth_gbs * 1e9 * cpu.cpu_bandwidth_efficiency)
        layer_time += layers * cpu.layer_overhead_us * 1e-6
        stage = (layers > 0) | (layout.cpu_experts > 0) | holds_output
        hop_by_gpu = np.array([p.hop_latency_us for p in self.params])
        token_by_gpu = np.array([p.token_overhead_ms for p in self.params])
        hop = np.where(lead >= 0, hop_by_gpu[np.maximum(lead, 0)], cpu.hop_latency_us)
        pair = np.maximum(previous, 0)
        host_step = (hop * 1e-6 * np.array(self.host_scale)[pair]
                     + activation / (np.array(self.host_gbs)[pair] * 1e9))
        link += np.where(stage & (previous >= 0), host_step, 0.0)
        token = np.where(lead >= 0, token_by_gpu[np.maximum(lead, 0)], cpu.token_overhead_ms)
        overhead = token * 1e-3 + layer_time
        return 1.0 / (device_time + link + overhead)

    def _layer_split(self, idx: np.ndarray, gpus: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """fit._layer_split for speed: (fits, offload, decode) of the chosen candidate."""
        best_fits = np.zeros(idx.size, dtype=bool)
        best_offload = np.zeros(idx.size, dtype=bool)
        best_speed = np.full(idx.size, -np.inf)
        best_size = np.zeros(idx.size, dtype=np.int64)
        for subset in fit_module._subsets(self.rig, gpus):
            layout = self._candidate(idx, subset)
            fits = layout.gpu_fit & layout.cpu_fit
            rows = np.nonzero(fits)[0]
            if not rows.size:
                continue
            speed = np.full(idx.size, -np.inf)
            speed[rows] = self._layer_decode(idx[rows], subset, _take(layout, rows))
            # max() keeps the first of equals: a later subset wins only when strictly better.
            better = fits & ((speed > best_speed) | ((speed == best_speed) & (len(subset) > best_size)) | ~best_fits)
            best_fits |= fits
            best_speed = np.where(better, speed, best_speed)
            best_size = np.where(better, len(subset), best_size)
            best_offload = np.where(better, (layout.cpu_layers > 0) | (layout.cpu_experts > 0), best_offload)
        return best_fits, best_offload, np.where(best_fits, best_speed, np.nan)

    # --- row and tensor split ----------------------------------------------------------------

    def _shared_split(self, idx: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """placement.build_row_or_tensor_split and its decode speed: (fits, decode)."""
        rig = self.rig
        gpus = range(len(rig.gpus))
        ratios = [round(pl.gpu_free_bytes(rig, i) / GIB, 1) for i in gpus] if mode == "row" else [1.0] * len(rig.gpus)
        total_ratio = sum(ratios)
        shares = [r / total_ratio for r in ratios]
        b = self.base[idx]
        n = self.n[idx]
        kv_total = self.kv[b + n]
        splittable = (self.total[b + n] + self.output[idx]).astype(np.float64)
        full_compute = self.compute[idx, _compute_index(1, 1, 1, 0)]
        partial = self.activations[idx] + self.partial_head[idx] // len(rig.gpus)
        fits = self.cpu_capacity - (self.embd[idx] + self.host[idx, _host_index(0, 0, 0)]) >= 0
        weights, kvs = [], []
        for slot, share in enumerate(shares):
            main = slot == 0
            if mode == "tensor":
                kv = (kv_total.astype(np.float64) * share).astype(np.int64)
                compute = full_compute if main else partial + self.attention[idx]
            else:
                kv = kv_total if main else np.zeros(idx.size, dtype=np.int64)
                compute = full_compute if main else partial
            w = (splittable * share).astype(np.int64)
            fits &= w + kv + compute + self.overhead <= self.capacity[slot]
            weights.append(w)
            kvs.append(kv)
        if mode == "tensor":
            blocked = not self.workload.flash_attn or self.workload.kv_cache.lower() not in ("f16", "bf16", "f32")
            fits &= ~self.tensor_excluded[idx] & (not blocked)

        # speed._device_loads and speed._decode for a split that every GPU computes a slice of.
        nf = n.astype(np.float64)
        routed = nf * self.moe_share[idx] * self.layer_routed[idx]
        stored = nf * self.layer_dense[idx] + routed + self.output_params[idx]
        read = nf * self.layer_dense[idx] + routed * self.active_fraction[idx] + self.output_params[idx]
        gpu_bytes = np.stack(weights, axis=1)
        even = ~(gpu_bytes > 0).all(axis=1)
        byte_sum = gpu_bytes.sum(axis=1)
        times = []
        context = self.context[idx]
        for slot in gpus:
            w = weights[slot]
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(even, 1.0 / len(rig.gpus), w / byte_sum)
                held = stored * share
                per_param = np.where((w > 0) & (held > 0), w / held, self.bytes_per_param[idx])
                token_kv = np.where((kvs[slot] > 0) & (context > 0), kvs[slot] / context,
                                    self.kv_per_token[idx] * nf / nf * share)
            times.append((read * share * per_param + token_kv * self.depth) / (self.bandwidth_bps[slot] * self.efficiency[slot][idx]))
        parallel = np.max(np.stack(times, axis=1), axis=1)
        lead = self.params[0]
        kind, gbs = sp._shared_link(rig, [_GpuOnly(rig.gpus[0])] + [_GpuOnly(rig.gpus[i]) for i in gpus if i > 0])
        link = sp._shared_sync_s(lead, mode, kind, gbs, len(rig.gpus), nf, 1, self.hidden[idx])
        layer_costs = np.stack([nf * self.params[i].layer_overhead_us * 1e-6 for i in gpus], axis=1)
        overhead = lead.token_overhead_ms * 1e-3 + np.maximum(layer_costs.max(axis=1), 0.0)
        return fits, 1.0 / (parallel + 0.0 + link + overhead)

    # --- the cells ---------------------------------------------------------------------------

    def cells(self) -> list[MatrixCell]:
        rig, workload = self.rig, self.workload
        idx = np.arange(self.size)
        splits = _splits(rig, workload) or []
        gpus = tuple(range(len(rig.gpus)))
        # Per split: fits, placed on GPUs alone, decode; ranked as fit._rank ranks them.
        best_key = None
        fits_any = np.zeros(self.size, dtype=bool)
        offload = np.zeros(self.size, dtype=bool)
        decode = np.full(self.size, np.nan)
        for split in splits:
            if split in ("single", "layer"):
                chosen = gpus
                if split == "single" and len(gpus) > 1:
                    chosen = (max(gpus, key=lambda i: (self.capacity[i], self.bandwidth[i])),)
                fits, uses_cpu, speed = self._layer_split(idx, chosen)
            else:
                fits, speed = self._shared_split(idx, split)
                uses_cpu = np.zeros(self.size, dtype=bool)
            order = -fit_module.STRATEGIES.index(split) if split in fit_module.STRATEGIES else 0
            stable = 0 if split in fit_module.EXPERIMENTAL_SPLITS else 1
            key = (fits, ~uses_cpu, stable, np.where(fits, speed, -np.inf), order)
            if best_key is None:
                better = np.ones(self.size, dtype=bool)
            else:
                better = _greater(key, best_key)
            best_key = key if best_key is None else tuple(np.where(better, new, old) for new, old in zip(key, best_key))
            fits_any = np.where(better, fits, fits_any)
            offload = np.where(better, fits & uses_cpu, offload)
            decode = np.where(better, np.where(fits, speed, np.nan), decode)
        speeds = [None if d != d else d for d in decode.tolist()]
        return list(map(MatrixCell, fits_any.tolist(), offload.tolist(), speeds))


class _GpuOnly:
    """A stand-in load for speed._shared_link, which reads only ``.gpu``."""

    def __init__(self, gpu: Any) -> None:
        self.gpu = gpu


def _greater(new: tuple, old: tuple) -> np.ndarray:
    """Element-wise: is the rank tuple ``new`` greater than ``old`` (fits first, then on GPUs, ...)."""
    new_fits, new_gpu, new_stable, new_speed, new_order = new
    old_fits, old_gpu, old_stable, old_speed, old_order = old
    result = np.zeros(new_fits.shape, dtype=bool)
    decided = np.zeros(new_fits.shape, dtype=bool)
    # Among results that do not fit, fit ranks by shortfall; the cell shows none of them, so any will do.
    for a, b in ((new_fits, old_fits), (new_gpu & new_fits, old_gpu & old_fits),
                 (np.where(new_fits, new_stable, 0), np.where(old_fits, old_stable, 0)),
                 (new_speed, old_speed), (np.broadcast_to(new_order, new_fits.shape), np.broadcast_to(old_order, new_fits.shape))):
        result |= ~decided & (a > b)
        decided |= a != b
    return result


def _take(layout: _Layout, rows: np.ndarray) -> _Layout:
    return _Layout(*(getattr(layout, name)[rows] for name in _Layout.__dataclass_fields__))
