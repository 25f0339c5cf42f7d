"""Cross-checks that per-entry validation cannot do: references, ambiguity and plausibility."""

from __future__ import annotations

from rigtui.core.catalog import Catalog, normalize_name
from rigtui.core.specs import GpuSpec, ModelSpec

# Physical plausibility bounds. Wider than any card sold by 2026 but narrow enough to catch
# unit mistakes (MB for MiB, MB/s for GB/s, W for kW).
_MIN_BANDWIDTH_PER_GIB = 2.0  # GB/s per GiB: the slowest catalog card (P40) has about 14.
_MAX_TFLOPS_PER_GBS = 5.0  # tensor TFLOPS per GB/s of bandwidth: H100 SXM is about 0.3.


def gpu_problems(gpu: GpuSpec) -> list[str]:
    """Return implausible or inconsistent figures of one GPU entry as 'field: reason'."""
    problems = []
    gib = gpu.memory_mib / 1024
    if gpu.bandwidth_gbs / gib < _MIN_BANDWIDTH_PER_GIB:
        problems.append(f"bandwidth_gbs: {gpu.bandwidth_gbs} GB/s is implausibly low for {gib:g} GiB")
    if gpu.fp16_tflops and gpu.fp16_tflops / gpu.bandwidth_gbs > _MAX_TFLOPS_PER_GBS:
        problems.append(f"fp16_tflops: {gpu.fp16_tflops} is implausibly high for its bandwidth")
    if gpu.usable_memory_mib and not (0.85 * gpu.memory_mib <= gpu.usable_memory_mib <= gpu.memory_mib):
        problems.append(f"usable_memory_mib: {gpu.usable_memory_mib} is not within 85-100 % of memory_mib")
    if gpu.vendor == "nvidia" and not gpu.compute_capability:
        problems.append("compute_capability: missing for an NVIDIA card")
    if gpu.nvlink_bandwidth_gbs and not gpu.nvlink:
        problems.append("nvlink_bandwidth_gbs: set but nvlink is false")
    if gpu.transient_peak_w and gpu.transient_peak_w < gpu.tdp_w:
        problems.append(f"transient_peak_w: {gpu.transient_peak_w} W is below board power {gpu.tdp_w} W")
    for device_id in gpu.pci_device_ids:
        hex_part = device_id.removeprefix("0x")
        if not (device_id.startswith("0x") and len(hex_part) == 4 and all(c in "0123456789abcdef" for c in hex_part)):
            problems.append(f"pci_device_ids: {device_id!r} is not like '0x2684'")
    return problems


def model_problems(model: ModelSpec) -> list[str]:
    """Return implausible or inconsistent figures of one model entry as 'field: reason'."""
    problems = []
    if model.is_moe and not model.params_active:
        problems.append("params_active: missing for an MoE model")
    if model.sliding_window_pattern and not model.sliding_window:
        problems.append("sliding_window_pattern: set without sliding_window")
    # Attention projections alone hold about layers x hidden^2 weights, so fewer is a unit slip.
    if model.params_total < model.n_layers * model.hidden_size * model.hidden_size:
        problems.append(f"params_total: {model.params_total:,} is below layers x hidden^2")
    return problems


def check_catalog(catalog: Catalog) -> list[str]:
    """Return every problem found across the catalogs as 'kind id: field: reason'."""
    problems: list[str] = []
    os_ids = set(catalog.oses)
    runtime_ids = set(catalog.runtimes)
    quant_formats = {q.format for q in catalog.quants.values()}

    for gpu in catalog.gpus.values():
        problems += [f"gpu {gpu.id}: {problem}" for problem in gpu_problems(gpu)]
    for model in catalog.models.values():
        problems += [f"model {model.id}: {problem}" for problem in model_problems(model)]

    for quant in catalog.quants.values():
        where = f"quant {quant.id}"
        types = [quant.default_type] if quant.default_type else []
        types += [rule.type for rule in quant.rules]
        for type_id in types:
            if type_id not in catalog.ggml_types:
                problems.append(f"{where}: rules: unknown GGML type {type_id!r}")

    for runtime in catalog.runtimes.values():
        where = f"runtime {runtime.id}"
        for os_id in runtime.os:
            if os_id not in os_ids:
                problems.append(f"{where}: os: unknown OS id {os_id!r}")
        for fmt in runtime.quant_formats:
            if fmt not in quant_formats:
                problems.append(f"{where}: quant_formats: no quantization of format {fmt!r}")
        for strategy in runtime.identical_cards_for:
            if strategy not in runtime.split_strategies:
                problems.append(f"{where}: identical_cards_for: {strategy!r} is not in split_strategies")

    for os_spec in catalog.oses.values():
        for runtime_id in os_spec.runtimes:
            if runtime_id not in runtime_ids:
                problems.append(f"os {os_spec.id}: runtimes: unknown runtime id {runtime_id!r}")

    for price in catalog.prices:
        if price.gpu not in catalog.gpus:
            problems.append(f"price {price.gpu}/{price.condition}: gpu: unknown GPU id {price.gpu!r}")

    problems += _ambiguous_names("gpu", catalog.gpus)
    problems += _ambiguous_names("model", catalog.models)
    return problems


def _ambiguous_names(kind: str, entries: dict) -> list[str]:
    """Report aliases that normalize to the same key on two different entries."""
    owner: dict[str, str] = {}
    problems = []
    for entry_id, entry in entries.items():
        for alias in [entry.name, *entry.aliases]:
            key = normalize_name(alias)
            other = owner.setdefault(key, entry_id)
            if other != entry_id:
                problems.append(f"{kind} {entry_id}: aliases: {alias!r} also names {other!r}")
    return problems
